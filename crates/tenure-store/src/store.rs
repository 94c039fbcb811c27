//! The `Store`: one DuckDB file per project, migrated on open.

use std::path::{Path, PathBuf};

use arrow::record_batch::RecordBatch;
use duckdb::{AccessMode, Config as DbConfig, Connection};
use serde::Serialize;

use crate::config::{Config, CONFIG_FILE};
use crate::error::{io_err, DbContext, Result, StoreError};
use crate::schema::{TableSpec, MIGRATIONS, TABLES};

/// The database file inside a project folder.
pub const DB_FILE: &str = "tenure.duckdb";

/// An open project store. All reads and writes of project data go through it.
pub struct Store {
    pub(crate) conn: Connection,
    pub(crate) dir: PathBuf,
    pub(crate) config: Config,
}

/// What `tenure status` shows about one input table.
#[derive(Debug, Clone, Serialize)]
pub struct TableStatus {
    /// Table name.
    pub table: String,
    /// Rows stored.
    pub rows: i64,
    /// Earliest timestamp in its time column, if it has one and rows.
    pub first: Option<String>,
    /// Latest timestamp in its time column.
    pub last: Option<String>,
    /// Distinct customers referenced, where the table has a customer_id.
    pub customers: Option<i64>,
    /// What the table switches on.
    pub enables: String,
}

/// The whole project at a glance.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Project folder.
    pub project: String,
    /// Applied schema version.
    pub schema_version: i64,
    /// One line per input table.
    pub tables: Vec<TableStatus>,
    /// Capabilities that are on, given the tables with rows.
    pub capabilities_on: Vec<String>,
    /// Capabilities that are off, each with the table that would switch it on.
    pub capabilities_off: Vec<String>,
    /// Ingest runs recorded.
    pub ingest_runs: i64,
}

/// One row of the `models` registry: what was fitted, on data up to when, with which parameters and
/// metrics (JSON text), and where its files are.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ModelRecord {
    /// Unique id, also the folder name under `models/`.
    pub model_id: String,
    /// Model kind, e.g. `bg_nbd`.
    pub kind: String,
    /// Version within the kind; assigned by [`Store::register_model`] (the value passed in is ignored).
    pub version: i64,
    /// When it was trained (UTC).
    pub trained_at: chrono::NaiveDateTime,
    /// The as-of date of its training data, if it has one.
    pub as_of: Option<chrono::NaiveDate>,
    /// Parameters as JSON text.
    pub params: String,
    /// Metrics as JSON text.
    pub metrics: String,
    /// Folder of its artefacts (report, fitted parameters), relative to the project.
    pub artifact_path: Option<String>,
}

impl Store {
    /// Create a project in `dir` (the folder, `tenure.toml`, `rejects/`, `models/` and the database).
    /// Safe to run on an existing project: nothing is overwritten.
    pub fn init(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(io_err("create folder", dir))?;
        for sub in ["rejects", "models"] {
            let p = dir.join(sub);
            std::fs::create_dir_all(&p).map_err(io_err("create folder", &p))?;
        }
        let cfg = dir.join(CONFIG_FILE);
        if !cfg.exists() {
            std::fs::write(&cfg, Config::template()).map_err(io_err("write", &cfg))?;
        }
        Self::open_inner(dir, false)
    }

    /// Open an existing project read-write, applying pending migrations.
    pub fn open(dir: &Path) -> Result<Store> {
        if !dir.join(DB_FILE).exists() {
            return Err(StoreError::NoProject(dir.to_path_buf()));
        }
        Self::open_inner(dir, false)
    }

    /// Open an existing project read-only (analyst SQL, exports): nothing can be changed through it,
    /// and it can run beside another reader.
    pub fn open_read_only(dir: &Path) -> Result<Store> {
        if !dir.join(DB_FILE).exists() {
            return Err(StoreError::NoProject(dir.to_path_buf()));
        }
        Self::open_inner(dir, true)
    }

    fn open_inner(dir: &Path, read_only: bool) -> Result<Store> {
        let config = Config::load(dir)?;
        let path = dir.join(DB_FILE);
        // Offline by design: never try to download an extension at run time.
        let mut db_config = DbConfig::default()
            .enable_autoload_extension(false)
            .and_then(|c| c.with("autoinstall_known_extensions", "false"))
            .db("configure the store")?;
        if read_only {
            db_config = db_config
                .access_mode(AccessMode::ReadOnly)
                .db("open the store read-only")?;
        }
        let conn =
            Connection::open_with_flags(&path, db_config).db(format!("open {}", path.display()))?;
        let store = Store {
            conn,
            dir: dir.to_path_buf(),
            config,
        };
        if !read_only {
            store.migrate()?;
        }
        Ok(store)
    }

