//! What the HTTP server keeps in the store besides scores: API keys (salted hashes, never the
//! secrets), named segments (SQL predicates over `customer_scores`), parameterised reads, and extra
//! connections to the same database for a pool of request workers.

use arrow::record_batch::RecordBatch;
use duckdb::types::Value;
use serde::Serialize;

use crate::error::{DbContext, Result};
use crate::store::Store;

/// A value bound to a `?` placeholder of a parameterised query.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlParam {
    /// Text.
    Text(String),
    /// A real number.
    Float(f64),
    /// A whole number.
    Int(i64),
}

impl SqlParam {
    fn value(&self) -> Value {
        match self {
            SqlParam::Text(s) => Value::Text(s.clone()),
            SqlParam::Float(f) => Value::Double(*f),
            SqlParam::Int(i) => Value::BigInt(*i),
        }
    }
}

/// One API key as stored: who it is, what it may do, and the salted hash of its secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiKeyRecord {
    /// Public id, also the key's prefix.
    pub key_id: String,
    /// A label given at creation.
    pub name: Option<String>,
    /// `read`, `write` or `admin`.
    pub scope: String,
    /// Random salt (hex) hashed with the secret.
    #[serde(skip)]
    pub salt: String,
    /// Hex digest of salt and secret.
    #[serde(skip)]
    pub hash: String,
    /// When it was created (UTC).
    pub created_at: chrono::NaiveDateTime,
    /// Revoked keys are kept for the record and refused.
    pub revoked: bool,
}

/// A named segment: a boolean SQL expression over `customer_scores` columns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentRecord {
    /// Unique name.
    pub name: String,
    /// The predicate, validated when it was stored.
    pub predicate: String,
    /// When it was stored (UTC).
    pub created_at: chrono::NaiveDateTime,
    /// The API key that stored it, if any.
    pub created_by: Option<String>,
}

const TS: &str = "%Y-%m-%d %H:%M:%S%.6f";

fn parse_ts(s: &str) -> chrono::NaiveDateTime {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S"))
        .unwrap_or_default()
}

impl Store {
    /// Another connection to the same database (same process, same file lock), for a pool of
    /// workers: DuckDB connections are `Send` but not `Sync`, so each worker holds its own.
    pub fn try_clone(&self) -> Result<Store> {
        Ok(Store {
            conn: self.conn.try_clone().db("open another connection")?,
            dir: self.dir.clone(),
            config: self.config.clone(),
        })
    }

    /// Run a query the caller built, with values bound to its `?` placeholders (never spliced into
    /// the text), and collect its Arrow batches.
    pub fn query_arrow_params(&self, sql: &str, params: &[SqlParam]) -> Result<Vec<RecordBatch>> {
        let what = "run a parameterised query";
        let mut stmt = self.conn.prepare(sql).db(what)?;
        let values: Vec<Value> = params.iter().map(SqlParam::value).collect();
        let batches = stmt
            .query_arrow(duckdb::params_from_iter(values))
            .db(what)?
            .collect();
        Ok(batches)
    }

    /// Columns of a table or view in the main schema, in order; empty when it does not exist.
    /// Lets callers read tables that other parts of the engine may or may not have created yet.
    pub fn table_columns(&self, table: &str) -> Result<Vec<String>> {
        let what = "list the columns of a table";
        let mut stmt = self
            .conn
            .prepare("SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position")
            .db(what)?;
        let rows = stmt
            .query_map([table], |r| r.get::<_, String>(0))
            .db(what)?;
        rows.map(|r| r.db(what)).collect()
    }

