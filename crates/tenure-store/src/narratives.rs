//! Customer narratives (`customer_narratives`, migration 7): a short text per customer describing
//! their behaviour as of a day, written by the engine and read back by the drill-down.

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;

use crate::error::{DbContext, Result};
use crate::store::Store;

/// One stored narrative.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NarrativeRow {
    /// The customer.
    pub customer_id: String,
    /// Language of `text`: `en` or `zh` (the language the customer writes in).
    pub language: String,
    /// The narrative in the customer's language.
    pub text: String,
    /// The narrative in English (equal to `text` for English writers).
    pub text_en: String,
}

/// A stored narrative with the run it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredNarrative {
    /// Run id.
    pub run_id: String,
    /// The day the narrative describes.
    pub as_of: NaiveDate,
    /// When it was written.
    pub written_at: NaiveDateTime,
    /// The narrative.
    pub narrative: NarrativeRow,
}

impl Store {
    /// Appends one run of narratives in one transaction. Returns the rows written.
    pub fn put_narratives(
        &self,
        run_id: &str,
        as_of: NaiveDate,
        written_at: NaiveDateTime,
        rows: &[NarrativeRow],
    ) -> Result<u64> {
        use arrow::array::{ArrayRef, Date32Array, StringArray, TimestampMicrosecondArray};
        use std::sync::Arc;
        let what = "write customer narratives";
        let n = rows.len();
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        let day = (as_of - epoch).num_days() as i32;
        let strings = |f: fn(&NarrativeRow) -> &str| {
            Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>())) as ArrayRef
        };
        let batch = arrow::record_batch::RecordBatch::try_from_iter([
            (
                "run_id",
                Arc::new(StringArray::from(vec![run_id; n])) as ArrayRef,
            ),
            (
                "as_of",
                Arc::new(Date32Array::from(vec![day; n])) as ArrayRef,
            ),
            ("customer_id", strings(|r| r.customer_id.as_str())),
            ("language", strings(|r| r.language.as_str())),
            ("text", strings(|r| r.text.as_str())),
            ("text_en", strings(|r| r.text_en.as_str())),
            (
                "written_at",
                Arc::new(TimestampMicrosecondArray::from(vec![
                    written_at
                        .and_utc()
                        .timestamp_micros();
                    n
                ])) as ArrayRef,
            ),
        ])
        .map_err(|e| crate::StoreError::Invalid(format!("narrative batch: {e}")))?;
        self.transaction(|| {
            let mut app = self.conn.appender("customer_narratives").db(what)?;
            app.append_record_batch(batch).db(what)?;
            app.flush().db(what)?;
            Ok(n as u64)
        })
    }

    /// The customer's narrative from the latest run that has one (latest `written_at`, then run
    /// id), if any.
    pub fn latest_narrative(&self, customer_id: &str) -> Result<Option<StoredNarrative>> {
        let what = "read the customer's narrative";
        let mut stmt = self
            .conn
            .prepare(
                "SELECT run_id, CAST(as_of AS VARCHAR), strftime(written_at, '%Y-%m-%d %H:%M:%S.%f'), \
                 customer_id, language, text, text_en \
                 FROM customer_narratives WHERE customer_id = ? \
                 ORDER BY written_at DESC, run_id DESC LIMIT 1",
            )
            .db(what)?;
        let mut rows = stmt
            .query_map([customer_id], |r| {
                let (as_of, written_at): (String, String) = (r.get(1)?, r.get(2)?);
                Ok((
                    r.get::<_, String>(0)?,
                    as_of,
                    written_at,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                ))
            })
            .db(what)?;
        let Some(row) = rows.next().transpose().db(what)? else {
            return Ok(None);
        };
        let (run_id, as_of, written_at, customer_id, language, text, text_en) = row;
        let bad = |v: &str| {
            crate::StoreError::Invalid(format!(
                "customer_narratives holds an unreadable date {v}; delete the row"
            ))
        };
        Ok(Some(StoredNarrative {
            run_id,
            as_of: NaiveDate::parse_from_str(&as_of, "%Y-%m-%d").map_err(|_| bad(&as_of))?,
            written_at: NaiveDateTime::parse_from_str(&written_at, "%Y-%m-%d %H:%M:%S%.f")
                .map_err(|_| bad(&written_at))?,
            narrative: NarrativeRow {
                customer_id,
                language,
                text,
                text_en,
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narratives_round_trip_and_the_latest_wins() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| crate::StoreError::Invalid(e.to_string()))?;
        let store = Store::init(dir.path())?;
        let day = |s: &str| crate::parse_date(s);
        let at = |h: u32| day("2024-01-02").map(|d| d.and_hms_opt(h, 0, 0).unwrap_or_default());
        assert_eq!(store.latest_narrative("C1")?, None);
        let row = |text: &str| NarrativeRow {
            customer_id: "C1".into(),
            language: "zh".into(),
            text: text.into(),
            text_en: "Joined March 2023.".into(),
        };
        assert_eq!(
            store.put_narratives("n-1", day("2023-12-31")?, at(1)?, &[row("旧")])?,
            1
        );
        store.put_narratives("n-2", day("2024-01-01")?, at(2)?, &[row("新")])?;
        let got = store.latest_narrative("C1")?.expect("a narrative");
        assert_eq!(got.run_id, "n-2");
        assert_eq!(got.as_of, day("2024-01-01")?);
        assert_eq!(got.narrative.text, "新");
        assert_eq!(got.narrative.text_en, "Joined March 2023.");
        assert_eq!(store.latest_narrative("C2")?, None);
        Ok(())
    }
}
