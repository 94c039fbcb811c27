//! Validating records into Arrow batches, with each row's natural key settled on the Rust side.
//!
//! [`Batcher::check`] validates one record, computes its content hash, fills in synthesised keys (the
//! content hash plus its occurrence number for a missing single-column key, the occurrence number among
//! rows with the same other key columns for a missing key column of a composite key) and hashes the
//! key; [`Batcher::emit`] then appends the row to one of two batch shapes: rows going straight into the
//! target table, or rows staged for the exact SQL classification.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanBuilder, Float64Builder, Int64Array, Int64Builder, StringArray,
    StringBuilder, TimestampMicrosecondBuilder, UInt64Builder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use chrono::{Datelike, NaiveDateTime};

use crate::error::{Result, StoreError};
use crate::parse::{parse_amount, parse_bool, parse_int, parse_timestamp, plain_amount, TimeZone};
use crate::schema::{ColType, TableSpec};
use crate::source::{RawRecord, MAX_FIELD_BYTES};

/// A hasher for keys that already are xxh3 hashes: it passes the `u64` through.
#[derive(Default, Clone, Copy)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used by the maps below; anything else still hashes deterministically.
        self.0 = xxhash_rust::xxh3::xxh3_64_with_seed(bytes, self.0);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Build-hasher of [`PassThrough`].
pub(crate) type Pre = BuildHasherDefault<PassThrough>;

/// A parsed value before it is appended.
#[derive(Clone, Copy)]
enum Val {
    Null,
    /// Byte range of the (trimmed) text inside the record's field `.0`.
    Text(usize, usize, usize),
    /// The synthesised key text: a byte range of the batcher's `synth_text`.
    Synth(usize, usize),
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

/// Rows per Arrow batch.
pub(crate) const BATCH_ROWS: usize = 65_536;

/// Where a validated row goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dest {
    /// Straight into the target table: its key is new to the file and to the store.
    Direct,
    /// Into the staging table, for the SQL classification (a repeated key, or one already stored).
    Stage,
    /// Nowhere: a duplicate of a stored row, or (on the recovery pass) a row already placed.
    Skip,
}

/// The two batch shapes a batcher fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// The target table's columns: input columns, `_run_id`, `_line`, `_hash` and, for orders and
    /// order items, `is_return`, `is_zero`.
    Target,
    /// The staging table's columns: input columns, `_line`, `_hash`, `is_return`, `is_zero`.
    Stage,
}

/// Builders of one batch shape.
struct Builders {
    shape: Shape,
    cols: Vec<ColBuilder>,
    run_id: Int64Builder,
    line: Int64Builder,
    hash: UInt64Builder,
    is_return: BooleanBuilder,
    is_zero: BooleanBuilder,
    rows: usize,
    schema: SchemaRef,
}

fn builders_for(spec: &TableSpec, capacity: usize) -> Vec<ColBuilder> {
    spec.columns
        .iter()
        .map(|c| match c.ty {
            ColType::Text | ColType::Json => {
                ColBuilder::Text(StringBuilder::with_capacity(capacity, capacity * 16))
            }
            ColType::Timestamp => {
                ColBuilder::Ts(TimestampMicrosecondBuilder::with_capacity(capacity))
            }
            ColType::Float => ColBuilder::F(Float64Builder::with_capacity(capacity)),
            ColType::Int => ColBuilder::I(Int64Builder::with_capacity(capacity)),
            ColType::Bool => ColBuilder::B(BooleanBuilder::with_capacity(capacity)),
        })
        .collect()
}

/// Whether a table carries the `is_return` / `is_zero` flags.
pub(crate) fn has_flags(spec: &TableSpec) -> bool {
    spec.name == "orders" || spec.name == "order_items"
}

impl Builders {
    /// Builders of `shape`; `emits` is false for a batcher that never emits (no room reserved).
    fn new(spec: &TableSpec, shape: Shape, emits: bool) -> Self {
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
        if shape == Shape::Target {
            fields.push(Field::new("_run_id", DataType::Int64, false));
        }
        fields.push(Field::new("_line", DataType::Int64, false));
        fields.push(Field::new("_hash", DataType::UInt64, false));
        if shape == Shape::Stage || has_flags(spec) {
            fields.push(Field::new("is_return", DataType::Boolean, false));
            fields.push(Field::new("is_zero", DataType::Boolean, false));
        }
        // The staging shape fills up rarely (repeated or stored keys): start it small.
        let capacity = match (emits, shape) {
            (false, _) => 0,
            (true, Shape::Target) => BATCH_ROWS,
            (true, Shape::Stage) => 1024,
        };
        Builders {
            shape,
            cols: builders_for(spec, capacity),
            run_id: Int64Builder::new(),
            line: Int64Builder::new(),
            hash: UInt64Builder::new(),
            is_return: BooleanBuilder::new(),
            is_zero: BooleanBuilder::new(),
            rows: 0,
            schema: Arc::new(Schema::new(fields)),
        }
    }

