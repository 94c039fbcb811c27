//! Lossless ingest: parse → validate → stage (Arrow batches through DuckDB's appender) → merge on
//! natural keys in one transaction.
//!
//! Every record read ends in exactly one of four places, and the run record says how many went where:
//! `read = accepted + duplicate + conflicting + rejected`.
//! - **accepted**: new key, stored;
//! - **duplicate**: same key and same content as a stored row (or an earlier row of the same file);
//! - **conflicting**: same key, different content — kept out (policy `reject`, written to the rejects
//!   file) or applied over the stored row (policy `replace`, last row of the file wins);
//! - **rejected**: failed validation, written to `rejects/<run>-<table>.csv` with line, field, reason
//!   and the raw line.
//!
//! Where the input has no id column, the key is the row's content hash plus its occurrence number among
//! identical rows of the file: re-ingesting a file changes nothing, and two identical purchases in one
//! file stay two.

pub(crate) mod batch;
#[cfg(test)]
mod routing_tests;
mod rows;

pub use rows::{RowRejection, RowsReport, MAX_ROWS as MAX_INGEST_ROWS};

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::ArrayRef;
use arrow::record_batch::RecordBatch;
use chrono::NaiveDateTime;
use serde::Serialize;

use crate::error::{io_err, DbContext, Result, StoreError};
use crate::parse::TimeZone;
use crate::schema::{TableSpec, TABLES};
use crate::source::{
    header_names, jsonl_columns, numbered_names, open_text, record_from_values, sniff_delimiter,
    sniff_header, DelimitedReader, Delimiter, JsonlReader, RawRecord,
};
use crate::store::{input_table, Store};
use batch::{has_flags, stored_keys, Batcher, Checked, Dest, Pre, Shape};

/// Input file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Delimited text (comma, tab, semicolon, pipe, whitespace runs), optionally gzipped.
    Csv,
    /// One JSON object per line, optionally gzipped.
    Jsonl,
    /// Apache Parquet.
    Parquet,
}

impl Format {
    /// Parse `csv`, `jsonl` (or `ndjson`, `json`), `parquet`.
    pub fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "csv" | "tsv" | "txt" => Some(Format::Csv),
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            "parquet" | "pq" => Some(Format::Parquet),
            _ => None,
        }
    }

    /// Guess from the file name (`orders.csv.gz` → csv); unknown extensions are read as delimited text.
    pub fn from_path(path: &Path) -> Format {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        name.rsplit('.')
            .next()
            .and_then(Format::parse)
            .unwrap_or(Format::Csv)
    }
}

/// What to do when a row's key is already stored with different content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnConflict {
    /// Keep the stored row; the new one goes to the rejects file.
    #[default]
    Reject,
    /// Replace the stored row with the new one (the last in the file wins).
    Replace,
}

/// Options of one ingest run.
#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    /// Target table (`orders`, `customers`, …).
    pub table: String,
    /// Input format; guessed from the file name when `None`.
    pub format: Option<Format>,
    /// Delimiter; sniffed when `None`.
    pub delimiter: Option<Delimiter>,
    /// Whether the first row is a header; sniffed when `None`.
    pub header: Option<bool>,
    /// Column mapping, ours → theirs, over the `[mapping.TABLE]` block of `tenure.toml`.
    pub map: Vec<(String, String)>,
    /// Conflict policy.
    pub on_conflict: OnConflict,
    /// Timestamps after this are refused as future dates; default: now (project zone) plus one day.
    pub not_after: Option<NaiveDateTime>,
}

/// The outcome of one ingest run, as stored in `ingest_runs` and printed by the CLI.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    /// Run id (also the prefix of the rejects file).
    pub run_id: i64,
    /// Input file.
    pub source: String,
    /// Target table.
    pub table: String,
    /// Format read.
    pub format: Format,
    /// Delimiter used, for delimited files.
    pub delimiter: Option<String>,
    /// Whether a header row was read.
    pub header: bool,
    /// Records read (blank lines are not records).
    pub read: u64,
    /// New rows stored.
    pub accepted: u64,
    /// Rows already stored with identical content (or repeated in the file).
    pub duplicate: u64,
    /// Rows whose key is stored with different content.
    pub conflicting: u64,
    /// Rows that failed validation.
    pub rejected: u64,
    /// Of the stored rows: returns (negative amount or quantity, or a returned/refunded status).
    pub returns: u64,
    /// Of the stored rows: zero amounts (allowed, flagged).
    pub zero_amount: u64,
    /// Of the stored rows: those whose customer (or order, for items) is not in the parent table.
    pub unknown_parent: u64,
    /// Blank lines skipped.
    pub blank_lines: u64,
    /// Conflict policy applied.
    pub on_conflict: OnConflict,
    /// Where refused rows were written, if any.
    pub rejects_file: Option<PathBuf>,
    /// Our column → source column, as resolved.
    pub mapping: Vec<(String, String)>,
    /// Source columns nothing maps to.
    pub ignored_columns: Vec<String>,
    /// Plain-language notes about the run.
    pub warnings: Vec<String>,
    /// Wall time of the run.
    pub seconds: f64,
    /// Wall time of each phase (read + validate + stage, classify, rejects, apply), for tuning.
    pub phases: Vec<(String, f64)>,
}

impl IngestReport {
    /// The accounting identity every run must satisfy.
    pub fn balanced(&self) -> bool {
        self.read == self.accepted + self.duplicate + self.conflicting + self.rejected
    }
}

