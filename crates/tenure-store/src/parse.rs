//! Field parsers for ingest: timestamps, amounts, integers, booleans.
//!
//! They are pure, allocation-free on the common paths, and return a short reason on failure so the
//! rejects file can say exactly why a value was refused. Timestamps come back as wall-clock time in the
//! project's time zone (see [`TimeZone`]); inputs that carry an offset or are epoch instants are
//! converted into that zone, naive inputs are taken as already in it.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone as _, Utc};
use chrono_tz::Tz;

/// The project's time zone: where "a day" begins and ends for every as-of feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone(pub Tz);

impl Default for TimeZone {
    fn default() -> Self {
        TimeZone(Tz::UTC)
    }
}

impl TimeZone {
    /// Parse an IANA name such as `Asia/Shanghai` or `UTC`.
    pub fn parse(name: &str) -> Option<Self> {
        name.parse::<Tz>().ok().map(TimeZone)
    }

    /// The wall-clock time in this zone of an instant.
    fn local(&self, instant: DateTime<Utc>) -> NaiveDateTime {
        instant.with_timezone(&self.0).naive_local()
    }

    /// Convert a wall-clock time at a fixed offset (seconds east of UTC) into this zone.
    fn at_offset(&self, naive: NaiveDateTime, offset_secs: i32) -> Option<NaiveDateTime> {
        let utc = naive.checked_sub_signed(chrono::Duration::seconds(i64::from(offset_secs)))?;
        if self.0 == Tz::UTC {
            return Some(utc);
        }
        Some(self.local(Utc.from_utc_datetime(&utc)))
    }

    /// The zone's IANA name, for messages and the run record.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// Wall-clock now in this zone.
    pub fn now(&self) -> NaiveDateTime {
        self.local(Utc::now())
    }
}

/// Earliest timestamp accepted: anything before is almost surely a parsing accident (e.g. a zero date).
pub const MIN_YEAR: i32 = 1900;
/// Latest year accepted at all (future dates beyond "now" are checked separately at ingest).
pub const MAX_YEAR: i32 = 2200;

/// Parse a timestamp in one of the accepted forms.
///
/// Accepted, in this order: `format` when given (a chrono strftime string, date-only or date-time);
/// `YYYYMMDD`; `YYYYMMDDHHMMSS`; epoch seconds (9–10 digits, optional fraction) and epoch milliseconds
/// (13 digits); ISO-8601 / RFC 3339 `YYYY-MM-DD[T| ]HH:MM[:SS[.f]][Z|±HH[:]MM]` and `YYYY-MM-DD`;
/// `YYYY/MM/DD[ HH:MM[:SS]]`; and US `M/D/YYYY[ H:MM[:SS]]` (use `format` for day-first files).
pub fn parse_timestamp(
    s: &str,
    tz: TimeZone,
    format: Option<&str>,
) -> Result<NaiveDateTime, &'static str> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty timestamp");
    }
    let ts = match format {
        Some(f) => NaiveDateTime::parse_from_str(s, f)
            .or_else(|_| NaiveDate::parse_from_str(s, f).map(|d| d.and_time(NaiveTime::MIN)))
            .map_err(|_| "timestamp does not match the configured date format")?,
        None => parse_auto(s, tz)?,
    };
    let year = chrono::Datelike::year(&ts);
    if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
        return Err("timestamp year out of range 1900-2200");
    }
    Ok(ts)
}