    /// An in-memory store with the full schema, for tests and one-off pipelines.
    pub fn in_memory(dir: &Path) -> Result<Store> {
        let conn = Connection::open_in_memory_with_flags(
            DbConfig::default()
                .enable_autoload_extension(false)
                .and_then(|c| c.with("autoinstall_known_extensions", "false"))
                .db("configure the store")?,
        )
        .db("open an in-memory store")?;
        let store = Store {
            conn,
            dir: dir.to_path_buf(),
            config: Config::default(),
        };
        store.migrate()?;
        Ok(store)
    }

    /// The project folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The project configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Apply every migration newer than the recorded version, each in its own transaction.
    fn migrate(&self) -> Result<()> {
        self.conn
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, description VARCHAR, applied_at TIMESTAMP)",
            )
            .db("create schema_migrations")?;
        let current = self.schema_version()?;
        for m in MIGRATIONS.iter().filter(|m| m.version > current) {
            let sql = format!(
                "BEGIN TRANSACTION;\n{}\nINSERT INTO schema_migrations (version, description, applied_at) VALUES ({}, '{}', TIMESTAMP '{}');\nCOMMIT;",
                (m.sql)(),
                m.version,
                m.description.replace('\'', "''"),
                chrono::Utc::now().naive_utc().format("%Y-%m-%d %H:%M:%S")
            );
            if let Err(e) = self.conn.execute_batch(&sql) {
                let _ = self.conn.execute_batch("ROLLBACK");
                return Err(StoreError::Db {
                    op: format!("apply migration {} ({})", m.version, m.description),
                    source: e,
                });
            }
        }
        Ok(())
    }

    /// The newest applied migration (0 for an empty database).
    pub fn schema_version(&self) -> Result<i64> {
        self.conn
            .query_row(
                "SELECT coalesce(max(version), 0) FROM schema_migrations",
                [],
                |r| r.get(0),
            )
            .db("read the schema version")
    }

    /// Rows in a table.
    pub fn count(&self, table: &str) -> Result<i64> {
        let spec = input_table(table)
            .map(|t| t.name)
            .or_else(|_| derived_table(table))?;
        self.conn
            .query_row(&format!("SELECT count(*) FROM {spec}"), [], |r| r.get(0))
            .db(format!("count rows of {table}"))
    }

    /// Tables, row counts, date ranges and which capabilities are on.
    pub fn status(&self) -> Result<Status> {
        let mut tables = Vec::new();
        let mut on = Vec::new();
        let mut off = Vec::new();
        for spec in TABLES {
            let rows = self.count(spec.name)?;
            let (first, last) = match spec.time_column {
                Some(c) if rows > 0 => self
                    .conn
                    .query_row(
                        &format!("SELECT CAST(min(\"{c}\") AS VARCHAR), CAST(max(\"{c}\") AS VARCHAR) FROM {}", spec.name),
                        [],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .db(format!("read the date range of {}", spec.name))?,
                _ => (None, None),
            };
            let customers = if spec.columns.iter().any(|c| c.name == "customer_id") {
                Some(
                    self.conn
                        .query_row(
                            &format!("SELECT count(DISTINCT customer_id) FROM {}", spec.name),
                            [],
                            |r| r.get(0),
                        )
                        .db(format!("count customers of {}", spec.name))?,
                )
            } else {
                None
            };
            if rows > 0 {
                on.push(format!("{} (from {})", spec.enables, spec.name));
            } else {
                off.push(format!(
                    "{} — ingest `{}` to switch on",
                    spec.enables, spec.name
                ));
            }
            tables.push(TableStatus {
                table: spec.name.into(),
                rows,
                first,
                last,
                customers,
                enables: spec.enables.into(),
            });
        }
        Ok(Status {
            project: self.dir.display().to_string(),
            schema_version: self.schema_version()?,
            tables,
            capabilities_on: on,
            capabilities_off: off,
            ingest_runs: self.count("ingest_runs")?,
        })
    }

    /// Run an analyst's read-only query and return its rows as Arrow batches.
    ///
    /// Only one statement of a reading kind is accepted; on a read-only store the engine enforces the
    /// rest. External file access is off for these queries.
    pub fn query_read_only(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        check_read_only(sql)?;
        self.query_arrow(sql)
    }

    /// Run a query the store itself built and collect its Arrow batches.
    pub fn query_arrow(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        let mut stmt = self
            .conn
            .prepare(sql)
            .db(format!("prepare query `{}`", short(sql)))?;
        let batches: Vec<RecordBatch> = stmt
            .query_arrow([])
            .db(format!("run query `{}`", short(sql)))?
            .collect();
        Ok(batches)
    }

    /// Write the result of a query to CSV or Parquet (chosen by the file's extension).
    pub fn copy_to(&self, sql: &str, out: &Path) -> Result<u64> {
        let format = match out.extension().and_then(|e| e.to_str()) {
            Some("parquet") => "FORMAT parquet",
            Some("csv") => "FORMAT csv, HEADER true",
            Some("tsv") => "FORMAT csv, HEADER true, DELIMITER '\t'",
            Some("jsonl") | Some("json") => "FORMAT json",
            other => {
                return Err(StoreError::Invalid(format!(
                    "cannot tell the output format from the extension {:?} of {}: use .csv, .tsv, .parquet or .jsonl",
                    other.unwrap_or(""),
                    out.display()
                )))
            }
        };
        let path = out.to_string_lossy().replace('\'', "''");
        let n = self
            .conn
            .execute(&format!("COPY ({sql}) TO '{path}' ({format})"), [])
            .db(format!("write {}", out.display()))?;
        Ok(n as u64)
    }

    /// Append a batch to a derived table the engine writes (`customer_scores`, `score_runs`,
    /// `customer_risk`, `customer_clusters`), in one transaction; the batch's columns must match the
    /// table's, in order.
    pub fn append_derived(&self, table: &str, batches: &[RecordBatch]) -> Result<u64> {
        if !matches!(
            table,
            "customer_scores" | "score_runs" | "customer_clusters" | "customer_risk"
        ) {
            return Err(StoreError::Invalid(format!(
                "{table} is not a table the engine appends to"
            )));
        }
        self.transaction(|| {
            let mut app = self
                .conn
                .appender(table)
                .db(format!("open an appender on {table}"))?;
            let mut n = 0u64;
            for b in batches {
                n += b.num_rows() as u64;
                app.append_record_batch(b.clone())
                    .db(format!("append to {table}"))?;
            }
            app.flush().db(format!("flush {table}"))?;
            Ok(n)
        })
    }

    /// Runs `f` in one transaction: committed when it returns `Ok`, rolled back when it fails, so a
    /// failed write leaves the store as it was.
    pub(crate) fn transaction<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        self.conn.execute_batch("BEGIN TRANSACTION").db("begin")?;
        match f() {
            Ok(v) => {
                self.conn.execute_batch("COMMIT").db("commit")?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Record a fitted model in the `models` registry and return its version (1 + the latest
    /// version of the same kind). `trained_at` and `as_of` are passed in, not read from a clock here,
    /// so the record says exactly what the caller did.
    pub fn register_model(&self, m: &ModelRecord) -> Result<i64> {
        let what = "register the model";
        let version: i64 = self
            .conn
            .query_row(
                "SELECT coalesce(max(version), 0) + 1 FROM models WHERE kind = ?",
                [&m.kind],
                |r| r.get(0),
            )
            .db(what)?;
        self.conn
            .execute(
                "INSERT OR REPLACE INTO models VALUES (?, ?, ?, CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP), ?, ?, ?)",
                duckdb::params![
                    m.model_id,
                    m.kind,
                    version,
                    m.trained_at.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
                    m.as_of.map(|d| format!("{d} 00:00:00")),
                    m.params,
                    m.metrics,
                    m.artifact_path,
                ],
            )
            .db(what)?;
        Ok(version)
    }

    /// Every model in the registry, newest first.
    pub fn models(&self) -> Result<Vec<ModelRecord>> {
        let what = "read the model registry";
        let mut stmt = self
            .conn
            .prepare(
                "SELECT model_id, kind, version, CAST(trained_at AS VARCHAR), CAST(CAST(as_of AS DATE) AS VARCHAR), params, metrics, artifact_path FROM models ORDER BY trained_at DESC, model_id",
            )
            .db(what)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, Option<String>>(7)?,
                ))
            })
            .db(what)?;
        let mut out = Vec::new();
        for row in rows {
            let (model_id, kind, version, trained, as_of, params, metrics, artifact_path) =
                row.db(what)?;
            out.push(ModelRecord {
                model_id,
                kind,
                version,
                trained_at: chrono::NaiveDateTime::parse_from_str(&trained, "%Y-%m-%d %H:%M:%S%.f")
                    .map_err(|e| {
                        StoreError::Invalid(format!("model registry time `{trained}`: {e}"))
                    })?,
                as_of: as_of.and_then(|d| chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()),
                params,
                metrics,
                artifact_path,
            });
        }
        Ok(out)
    }

    /// Export a whole table (input columns only, without ingest metadata) to CSV or Parquet.
    pub fn export_table(&self, table: &str, out: &Path) -> Result<u64> {
        let sql = match input_table(table) {
            Ok(spec) => format!(
                "SELECT * EXCLUDE (_run_id, _line, _hash) FROM {} ORDER BY ALL",
                spec.name
            ),
            Err(_) => format!("SELECT * FROM {}", derived_table(table)?),
        };
        self.copy_to(&sql, out)
    }
}

