//! Reading an orders file straight into transaction columns, without a project: the input side of
//! `tenure score value --orders FILE`.
//!
//! Every record goes through the same reader (`open_input`: delimiter and header sniffing, BOM, gzip,
//! JSON Lines, Parquet), the same column mapping and the same row validation ([`Batcher::check`]) as
//! `tenure ingest --table orders`, so a file is accepted or refused row for row exactly as ingest
//! would, and the accounting holds the same way: `read = accepted + duplicate + conflicting +
//! rejected`, refused rows written to a rejects file with line, field, reason and the raw line.
//! Keys are settled as ingest settles them within one file (an `order_id` column, or the content hash
//! plus occurrence number when there is none): a row identical to an earlier row with the same key is
//! a duplicate; a row with the same key and other content is conflicting — kept out and written to
//! the rejects file under `reject` (the first row wins), or replacing the earlier row under `replace`
//! (the last row wins).
//!
//! Nothing is stored: the accepted rows come back as columns (dense customer codes, UTC day numbers,
//! amounts, return flags) for the pure kernels of tenure-models.
//!
//! A large plain (not gzipped) delimited file is validated on every core, as long as its records are
//! single lines: the file is cut into byte ranges (a line belongs to the range it starts in), the
//! threads take ranges in turn, read and validate their lines (validating an order depends on its
//! row alone), and the parts are merged in file order by the same code that settles records read one
//! by one — customer codes, keys, counts and the rejects file come out exactly as the sequential read
//! gives them. A line that ends inside an open quote (a record spanning lines) hands the rest of the
//! file back to the sequential reader.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use arrow::record_batch::RecordBatch;
use serde::Serialize;

use crate::error::{io_err, DbContext, Result, StoreError};
use crate::ingest::batch::{Batcher, Pre};
use crate::ingest::{
    open_input, resolve_mapping, Format, IngestOptions, OnConflict, Opened, Rejects,
};
use crate::parse::TimeZone;
use crate::source::{is_blank, DelimitedReader, Delimiter, RawRecord};

/// Options of [`read_orders_file`].
#[derive(Debug, Clone)]
pub struct OrdersFileOptions {
    /// Format, delimiter, header, column mapping (ours → theirs), conflict policy and the future-date
    /// limit, as for `tenure ingest`; `table` is ignored (always `orders`).
    pub input: IngestOptions,
    /// Zone of timestamps without an offset.
    pub time_zone: TimeZone,
    /// A `strftime` pattern for day-first dates; ISO, `YYYYMMDD` and epoch seconds are sniffed.
    pub date_format: Option<String>,
    /// Where refused rows are written (created only when a row is refused).
    pub rejects: PathBuf,
}

/// Accepted orders as columns, one entry per order, aligned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrderTransactions {
    /// Customer id of each dense code, in order of first appearance.
    pub customer_ids: Vec<String>,
    /// Dense customer code of each order (an index into `customer_ids`).
    pub customer: Vec<u32>,
    /// UTC calendar day of the order, as days since 1970-01-01 (the store's `CAST(ordered_at AS DATE)`).
    pub day: Vec<i32>,
    /// Amount (negative for refunds).
    pub amount: Vec<f64>,
    /// Whether the order is a return (negative amount or quantity, or a return status).
    pub is_return: Vec<bool>,
}

/// What reading an orders file did with each record.
#[derive(Debug, Clone, Serialize)]
pub struct OrdersFileReport {
    /// Input file.
    pub source: String,
    /// Format read.
    pub format: Format,
    /// Delimiter used, for delimited files.
    pub delimiter: Option<String>,
    /// Whether a header row was read.
    pub header: bool,
    /// Records read (blank lines are not records).
    pub read: u64,
    /// Rows kept.
    pub accepted: u64,
    /// Rows identical to an earlier row with the same key.
    pub duplicate: u64,
    /// Rows whose key appeared earlier with other content.
    pub conflicting: u64,
    /// Rows that failed validation.
    pub rejected: u64,
    /// Accepted rows left out of the transactions because their status says cancelled, void or
    /// failed (the store keeps such rows but its features skip them too).
    pub cancelled: u64,
    /// Blank lines skipped (not records).
    pub blank_lines: u64,
    /// The rejects file, when some row was refused.
    pub rejects_file: Option<PathBuf>,
    /// Column mapping used: (our column, the file's column).
    pub mapping: Vec<(String, String)>,
    /// Columns of the file that map to nothing.
    pub ignored_columns: Vec<String>,
}

impl OrdersFileReport {
    /// Whether every record is accounted for: `read = accepted + duplicate + conflicting + rejected`.
    pub fn balanced(&self) -> bool {
        self.read == self.accepted + self.duplicate + self.conflicting + self.rejected
    }
}

/// The first row of a key, and the content hashes of later rows under `replace` (classified against
/// the last row once the file has been read).
struct KeySeen {
    row: usize,
    hash: u64,
    earlier: Vec<u64>,
}

/// Dense customer codes in order of first appearance.
#[derive(Default)]
struct CustomerCodes {
    /// Customer id of each code.
    ids: Vec<String>,
    /// Customer id → code, keyed by the id's xxh3 (the id text is compared on every hit, so a hash
    /// collision cannot merge two customers; colliding ids fall back to `collided`).
    by_hash: HashMap<u64, u32, Pre>,
    collided: HashMap<String, u32>,
    /// The xxh3 of each id (so a merge need not hash a part's ids again).
    hashes: Vec<u64>,
    /// The code last returned: exports often list one customer's orders together, and an id is
    /// only ever one code, so a match here is the answer without hashing.
    last: Option<u32>,
}

/// A customer id given to [`CustomerCodes::settle`]: read as bytes, kept as a `String` when new.
trait CustomerId {
    /// The id's bytes (UTF-8).
    fn bytes(&self) -> &[u8];
    /// The id as an owned string, for a new customer.
    fn into_string(self) -> std::result::Result<String, Defect>;
}

/// An id borrowed from a record (checked UTF-8), copied when new.
impl CustomerId for &[u8] {
    fn bytes(&self) -> &[u8] {
        self
    }

    fn into_string(self) -> std::result::Result<String, Defect> {
        std::str::from_utf8(self)
            .map(str::to_string)
            .map_err(|_| Defect::IdNotText)
    }
}

/// An id already owned, kept without a copy when new.
impl CustomerId for String {
    fn bytes(&self) -> &[u8] {
        self.as_bytes()
    }

    fn into_string(self) -> std::result::Result<String, Defect> {
        Ok(self)
    }
}

impl CustomerCodes {
    /// The code a new customer would get; refused once codes no longer fit a `u32`. Checked for
    /// every validated row, new customer or not, so the limit is hit at the same row on every path.
    fn next_code(&self) -> std::result::Result<u32, Defect> {
        u32::try_from(self.ids.len()).map_err(|_| Defect::TooManyCustomers)
    }

    /// Whether code `c` is the customer `id`.
    fn is(&self, c: u32, id: &[u8]) -> bool {
        self.ids
            .get(c as usize)
            .is_some_and(|known| known.as_bytes() == id)
    }

    /// The code of the customer id `id` (checked UTF-8), assigning the next one to a customer not
    /// seen before.
    fn code(&mut self, id: &[u8]) -> std::result::Result<u32, Defect> {
        if let Some(c) = self.last.filter(|&c| self.is(c, id)) {
            self.next_code()?;
            return Ok(c);
        }
        self.settle(id, xxhash_rust::xxh3::xxh3_64(id), true)
    }

    /// The code of `id`, whose xxh3 is `hash`, assigning the next one to a customer not seen
    /// before. A new customer is indexed for later look-ups only with `index_new` (a merge after
    /// which no id is looked up leaves it out).
    fn settle(
        &mut self,
        id: impl CustomerId,
        hash: u64,
        index_new: bool,
    ) -> std::result::Result<u32, Defect> {
        let next = self.next_code()?;
        if let Some(c) = self.last.filter(|&c| self.is(c, id.bytes())) {
            return Ok(c);
        }
        let code = match self.by_hash.entry(hash) {
            Entry::Occupied(e) => {
                let c = *e.get();
                if self.is(c, id.bytes()) {
                    c
                } else {
                    // Another id has this hash: ids that collide are kept by their text.
                    let known = std::str::from_utf8(id.bytes())
                        .ok()
                        .and_then(|s| self.collided.get(s))
                        .copied();
                    match known {
                        Some(c) => c,
                        None => {
                            let id = id.into_string()?;
                            if index_new {
                                self.collided.insert(id.clone(), next);
                            }
                            self.ids.push(id);
                            self.hashes.push(hash);
                            next
                        }
                    }
                }
            }
            Entry::Vacant(e) => {
                let id = id.into_string()?;
                if index_new {
                    e.insert(next);
                }
                self.ids.push(id);
                self.hashes.push(hash);
                next
            }
        };
        self.last = Some(code);
        Ok(code)
    }

