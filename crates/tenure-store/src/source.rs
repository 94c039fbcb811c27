//! Reading input files into raw records: delimited text (any delimiter, quoted fields, BOM, gzip,
//! whitespace-separated like CDNOW), JSON Lines, and Parquet (through DuckDB's reader).
//!
//! A record keeps its exact raw bytes and the line it started on, so a refused row can be written to
//! the rejects file as it was. Fields are kept as bytes: invalid UTF-8 is a per-field reject, not a
//! failure of the whole file.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::error::{io_err, Result, StoreError};

/// How fields are separated in a delimited file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delimiter {
    /// One byte: `,` `\t` `;` `|` or any other.
    Byte(u8),
    /// Runs of spaces and tabs, leading and trailing ones ignored (CDNOW's layout). No quoting.
    Whitespace,
}

impl Delimiter {
    /// Parse a `--delimiter` value: one character, `tab`, `\t`, `space`/`whitespace`.
    pub fn parse(s: &str) -> Option<Delimiter> {
        match s {
            "tab" | "\\t" | "\t" => Some(Delimiter::Byte(b'\t')),
            "space" | "spaces" | "whitespace" | " " => Some(Delimiter::Whitespace),
            _ if s.len() == 1 && s.is_ascii() => Some(Delimiter::Byte(s.as_bytes()[0])),
            _ => None,
        }
    }

    /// A name for messages.
    pub fn describe(&self) -> String {
        match self {
            Delimiter::Byte(b'\t') => "tab".into(),
            Delimiter::Byte(b) => format!("'{}'", *b as char),
            Delimiter::Whitespace => "whitespace".into(),
        }
    }
}

/// Longest field accepted; a longer one is refused with its line (a 10 MB "field" is a broken file).
pub const MAX_FIELD_BYTES: usize = 1 << 20;
/// Longest record (which may span lines inside quotes) before the reader gives up on it.
pub const MAX_RECORD_BYTES: usize = 64 << 20;

/// One input record: where it started, its raw bytes, and its fields.
#[derive(Debug, Default)]
pub struct RawRecord {
    /// 1-based line (or row, for Parquet) where the record starts.
    pub line: u64,
    /// The record exactly as read, without its line terminator.
    pub raw: Vec<u8>,
    /// Field bytes (unquoted and unescaped).
    buf: Vec<u8>,
    /// Byte range of each field in `buf`.
    spans: Vec<(usize, usize)>,
    /// A structural problem found while reading (unterminated quote, record too long).
    pub error: Option<String>,
}

