//! CSV output: one buffered writer per table, and allocation-free formatting of timestamps and money.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// One output table: a CSV writer over a buffered file, written a field at a time.
pub(crate) struct Table {
    path: PathBuf,
    w: csv::Writer<BufWriter<File>>,
    scratch: String,
}

impl Table {
    /// Creates `dir/name` and writes the header row.
    pub(crate) fn create(dir: &Path, name: &str, header: &[&str]) -> Result<Table> {
        let path = dir.join(name);
        let file = File::create(&path).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
        let w = csv::WriterBuilder::new().from_writer(BufWriter::with_capacity(1 << 18, file));
        let mut t = Table {
            path,
            w,
            scratch: String::with_capacity(64),
        };
        for h in header {
            t.field(h)?;
        }
        t.end()?;
        Ok(t)
    }

    /// Writes one field of the current row, quoted when needed (RFC 4180).
    #[inline]
    pub(crate) fn field(&mut self, f: impl AsRef<[u8]>) -> Result<()> {
        self.w.write_field(f).map_err(|e| csv_error(&self.path, e))
    }

    /// Writes one formatted field, through a buffer reused across rows.
    #[inline]
    pub(crate) fn field_fmt(&mut self, args: std::fmt::Arguments<'_>) -> Result<()> {
        use std::fmt::Write;
        self.scratch.clear();
        let _ = self.scratch.write_fmt(args);
        self.w
            .write_field(self.scratch.as_bytes())
            .map_err(|e| csv_error(&self.path, e))
    }

    /// Writes a timestamp field, `YYYY-MM-DDTHH:MM:SSZ`.
    #[inline]
    pub(crate) fn field_ts(&mut self, secs: i64) -> Result<()> {
        self.field(ts(secs))
    }

    /// Writes an id field: `prefix` and `n` zero-padded to `width` digits.
    #[inline]
    pub(crate) fn field_id(&mut self, prefix: char, n: u64, width: usize) -> Result<()> {
        self.scratch.clear();
        push_id(&mut self.scratch, prefix, n, width);
        self.w
            .write_field(self.scratch.as_bytes())
            .map_err(|e| csv_error(&self.path, e))
    }

    /// Writes an amount in cents as `units.cc`.
    #[inline]
    pub(crate) fn field_cents(&mut self, cents: i64) -> Result<()> {
        self.scratch.clear();
        push_cents(&mut self.scratch, cents);
        self.w
            .write_field(self.scratch.as_bytes())
            .map_err(|e| csv_error(&self.path, e))
    }

    /// Ends the current row.
    #[inline]
    pub(crate) fn end(&mut self) -> Result<()> {
        self.w
            .write_record(None::<&[u8]>)
            .map_err(|e| csv_error(&self.path, e))
    }

    /// Flushes the CSV buffer and the file buffer to the operating system.
    pub(crate) fn finish(mut self) -> Result<()> {
        self.w.flush().map_err(|source| Error::Write {
            path: self.path,
            source,
        })
    }
}

fn csv_error(path: &Path, e: csv::Error) -> Error {
    let source = match e.into_kind() {
        csv::ErrorKind::Io(io) => io,
        other => std::io::Error::other(format!("{other:?}")),
    };
    Error::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// Civil date (year, month, day) of a day count since 1970-01-01 (Hinnant, "chrono-Compatible Low-Level
/// Date Algorithms", `civil_from_days`).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn push2(b: &mut [u8], at: usize, v: u32) {
    b[at] = b'0' + (v / 10 % 10) as u8;
    b[at + 1] = b'0' + (v % 10) as u8;
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the Unix epoch (years 0 to 9999).
pub(crate) fn ts(secs: i64) -> [u8; 20] {
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400) as u32;
    let mut b = *b"0000-00-00T00:00:00Z";
    let y = y.clamp(0, 9999) as u32;
    push2(&mut b, 0, y / 100);
    push2(&mut b, 2, y % 100);
    push2(&mut b, 5, mo);
    push2(&mut b, 8, d);
    push2(&mut b, 11, s / 3600);
    push2(&mut b, 14, s / 60 % 60);
    push2(&mut b, 17, s % 60);
    b
}

/// Appends an amount in cents as `units.cc` (with a leading `-` when negative).
pub(crate) fn push_cents(buf: &mut String, cents: i64) {
    use std::fmt::Write;
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    let _ = write!(buf, "{sign}{}.{:02}", c / 100, c % 100);
}

/// Appends `prefix` and `n` zero-padded to `width` digits.
pub(crate) fn push_id(buf: &mut String, prefix: char, n: u64, width: usize) {
    use std::fmt::Write;
    buf.push(prefix);
    let _ = write!(buf, "{n:0width$}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    #[test]
    fn timestamps_match_chrono() {
        for secs in [
            0,
            1,
            86_399,
            86_400,
            951_782_400,
            1_700_000_000,
            1_709_210_096,
            4_102_444_799,
            -1,
            -2_208_988_800,
        ] {
            let want = DateTime::from_timestamp(secs, 0)
                .expect("in range")
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string();
            assert_eq!(
                std::str::from_utf8(&ts(secs)).expect("ascii"),
                want,
                "{secs}"
            );
        }
    }

    #[test]
    fn cents_format() {
        let mut s = String::new();
        for c in [0, 5, 99, 100, 123_456, -250] {
            push_cents(&mut s, c);
            s.push(' ');
        }
        assert_eq!(s, "0.00 0.05 0.99 1.00 1234.56 -2.50 ");
    }

    #[test]
    fn ids_are_padded() {
        let mut s = String::new();
        push_id(&mut s, 'C', 42, 8);
        assert_eq!(s, "C00000042");
    }
}
