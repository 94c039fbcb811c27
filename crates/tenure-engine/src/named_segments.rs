//! Segments as the API serves them: the 11 RFM groups of the latest run, and named segments — a
//! boolean SQL expression over `customer_scores` columns, checked word by word against a short list
//! of columns, operators and functions before it is stored or run — and their exports with
//! personal data masked, hashed or (for those allowed) plain.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use tenure_store::{SegmentRecord, SqlParam, Store};

use crate::customers::{latest_score_run, no_scores, rows_json, PiiMode, ScoreRun};
use crate::error::{EngineError, Result};

/// The 11 RFM group labels, strongest first.
pub const RFM_GROUPS: [&str; 11] = [
    "Champions",
    "Loyal",
    "Active",
    "New",
    "Promising",
    "Needs attention",
    "At risk",
    "Previously loyal",
    "Almost lost",
    "Dormant",
    "Prospects",
];

/// The URL-safe name of an RFM group: "Needs attention" → `needs_attention`.
pub fn rfm_slug(label: &str) -> String {
    label.to_ascii_lowercase().replace(' ', "_")
}

/// Columns of `customer_scores` a predicate may use.
pub const PREDICATE_COLUMNS: &[&str] = crate::value::CUSTOMER_SCORES_COLUMNS.split_at(1).1;

const PREDICATE_WORDS: &[&str] = &[
    "and",
    "or",
    "not",
    "in",
    "is",
    "null",
    "true",
    "false",
    "between",
    "like",
    "ilike",
    "case",
    "when",
    "then",
    "else",
    "end",
    "as",
    "date",
    "timestamp",
    "interval",
    "double",
    "integer",
    "bigint",
    "varchar",
    "day",
    "days",
    "month",
    "months",
    "year",
    "years",
];

const PREDICATE_FUNCTIONS: &[&str] = &[
    "abs",
    "round",
    "floor",
    "ceil",
    "coalesce",
    "nullif",
    "least",
    "greatest",
    "lower",
    "upper",
    "length",
    "starts_with",
    "ends_with",
    "contains",
    "date_diff",
    "date_part",
    "cast",
    "ln",
    "log10",
    "sqrt",
    "exp",
];

/// Longest predicate accepted.
pub const MAX_PREDICATE_LEN: usize = 2000;

/// Check a segment predicate without running it: one boolean expression built only from
/// `customer_scores` columns, literals, comparison and arithmetic operators, and a short list of
/// pure functions. No statement separators, comments, subqueries, or access to other tables.
pub fn validate_predicate(pred: &str) -> Result<()> {
    let bad = |why: String| EngineError::Invalid(format!("predicate is not valid: {why}"));
    if pred.trim().is_empty() {
        return Err(bad(
            "it is empty; write e.g. `clv > 100 AND p_alive >= 0.5`".into(),
        ));
    }
    if pred.len() > MAX_PREDICATE_LEN {
        return Err(bad(format!(
            "it is longer than {MAX_PREDICATE_LEN} characters"
        )));
    }
    let chars: Vec<char> = pred.chars().collect();
    let mut depth: i64 = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' => {
                // A string literal; '' is an escaped quote.
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(bad("a string literal is not closed".into())),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => i += 2,
                        Some('\'') => break,
                        Some(_) => i += 1,
                    }
                }
                i += 1;
            }
            '"' => {
                let start = i + 1;
                let end = chars[start..]
                    .iter()
                    .position(|&c| c == '"')
                    .map(|p| start + p)
                    .ok_or_else(|| bad("a quoted name is not closed".into()))?;
                let name: String = chars[start..end].iter().collect();
                if !PREDICATE_COLUMNS.contains(&name.as_str()) {
                    return Err(bad(format!(
                        "unknown column \"{name}\": use {}",
                        PREDICATE_COLUMNS.join(", ")
                    )));
                }
                i = end + 1;
            }
            '(' => {
                depth += 1;
                i += 1;
            }
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err(bad("a `)` has no matching `(`".into()));
                }
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect::<String>().to_lowercase();
                let mut j = i;
                while j < chars.len() && chars[j].is_whitespace() {
                    j += 1;
                }
                let is_call = chars.get(j) == Some(&'(');
                let ok = if is_call {
                    PREDICATE_FUNCTIONS.contains(&word.as_str())
                        || PREDICATE_WORDS.contains(&word.as_str())
                } else {
                    PREDICATE_COLUMNS.contains(&word.as_str())
                        || PREDICATE_WORDS.contains(&word.as_str())
                };
                if !ok {
                    return Err(bad(if is_call {
                        format!(
                            "function `{word}` is not allowed: use {}",
                            PREDICATE_FUNCTIONS.join(", ")
                        )
                    } else {
                        format!(
                            "unknown word `{word}`: use the columns {} with AND, OR, NOT, IN, IS NULL, BETWEEN, LIKE",
                            PREDICATE_COLUMNS.join(", ")
                        )
                    }));
                }
            }
            c if c.is_ascii_digit() || c == '.' => {
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
            }
            c if c.is_whitespace() => i += 1,
            '=' | '<' | '>' | '!' | '+' | '-' | '*' | '/' | '%' | ',' | ':' => {
                if c == '-' && chars.get(i + 1) == Some(&'-') {
                    return Err(bad("comments are not allowed".into()));
                }
                if c == '/' && chars.get(i + 1) == Some(&'*') {
                    return Err(bad("comments are not allowed".into()));
                }
                i += 1;
            }
            other => return Err(bad(format!("character `{other}` is not allowed"))),
        }
    }
    if depth != 0 {
        return Err(bad("a `(` is not closed".into()));
    }
    Ok(())
}

