//! The API over real HTTP on loopback: auth, client errors, and real data from a scored project.

use std::collections::HashSet;

use crate::common::{enc, fixture, get, post_json, send};

#[test]
fn health_and_readiness_need_no_key() {
    let r = get("/healthz", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "ok");
    let r = get("/readyz", None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["schema_version"].as_i64().unwrap_or(0) >= 4);
    assert!(r.header("x-request-id").is_some_and(|id| id.len() == 16));
}

#[test]
fn no_key_bad_key_and_revoked_key_are_401() {
    let f = fixture();
    for key in [None, Some("nonsense"), Some(f.revoked.as_str())] {
        let r = get("/v1/customers", key);
        assert_eq!(r.status, 401, "{key:?}: {}", r.text());
        assert_eq!(r.code(), "unauthenticated");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    }
    let mut forged = f.read.clone();
    let tail = if forged.ends_with("beef") {
        "cafe"
    } else {
        "beef"
    };
    forged.replace_range(forged.len() - 4.., tail);
    assert_eq!(get("/v1/segments", Some(&forged)).status, 401);
}

#[test]
fn scopes_are_enforced() {
    let f = fixture();
    let body = r#"{"name": "scope-check", "predicate": "clv > 1"}"#;
    let r = post_json("/v1/segments", Some(&f.read), body);
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.code(), "forbidden");
    let r = get("/v1/segments/champions/export?pii=plain", Some(&f.write));
    assert_eq!(r.status, 403, "{}", r.text());
    let r = get("/v1/customers/0001?pii=plain", Some(&f.read));
    assert_eq!(r.status, 403);
}