/// Look up an input table, with the store's error for unknown names.
pub(crate) fn input_table(name: &str) -> Result<&'static TableSpec> {
    crate::schema::table(name).ok_or_else(|| StoreError::UnknownTable(name.into()))
}

fn derived_table(name: &str) -> Result<&'static str> {
    const DERIVED: &[&str] = &[
        "ingest_runs",
        "text_embeddings",
        "review_analysis",
        "models",
        "customer_scores",
        "score_runs",
        "customer_clusters",
        "customer_risk",
        "schema_migrations",
    ];
    DERIVED
        .iter()
        .find(|d| **d == name)
        .copied()
        .ok_or_else(|| StoreError::UnknownTable(name.into()))
}

fn short(sql: &str) -> String {
    let one_line: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 80 {
        format!("{}…", one_line.chars().take(80).collect::<String>())
    } else {
        one_line
    }
}

/// Accept one statement that only reads.
pub fn check_read_only(sql: &str) -> Result<()> {
    let trimmed = sql.trim().trim_end_matches(';').trim();
    if trimmed.contains(';') {
        return Err(StoreError::NotReadOnly("one statement at a time".into()));
    }
    let first = trimmed
        .split(|c: char| c.is_whitespace() || c == '(')
        .find(|w| !w.is_empty())
        .unwrap_or("")
        .to_ascii_uppercase();
    match first.as_str() {
        "SELECT" | "WITH" | "FROM" | "DESCRIBE" | "SHOW" | "SUMMARIZE" | "EXPLAIN" | "VALUES"
        | "TABLE" => {
            let upper = trimmed.to_ascii_uppercase();
            for bad in [
                "READ_CSV",
                "READ_PARQUET",
                "READ_JSON",
                "READ_TEXT",
                "READ_BLOB",
                "COPY ",
                "ATTACH",
                "INSTALL",
                "LOAD ",
            ] {
                if upper.contains(bad) {
                    return Err(StoreError::NotReadOnly(format!(
                        "`{}` reaches outside the store; ingest the file with `tenure ingest` instead",
                        bad.trim()
                    )));
                }
            }
            Ok(())
        }
        _ => Err(StoreError::NotReadOnly(short(sql))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_guard() {
        assert!(check_read_only("SELECT 1").is_ok());
        assert!(check_read_only("  with a as (select 1) select * from a;").is_ok());
        assert!(check_read_only("DELETE FROM orders").is_err());
        assert!(check_read_only("SELECT 1; DROP TABLE orders").is_err());
        assert!(check_read_only("SELECT * FROM read_csv('/etc/passwd')").is_err());
    }

    #[test]
    fn init_is_idempotent_and_migrates() -> Result<()> {
        let dir = tempfile::tempdir().map_err(io_err("create", "tempdir"))?;
        let s = Store::init(dir.path())?;
        assert_eq!(
            s.schema_version()?,
            MIGRATIONS.last().map_or(0, |m| m.version)
        );
        drop(s);
        let s = Store::init(dir.path())?;
        assert_eq!(s.count("orders")?, 0);
        assert!(matches!(s.count("nope"), Err(StoreError::UnknownTable(_))));
        let st = s.status()?;
        assert_eq!(st.tables.len(), TABLES.len());
        assert!(st.capabilities_on.is_empty());
        Ok(())
    }
}
