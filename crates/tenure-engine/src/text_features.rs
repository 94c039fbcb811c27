//! Language features of customers as of a day: what they wrote (reviews and tickets on or before
//! `as_of`) and their behaviour written out as a narrative, turned into numeric columns a churn
//! model can read.
//!
//! Per customer:
//! - `text_count`, `text_days_since`: texts written and days since the latest;
//! - `sent_mean_neg`, `sent_share_neg`, `sent_last_neg`: with a sentiment head, the mean
//!   P(negative) over the texts, the share with P(negative) > 0.5 and P(negative) of the latest;
//! - `topic_<name>`: tickets per topic of the narrative's keyword lexicon ([`TICKET_TOPICS`]);
//! - `emb_mean_<j>`, `emb_recent_<j>`: the mean and the recency-weighted mean (weight
//!   2^(−age / half-life), age in days before `as_of`) of the text embeddings;
//! - `narr_<j>`: the embedding of the customer's English narrative ([`crate::narrative`]; English
//!   for everyone, so the same facts give the same vector whatever language the customer writes).
//!
//! Embeddings are reduced to `projection_dim` by a fixed seeded Gaussian random projection
//! ([`RandomProjection`]): it needs no fit, so nothing from the evaluation origin shapes the
//! training features, and the same matrix serves every origin and scoring. Customers without text
//! get `NaN` (missing) in the text columns.
//!
//! Two embedders: a sentence encoder ([`Embedder::Encoder`], e.g. all-MiniLM-L6-v2, through the
//! store's embedding cache so re-runs embed only new text), or feature hashing of words, word
//! bigrams and Chinese character bigrams ([`Embedder::Hashed`], Weinberger et al. 2009) — a bag of
//! words that needs no model file, for tests and machines without one.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use tenure_lm::{Encoder, Head};
use tenure_models::{FeatureTable, RandomProjection};
use tenure_store::Store;

use crate::error::{EngineError, Result};
use crate::narrative::{gather_facts, narrate, TICKET_TOPICS};
use crate::value::{f64_col, str_col};

/// How texts become vectors.
pub enum Embedder<'a> {
    /// A sentence encoder, with an optional sentiment head trained on its embeddings.
    Encoder {
        /// The encoder.
        encoder: &'a Encoder,
        /// Sentiment head over the encoder's embeddings (labels: one containing "neg" is read as
        /// negative, else the first).
        sentiment: Option<&'a Head>,
    },
    /// Signed feature hashing into `dim` buckets, L2-normalized.
    Hashed {
        /// Buckets.
        dim: usize,
    },
}

impl Embedder<'_> {
    /// Model id recorded with the features (`hashed-256`, or the encoder's id).
    pub fn id(&self) -> String {
        match self {
            Embedder::Encoder { encoder, .. } => encoder.model_id().to_string(),
            Embedder::Hashed { dim } => format!("hashed-{dim}"),
        }
    }

    /// Vector dimension.
    pub fn dim(&self) -> usize {
        match self {
            Embedder::Encoder { encoder, .. } => encoder.dim(),
            Embedder::Hashed { dim } => *dim,
        }
    }

    /// Vectors of `texts`, and (embedded now, taken from the cache).
    fn embed(&self, store: &Store, texts: &[&str]) -> Result<(Vec<Vec<f32>>, usize, usize)> {
        match self {
            Embedder::Encoder { encoder, .. } => {
                crate::sentiment::embed_cached(Some(store), encoder, texts, &|_, _| {})
            }
            Embedder::Hashed { dim } => Ok((
                texts.iter().map(|t| hashed_embedding(t, *dim)).collect(),
                texts.len(),
                0,
            )),
        }
    }

    /// P(negative) of each vector, when a sentiment head is present.
    fn negative(&self, vectors: &[Vec<f32>]) -> Result<Option<Vec<f64>>> {
        let Embedder::Encoder {
            sentiment: Some(head),
            encoder,
        } = self
        else {
            return Ok(None);
        };
        if head.dim() != encoder.dim() {
            return Err(EngineError::Invalid(format!(
                "the sentiment head expects {}-dimensional embeddings but {} gives {}: pass the head trained on this encoder",
                head.dim(),
                encoder.model_id(),
                encoder.dim()
            )));
        }
        if vectors.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let neg = head
            .labels()
            .iter()
            .position(|l| l.to_lowercase().contains("neg"))
            .unwrap_or(0);
        let p = head
            .predict_proba(vectors)
            .map_err(|e| EngineError::Data(e.to_string()))?;
        Ok(Some(p.iter().map(|r| r[neg]).collect()))
    }
}