/// What a `segment=` filter names.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SegmentFilter {
    /// An RFM group, by label.
    Rfm(&'static str),
    /// A named segment's (validated) predicate.
    Named(String),
}

/// Resolve a segment name: an RFM group (label or slug, any case) or a named segment.
pub(crate) fn resolve_segment(store: &Store, name: &str) -> Result<SegmentFilter> {
    if let Some(label) = RFM_GROUPS
        .iter()
        .find(|l| l.eq_ignore_ascii_case(name) || rfm_slug(l) == name.to_ascii_lowercase())
    {
        return Ok(SegmentFilter::Rfm(label));
    }
    let seg = store.named_segment(name)?.ok_or_else(|| {
        EngineError::NotFound(format!(
            "no segment `{name}`: use an RFM group ({}) or a segment from GET /v1/segments",
            RFM_GROUPS.map(rfm_slug).join(", ")
        ))
    })?;
    validate_predicate(&seg.predicate)?;
    Ok(SegmentFilter::Named(seg.predicate))
}

/// Size and value of one segment in the latest run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentSize {
    /// Name: the RFM group's slug or the named segment's name.
    pub name: String,
    /// The RFM group label, for RFM groups.
    pub label: Option<String>,
    /// What it holds: the group's meaning or the segment's predicate.
    pub definition: String,
    /// `rfm` or `custom`.
    pub kind: &'static str,
    /// Customers in it (`null` when it could not be counted).
    pub customers: Option<i64>,
    /// Their total CLV.
    pub clv: Option<f64>,
    /// Their mean P(alive).
    pub mean_p_alive: Option<f64>,
    /// Their expected purchases in the next 90 days.
    pub expected_purchases_90d: Option<f64>,
    /// When a named segment was stored.
    pub created_at: Option<chrono::NaiveDateTime>,
}

/// Every segment with its size in the latest run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentsReport {
    /// The run counted; `null` before the first scoring run (sizes are then `null`).
    pub run: Option<ScoreRun>,
    /// The 11 RFM groups, strongest first.
    pub rfm: Vec<SegmentSize>,
    /// Named segments, by name.
    pub custom: Vec<SegmentSize>,
}

const SIZE_COLS: &str = "count(*) AS customers, sum(clv) AS clv, avg(p_alive) AS mean_p_alive, sum(expected_purchases_90d) AS expected_purchases_90d";