    /// Make room for `more` customers at once (growing by doubling rehashes every id so far).
    fn reserve(&mut self, more: usize) {
        self.ids.reserve(more);
        self.hashes.reserve(more);
        self.by_hash.reserve(more);
    }
}

/// A validated order: what the transactions and the key bookkeeping need of it.
#[derive(Debug, Clone, Copy)]
struct Order {
    /// UTC day (days since 1970-01-01).
    day: i32,
    amount: f64,
    is_return: bool,
    /// Whether its status says cancelled, void or failed.
    cancelled: bool,
    /// Key hash and content hash, from [`Batcher::check`].
    key: u64,
    hash: u64,
}

/// A validated row lacking what validation guarantees: a defect of this code, never of the input.
#[derive(Debug, Clone, Copy)]
enum Defect {
    /// No customer or no time after validation.
    Incomplete,
    /// A day beyond `i32` (validation bounds the years, so it cannot happen).
    DayRange,
    /// More customers than `u32` codes.
    TooManyCustomers,
    /// A customer id that validation passed as text is not UTF-8.
    IdNotText,
}

impl Defect {
    /// The error for this defect at `line`.
    fn error(self, line: u64) -> StoreError {
        StoreError::Invalid(match self {
            Defect::Incomplete => format!(
                "line {line}: a validated order lacks its customer or time; please report this"
            ),
            Defect::DayRange => format!("line {line}: date out of range"),
            Defect::TooManyCustomers => "more than 4 billion customers in one file".into(),
            Defect::IdNotText => {
                format!("line {line}: a validated customer id is not text; please report this")
            }
        })
    }
}

/// What validation made of one record.
enum Verdict<'r> {
    /// Valid: the customer id (checked UTF-8, borrowed from the record) and the order.
    Valid(&'r [u8], Order),
    /// Refused: the field (empty for the whole record) and the reason.
    Refused(&'static str, String),
}

/// Validation of one record beyond [`Batcher::check`]: the field count, and the columns read out.
struct RowCheck {
    /// Delimited text (where every record must have the header's field count).
    is_delimited: bool,
    ncols: usize,
    /// The delimiter, for messages.
    delim: Option<String>,
    customer_col: usize,
    time_col: usize,
    amount_col: usize,
    status_col: usize,
}

/// Microseconds in a day.
const DAY_MICROS: i64 = 86_400_000_000;

impl RowCheck {
    /// Validate `rec` (whose structural `error`, if any, the caller has already refused).
    fn check<'r>(
        &self,
        batcher: &mut Batcher,
        rec: &'r RawRecord,
    ) -> std::result::Result<Verdict<'r>, Defect> {
        if self.is_delimited && rec.len() != self.ncols {
            return Ok(Verdict::Refused(
                "",
                format!(
                    "expected {} fields, found {} (delimiter {})",
                    self.ncols,
                    rec.len(),
                    self.delim.as_deref().unwrap_or("?")
                ),
            ));
        }
        let checked = batcher.check(rec);
        // Nothing is emitted from this batcher: drop the row's pending copy at once (the values
        // read below are the last checked row's, which this keeps).
        batcher.clear_pending();
        let checked = match checked {
            Ok(c) => c,
            Err((field, reason)) => return Ok(Verdict::Refused(field, reason)),
        };
        let (Some(id), Some(ts)) = (
            batcher.checked_bytes(rec, self.customer_col),
            batcher.checked_timestamp(self.time_col),
        ) else {
            // Required columns were validated non-empty by `check`.
            return Err(Defect::Incomplete);
        };
        let amount = batcher.checked_float(self.amount_col).unwrap_or(0.0);
        let is_return = batcher.checked_is_return();
        let cancelled = batcher
            .checked_text(rec, self.status_col)
            .is_some_and(is_cancelled_status);
        let day = i32::try_from(ts.div_euclid(DAY_MICROS)).map_err(|_| Defect::DayRange)?;
        Ok(Verdict::Valid(
            id,
            Order {
                day,
                amount,
                is_return,
                cancelled,
                key: checked.key,
                hash: checked.hash,
            },
        ))
    }
}

/// Whether a status says the order never happened (compared ignoring ASCII case, without
/// allocating a lowercase copy per row).
fn is_cancelled_status(s: &str) -> bool {
    ["cancelled", "canceled", "void", "failed"]
        .iter()
        .any(|w| s.eq_ignore_ascii_case(w))
}

/// Record counts of [`OrdersFileReport`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    read: u64,
    accepted: u64,
    duplicate: u64,
    conflicting: u64,
    rejected: u64,
    cancelled: u64,
}

/// Everything that happens to a record after validation, in file order: customer codes, keys,
/// counts and the rejects file. The sequential reader and the merge of the parallel one both feed
/// it record by record in file order, so both give the same result by construction.
struct Collector {
    on_conflict: OnConflict,
    /// Without an order id every key is synthesised from the row's content hash and its occurrence
    /// number, which is unique within a file: no row can repeat a key, so keys need no bookkeeping.
    track_keys: bool,
    codes: CustomerCodes,
    tx: OrderTransactions,
    /// Per accepted row: whether it is cancelled (kept out of the columns at the end).
    cancelled: Vec<bool>,
    /// Per accepted row, where keys are tracked: its line (for the conflict message).
    line_of: Vec<u64>,
    keys: HashMap<u64, KeySeen, Pre>,
    rejects: Rejects,
    counts: Counts,
}

impl Collector {
    fn new(on_conflict: OnConflict, track_keys: bool, rejects: PathBuf) -> Self {
        Collector {
            on_conflict,
            track_keys,
            codes: CustomerCodes::default(),
            tx: OrderTransactions::default(),
            cancelled: Vec::new(),
            line_of: Vec::new(),
            keys: HashMap::default(),
            rejects: Rejects::new(rejects),
            counts: Counts::default(),
        }
    }

    /// A record refused by validation.
    fn refuse(&mut self, line: u64, raw: &[u8], field: &str, reason: &str) -> Result<()> {
        self.counts.read += 1;
        self.counts.rejected += 1;
        self.rejects.write_line(line, raw, field, reason)
    }

