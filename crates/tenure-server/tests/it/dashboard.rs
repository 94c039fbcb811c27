//! The dashboard over real HTTP on loopback, on its own small project: a generated shop (with
//! reviews and personal data) plus a customer whose id is an HTML injection attempt.

use std::net::SocketAddr;
use std::sync::OnceLock;

use tenure_engine::store::{IngestOptions, Store};
use tenure_server::{AppState, LogSink, Scope, ServeOptions};

use crate::common::{enc, send_headers, spawn};

const HOSTILE: &str = "<script>alert(\"x\")</script>&'";

struct Shop {
    addr: SocketAddr,
    key: String,
    /// The sentiment table's row of the newest month, as expected.
    sentiment_row: String,
    /// A customer who wrote a review.
    reviewer: String,
    _dir: tempfile::TempDir,
}

static SHOP: OnceLock<Shop> = OnceLock::new();

fn shop() -> &'static Shop {
    SHOP.get_or_init(|| build().expect("build the dashboard fixture"))
}

fn build() -> Result<Shop, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let params = tenure_engine::sim::SimParams {
        customers: 300,
        seed: 7,
        ..Default::default()
    };
    tenure_engine::sim::generate(&params, &data, &mut |_| {})?;
    let hostile = dir.path().join("hostile.csv");
    let quoted = HOSTILE.replace('"', "\"\"");
    std::fs::write(
        &hostile,
        format!(
            "order_id,customer_id,ordered_at,amount\nH1,\"{quoted}\",2024-01-05T10:00:00Z,25.50\nH2,\"{quoted}\",2024-03-05T10:00:00Z,30.00\n"
        ),
    )?;
    let project = dir.path().join("project");
    let store = Store::init(&project)?;
    for (file, table) in [
        (data.join("customers.csv"), "customers"),
        (data.join("orders.csv"), "orders"),
        (hostile, "orders"),
        (data.join("reviews.csv"), "reviews"),
    ] {
        store.ingest(
            &file,
            &IngestOptions {
                table: table.into(),
                ..Default::default()
            },
            &mut |_| {},
        )?;
    }
    // What a sentiment head would write: positive for 4-5 stars (P 0.9), negative otherwise (P 0.8).
    let reviews = reviews(&store)?;
    let rows: Vec<_> = reviews
        .iter()
        .map(|r| tenure_engine::store::ReviewAnalysisRow {
            review_id: r.id.clone(),
            label: if r.rating >= 4 {
                "positive"
            } else {
                "negative"
            }
            .into(),
            probability: if r.rating >= 4 { 0.9 } else { 0.8 },
        })
        .collect();
    store.replace_review_analysis("test-head", chrono::Utc::now().naive_utc(), &rows)?;
    let mut by_month: std::collections::BTreeMap<&str, (f64, f64, i64)> = Default::default();
    for r in &reviews {
        let e = by_month.entry(&r.month).or_default();
        e.0 += r.rating as f64;
        // P(positive): the probability of a positive label, 1 − it for a negative one.
        e.1 += if r.rating >= 4 { 0.9 } else { 1.0 - 0.8 };
        e.2 += 1;
    }
    let (month, (sum_rating, sum_pos, n)) = by_month.iter().next_back().ok_or("no reviews")?;
    let sentiment_row = format!(
        "<td class=\"l\">{month}</td><td>{n}</td><td>{:.2}</td><td>{:.3}</td>",
        sum_rating / *n as f64,
        sum_pos / *n as f64
    );
    tenure_engine::score_value(
        &store,
        &tenure_engine::ValueOptions {
            interval_resamples: Some(0),
            ..Default::default()
        },
    )?;
    tenure_engine::write_narratives(&store, None, chrono::Utc::now().naive_utc())?;
    let reviewer =
        tenure_engine::rows_json(&store.query_arrow("SELECT min(customer_id) AS c FROM reviews")?)?
            .first()
            .and_then(|r| r.get("c")?.as_str().map(str::to_string))
            .ok_or("no reviewer")?;
    let key = tenure_server::create_key(
        &store,
        Scope::Read,
        Some("ui"),
        chrono::Utc::now().naive_utc(),
    )?
    .token;
    let state = AppState::from_store(
        store,
        ServeOptions {
            workers: 2,
            log: LogSink::Off,
            ..Default::default()
        },
    )?;
    let addr = spawn(state)?;
    Ok(Shop {
        addr,
        key,
        sentiment_row,
        reviewer,
        _dir: dir,
    })
}

struct Review {
    id: String,
    month: String,
    rating: i64,
}

fn reviews(store: &Store) -> Result<Vec<Review>, Box<dyn std::error::Error>> {
    let rows = tenure_engine::rows_json(&store.query_arrow(
        "SELECT review_id, strftime(created_at, '%Y-%m') AS month, rating FROM reviews WHERE rating IS NOT NULL",
    )?)?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some(Review {
                id: r.get("review_id")?.as_str()?.to_string(),
                month: r.get("month")?.as_str()?.to_string(),
                rating: r.get("rating")?.as_i64()?,
            })
        })
        .collect())
}