fn size_of(row: Option<&crate::customers::JsonRow>) -> [Option<f64>; 4] {
    let g = |k: &str| row.and_then(|r| r.get(k)).and_then(|v| v.as_f64());
    [
        g("customers"),
        g("clv"),
        g("mean_p_alive"),
        g("expected_purchases_90d"),
    ]
}

/// The RFM groups and named segments with their sizes in the latest run.
pub fn list_segments(store: &Store) -> Result<SegmentsReport> {
    let run = latest_score_run(store)?;
    let by_group = match &run {
        Some(r) => rows_json(&store.query_arrow_params(
            &format!("SELECT rfm_group, {SIZE_COLS} FROM customer_scores WHERE run_id = ? GROUP BY rfm_group"),
            &[SqlParam::Text(r.run_id.clone())],
        )?)?,
        None => Vec::new(),
    };
    let rfm = RFM_GROUPS
        .iter()
        .map(|label| {
            let row = by_group
                .iter()
                .find(|r| r.get("rfm_group").and_then(|v| v.as_str()) == Some(label));
            let [n, clv, p, e90] = size_of(row);
            SegmentSize {
                name: rfm_slug(label),
                label: Some(label.to_string()),
                definition: crate::customers::group_meaning(label).to_string(),
                kind: "rfm",
                customers: run.as_ref().map(|_| n.unwrap_or(0.0) as i64),
                clv,
                mean_p_alive: p,
                expected_purchases_90d: e90,
                created_at: None,
            }
        })
        .collect();
    let mut custom = Vec::new();
    for seg in store.named_segments()? {
        let row = match (&run, validate_predicate(&seg.predicate)) {
            (Some(r), Ok(())) => store
                .query_arrow_params(
                    &format!(
                        "SELECT {SIZE_COLS} FROM customer_scores WHERE run_id = ? AND ({})",
                        seg.predicate
                    ),
                    &[SqlParam::Text(r.run_id.clone())],
                )
                .ok()
                .and_then(|b| rows_json(&b).ok())
                .and_then(|rows| rows.into_iter().next()),
            _ => None,
        };
        let [n, clv, p, e90] = size_of(row.as_ref());
        custom.push(SegmentSize {
            name: seg.name,
            label: None,
            definition: seg.predicate,
            kind: "custom",
            customers: n.map(|n| n as i64),
            clv,
            mean_p_alive: p,
            expected_purchases_90d: e90,
            created_at: Some(seg.created_at),
        });
    }
    Ok(SegmentsReport { run, rfm, custom })
}

/// Check a segment name: 1 to 64 of `a-z 0-9 _ -`, starting with a letter or digit.
pub fn validate_segment_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(EngineError::Invalid(format!(
            "segment name {name:?} is not valid: use 1 to 64 lowercase letters, digits, `_` or `-`"
        )))
    }
}

/// Validate and store a named segment. The predicate is checked word by word, then run once
/// (`SELECT count(*) FROM customer_scores WHERE (predicate)`, through the store's read-only entry
/// point) so type errors are refused before it is stored.
pub fn create_segment(
    store: &Store,
    name: &str,
    predicate: &str,
    created_by: Option<&str>,
    now: chrono::NaiveDateTime,
) -> Result<SegmentRecord> {
    validate_segment_name(name)?;
    if RFM_GROUPS.iter().any(|l| rfm_slug(l) == name) {
        return Err(EngineError::Conflict(format!(
            "`{name}` is an RFM group: pick another name"
        )));
    }
    validate_predicate(predicate)?;
    let check = format!("SELECT count(*) FROM customer_scores WHERE ({predicate})");
    store.query_read_only(&check).map_err(|e| match e {
        tenure_store::StoreError::Db { source, .. } => {
            EngineError::Invalid(format!("predicate is not valid: {source}"))
        }
        other => EngineError::Invalid(format!("predicate is not valid: {other}")),
    })?;
    let seg = SegmentRecord {
        name: name.to_string(),
        predicate: predicate.trim().to_string(),
        created_at: now,
        created_by: created_by.map(str::to_string),
    };
    if !store.insert_named_segment(&seg)? {
        return Err(EngineError::Conflict(format!(
            "a segment named `{name}` exists: pick another name"
        )));
    }
    Ok(seg)
}