    /// A valid record of customer `code` (from [`CustomerCodes::code`] of this collector); `raw`
    /// gives its raw bytes should it conflict with an earlier row.
    fn accept<'a>(
        &mut self,
        line: u64,
        code: u32,
        o: Order,
        raw: impl FnOnce() -> &'a [u8],
    ) -> Result<()> {
        self.counts.read += 1;
        let seen = if self.track_keys {
            self.keys.get_mut(&o.key)
        } else {
            None
        };
        match seen {
            None => {
                if self.track_keys {
                    self.keys.insert(
                        o.key,
                        KeySeen {
                            row: self.tx.customer.len(),
                            hash: o.hash,
                            earlier: Vec::new(),
                        },
                    );
                }
                self.tx.customer.push(code);
                self.tx.day.push(o.day);
                self.tx.amount.push(o.amount);
                self.tx.is_return.push(o.is_return);
                self.cancelled.push(o.cancelled);
                if self.track_keys {
                    self.line_of.push(line);
                }
                self.counts.accepted += 1;
            }
            Some(seen) => match self.on_conflict {
                OnConflict::Reject => {
                    if seen.hash == o.hash {
                        self.counts.duplicate += 1;
                    } else {
                        self.counts.conflicting += 1;
                        let kept = self.line_of[seen.row];
                        self.rejects.write_line(
                            line,
                            raw(),
                            "order_id",
                            &format!(
                                "conflict: the same order as line {kept} with other content (the first row is kept; --on-conflict replace keeps the last)"
                            ),
                        )?;
                    }
                }
                OnConflict::Replace => {
                    // The new row wins for now; the one it replaces is classified at the end.
                    seen.earlier.push(seen.hash);
                    seen.hash = o.hash;
                    let r = seen.row;
                    self.tx.customer[r] = code;
                    self.tx.day[r] = o.day;
                    self.tx.amount[r] = o.amount;
                    self.tx.is_return[r] = o.is_return;
                    self.cancelled[r] = o.cancelled;
                    self.line_of[r] = line;
                }
            },
        }
        Ok(())
    }

    /// Make room for `rows` more accepted rows and `customers` more customers.
    fn reserve(&mut self, rows: usize, customers: usize) {
        self.tx.customer.reserve(rows);
        self.tx.day.reserve(rows);
        self.tx.amount.reserve(rows);
        self.tx.is_return.reserve(rows);
        self.cancelled.reserve(rows);
        if self.track_keys {
            self.line_of.reserve(rows);
        }
        self.codes.reserve(customers);
    }

    /// [`Collector::accept`] for a run of valid records where keys are not tracked, at once: each is
    /// accepted, so only the columns grow. `code` settles the `i`-th record's customer code, in
    /// order (new customers get theirs at their first record).
    fn accept_untracked(
        &mut self,
        mut code: impl FnMut(&mut Self, usize) -> Result<u32>,
        day: &[i32],
        amount: &[f64],
        is_return: &[bool],
        cancelled: &[bool],
    ) -> Result<()> {
        debug_assert!(!self.track_keys);
        let n = day.len();
        self.tx.customer.reserve(n);
        for i in 0..n {
            let c = code(self, i)?;
            self.tx.customer.push(c);
        }
        self.tx.day.extend_from_slice(day);
        self.tx.amount.extend_from_slice(amount);
        self.tx.is_return.extend_from_slice(is_return);
        self.cancelled.extend_from_slice(cancelled);
        self.counts.read += n as u64;
        self.counts.accepted += n as u64;
        Ok(())
    }

    /// Classify replaced rows, drop cancelled ones, close the rejects file (whether it was written
    /// comes back).
    fn finish(mut self) -> Result<(OrderTransactions, Counts, bool)> {
        for seen in self.keys.values() {
            for &h in &seen.earlier {
                if h == seen.hash {
                    self.counts.duplicate += 1;
                } else {
                    self.counts.conflicting += 1;
                }
            }
        }
        let rejects_written = self.rejects.finish()?;
        let mut tx = self.tx;
        tx.customer_ids = self.codes.ids;
        let cancelled = self.cancelled;
        if cancelled.iter().any(|&c| c) {
            let keep: Vec<usize> = (0..cancelled.len()).filter(|&i| !cancelled[i]).collect();
            self.counts.cancelled = (cancelled.len() - keep.len()) as u64;
            tx.customer = keep.iter().map(|&i| tx.customer[i]).collect();
            tx.day = keep.iter().map(|&i| tx.day[i]).collect();
            tx.amount = keep.iter().map(|&i| tx.amount[i]).collect();
            tx.is_return = keep.iter().map(|&i| tx.is_return[i]).collect();
        }
        Ok((tx, self.counts, rejects_written))
    }
}

/// How plain delimited files are read in parallel. Tests shrink it to cross round, range and
/// chunk boundaries on small files.
#[derive(Debug, Clone, Copy)]
struct Plan {
    /// Files smaller than this are read sequentially: threads would cost more than they save.
    min_bytes: u64,
    /// Bytes per round (the parts of a round are held until merged).
    round: u64,
    /// Bytes per range: threads take a round's ranges one at a time.
    range: u64,
    /// Bytes each thread reads at a time.
    chunk: usize,
    /// Threads, this one included; 1 reads sequentially.
    threads: usize,
}

/// The most threads one file is read with: past a few, the merge (on one thread at a time) is the
/// limit.
const MAX_THREADS: usize = 8;

impl Plan {
    /// Record by record on this thread, whatever the file.
    #[cfg(test)]
    const SEQUENTIAL: Plan = Plan {
        min_bytes: u64::MAX,
        round: 1 << 26,
        range: 1 << 17,
        chunk: 1 << 16,
        threads: 1,
    };

    /// Every core of this machine (up to [`MAX_THREADS`]), for files of a megabyte or more.
    fn for_this_machine() -> Plan {
        Plan {
            min_bytes: 1 << 20,
            round: 1 << 26,
            range: 1 << 18,
            chunk: 1 << 16,
            threads: std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(MAX_THREADS),
        }
    }
}

/// Read, validate and key every record of an orders file; return the accepted orders as columns and
/// the accounting. Parquet files are read by an in-memory DuckDB (no project file is created).
///
/// A plain (not gzipped) delimited file of a megabyte or more is validated on every core while its
/// records are single lines, and merged in file order; the result is the same as reading it record
/// by record.
pub fn read_orders_file(
    path: &Path,
    opts: &OrdersFileOptions,
) -> Result<(OrderTransactions, OrdersFileReport)> {
    read_orders_with(path, opts, &parquet_in_memory, Plan::for_this_machine())
}

/// Read a Parquet file through an in-memory DuckDB.
fn parquet_in_memory(sql: &str) -> Result<Vec<RecordBatch>> {
    let conn = duckdb::Connection::open_in_memory().db("open an in-memory database")?;
    let mut stmt = conn.prepare(sql).db("read the Parquet file")?;
    let batches = stmt.query_arrow([]).db("read the Parquet file")?.collect();
    Ok(batches)
}

/// [`read_orders_file`] with the Parquet reader and the parallel plan given: `read_parquet` runs a
/// `read_parquet(...)` query (any DuckDB connection) and is only called for Parquet input.
fn read_orders_with(
    path: &Path,
    opts: &OrdersFileOptions,
    read_parquet: &dyn Fn(&str) -> Result<Vec<RecordBatch>>,
    plan: Plan,
) -> Result<(OrderTransactions, OrdersFileReport)> {
    let spec = crate::store::input_table("orders")?;
    let input = &opts.input;
    let format = input.format.unwrap_or_else(|| Format::from_path(path));
    let mut opened = open_input(path, format, input, read_parquet)?;
    let src_idx = resolve_mapping(spec, &opened.columns, &input.map)?;
    let col = |name: &str| spec.columns.iter().position(|c| c.name == name);
    let has_key_column = spec
        .key
        .iter()
        .any(|k| col(k).is_some_and(|ci| src_idx[ci].is_some()));
    let (Some(customer_col), Some(time_col), Some(amount_col), Some(status_col)) = (
        col("customer_id"),
        col("ordered_at"),
        col("amount"),
        col("status"),
    ) else {
        return Err(StoreError::Invalid(
            "the orders table lacks a core column; please report this".into(),
        ));
    };
    let mapping = spec
        .columns
        .iter()
        .zip(&src_idx)
        .filter_map(|(c, i)| i.map(|i| (c.name.to_string(), opened.columns[i].clone())))
        .collect();
    let ignored_columns = opened
        .columns
        .iter()
        .enumerate()
        .filter(|(i, _)| !src_idx.contains(&Some(*i)))
        .map(|(_, c)| c.clone())
        .collect();
    let not_after = input
        .not_after
        .unwrap_or_else(|| opts.time_zone.now() + chrono::Duration::days(1));
    let make_batcher = || {
        // This reader reads checked values back and never emits rows into batches. Without an
        // order id it never compares rows either (see `Collector::track_keys`): no hashes then.
        let batcher = Batcher::new_reader(
            spec,
            src_idx.clone(),
            opts.time_zone,
            opts.date_format.clone(),
            not_after,
        );
        if has_key_column {
            batcher
        } else {
            batcher.without_key_synthesis().without_hashes()
        }
    };
    let mut batcher = make_batcher();
    let delim = opened.delimiter.map(|d| d.describe());
    let check = RowCheck {
        is_delimited: format == Format::Csv,
        ncols: opened.columns.len(),
        delim: delim.clone(),
        customer_col,
        time_col,
        amount_col,
        status_col,
    };
    let mut out = Collector::new(input.on_conflict, has_key_column, opts.rejects.clone());

    // Checking a row must depend on that row alone for parts of the file to be checked apart.
    let parallel = plan.threads > 1
        && format == Format::Csv
        && !batcher.synthesises_keys()
        && std::fs::metadata(path).is_ok_and(|m| m.len() >= plan.min_bytes);
    let read_in_parallel = if parallel {
        let mut batchers = vec![batcher];
        batchers.extend((1..plan.threads).map(|_| make_batcher()));
        let blank_lines = read_parallel(path, &opened, plan, &check, &mut batchers, &mut out)?;
        batcher = batchers.swap_remove(0);
        blank_lines
    } else {
        None
    };
    let blank_lines = match read_in_parallel {
        Some(blank_lines) => blank_lines,
        None => {
            read_records(&mut |rec| opened.next(rec), &check, &mut batcher, &mut out)?;
            opened.blank_lines()
        }
    };
    let (tx, counts, rejects_written) = out.finish()?;
    let report = OrdersFileReport {
        source: path.display().to_string(),
        format,
        delimiter: delim,
        header: opened.header,
        read: counts.read,
        accepted: counts.accepted,
        duplicate: counts.duplicate,
        conflicting: counts.conflicting,
        rejected: counts.rejected,
        cancelled: counts.cancelled,
        blank_lines,
        rejects_file: rejects_written.then(|| opts.rejects.clone()),
        mapping,
        ignored_columns,
    };
    Ok((tx, report))
}