impl RawRecord {
    fn clear(&mut self) {
        self.raw.clear();
        self.buf.clear();
        self.spans.clear();
        self.error = None;
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Field `i` as bytes (untrimmed); `None` when the record is shorter.
    pub fn field(&self, i: usize) -> Option<&[u8]> {
        let &(start, end) = self.spans.get(i)?;
        self.buf.get(start..end)
    }

    fn push_field(&mut self, bytes: &[u8]) {
        let start = self.buf.len();
        self.buf.extend_from_slice(bytes);
        self.spans.push((start, self.buf.len()));
    }

    /// End the field whose bytes were appended to `buf` since the previous field ended.
    fn end_field(&mut self) {
        let start = self.spans.last().map_or(0, |s| s.1);
        self.spans.push((start, self.buf.len()));
    }
}

/// Split one complete or partial record. Returns false when a quoted field is still open at the end.
fn split_delimited(raw: &[u8], delim: u8, rec: &mut RawRecord) -> bool {
    rec.buf.clear();
    rec.spans.clear();
    if memchr::memchr(b'"', raw).is_none() {
        // Nothing quoted: the fields are the bytes between delimiters, so the line is copied once
        // and the fields point into it (what the loop below gives, field by field).
        rec.buf.extend_from_slice(raw);
        let mut start = 0;
        for i in memchr::memchr_iter(delim, raw) {
            rec.spans.push((start, i));
            start = i + 1;
        }
        rec.spans.push((start, raw.len()));
        return true;
    }
    let mut i = 0;
    let n = raw.len();
    loop {
        // At the start of a field. RFC 4180: a quote opens a quoted field only here; elsewhere it is data.
        if i < n && raw[i] == b'"' {
            i += 1;
            loop {
                match memchr::memchr(b'"', &raw[i..]) {
                    None => {
                        rec.buf.extend_from_slice(&raw[i..]);
                        rec.end_field();
                        return false;
                    }
                    Some(q) => {
                        rec.buf.extend_from_slice(&raw[i..i + q]);
                        i += q + 1;
                        if i < n && raw[i] == b'"' {
                            rec.buf.push(b'"');
                            i += 1;
                        } else {
                            break;
                        }
                    }
                }
            }
            // Lenient: text after the closing quote up to the delimiter is kept (`"a"b` → `ab`).
            let rest_end = memchr::memchr(delim, &raw[i..]).map_or(n, |p| i + p);
            rec.buf.extend_from_slice(&raw[i..rest_end]);
            rec.end_field();
            i = rest_end;
        } else {
            let end = memchr::memchr(delim, &raw[i..]).map_or(n, |p| i + p);
            rec.push_field(&raw[i..end]);
            i = end;
        }
        if i >= n {
            return true;
        }
        i += 1; // the delimiter
        if i == n {
            rec.end_field(); // trailing delimiter: one more, empty, field
            return true;
        }
    }
}

/// Split on runs of spaces and tabs, ignoring leading and trailing ones. A plain loop rather than
/// `split(..).filter(..)`: this runs once per line of every whitespace-separated file.
fn split_whitespace(raw: &[u8], rec: &mut RawRecord) {
    rec.buf.clear();
    rec.spans.clear();
    // The line is copied once; the fields are ranges of it.
    rec.buf.extend_from_slice(raw);
    // No byte above the space separates: one comparison for most bytes.
    let is_sep = |b: u8| b <= b' ' && (b == b' ' || b == b'\t');
    let mut start: Option<usize> = None;
    for (i, &b) in raw.iter().enumerate() {
        match (is_sep(b), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                rec.spans.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        rec.spans.push((s, raw.len()));
    }
}

impl RawRecord {
    /// Split one line (without its terminator) into this record's fields, leaving `raw` and `line`
    /// alone. Returns false when a quoted field is still open at the end of the line (the record
    /// continues on the next line), which cannot happen in a line without a `"` byte.
    pub(crate) fn split_line(&mut self, raw: &[u8], delim: Delimiter) -> bool {
        self.error = None;
        match delim {
            Delimiter::Whitespace => {
                split_whitespace(raw, self);
                true
            }
            Delimiter::Byte(d) => split_delimited(raw, d, self),
        }
    }
}

/// Whether a line (without its terminator) is blank: blank lines are skipped, not records.
pub(crate) fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

fn strip_eol(raw: &mut Vec<u8>) {
    if raw.last() == Some(&b'\n') {
        raw.pop();
    }
    if raw.last() == Some(&b'\r') {
        raw.pop();
    }
}

/// Open a file, transparently gunzipping (by magic bytes) and dropping a UTF-8 byte-order mark.
/// Returns the first bytes (for sniffing) and a reader over the whole content.
pub fn open_text(path: &Path) -> Result<(Vec<u8>, Box<dyn BufRead + Send>)> {
    let file = std::fs::File::open(path).map_err(io_err("open", path))?;
    let mut file = BufReader::with_capacity(1 << 16, file);
    let magic = file.fill_buf().map_err(io_err("read", path))?;
    let gz = magic.len() >= 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    let mut reader: Box<dyn Read + Send> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut sample = Vec::with_capacity(1 << 16);
    (&mut reader)
        .take(1 << 16)
        .read_to_end(&mut sample)
        .map_err(io_err("read", path))?;
    if sample.starts_with(&[0xff, 0xfe]) || sample.starts_with(&[0xfe, 0xff]) {
        return Err(StoreError::Input {
            path: path.into(),
            message: "the file is UTF-16; save it as UTF-8 (e.g. `iconv -f UTF-16 -t UTF-8`) and ingest again".into(),
        });
    }
    if sample.starts_with(&[0xef, 0xbb, 0xbf]) {
        sample.drain(..3);
    }
    let full = std::io::Cursor::new(sample.clone()).chain(reader);
    Ok((sample, Box::new(BufReader::with_capacity(1 << 20, full))))
}

/// Complete lines of a sample (a trailing partial line is dropped unless the sample is the whole file).
fn sample_lines(sample: &[u8]) -> Vec<&[u8]> {
    let mut lines: Vec<&[u8]> = sample.split(|b| *b == b'\n').collect();
    if sample.len() >= 1 << 16 && lines.len() > 1 {
        lines.pop();
    }
    lines
        .into_iter()
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .take(50)
        .collect()
}

/// Guess the delimiter from a sample: the candidate that splits the most lines into the same number
/// (> 1) of fields wins; runs of whitespace are tried last, for files like CDNOW.
pub fn sniff_delimiter(sample: &[u8]) -> Option<Delimiter> {
    let lines = sample_lines(sample);
    if lines.is_empty() {
        return None;
    }
    let mut best: Option<(usize, usize, Delimiter)> = None;
    let mut rec = RawRecord::default();
    for d in [b',', b'\t', b';', b'|'] {
        let counts: Vec<usize> = lines
            .iter()
            .map(|l| {
                split_delimited(l, d, &mut rec);
                rec.len()
            })
            .collect();
        if let Some((mode, hits)) = mode(&counts) {
            if mode > 1 && best.is_none_or(|(h, m, _)| (hits, mode) > (h, m)) {
                best = Some((hits, mode, Delimiter::Byte(d)));
            }
        }
    }
    if let Some((hits, _, d)) = best {
        if hits * 10 >= lines.len() * 8 {
            return Some(d);
        }
    }
    let counts: Vec<usize> = lines
        .iter()
        .map(|l| {
            split_whitespace(l, &mut rec);
            rec.len()
        })
        .collect();
    match (mode(&counts), best) {
        (Some((mode, hits)), _) if mode > 1 && hits * 10 >= lines.len() * 8 => {
            Some(Delimiter::Whitespace)
        }
        (_, Some((_, _, d))) => Some(d),
        _ => Some(Delimiter::Byte(b',')),
    }
}

fn mode(counts: &[usize]) -> Option<(usize, usize)> {
    let mut sorted = counts.to_vec();
    sorted.sort_unstable();
    let mut best: Option<(usize, usize)> = None;
    for chunk in sorted.chunk_by(|a, b| a == b) {
        if best.is_none_or(|(_, h)| chunk.len() > h) {
            best = Some((chunk[0], chunk.len()));
        }
    }
    best
}

/// Whether a value looks like data (a number or a date) rather than a column name.
fn looks_like_data(field: &[u8]) -> bool {
    let t = std::str::from_utf8(field).unwrap_or("").trim();
    if t.is_empty() {
        return false;
    }
    t.parse::<f64>().is_ok()
        || crate::parse::parse_timestamp(t, crate::parse::TimeZone::default(), None).is_ok()
        || crate::parse::parse_amount(t).is_ok()
}

/// Guess whether the first record is a header: none of its fields look like data while the second
/// record has some that do, or it has names we know.
pub fn sniff_header(
    first: &RawRecord,
    second: Option<&RawRecord>,
    known: &dyn Fn(&str) -> bool,
) -> bool {
    let fields: Vec<&[u8]> = (0..first.len()).filter_map(|i| first.field(i)).collect();
    if fields.iter().any(|f| looks_like_data(f)) {
        return false;
    }
    if fields
        .iter()
        .any(|f| known(std::str::from_utf8(f).unwrap_or("")))
    {
        return true;
    }
    match second {
        Some(s) => (0..s.len()).filter_map(|i| s.field(i)).any(looks_like_data),
        None => true,
    }
}

/// A streaming reader of delimited records.
pub struct DelimitedReader {
    inner: Box<dyn BufRead + Send>,
    delim: Delimiter,
    line: u64,
    /// Blank lines skipped so far (they are not rows and are not counted as read).
    pub blank_lines: u64,
}

impl DelimitedReader {
    /// Wrap a reader (from [`open_text`]).
    pub fn new(inner: Box<dyn BufRead + Send>, delim: Delimiter) -> Self {
        DelimitedReader {
            inner,
            delim,
            line: 0,
            blank_lines: 0,
        }
    }

    /// Continue reading where another reader of the same input stopped at a line boundary: `inner`
    /// starts at line `line + 1`. Blank lines are counted from zero.
    pub(crate) fn resume(inner: Box<dyn BufRead + Send>, delim: Delimiter, line: u64) -> Self {
        DelimitedReader {
            inner,
            delim,
            line,
            blank_lines: 0,
        }
    }

    /// Lines consumed so far (records, their continuation lines and blank lines).
    pub(crate) fn lines_read(&self) -> u64 {
        self.line
    }

    /// Read the next record into `rec`; false at end of input.
    pub fn read(&mut self, rec: &mut RawRecord) -> std::io::Result<bool> {
        loop {
            rec.clear();
            rec.line = self.line + 1;
            let n = self.inner.read_until(b'\n', &mut rec.raw)?;
            if n == 0 {
                return Ok(false);
            }
            self.line += 1;
            strip_eol(&mut rec.raw);
            if is_blank(&rec.raw) {
                self.blank_lines += 1;
                continue;
            }
            // The raw bytes are moved out while fields are split from them into the same record.
            let mut raw = std::mem::take(&mut rec.raw);
            match self.delim {
                Delimiter::Whitespace => split_whitespace(&raw, rec),
                Delimiter::Byte(d) => {
                    while !split_delimited(&raw, d, rec) {
                        if raw.len() > MAX_RECORD_BYTES {
                            rec.error = Some(format!(
                                "quoted field opened on line {} is not closed within {} MiB",
                                rec.line,
                                MAX_RECORD_BYTES >> 20
                            ));
                            break;
                        }
                        raw.push(b'\n');
                        let n = self.inner.read_until(b'\n', &mut raw)?;
                        if n == 0 {
                            raw.pop();
                            rec.error = Some(format!(
                                "quoted field opened on line {} is never closed",
                                rec.line
                            ));
                            break;
                        }
                        self.line += 1;
                        strip_eol(&mut raw);
                    }
                }
            }
            rec.raw = raw;
            return Ok(true);
        }
    }
}

/// Column names of a header record; blanks become `columnN` and repeats get `_2`, `_3`.
pub fn header_names(rec: &RawRecord) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(rec.len());
    for i in 0..rec.len() {
        let raw = String::from_utf8_lossy(rec.field(i).unwrap_or_default());
        let mut name = raw.trim().trim_start_matches('\u{feff}').to_string();
        if name.is_empty() {
            name = format!("column{}", i + 1);
        }
        let base = name.clone();
        let mut k = 2;
        while names.contains(&name) {
            name = format!("{base}_{k}");
            k += 1;
        }
        names.push(name);
    }
    names
}

/// Names for a headerless file: `column1` … `columnN`.
pub fn numbered_names(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("column{i}")).collect()
}