#[test]
fn malformed_and_mistyped_bodies_are_json_4xx() {
    let f = fixture();
    let w = Some(f.write.as_str());
    let r = post_json("/v1/segments", w, r#"{"name": "#);
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.code(), "malformed_json");
    let r = post_json("/v1/segments", w, r#"{"name": 5, "predicate": true}"#);
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.code(), "invalid_body");
    let r = post_json(
        "/v1/segments",
        w,
        r#"{"name": "x", "predicate": "clv > 1", "extra": 1}"#,
    );
    assert_eq!(r.status, 422);
    let r = post_json("/v1/segments", w, "[]");
    assert_eq!(r.status, 422);
    let r = send("POST", "/v1/segments", w, None, Some(b"{}".to_vec()));
    assert_eq!(r.status, 415, "{}", r.text());
    assert_eq!(r.code(), "unsupported_media_type");
    for q in [
        "limit=abc",
        "limit=-1",
        "sort=cheapest",
        "min_p_alive=x",
        "bogus=1",
        "limit=0",
        "limit=5000",
        "min_p_alive=2",
        "min_p_alive=NaN",
        "cursor=zz",
    ] {
        let r = get(&format!("/v1/customers?{q}"), Some(&f.read));
        assert_eq!(r.status, 400, "{q}: {}", r.text());
        assert!(r.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
}

#[test]
fn a_2_mib_body_is_413() {
    let f = fixture();
    let big = format!(
        r#"{{"name": "big", "predicate": "{}"}}"#,
        "x".repeat(2 << 20)
    );
    let r = post_json("/v1/segments", Some(&f.write), &big);
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(r.code(), "payload_too_large");
}

#[test]
fn unknown_things_are_json_404_and_405() {
    let f = fixture();
    let r = get("/v1/customers/no-such-customer", Some(&f.read));
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(r.code(), "not_found");
    let r = get("/v1/nope", Some(&f.read));
    assert_eq!(r.status, 404);
    assert_eq!(r.code(), "not_found");
    // The root now sends people to the dashboard; other unknown paths stay JSON 404s.
    let r = get("/", None);
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/ui"));
    let r = get("/no-such-page", None);
    assert_eq!(r.status, 404);
    assert_eq!(r.code(), "not_found");
    let r = send("DELETE", "/v1/segments", Some(&f.admin), None, None);
    assert_eq!(r.status, 405, "{}", r.text());
    assert_eq!(r.code(), "method_not_allowed");
    let r = get("/v1/segments/no-such-segment/export", Some(&f.read));
    assert_eq!(r.status, 404);
    let r = get("/v1/customers?segment=no-such-segment", Some(&f.read));
    assert_eq!(r.status, 404);
    // min_churn filters when churn scores exist, and says what is missing when they do not.
    let has_churn = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f.state.pool().run(tenure_engine::churn_column))
        .expect("pool")
        .expect("churn column")
        .is_some();
    let r = get("/v1/customers?min_churn=0.5", Some(&f.read));
    if has_churn {
        assert_eq!(r.status, 200, "{}", r.text());
    } else {
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(r.text().contains("churn"));
    }
}

#[test]
fn customer_profile_holds_real_scores_and_why() {
    let f = fixture();
    let top = get("/v1/customers?limit=1", Some(&f.read)).json();
    let id = top["items"][0]["customer_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!id.is_empty(), "{top}");
    let r = get(&format!("/v1/customers/{}", enc(&id)), Some(&f.read));
    assert_eq!(r.status, 200, "{}", r.text());
    let p = r.json();
    assert_eq!(p["customer_id"], id.as_str());
    assert!(p["scores"]["p_alive"].is_number(), "{p}");
    assert!(p["scores"]["clv"].as_f64().unwrap_or(0.0) > 0.0);
    assert_eq!(p["features"]["customer_id"], id.as_str());
    assert!(p["features"]["orders"].as_i64().unwrap_or(0) > 1);
    assert!(p["recent_orders"]
        .as_array()
        .is_some_and(|o| !o.is_empty() && o.len() <= 10));
    let why = &p["why"];
    assert_eq!(why["drivers"].as_array().map(Vec::len), Some(3));
    assert!(
        why["summary"]
            .as_str()
            .is_some_and(|s| s.contains("P(alive)")),
        "{why}"
    );
    assert!(p["risk"].is_null() && p["narrative"].is_null() && p["sentiment"].is_null());
    assert_eq!(p["run"]["as_of"], "1998-06-30");
}

#[test]
fn profile_masks_pii_unless_an_admin_asks() {
    let f = fixture();
    let p = get("/v1/customers/0001", Some(&f.read)).json();
    assert_eq!(p["profile"]["email"], "a***@example.com", "{p}");
    assert_eq!(p["profile"]["phone"], "***67");
    assert!(!p.to_string().contains("alice.smith"));
    let p = get("/v1/customers/0001?pii=hashed", Some(&f.read)).json();
    assert_eq!(p["profile"]["email"].as_str().map(str::len), Some(64));
    let p = get("/v1/customers/0001?pii=plain", Some(&f.admin)).json();
    assert_eq!(p["profile"]["email"], "alice.smith@example.com");
}

#[test]
fn customer_list_pages_through_everyone_in_order() {
    let f = fixture();
    for sort in ["clv", "p_alive", "recency"] {
        let mut seen = HashSet::new();
        let mut cursor: Option<String> = None;
        let mut last = f64::INFINITY;
        let mut pages = 0;
        loop {
            let mut target = format!("/v1/customers?sort={sort}&limit=700");
            if let Some(c) = &cursor {
                target.push_str(&format!("&cursor={c}"));
            }
            let r = get(&target, Some(&f.read));
            assert_eq!(r.status, 200, "{}", r.text());
            let page = r.json();
            for it in page["items"].as_array().into_iter().flatten() {
                assert!(seen.insert(it["customer_id"].to_string()), "duplicate {it}");
                if sort != "recency" {
                    let v = it[sort].as_f64().unwrap_or(-1.0);
                    assert!(v <= last + 1e-12, "{sort} not descending: {v} after {last}");
                    last = v;
                }
            }
            pages += 1;
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        assert_eq!(seen.len() as i64, f.customers, "{sort}");
        assert_eq!(pages, 4, "{sort}");
    }
    let r = get(
        "/v1/customers?segment=champions&min_p_alive=0.9&limit=1000",
        Some(&f.read),
    )
    .json();
    let items = r["items"].as_array().cloned().unwrap_or_default();
    assert!(!items.is_empty());
    assert!(items
        .iter()
        .all(|i| i["rfm_group"] == "Champions" && i["p_alive"].as_f64().unwrap_or(0.0) >= 0.9));
}

#[test]
fn segments_list_create_filter_and_export() {
    let f = fixture();
    let r = get("/v1/segments", Some(&f.read)).json();
    let rfm = r["rfm"].as_array().cloned().unwrap_or_default();
    assert_eq!(rfm.len(), 11);
    let total: i64 = rfm
        .iter()
        .map(|g| g["customers"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(total, f.customers);

    let body = r#"{"name": "vip", "predicate": "clv > 100 AND p_alive >= 0.5"}"#;
    let r = post_json("/v1/segments", Some(&f.write), body);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["name"], "vip");
    let again = post_json("/v1/segments", Some(&f.write), body);
    assert_eq!(again.status, 409);
    for bad in [
        r#"{"name": "evil", "predicate": "clv > 1) UNION SELECT hash FROM api_keys WHERE (1=1"}"#,
        r#"{"name": "evil", "predicate": "clv > 1; DROP TABLE orders"}"#,
        r#"{"name": "evil", "predicate": "no_such_column > 1"}"#,
        r#"{"name": "evil", "predicate": "rfm_group > DATE '2020-01-01'"}"#,
        r#"{"name": "Bad Name", "predicate": "clv > 1"}"#,
        r#"{"name": "champions", "predicate": "clv > 1"}"#,
    ] {
        let r = post_json("/v1/segments", Some(&f.write), bad);
        assert!(
            r.status == 400 || r.status == 409,
            "{bad}: {} {}",
            r.status,
            r.text()
        );
    }
    let listed = get("/v1/segments", Some(&f.read)).json();
    let vip = listed["custom"]
        .as_array()
        .and_then(|c| c.iter().find(|s| s["name"] == "vip").cloned())
        .unwrap_or_default();
    let n = vip["customers"].as_i64().unwrap_or(-1);
    assert!(n > 0 && n < f.customers, "{vip}");
    let page = get("/v1/customers?segment=vip&limit=1000", Some(&f.read)).json();
    assert_eq!(page["items"].as_array().map(Vec::len), Some(n as usize));

    let r = get("/v1/segments/vip/export", Some(&f.read));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/csv")));
    let csv = r.text();
    assert!(
        csv.starts_with("customer_id,rfm_group"),
        "{}",
        &csv[..80.min(csv.len())]
    );
    assert_eq!(csv.lines().count() as i64, n + 1);
    let r = get("/v1/segments/vip/export?format=parquet", Some(&f.read));
    assert_eq!(r.status, 200);
    assert!(r.body.starts_with(b"PAR1"));

    let one = r#"{"name": "first-customer", "predicate": "customer_id IN ('0001', '0002')"}"#;
    assert_eq!(post_json("/v1/segments", Some(&f.write), one).status, 201);
    let masked = get("/v1/segments/first-customer/export", Some(&f.read)).text();
    assert!(
        masked.contains("a***@example.com") && !masked.contains("alice.smith"),
        "{masked}"
    );
    let plain = get(
        "/v1/segments/first-customer/export?pii=plain",
        Some(&f.admin),
    )
    .text();
    assert!(plain.contains("alice.smith@example.com"), "{plain}");
    let rfm = get("/v1/segments/needs_attention/export", Some(&f.read));
    assert_eq!(rfm.status, 200);
}

#[test]
fn models_metrics_and_openapi() {
    let f = fixture();
    let r = get("/v1/models", Some(&f.read));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["models"].is_array());
    let _ = get("/v1/customers/0001", Some(&f.read));
    let m = get("/metrics", None);
    assert_eq!(m.status, 200);
    let text = m.text();
    assert!(text.contains("tenure_build_info{version="), "{text}");
    assert!(
        text.contains(&format!("as_of=\"1998-06-30\"}} {}", f.customers)),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/v1/customers/{id}",method="GET",status="200""#),
        "{text}"
    );
    assert!(
        text.contains("tenure_http_request_duration_seconds_bucket{route=\"/v1/customers/{id}\"")
    );
    let spec = get("/openapi.json", None).json();
    assert_eq!(spec["openapi"], "3.0.3");
    for r in tenure_server::ROUTES {
        assert!(
            spec["paths"][r.path][r.method.to_ascii_lowercase()].is_object(),
            "{}",
            r.path
        );
    }
}

#[test]
fn logs_are_one_json_line_per_request_without_pii() {
    let f = fixture();
    let r = get(
        "/v1/customers/alice.smith%40example.com?pii=masked",
        Some(&f.read),
    );
    assert_eq!(r.status, 404);
    let id = r.header("x-request-id").unwrap_or_default().to_string();
    let _ = get("/v1/customers?segment=bob%40example.org", Some(&f.read));
    let logs = f.logs.lock().map(|l| l.clone()).unwrap_or_default();
    let line = logs
        .iter()
        .find(|l| l.contains(&id))
        .unwrap_or_else(|| panic!("no log line for {id}"));
    let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
    assert_eq!(v["route"], "/v1/customers/{id}");
    assert_eq!(v["status"], 404);
    assert_eq!(v["method"], "GET");
    assert!(v["latency_ms"].is_number());
    for l in &logs {
        assert!(
            !l.contains("example.com") && !l.contains("example.org"),
            "PII in log: {l}"
        );
        assert!(
            serde_json::from_str::<serde_json::Value>(l).is_ok(),
            "not JSON: {l}"
        );
    }
}

#[test]
fn internal_errors_are_generic_with_a_request_id_and_logged() {
    let f = fixture();
    // A segment whose predicate passed validation once but fails now: a fault on our side.
    let state = f.state.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(state.pool().run(|s| {
        s.insert_named_segment(&tenure_engine::store::SegmentRecord {
            name: "zz-broken".into(),
            predicate: "CAST(rfm_group AS INTEGER) > 1".into(),
            created_at: chrono::Utc::now().naive_utc(),
            created_by: None,
        })
    }))
    .expect("pool")
    .expect("insert");
    let r = get("/v1/customers?segment=zz-broken", Some(&f.read));
    assert_eq!(r.status, 500, "{}", r.text());
    let body = r.json();
    assert_eq!(body["error"]["code"], "internal");
    let id = body["error"]["request_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(r.header("x-request-id"), Some(id.as_str()));
    assert!(
        !r.text().contains("rfm_group"),
        "cause leaked: {}",
        r.text()
    );
    let logs = f.logs.lock().map(|l| l.clone()).unwrap_or_default();
    assert!(
        logs.iter()
            .any(|l| l.contains(&id) && l.contains("\"internal error\"")),
        "{logs:?}"
    );
    // Listing segments still works: the broken one just has no size.
    assert_eq!(get("/v1/segments", Some(&f.read)).status, 200);
}