/// Validate and collect records one by one, as `next` reads them.
fn read_records(
    next: &mut dyn FnMut(&mut RawRecord) -> Result<bool>,
    check: &RowCheck,
    batcher: &mut Batcher,
    out: &mut Collector,
) -> Result<()> {
    let mut rec = RawRecord::default();
    while next(&mut rec)? {
        if let Some(e) = rec.error.take() {
            out.refuse(rec.line, &rec.raw, "", &e)?;
            continue;
        }
        match check.check(batcher, &rec) {
            Err(defect) => return Err(defect.error(rec.line)),
            Ok(Verdict::Refused(field, reason)) => {
                out.refuse(rec.line, &rec.raw, field, &reason)?;
            }
            Ok(Verdict::Valid(id, order)) => {
                let code = out.codes.code(id).map_err(|d| d.error(rec.line))?;
                out.accept(rec.line, code, order, || &rec.raw)?;
            }
        }
    }
    Ok(())
}

/// Read a plain delimited file on the threads of `batchers`, in rounds of about `plan.round` bytes
/// (so memory stays bounded on a file of any size). Each round is cut into byte ranges of about
/// `plan.range` bytes; a line belongs to the range it starts in. The threads take ranges in turn,
/// read them in small reused chunks and validate their lines, and the parts are merged into `out`
/// in file order.
///
/// Parts need every record to be one line. A line that ends inside an open quote (a record that
/// continues on the next line) stops the parallel read: the rest of the file, from the start of
/// the first part not merged, is read record by record. `None` comes back, with nothing read into
/// `out`, when that happens before anything was merged, and when the file does not qualify at all
/// (gzip, or a header this reader does not see as `opened` did): the caller then reads it from
/// `opened`. Otherwise the blank lines skipped come back.
fn read_parallel(
    path: &Path,
    opened: &Opened,
    plan: Plan,
    check: &RowCheck,
    batchers: &mut [Batcher],
    out: &mut Collector,
) -> Result<Option<u64>> {
    let Some(delim) = opened.delimiter else {
        return Ok(None);
    };
    let mut file = std::fs::File::open(path).map_err(io_err("open", path))?;
    let file_len = file.metadata().map_err(io_err("read", path))?.len();
    let mut head = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(&mut file, HEAD_BYTES), &mut head)
        .map_err(io_err("read", path))?;
    drop(file);
    if head.starts_with(&[0x1f, 0x8b]) {
        return Ok(None); // gzip: decompressed on one thread anyway
    }
    // As `open_text`: a UTF-8 byte-order mark is not content (UTF-16 was refused by `open_input`).
    let mut body = if head.starts_with(&[0xef, 0xbb, 0xbf]) {
        3
    } else {
        0
    };
    // Lines before the first record: for a header, the header and any blank lines before it,
    // which `opened` has consumed; without one, `opened` holds the first record back, and this
    // reader starts at the top.
    let mut line = 0u64;
    let mut blank_lines = 0u64;
    if opened.header {
        loop {
            let Some(nl) = head.get(body..).and_then(|h| memchr::memchr(b'\n', h)) else {
                return Ok(None);
            };
            let text = strip_cr(&head[body..body + nl]);
            line += 1;
            body += nl + 1;
            if !is_blank(text) {
                break;
            }
            blank_lines += 1;
        }
        // A quoted header spanning lines would make the two readers disagree on where rows begin.
        if opened.lines_read() != Some(line) {
            return Ok(None);
        }
    }
    let mut scratch: Vec<Scratch> = batchers.iter().map(|_| Scratch::default()).collect();
    let mut pool: Vec<Part> = Vec::new();
    let round = plan.round.max(1);
    let mut start = body as u64;
    let mut merged_any = false;
    loop {
        let end = start.saturating_add(round);
        // The last round's last range reads on to the end of the file, whatever its length now.
        let last = end >= file_len;
        let size = end.min(file_len).saturating_sub(start);
        // Several ranges per thread, so that a thread on a slower (or busier) CPU takes fewer.
        let count = size
            .div_ceil(plan.range.max(1))
            .max(batchers.len() as u64)
            .min(MAX_RANGES);
        let ranges = split_range(
            start,
            if last { u64::MAX } else { end },
            file_len,
            count as usize,
        );
        let outcome = check_round(
            path,
            &ranges,
            body as u64,
            plan.chunk,
            delim,
            check,
            batchers,
            &mut scratch,
            &mut pool,
            out,
            line,
            last,
        )?;
        merged_any |= outcome.parts_merged > 0;
        line += outcome.lines;
        blank_lines += outcome.blank_lines;
        if let Some(at) = outcome.stopped_at {
            if !merged_any {
                return Ok(None);
            }
            // Every record before `at` was one line, so a record starts there: read on from it
            // exactly as the sequential reader would.
            let mut file = std::fs::File::open(path).map_err(io_err("open", path))?;
            std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(at))
                .map_err(io_err("read", path))?;
            let inner = std::io::BufReader::with_capacity(1 << 20, file);
            let mut reader = DelimitedReader::resume(Box::new(inner), delim, line);
            let Some(batcher) = batchers.first_mut() else {
                return Err(StoreError::Invalid(
                    "no batcher to read the orders file with; please report this".into(),
                ));
            };
            read_records(
                &mut |rec| reader.read(rec).map_err(io_err("read", path)),
                check,
                batcher,
                out,
            )?;
            return Ok(Some(blank_lines + reader.blank_lines));
        }
        if last {
            return Ok(Some(blank_lines));
        }
        start = end;
    }
}

/// Bytes read from the top of the file to find where the records begin.
const HEAD_BYTES: u64 = 1 << 16;

/// The most ranges one round is split into.
const MAX_RANGES: u64 = 1 << 12;

/// The most rows and customers made room for ahead of a round (a guess from its first range).
const RESERVE_ROWS: usize = 1 << 22;
const RESERVE_CUSTOMERS: usize = 1 << 20;

/// Split the bytes `start..end` of a file of `len` bytes into `n` ranges of about equal size (an
/// `end` of `u64::MAX` is the end of the file, however long it has become).
fn split_range(start: u64, end: u64, len: u64, n: usize) -> Vec<(u64, u64)> {
    let n = n.max(1) as u64;
    let size = end.min(len).saturating_sub(start);
    (0..n)
        .map(|k| {
            let from = start + size / n * k;
            let to = if k + 1 == n {
                end
            } else {
                start + size / n * (k + 1)
            };
            (from, to)
        })
        .collect()
}

/// What one round came to.
struct RoundOutcome {
    /// Parts merged into the collector.
    parts_merged: usize,
    /// Lines and blank lines of the merged parts.
    lines: u64,
    blank_lines: u64,
    /// Where the first part not merged starts, when the round stopped at an open quote.
    stopped_at: Option<u64>,
}

/// Why a range came to no part.
enum Failure {
    Io(std::io::Error),
    Panicked,
}

/// The parts of a round, by range, as the threads deliver them.
struct Delivery {
    slots: Mutex<Vec<Option<std::result::Result<Part, Failure>>>>,
    ready: Condvar,
}

impl Delivery {
    fn put(&self, index: usize, done: std::result::Result<Part, Failure>) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = slots.get_mut(index) {
            *slot = Some(done);
        }
        self.ready.notify_all();
    }

    /// The part of range `index`, if delivered.
    fn take(&self, index: usize) -> Option<std::result::Result<Part, Failure>> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.get_mut(index).and_then(Option::take)
    }

    /// Wait (briefly: the caller looks again) for a part to be delivered.
    fn wait(&self) {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let _ = self
            .ready
            .wait_timeout(slots, std::time::Duration::from_millis(1));
    }
}

/// Delivers a range's part when dropped: the part if checking it finished, else (a panic
/// unwinding through the check) a failure, so the merge never waits for a part that will not come.
struct Deliver<'a> {
    delivery: &'a Delivery,
    index: usize,
    done: Option<std::result::Result<Part, Failure>>,
}