/// A JSON Lines reader: one object per line, fields looked up by key in a fixed column order.
pub struct JsonlReader {
    inner: Box<dyn BufRead + Send>,
    columns: Vec<String>,
    line: u64,
    /// Blank lines skipped.
    pub blank_lines: u64,
}

impl JsonlReader {
    /// Wrap a reader; `columns` come from [`jsonl_columns`].
    pub fn new(inner: Box<dyn BufRead + Send>, columns: Vec<String>) -> Self {
        JsonlReader {
            inner,
            columns,
            line: 0,
            blank_lines: 0,
        }
    }

    /// Read the next object into `rec`, its values in column order; false at end of input.
    pub fn read(&mut self, rec: &mut RawRecord) -> std::io::Result<bool> {
        loop {
            rec.clear();
            rec.line = self.line + 1;
            if self.inner.read_until(b'\n', &mut rec.raw)? == 0 {
                return Ok(false);
            }
            self.line += 1;
            strip_eol(&mut rec.raw);
            if rec.raw.iter().all(u8::is_ascii_whitespace) {
                self.blank_lines += 1;
                continue;
            }
            match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&rec.raw) {
                Ok(obj) => {
                    for c in &self.columns {
                        match obj.get(c) {
                            None | Some(serde_json::Value::Null) => rec.end_field(),
                            Some(serde_json::Value::String(s)) => rec.push_field(s.as_bytes()),
                            Some(v) => rec.push_field(v.to_string().as_bytes()),
                        }
                    }
                }
                Err(e) => rec.error = Some(format!("not a JSON object: {e}")),
            }
            return Ok(true);
        }
    }
}