    fn finish(&mut self) -> Result<Option<RecordBatch>> {
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
        if self.shape == Shape::Target {
            arrays.push(Arc::new(self.run_id.finish()));
        }
        arrays.push(Arc::new(self.line.finish()));
        arrays.push(Arc::new(self.hash.finish()));
        let flags = self.schema.fields().len() > arrays.len();
        let (ret, zero) = (self.is_return.finish(), self.is_zero.finish());
        if flags {
            arrays.push(Arc::new(ret));
            arrays.push(Arc::new(zero));
        }
        self.rows = 0;
        RecordBatch::try_new(self.schema.clone(), arrays)
            .map(Some)
            .map_err(|source| StoreError::Arrow {
                op: "build a batch of validated rows",
                source,
            })
    }
}

/// The identity of a validated row: its key hash and its content hash.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Checked {
    /// xxh3 of the row's natural key (after synthesis), as [`key_hash`] computes it.
    pub key: u64,
    /// xxh3 of the row's content (the `_hash` column).
    pub hash: u64,
}

/// How a missing key column is synthesised.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Synth {
    /// Mapped from the input.
    No,
    /// The only key column: `h<hash as 16 hex digits>-<occurrence of the hash>`.
    ContentHash,
    /// One column of a composite key: the occurrence number among rows with the same other columns.
    Occurrence,
}

/// What a column means to validation beyond its type, settled once per batcher from the column's
/// name so that [`Batcher::check`] compares no names per field and row.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// `amount` or `unit_price`: negative marks a return, zero a zero-value row.
    Money,
    /// `quantity`: negative marks a return.
    Quantity,
    /// `status`: "return" or "refund" in it marks a return.
    Status,
    /// `price`: must not be negative.
    Price,
    /// `rating`: must be 1-5.
    Rating,
    /// Nothing beyond its type.
    Plain,
}

impl Role {
    fn of(name: &str) -> Role {
        match name {
            "amount" | "unit_price" => Role::Money,
            "quantity" => Role::Quantity,
            "status" => Role::Status,
            "price" => Role::Price,
            "rating" => Role::Rating,
            _ => Role::Plain,
        }
    }
}

/// A mapped column, as [`Batcher::check`] reads it.
#[derive(Clone, Copy)]
struct Mapped {
    /// The column.
    ci: usize,
    /// Its field in the input.
    si: usize,
    /// Unmapped columns between the previous mapped column (or the start) and this one.
    unmapped_before: usize,
    name: &'static str,
    ty: ColType,
    role: Role,
    /// Whether an empty value refuses the row (a required or key column).
    required: bool,
}

/// Validates records into Arrow batches: one builder set for the target table, one for staging.
pub(crate) struct Batcher {
    spec: &'static TableSpec,
    src_idx: Vec<Option<usize>>,
    synth: Vec<Synth>,
    key_cols: Vec<usize>,
    /// The mapped columns, in column order, with what checking each needs.
    mapped: Vec<Mapped>,
    /// Unmapped columns after the last mapped one.
    unmapped_after: usize,
    /// Whether some column is synthesised (else `check` skips the synthesis pass).
    any_synth: bool,
    /// The key hash of every row, when no key column is mapped or synthesised (each is then
    /// empty, so every row has the same key bytes).
    constant_key: Option<u64>,
    /// Whether checked rows are kept for [`Batcher::emit`]; readers that never emit skip the copy.
    keeps_pending: bool,
    /// Whether `check` computes the content hash and key hash; readers that never compare rows
    /// skip them (synthesised keys need the content hash, so they always get it).
    hashes: bool,
    tz: TimeZone,
    date_format: Option<String>,
    not_after: NaiveDateTime,
    /// Days since 1970-01-01 of `not_after`'s date: a date-only value on an earlier day cannot be in
    /// the future, whatever the time of `not_after` (the `YYYYMMDD` fast path relies on it).
    not_after_day: i64,
    run_id: i64,
    target: Builders,
    stage: Builders,
    values: Vec<Val>,
    synth_text: String,
    pending_values: Vec<Val>,
    pending_flags: Vec<(bool, bool)>,
    canon: Vec<u8>,
    key_buf: Vec<u8>,
    is_return: bool,
    is_zero: bool,
    occ_hash: HashMap<u64, u32, Pre>,
    occ_other: HashMap<Vec<u8>, i64>,
}