impl Drop for Deliver<'_> {
    fn drop(&mut self) {
        let done = self.done.take().unwrap_or(Err(Failure::Panicked));
        self.delivery.put(self.index, done);
    }
}

/// Per-thread reading state, kept across ranges and rounds so that reads go into memory already
/// mapped (in a small VM a first-touch page fault costs about as much as validating a few
/// records).
#[derive(Default)]
struct Scratch {
    buf: Vec<u8>,
    rec: RawRecord,
}

/// Check the ranges of one round and merge their parts into `out` in file order. The threads
/// (this one included) take ranges in order as they are free, so a busy or slow CPU does less of
/// the work; after each range a thread merges whatever parts are ready in order (one thread at a
/// time), so merging keeps up with checking. Merging stops at the first part that stopped at an
/// open quote. `before` is the line number before the round.
#[allow(clippy::too_many_arguments)]
fn check_round(
    path: &Path,
    ranges: &[(u64, u64)],
    body: u64,
    chunk: usize,
    delim: Delimiter,
    check: &RowCheck,
    batchers: &mut [Batcher],
    scratch: &mut [Scratch],
    pool: &mut Vec<Part>,
    out: &mut Collector,
    before: u64,
    final_round: bool,
) -> Result<RoundOutcome> {
    let track_keys = out.track_keys;
    let total = ranges.len();
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let delivery = Delivery {
        slots: Mutex::new((0..total).map(|_| None).collect()),
        ready: Condvar::new(),
    };
    let spare = Mutex::new(std::mem::take(pool));
    let job = |index: usize| {
        let (from, to) = ranges.get(index).copied().unwrap_or((u64::MAX, u64::MAX));
        Region {
            path,
            from,
            to,
            // A range may start mid-line, except at the top of the records.
            at_line_start: from == body,
            chunk,
        }
    };
    // Check range `index` into a spare part and deliver it.
    let run = |index: usize, batcher: &mut Batcher, scratch: &mut Scratch| {
        let mut deliver = Deliver {
            delivery: &delivery,
            index,
            done: None,
        };
        let mut part = spare
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_default();
        let read = check_region(
            &job(index),
            delim,
            check,
            track_keys,
            batcher,
            scratch,
            &mut part,
            &stop,
        );
        deliver.done = Some(read.map(|()| part).map_err(Failure::Io));
    };
    let (Some((mine, theirs)), Some((my_scratch, their_scratch))) =
        (batchers.split_first_mut(), scratch.split_first_mut())
    else {
        return Err(StoreError::Invalid(
            "no batcher to read the orders file with; please report this".into(),
        ));
    };
    // The merge, taken by whichever thread is free once a range is checked: parts are merged in
    // file order as soon as they and all before them are ready.
    let merging = Mutex::new(MergeState {
        out,
        next: 0,
        outcome: RoundOutcome {
            parts_merged: 0,
            lines: 0,
            blank_lines: 0,
            stopped_at: None,
        },
        failed: None,
        done: total == 0,
    });
    let merge_ready = || {
        let mut state = match merging.lock() {
            Ok(state) => state,
            Err(poisoned) => {
                // A merge panicked half-way: what it merged cannot be trusted.
                let mut state = poisoned.into_inner();
                state.failed.get_or_insert_with(panicked);
                state.done = true;
                stop.store(true, Ordering::Relaxed);
                return true;
            }
        };
        let state = &mut *state;
        while !state.done {
            let index = state.next;
            let Some(done) = delivery.take(index) else {
                break;
            };
            let failed = match done {
                Ok(mut part) if !part.stopped => {
                    let final_part = final_round && index + 1 == total;
                    let (rows, customers) = (part.day.len(), part.codes.ids.len());
                    let before = before + state.outcome.lines;
                    match merge_part(state.out, &mut part, path, before, final_part) {
                        Ok(()) => {
                            if index == 0 {
                                // The round's ranges are alike in size: make room for all of them
                                // at once rather than growing (and rehashing) range by range.
                                let others = total - 1;
                                state.out.reserve(
                                    rows.saturating_mul(others).min(RESERVE_ROWS),
                                    customers.saturating_mul(others).min(RESERVE_CUSTOMERS),
                                );
                            }
                            state.outcome.parts_merged += 1;
                            state.outcome.lines += part.lines;
                            state.outcome.blank_lines += part.blank_lines;
                            state.next += 1;
                            state.done = state.next == total;
                            spare.lock().unwrap_or_else(|e| e.into_inner()).push(part);
                            None
                        }
                        Err(e) => Some(e),
                    }
                }
                Ok(part) => {
                    state.outcome.stopped_at = Some(part.start_at);
                    state.done = true;
                    None
                }
                Err(Failure::Io(e)) => Some(io_err("read", path)(e)),
                Err(Failure::Panicked) => Some(panicked()),
            };
            if let Some(e) = failed {
                state.failed = Some(e);
                state.done = true;
            }
            if state.done {
                // The other threads take no more ranges.
                stop.store(true, Ordering::Relaxed);
                delivery.ready.notify_all();
            }
        }
        state.done
    };
    let joined = std::thread::scope(|scope| {
        let (started, on_start) = std::sync::mpsc::channel::<()>();
        let workers: Vec<_> = theirs
            .iter_mut()
            .zip(their_scratch.iter_mut())
            .take(total.saturating_sub(1))
            .filter_map(|(batcher, scratch)| {
                let started = started.clone();
                let (run, next, stop, merge_ready) = (&run, &next, &stop, &merge_ready);
                std::thread::Builder::new()
                    .name("tenure-orders".into())
                    .spawn_scoped(scope, move || {
                        let _ = started.send(());
                        drop(started);
                        while !stop.load(Ordering::Relaxed) {
                            let index = next.fetch_add(1, Ordering::Relaxed);
                            if index >= total {
                                break;
                            }
                            run(index, batcher, scratch);
                            merge_ready();
                        }
                    })
                    .ok()
            })
            .collect();
        drop(started);
        // A new thread often starts on this thread's CPU and takes it over until the scheduler
        // moves one of them (milliseconds on a small VM). Waiting here for the first one to start
        // puts this thread to sleep, and its wake-up lands it on an idle CPU at once. Never more
        // than briefly: the wait is only a hint.
        if !workers.is_empty() {
            let _ = on_start.recv_timeout(std::time::Duration::from_millis(5));
        }
        // Check ranges here too; once none is left, help merge until the round is merged.
        while !merge_ready() {
            let index = if stop.load(Ordering::Relaxed) {
                total
            } else {
                next.fetch_add(1, Ordering::Relaxed)
            };
            if index < total {
                run(index, mine, my_scratch);
            } else {
                delivery.wait();
            }
        }
        // Whatever happened, the other threads take no more ranges. Each is joined here, so that a
        // panic in one becomes an error rather than a panic of this thread.
        stop.store(true, Ordering::Relaxed);
        workers.into_iter().all(|w| w.join().is_ok())
    });
    *pool = std::mem::take(&mut *spare.lock().unwrap_or_else(|e| e.into_inner()));
    let state = merging.into_inner();
    match state {
        Ok(MergeState {
            failed: None,
            outcome,
            ..
        }) if joined => Ok(outcome),
        Ok(MergeState {
            failed: Some(e), ..
        }) => Err(e),
        _ => Err(panicked()),
    }
}

/// The error for a panic in a thread reading an orders file (a defect, never the input's fault).
fn panicked() -> StoreError {
    StoreError::Invalid("a thread validating the orders file panicked; please report this".into())
}

/// The merge of a round, shared by its threads.
struct MergeState<'a> {
    out: &'a mut Collector,
    /// The range to merge next.
    next: usize,
    outcome: RoundOutcome,
    failed: Option<StoreError>,
    /// Whether the round is merged, or stopped (at an open quote or an error).
    done: bool,
}

/// A byte range of the file for one thread: the lines that start in `from..to`.
struct Region<'a> {
    path: &'a Path,
    from: u64,
    to: u64,
    /// Whether a line starts at `from` (else the range's first line is the one after `from - 1`).
    at_line_start: bool,
    /// Bytes per read.
    chunk: usize,
}

