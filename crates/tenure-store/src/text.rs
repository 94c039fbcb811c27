//! What the language-model side of the engine keeps in the store: the embedding cache
//! `text_embeddings(content_hash, model)`, so re-runs embed only new text, and per-review sentiment
//! in `review_analysis`, with per-customer and per-product satisfaction read back from it.

use std::collections::HashMap;

use serde::Serialize;

use crate::error::{DbContext, Result, StoreError};
use crate::store::Store;

/// One review to analyse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReviewText {
    /// The review's id (`review_id`, or the row's position when the input had none).
    pub review_id: String,
    /// Who wrote it.
    pub customer_id: String,
    /// What it is about, if known.
    pub product_id: Option<String>,
    /// The text.
    pub text: String,
}

/// One row of `review_analysis`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewAnalysisRow {
    /// The review.
    pub review_id: String,
    /// The predicted label.
    pub label: String,
    /// The probability of that label.
    pub probability: f64,
}

/// Satisfaction of one customer or product: the mean probability that their reviews are positive.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Satisfaction {
    /// Customer or product id.
    pub id: String,
    /// Reviews analysed.
    pub reviews: i64,
    /// Mean P(positive) over those reviews, in [0, 1].
    pub satisfaction: f64,
    /// Share of reviews labelled negative.
    pub negative_share: f64,
}

const TS: &str = "%Y-%m-%d %H:%M:%S%.6f";

impl Store {
    /// Cached vectors of `model` for the given content hashes; hashes not cached are absent.
    pub fn cached_embeddings(&self, model: &str, hashes: &[u64]) -> Result<HashMap<u64, Vec<f32>>> {
        let what = "read cached embeddings";
        let wanted: std::collections::HashSet<u64> = hashes.iter().copied().collect();
        let mut out = HashMap::with_capacity(wanted.len());
        if wanted.is_empty() {
            return Ok(out);
        }
        let mut stmt = self
            .conn
            .prepare("SELECT content_hash, vector FROM text_embeddings WHERE model = ?")
            .db(what)?;
        let rows = stmt
            .query_map([model], |r| {
                Ok((r.get::<_, u64>(0)?, r.get::<_, duckdb::types::Value>(1)?))
            })
            .db(what)?;
        for row in rows {
            let (hash, value) = row.db(what)?;
            if !wanted.contains(&hash) {
                continue;
            }
            let corrupt = |what: String| {
                StoreError::Invalid(format!(
                    "cached embedding {hash:016x} of {model} {what}: delete it from text_embeddings"
                ))
            };
            let duckdb::types::Value::List(items) = value else {
                return Err(corrupt("is not a list".into()));
            };
            let v = items
                .into_iter()
                .map(|x| match x {
                    duckdb::types::Value::Float(f) => Ok(f),
                    other => Err(corrupt(format!("holds {other:?}"))),
                })
                .collect::<Result<Vec<f32>>>()?;
            out.insert(hash, v);
        }
        Ok(out)
    }

    /// Adds vectors to the cache in one transaction; entries already cached are left as they are.
    /// Returns how many were new.
    pub fn put_embeddings(&self, model: &str, rows: &[(u64, Vec<f32>)]) -> Result<u64> {
        let what = "cache embeddings";
        self.transaction(|| {
            let mut stmt = self
                .conn
                .prepare("INSERT INTO text_embeddings (content_hash, model, dim, vector) VALUES (?, ?, ?, CAST(? AS FLOAT[])) ON CONFLICT DO NOTHING")
                .db(what)?;
            let mut n = 0u64;
            for (hash, v) in rows {
                let list = format!(
                    "[{}]",
                    v.iter()
                        .map(|x| format!("{x:e}"))
                        .collect::<Vec<_>>()
                        .join(",")
                );
                n += stmt
                    .execute(duckdb::params![*hash, model, v.len() as i64, list])
                    .db(what)? as u64;
            }
            Ok(n)
        })
    }