/// FNV-1a, 64 bit (Fowler, Noll & Vo): the hashing trick's hash, stable across platforms and runs.
fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A CJK unified ideograph (the basic block, extension A, or a compatibility ideograph).
pub fn is_cjk(c: char) -> bool {
    matches!(c, '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}' | '\u{f900}'..='\u{faff}')
}

/// Whether a text is mostly Chinese: at least a third of its letters are CJK ideographs. Used to
/// send a text to the Chinese encoder when the caller names no model.
pub fn is_chinese_text(text: &str) -> bool {
    let (mut cjk, mut letters) = (0usize, 0usize);
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        letters += 1;
        cjk += usize::from(is_cjk(c));
    }
    letters > 0 && 3 * cjk >= letters
}

/// Tokens of the hashing embedder: lower-cased words (letters, digits and apostrophes), word
/// bigrams, and Chinese characters with their bigrams.
pub fn hash_tokens(text: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut out: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut prev_cjk: Option<char> = None;
    let flush = |word: &mut String, words: &mut Vec<String>| {
        if !word.is_empty() {
            words.push(std::mem::take(word));
        }
    };
    for c in text.chars() {
        if is_cjk(c) {
            flush(&mut word, &mut words);
            out.push(c.to_string());
            if let Some(p) = prev_cjk {
                out.push(format!("{p}{c}"));
            }
            prev_cjk = Some(c);
            continue;
        }
        prev_cjk = None;
        if c.is_alphanumeric() || c == '\'' {
            word.extend(c.to_lowercase());
        } else {
            flush(&mut word, &mut words);
        }
    }
    flush(&mut word, &mut words);
    for w in words.windows(2) {
        out.push(format!("{} {}", w[0], w[1]));
    }
    out.extend(words);
    out
}