/// What one range of a round came to: its valid records as columns, in file order, and the rarer
/// refusals between them. Reused from range to range.
#[derive(Default)]
struct Part {
    /// Local customer code of each valid record: dense in order of first appearance in the part.
    code: Vec<u32>,
    day: Vec<i32>,
    amount: Vec<f64>,
    is_return: Vec<bool>,
    cancelled: Vec<bool>,
    /// Where keys are tracked, per valid record: its line (counted from 1 at the part's first
    /// line), where that line starts in the file, and its key and content hashes.
    line: Vec<u64>,
    at: Vec<u64>,
    key_hash: Vec<(u64, u64)>,
    /// Refusals and a defect, each after the number of valid records given with it.
    exceptions: Vec<(usize, Exception)>,
    /// The local customer codes.
    codes: CustomerCodes,
    /// Lines in the part, blank ones included.
    lines: u64,
    blank_lines: u64,
    /// Where the part's first line starts in the file.
    start_at: u64,
    /// Whether the part stopped before its end: at a line ending inside an open quote (its own or,
    /// through the shared flag, another part's).
    stopped: bool,
}

impl Part {
    /// Empty the part for the next range, keeping its memory.
    fn clear(&mut self) {
        self.code.clear();
        self.day.clear();
        self.amount.clear();
        self.is_return.clear();
        self.cancelled.clear();
        self.line.clear();
        self.at.clear();
        self.key_hash.clear();
        self.exceptions.clear();
        self.codes.ids.clear();
        self.codes.by_hash.clear();
        self.codes.collided.clear();
        self.codes.hashes.clear();
        self.codes.last = None;
        self.lines = 0;
        self.blank_lines = 0;
        self.start_at = 0;
        self.stopped = false;
    }
}

/// A record of a part other than a valid one; lines count from 1 at the part's first line.
enum Exception {
    /// Refused by validation, with the record's raw bytes.
    Refused {
        line: u64,
        raw: Vec<u8>,
        field: &'static str,
        reason: String,
    },
    /// A defect: the part stops here, and so does the whole read when the merge reaches it.
    Defect { line: u64, defect: Defect },
}

/// Read `want` more bytes (or to the end) onto `buf`; returns whether the file ended.
fn read_more(file: &mut std::fs::File, buf: &mut Vec<u8>, want: usize) -> std::io::Result<bool> {
    let got = std::io::Read::read_to_end(&mut std::io::Read::take(&mut *file, want as u64), buf)?;
    Ok(got < want)
}

/// A line without its carriage return (the newline is already gone), as the sequential reader
/// strips it.
fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Read and validate the lines of one region into `out`. Stops early (`out.stopped`) at a line
/// that ends inside an open quote, setting `stop` so that the other threads stop too, and when
/// `stop` is set.
#[allow(clippy::too_many_arguments)]
fn check_region(
    region: &Region,
    delim: Delimiter,
    check: &RowCheck,
    track_keys: bool,
    batcher: &mut Batcher,
    scratch: &mut Scratch,
    out: &mut Part,
    stop: &AtomicBool,
) -> std::io::Result<()> {
    out.clear();
    let chunk = region.chunk.max(1);
    let Scratch { buf, rec } = scratch;
    buf.clear();
    let mut file = std::fs::File::open(region.path)?;
    // File offset of `buf[0]`.
    let mut buf_at = if region.at_line_start {
        region.from
    } else {
        region.from.saturating_sub(1)
    };
    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(buf_at))?;
    let mut eof = read_more(&mut file, buf, chunk)?;
    let mut i = 0usize;
    if !region.at_line_start {
        // The first line that starts at or after `from`: after the first newline from `from - 1`.
        loop {
            if let Some(nl) = memchr::memchr(b'\n', &buf[i..]) {
                i += nl + 1;
                break;
            }
            i = buf.len();
            if eof {
                break;
            }
            buf.clear();
            buf_at += i as u64;
            i = 0;
            eof = read_more(&mut file, buf, chunk)?;
        }
    }
    out.start_at = buf_at + i as u64;
    loop {
        let line_at = buf_at + i as u64;
        if line_at >= region.to {
            break;
        }
        let rest = &buf[i..];
        let (line, next) = match memchr::memchr(b'\n', rest) {
            Some(nl) => (&rest[..nl], i + nl + 1),
            None if eof => {
                if rest.is_empty() {
                    break;
                }
                (rest, buf.len())
            }
            None => {
                // A partial line: keep it and read on.
                if stop.load(Ordering::Relaxed) {
                    out.stopped = true;
                    break;
                }
                buf.drain(..i);
                buf_at += i as u64;
                i = 0;
                eof = read_more(&mut file, buf, chunk)?;
                continue;
            }
        };
        if !check_line(
            strip_cr(line),
            line_at,
            delim,
            check,
            track_keys,
            batcher,
            rec,
            out,
        ) {
            out.stopped = true;
            stop.store(true, Ordering::Relaxed);
            break;
        }
        i = next;
    }
    Ok(())
}

/// Validate one line of a part into `out`; false when it ends inside an open quote (the record
/// continues on the next line: the part cannot be read line by line).
#[allow(clippy::too_many_arguments)]
fn check_line(
    raw: &[u8],
    at: u64,
    delim: Delimiter,
    check: &RowCheck,
    track_keys: bool,
    batcher: &mut Batcher,
    rec: &mut RawRecord,
    out: &mut Part,
) -> bool {
    out.lines += 1;
    let line = out.lines;
    if is_blank(raw) {
        out.blank_lines += 1;
        return true;
    }
    if !rec.split_line(raw, delim) {
        out.lines -= 1;
        return false;
    }
    let valid_before = out.code.len();
    let exception = match check.check(batcher, rec) {
        Err(defect) => Exception::Defect { line, defect },
        Ok(Verdict::Refused(field, reason)) => Exception::Refused {
            line,
            raw: raw.to_vec(),
            field,
            reason,
        },
        Ok(Verdict::Valid(id, order)) => match out.codes.code(id) {
            Ok(code) => {
                out.code.push(code);
                out.day.push(order.day);
                out.amount.push(order.amount);
                out.is_return.push(order.is_return);
                out.cancelled.push(order.cancelled);
                if track_keys {
                    out.line.push(line);
                    out.at.push(at);
                    out.key_hash.push((order.key, order.hash));
                }
                return true;
            }
            Err(defect) => Exception::Defect { line, defect },
        },
    };
    out.exceptions.push((valid_before, exception));
    true
}

/// The line that starts at byte `at` of the file, without its terminator (for the rejects file,
/// when a record conflicts with an earlier one: rare, so it is read again rather than kept).
fn line_at(path: &Path, at: u64) -> Result<Vec<u8>> {
    let mut file = std::fs::File::open(path).map_err(io_err("open", path))?;
    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(at)).map_err(io_err("read", path))?;
    let mut line = Vec::new();
    std::io::BufRead::read_until(&mut std::io::BufReader::new(file), b'\n', &mut line)
        .map_err(io_err("read", path))?;
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(line)
}