/// File format of a segment export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// Comma-separated with a header row.
    #[default]
    Csv,
    /// Apache Parquet.
    Parquet,
}

impl ExportFormat {
    /// File extension.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Parquet => "parquet",
        }
    }
}

/// A segment's members, written out.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentExport {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// Members exported.
    pub rows: u64,
    /// Its format.
    pub format: ExportFormat,
}

static EXPORT_SEQ: AtomicU64 = AtomicU64::new(0);

/// The members of a segment (RFM group or named) in the latest run with their scores and profile
/// columns, personal data treated per `pii`.
pub fn export_segment(
    store: &Store,
    name: &str,
    format: ExportFormat,
    pii: PiiMode,
) -> Result<SegmentExport> {
    let filter = resolve_segment(store, name)?;
    let run = latest_score_run(store)?.ok_or_else(no_scores)?;
    let lit = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let pred = match filter {
        SegmentFilter::Rfm(label) => format!("rfm_group = {}", lit(label)),
        SegmentFilter::Named(p) => p,
    };
    let sql = format!(
        "SELECT s.customer_id, s.rfm_group, s.rfm_cell, s.value_tier, s.p_alive, s.expected_purchases_30d, \
         s.expected_purchases_90d, s.expected_purchases_365d, s.next_order_date, s.expected_avg_spend, s.clv, \
         s.clv_low, s.clv_high, {} \
         FROM (SELECT * FROM customer_scores WHERE run_id = {} AND ({pred})) s \
         LEFT JOIN customers c ON c.customer_id = s.customer_id ORDER BY s.customer_id",
        pii.customer_columns("c"),
        lit(&run.run_id)
    );
    let path = std::env::temp_dir().join(format!(
        "tenure-export-{}-{}.{}",
        std::process::id(),
        EXPORT_SEQ.fetch_add(1, Ordering::Relaxed),
        format.extension()
    ));
    let written = store.copy_to(&sql, &path);
    let bytes = std::fs::read(&path);
    let _ = std::fs::remove_file(&path);
    let rows = written?;
    let bytes = bytes.map_err(|e| EngineError::io(&path, e))?;
    Ok(SegmentExport {
        bytes,
        rows,
        format,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicates_allow_expressions_over_score_columns_only() {
        for ok in [
            "clv > 100",
            "p_alive >= 0.5 AND rfm_group IN ('Champions', 'Loyal')",
            "coalesce(clv, 0) BETWEEN 10 AND 20 OR NOT (value_tier = 'high')",
            "\"clv\" > 1e3",
            "rfm_group = 'it''s'",
            "next_order_date < DATE '1998-01-01'",
            "CAST(rfm_cell AS INTEGER) > 300",
        ] {
            assert!(
                validate_predicate(ok).is_ok(),
                "{ok}: {:?}",
                validate_predicate(ok)
            );
        }
        for bad in [
            "",
            "clv > 1; DROP TABLE orders",
            "clv > 1) UNION SELECT key_id FROM api_keys WHERE (1=1",
            "clv > (SELECT max(clv) FROM customer_scores)",
            "hash = 'x'",
            "read_csv('/etc/passwd') IS NOT NULL",
            "clv > 1 -- comment",
            "clv > 1 /* c */",
            "rfm_group = 'open",
            "(clv > 1",
            "\"salt\" = 'x'",
            "nextval('ingest_run_seq') > 0",
            "clv > 1 ; ",
            "clv > 1 AND (FROM api_keys) IS NOT NULL",
            "clv > ?",
        ] {
            assert!(validate_predicate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_and_slugs() {
        assert_eq!(rfm_slug("Needs attention"), "needs_attention");
        assert!(validate_segment_name("vip-2024").is_ok());
        for bad in ["", "VIP", "a b", "-x", &"a".repeat(65), "../x"] {
            assert!(validate_segment_name(bad).is_err(), "{bad}");
        }
    }
}
