//! A corpus of bad inputs. For every one: no panic, a clear message, and when the run completes,
//! read = accepted + duplicate + conflicting + rejected, with every refused row in the rejects file.

use std::io::Write;
use std::path::Path;

use tenure_store::{Delimiter, IngestOptions, IngestReport, OnConflict, Store};

const HEADER: &str = "order_id,customer_id,ordered_at,amount\n";

fn orders() -> IngestOptions {
    IngestOptions {
        table: "orders".into(),
        ..Default::default()
    }
}

/// What a case must produce.
enum Expect {
    /// The run completes with these (accepted, duplicate, conflicting, rejected) counts.
    Counts(u64, u64, u64, u64),
    /// The run is refused as a whole with a message containing this text.
    Error(&'static str),
}

struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    file: &'static str,
    opts: IngestOptions,
    expect: Expect,
}

fn csv(body: &str) -> Vec<u8> {
    format!("{HEADER}{body}").into_bytes()
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).expect("gzip in memory");
    e.finish().expect("gzip in memory")
}

fn cases() -> Vec<Case> {
    use Expect::{Counts, Error};
    let ok2 = "A1,c1,2024-01-02,10\nA2,c2,2024-01-03,20\n";
    let mut v = vec![
        Case { name: "truncated row", bytes: csv("A1,c1,2024-01-02,10\nA2,c2,2024-01\n"), file: "o.csv", opts: orders(), expect: Counts(1, 0, 0, 1) },
        Case { name: "extra columns", bytes: csv("A1,c1,2024-01-02,10,extra\nA2,c2,2024-01-03,20\n"), file: "o.csv", opts: orders(), expect: Counts(1, 0, 0, 1) },
        Case { name: "bad date", bytes: csv("A1,c1,2024-13-45,10\nA2,c2,2024-01-03,20\n"), file: "o.csv", opts: orders(), expect: Counts(1, 0, 0, 1) },
        Case { name: "impossible calendar date", bytes: csv("A1,c1,2023-02-29,10\n"), file: "o.csv", opts: orders(), expect: Counts(0, 0, 0, 1) },
        Case { name: "text in amount", bytes: csv("A1,c1,2024-01-02,ten dollars\nA2,c2,2024-01-03,20\n"), file: "o.csv", opts: orders(), expect: Counts(1, 0, 0, 1) },
        Case { name: "NaN and infinite amounts", bytes: csv("A1,c1,2024-01-02,NaN\nA2,c2,2024-01-03,inf\nA3,c3,2024-01-03,1e400\n"), file: "o.csv", opts: orders(), expect: Counts(0, 0, 0, 3) },
        Case { name: "implausible amount", bytes: csv("A1,c1,2024-01-02,1e20\n"), file: "o.csv", opts: orders(), expect: Counts(0, 0, 0, 1) },
        Case { name: "empty id", bytes: csv("A1,,2024-01-02,10\nA2,  ,2024-01-03,20\nA3,c3,2024-01-03,5\n"), file: "o.csv", opts: orders(), expect: Counts(1, 0, 0, 2) },
        Case { name: "duplicate key same content", bytes: csv("A1,c1,2024-01-02,10\nA1,c1,2024-01-02,10\n"), file: "o.csv", opts: orders(), expect: Counts(1, 1, 0, 0) },
        Case { name: "duplicate key different content", bytes: csv("A1,c1,2024-01-02,10\nA1,c1,2024-01-02,11\n"), file: "o.csv", opts: orders(), expect: Counts(1, 0, 1, 0) },
        Case { name: "duplicate key different content, replace", bytes: csv("A1,c1,2024-01-02,10\nA1,c1,2024-01-02,11\n"), file: "o.csv", opts: IngestOptions { on_conflict: OnConflict::Replace, ..orders() }, expect: Counts(1, 0, 1, 0) },
        Case { name: "identical rows without ids stay two", bytes: b"customer_id,ordered_at,amount\nc1,2024-01-02,10\nc1,2024-01-02,10\n".to_vec(), file: "o.csv", opts: orders(), expect: Counts(2, 0, 0, 0) },
        Case { name: "BOM", bytes: [b"\xef\xbb\xbf".as_slice(), &csv(ok2)].concat(), file: "o.csv", opts: orders(), expect: Counts(2, 0, 0, 0) },
        Case { name: "CRLF line ends", bytes: csv(ok2).iter().flat_map(|b| if *b == b'\n' { vec![b'\r', b'\n'] } else { vec![*b] }).collect(), file: "o.csv", opts: orders(), expect: Counts(2, 0, 0, 0) },
        Case { name: "invalid UTF-8 in a field", bytes: [csv("A1,c1,2024-01-02,10\n"), b"A2,c\xff2,2024-01-03,20\n".to_vec()].concat(), file: "o.csv", opts: orders(), expect: Counts(1, 0, 0, 1) },
        Case { name: "10 MB field", bytes: csv(&format!("A1,{},2024-01-02,10\nA2,c2,2024-01-03,20\n", "x".repeat(10 << 20))), file: "o.csv", opts: orders(), expect: Counts(1, 0, 0, 1) },
        Case { name: "empty file", bytes: Vec::new(), file: "o.csv", opts: orders(), expect: Error("empty") },
        Case { name: "whitespace-only file", bytes: b"\n\n  \n".to_vec(), file: "o.csv", opts: orders(), expect: Error("empty") },
        Case { name: "header only", bytes: HEADER.as_bytes().to_vec(), file: "o.csv", opts: orders(), expect: Counts(0, 0, 0, 0) },
        Case { name: "wrong delimiter forced", bytes: csv(ok2), file: "o.csv", opts: IngestOptions { delimiter: Some(Delimiter::Byte(b';')), ..orders() }, expect: Error("needs column `customer_id`") },
        Case { name: "semicolon file with decimal commas", bytes: b"order_id;customer_id;ordered_at;amount\nA1;c1;2024-01-02;10,50\n".to_vec(), file: "o.csv", opts: orders(), expect: Counts(1, 0, 0, 0) },
        Case { name: "future dates", bytes: csv("A1,c1,2999-01-02,10\nA2,c2,2024-01-03,20\n"), file: "o.csv", opts: orders(), expect: Counts(1, 0, 0, 1) },
        Case { name: "ancient dates", bytes: csv("A1,c1,1800-01-02,10\n"), file: "o.csv", opts: orders(), expect: Counts(0, 0, 0, 1) },
        Case { name: "unterminated quote at end", bytes: csv("A1,c1,2024-01-02,10\nA2,\"c2,2024-01-03,20\n"), file: "o.csv", opts: orders(), expect: Counts(1, 0, 0, 1) },
        Case { name: "quoted delimiter and newline", bytes: csv("\"A,1\",\"c\n1\",2024-01-02,\"1,234.50\"\n"), file: "o.csv", opts: orders(), expect: Counts(1, 0, 0, 0) },
        Case { name: "blank lines between rows", bytes: csv("A1,c1,2024-01-02,10\n\n\nA2,c2,2024-01-03,20\n"), file: "o.csv", opts: orders(), expect: Counts(2, 0, 0, 0) },
        Case { name: "negative amount is a return, zero is flagged", bytes: csv("A1,c1,2024-01-02,-10\nA2,c2,2024-01-03,0\n"), file: "o.csv", opts: orders(), expect: Counts(2, 0, 0, 0) },
        Case { name: "mixed date formats", bytes: csv("A1,c1,20240102,1\nA2,c1,2024-01-02 10:11:12,1\nA3,c1,1704189072,1\nA4,c1,2024-01-02T10:11:12+08:00,1\n"), file: "o.csv", opts: orders(), expect: Counts(4, 0, 0, 0) },
        Case { name: "gzip", bytes: gz(&csv(ok2)), file: "o.csv.gz", opts: orders(), expect: Counts(2, 0, 0, 0) },
        Case { name: "corrupt gzip", bytes: gz(&csv(&ok2.repeat(2000)))[..300].to_vec(), file: "o.csv.gz", opts: orders(), expect: Error("") },
        Case { name: "UTF-16 file", bytes: [b"\xff\xfe".as_slice(), b"o\0r\0"].concat(), file: "o.csv", opts: orders(), expect: Error("UTF-16") },
        Case { name: "binary garbage", bytes: (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect(), file: "o.csv", opts: orders(), expect: Error("") },
        Case { name: "missing required column", bytes: b"order_id,customer_id,amount\nA1,c1,10\n".to_vec(), file: "o.csv", opts: orders(), expect: Error("needs column `ordered_at`") },
        Case { name: "mapping to a column that does not exist", bytes: csv(ok2), file: "o.csv", opts: IngestOptions { map: vec![("amount".into(), "Total".into())], ..orders() }, expect: Error("no column `Total`") },
        Case { name: "mapping of a column we do not have", bytes: csv(ok2), file: "o.csv", opts: IngestOptions { map: vec![("price_usd".into(), "amount".into())], ..orders() }, expect: Error("has no column `price_usd`") },
        Case { name: "unknown table", bytes: csv(ok2), file: "o.csv", opts: IngestOptions { table: "invoices".into(), ..Default::default() }, expect: Error("unknown table") },
        Case { name: "tabs and spaces mixed, headerless", bytes: b"c1\t20240102  10\nc2 20240103\t\t20\n".to_vec(), file: "o.txt", opts: IngestOptions { map: vec![("customer_id".into(), "column1".into()), ("ordered_at".into(), "column2".into()), ("amount".into(), "column3".into())], ..orders() }, expect: Counts(2, 0, 0, 0) },
        Case { name: "JSONL with a broken line and wrong types", bytes: b"{\"order_id\":\"A1\",\"customer_id\":\"c1\",\"ordered_at\":\"2024-01-02\",\"amount\":10}\nnot json\n{\"order_id\":\"A2\",\"customer_id\":7,\"ordered_at\":\"2024-01-02\",\"amount\":\"x\"}\n[1,2]\n".to_vec(), file: "o.jsonl", opts: orders(), expect: Counts(1, 0, 0, 3) },
        Case { name: "JSON that is not JSON Lines", bytes: b"[{\"a\":1}]".to_vec(), file: "o.jsonl", opts: orders(), expect: Error("JSON") },
        Case { name: "not a parquet file", bytes: csv(ok2), file: "o.parquet", opts: orders(), expect: Error("Parquet") },
        Case { name: "rating out of range", bytes: b"review_id,customer_id,text,created_at,rating\nR1,c1,great,2024-01-02,5\nR2,c1,meh,2024-01-02,9\n".to_vec(), file: "r.csv", opts: IngestOptions { table: "reviews".into(), ..Default::default() }, expect: Counts(1, 0, 0, 1) },
        Case { name: "invalid JSON attributes", bytes: b"customer_id,attributes\nc1,{\"vip\":true}\nc2,{vip}\n".to_vec(), file: "c.csv", opts: IngestOptions { table: "customers".into(), ..Default::default() }, expect: Counts(1, 0, 0, 1) },
        Case { name: "Chinese text and column names", bytes: "订单号,用户id,下单时间,金额\nA1,张三,2024-01-02,¥12.50\n".as_bytes().to_vec(), file: "o.csv", opts: orders(), expect: Counts(1, 0, 0, 0) },
    ];
    v.push(Case {
        name: "quote inside an unquoted field",
        bytes: csv("A1,c1 \"vip\",2024-01-02,10\n"),
        file: "o.csv",
        opts: orders(),
        expect: Counts(1, 0, 0, 0),
    });
    v
}

fn run_case(dir: &Path, case: &Case) -> Result<IngestReport, String> {
    let store = Store::init(dir).map_err(|e| e.to_string())?;
    let path = dir.join(case.file);
    std::fs::write(&path, &case.bytes).map_err(|e| e.to_string())?;
    let before = store.count("orders").map_err(|e| e.to_string())?;
    let res = store
        .ingest(&path, &case.opts, &mut |_| {})
        .map_err(|e| e.to_string());
    if res.is_err() {
        assert_eq!(
            store.count("orders").map_err(|e| e.to_string())?,
            before,
            "{}: a refused run stored rows",
            case.name
        );
    }
    res
}

#[test]
fn bad_input_corpus() {
    let cases = cases();
    assert!(
        cases.len() >= 25,
        "the corpus must cover at least 25 kinds of bad input"
    );
    for case in &cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let got = run_case(dir.path(), case);
        match (&case.expect, got) {
            (Expect::Counts(a, d, c, r), Ok(rep)) => {
                assert!(
                    rep.balanced(),
                    "{}: counts do not add up: {rep:?}",
                    case.name
                );
                assert_eq!(
                    (rep.accepted, rep.duplicate, rep.conflicting, rep.rejected),
                    (*a, *d, *c, *r),
                    "{}: {rep:#?}",
                    case.name
                );
                // Each case starts from an empty store, so no conflicting row is ever applied over a stored one.
                let refused = rep.rejected + rep.conflicting;
                match &rep.rejects_file {
                    Some(f) => {
                        let mut rdr = csv::ReaderBuilder::new()
                            .from_path(f)
                            .expect("rejects file is CSV");
                        let rows: Vec<csv::ByteRecord> =
                            rdr.byte_records().map(|r| r.expect("record")).collect();
                        assert_eq!(
                            rows.len() as u64,
                            refused,
                            "{}: rejects file rows",
                            case.name
                        );
                        for row in &rows {
                            assert!(
                                !row[2].is_empty(),
                                "{}: a reject without a reason",
                                case.name
                            );
                            assert!(std::str::from_utf8(&row[0])
                                .expect("line")
                                .parse::<u64>()
                                .is_ok());
                        }
                    }
                    None => assert_eq!(
                        refused, 0,
                        "{}: refused rows but no rejects file",
                        case.name
                    ),
                }
            }
            (Expect::Error(text), Err(msg)) => {
                assert!(
                    msg.contains(text),
                    "{}: message `{msg}` should mention `{text}`",
                    case.name
                );
                assert!(msg.len() > 20, "{}: message too terse: {msg}", case.name);
            }
            (Expect::Counts(..), Err(msg)) => {
                panic!("{}: expected a completed run, got error: {msg}", case.name)
            }
            (Expect::Error(_), Ok(rep)) => {
                // A garbage file may also "complete" with everything rejected; that is fine if nothing was stored.
                assert!(rep.balanced(), "{}", case.name);
                assert_eq!(
                    rep.accepted, 0,
                    "{}: garbage stored rows: {rep:?}",
                    case.name
                );
            }
        }
    }
}