/// Merge a checked part into `out`, in file order; `before` is the line number just before the
/// part, `final_part` whether no part is merged after it.
fn merge_part(
    out: &mut Collector,
    part: &mut Part,
    path: &Path,
    before: u64,
    final_part: bool,
) -> Result<()> {
    let n = part.day.len();
    // The file's first part, all valid, into an empty collector: its columns and its local
    // customer codes are the result so far, as they are.
    if out.counts.read == 0
        && out.codes.ids.is_empty()
        && !out.track_keys
        && part.exceptions.is_empty()
    {
        out.codes = std::mem::take(&mut part.codes);
        out.tx.customer = std::mem::take(&mut part.code);
        out.tx.day = std::mem::take(&mut part.day);
        out.tx.amount = std::mem::take(&mut part.amount);
        out.tx.is_return = std::mem::take(&mut part.is_return);
        out.cancelled = std::mem::take(&mut part.cancelled);
        out.counts.read = n as u64;
        out.counts.accepted = n as u64;
        return Ok(());
    }
    // Local code → code of `out`, set at the local code's first record (its first appearance in
    // the part): codes stay dense in order of first appearance in the file. Into a collector
    // without customers yet, the local codes are the codes.
    let mut global: Vec<Option<u32>> = match u32::try_from(part.codes.ids.len()) {
        Ok(k) if out.codes.ids.is_empty() => {
            out.codes = std::mem::take(&mut part.codes);
            (0..k).map(Some).collect()
        }
        _ => vec![None; part.codes.ids.len()],
    };
    let Part {
        code: local,
        codes: local_codes,
        ..
    } = part;
    // A defect here is ours; the line given with it is only a pointer into the file.
    let mut code_of = |out: &mut Collector, i: usize| -> Result<u32> {
        let Some(slot) = local.get(i).and_then(|&c| global.get_mut(c as usize)) else {
            return Err(Defect::Incomplete.error(before));
        };
        match *slot {
            Some(c) => {
                // The limit applies at every record, as when the file is read record by record.
                out.codes.next_code().map_err(|d| d.error(before))?;
                Ok(c)
            }
            None => {
                let local_code = local.get(i).copied().unwrap_or(u32::MAX) as usize;
                let (Some(id), Some(&hash)) = (
                    local_codes.ids.get_mut(local_code),
                    local_codes.hashes.get(local_code),
                ) else {
                    return Err(Defect::Incomplete.error(before));
                };
                let c = out
                    .codes
                    .settle(std::mem::take(id), hash, !final_part)
                    .map_err(|d| d.error(before))?;
                *slot = Some(c);
                Ok(c)
            }
        }
    };
    let mut next = 0;
    let ends = part
        .exceptions
        .iter()
        .map(|(valid_before, _)| *valid_before);
    for (run_end, exception) in ends.chain(std::iter::once(n)).zip(
        part.exceptions
            .iter()
            .map(Some)
            .chain(std::iter::once(None)),
    ) {
        // The valid records before the exception, then the exception.
        let run = next..run_end.clamp(next, n);
        if out.track_keys {
            for i in run.clone() {
                let code = code_of(out, i)?;
                let (key, hash) = part.key_hash.get(i).copied().unwrap_or_default();
                let order = Order {
                    day: part.day[i],
                    amount: part.amount[i],
                    is_return: part.is_return[i],
                    cancelled: part.cancelled[i],
                    key,
                    hash,
                };
                let line = before + part.line.get(i).copied().unwrap_or_default();
                let at = part.at.get(i).copied().unwrap_or_default();
                let mut raw = Ok(Vec::new());
                out.accept(line, code, order, || {
                    raw = line_at(path, at);
                    raw.as_deref().unwrap_or_default()
                })?;
                raw?;
            }
        } else {
            out.accept_untracked(
                |out, k| code_of(out, run.start + k),
                &part.day[run.clone()],
                &part.amount[run.clone()],
                &part.is_return[run.clone()],
                &part.cancelled[run.clone()],
            )?;
        }
        next = run.end;
        match exception {
            None => {}
            Some((
                _,
                Exception::Refused {
                    line,
                    raw,
                    field,
                    reason,
                },
            )) => out.refuse(before + line, raw, field, reason)?,
            Some((_, Exception::Defect { line, defect })) => {
                return Err(defect.error(before + line));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn opts(dir: &Path, map: &[(&str, &str)], on_conflict: OnConflict) -> OrdersFileOptions {
        OrdersFileOptions {
            input: IngestOptions {
                table: "orders".into(),
                map: map
                    .iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect(),
                on_conflict,
                ..IngestOptions::default()
            },
            time_zone: TimeZone::parse("UTC").expect("test setup"),
            date_format: None,
            rejects: dir.join("rejects.csv"),
        }
    }

    fn no_parquet(_: &str) -> Result<Vec<RecordBatch>> {
        Err(StoreError::Invalid("no parquet in this test".into()))
    }

    #[test]
    fn every_record_is_accounted_for() {
        let dir = tempfile::tempdir().expect("test setup");
        let f = dir.path().join("o.csv");
        std::fs::write(
            &f,
            "order_id,customer_id,order_date,amount,status\n\
             1,a,2024-01-01,10,paid\n\
             1,a,2024-01-01,10,paid\n\
             1,a,2024-01-01,11,paid\n\
             2,b,not a date,5,paid\n\
             3,b,2024-01-03,-4,paid\n\
             4,c,2024-01-04,7,cancelled\n\
             5,a,2024-01-05,8\n",
        )
        .expect("test setup");
        let (tx, r) = read_orders_with(
            &f,
            &opts(dir.path(), &[], OnConflict::Reject),
            &no_parquet,
            Plan::SEQUENTIAL,
        )
        .expect("test setup");
        assert_eq!(
            (r.read, r.accepted, r.duplicate, r.conflicting, r.rejected),
            (7, 3, 1, 1, 2)
        );
        assert!(r.balanced());
        assert_eq!(r.cancelled, 1);
        assert_eq!(tx.customer_ids, vec!["a", "b", "c"]);
        assert_eq!(tx.customer, vec![0, 1]);
        assert_eq!(tx.amount, vec![10.0, -4.0]);
        assert_eq!(tx.is_return, vec![false, true]);
        assert_eq!(tx.day[0], 19723); // 2024-01-01
        let rejects =
            std::fs::read_to_string(r.rejects_file.expect("test setup")).expect("test setup");
        assert!(rejects.contains("conflict: the same order as line 2"));
        assert!(rejects.contains("not a date"));
        assert!(rejects.contains("expected 5 fields, found 4"));
    }

    #[test]
    fn replace_keeps_the_last_row_and_classifies_against_it() {
        let dir = tempfile::tempdir().expect("test setup");
        let f = dir.path().join("o.csv");
        std::fs::write(
            &f,
            "order_id,customer_id,order_date,amount\n1,a,2024-01-01,10\n1,a,2024-01-01,11\n1,a,2024-01-01,10\n",
        )
        .expect("test setup");
        let (tx, r) = read_orders_with(
            &f,
            &opts(dir.path(), &[], OnConflict::Replace),
            &no_parquet,
            Plan::SEQUENTIAL,
        )
        .expect("test setup");
        assert_eq!(
            (r.read, r.accepted, r.duplicate, r.conflicting),
            (3, 1, 1, 1)
        );
        assert_eq!(tx.amount, vec![10.0]);
        assert!(r.rejects_file.is_none());
    }

    #[test]
    fn identical_rows_without_an_id_stay_two_purchases() {
        let dir = tempfile::tempdir().expect("test setup");
        let f = dir.path().join("cdnow.txt");
        std::fs::write(
            &f,
            "00001 19970101 1 11.77\n00001 19970101 1 11.77\n00002 19970112 2 20\n",
        )
        .expect("test setup");
        let map = [
            ("customer_id", "column1"),
            ("ordered_at", "column2"),
            ("amount", "column4"),
        ];
        let (tx, r) = read_orders_with(
            &f,
            &opts(dir.path(), &map, OnConflict::Reject),
            &no_parquet,
            Plan::SEQUENTIAL,
        )
        .expect("test setup");
        assert_eq!((r.read, r.accepted, r.duplicate), (3, 3, 0));
        assert_eq!(tx.customer, vec![0, 0, 1]);
    }

    /// One generated input line.
    #[derive(Debug, Clone)]
    enum Line {
        /// An order: id, customer, date, amount, status (indices into the pools below).
        Order(usize, usize, usize, usize, usize),
        /// A blank line.
        Blank(&'static str),
        /// A line with a field missing.
        Short(usize),
        /// A customer id that is not UTF-8.
        NotText,
        /// A quoted customer id holding the delimiter (one line: fine in parallel).
        QuotedId(usize),
        /// A quoted field that spans two lines (stops the parallel read).
        Multiline,
    }

    const IDS: [&str; 6] = ["1", "2", "3", "4", "5", "6"];
    const CUSTOMERS: [&str; 6] = ["a", "b", "c", "d", "e", "00001"];
    const DATES: [&str; 9] = [
        "2024-01-01",
        "20240105",
        "19970101",
        "20240230",
        "not-a-date",
        "2031-01-01",
        "",
        "2024-01-02T10:00:00",
        "18991231",
    ];
    const AMOUNTS: [&str; 7] = ["10", "11.50", "-4", "0", "abc", "$5", "1e400"];
    const STATUSES: [&str; 6] = ["paid", "cancelled", "CANCELED", "Refund", "void", ""];

    fn line_strategy() -> impl Strategy<Value = Line> {
        prop_oneof![
            8 => (0..IDS.len(), 0..CUSTOMERS.len(), 0..DATES.len(), 0..AMOUNTS.len(), 0..STATUSES.len())
                .prop_map(|(i, c, d, a, s)| Line::Order(i, c, d, a, s)),
            1 => prop_oneof![Just(""), Just("  "), Just("\t"), Just("\r")].prop_map(Line::Blank),
            1 => (0..CUSTOMERS.len()).prop_map(Line::Short),
            1 => Just(Line::NotText),
            1 => (0..CUSTOMERS.len()).prop_map(Line::QuotedId),
            1 => Just(Line::Multiline),
        ]
    }

    /// An orders file: delimiter (`None` for whitespace), whether it has an order id column, a
    /// status column, a header, CRLF line ends, a final newline, a byte-order mark, and its lines.
    #[derive(Debug, Clone)]
    struct Generated {
        delim: Option<u8>,
        with_id: bool,
        with_status: bool,
        header: bool,
        crlf: bool,
        final_newline: bool,
        bom: bool,
        lines: Vec<Line>,
    }

    fn file_strategy() -> impl Strategy<Value = Generated> {
        (
            prop_oneof![
                Just(Some(b',')),
                Just(Some(b'\t')),
                Just(Some(b';')),
                Just(None)
            ],
            any::<[bool; 6]>(),
            proptest::collection::vec(line_strategy(), 0..40),
        )
            .prop_map(|(delim, f, lines)| Generated {
                delim,
                with_id: f[0],
                with_status: f[1],
                header: f[2],
                crlf: f[3],
                final_newline: f[4],
                bom: f[5],
                lines,
            })
    }

    /// An order line's fields: id, customer, date, amount, status.
    type Fields<'a> = (&'a [u8], Vec<u8>, &'a [u8], &'a [u8], &'a [u8]);

    impl Generated {
        fn bytes(&self) -> Vec<u8> {
            let sep: &[u8] = match self.delim {
                Some(d) => &[d],
                None => b"  ",
            };
            let eol: &[u8] = if self.crlf { b"\r\n" } else { b"\n" };
            let mut out = Vec::new();
            if self.bom {
                out.extend_from_slice(&[0xef, 0xbb, 0xbf]);
            }
            let row = |out: &mut Vec<u8>, fields: &[&[u8]]| {
                for (i, f) in fields.iter().enumerate() {
                    if i > 0 {
                        out.extend_from_slice(sep);
                    }
                    out.extend_from_slice(f);
                }
            };
            let mut rows: Vec<Vec<u8>> = Vec::new();
            if self.header {
                let mut names: Vec<&[u8]> = Vec::new();
                if self.with_id {
                    names.push(b"order_id");
                }
                names.extend([&b"customer_id"[..], b"order_date", b"amount"]);
                if self.with_status {
                    names.push(b"status");
                }
                let mut r = Vec::new();
                row(&mut r, &names);
                rows.push(r);
            }
            for line in &self.lines {
                let mut r = Vec::new();
                let (id, customer, date, amount, status): Fields = match line {
                    Line::Order(i, c, d, a, s) => (
                        IDS[*i].as_bytes(),
                        CUSTOMERS[*c].as_bytes().to_vec(),
                        DATES[*d].as_bytes(),
                        AMOUNTS[*a].as_bytes(),
                        STATUSES[*s].as_bytes(),
                    ),
                    Line::Blank(b) => {
                        rows.push(b.as_bytes().to_vec());
                        continue;
                    }
                    Line::Short(c) => {
                        row(&mut r, &[CUSTOMERS[*c].as_bytes(), b"2024-01-01"]);
                        rows.push(r);
                        continue;
                    }
                    Line::NotText => (b"1", vec![b'x', 0xff], b"2024-01-01", b"3", b"paid"),
                    Line::QuotedId(c) => {
                        let mut q = b"\"".to_vec();
                        q.extend_from_slice(CUSTOMERS[*c].as_bytes());
                        q.extend_from_slice(sep);
                        q.extend_from_slice(b"x\"");
                        (b"2", q, b"2024-01-03", b"7", b"paid")
                    }
                    Line::Multiline => (
                        b"3",
                        b"\"two\nlines\"".to_vec(),
                        b"2024-01-04",
                        b"8",
                        b"paid",
                    ),
                };
                let mut fields: Vec<&[u8]> = Vec::new();
                if self.with_id {
                    fields.push(id);
                }
                fields.extend([&customer[..], date, amount]);
                if self.with_status {
                    fields.push(status);
                }
                row(&mut r, &fields);
                rows.push(r);
            }
            for (i, r) in rows.iter().enumerate() {
                out.extend_from_slice(r);
                if i + 1 < rows.len() || self.final_newline {
                    out.extend_from_slice(eol);
                }
            }
            out
        }

        fn options(&self, rejects: PathBuf, on_conflict: OnConflict) -> OrdersFileOptions {
            let mut map = Vec::new();
            if !self.header {
                let mut names = Vec::new();
                if self.with_id {
                    names.push("order_id");
                }
                names.extend(["customer_id", "ordered_at", "amount"]);
                if self.with_status {
                    names.push("status");
                }
                for (i, n) in names.iter().enumerate() {
                    map.push((n.to_string(), format!("column{}", i + 1)));
                }
            }
            let not_after = chrono::NaiveDate::from_ymd_opt(2030, 1, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .expect("test date");
            OrdersFileOptions {
                input: IngestOptions {
                    table: "orders".into(),
                    map,
                    on_conflict,
                    delimiter: Some(match self.delim {
                        Some(d) => crate::source::Delimiter::Byte(d),
                        None => crate::source::Delimiter::Whitespace,
                    }),
                    header: Some(self.header),
                    not_after: Some(not_after),
                    ..IngestOptions::default()
                },
                time_zone: TimeZone::parse("UTC").expect("test setup"),
                date_format: None,
                rejects,
            }
        }
    }

    /// Everything a read gives: the columns, the report (without the rejects file's own path)
    /// and the rejects file's bytes; or the error.
    type Outcome = std::result::Result<(OrderTransactions, String, Option<Vec<u8>>), String>;

    fn read_with(path: &Path, opts: &OrdersFileOptions, plan: Plan) -> Outcome {
        let _ = std::fs::remove_file(&opts.rejects);
        match read_orders_with(path, opts, &no_parquet, plan) {
            Ok((tx, mut report)) => {
                let rejects = report
                    .rejects_file
                    .take()
                    .map(|p| std::fs::read(p).expect("the rejects file reads back"));
                Ok((tx, format!("{report:?}"), rejects))
            }
            Err(e) => Err(e.to_string()),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn parallel_reading_gives_what_sequential_reading_gives(
            file in file_strategy(),
            replace in any::<bool>(),
            threads in 2usize..5,
            round in 1u64..300,
            range in 1u64..120,
            chunk in 1usize..80,
        ) {
            let dir = tempfile::tempdir().expect("test setup");
            let path = dir.path().join("orders.txt");
            std::fs::write(&path, file.bytes()).expect("test setup");
            let policy = if replace { OnConflict::Replace } else { OnConflict::Reject };
            let sequential = read_with(
                &path,
                &file.options(dir.path().join("seq.csv"), policy),
                Plan::SEQUENTIAL,
            );
            let plan = Plan { min_bytes: 0, round, range, chunk, threads };
            let parallel = read_with(&path, &file.options(dir.path().join("par.csv"), policy), plan);
            prop_assert_eq!(parallel, sequential);
        }
    }

    #[test]
    fn large_plain_files_are_read_in_parallel_as_sequentially() {
        // A file above the threshold, read with this machine's plan (at least two threads).
        let dir = tempfile::tempdir().expect("test setup");
        let path = dir.path().join("big.txt");
        let mut text = String::from("customer_id  date  number_of_cds  dollar_value\r\n");
        let mut i = 0u64;
        while text.len() < (1 << 20) + 4096 {
            // A few refused rows and blank lines among ordinary ones.
            let row = match i % 997 {
                0 => "  00007 19971301 1 5.00".to_string(),
                1 => String::new(),
                _ => format!(
                    " {:05} 1997{:02}{:02}  {}  {}.{:02}",
                    i * 7919 % 23_000,
                    i % 12 + 1,
                    i % 28 + 1,
                    i % 5 + 1,
                    i % 300,
                    i % 100
                ),
            };
            text.push_str(&row);
            text.push_str("\r\n");
            i += 1;
        }
        std::fs::write(&path, &text).expect("test setup");
        let map = [
            ("customer_id", "customer_id"),
            ("ordered_at", "date"),
            ("amount", "dollar_value"),
        ];
        let opts_at = |name: &str| {
            opts(dir.path(), &map, OnConflict::Reject).with_rejects(dir.path().join(name))
        };
        let sequential = read_with(&path, &opts_at("seq.csv"), Plan::SEQUENTIAL);
        let plan = Plan {
            threads: Plan::for_this_machine().threads.max(2),
            ..Plan::for_this_machine()
        };
        let parallel = read_with(&path, &opts_at("par.csv"), plan);
        let Ok((tx, _, rejects)) = &sequential else {
            panic!("the file reads: {sequential:?}");
        };
        assert!(tx.customer.len() > 30_000);
        assert!(rejects.is_some());
        assert_eq!(parallel, sequential);
    }

    impl OrdersFileOptions {
        fn with_rejects(mut self, rejects: PathBuf) -> Self {
            self.rejects = rejects;
            self
        }
    }
}