/// The bytes a key hash is computed over: each key column as a tagged, length-prefixed value.
fn key_part_text(buf: &mut Vec<u8>, b: &[u8]) {
    buf.push(b'T');
    buf.extend_from_slice(&(b.len() as u64).to_le_bytes());
    buf.extend_from_slice(b);
}

fn key_part_int(buf: &mut Vec<u8>, i: i64) {
    buf.push(b'I');
    buf.extend_from_slice(&i.to_le_bytes());
}

/// Hash of the key bytes built by `key_part_*`.
pub(crate) fn key_hash(buf: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(buf)
}

/// Key hashes and content hashes of stored rows, from `SELECT key columns…, _hash` batches.
pub(crate) fn stored_keys(
    spec: &TableSpec,
    batches: &[RecordBatch],
    mut each: impl FnMut(u64, u64),
) -> Result<()> {
    let mut buf = Vec::with_capacity(64);
    let bad = |what: &str| {
        StoreError::Invalid(format!(
            "stored key column {what} of {} has an unexpected type; please report this",
            spec.name
        ))
    };
    for b in batches {
        let nk = spec.key.len();
        let hashes = b
            .column(nk)
            .as_any()
            .downcast_ref::<arrow::array::UInt64Array>()
            .ok_or_else(|| bad("_hash"))?;
        enum Col<'a> {
            T(&'a StringArray),
            I(&'a Int64Array),
        }
        // Strings may come as views or large strings depending on the engine's settings.
        let mut owned: Vec<ArrayRef> = Vec::with_capacity(nk);
        for (i, k) in spec.key.iter().enumerate() {
            let a = b.column(i);
            let a = match a.data_type() {
                DataType::Utf8 | DataType::Int64 => a.clone(),
                DataType::LargeUtf8 | DataType::Utf8View => {
                    arrow::compute::cast(a, &DataType::Utf8).map_err(|_| bad(k))?
                }
                _ => return Err(bad(k)),
            };
            owned.push(a);
        }
        let mut cols = Vec::with_capacity(nk);
        for (a, k) in owned.iter().zip(spec.key) {
            let a = a.as_any();
            if let Some(s) = a.downcast_ref::<StringArray>() {
                cols.push(Col::T(s));
            } else if let Some(n) = a.downcast_ref::<Int64Array>() {
                cols.push(Col::I(n));
            } else {
                return Err(bad(k));
            }
        }
        for row in 0..b.num_rows() {
            buf.clear();
            let mut null = hashes.is_null(row);
            for c in &cols {
                match c {
                    Col::T(s) if !s.is_null(row) => {
                        key_part_text(&mut buf, s.value(row).as_bytes())
                    }
                    Col::I(n) if !n.is_null(row) => key_part_int(&mut buf, n.value(row)),
                    _ => null = true,
                }
            }
            if !null {
                each(key_hash(&buf), hashes.value(row));
            }
        }
    }
    Ok(())
}

impl Batcher {
    pub(crate) fn new(
        spec: &'static TableSpec,
        src_idx: Vec<Option<usize>>,
        tz: TimeZone,
        date_format: Option<String>,
        not_after: NaiveDateTime,
        run_id: i64,
    ) -> Self {
        Self::build(spec, src_idx, tz, date_format, not_after, run_id, true)
    }

    /// A batcher for readers that only read a checked row's values back (`checked_*`) and never
    /// call [`Batcher::emit`]: it keeps no copy of checked rows and reserves no batch memory (about
    /// 8 MB for a batch of orders, mapped and unmapped for nothing otherwise).
    pub(crate) fn new_reader(
        spec: &'static TableSpec,
        src_idx: Vec<Option<usize>>,
        tz: TimeZone,
        date_format: Option<String>,
        not_after: NaiveDateTime,
    ) -> Self {
        Self::build(spec, src_idx, tz, date_format, not_after, 0, false)
    }

    fn build(
        spec: &'static TableSpec,
        src_idx: Vec<Option<usize>>,
        tz: TimeZone,
        date_format: Option<String>,
        not_after: NaiveDateTime,
        run_id: i64,
        emits: bool,
    ) -> Self {
        let key_cols: Vec<usize> = spec
            .key
            .iter()
            .filter_map(|k| spec.columns.iter().position(|c| c.name == *k))
            .collect();
        let synth = spec
            .columns
            .iter()
            .enumerate()
            .map(|(ci, _)| {
                if src_idx[ci].is_some() || !key_cols.contains(&ci) {
                    Synth::No
                } else if spec.key.len() == 1 {
                    Synth::ContentHash
                } else {
                    Synth::Occurrence
                }
            })
            .collect();
        let mut mapped = Vec::new();
        let mut unmapped_after = 0;
        for (ci, col) in spec.columns.iter().enumerate() {
            match src_idx[ci] {
                None => unmapped_after += 1,
                Some(si) => {
                    mapped.push(Mapped {
                        ci,
                        si,
                        unmapped_before: unmapped_after,
                        name: col.name,
                        ty: col.ty,
                        role: Role::of(col.name),
                        required: col.required || key_cols.contains(&ci),
                    });
                    unmapped_after = 0;
                }
            }
        }
        let not_after_day =
            i64::from(not_after.date().num_days_from_ce()) - i64::from(UNIX_EPOCH_DAYS_FROM_CE);
        let mut batcher = Batcher {
            spec,
            src_idx,
            synth,
            key_cols,
            mapped,
            unmapped_after,
            any_synth: false,
            constant_key: None,
            keeps_pending: emits,
            hashes: true,
            tz,
            date_format,
            not_after,
            not_after_day,
            run_id,
            target: Builders::new(spec, Shape::Target, emits),
            stage: Builders::new(spec, Shape::Stage, emits),
            values: vec![Val::Null; spec.columns.len()],
            synth_text: String::new(),
            pending_values: Vec::new(),
            pending_flags: Vec::new(),
            canon: Vec::with_capacity(256),
            key_buf: Vec::with_capacity(64),
            is_return: false,
            is_zero: false,
            occ_hash: HashMap::default(),
            occ_other: HashMap::new(),
        };
        batcher.settle_key_shortcuts();
        batcher
    }

    /// Work out `any_synth` and `constant_key` from the mapping and the synthesis plan.
    fn settle_key_shortcuts(&mut self) {
        self.any_synth = self.synth.iter().any(|s| *s != Synth::No);
        let all_empty = self.key_cols.iter().all(|&k| {
            self.src_idx.get(k).is_some_and(Option::is_none) && self.synth[k] == Synth::No
        });
        self.constant_key = all_empty.then(|| {
            let mut buf = Vec::new();
            for _ in &self.key_cols {
                push_key_part(&mut buf, &RawRecord::default(), Val::Null, "");
            }
            key_hash(&buf)
        });
    }

    /// Leave missing key columns empty instead of synthesising them: for readers that never compare
    /// keys (a file scored without a store, where a synthesised key is unique by construction).
    pub(crate) fn without_key_synthesis(mut self) -> Self {
        self.synth.iter_mut().for_each(|s| *s = Synth::No);
        self.settle_key_shortcuts();
        self
    }

    /// Skip the content and key hashes ([`Checked`] then holds zeros): for readers that never
    /// compare rows. Has no effect while some key column is synthesised from the content hash.
    pub(crate) fn without_hashes(mut self) -> Self {
        self.hashes = false;
        self
    }

    /// Whether [`Batcher::check`] synthesises some key column. Synthesised keys count occurrences
    /// across rows; without them, checking a row depends on that row alone, so several batchers can
    /// check parts of one file independently and agree with one batcher checking it all.
    pub(crate) fn synthesises_keys(&self) -> bool {
        self.any_synth
    }

    /// Validate one record and settle its key; on failure the offending field and reason return.
    /// The row is not appended anywhere until [`Batcher::emit`].
    pub(crate) fn check(
        &mut self,
        rec: &RawRecord,
    ) -> std::result::Result<Checked, (&'static str, String)> {
        self.canon.clear();
        let mut is_return = false;
        let mut is_zero = false;
        // Only mapped columns are read: an unmapped one is empty in every row (its value stays
        // `Null`, or is synthesised below) and adds one 0 byte to the content hash.
        let hashing = self.hashes || self.any_synth;
        let Batcher {
            mapped,
            unmapped_after,
            values,
            canon,
            tz,
            date_format,
            not_after,
            not_after_day,
            ..
        } = self;
        for col in mapped.iter() {
            let Mapped { ci, si, role, .. } = *col;
            if hashing {
                canon.resize(canon.len() + col.unmapped_before, 0);
            }
            let Some(value) = values.get_mut(ci) else {
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
            // An ASCII field is UTF-8 as it is and trims by its bytes; any other is checked as text
            // (with the reason for bytes that are not). `t` is the trimmed value, UTF-8 either way.
            let t: &[u8] = if bytes.is_ascii() {
                trim_ascii(bytes)
            } else {
                let text = std::str::from_utf8(bytes).map_err(|e| {
                    (
                        col.name,
                        format!(
                            "invalid UTF-8 at byte {}: save the file as UTF-8",
                            e.valid_up_to()
                        ),
                    )
                })?;
                trim(text).as_bytes()
            };
            // The value as text, for the parsers that take it (it is UTF-8: see above).
            let text = || {
                std::str::from_utf8(t).map_err(|_| {
                    (
                        col.name,
                        "invalid UTF-8: save the file as UTF-8".to_string(),
                    )
                })
            };
            if t.is_empty() {
                if col.required {
                    return Err((col.name, "required value is empty".into()));
                }
                *value = Val::Null;
                if hashing {
                    canon.push(0);
                }
                continue;
            }
            let start = t.as_ptr() as usize - bytes.as_ptr() as usize;
            let v = match col.ty {
                ColType::Text => Val::Text(si, start, start + t.len()),
                ColType::Json => {
                    if serde_json::from_str::<serde::de::IgnoredAny>(text()?).is_err() {
                        return Err((col.name, "not valid JSON".into()));
                    }
                    Val::Text(si, start, start + t.len())
                }
                ColType::Timestamp => {
                    // `YYYYMMDD` (CDNOW and many exports) without the general parser; anything it does
                    // not settle (other forms, invalid or future dates) takes the general path, which
                    // also words the reasons.
                    let fast = match date_format {
                        None => yyyymmdd_day(t).filter(|d| d < not_after_day),
                        Some(_) => None,
                    };
                    match fast {
                        Some(day) => Val::Ts(day * MICROS_PER_DAY),
                        None => {
                            let t = text()?;
                            let ts = parse_timestamp(t, *tz, date_format.as_deref())
                                .map_err(|r| (col.name, format!("{r}: `{}`", clip(t))))?;
                            if ts > *not_after {
                                return Err((col.name, format!("timestamp {ts} is in the future")));
                            }
                            Val::Ts(ts.and_utc().timestamp_micros())
                        }
                    }
                }
                ColType::Float => {
                    // Plain decimals without the general parser (same value, see `plain_amount`).
                    let f = match plain_amount(t) {
                        Some(r) => r,
                        None => parse_amount(text()?),
                    };
                    let f = match f {
                        Ok(f) => f,
                        Err(r) => return Err((col.name, format!("{r}: `{}`", clip(text()?)))),
                    };
                    if role == Role::Price && f < 0.0 {
                        return Err((col.name, "price is negative".into()));
                    }
                    Val::F(f)
                }
                ColType::Int => {
                    let t = text()?;
                    let i = parse_int(t).map_err(|r| (col.name, format!("{r}: `{}`", clip(t))))?;
                    if role == Role::Rating && !(1..=5).contains(&i) {
                        return Err((col.name, format!("rating {i} is outside 1-5")));
                    }
                    Val::I(i)
                }
                ColType::Bool => {
                    let t = text()?;
                    Val::B(parse_bool(t).map_err(|r| (col.name, format!("{r}: `{}`", clip(t))))?)
                }
            };
            match (role, v) {
                (Role::Money, Val::F(f)) => {
                    is_return |= f < 0.0;
                    is_zero |= f == 0.0;
                }
                (Role::Quantity, Val::I(q)) => is_return |= q < 0,
                (Role::Status, Val::Text(..)) => {
                    is_return |= contains_ignore_ascii_case(t, b"return")
                        || contains_ignore_ascii_case(t, b"refund");
                }
                _ => {}
            }
            if hashing {
                canon.push(1);
                match v {
                    Val::Text(..) => canon.extend_from_slice(t),
                    Val::Ts(x) | Val::I(x) => canon.extend_from_slice(&x.to_le_bytes()),
                    Val::F(f) => canon.extend_from_slice(&f.to_bits().to_le_bytes()),
                    Val::B(b) => canon.push(u8::from(b)),
                    Val::Null | Val::Synth(..) => {}
                }
                canon.push(0x1f);
            }
            *value = v;
        }
        if !hashing {
            self.is_return = is_return;
            self.is_zero = is_zero;
            if self.keeps_pending {
                self.pending_values.extend_from_slice(&self.values);
                self.pending_flags.push((is_return, is_zero));
            }
            return Ok(Checked { key: 0, hash: 0 });
        }
        canon.resize(canon.len() + *unmapped_after, 0);
        let hash = xxhash_rust::xxh3::xxh3_64(&self.canon);
        self.is_return = is_return;
        self.is_zero = is_zero;

        // Synthesise missing key columns, exactly as the stored rows of earlier runs were keyed.
        for ci in 0..if self.any_synth { self.values.len() } else { 0 } {
            match self.synth[ci] {
                Synth::No => {}
                Synth::ContentHash => {
                    let n = self.occ_hash.entry(hash).or_insert(0);
                    *n += 1;
                    let start = self.synth_text.len();
                    use std::fmt::Write as _;
                    let _ = write!(self.synth_text, "h{hash:016x}-{n}");
                    self.values[ci] = Val::Synth(start, self.synth_text.len());
                }
                Synth::Occurrence => {
                    self.key_buf.clear();
                    for &k in &self.key_cols {
                        if k != ci {
                            push_key_part(&mut self.key_buf, rec, self.values[k], "");
                        }
                    }
                    let n = self.occ_other.entry(self.key_buf.clone()).or_insert(0);
                    *n += 1;
                    self.values[ci] = if self.spec.columns[ci].ty == ColType::Int {
                        Val::I(*n)
                    } else {
                        let start = self.synth_text.len();
                        self.synth_text.push_str(&n.to_string());
                        Val::Synth(start, self.synth_text.len())
                    };
                }
            }
        }
        let key = match self.constant_key {
            Some(key) => key,
            None => {
                self.key_buf.clear();
                for &k in &self.key_cols {
                    push_key_part(&mut self.key_buf, rec, self.values[k], &self.synth_text);
                }
                key_hash(&self.key_buf)
            }
        };
        if self.keeps_pending {
            self.pending_values.extend_from_slice(&self.values);
            self.pending_flags.push((self.is_return, self.is_zero));
        }
        Ok(Checked { key, hash })
    }

    /// The trimmed bytes of text column `ci` of the row last [`Batcher::check`]ed (valid UTF-8, as
    /// checked), read from `rec`; `None` when empty, unmapped or not text.
    pub(crate) fn checked_bytes<'r>(&self, rec: &'r RawRecord, ci: usize) -> Option<&'r [u8]> {
        match self.values.get(ci)? {
            Val::Text(si, s, e) => rec.field(*si)?.get(*s..*e),
            _ => None,
        }
    }

    /// The trimmed text of column `ci` of the row last [`Batcher::check`]ed, read from `rec` (`None`
    /// when empty, unmapped or not text).
    pub(crate) fn checked_text<'r>(&self, rec: &'r RawRecord, ci: usize) -> Option<&'r str> {
        match self.values.get(ci)? {
            Val::Text(si, s, e) => std::str::from_utf8(rec.field(*si)?.get(*s..*e)?).ok(),
            _ => None,
        }
    }

    /// The timestamp (microseconds since the epoch, UTC) of column `ci` of the row last checked.
    pub(crate) fn checked_timestamp(&self, ci: usize) -> Option<i64> {
        match self.values.get(ci)? {
            Val::Ts(t) => Some(*t),
            _ => None,
        }
    }

    /// The number of column `ci` of the row last checked.
    pub(crate) fn checked_float(&self, ci: usize) -> Option<f64> {
        match self.values.get(ci)? {
            Val::F(f) => Some(*f),
            _ => None,
        }
    }

    /// Whether the row last checked is a return (negative amount or quantity, or a return status).
    pub(crate) fn checked_is_return(&self) -> bool {
        self.is_return
    }

    /// Forget the rows checked so far (after they have been emitted).
    pub(crate) fn clear_pending(&mut self) {
        self.pending_values.clear();
        self.pending_flags.clear();
        self.synth_text.clear();
    }

    /// Append the `pending`-th row checked since [`Batcher::clear_pending`] (read from `rec`) to the
    /// batch for `dest` (nothing for [`Dest::Skip`]).
    pub(crate) fn emit(&mut self, pending: usize, rec: &RawRecord, checked: Checked, dest: Dest) {
        debug_assert!(self.keeps_pending, "emit on a batcher made by new_reader");
        let b = match dest {
            Dest::Direct => &mut self.target,
            Dest::Stage => &mut self.stage,
            Dest::Skip => return,
        };
        let n = self.values.len();
        let values = &self.pending_values[pending * n..(pending + 1) * n];
        let (is_return, is_zero) = self.pending_flags[pending];
        for (ci, v) in values.iter().enumerate() {
            match (&mut b.cols[ci], *v) {
                (ColBuilder::Text(b), Val::Text(si, s, e)) => {
                    let bytes = &rec.field(si).unwrap_or_default()[s..e];
                    b.append_value(std::str::from_utf8(bytes).unwrap_or_default());
                }
                (ColBuilder::Text(b), Val::Synth(s, e)) => b.append_value(&self.synth_text[s..e]),
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
        if b.shape == Shape::Target {
            b.run_id.append_value(self.run_id);
        }
        b.line.append_value(rec.line as i64);
        b.hash.append_value(checked.hash);
        b.is_return.append_value(is_return);
        b.is_zero.append_value(is_zero);
        b.rows += 1;
    }

    /// A full batch of `shape`, if there is one.
    pub(crate) fn take_if_full(&mut self, shape: Shape) -> Result<Option<RecordBatch>> {
        let b = self.builders(shape);
        if b.rows >= BATCH_ROWS {
            b.finish()
        } else {
            Ok(None)
        }
    }

    /// What is built of `shape` so far (none when empty); its builders start over.
    pub(crate) fn take(&mut self, shape: Shape) -> Result<Option<RecordBatch>> {
        self.builders(shape).finish()
    }

    fn builders(&mut self, shape: Shape) -> &mut Builders {
        match shape {
            Shape::Target => &mut self.target,
            Shape::Stage => &mut self.stage,
        }
    }
}

fn push_key_part(buf: &mut Vec<u8>, rec: &RawRecord, v: Val, synth: &str) {
    match v {
        Val::Text(si, s, e) => key_part_text(buf, &rec.field(si).unwrap_or_default()[s..e]),
        Val::Synth(s, e) => key_part_text(buf, &synth.as_bytes()[s..e]),
        Val::I(i) | Val::Ts(i) => key_part_int(buf, i),
        Val::F(f) => key_part_int(buf, f.to_bits() as i64),
        Val::B(b) => key_part_int(buf, i64::from(b)),
        Val::Null => buf.push(b'N'),
    }
}

/// Microseconds in a day.
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// `NaiveDate::num_days_from_ce` of 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// Whether `hay` contains `needle` (lowercase ASCII) ignoring ASCII case: the same answer as
/// `hay.to_ascii_lowercase().contains(needle)`, without allocating per row.
fn contains_ignore_ascii_case(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Days since 1970-01-01 of an 8-digit `YYYYMMDD` date, when it is a real calendar date in the
/// accepted years: exactly the dates [`parse_timestamp`] accepts in that form (at midnight), and
/// `None` for everything else (which the general parser then accepts or refuses with its reason).
pub(crate) fn yyyymmdd_day(b: &[u8]) -> Option<i64> {
    if b.len() != 8 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // Eight digits: no step can overflow, so the arithmetic need not be checked.
    let n = |r: std::ops::Range<usize>| {
        b[r].iter().fold(0i64, |a, c| {
            a.wrapping_mul(10)
                .wrapping_add(i64::from(c.wrapping_sub(b'0')))
        })
    };
    let (y, m, d) = (n(0..4), n(4..6), n(6..8));
    if !(i64::from(crate::parse::MIN_YEAR)..=i64::from(crate::parse::MAX_YEAR)).contains(&y)
        || !(1..=12).contains(&m)
    {
        return None;
    }
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=month_days).contains(&d) {
        return None;
    }
    // Days from civil (H. Hinnant's algorithm, proleptic Gregorian; years here are positive).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// `str::trim` of ASCII text, by its bytes: the ASCII characters with Unicode's White_Space
/// property are tab, line feed, vertical tab, form feed, carriage return and space.
fn trim_ascii(b: &[u8]) -> &[u8] {
    // No byte above the space is white space: most values need no scan.
    if b.first().is_some_and(|c| *c > b' ') && b.last().is_some_and(|c| *c > b' ') {
        return b;
    }
    let ws = |c: &u8| matches!(c, 0x09..=0x0d | b' ');
    let start = b.iter().position(|c| !ws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !ws(c)).map_or(start, |e| e + 1);
    &b[start..end]
}

/// `str::trim`, without the Unicode scan when both ends are plain ASCII characters.
fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(a), Some(z))
            if a.is_ascii()
                && z.is_ascii()
                && !char::from(*a).is_whitespace()
                && !char::from(*z).is_whitespace() =>
        {
            s
        }
        _ => s.trim(),
    }
}