/// Signed feature hashing of [`hash_tokens`] into `dim` buckets (bucket = hash mod dim, sign from
/// the top bit), L2-normalized; all zeros for a text without tokens.
pub fn hashed_embedding(text: &str, dim: usize) -> Vec<f32> {
    let dim = dim.max(1);
    let mut v = vec![0.0f32; dim];
    for t in hash_tokens(text) {
        let h = fnv1a(&t);
        let sign = if h >> 63 == 1 { -1.0 } else { 1.0 };
        v[(h % dim as u64) as usize] += sign;
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// Settings of the language features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextFeatureOptions {
    /// Dimension each embedding block is reduced to.
    pub projection_dim: usize,
    /// Seed of the random projection.
    pub projection_seed: u64,
    /// Half-life in days of the recency weights.
    pub half_life_days: f64,
    /// Whether to embed the narrative.
    pub narrative: bool,
    /// Whether to add the mean and recency-weighted mean text embeddings.
    pub text_embeddings: bool,
}

impl Default for TextFeatureOptions {
    /// 16 dimensions per block (three blocks: 48 embedding columns for a head fitted on a few
    /// thousand customers), seed 7, half-life 60 days, narrative on.
    fn default() -> Self {
        Self {
            projection_dim: 16,
            projection_seed: 7,
            half_life_days: 60.0,
            narrative: true,
            text_embeddings: true,
        }
    }
}

/// The language features of a set of customers as of a day.
#[derive(Debug, Clone)]
pub struct TextFeatures {
    /// One row per requested customer, in the order given.
    pub table: FeatureTable,
    /// Customers with at least one text.
    pub with_text: usize,
    /// Texts read (reviews and tickets).
    pub texts: usize,
    /// Texts and narratives embedded now.
    pub embedded: usize,
    /// Taken from the embedding cache.
    pub cached: usize,
    /// Each text of the requested customers with its (unreduced) embedding, in time order per
    /// customer: the rows of the per-text churn head in `fusion`.
    pub per_text: Vec<CustomerText>,
}

/// One review or ticket of a requested customer.
#[derive(Debug, Clone)]
pub struct CustomerText {
    /// Row of the customer in the requested ids.
    pub customer: usize,
    /// Days between the text and the as-of day.
    pub age_days: f64,
    /// Its embedding.
    pub vector: Vec<f32>,
}

/// The language features of `ids` as of `as_of` (see the module docs), from rows on or before
/// `as_of` only.
pub fn text_features(
    store: &Store,
    as_of: NaiveDate,
    ids: &[String],
    embedder: &Embedder<'_>,
    opts: &TextFeatureOptions,
) -> Result<TextFeatures> {
    if !(opts.half_life_days > 0.0 && opts.half_life_days.is_finite()) {
        return Err(EngineError::Invalid(format!(
            "half-life {} days must be positive",
            opts.half_life_days
        )));
    }
    let projection =
        RandomProjection::new(embedder.dim(), opts.projection_dim, opts.projection_seed)?;
    let k = opts.projection_dim;
    let index: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let n = ids.len();
    let cutoff = as_of
        .checked_add_days(chrono::Days::new(1))
        .ok_or_else(|| EngineError::Data(format!("as-of date {as_of} is out of range")))?;
    let cut = format!("TIMESTAMP '{cutoff} 00:00:00'");
    let end = format!("DATE '{as_of}'");
    let mut parts = Vec::new();
    for table in ["reviews", "tickets"] {
        if store.count(table)? > 0 {
            parts.push(format!(
                "SELECT customer_id, text, created_at, CAST(date_diff('day', CAST(created_at AS DATE), {end}) AS DOUBLE) AS age FROM {table} WHERE created_at < {cut} AND text IS NOT NULL AND length(trim(text)) > 0"
            ));
        }
    }
    let (cust, texts, ages) = if parts.is_empty() {
        (Vec::new(), Vec::new(), Vec::new())
    } else {
        let b = store.query_arrow(&format!(
            "SELECT customer_id, text, age FROM ({}) ORDER BY customer_id, created_at, text",
            parts.join(" UNION ALL ")
        ))?;
        if b.is_empty() {
            (Vec::new(), Vec::new(), Vec::new())
        } else {
            (
                str_col(&b, "customer_id")?,
                str_col(&b, "text")?,
                f64_col(&b, "age")?,
            )
        }
    };
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let (vectors, mut embedded, mut cached) = embedder.embed(store, &refs)?;
    let negative = embedder.negative(&vectors)?;

    let mut count = vec![0.0; n];
    let mut since = vec![f64::NAN; n];
    let mut sum = vec![vec![0.0f64; embedder.dim()]; n];
    let mut wsum = vec![vec![0.0f64; embedder.dim()]; n];
    let mut wtot = vec![0.0f64; n];
    let mut neg_sum = vec![0.0; n];
    let mut neg_n = vec![0.0; n];
    let mut last_neg = vec![f64::NAN; n];
    let mut per_text = Vec::new();
    for (t, c) in cust.iter().enumerate() {
        let Some(&i) = index.get(c.as_str()) else {
            continue;
        };
        count[i] += 1.0;
        let age = ages[t].max(0.0);
        per_text.push(CustomerText {
            customer: i,
            age_days: age,
            vector: vectors[t].clone(),
        });
        // Rows come in time order, so the latest text is the last one seen.
        since[i] = age;
        let w = (-age / opts.half_life_days * std::f64::consts::LN_2).exp();
        wtot[i] += w;
        for (j, &x) in vectors[t].iter().enumerate() {
            sum[i][j] += f64::from(x);
            wsum[i][j] += w * f64::from(x);
        }
        if let Some(p) = &negative {
            neg_sum[i] += p[t];
            neg_n[i] += if p[t] > 0.5 { 1.0 } else { 0.0 };
            last_neg[i] = p[t];
        }
    }
    let mut table = FeatureTable::new(n);
    table.push("text_count", count.clone())?;
    table.push("text_days_since", since)?;
    if negative.is_some() {
        let per = |v: &[f64]| -> Vec<f64> {
            (0..n)
                .map(|i| {
                    if count[i] > 0.0 {
                        v[i] / count[i]
                    } else {
                        f64::NAN
                    }
                })
                .collect()
        };
        table.push("sent_mean_neg", per(&neg_sum))?;
        table.push("sent_share_neg", per(&neg_n))?;
        table.push("sent_last_neg", last_neg)?;
    }
    let facts = gather_facts(store, as_of)?;
    let mut topics = vec![vec![0.0; n]; TICKET_TOPICS.len()];
    let mut narratives: Vec<String> = vec![String::new(); n];
    for f in &facts {
        if let Some(&i) = index.get(f.customer_id.as_str()) {
            for (t, &c) in f.topics.iter().enumerate() {
                topics[t][i] = c as f64;
            }
            narratives[i] = narrate(f);
        }
    }
    for (t, topic) in TICKET_TOPICS.iter().enumerate() {
        table.push(format!("topic_{}", topic.name), topics[t].clone())?;
    }
    let reduce =
        |rows: Vec<Option<Vec<f64>>>, prefix: &str, table: &mut FeatureTable| -> Result<()> {
            let mut cols = vec![vec![f64::NAN; n]; k];
            for (i, r) in rows.into_iter().enumerate() {
                if let Some(v) = r {
                    for (j, x) in projection.project(&v)?.into_iter().enumerate() {
                        cols[j][i] = x;
                    }
                }
            }
            for (j, c) in cols.into_iter().enumerate() {
                table.push(format!("{prefix}_{j}"), c)?;
            }
            Ok(())
        };
    if opts.text_embeddings {
        let mean_rows = (0..n)
            .map(|i| (count[i] > 0.0).then(|| sum[i].iter().map(|x| x / count[i]).collect()))
            .collect();
        reduce(mean_rows, "emb_mean", &mut table)?;
        let recent_rows = (0..n)
            .map(|i| (wtot[i] > 0.0).then(|| wsum[i].iter().map(|x| x / wtot[i]).collect()))
            .collect();
        reduce(recent_rows, "emb_recent", &mut table)?;
    }
    if opts.narrative {
        let refs: Vec<&str> = narratives.iter().map(String::as_str).collect();
        let (vecs, e, c) = embedder.embed(store, &refs)?;
        embedded += e;
        cached += c;
        let rows = vecs
            .into_iter()
            .zip(&narratives)
            .map(|(v, s)| (!s.is_empty()).then(|| v.iter().map(|&x| f64::from(x)).collect()))
            .collect();
        reduce(rows, "narr", &mut table)?;
    }
    Ok(TextFeatures {
        table,
        with_text: count.iter().filter(|&&c| c > 0.0).count(),
        texts: texts.len(),
        embedded,
        cached,
        per_text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_texts_are_told_from_english_ones() {
        assert!(is_chinese_text("物流很快，质量不错"));
        assert!(is_chinese_text("iPhone 壳很好用，推荐"));
        assert!(!is_chinese_text("Great phone case, 推荐"));
        assert!(!is_chinese_text("12345 !!!"));
        assert!(is_cjk('\u{3400}') && !is_cjk('a'));
    }

    #[test]
    fn tokens_cover_words_bigrams_and_chinese_characters() {
        let t = hash_tokens("Won't order AGAIN! 不会再买");
        for want in [
            "won't",
            "order",
            "again",
            "won't order",
            "order again",
            "不",
            "不会",
            "再买",
        ] {
            assert!(t.iter().any(|x| x == want), "{want} in {t:?}");
        }
        assert!(hash_tokens("  ,.!  ").is_empty());
    }

    #[test]
    fn hashed_embeddings_are_unit_and_similar_texts_are_closer() {
        let a = hashed_embedding("This was my last order here.", 256);
        let b = hashed_embedding("This was my last order.", 256);
        let c = hashed_embedding("Love this kettle, great price!", 256);
        let dot = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f32>();
        assert!((dot(&a, &a) - 1.0).abs() < 1e-5);
        assert!(dot(&a, &b) > dot(&a, &c) + 0.3);
        assert_eq!(hashed_embedding("", 8), vec![0.0; 8]);
        assert_eq!(a, hashed_embedding("This was my last order here.", 256));
    }
}
