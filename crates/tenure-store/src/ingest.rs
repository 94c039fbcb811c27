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

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder, UInt64Builder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use chrono::NaiveDateTime;
use serde::Serialize;

use crate::error::{io_err, DbContext, Result, StoreError};
use crate::parse::{parse_amount, parse_bool, parse_int, parse_timestamp, TimeZone};
use crate::schema::{ColType, TableSpec, TABLES};
use crate::source::{
    header_names, jsonl_columns, numbered_names, open_text, record_from_values, sniff_delimiter,
    sniff_header, DelimitedReader, Delimiter, JsonlReader, RawRecord, MAX_FIELD_BYTES,
};
use crate::store::{input_table, Store};

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
fn resolve_mapping(
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
struct Opened {
    columns: Vec<String>,
    reader: Reader,
    pending: Option<RawRecord>,
    delimiter: Option<Delimiter>,
    header: bool,
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
    fn next(&mut self, rec: &mut RawRecord) -> Result<bool> {
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

    fn blank_lines(&self) -> u64 {
        match &self.reader {
            Reader::Delimited(r) => r.blank_lines,
            Reader::Jsonl(r) => r.blank_lines,
            Reader::Rows { .. } => 0,
        }
    }
}

impl Store {
    fn open_input(&self, path: &Path, format: Format, opts: &IngestOptions) -> Result<Opened> {
        let input_err = |message: String| StoreError::Input {
            path: path.into(),
            message,
        };
        match format {
            Format::Parquet => {
                let p = path.to_string_lossy().replace('\'', "''");
                let batches = self
                    .query_arrow(&format!(
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

    /// Ingest one file into a table. `progress` is called with the number of records read so far.
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

        let opened = self.open_input(path, format, opts)?;
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

        // Stage: a temp table fed with Arrow batches.
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
                "DROP TABLE IF EXISTS _stage; CREATE TEMP TABLE _stage ({});",
                stage_cols.join(", ")
            ))
            .db("create the staging table")?;

        let not_after = opts
            .not_after
            .unwrap_or_else(|| tz.now() + chrono::Duration::days(1));
        let is_delimited = format == Format::Csv;
        let ncols = opened.columns.len();
        let mut rejects = Rejects::new(rejects_partial.clone());
        // Two threads: a worker reads, splits and validates records into Arrow batches; this thread
        // appends them to DuckDB and writes the rejects file. Most of the per-row work overlaps.
        let date_format = self.config.project.date_format.clone();
        let batcher = Batcher::new(spec, src_idx.clone(), tz, date_format, not_after);
        let (tx, rx) = std::sync::mpsc::sync_channel::<Staged>(4);
        let (read, opened) = std::thread::scope(|scope| -> Result<(u64, Opened)> {
            let worker =
                scope.spawn(move || read_and_validate(opened, batcher, is_delimited, ncols, tx));
            let mut appender = self
                .conn
                .appender("_stage")
                .db("open the staging appender")?;
            let mut failure = None;
            for msg in rx.iter() {
                let step = match msg {
                    Staged::Batch(b) => {
                        appender.append_record_batch(b).db("append a staging batch")
                    }
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
            appender.flush().db("flush the staging appender")?;
            outcome
        })?;
        progress(read);
        let blank_lines = opened.blank_lines();
        let delimiter_used = opened.delimiter.map(|d| d.describe());
        let header_used = opened.header;
        drop(opened);

        // Classify against the file itself and against what is stored.
        let mut phases = vec![(
            "read, validate, stage".to_string(),
            started.elapsed().as_secs_f64(),
        )];
        let mark = Instant::now();
        let (counts, classified_is_view) = self.classify(spec, &src_idx, opts.on_conflict)?;
        phases.push(("classify".into(), mark.elapsed().as_secs_f64()));
        let mark = Instant::now();
        let conflict_lines = self.conflict_lines(opts.on_conflict)?;
        if !conflict_lines.is_empty() {
            let mut again = self.open_input(path, format, opts)?;
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

        let mut report = IngestReport {
            run_id,
            source: path.display().to_string(),
            table: spec.name.into(),
            format,
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
            on_conflict: opts.on_conflict,
            rejects_file: rejects_written.then(|| rejects_final.clone()),
            mapping,
            ignored_columns,
            warnings: Vec::new(),
            seconds: 0.0,
            phases,
        };
        let mark = Instant::now();
        self.apply(spec, run_id, started_at, &mut report)?;
        report
            .phases
            .push(("apply and commit".into(), mark.elapsed().as_secs_f64()));
        if rejects_written {
            std::fs::rename(&rejects_partial, &rejects_final)
                .map_err(io_err("rename", &rejects_partial))?;
        }
        self.conn
            .execute_batch(if classified_is_view {
                "DROP VIEW IF EXISTS _classified; DROP TABLE IF EXISTS _stage;"
            } else {
                "DROP TABLE IF EXISTS _classified; DROP TABLE IF EXISTS _stage;"
            })
            .db("drop staging tables")?;
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    /// Build `_classified`: each staged row with its final key, its class and whether it is applied.
    /// Returns the counts per class and whether `_classified` is a view over `_stage` (first loads).
    fn classify(
        &self,
        spec: &TableSpec,
        src_idx: &[Option<usize>],
        policy: OnConflict,
    ) -> Result<(HashMap<String, u64>, bool)> {
        let mapped = |name: &str| {
            spec.columns
                .iter()
                .position(|c| c.name == name)
                .is_some_and(|i| src_idx[i].is_some())
        };
        let mut replace = Vec::new();
        for k in spec.key {
            if mapped(k) {
                continue;
            }
            let expr = if spec.key.len() == 1 {
                format!(
                    "coalesce(\"{k}\", 'h' || lpad(lower(hex(_hash)), 16, '0') || '-' || CAST(row_number() OVER (PARTITION BY _hash ORDER BY _line) AS VARCHAR))"
                )
            } else {
                let others: Vec<String> = spec
                    .key
                    .iter()
                    .filter(|o| *o != k)
                    .map(|o| format!("\"{o}\""))
                    .collect();
                format!(
                    "coalesce(\"{k}\", row_number() OVER (PARTITION BY {} ORDER BY _line))",
                    others.join(", ")
                )
            };
            replace.push(format!("{expr} AS \"{k}\""));
        }
        let keyed = if replace.is_empty() {
            "SELECT * FROM _stage".to_string()
        } else {
            format!("SELECT * REPLACE ({}) FROM _stage", replace.join(", "))
        };
        let part: String = spec
            .key
            .iter()
            .map(|k| format!("\"{k}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let on: String = spec
            .key
            .iter()
            .map(|k| format!("r.\"{k}\" = e.\"{k}\""))
            .collect::<Vec<_>>()
            .join(" AND ");
        let on_d: String = spec
            .key
            .iter()
            .map(|k| format!("k.\"{k}\" = d.\"{k}\""))
            .collect::<Vec<_>>()
            .join(" AND ");
        // The winner of a key within the file: its first row (reject) or its last row (replace).
        let (winner_line, winner_hash) = match policy {
            OnConflict::Reject => ("_first_line", "_first_hash"),
            OnConflict::Replace => ("_last_line", "_last_hash"),
        };
        // Only keys that repeat within the file need the per-key aggregate, and only a non-empty
        // table needs the join with what is stored: both are rare on big loads, so the common row
        // costs one hash-aggregate probe and nothing else.
        let stored_rows: i64 = self
            .conn
            .query_row(
                &format!("SELECT count(*) FROM (SELECT 1 FROM {} LIMIT 1)", spec.name),
                [],
                |r| r.get(0),
            )
            .db("check whether the table is empty")?;
        if stored_rows == 0 && replace.is_empty() {
            let repeated: i64 = self
                .conn
                .query_row(
                    &format!("SELECT count(*) FROM (SELECT 1 FROM _stage GROUP BY {part} HAVING count(*) > 1 LIMIT 1)"),
                    [],
                    |r| r.get(0),
                )
                .db("look for repeated keys")?;
            if repeated == 0 {
                // First load of unique keys into an empty table: every row is accepted, so the staged
                // rows are used as they are, without copying them into a classified table.
                self.conn
                    .execute_batch(
                        "CREATE TEMP VIEW _classified AS SELECT *, _line AS _first_line, _line AS _last_line,
                           _hash AS _winner_hash, true AS _winner, NULL::UBIGINT AS _stored_hash,
                           'accepted' AS _class, true AS _apply FROM _stage;",
                    )
                    .db("stage a first load")?;
                let n: i64 = self
                    .conn
                    .query_row("SELECT count(*) FROM _stage", [], |r| r.get(0))
                    .db("count staged rows")?;
                return Ok((HashMap::from([("accepted".to_string(), n as u64)]), true));
            }
        }
        let stored_join = if stored_rows > 0 {
            format!(
                "LEFT JOIN (SELECT {part}, _hash FROM {}) e ON {on}",
                spec.name
            )
        } else {
            "LEFT JOIN (SELECT NULL::UBIGINT AS _hash) e ON false".to_string()
        };
        let sql = format!(
            "DROP TABLE IF EXISTS _classified;
             CREATE TEMP TABLE _classified AS
             WITH k AS ({keyed}),
             d AS (
                SELECT {part}, count(*) AS _n,
                  min(_line) AS _first_line, max(_line) AS _last_line,
                  arg_min(_hash, _line) AS _first_hash, arg_max(_hash, _line) AS _last_hash
                FROM k GROUP BY {part} HAVING count(*) > 1
             ),
             r AS (
                SELECT k.*, coalesce(d._first_line, k._line) AS _first_line, coalesce(d._last_line, k._line) AS _last_line,
                       coalesce(d.{winner_hash}, k._hash) AS _winner_hash,
                       d._n IS NULL OR k._line = d.{winner_line} AS _winner
                FROM k LEFT JOIN d ON {on_d}
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
             FROM r {stored_join};",
            replace_applies = if policy == OnConflict::Replace { "true" } else { "false" },
        );
        self.conn
            .execute_batch(&sql)
            .db(format!("classify rows for {}", spec.name))?;
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
        Ok((counts, false))
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

    /// Apply the classified rows and record the run, in one transaction.
    fn apply(
        &self,
        spec: &TableSpec,
        run_id: i64,
        report_started: NaiveDateTime,
        report: &mut IngestReport,
    ) -> Result<()> {
        let cols: Vec<String> = spec
            .columns
            .iter()
            .map(|c| format!("\"{}\"", c.name))
            .collect();
        let flags = spec.name == "orders" || spec.name == "order_items";
        let (extra_cols, extra_vals) = if flags {
            (", is_return, is_zero", ", is_return, is_zero")
        } else {
            ("", "")
        };
        let key_match: String = spec
            .key
            .iter()
            .map(|k| format!("c.\"{k}\" = t.\"{k}\""))
            .collect::<Vec<_>>()
            .join(" AND ");
        let (returns, zero): (i64, i64) = self
            .conn
            .query_row(
                "SELECT count(*) FILTER (WHERE is_return), count(*) FILTER (WHERE is_zero) FROM _classified WHERE _apply",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .db("count returns")?;
        if flags {
            report.returns = returns as u64;
            report.zero_amount = zero as u64;
        }
        let parent = match spec.name {
            "order_items" => Some(("orders", "order_id")),
            "customers" | "products" => None,
            _ => Some(("customers", "customer_id")),
        };
        if let Some((ptable, pcol)) = parent {
            let has_parent: i64 = self
                .conn
                .query_row(
                    &format!("SELECT count(*) FROM (SELECT 1 FROM {ptable} LIMIT 1)"),
                    [],
                    |r| r.get(0),
                )
                .db("check the parent table")?;
            if has_parent > 0 {
                let n: i64 = self
                    .conn
                    .query_row(
                        &format!("SELECT count(*) FROM _classified c WHERE _apply AND NOT EXISTS (SELECT 1 FROM {ptable} p WHERE p.{pcol} = c.{pcol})"),
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
        let col_list = cols.join(", ");
        let sql = format!(
            "BEGIN TRANSACTION;
             {delete}
             INSERT INTO {t} ({col_list}, _run_id, _line, _hash{extra_cols}) SELECT {col_list}, {run_id}, _line, _hash{extra_vals} FROM _classified WHERE _apply;
             INSERT INTO ingest_runs VALUES ({run_id}, {started}, {finished}, {source}, {format}, {t_lit}, {policy}, {read}, {acc}, {dup}, {conf}, {rej}, {ret}, {zero}, {unk}, {rfile}, {mapping}, {warn});
             COMMIT;",
            t = spec.name,
            delete = if report.on_conflict == OnConflict::Replace && report.conflicting > 0 {
                format!("DELETE FROM {} t WHERE EXISTS (SELECT 1 FROM _classified c WHERE c._apply AND c._class = 'conflicting' AND {key_match});", spec.name)
            } else {
                String::new()
            },
            started = ts_lit(report_started),
            finished = ts_lit(chrono::Utc::now().naive_utc()),
            source = lit(&report.source),
            format = lit(&format_name(report.format)),
            t_lit = lit(spec.name),
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
        if let Err(e) = self.conn.execute_batch(&sql) {
            let _ = self.conn.execute_batch("ROLLBACK");
            return Err(StoreError::Db {
                op: format!("store the rows of run {run_id} into {}", spec.name),
                source: e,
            });
        }
        Ok(())
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
    /// Validated rows.
    Batch(RecordBatch),
    /// A refused record and why.
    Reject {
        rec: RawRecord,
        field: &'static str,
        reason: String,
    },
    /// Records read so far.
    Progress(u64),
}

/// The worker side of ingest: read every record, validate it, send batches and rejects. Returns the
/// number of records read and the input (for its blank-line count and sniffed layout).
fn read_and_validate(
    mut opened: Opened,
    mut batcher: Batcher,
    is_delimited: bool,
    ncols: usize,
    tx: std::sync::mpsc::SyncSender<Staged>,
) -> Result<(u64, Opened)> {
    let mut read = 0u64;
    let mut rec = RawRecord::default();
    let delim = opened.delimiter.map(|d| d.describe()).unwrap_or_default();
    // A closed channel means the database side failed; it reports that error, so stop quietly.
    macro_rules! send {
        ($msg:expr) => {
            if tx.send($msg).is_err() {
                return Ok((read, opened));
            }
        };
    }
    while opened.next(&mut rec)? {
        read += 1;
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
            batcher.push(&rec).err()
        };
        if let Some((field, reason)) = refused {
            send!(Staged::Reject {
                rec: std::mem::take(&mut rec),
                field,
                reason
            });
        }
        if let Some(batch) = batcher.take_if_full()? {
            send!(Staged::Batch(batch));
        }
        if read.is_multiple_of(65_536) {
            send!(Staged::Progress(read));
        }
    }
    if let Some(batch) = batcher.take()? {
        send!(Staged::Batch(batch));
    }
    Ok((read, opened))
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
struct Rejects {
    path: PathBuf,
    writer: Option<csv::Writer<std::fs::File>>,
    rejected_validation: u64,
    written: u64,
}

impl Rejects {
    fn new(path: PathBuf) -> Self {
        Rejects {
            path,
            writer: None,
            rejected_validation: 0,
            written: 0,
        }
    }

    fn write(&mut self, rec: &RawRecord, field: &str, reason: &str) -> Result<()> {
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
            let line = rec.line.to_string();
            w.write_record([
                line.as_bytes(),
                field.as_bytes(),
                reason.as_bytes(),
                &rec.raw,
            ])
            .map_err(|e| csv_err(&self.path, e))?;
        }
        self.written += 1;
        Ok(())
    }

    fn finish(self) -> Result<bool> {
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

/// A parsed value before it is appended.
#[derive(Clone, Copy)]
enum Val {
    Null,
    /// Byte range of the (trimmed) text inside the record's field.
    Text(usize, usize, usize),
    Ts(i64),
    F(f64),
    I(i64),
    B(bool),
}

enum ColBuilder {
    Text(StringBuilder),
    Ts(TimestampMicrosecondBuilder),
    F(Float64Builder),
    I(Int64Builder),
    B(BooleanBuilder),
}

const BATCH_ROWS: usize = 65_536;

/// Validates records into Arrow batches shaped like the staging table.
struct Batcher {
    spec: &'static TableSpec,
    src_idx: Vec<Option<usize>>,
    tz: TimeZone,
    date_format: Option<String>,
    not_after: NaiveDateTime,
    cols: Vec<ColBuilder>,
    line: Int64Builder,
    hash: UInt64Builder,
    is_return: BooleanBuilder,
    is_zero: BooleanBuilder,
    rows: usize,
    schema: SchemaRef,
    values: Vec<Val>,
    canon: Vec<u8>,
}

impl Batcher {
    fn new(
        spec: &'static TableSpec,
        src_idx: Vec<Option<usize>>,
        tz: TimeZone,
        date_format: Option<String>,
        not_after: NaiveDateTime,
    ) -> Self {
        let mut fields: Vec<Field> = spec
            .columns
            .iter()
            .map(|c| {
                let dt = match c.ty {
                    ColType::Text | ColType::Json => DataType::Utf8,
                    ColType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
                    ColType::Float => DataType::Float64,
                    ColType::Int => DataType::Int64,
                    ColType::Bool => DataType::Boolean,
                };
                Field::new(c.name, dt, true)
            })
            .collect();
        fields.push(Field::new("_line", DataType::Int64, false));
        fields.push(Field::new("_hash", DataType::UInt64, false));
        fields.push(Field::new("is_return", DataType::Boolean, false));
        fields.push(Field::new("is_zero", DataType::Boolean, false));
        let mut b = Batcher {
            spec,
            src_idx,
            tz,
            date_format,
            not_after,
            cols: Vec::new(),
            line: Int64Builder::new(),
            hash: UInt64Builder::new(),
            is_return: BooleanBuilder::new(),
            is_zero: BooleanBuilder::new(),
            rows: 0,
            schema: Arc::new(Schema::new(fields)),
            values: vec![Val::Null; spec.columns.len()],
            canon: Vec::with_capacity(256),
        };
        b.reset_builders();
        b
    }

    fn reset_builders(&mut self) {
        self.cols = self
            .spec
            .columns
            .iter()
            .map(|c| match c.ty {
                ColType::Text | ColType::Json => {
                    ColBuilder::Text(StringBuilder::with_capacity(BATCH_ROWS, BATCH_ROWS * 16))
                }
                ColType::Timestamp => {
                    ColBuilder::Ts(TimestampMicrosecondBuilder::with_capacity(BATCH_ROWS))
                }
                ColType::Float => ColBuilder::F(Float64Builder::with_capacity(BATCH_ROWS)),
                ColType::Int => ColBuilder::I(Int64Builder::with_capacity(BATCH_ROWS)),
                ColType::Bool => ColBuilder::B(BooleanBuilder::with_capacity(BATCH_ROWS)),
            })
            .collect();
    }

    /// Validate one record; on success it is staged, on failure the offending field and reason return.
    fn push(&mut self, rec: &RawRecord) -> std::result::Result<(), (&'static str, String)> {
        self.canon.clear();
        let mut is_return = false;
        let mut is_zero = false;
        for (ci, col) in self.spec.columns.iter().enumerate() {
            let Some(si) = self.src_idx[ci] else {
                self.values[ci] = Val::Null;
                self.canon.push(0);
                continue;
            };
            let bytes = rec.field(si).unwrap_or_default();
            if bytes.len() > MAX_FIELD_BYTES {
                return Err((
                    col.name,
                    format!(
                        "value is {} bytes, over the {} MiB limit",
                        bytes.len(),
                        MAX_FIELD_BYTES >> 20
                    ),
                ));
            }
            let text = std::str::from_utf8(bytes).map_err(|e| {
                (
                    col.name,
                    format!(
                        "invalid UTF-8 at byte {}: save the file as UTF-8",
                        e.valid_up_to()
                    ),
                )
            })?;
            let t = text.trim();
            if t.is_empty() {
                if col.required || self.spec.key.contains(&col.name) {
                    return Err((col.name, "required value is empty".into()));
                }
                self.values[ci] = Val::Null;
                self.canon.push(0);
                continue;
            }
            let v = match col.ty {
                ColType::Text => {
                    let start = t.as_ptr() as usize - text.as_ptr() as usize;
                    Val::Text(si, start, start + t.len())
                }
                ColType::Json => {
                    if serde_json::from_str::<serde::de::IgnoredAny>(t).is_err() {
                        return Err((col.name, "not valid JSON".into()));
                    }
                    let start = t.as_ptr() as usize - text.as_ptr() as usize;
                    Val::Text(si, start, start + t.len())
                }
                ColType::Timestamp => {
                    let ts = parse_timestamp(t, self.tz, self.date_format.as_deref())
                        .map_err(|r| (col.name, format!("{r}: `{}`", clip(t))))?;
                    if ts > self.not_after {
                        return Err((col.name, format!("timestamp {ts} is in the future")));
                    }
                    Val::Ts(ts.and_utc().timestamp_micros())
                }
                ColType::Float => {
                    let f =
                        parse_amount(t).map_err(|r| (col.name, format!("{r}: `{}`", clip(t))))?;
                    if col.name == "price" && f < 0.0 {
                        return Err((col.name, "price is negative".into()));
                    }
                    Val::F(f)
                }
                ColType::Int => {
                    let i = parse_int(t).map_err(|r| (col.name, format!("{r}: `{}`", clip(t))))?;
                    if col.name == "rating" && !(1..=5).contains(&i) {
                        return Err((col.name, format!("rating {i} is outside 1-5")));
                    }
                    Val::I(i)
                }
                ColType::Bool => {
                    Val::B(parse_bool(t).map_err(|r| (col.name, format!("{r}: `{}`", clip(t))))?)
                }
            };
            match (col.name, v) {
                ("amount", Val::F(f)) | ("unit_price", Val::F(f)) => {
                    is_return |= f < 0.0;
                    is_zero |= f == 0.0;
                }
                ("quantity", Val::I(q)) => is_return |= q < 0,
                ("status", Val::Text(..)) => {
                    let s = t.to_ascii_lowercase();
                    is_return |= s.contains("return") || s.contains("refund");
                }
                _ => {}
            }
            self.canon.push(1);
            match v {
                Val::Text(_, a, b) => self.canon.extend_from_slice(&text.as_bytes()[a..b]),
                Val::Ts(x) | Val::I(x) => self.canon.extend_from_slice(&x.to_le_bytes()),
                Val::F(f) => self.canon.extend_from_slice(&f.to_bits().to_le_bytes()),
                Val::B(b) => self.canon.push(u8::from(b)),
                Val::Null => {}
            }
            self.canon.push(0x1f);
            self.values[ci] = v;
        }
        for (ci, v) in self.values.iter().enumerate() {
            match (&mut self.cols[ci], *v) {
                (ColBuilder::Text(b), Val::Text(si, s, e)) => {
                    let bytes = &rec.field(si).unwrap_or_default()[s..e];
                    b.append_value(std::str::from_utf8(bytes).unwrap_or_default());
                }
                (ColBuilder::Text(b), _) => b.append_null(),
                (ColBuilder::Ts(b), Val::Ts(x)) => b.append_value(x),
                (ColBuilder::Ts(b), _) => b.append_null(),
                (ColBuilder::F(b), Val::F(x)) => b.append_value(x),
                (ColBuilder::F(b), _) => b.append_null(),
                (ColBuilder::I(b), Val::I(x)) => b.append_value(x),
                (ColBuilder::I(b), _) => b.append_null(),
                (ColBuilder::B(b), Val::B(x)) => b.append_value(x),
                (ColBuilder::B(b), _) => b.append_null(),
            }
        }
        self.line.append_value(rec.line as i64);
        self.hash
            .append_value(xxhash_rust::xxh3::xxh3_64(&self.canon));
        self.is_return.append_value(is_return);
        self.is_zero.append_value(is_zero);
        self.rows += 1;
        Ok(())
    }

    /// The batch built so far, once it is full.
    fn take_if_full(&mut self) -> Result<Option<RecordBatch>> {
        if self.rows >= BATCH_ROWS {
            self.take()
        } else {
            Ok(None)
        }
    }

    /// The batch built so far (none when empty); the builders start over.
    fn take(&mut self) -> Result<Option<RecordBatch>> {
        if self.rows == 0 {
            return Ok(None);
        }
        let mut arrays: Vec<ArrayRef> = self
            .cols
            .iter_mut()
            .map(|c| -> ArrayRef {
                match c {
                    ColBuilder::Text(b) => Arc::new(b.finish()),
                    ColBuilder::Ts(b) => Arc::new(b.finish()),
                    ColBuilder::F(b) => Arc::new(b.finish()),
                    ColBuilder::I(b) => Arc::new(b.finish()),
                    ColBuilder::B(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        arrays.push(Arc::new(self.line.finish()));
        arrays.push(Arc::new(self.hash.finish()));
        arrays.push(Arc::new(self.is_return.finish()));
        arrays.push(Arc::new(self.is_zero.finish()));
        self.rows = 0;
        RecordBatch::try_new(self.schema.clone(), arrays)
            .map(Some)
            .map_err(|source| StoreError::Arrow {
                op: "build a staging batch",
                source,
            })
    }
}

fn clip(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s.to_string()
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