/// At most 40 characters of a value, for messages.
pub(crate) fn clip(s: &str) -> String {
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
    fn trim_matches_str_trim() {
        for s in [
            "",
            " a ",
            "a",
            "\u{a0}x\u{3000}",
            "x\t",
            "\u{3000}",
            "ab",
            "x\u{b}",
            "\u{c}y",
        ] {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
    }

    #[test]
    fn yyyymmdd_fast_path_agrees_with_the_parser() {
        let tz = TimeZone::default();
        let mut day = chrono::NaiveDate::from_ymd_opt(1899, 12, 1).expect("test date");
        let end = chrono::NaiveDate::from_ymd_opt(2201, 2, 1).expect("test date");
        while day <= end {
            let s = day.format("%Y%m%d").to_string();
            let want = parse_timestamp(&s, tz, None)
                .ok()
                .map(|t| t.and_utc().timestamp_micros());
            assert_eq!(
                yyyymmdd_day(s.as_bytes()).map(|d| d * MICROS_PER_DAY),
                want,
                "{s}"
            );
            day = day.succ_opt().expect("test date");
        }
        for s in [
            "19970229",
            "20000229",
            "19000229",
            "19971301",
            "19970100",
            "19970132",
            "1997011",
            "199701011",
            "1997010a",
            "00000000",
            "99999999",
            "22001231",
            "22010101",
        ] {
            let want = parse_timestamp(s, tz, None)
                .ok()
                .map(|t| t.and_utc().timestamp_micros());
            let fast = yyyymmdd_day(s.as_bytes()).map(|d| d * MICROS_PER_DAY);
            if s.len() == 8 {
                assert_eq!(fast, want, "{s}");
            } else {
                // Other shapes are left to the general parser (which reads 9 digits as epoch
                // seconds).
                assert_eq!(fast, None, "{s}");
            }
        }
    }

    #[test]
    fn status_match_ignores_ascii_case_only() {
        for s in [
            "Return",
            "REFUNDED",
            "partial refund",
            "ret urn",
            "",
            "r",
            "İreturn",
            "paid",
        ] {
            let want = {
                let l = s.to_ascii_lowercase();
                l.contains("return") || l.contains("refund")
            };
            let got = contains_ignore_ascii_case(s.as_bytes(), b"return")
                || contains_ignore_ascii_case(s.as_bytes(), b"refund");
            assert_eq!(got, want, "{s}");
        }
    }

    #[test]
    fn constant_key_is_the_key_of_empty_key_columns() {
        let spec = crate::store::input_table("orders").expect("orders exists");
        let ci = |name: &str| spec.columns.iter().position(|c| c.name == name);
        let mut src_idx = vec![None; spec.columns.len()];
        src_idx[ci("customer_id").expect("column")] = Some(0);
        src_idx[ci("ordered_at").expect("column")] = Some(1);
        src_idx[ci("amount").expect("column")] = Some(2);
        let not_after = chrono::NaiveDate::from_ymd_opt(2030, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("test date");
        let make = || {
            Batcher::new(
                spec,
                src_idx.clone(),
                TimeZone::default(),
                None,
                not_after,
                0,
            )
        };
        let reader =
            || Batcher::new_reader(spec, src_idx.clone(), TimeZone::default(), None, not_after);
        let mut shortcut = reader().without_key_synthesis();
        let mut plain = make().without_key_synthesis();
        plain.constant_key = None;
        let mut rec = RawRecord::default();
        rec.split_line(b"c1 20240101 12.5", crate::source::Delimiter::Whitespace);
        let (a, b) = (shortcut.check(&rec), plain.check(&rec));
        let (Ok(a), Ok(b)) = (a, b) else {
            panic!("the row is valid");
        };
        assert_eq!((a.key, a.hash), (b.key, b.hash));
        assert!(shortcut.pending_values.is_empty());
        assert!(!plain.pending_values.is_empty());
        // With synthesis the key differs per row: no shortcut.
        assert!(make().constant_key.is_none());
        // Without hashes the values read back are the same, and the hashes are not computed.
        let mut no_hashes = reader().without_key_synthesis().without_hashes();
        let Ok(c) = no_hashes.check(&rec) else {
            panic!("the row is valid");
        };
        assert_eq!((c.key, c.hash), (0, 0));
        let ci_amount = ci("amount").expect("column");
        let ci_time = ci("ordered_at").expect("column");
        assert_eq!(
            no_hashes.checked_float(ci_amount),
            shortcut.checked_float(ci_amount)
        );
        assert_eq!(
            no_hashes.checked_timestamp(ci_time),
            shortcut.checked_timestamp(ci_time)
        );
        // Synthesised keys need the content hash: it is computed anyway.
        let mut synth = make().without_hashes();
        let Ok(c) = synth.check(&rec) else {
            panic!("the row is valid");
        };
        assert_eq!(c.hash, b.hash);
    }

    proptest::proptest! {
        #[test]
        fn ascii_trim_is_str_trim(s in "[ \\t\\n\\r\\x0b\\x0c\\x1c-\\x1fa-c]{0,12}") {
            proptest::prop_assert_eq!(trim_ascii(s.as_bytes()), s.trim().as_bytes());
        }
    }

    #[test]
    fn key_parts_do_not_run_together() {
        let mut a = Vec::new();
        key_part_text(&mut a, b"ab");
        key_part_text(&mut a, b"c");
        let mut b = Vec::new();
        key_part_text(&mut b, b"a");
        key_part_text(&mut b, b"bc");
        assert_ne!(key_hash(&a), key_hash(&b));
    }
}