    /// Every stored review with non-empty text, by review id.
    pub fn review_texts(&self) -> Result<Vec<ReviewText>> {
        let what = "read the reviews";
        let mut stmt = self
            .conn
            .prepare(
                "SELECT COALESCE(review_id, 'row-' || CAST(rowid AS VARCHAR)), customer_id, product_id, text \
                 FROM reviews WHERE text IS NOT NULL AND length(trim(text)) > 0 ORDER BY 1",
            )
            .db(what)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(ReviewText {
                    review_id: r.get(0)?,
                    customer_id: r.get(1)?,
                    product_id: r.get(2)?,
                    text: r.get(3)?,
                })
            })
            .db(what)?;
        rows.map(|r| r.db(what)).collect()
    }

    /// Replaces `model`'s rows in `review_analysis` with `rows`, stamped `analysed_at`, in one
    /// transaction. Returns the rows written.
    pub fn replace_review_analysis(
        &self,
        model: &str,
        analysed_at: chrono::NaiveDateTime,
        rows: &[ReviewAnalysisRow],
    ) -> Result<u64> {
        let what = "write review_analysis";
        let at = analysed_at.format(TS).to_string();
        self.transaction(|| {
            self.conn
                .execute("DELETE FROM review_analysis WHERE model = ?", [model])
                .db(what)?;
            let mut stmt = self
                .conn
                .prepare("INSERT INTO review_analysis (review_id, model, label, probability, analysed_at) VALUES (?, ?, ?, ?, CAST(? AS TIMESTAMP))")
                .db(what)?;
            for r in rows {
                stmt.execute(duckdb::params![
                    r.review_id,
                    model,
                    r.label,
                    r.probability,
                    at
                ])
                .db(what)?;
            }
            Ok(rows.len() as u64)
        })
    }

    /// Satisfaction per customer (`by_product` false) or per product from `model`'s analysed
    /// reviews: P(positive) is the probability when the label is `positive`, else 1 − it (binary
    /// heads), most reviewed first.
    pub fn satisfaction(&self, model: &str, by_product: bool) -> Result<Vec<Satisfaction>> {
        let what = "compute satisfaction";
        let key = if by_product {
            "r.product_id"
        } else {
            "r.customer_id"
        };
        let sql = format!(
            "SELECT {key}, count(*), \
                    avg(CASE WHEN a.label = 'positive' THEN a.probability ELSE 1 - a.probability END), \
                    avg(CASE WHEN a.label = 'negative' THEN 1.0 ELSE 0.0 END) \
             FROM review_analysis a JOIN reviews r ON r.review_id = a.review_id \
             WHERE a.model = ? AND {key} IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1"
        );
        let mut stmt = self.conn.prepare(&sql).db(what)?;
        let rows = stmt
            .query_map([model], |r| {
                Ok(Satisfaction {
                    id: r.get(0)?,
                    reviews: r.get(1)?,
                    satisfaction: r.get(2)?,
                    negative_share: r.get(3)?,
                })
            })
            .db(what)?;
        rows.map(|r| r.db(what)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedding_cache_round_trips_and_ignores_repeats() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::init(dir.path()).expect("init");
        let rows = vec![
            (1u64, vec![0.5f32, -0.25, 1e-7]),
            (u64::MAX, vec![3.0, 4.0, 0.0]),
        ];
        assert_eq!(store.put_embeddings("m", &rows).expect("put"), 2);
        assert_eq!(store.put_embeddings("m", &rows).expect("again"), 0);
        let got = store
            .cached_embeddings("m", &[1, u64::MAX, 7])
            .expect("get");
        assert_eq!(got.len(), 2);
        assert_eq!(got[&1], rows[0].1);
        assert_eq!(got[&u64::MAX], rows[1].1);
        assert!(store
            .cached_embeddings("other", &[1])
            .expect("other")
            .is_empty());
    }
}