fn parse_auto(s: &str, tz: TimeZone) -> Result<NaiveDateTime, &'static str> {
    let b = s.as_bytes();
    if b.iter().all(|c| c.is_ascii_digit() || *c == b'.') {
        return parse_digits(s, b, tz);
    }
    if b.len() >= 10 && b[4] == b'-' && b[7] == b'-' {
        return parse_iso(b, tz).ok_or("not a valid ISO-8601 date or date-time");
    }
    const FORMATS: [&str; 6] = [
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
        "%m/%d/%Y %H:%M:%S",
        "%m/%d/%Y %H:%M",
        "%d.%m.%Y %H:%M:%S",
        "%d.%m.%Y %H:%M",
    ];
    for f in FORMATS {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(t);
        }
    }
    for f in ["%Y/%m/%d", "%m/%d/%Y", "%d.%m.%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return Ok(d.and_time(NaiveTime::MIN));
        }
    }
    if let Ok(t) = DateTime::parse_from_rfc2822(s) {
        return tz
            .at_offset(t.naive_utc(), 0)
            .ok_or("timestamp out of range");
    }
    Err("unrecognised date format (expected ISO-8601, YYYYMMDD, YYYY-MM-DD HH:MM:SS or epoch seconds; set date_format in tenure.toml for others)")
}

fn parse_digits(s: &str, b: &[u8], tz: TimeZone) -> Result<NaiveDateTime, &'static str> {
    let has_dot = b.contains(&b'.');
    match (b.len(), has_dot) {
        (8, false) => {
            let y = num(&b[0..4]) as i32;
            let m = num(&b[4..6]);
            let d = num(&b[6..8]);
            NaiveDate::from_ymd_opt(y, m, d)
                .map(|d| d.and_time(NaiveTime::MIN))
                .ok_or("YYYYMMDD date is not a real calendar date")
        }
        (14, false) => {
            let date = NaiveDate::from_ymd_opt(num(&b[0..4]) as i32, num(&b[4..6]), num(&b[6..8]))
                .ok_or("YYYYMMDDHHMMSS is not a real calendar date")?;
            let time = NaiveTime::from_hms_opt(num(&b[8..10]), num(&b[10..12]), num(&b[12..14]))
                .ok_or("YYYYMMDDHHMMSS has an invalid time")?;
            Ok(date.and_time(time))
        }
        (13, false) => {
            let ms: i64 = s.parse().map_err(|_| "bad epoch milliseconds")?;
            DateTime::from_timestamp_millis(ms)
                .map(|t| tz.local(t))
                .ok_or("epoch milliseconds out of range")
        }
        _ => {
            let secs: f64 = s.parse().map_err(|_| "bad epoch seconds")?;
            let int_len = s.split('.').next().map_or(0, str::len);
            if !(9..=10).contains(&int_len) || !secs.is_finite() {
                return Err("number is not a date (expected YYYYMMDD or 9-10 digit epoch seconds)");
            }
            let whole = secs.floor();
            let nanos = ((secs - whole) * 1e9).round() as u32;
            DateTime::from_timestamp(whole as i64, nanos.min(999_999_999))
                .map(|t| tz.local(t))
                .ok_or("epoch seconds out of range")
        }
    }
}

/// Value of ASCII digits (callers guarantee they are digits).
fn num(b: &[u8]) -> u32 {
    b.iter().fold(0u32, |a, c| a * 10 + u32::from(c - b'0'))
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.iter().all(u8::is_ascii_digit) {
        Some(num(b))
    } else {
        None
    }
}