/// Normalise a column name for sniffing: lowercase, letters and digits only (CJK kept).
fn normalise(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

fn is_known_name(name: &str) -> bool {
    let n = normalise(name);
    !n.is_empty()
        && TABLES.iter().any(|t| {
            t.columns
                .iter()
                .any(|c| normalise(c.name) == n || c.aliases.iter().any(|a| normalise(a) == n))
        })
}

/// Resolve which source column feeds each of the table's columns.
pub(crate) fn resolve_mapping(
    spec: &TableSpec,
    columns: &[String],
    explicit: &[(String, String)],
) -> Result<Vec<Option<usize>>> {
    let mut idx: Vec<Option<usize>> = vec![None; spec.columns.len()];
    let mut used: HashSet<usize> = HashSet::new();
    for (ours, theirs) in explicit {
        let Some(ci) = spec.columns.iter().position(|c| c.name == ours) else {
            return Err(StoreError::Mapping(format!(
                "{ours}={theirs}: {} has no column `{ours}` (its columns: {})",
                spec.name,
                spec.columns
                    .iter()
                    .map(|c| c.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        let found = columns
            .iter()
            .position(|c| c == theirs)
            .or_else(|| columns.iter().position(|c| c.eq_ignore_ascii_case(theirs)));
        let Some(si) = found else {
            return Err(StoreError::Mapping(format!(
                "{ours}={theirs}: the input has no column `{theirs}` (columns: {})",
                columns.join(", ")
            )));
        };
        idx[ci] = Some(si);
        used.insert(si);
    }
    let norm: Vec<String> = columns.iter().map(|c| normalise(c)).collect();
    // Exact names first for every column, then aliases, so `date` never steals `order_date`'s match.
    for pass in 0..2 {
        for (ci, col) in spec.columns.iter().enumerate() {
            if idx[ci].is_some() {
                continue;
            }
            let wanted: Vec<String> = if pass == 0 {
                vec![normalise(col.name)]
            } else {
                col.aliases.iter().map(|a| normalise(a)).collect()
            };
            for w in &wanted {
                if let Some(si) = norm.iter().position(|n| n == w) {
                    if used.insert(si) {
                        idx[ci] = Some(si);
                        break;
                    }
                }
            }
        }
    }
    for (ci, col) in spec.columns.iter().enumerate() {
        if col.required && idx[ci].is_none() {
            return Err(StoreError::MissingColumn {
                table: spec.name.into(),
                column: col.name.into(),
                found: columns.join(", "),
            });
        }
    }
    Ok(idx)
}

/// An opened input: its column names and a way to read its records.
pub(crate) struct Opened {
    pub(crate) columns: Vec<String>,
    reader: Reader,
    pending: Option<RawRecord>,
    pub(crate) delimiter: Option<Delimiter>,
    pub(crate) header: bool,
}

enum Reader {
    Delimited(DelimitedReader),
    Jsonl(JsonlReader),
    Rows {
        batches: Vec<RecordBatch>,
        batch: usize,
        row: usize,
        line: u64,
    },
}

impl Opened {
    pub(crate) fn next(&mut self, rec: &mut RawRecord) -> Result<bool> {
        if let Some(p) = self.pending.take() {
            *rec = p;
            return Ok(true);
        }
        let io = |e| StoreError::Io {
            op: "read",
            path: PathBuf::from("input"),
            source: e,
        };
        match &mut self.reader {
            Reader::Delimited(r) => r.read(rec).map_err(io),
            Reader::Jsonl(r) => r.read(rec).map_err(io),
            Reader::Rows {
                batches,
                batch,
                row,
                line,
            } => loop {
                let Some(b) = batches.get(*batch) else {
                    return Ok(false);
                };
                if *row >= b.num_rows() {
                    *batch += 1;
                    *row = 0;
                    continue;
                }
                let values: Vec<Option<&str>> = (0..b.num_columns())
                    .map(|c| {
                        let a = b
                            .column(c)
                            .as_any()
                            .downcast_ref::<arrow::array::StringArray>();
                        a.and_then(|a| {
                            (!arrow::array::Array::is_null(a, *row)).then(|| a.value(*row))
                        })
                    })
                    .collect();
                *line += 1;
                record_from_values(rec, *line, &values);
                *row += 1;
                return Ok(true);
            },
        }
    }

    pub(crate) fn blank_lines(&self) -> u64 {
        match &self.reader {
            Reader::Delimited(r) => r.blank_lines,
            Reader::Jsonl(r) => r.blank_lines,
            Reader::Rows { .. } => 0,
        }
    }

    /// For delimited text: the lines its reader has consumed so far (blank ones included), so that
    /// another reader of the same file can check where the records begin.
    pub(crate) fn lines_read(&self) -> Option<u64> {
        match &self.reader {
            Reader::Delimited(r) => Some(r.lines_read()),
            Reader::Jsonl(_) | Reader::Rows { .. } => None,
        }
    }
}

/// Open an input file for reading: its column names (header, numbered, JSON keys or Parquet schema)
/// and a record reader. Parquet is read through `read_parquet`, a query on any DuckDB connection, so
/// callers without a project (store-less scoring) pass an in-memory one.
pub(crate) fn open_input(
    path: &Path,
    format: Format,
    opts: &IngestOptions,
    read_parquet: &dyn Fn(&str) -> Result<Vec<RecordBatch>>,
) -> Result<Opened> {
    let input_err = |message: String| StoreError::Input {
        path: path.into(),
        message,
    };
    match format {
        Format::Parquet => {
            let p = path.to_string_lossy().replace('\'', "''");
            let batches = read_parquet(&format!(
                "SELECT CAST(COLUMNS(*) AS VARCHAR) FROM read_parquet('{p}')"
            ))
            .map_err(|e| input_err(format!("not a readable Parquet file ({e})")))?;
            let columns = batches
                .first()
                .map(|b| {
                    b.schema()
                        .fields()
                        .iter()
                        .map(|f| f.name().clone())
                        .collect()
                })
                .unwrap_or_default();
            Ok(Opened {
                columns,
                reader: Reader::Rows {
                    batches,
                    batch: 0,
                    row: 0,
                    line: 0,
                },
                pending: None,
                delimiter: None,
                header: true,
            })
        }
        Format::Jsonl => {
            let (sample, reader) = open_text(path)?;
            if sample.is_empty() {
                return Err(input_err(
                    "the file is empty: there is nothing to ingest".into(),
                ));
            }
            let columns = jsonl_columns(&sample);
            if columns.is_empty() {
                return Err(input_err(
                    "no JSON object found in the first lines: expected one object per line (JSON Lines)".into(),
                ));
            }
            Ok(Opened {
                reader: Reader::Jsonl(JsonlReader::new(reader, columns.clone())),
                columns,
                pending: None,
                delimiter: None,
                header: false,
            })
        }
        Format::Csv => {
            let (sample, reader) = open_text(path)?;
            if sample.iter().all(u8::is_ascii_whitespace) {
                return Err(input_err(
                    "the file is empty: there is nothing to ingest".into(),
                ));
            }
            let delim = opts
                .delimiter
                .or_else(|| sniff_delimiter(&sample))
                .unwrap_or(Delimiter::Byte(b','));
            let mut r = DelimitedReader::new(reader, delim);
            let mut first = RawRecord::default();
            if !r.read(&mut first).map_err(io_err("read", path))? {
                return Err(input_err("the file has no rows".into()));
            }
            let header = match opts.header {
                Some(h) => h,
                None => {
                    let second = sample_second_record(&sample, delim);
                    sniff_header(&first, second.as_ref(), &is_known_name)
                }
            };
            let (columns, pending) = if header {
                (header_names(&first), None)
            } else {
                (numbered_names(first.len()), Some(first))
            };
            Ok(Opened {
                columns,
                reader: Reader::Delimited(r),
                pending,
                delimiter: Some(delim),
                header,
            })
        }
    }
}

impl Store {
    /// Ingest one file into a table. `progress` is called with the number of records read so far.
    ///
    /// One transaction per run: rows whose key is new to the file and to the store are appended to
    /// the target table as they are validated; rows whose key repeats in the file or is already stored
    /// (with other content) go to a staging table and are classified exactly in SQL; rows identical
    /// to a stored row are counted as duplicates and dropped. A run that fails or is killed leaves the
    /// store as it was.
    pub fn ingest(
        &self,
        path: &Path,
        opts: &IngestOptions,
        progress: &mut dyn FnMut(u64),
    ) -> Result<IngestReport> {
        let started = Instant::now();
        let started_at = chrono::Utc::now().naive_utc();
        let spec = input_table(&opts.table)?;
        let format = opts.format.unwrap_or_else(|| Format::from_path(path));
        let tz = self.config.time_zone().map_err(StoreError::Invalid)?;
        let mut explicit: Vec<(String, String)> = self
            .config
            .mapping
            .get(spec.name)
            .map(|m| m.iter().map(|(a, b)| (a.clone(), b.clone())).collect())
            .unwrap_or_default();
        for (ours, theirs) in &opts.map {
            explicit.retain(|(o, _)| o != ours);
            explicit.push((ours.clone(), theirs.clone()));
        }

        let opened = open_input(path, format, opts, &|sql| self.query_arrow(sql))?;
        let src_idx = resolve_mapping(spec, &opened.columns, &explicit)?;
        let mapping: Vec<(String, String)> = spec
            .columns
            .iter()
            .zip(&src_idx)
            .filter_map(|(c, i)| i.map(|i| (c.name.to_string(), opened.columns[i].clone())))
            .collect();
        let ignored_columns: Vec<String> = opened
            .columns
            .iter()
            .enumerate()
            .filter(|(i, _)| !src_idx.contains(&Some(*i)))
            .map(|(_, c)| c.clone())
            .collect();

        let run_id: i64 = self
            .conn
            .query_row("SELECT nextval('ingest_run_seq')", [], |r| r.get(0))
            .db("allocate an ingest run id")?;
        let rejects_dir = self.dir.join("rejects");
        let rejects_final = rejects_dir.join(format!("{run_id}-{}.csv", spec.name));
        let rejects_partial = rejects_dir.join(format!("{run_id}-{}.csv.partial", spec.name));

        // The staging table: rows whose key repeats in the file or is already stored.
        let stage_cols: Vec<String> = spec
            .columns
            .iter()
            .map(|c| format!("\"{}\" {}", c.name, c.ty.sql()))
            .chain(
                [
                    "_line BIGINT",
                    "_hash UBIGINT",
                    "is_return BOOLEAN",
                    "is_zero BOOLEAN",
                ]
                .map(String::from),
            )
            .collect();
        self.conn
            .execute_batch(&format!(
                "DROP TABLE IF EXISTS _classified; DROP TABLE IF EXISTS _stage; DROP TABLE IF EXISTS _again; CREATE TEMP TABLE _stage ({}); CREATE TEMP TABLE _again (_line BIGINT);",
                stage_cols.join(", ")
            ))
            .db("create the staging table")?;

        // Keys already stored, so that rows can be routed as they are read.
        let mark = Instant::now();
        let mut router = Router::default();
        if self.table_has_rows(spec.name)? {
            router.load_stored(self, spec)?;
        }
        let mut phases = vec![("stored keys".to_string(), mark.elapsed().as_secs_f64())];

        self.conn
            .execute_batch("BEGIN TRANSACTION")
            .db("begin the ingest transaction")?;
        let ctx = RunCtx {
            path,
            format,
            opts,
            spec,
            src_idx: &src_idx,
            tz,
            run_id,
        };
        let outcome = self.ingest_in_transaction(
            &ctx,
            opened,
            router,
            rejects_partial.clone(),
            progress,
            &mut phases,
        );
        let mut report = match outcome {
            Ok(parts) => parts,
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                let _ = self.conn.execute_batch(DROP_TEMP);
                return Err(e);
            }
        };
        report.mapping = mapping;
        report.ignored_columns = ignored_columns;
        let mark = Instant::now();
        self.apply(spec, run_id, started_at, &mut report, &rejects_final)?;
        phases.push(("apply and commit".into(), mark.elapsed().as_secs_f64()));
        if report.rejects_file.is_some() {
            std::fs::rename(&rejects_partial, &rejects_final)
                .map_err(io_err("rename", &rejects_partial))?;
        }
        self.conn
            .execute_batch(DROP_TEMP)
            .db("drop staging tables")?;
        report.phases = phases;
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    fn table_has_rows(&self, table: &str) -> Result<bool> {
        let n: i64 = self
            .conn
            .query_row(
                &format!("SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT 1)"),
                [],
                |r| r.get(0),
            )
            .db(format!("check whether {table} is empty"))?;
        Ok(n > 0)
    }

    /// Everything of a run between `BEGIN` and the apply step: read, validate, append new rows, stage
    /// the others, classify them, and write the rejects file.
    fn ingest_in_transaction(
        &self,
        ctx: &RunCtx<'_>,
        opened: Opened,
        router: Router,
        rejects_partial: PathBuf,
        progress: &mut dyn FnMut(u64),
        phases: &mut Vec<(String, f64)>,
    ) -> Result<IngestReport> {
        let spec = ctx.spec;
        let mark = Instant::now();
        let not_after = ctx
            .opts
            .not_after
            .unwrap_or_else(|| ctx.tz.now() + chrono::Duration::days(1));
        let is_delimited = ctx.format == Format::Csv;
        let ncols = opened.columns.len();
        let mut rejects = Rejects::new(rejects_partial);
        let date_format = self.config.project.date_format.clone();
        let make_batcher = || {
            Batcher::new(
                spec,
                ctx.src_idx.to_vec(),
                ctx.tz,
                date_format.clone(),
                not_after,
                ctx.run_id,
            )
        };
        // Two threads: a worker reads, splits, validates and routes records into Arrow batches; this
        // thread appends them to DuckDB and writes the rejects file.
        let batcher = make_batcher();
        // Rows are appended by position: the table must have exactly the columns the batches carry.
        let mut want: Vec<String> = spec.columns.iter().map(|c| c.name.to_string()).collect();
        want.extend(["_run_id", "_line", "_hash"].map(String::from));
        if has_flags(spec) {
            want.extend(["is_return", "is_zero"].map(String::from));
        }
        let have: Vec<String> = {
            let mut stmt = self
                .conn
                .prepare("SELECT column_name FROM duckdb_columns() WHERE table_name = ? AND NOT internal AND schema_name = 'main' ORDER BY column_index")
                .db("read the target table's columns")?;
            let rows = stmt
                .query_map([spec.name], |r| r.get::<_, String>(0))
                .db("read the target table's columns")?;
            rows.collect::<std::result::Result<_, _>>()
                .db("read the target table's columns")?
        };
        if have != want {
            return Err(StoreError::Invalid(format!(
                "table {} has columns ({}) where ingest expects ({}); run `tenure init` to migrate the store",
                spec.name,
                have.join(", "),
                want.join(", ")
            )));
        }
        // DuckDB runs the appends on this thread alone: with more threads it hands the compression of
        // each row group to a pool thread and polls for it, which on a small machine takes CPU from
        // the worker. The setting is restored right after the appends (queries use every core).
        let threads: i64 = self
            .conn
            .query_row("SELECT current_setting('threads')", [], |r| r.get(0))
            .db("read the thread setting")?;
        self.conn
            .execute_batch("SET threads = 1")
            .db("set one thread for the appends")?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<Staged>(4);
        let appended = std::thread::scope(|scope| -> Result<(u64, Opened, Router)> {
            let worker = scope
                .spawn(move || read_and_validate(opened, batcher, router, is_delimited, ncols, tx));
            let mut target = self
                .conn
                .appender(spec.name)
                .db(format!("open an appender on {}", spec.name))?;
            let mut stage = self
                .conn
                .appender("_stage")
                .db("open the staging appender")?;
            let mut failure = None;
            for msg in rx.iter() {
                let step = match msg {
                    Staged::Direct(b) => target
                        .append_record_batch(b)
                        .db(format!("append rows to {}", spec.name)),
                    Staged::Stage(b) => stage.append_record_batch(b).db("append a staging batch"),
                    Staged::Reject { rec, field, reason } => rejects.write(&rec, field, &reason),
                    Staged::Progress(n) => {
                        progress(n);
                        Ok(())
                    }
                };
                if let Err(e) = step {
                    failure = Some(e);
                    break; // dropping the receiver stops the worker at its next send
                }
            }
            drop(rx);
            let outcome = worker.join().map_err(|_| {
                StoreError::Invalid(
                    "the ingest worker thread panicked; please report this with the input file"
                        .into(),
                )
            })?;
            if let Some(e) = failure {
                return Err(e);
            }
            target
                .flush()
                .db(format!("flush the appender on {}", spec.name))?;
            stage.flush().db("flush the staging appender")?;
            outcome
        });
        let restored = self
            .conn
            .execute_batch(&format!("SET threads = {}", threads.max(1)))
            .db("restore the thread setting");
        let (read, opened, mut router) = appended?;
        restored?;
        progress(read);
        let blank_lines = opened.blank_lines();
        let delimiter_used = opened.delimiter.map(|d| d.describe());
        let header_used = opened.header;
        drop(opened);
        phases.push((
            "read, validate, append".to_string(),
            mark.elapsed().as_secs_f64(),
        ));

        // Rows dropped as duplicates of stored rows whose key then repeated in the file: read them
        // again into the staging table, so that every key classified in SQL has all its rows.
        let mark = Instant::now();
        if !router.recover.is_empty() {
            let mut again =
                open_input(ctx.path, ctx.format, ctx.opts, &|sql| self.query_arrow(sql))?;
            let mut batcher = make_batcher();
            let mut stage = self
                .conn
                .appender("_stage")
                .db("open the staging appender")?;
            let mut rec = RawRecord::default();
            while again.next(&mut rec)? {
                if rec.error.is_some() || (is_delimited && rec.len() != ncols) {
                    continue;
                }
                batcher.clear_pending();
                if let Ok(c) = batcher.check(&rec) {
                    if router.recover.remove(&c.key) {
                        batcher.emit(0, &rec, c, Dest::Stage);
                        router.duplicate -= 1;
                        router.staged += 1;
                    }
                }
                if let Some(b) = batcher.take_if_full(Shape::Stage)? {
                    stage.append_record_batch(b).db("append a staging batch")?;
                }
            }
            if let Some(b) = batcher.take(Shape::Stage)? {
                stage.append_record_batch(b).db("append a staging batch")?;
            }
            stage.flush().db("flush the staging appender")?;
        }

        // Classify the staged rows exactly, against the file and against what is stored.
        let mut counts = HashMap::from([
            ("accepted".to_string(), router.direct),
            ("duplicate".to_string(), router.duplicate),
        ]);
        let mut conflict_lines = HashMap::new();
        let again = router.repeated_direct_lines();
        if !again.is_empty() {
            let lines = arrow::array::Int64Array::from_iter_values(again.iter().map(|l| *l as i64));
            let batch = RecordBatch::try_from_iter([("_line", Arc::new(lines) as ArrayRef)])
                .map_err(|source| StoreError::Arrow {
                    op: "list repeated keys",
                    source,
                })?;
            let mut app = self
                .conn
                .appender("_again")
                .db("open the repeated-keys appender")?;
            app.append_record_batch(batch).db("list repeated keys")?;
            app.flush().db("list repeated keys")?;
        }
        if router.staged > 0 || !again.is_empty() {
            let (classified, direct_classified) =
                self.classify(spec, ctx.run_id, ctx.opts.on_conflict)?;
            for (class, n) in classified {
                *counts.entry(class).or_insert(0) += n;
            }
            if let Some(a) = counts.get_mut("accepted") {
                *a -= direct_classified;
            }
            conflict_lines = self.conflict_lines(ctx.opts.on_conflict)?;
        }
        phases.push(("classify".into(), mark.elapsed().as_secs_f64()));
        let mark = Instant::now();
        if !conflict_lines.is_empty() {
            let mut again =
                open_input(ctx.path, ctx.format, ctx.opts, &|sql| self.query_arrow(sql))?;
            let mut rec = RawRecord::default();
            while again.next(&mut rec)? {
                if let Some(reason) = conflict_lines.get(&rec.line) {
                    rejects.write(&rec, spec.key.join("+").as_str(), reason)?;
                }
            }
        }
        phases.push(("conflict rejects".into(), mark.elapsed().as_secs_f64()));
        let rejected = rejects.rejected_validation;
        let rejects_written = rejects.finish()?;
        Ok(IngestReport {
            run_id: ctx.run_id,
            source: ctx.path.display().to_string(),
            table: spec.name.into(),
            format: ctx.format,
            delimiter: delimiter_used,
            header: header_used,
            read,
            accepted: counts.get("accepted").copied().unwrap_or(0),
            duplicate: counts.get("duplicate").copied().unwrap_or(0),
            conflicting: counts.get("conflicting").copied().unwrap_or(0),
            rejected,
            returns: 0,
            zero_amount: 0,
            unknown_parent: 0,
            blank_lines,
            on_conflict: ctx.opts.on_conflict,
            rejects_file: rejects_written.then_some(PathBuf::new()),
            mapping: Vec::new(),
            ignored_columns: Vec::new(),
            warnings: Vec::new(),
            seconds: 0.0,
            phases: Vec::new(),
        })
    }

    /// Build `_classified` from the staged rows and the directly appended rows whose key repeats: each with its
    /// class and whether it is applied. Returns the counts per class and how many of the classified
    /// rows were appended directly (they were counted as accepted while reading).
    fn classify(
        &self,
        spec: &TableSpec,
        run_id: i64,
        policy: OnConflict,
    ) -> Result<(HashMap<String, u64>, u64)> {
        let t = spec.name;
        let keys = |alias: &str| -> String {
            spec.key
                .iter()
                .map(|k| format!("{alias}\"{k}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let matches = |a: &str, b: &str| -> String {
            spec.key
                .iter()
                .map(|k| format!("{a}.\"{k}\" = {b}.\"{k}\""))
                .collect::<Vec<_>>()
                .join(" AND ")
        };
        let part = keys("");
        // The winner of a key within the file: its first row (reject) or its last row (replace).
        let (winner_line, winner_hash) = match policy {
            OnConflict::Reject => ("_first_line", "_first_hash"),
            OnConflict::Replace => ("_last_line", "_last_hash"),
        };
        let sql = format!(
            "CREATE TEMP TABLE _classified AS
             WITH s AS (
                SELECT {part}, _line, _hash, false AS _direct FROM _stage
                UNION ALL
                SELECT {tk}, t._line, t._hash, true AS _direct FROM {t} t
                WHERE t._run_id = {run_id} AND t._line IN (SELECT _line FROM _again)
             ),
             d AS (
                SELECT {part}, count(*) AS _n,
                  min(_line) AS _first_line, max(_line) AS _last_line,
                  arg_min(_hash, _line) AS _first_hash, arg_max(_hash, _line) AS _last_hash
                FROM s GROUP BY {part} HAVING count(*) > 1
             ),
             r AS (
                SELECT s.*, coalesce(d._first_line, s._line) AS _first_line, coalesce(d._last_line, s._line) AS _last_line,
                       coalesce(d.{winner_hash}, s._hash) AS _winner_hash,
                       d._n IS NULL OR s._line = d.{winner_line} AS _winner
                FROM s LEFT JOIN d ON {s_d}
             ),
             e AS (
                SELECT {tk}, t._hash FROM {t} t
                WHERE t._run_id IS DISTINCT FROM {run_id} AND EXISTS (SELECT 1 FROM _stage x WHERE {x_t})
             )
             SELECT r.*, e._hash AS _stored_hash,
               CASE WHEN NOT _winner THEN (CASE WHEN r._hash = _winner_hash THEN 'duplicate' ELSE 'conflicting' END)
                    WHEN e._hash IS NULL THEN 'accepted'
                    WHEN e._hash = r._hash THEN 'duplicate'
                    ELSE 'conflicting' END AS _class,
               CASE WHEN NOT _winner THEN false
                    WHEN e._hash IS NULL THEN true
                    WHEN e._hash = r._hash THEN false
                    ELSE {replace_applies} END AS _apply
             FROM r LEFT JOIN e ON {r_e};",
            tk = keys("t."),
            x_t = matches("x", "t"),
            s_d = matches("s", "d"),
            r_e = matches("r", "e"),
            replace_applies = if policy == OnConflict::Replace { "true" } else { "false" },
        );
        self.conn
            .execute_batch(&sql)
            .db(format!("classify rows for {t}"))?;
        let mut counts = HashMap::new();
        let mut stmt = self
            .conn
            .prepare("SELECT _class, count(*) FROM _classified GROUP BY _class")
            .db("count classes")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .db("count classes")?;
        for row in rows {
            let (class, n) = row.db("count classes")?;
            counts.insert(class, n as u64);
        }
        let direct: i64 = self
            .conn
            .query_row("SELECT count(*) FROM _classified WHERE _direct", [], |r| {
                r.get(0)
            })
            .db("count classified direct rows")?;
        Ok((counts, direct as u64))
    }

    /// Lines of conflicting rows that are not applied, with the reason written to the rejects file.
    fn conflict_lines(&self, policy: OnConflict) -> Result<HashMap<u64, String>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT _line, _stored_hash IS NOT NULL AND _winner, _first_line, _last_line FROM _classified WHERE _class = 'conflicting' AND NOT _apply",
            )
            .db("list conflicting rows")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, bool>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
            .db("list conflicting rows")?;
        let mut out = HashMap::new();
        for row in rows {
            let (line, vs_stored, first, last) = row.db("list conflicting rows")?;
            let reason = match (policy, vs_stored) {
                (OnConflict::Reject, true) => "conflict: this key is already stored with different content (use --on-conflict replace to overwrite)".to_string(),
                (OnConflict::Reject, false) => format!("conflict: same key as line {first} with different content; the first row was kept"),
                (OnConflict::Replace, _) => format!("conflict: superseded by line {last} with the same key"),
            };
            out.insert(line as u64, reason);
        }
        Ok(out)
    }

    /// Apply the classified staged rows, record the run and commit (inside the run's transaction,
    /// which already holds the rows appended directly). Rolls back on failure.
    fn apply(
        &self,
        spec: &TableSpec,
        run_id: i64,
        report_started: NaiveDateTime,
        report: &mut IngestReport,
        rejects_final: &Path,
    ) -> Result<()> {
        let outcome =
            self.apply_in_transaction(spec, run_id, report_started, report, rejects_final);
        if let Err(e) = outcome {
            let _ = self.conn.execute_batch("ROLLBACK");
            let _ = self.conn.execute_batch(DROP_TEMP);
            return Err(e);
        }
        Ok(())
    }

    fn apply_in_transaction(
        &self,
        spec: &TableSpec,
        run_id: i64,
        report_started: NaiveDateTime,
        report: &mut IngestReport,
        rejects_final: &Path,
    ) -> Result<()> {
        let t = spec.name;
        let store_err = |e| StoreError::Db {
            op: format!("store the rows of run {run_id} into {t}"),
            source: e,
        };
        if report.rejects_file.is_some() {
            report.rejects_file = Some(rejects_final.to_path_buf());
        }
        let cols: Vec<String> = spec
            .columns
            .iter()
            .map(|c| format!("\"{}\"", c.name))
            .collect();
        let col_list = cols.join(", ");
        let flags = has_flags(spec);
        let extra = if flags { ", is_return, is_zero" } else { "" };
        let classified = self.table_exists_temp("_classified")?;
        if classified {
            let key_match: String = spec
                .key
                .iter()
                .map(|k| format!("c.\"{k}\" = t.\"{k}\""))
                .collect::<Vec<_>>()
                .join(" AND ");
            let mut sql = format!(
                "DELETE FROM {t} WHERE _run_id = {run_id} AND _line IN (SELECT _line FROM _classified WHERE _direct AND NOT _apply);"
            );
            if report.on_conflict == OnConflict::Replace && report.conflicting > 0 {
                sql.push_str(&format!(
                    "DELETE FROM {t} t WHERE t._run_id IS DISTINCT FROM {run_id} AND EXISTS (SELECT 1 FROM _classified c WHERE NOT c._direct AND c._apply AND c._class = 'conflicting' AND {key_match});"
                ));
            }
            sql.push_str(&format!(
                "INSERT INTO {t} ({col_list}, _run_id, _line, _hash{extra}) SELECT {col_list}, {run_id}, _line, _hash{extra} FROM _stage WHERE _line IN (SELECT _line FROM _classified WHERE NOT _direct AND _apply);"
            ));
            self.conn.execute_batch(&sql).map_err(store_err)?;
        }
        if flags {
            let (returns, zero): (i64, i64) = self
                .conn
                .query_row(
                    &format!("SELECT count(*) FILTER (WHERE is_return), count(*) FILTER (WHERE is_zero) FROM {t} WHERE _run_id = {run_id}"),
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .db("count returns")?;
            report.returns = returns as u64;
            report.zero_amount = zero as u64;
        }
        let parent = match t {
            "order_items" => Some(("orders", "order_id")),
            "customers" | "products" => None,
            _ => Some(("customers", "customer_id")),
        };
        if let Some((ptable, pcol)) = parent {
            if self.table_has_rows(ptable)? {
                let n: i64 = self
                    .conn
                    .query_row(
                        &format!("SELECT count(*) FROM {t} c WHERE c._run_id = {run_id} AND NOT EXISTS (SELECT 1 FROM {ptable} p WHERE p.{pcol} = c.{pcol})"),
                        [],
                        |r| r.get(0),
                    )
                    .db("check references")?;
                report.unknown_parent = n as u64;
                if n > 0 {
                    report.warnings.push(format!("{n} stored rows refer to a {pcol} that is not in {ptable} (kept; ingest {ptable} to complete them)"));
                }
            }
        }
        if report.blank_lines > 0 {
            report
                .warnings
                .push(format!("{} blank lines skipped", report.blank_lines));
        }
        if report.zero_amount > 0 {
            report.warnings.push(format!(
                "{} rows with a zero amount (kept, flagged is_zero)",
                report.zero_amount
            ));
        }
        if report.conflicting > 0 {
            report.warnings.push(match report.on_conflict {
                OnConflict::Reject => format!("{} rows conflict with stored rows or earlier rows of the file: kept out, listed in the rejects file", report.conflicting),
                OnConflict::Replace => format!("{} conflicting rows: the last of each key replaced the stored one; superseded rows are in the rejects file", report.conflicting),
            });
        }
        if !report.ignored_columns.is_empty() {
            report.warnings.push(format!(
                "columns not used: {}",
                report.ignored_columns.join(", ")
            ));
        }
        let sql = format!(
            "INSERT INTO ingest_runs VALUES ({run_id}, {started}, {finished}, {source}, {format}, {t_lit}, {policy}, {read}, {acc}, {dup}, {conf}, {rej}, {ret}, {zero}, {unk}, {rfile}, {mapping}, {warn});
             COMMIT;",
            started = ts_lit(report_started),
            finished = ts_lit(chrono::Utc::now().naive_utc()),
            source = lit(&report.source),
            format = lit(&format_name(report.format)),
            t_lit = lit(t),
            policy = lit(&policy_name(report.on_conflict)),
            read = report.read,
            acc = report.accepted,
            dup = report.duplicate,
            conf = report.conflicting,
            rej = report.rejected,
            ret = report.returns,
            zero = report.zero_amount,
            unk = report.unknown_parent,
            rfile = report.rejects_file.as_ref().map_or("NULL".into(), |p| lit(&p.display().to_string())),
            mapping = lit(&serde_json::to_string(&report.mapping).unwrap_or_default()),
            warn = lit(&serde_json::to_string(&report.warnings).unwrap_or_default()),
        );
        self.conn.execute_batch(&sql).map_err(store_err)
    }

    fn table_exists_temp(&self, name: &str) -> Result<bool> {
        let n: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?",
                [name],
                |r| r.get(0),
            )
            .db("look up a temporary table")?;
        Ok(n > 0)
    }
}

/// Drops the run's temporary tables.
const DROP_TEMP: &str =
    "DROP TABLE IF EXISTS _classified; DROP TABLE IF EXISTS _stage; DROP TABLE IF EXISTS _again;";

/// What a run needs to know in each of its steps.
struct RunCtx<'a> {
    path: &'a Path,
    format: Format,
    opts: &'a IngestOptions,
    spec: &'static TableSpec,
    src_idx: &'a [Option<usize>],
    tz: TimeZone,
    run_id: i64,
}
/// Decides, as rows are read, where each goes: straight into the target table, into staging, or
/// nowhere (a duplicate of a stored row). Decisions are exact or conservative: a key hash that is
/// stored sends the row to the SQL classification, which compares real keys; keys repeated among the
/// rows appended directly are found after reading (by sorting their hashes) and classified in SQL too.
#[derive(Default)]
struct Router {
    /// Key hashes of the rows appended directly, in order, with their lines.
    direct_keys: Vec<u64>,
    direct_lines: Vec<u64>,
    /// Key hash → content hash of stored rows, and what this file did with the key so far
    /// (one map, so that a row costs one lookup).
    stored: HashMap<u64, StoredKey, Pre>,
    /// Of the keys whose first row was dropped as a duplicate, the ones that repeat later in the
    /// file: their first row must be staged after all.
    recover: HashSet<u64, Pre>,
    /// Rows appended to the target table.
    direct: u64,
    /// Rows dropped as duplicates of stored rows.
    duplicate: u64,
    /// Rows staged.
    staged: u64,
}

/// A stored key as the router tracks it.
#[derive(Clone, Copy)]
struct StoredKey {
    /// Content hash of the stored row.
    hash: u64,
    /// More than one stored row has this key hash: never decide on it without SQL.
    ambiguous: bool,
    /// What happened to the first row of this file with the key.
    first: First,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum First {
    /// No row of the file has had the key yet.
    Unseen,
    /// The first row was dropped as a duplicate of the stored row.
    Dropped,
    /// The first row was staged.
    Staged,
}

impl Router {
    /// Read the stored rows' key and content hashes.
    fn load_stored(&mut self, store: &Store, spec: &TableSpec) -> Result<()> {
        let cols: Vec<String> = spec.key.iter().map(|k| format!("\"{k}\"")).collect();
        let n: i64 = store
            .conn
            .query_row(&format!("SELECT count(*) FROM {}", spec.name), [], |r| {
                r.get(0)
            })
            .db(format!("count the stored rows of {}", spec.name))?;
        self.stored.reserve(usize::try_from(n).unwrap_or(0));
        let mut stmt = store
            .conn
            .prepare(&format!(
                "SELECT {}, _hash FROM {}",
                cols.join(", "),
                spec.name
            ))
            .db(format!("read the stored keys of {}", spec.name))?;
        let arrow = stmt
            .query_arrow([])
            .db(format!("read the stored keys of {}", spec.name))?;
        let mut pairs: Vec<(u64, u64)> = Vec::new();
        for b in arrow {
            pairs.clear();
            stored_keys(spec, std::slice::from_ref(&b), |k, h| pairs.push((k, h)))?;
            for &(k, h) in &pairs {
                self.stored
                    .entry(k)
                    .and_modify(|s| s.ambiguous = true)
                    .or_insert(StoredKey {
                        hash: h,
                        ambiguous: false,
                        first: First::Unseen,
                    });
            }
        }
        Ok(())
    }

    fn route(&mut self, c: Checked, line: u64) -> Dest {
        if self.stored.is_empty() {
            return self.direct(c, line);
        }
        let Some(s) = self.stored.get_mut(&c.key) else {
            return self.direct(c, line);
        };
        match s.first {
            First::Unseen if s.hash == c.hash && !s.ambiguous => {
                s.first = First::Dropped;
                self.duplicate += 1;
                Dest::Skip
            }
            First::Unseen => {
                s.first = First::Staged;
                self.staged += 1;
                Dest::Stage
            }
            First::Dropped => {
                self.recover.insert(c.key);
                self.staged += 1;
                Dest::Stage
            }
            First::Staged => {
                self.staged += 1;
                Dest::Stage
            }
        }
    }

    fn direct(&mut self, c: Checked, line: u64) -> Dest {
        self.direct_keys.push(c.key);
        self.direct_lines.push(line);
        self.direct += 1;
        Dest::Direct
    }

    /// Lines of the directly appended rows whose key hash occurs more than once among them.
    fn repeated_direct_lines(&mut self) -> Vec<u64> {
        let mut sorted = self.direct_keys.clone();
        sorted.sort_unstable();
        let repeated: HashSet<u64, Pre> = sorted
            .windows(2)
            .filter(|w| w[0] == w[1])
            .map(|w| w[0])
            .collect();
        drop(sorted);
        if repeated.is_empty() {
            return Vec::new();
        }
        self.direct_keys
            .iter()
            .zip(&self.direct_lines)
            .filter(|(k, _)| repeated.contains(k))
            .map(|(_, l)| *l)
            .collect()
    }
}

fn ts_lit(t: NaiveDateTime) -> String {
    format!("TIMESTAMP '{}'", t.format("%Y-%m-%d %H:%M:%S%.6f"))
}

fn format_name(f: Format) -> String {
    format!("{f:?}").to_lowercase()
}

fn policy_name(p: OnConflict) -> String {
    format!("{p:?}").to_lowercase()
}

/// What the ingest worker hands to the thread that owns the database connection.
enum Staged {
    /// Validated rows with new keys, for the target table.
    Direct(RecordBatch),
    /// Validated rows for the staging table.
    Stage(RecordBatch),
    /// A refused record and why.
    Reject {
        rec: RawRecord,
        field: &'static str,
        reason: String,
    },
    /// Records read so far.
    Progress(u64),
}

/// The worker side of ingest: read every record, validate and route it, send batches and rejects.
/// Returns the number of records read, the input (for its blank-line count and sniffed layout) and
/// the router (for its counts).
fn read_and_validate(
    mut opened: Opened,
    mut batcher: Batcher,
    mut router: Router,
    is_delimited: bool,
    ncols: usize,
    tx: std::sync::mpsc::SyncSender<Staged>,
) -> Result<(u64, Opened, Router)> {
    let mut read = 0u64;
    let delim = opened.delimiter.map(|d| d.describe()).unwrap_or_default();
    // A closed channel means the database side failed; it reports that error, so stop quietly.
    macro_rules! send {
        ($msg:expr) => {
            if tx.send($msg).is_err() {
                return Ok((read, opened, router));
            }
        };
    }
    // Records are handled in chunks: validated one by one, then routed in one tight loop (whose
    // hash lookups overlap in memory), then appended to their batches.
    const CHUNK: usize = 256;
    let mut recs: Vec<RawRecord> = (0..CHUNK).map(|_| RawRecord::default()).collect();
    let mut checked: Vec<Option<Checked>> = vec![None; CHUNK];
    let mut dests: Vec<Dest> = vec![Dest::Skip; CHUNK];
    loop {
        let mut n = 0;
        while n < CHUNK && opened.next(&mut recs[n])? {
            n += 1;
        }
        if n == 0 {
            break;
        }
        batcher.clear_pending();
        for (rec, slot) in recs[..n].iter_mut().zip(&mut checked) {
            read += 1;
            *slot = None;
            let refused = if let Some(err) = rec.error.take() {
                Some(("", err))
            } else if is_delimited && rec.len() != ncols {
                Some((
                    "",
                    format!(
                        "expected {ncols} fields, found {} (delimiter {delim})",
                        rec.len()
                    ),
                ))
            } else {
                match batcher.check(rec) {
                    Ok(c) => {
                        *slot = Some(c);
                        None
                    }
                    Err(e) => Some(e),
                }
            };
            if let Some((field, reason)) = refused {
                send!(Staged::Reject {
                    rec: std::mem::take(rec),
                    field,
                    reason
                });
            }
            if read.is_multiple_of(65_536) {
                send!(Staged::Progress(read));
            }
        }
        for i in 0..n {
            if let Some(c) = checked[i] {
                dests[i] = router.route(c, recs[i].line);
            }
        }
        let mut p = 0;
        for i in 0..n {
            if let Some(c) = checked[i] {
                batcher.emit(p, &recs[i], c, dests[i]);
                p += 1;
            }
        }
        if let Some(batch) = batcher.take_if_full(Shape::Target)? {
            send!(Staged::Direct(batch));
        }
        if let Some(batch) = batcher.take_if_full(Shape::Stage)? {
            send!(Staged::Stage(batch));
        }
        if n < CHUNK {
            break;
        }
    }
    if let Some(batch) = batcher.take(Shape::Target)? {
        send!(Staged::Direct(batch));
    }
    if let Some(batch) = batcher.take(Shape::Stage)? {
        send!(Staged::Stage(batch));
    }
    Ok((read, opened, router))
}

/// A SQL string literal.
pub(crate) fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The second record of a sample, for header sniffing.
fn sample_second_record(sample: &[u8], delim: Delimiter) -> Option<RawRecord> {
    let mut r = DelimitedReader::new(Box::new(std::io::Cursor::new(sample.to_vec())), delim);
    let mut rec = RawRecord::default();
    let mut n = 0;
    while r.read(&mut rec).ok()? {
        n += 1;
        if n == 2 {
            return Some(rec);
        }
    }
    None
}

/// The rejects file: written lazily (no file when nothing is refused), renamed into place on commit.
pub(crate) struct Rejects {
    path: PathBuf,
    writer: Option<csv::Writer<std::fs::File>>,
    rejected_validation: u64,
    written: u64,
}

impl Rejects {
    pub(crate) fn new(path: PathBuf) -> Self {
        Rejects {
            path,
            writer: None,
            rejected_validation: 0,
            written: 0,
        }
    }

    pub(crate) fn write(&mut self, rec: &RawRecord, field: &str, reason: &str) -> Result<()> {
        self.write_line(rec.line, &rec.raw, field, reason)
    }

    /// [`Rejects::write`] for a record held as its line number and raw bytes.
    pub(crate) fn write_line(
        &mut self,
        line: u64,
        raw: &[u8],
        field: &str,
        reason: &str,
    ) -> Result<()> {
        if !reason.starts_with("conflict:") {
            self.rejected_validation += 1;
        }
        if self.writer.is_none() {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir).map_err(io_err("create folder", dir))?;
            }
            let mut w = csv::Writer::from_path(&self.path).map_err(|e| csv_err(&self.path, e))?;
            w.write_record(["line", "field", "reason", "raw"])
                .map_err(|e| csv_err(&self.path, e))?;
            self.writer = Some(w);
        }
        if let Some(w) = self.writer.as_mut() {
            let line = line.to_string();
            w.write_record([line.as_bytes(), field.as_bytes(), reason.as_bytes(), raw])
                .map_err(|e| csv_err(&self.path, e))?;
        }
        self.written += 1;
        Ok(())
    }

    pub(crate) fn finish(self) -> Result<bool> {
        if let Some(mut w) = self.writer {
            w.flush().map_err(io_err("write", &self.path))?;
        }
        Ok(self.written > 0)
    }
}

fn csv_err(path: &Path, e: csv::Error) -> StoreError {
    StoreError::Io {
        op: "write",
        path: path.into(),
        source: std::io::Error::other(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_common_export_names() {
        let spec = input_table("orders").expect("orders exists");
        let cols: Vec<String> = [
            "InvoiceNo",
            "StockCode",
            "Quantity",
            "InvoiceDate",
            "Total",
            "CustomerID",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let idx = resolve_mapping(spec, &cols, &[]).expect("resolves");
        let name = |ours: &str| {
            let i = spec
                .columns
                .iter()
                .position(|c| c.name == ours)
                .expect("column");
            idx[i].map(|j| cols[j].as_str())
        };
        assert_eq!(name("order_id"), Some("InvoiceNo"));
        assert_eq!(name("customer_id"), Some("CustomerID"));
        assert_eq!(name("ordered_at"), Some("InvoiceDate"));
        assert_eq!(name("amount"), Some("Total"));
        assert_eq!(name("quantity"), Some("Quantity"));
    }

    #[test]
    fn explicit_mapping_errors_are_clear() {
        let spec = input_table("orders").expect("orders exists");
        let cols: Vec<String> = (1..=5).map(|i| format!("column{i}")).collect();
        let err = resolve_mapping(spec, &cols, &[("amount".into(), "column9".into())])
            .expect_err("bad mapping");
        assert!(err.to_string().contains("no column `column9`"));
        let err = resolve_mapping(spec, &cols, &[("amount".into(), "column5".into())])
            .expect_err("missing column");
        assert!(err.to_string().contains("--map customer_id="), "{err}");
    }

    #[test]
    fn format_from_path() {
        assert_eq!(Format::from_path(Path::new("a/orders.csv.gz")), Format::Csv);
        assert_eq!(Format::from_path(Path::new("x.parquet")), Format::Parquet);
        assert_eq!(Format::from_path(Path::new("x.ndjson")), Format::Jsonl);
        assert_eq!(
            Format::from_path(Path::new("CDNOW_sample.txt")),
            Format::Csv
        );
    }
}