/// Keys of the JSON objects in a sample, in first-seen order.
pub fn jsonl_columns(sample: &[u8]) -> Vec<String> {
    let mut cols: Vec<String> = Vec::new();
    for line in sample_lines(sample) {
        if let Ok(obj) = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(line)
        {
            for k in obj.keys() {
                if !cols.contains(k) {
                    cols.push(k.clone());
                }
            }
        }
    }
    cols
}

/// Fill a record from already-split values (Parquet rows, API payloads); `raw` is their CSV rendering.
pub fn record_from_values(rec: &mut RawRecord, line: u64, values: &[Option<&str>]) {
    rec.clear();
    rec.line = line;
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            rec.raw.push(b',');
        }
        match v {
            Some(s) => {
                if s.contains([',', '"', '\n']) {
                    rec.raw.push(b'"');
                    rec.raw.extend_from_slice(s.replace('"', "\"\"").as_bytes());
                    rec.raw.push(b'"');
                } else {
                    rec.raw.extend_from_slice(s.as_bytes());
                }
                rec.push_field(s.as_bytes());
            }
            None => rec.end_field(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fields(raw: &[u8], d: u8) -> (bool, Vec<String>) {
        let mut rec = RawRecord::default();
        let done = split_delimited(raw, d, &mut rec);
        let f = (0..rec.len())
            .map(|i| String::from_utf8_lossy(rec.field(i).unwrap_or_default()).into_owned())
            .collect();
        (done, f)
    }

    #[test]
    fn splits_quoted_fields() {
        assert_eq!(
            fields(b"a,b,c", b','),
            (true, vec!["a".into(), "b".into(), "c".into()])
        );
        assert_eq!(
            fields(b"\"a,1\",\"say \"\"hi\"\"\",", b','),
            (true, vec!["a,1".into(), "say \"hi\"".into(), "".into()])
        );
        assert_eq!(
            fields(b"5\" screen,x", b','),
            (true, vec!["5\" screen".into(), "x".into()])
        );
        assert!(!fields(b"a,\"open", b',').0);
        assert_eq!(fields(b"", b',').1, vec![String::new()]);
    }

    #[test]
    fn sniffs_delimiters() {
        assert_eq!(
            sniff_delimiter(b"a,b,c\n1,2,3\n"),
            Some(Delimiter::Byte(b','))
        );
        assert_eq!(
            sniff_delimiter(b"a;b;c\n1;2,5;3\n"),
            Some(Delimiter::Byte(b';'))
        );
        assert_eq!(
            sniff_delimiter(b"a\tb\n1\t2\n"),
            Some(Delimiter::Byte(b'\t'))
        );
        assert_eq!(sniff_delimiter(b"a|b\n1|2\n"), Some(Delimiter::Byte(b'|')));
        assert_eq!(
            sniff_delimiter(b" 00004 0001 19970101  2   29.33\n 00004 0001 19970118  2   29.73\n"),
            Some(Delimiter::Whitespace)
        );
    }

    #[test]
    fn reads_multiline_records_with_line_numbers() {
        let data = b"id,text\n1,\"two\nlines\"\n\n2,plain\r\n3,\"never closed\n".to_vec();
        let mut r =
            DelimitedReader::new(Box::new(std::io::Cursor::new(data)), Delimiter::Byte(b','));
        let mut rec = RawRecord::default();
        let mut seen = Vec::new();
        while r.read(&mut rec).expect("in-memory read") {
            seen.push((
                rec.line,
                rec.len(),
                rec.error.is_some(),
                String::from_utf8_lossy(&rec.raw).into_owned(),
            ));
        }
        assert_eq!(seen[1], (2, 2, false, "1,\"two\nlines\"".into()));
        assert_eq!(seen[2], (5, 2, false, "2,plain".into()));
        assert_eq!(seen[3].0, 6);
        assert!(seen[3].2);
        assert_eq!(r.blank_lines, 1);
    }

    proptest! {
        #[test]
        fn quoting_round_trips(values in proptest::collection::vec("[a-z,\" \n]{0,8}", 1..6)) {
            let mut line = Vec::new();
            for (i, v) in values.iter().enumerate() {
                if i > 0 { line.push(b','); }
                line.push(b'"');
                line.extend_from_slice(v.replace('"', "\"\"").as_bytes());
                line.push(b'"');
            }
            let (done, got) = fields(&line, b',');
            prop_assert!(done);
            prop_assert_eq!(got, values);
        }

        #[test]
        fn whitespace_split_matches_split_and_filter(raw in proptest::collection::vec(
            prop_oneof![Just(b' '), Just(b'\t'), Just(b'a'), Just(b'\r'), any::<u8>()], 0..60)) {
            let mut rec = RawRecord::default();
            split_whitespace(&raw, &mut rec);
            let got: Vec<&[u8]> = (0..rec.len()).filter_map(|i| rec.field(i)).collect();
            let want: Vec<&[u8]> = raw
                .split(|b| *b == b' ' || *b == b'\t')
                .filter(|f| !f.is_empty())
                .collect();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn unquoted_lines_split_as_the_general_loop(raw in proptest::collection::vec(
            prop_oneof![Just(b','), Just(b';'), Just(b'a'), Just(b' '), any::<u8>()]
                .prop_map(|b| if b == b'"' { b'q' } else { b }), 0..60)) {
            let mut rec = RawRecord::default();
            prop_assert!(split_delimited(&raw, b',', &mut rec));
            let got: Vec<Vec<u8>> = (0..rec.len()).filter_map(|i| rec.field(i)).map(<[u8]>::to_vec).collect();
            // The general loop, on the same line with a quoted field after it (which the fast path
            // leaves alone), keeps the same fields before it.
            let mut quoted = raw.clone();
            quoted.extend_from_slice(b",\"q\"");
            split_delimited(&quoted, b',', &mut rec);
            let want: Vec<Vec<u8>> = (0..rec.len().saturating_sub(1)).filter_map(|i| rec.field(i)).map(<[u8]>::to_vec).collect();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = fields(&bytes, b',');
            let _ = sniff_delimiter(&bytes);
            let mut rec = RawRecord::default();
            split_whitespace(&bytes, &mut rec);
        }
    }
}