/// Hand-rolled ISO-8601 because it is the hot path at ingest (millions of rows).
fn parse_iso(b: &[u8], tz: TimeZone) -> Option<NaiveDateTime> {
    let date = NaiveDate::from_ymd_opt(
        digits(&b[0..4])? as i32,
        digits(&b[5..7])?,
        digits(&b[8..10])?,
    )?;
    let mut rest = &b[10..];
    if rest.is_empty() {
        return Some(date.and_time(NaiveTime::MIN));
    }
    if rest[0] != b'T' && rest[0] != b' ' {
        return None;
    }
    rest = &rest[1..];
    if rest.len() < 5 || rest[2] != b':' {
        return None;
    }
    let h = digits(&rest[0..2])?;
    let mi = digits(&rest[3..5])?;
    rest = &rest[5..];
    let mut sec = 0;
    let mut nanos = 0u32;
    if rest.first() == Some(&b':') {
        sec = digits(rest.get(1..3)?)?;
        rest = &rest[3..];
        if rest.first() == Some(&b'.') || rest.first() == Some(&b',') {
            let frac_len = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if frac_len == 0 {
                return None;
            }
            let frac = &rest[1..1 + frac_len];
            let mut n = 0u32;
            for (i, c) in frac.iter().take(9).enumerate() {
                n += u32::from(c - b'0') * 10u32.pow(8 - i as u32);
            }
            nanos = n;
            rest = &rest[1 + frac_len..];
        }
    }
    let naive = date.and_time(NaiveTime::from_hms_nano_opt(h, mi, sec, nanos)?);
    let rest = trim_ascii(rest);
    if rest.is_empty() {
        return Some(naive);
    }
    if rest == b"Z" || rest == b"z" || rest == b"UTC" {
        return tz.at_offset(naive, 0);
    }
    let sign = match rest[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let off = &rest[1..];
    let (oh, om) = match off.len() {
        2 => (digits(off)?, 0),
        4 => (digits(&off[0..2])?, digits(&off[2..4])?),
        5 if off[2] == b':' => (digits(&off[0..2])?, digits(&off[3..5])?),
        _ => return None,
    };
    if oh > 23 || om > 59 {
        return None;
    }
    tz.at_offset(naive, sign * (oh as i32 * 3600 + om as i32 * 60))
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

/// Parse a money amount. Accepts a leading or trailing currency sign (`$ € £ ¥ ￥`), a decimal comma
/// when there is no point (`12,50`), and thousands commas when there is one (`1,234.50`).
pub fn parse_amount(s: &str) -> Result<f64, &'static str> {
    // The common shape (`-12.50`): plain digits, sign and point, no currency, no commas.
    let b = s.as_bytes();
    if let Some(v) = plain_decimal(b) {
        return check_amount(v);
    }
    if !b.is_empty()
        && b.len() <= 24
        && b.iter()
            .all(|c| c.is_ascii_digit() || *c == b'.' || *c == b'-')
    {
        if let Ok(v) = s.parse::<f64>() {
            return check_amount(v);
        }
    }
    let t = s
        .trim()
        .trim_start_matches(['$', '€', '£', '¥', '￥'])
        .trim_end_matches(['$', '€', '£', '¥', '￥'])
        .trim();
    if t.is_empty() {
        return Err("empty amount");
    }
    let v = if t.contains(',') {
        let cleaned: String = if t.contains('.') {
            t.chars().filter(|c| *c != ',').collect()
        } else {
            t.replace(',', ".")
        };
        cleaned.parse::<f64>()
    } else {
        t.parse::<f64>()
    }
    .map_err(|_| "not a number")?;
    check_amount(v)
}

/// Powers of ten that are exact in an `f64`.
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// [`parse_amount`] of a plain decimal (see `plain_decimal`), given as bytes; `None` for any other
/// shape, which [`parse_amount`] then reads.
pub(crate) fn plain_amount(b: &[u8]) -> Option<Result<f64, &'static str>> {
    plain_decimal(b).map(check_amount)
}

/// `s.parse::<f64>()` for the plain shape `-?D+(.D+)?` with at most 15 digits in all, and `None`
/// for anything else. Such a value is an integer below 2^53 divided by a power of ten up to 10^15,
/// both exact in an `f64`, so the one IEEE division is correctly rounded: the same bits as the
/// standard parser (Clinger's fast path), at a fraction of its cost on the hot path of ingest.
fn plain_decimal(b: &[u8]) -> Option<f64> {
    let (negative, rest) = match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, b),
    };
    if rest.len() > 16 {
        return None; // more than 15 digits and a point
    }
    // At most 15 digits: no step can overflow, so the arithmetic need not be checked.
    let mut mantissa: u64 = 0;
    let mut point: Option<usize> = None;
    for (i, &c) in rest.iter().enumerate() {
        if c.is_ascii_digit() {
            mantissa = mantissa
                .wrapping_mul(10)
                .wrapping_add(u64::from(c.wrapping_sub(b'0')));
        } else if c == b'.' && point.is_none() && i > 0 {
            point = Some(i);
        } else {
            return None;
        }
    }
    let digits = rest.len() - usize::from(point.is_some());
    let decimals = point.map_or(0, |p| rest.len() - p - 1);
    if digits == 0 || digits > 15 || (point.is_some() && decimals == 0) {
        return None;
    }
    let v = mantissa as f64 / POW10.get(decimals)?;
    Some(if negative { -v } else { v })
}