#[test]
fn rejects_file_keeps_line_field_reason_and_raw_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::init(dir.path()).expect("init");
    let path = dir.path().join("o.csv");
    std::fs::write(
        &path,
        csv("A1,c1,2024-01-02,10\nA2,c2,not-a-date,20\n\"A3\",c3,2024-01-02,abc\n"),
    )
    .expect("write");
    let rep = store.ingest(&path, &orders(), &mut |_| {}).expect("run");
    let f = rep.rejects_file.expect("rejects written");
    assert!(f
        .file_name()
        .expect("name")
        .to_string_lossy()
        .starts_with(&format!("{}-orders", rep.run_id)));
    let text = std::fs::read_to_string(f).expect("read");
    assert!(text.contains("3,ordered_at,"), "{text}");
    assert!(text.contains("A2,c2,not-a-date,20"), "{text}");
    assert!(text.contains("4,amount,not a number"), "{text}");
    assert!(
        text.contains("\"\"\"A3\"\",c3,2024-01-02,abc\""),
        "raw line kept with its quotes: {text}"
    );
}

#[test]
fn returns_zero_amounts_and_unknown_customers_are_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::init(dir.path()).expect("init");
    let cust = dir.path().join("c.csv");
    std::fs::write(&cust, "customer_id,email\nc1,a@example.com\n").expect("write");
    store
        .ingest(
            &cust,
            &IngestOptions {
                table: "customers".into(),
                ..Default::default()
            },
            &mut |_| {},
        )
        .expect("customers");
    let path = dir.path().join("o.csv");
    std::fs::write(
        &path,
        csv("A1,c1,2024-01-02,-10\nA2,c9,2024-01-03,0\nA3,c1,2024-01-03,5\n"),
    )
    .expect("write");
    let rep = store.ingest(&path, &orders(), &mut |_| {}).expect("run");
    assert_eq!(
        (
            rep.accepted,
            rep.returns,
            rep.zero_amount,
            rep.unknown_parent
        ),
        (3, 1, 1, 1),
        "{rep:?}"
    );
    assert!(rep.warnings.iter().any(|w| w.contains("not in customers")));
}