struct Resp {
    status: u16,
    head: String,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<String> {
        self.head.split("\r\n").find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

fn request(method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Resp {
    let r = send_headers(
        shop().addr,
        method,
        target,
        headers,
        Some(body.as_bytes().to_vec()),
    );
    assert!(
        r.header("transfer-encoding")
            .is_none_or(|t| !t.contains("chunked")),
        "pages have a length"
    );
    Resp {
        status: r.status,
        head: r
            .headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("\r\n"),
        body: r.text(),
    }
}

/// A page as a signed-in browser gets it (the cookie the login sets).
fn page(target: &str) -> Resp {
    let cookie = format!("tenure_key={}", shop().key);
    request("GET", target, &[("Cookie", &cookie)], "")
}

#[test]
fn pages_without_a_key_redirect_to_the_login_form() {
    for path in ["/ui", "/ui/rfm", "/ui/customers/x?lang=zh"] {
        let r = request("GET", path, &[], "");
        assert_eq!(r.status, 303, "{path}: {}", r.body);
        let to = r.header("location").unwrap_or_default();
        assert!(to.starts_with("/ui/login?"), "{to}");
        assert!(to.contains(&format!("next={}", enc(path))), "{to}");
    }
    let r = request("GET", "/ui", &[("Cookie", "tenure_key=tnr_forged")], "");
    assert_eq!(r.status, 303);
    // The API is unchanged: still JSON 401 without a bearer key, and a cookie is not a key there.
    let cookie = format!("tenure_key={}", shop().key);
    let r = request("GET", "/v1/segments", &[("Cookie", &cookie)], "");
    assert_eq!(r.status, 401);
    let r = request("GET", "/ui/login", &[], "");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("name=\"key\""));
}

#[test]
fn login_sets_a_strict_http_only_cookie_and_rejects_bad_keys() {
    let form = format!("key={}&next=%2Fui%2Frfm&lang=en", shop().key);
    let ct = ("Content-Type", "application/x-www-form-urlencoded");
    let r = request("POST", "/ui/login", &[ct], &form);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location").as_deref(), Some("/ui/rfm"));
    let cookie = r.header("set-cookie").unwrap_or_default();
    for part in ["tenure_key=tnr_", "HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    let r = request("POST", "/ui/login", &[ct], "key=tnr_nope&next=%2Fui");
    assert_eq!(r.status, 401);
    assert!(r.body.contains("id=\"login-error\"") && r.header("set-cookie").is_none());
    // An open redirect is refused: `next` must stay under /ui.
    let form = format!("key={}&next=https%3A%2F%2Fevil.example%2F", shop().key);
    let r = request("POST", "/ui/login", &[ct], &form);
    assert_eq!(r.header("location").as_deref(), Some("/ui"));
    let r = request("POST", "/ui/logout", &[], "");
    assert!(r
        .header("set-cookie")
        .unwrap_or_default()
        .contains("Max-Age=0"));
}

#[test]
fn every_page_renders_its_charts() {
    for (path, svgs) in [
        ("/ui", 2),
        ("/ui/rfm", 2),
        ("/ui/risk", 2),
        ("/ui/cohorts", 1),
        ("/ui/sentiment", 2),
    ] {
        let r = page(path);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert!(
            r.header("content-type")
                .unwrap_or_default()
                .starts_with("text/html"),
            "{path}"
        );
        assert!(r
            .header("content-security-policy")
            .unwrap_or_default()
            .contains("default-src 'none'"));
        let n = r.body.matches("<svg").count();
        assert!(n >= svgs, "{path}: {n} charts");
        assert_eq!(n, r.body.matches("</svg>").count(), "{path}");
        assert!(!r.body.contains("NaN"), "{path}");
        assert!(!r.body.contains("<script"), "{path}");
    }
    // The value run has a model registry row only after an evaluation; the list page still renders.
    let r = page("/ui/models");
    assert_eq!(r.status, 200);
    let r = page("/ui/customers");
    assert_eq!(r.status, 200);
    assert!(
        r.body.contains("/ui/customers/C"),
        "top customers are linked"
    );
    let r = page("/ui/customers?segment=champions");
    assert_eq!(r.status, 200);
    assert!(page("/ui/models/nope").status == 404);
}

#[test]
fn overview_figures_match_the_api() {
    let key = format!("Bearer {}", shop().key);
    let api = request("GET", "/v1/segments", &[("Authorization", &key)], "");
    assert_eq!(api.status, 200);
    let seg: serde_json::Value = serde_json::from_str(&api.body).expect("json");
    let total: i64 = seg["rfm"]
        .as_array()
        .expect("rfm groups")
        .iter()
        .map(|g| g["customers"].as_i64().unwrap_or(0))
        .sum();
    let body = page("/ui").body;
    assert!(
        body.contains(&format!("data-testid=\"customers\" data-value=\"{total}\"")),
        "{total}"
    );
    let rfm = page("/ui/rfm").body;
    for g in seg["rfm"].as_array().expect("rfm groups") {
        let name = g["name"].as_str().unwrap_or_default();
        let n = g["customers"].as_i64().unwrap_or(0);
        let shown = format!("data-testid=\"size-{name}\">{}</td>", thousands(n));
        assert!(rfm.contains(&shown), "{shown}");
    }
}

fn thousands(n: i64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[test]
fn chinese_strings_on_request() {
    let r = page("/ui?lang=zh");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("<html lang=\"zh-CN\""));
    assert!(r.body.contains("概览") && r.body.contains("客户终身价值分布"));
    assert!(
        r.body.contains("href=\"/ui/rfm?lang=zh\""),
        "links keep the language"
    );
    assert!(r.body.contains("id=\"lang-toggle\" href=\"/ui?lang=en\""));
    let en = page("/ui");
    assert!(en.body.contains("Overview") && !en.body.contains("概览</a>"));
    assert!(page("/ui/rfm?lang=zh").body.contains("冠军客户"));
    assert!(page("/ui/sentiment?lang=zh").body.contains("每月平均评分"));
}

#[test]
fn hostile_customer_ids_are_escaped_everywhere() {
    let path = format!("/ui/customers/{}", enc(HOSTILE));
    let r = page(&path);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!r.body.contains("<script>alert"), "raw id in the page");
    assert!(r
        .body
        .contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"));
    assert!(
        r.body.contains("<svg"),
        "the drill-down has its spend chart"
    );
    // Its P(alive) and CLV are the API's.
    let key = format!("Bearer {}", shop().key);
    let api = request(
        "GET",
        &format!("/v1/customers/{}", enc(HOSTILE)),
        &[("Authorization", &key)],
        "",
    );
    assert_eq!(api.status, 200, "{}", api.body);
    let v: serde_json::Value = serde_json::from_str(&api.body).expect("json");
    let p = v["scores"]["p_alive"].as_f64().expect("p_alive");
    assert!(r.body.contains(&format!(
        "data-testid=\"p_alive\" data-value=\"{p}\">{p:.3}<"
    )));
    let search = page(&format!("/ui/customers?q={}", enc("<script>")));
    assert_eq!(search.status, 200);
    assert!(!search.body.contains("<script>"));
    assert!(
        search
            .body
            .contains(&format!("/ui/customers/{}", enc(HOSTILE))),
        "found and linked, encoded"
    );
    let missing = page(&format!("/ui/customers/{}", enc("<b>nobody</b>")));
    assert_eq!(missing.status, 404);
    assert!(
        missing.body.contains("&lt;b&gt;nobody&lt;/b&gt;") && !missing.body.contains("<b>nobody")
    );
}

#[test]
fn sentiment_shows_ratings_and_model_sentiment_by_month() {
    let r = page("/ui/sentiment");
    assert!(r.body.contains("data-testid=\"reviews\""));
    assert!(!r.body.contains("id=\"no-reviews\""));
    assert!(r.body.contains("test-head"), "the analysing model is named");
    assert_eq!(
        r.body.matches("<svg").count(),
        3,
        "rating, P(positive), volume"
    );
    // The newest month's row, recomputed in Rust from the raw reviews when the fixture was built.
    let row = &shop().sentiment_row;
    assert!(r.body.contains(row.as_str()), "{row}");
}

#[test]
fn a_project_without_reviews_says_so() {
    // The shared CDNOW fixture has orders only; a bearer key works for pages too.
    let f = crate::common::fixture();
    let r = crate::common::get("/ui/sentiment", Some(&f.read));
    assert_eq!(r.status, 200);
    let body = String::from_utf8_lossy(&r.body);
    assert!(body.contains("id=\"no-reviews\""), "{body}");
    let r = crate::common::get("/ui/sentiment?lang=zh", Some(&f.read));
    assert!(String::from_utf8_lossy(&r.body).contains("该项目没有评论"));
}

#[test]
fn drill_down_shows_the_narrative_and_review_satisfaction() {
    let r = page(&format!("/ui/customers/{}", enc(&shop().reviewer)));
    assert_eq!(r.status, 200);
    assert!(r.body.contains("id=\"narrative\""), "{}", r.body);
    assert!(r.body.contains("data-testid=\"satisfaction\""));
    let zh = page(&format!("/ui/customers/{}?lang=zh", enc(&shop().reviewer)));
    assert!(zh.body.contains("评价满意度") && zh.body.contains("客户画像"));
}