fn check_amount(v: f64) -> Result<f64, &'static str> {
    if !v.is_finite() {
        return Err("amount is not finite");
    }
    if v.abs() > 1e12 {
        return Err("amount is implausibly large (over 1e12)");
    }
    Ok(v)
}

/// Parse an integer; `3.0` is accepted as 3, `3.5` is not.
pub fn parse_int(s: &str) -> Result<i64, &'static str> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty integer");
    }
    if let Ok(v) = t.parse::<i64>() {
        return Ok(v);
    }
    match t.parse::<f64>() {
        Ok(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
        Ok(_) => Err("not a whole number"),
        Err(_) => Err("not an integer"),
    }
}

/// Parse a boolean: true/false, t/f, yes/no, y/n, 1/0 (any case).
pub fn parse_bool(s: &str) -> Result<bool, &'static str> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "1" => Ok(true),
        "false" | "f" | "no" | "n" | "0" => Ok(false),
        _ => Err("not a boolean (expected true/false, yes/no or 1/0)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ts(s: &str) -> Result<NaiveDateTime, &'static str> {
        parse_timestamp(s, TimeZone::default(), None)
    }

    fn dt(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|d| d.and_hms_opt(h, mi, s))
            .expect("valid test date")
    }

    #[test]
    fn accepts_the_documented_forms() {
        assert_eq!(ts("19970101"), Ok(dt(1997, 1, 1, 0, 0, 0)));
        assert_eq!(ts("1997-01-01"), Ok(dt(1997, 1, 1, 0, 0, 0)));
        assert_eq!(ts("1997-01-01 10:11:12"), Ok(dt(1997, 1, 1, 10, 11, 12)));
        assert_eq!(ts("1997-01-01T10:11:12Z"), Ok(dt(1997, 1, 1, 10, 11, 12)));
        assert_eq!(ts("1997-01-01T10:11"), Ok(dt(1997, 1, 1, 10, 11, 0)));
        assert_eq!(
            ts("1997-01-01T10:11:12+02:00"),
            Ok(dt(1997, 1, 1, 8, 11, 12))
        );
        assert_eq!(
            ts("1997-01-01T10:11:12.250-0100"),
            ts("1997-01-01T11:11:12.25Z")
        );
        assert_eq!(ts("852076800"), Ok(dt(1997, 1, 1, 0, 0, 0)));
        assert_eq!(
            ts("852076800000"),
            Err("number is not a date (expected YYYYMMDD or 9-10 digit epoch seconds)")
        );
        assert_eq!(ts("0852076800000"), Ok(dt(1997, 1, 1, 0, 0, 0)));
        assert_eq!(ts("12/1/2010 8:26"), Ok(dt(2010, 12, 1, 8, 26, 0)));
        assert_eq!(ts("2010/12/01"), Ok(dt(2010, 12, 1, 0, 0, 0)));
        assert_eq!(ts("19970101101112"), Ok(dt(1997, 1, 1, 10, 11, 12)));
    }

    #[test]
    fn offsets_convert_into_the_project_zone() {
        let sh = TimeZone::parse("Asia/Shanghai").expect("known zone");
        let t = parse_timestamp("2024-03-01T00:30:00Z", sh, None);
        assert_eq!(t, Ok(dt(2024, 3, 1, 8, 30, 0)));
        // Naive inputs are already wall-clock time in the project zone.
        assert_eq!(
            parse_timestamp("2024-03-01 00:30:00", sh, None),
            Ok(dt(2024, 3, 1, 0, 30, 0))
        );
    }

    #[test]
    fn refuses_nonsense_with_a_reason() {
        assert!(ts("19971301").is_err());
        assert!(ts("1997-02-30").is_err());
        assert!(ts("yesterday").is_err());
        assert!(ts("").is_err());
        assert!(ts("18000101").is_err());
        assert!(ts("1997-01-01T25:00:00").is_err());
        assert!(ts("1997-01-01T10:00:00+99:00").is_err());
    }

    #[test]
    fn custom_format() {
        let t = parse_timestamp("01/12/2010", TimeZone::default(), Some("%d/%m/%Y"));
        assert_eq!(t, Ok(dt(2010, 12, 1, 0, 0, 0)));
    }

    #[test]
    fn amounts() {
        assert_eq!(parse_amount("29.33"), Ok(29.33));
        assert_eq!(parse_amount(" $1,234.50 "), Ok(1234.5));
        assert_eq!(parse_amount("12,50€"), Ok(12.5));
        assert_eq!(parse_amount("-3"), Ok(-3.0));
        assert!(parse_amount("abc").is_err());
        assert!(parse_amount("NaN").is_err());
        assert!(parse_amount("inf").is_err());
        assert!(parse_amount("").is_err());
    }

    #[test]
    fn ints_and_bools() {
        assert_eq!(parse_int("3.0"), Ok(3));
        assert!(parse_int("3.5").is_err());
        assert_eq!(parse_bool("Yes"), Ok(true));
        assert!(parse_bool("maybe").is_err());
    }

    proptest! {
        #[test]
        fn iso_round_trips(secs in 0i64..4_000_000_000i64) {
            let t = DateTime::from_timestamp(secs, 0).expect("in range").naive_utc();
            let s = t.format("%Y-%m-%dT%H:%M:%S").to_string();
            prop_assert_eq!(ts(&s), Ok(t));
            let s2 = t.format("%Y-%m-%d %H:%M:%S").to_string();
            prop_assert_eq!(ts(&s2), Ok(t));
            prop_assert_eq!(ts(&secs.to_string()).ok().filter(|_| secs >= 100_000_000), (secs >= 100_000_000).then_some(t));
        }

        #[test]
        fn never_panics_on_any_string(s in "\\PC{0,40}") {
            let _ = ts(&s);
            let _ = parse_amount(&s);
            let _ = parse_int(&s);
            let _ = parse_bool(&s);
        }

        #[test]
        fn never_panics_on_date_like_bytes(s in "[0-9:T +Z./-]{0,30}") {
            let _ = ts(&s);
        }

        #[test]
        fn plain_decimals_parse_as_the_standard_parser(s in "-?[0-9]{0,17}(\\.[0-9]{0,17})?") {
            if let Some(v) = plain_decimal(s.as_bytes()) {
                let want: f64 = s.parse().expect("a plain decimal parses");
                prop_assert_eq!(v.to_bits(), want.to_bits(), "{}", s);
            }
        }

        #[test]
        fn plain_decimals_of_printed_amounts(cents in -100_000_000_000i64..100_000_000_000i64, scale in 0u32..6) {
            let s = format!("{}", cents as f64 / 10f64.powi(scale as i32));
            let want: f64 = s.parse().expect("printed");
            if let Some(v) = plain_decimal(s.as_bytes()) {
                prop_assert_eq!(v.to_bits(), want.to_bits(), "{}", s);
            }
            prop_assert_eq!(parse_amount(&s).ok().map(f64::to_bits), check_amount(want).ok().map(f64::to_bits));
        }

        #[test]
        fn amounts_round_trip(v in -1e9f64..1e9f64) {
            let s = format!("{v}");
            prop_assert_eq!(parse_amount(&s), Ok(v));
        }
    }
}