    /// Store a new API key (its salted hash, not the secret).
    pub fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO api_keys (key_id, salt, hash, scope, created_at, revoked, name) VALUES (?, ?, ?, ?, CAST(? AS TIMESTAMP), ?, ?)",
                duckdb::params![
                    key.key_id,
                    key.salt,
                    key.hash,
                    key.scope,
                    key.created_at.format(TS).to_string(),
                    key.revoked,
                    key.name,
                ],
            )
            .db("store the API key")?;
        Ok(())
    }

    /// Every API key, oldest first, revoked ones included.
    pub fn api_keys(&self) -> Result<Vec<ApiKeyRecord>> {
        let what = "read the API keys";
        let mut stmt = self
            .conn
            .prepare("SELECT key_id, name, scope, salt, hash, CAST(created_at AS VARCHAR), revoked FROM api_keys ORDER BY created_at, key_id")
            .db(what)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(ApiKeyRecord {
                    key_id: r.get(0)?,
                    name: r.get(1)?,
                    scope: r.get(2)?,
                    salt: r.get(3)?,
                    hash: r.get(4)?,
                    created_at: parse_ts(&r.get::<_, String>(5)?),
                    revoked: r.get(6)?,
                })
            })
            .db(what)?;
        rows.map(|r| r.db(what)).collect()
    }

    /// Mark a key revoked; false when no key has this id.
    pub fn revoke_api_key(&self, key_id: &str) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "UPDATE api_keys SET revoked = true WHERE key_id = ?",
                [key_id],
            )
            .db("revoke the API key")?;
        Ok(n > 0)
    }

    /// Every named segment, by name.
    pub fn named_segments(&self) -> Result<Vec<SegmentRecord>> {
        self.read_segments(None)
    }

    /// One named segment.
    pub fn named_segment(&self, name: &str) -> Result<Option<SegmentRecord>> {
        Ok(self.read_segments(Some(name))?.into_iter().next())
    }

    fn read_segments(&self, name: Option<&str>) -> Result<Vec<SegmentRecord>> {
        let what = "read the named segments";
        let mut stmt = self
            .conn
            .prepare("SELECT name, predicate, CAST(created_at AS VARCHAR), created_by FROM segments WHERE ? IS NULL OR name = ? ORDER BY name")
            .db(what)?;
        let rows = stmt
            .query_map([name, name], |r| {
                Ok(SegmentRecord {
                    name: r.get(0)?,
                    predicate: r.get(1)?,
                    created_at: parse_ts(&r.get::<_, String>(2)?),
                    created_by: r.get(3)?,
                })
            })
            .db(what)?;
        rows.map(|r| r.db(what)).collect()
    }

    /// Store a named segment; false (and nothing changed) when the name is taken. The caller
    /// validates the predicate first.
    pub fn insert_named_segment(&self, seg: &SegmentRecord) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "INSERT INTO segments (name, predicate, created_at, created_by) VALUES (?, ?, CAST(? AS TIMESTAMP), ?) ON CONFLICT DO NOTHING",
                duckdb::params![
                    seg.name,
                    seg.predicate,
                    seg.created_at.format(TS).to_string(),
                    seg.created_by,
                ],
            )
            .db("store the segment")?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_segments_round_trip() -> Result<()> {
        let dir = std::env::temp_dir();
        let s = Store::in_memory(&dir)?;
        let at = chrono::NaiveDate::from_ymd_opt(2024, 1, 2)
            .and_then(|d| d.and_hms_opt(3, 4, 5))
            .unwrap_or_default();
        let key = ApiKeyRecord {
            key_id: "k1".into(),
            name: Some("ci".into()),
            scope: "read".into(),
            salt: "aa".into(),
            hash: "bb".into(),
            created_at: at,
            revoked: false,
        };
        s.insert_api_key(&key)?;
        assert_eq!(s.api_keys()?, vec![key.clone()]);
        assert!(s.revoke_api_key("k1")?);
        assert!(!s.revoke_api_key("nope")?);
        assert!(s.api_keys()?[0].revoked);
        let seg = SegmentRecord {
            name: "vip".into(),
            predicate: "clv > 100".into(),
            created_at: at,
            created_by: Some("k1".into()),
        };
        assert!(s.insert_named_segment(&seg)?);
        assert!(!s.insert_named_segment(&seg)?);
        assert_eq!(s.named_segment("vip")?, Some(seg));
        assert_eq!(s.named_segment("other")?, None);
        assert_eq!(s.table_columns("segments")?.len(), 4);
        assert!(s.table_columns("no_such_table")?.is_empty());
        let b = s.query_arrow_params(
            "SELECT ? AS a, ? AS b, ? AS c",
            &[
                SqlParam::Text("x".into()),
                SqlParam::Float(1.5),
                SqlParam::Int(2),
            ],
        )?;
        assert_eq!(b.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
        let c = s.try_clone()?;
        assert_eq!(c.named_segments()?.len(), 1);
        Ok(())
    }
}
