//! Generated paths, query strings, bodies and keys thrown at every route of the table over real
//! HTTP: whatever the input, the answer is never a 5xx, and every error is JSON.

use proptest::prelude::*;

use crate::common::{enc, fixture, send};

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,24}",
        "[a-z_]{1,12}",
        "-?[0-9]{1,6}(\\.[0-9]{1,3})?",
        Just(String::new()),
        Just("0001".to_string()),
        Just("NaN".to_string()),
        Just("1e308".to_string()),
        Just("champions".to_string()),
        Just("'; DROP TABLE orders; --".to_string()),
    ]
}

fn body() -> impl Strategy<Value = Option<(Option<&'static str>, Vec<u8>)>> {
    prop_oneof![
        Just(None),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| Some((Some("application/json"), b))),
        (text(), text()).prop_map(|(n, p)| Some((
            Some("application/json"),
            serde_json::json!({"name": n, "predicate": p})
                .to_string()
                .into_bytes()
        ))),
        (text(), any::<i64>()).prop_map(|(n, p)| Some((
            Some("application/json"),
            serde_json::json!({"name": n, "predicate": p})
                .to_string()
                .into_bytes()
        ))),
        text().prop_map(|t| Some((Some("text/plain"), t.into_bytes()))),
        // Text routes: a few short texts, sometimes a model name.
        (
            prop::collection::vec(text(), 0..3),
            prop::option::of(text())
        )
            .prop_map(|(t, m)| {
                let mut b = serde_json::json!({"texts": t});
                if let Some(m) = m {
                    b["model"] = m.into();
                }
                Some((Some("application/json"), b.to_string().into_bytes()))
            }),
        // Retrain: a model name.
        text().prop_map(|m| Some((
            Some("application/json"),
            serde_json::json!({"model": m}).to_string().into_bytes()
        ))),
        // Write routes: rows that can never pass validation (no timestamp), so the shared
        // fixture's data stays as the other tests expect; valid rows are fuzzed in `live`.
        prop::collection::vec((text(), text()), 0..3).prop_map(|rows| Some((
            Some("application/json"),
            serde_json::Value::Array(
                rows.into_iter()
                    .map(
                        |(c, a)| serde_json::json!({"customer_id": c, "amount": a, "event_type": a})
                    )
                    .collect()
            )
            .to_string()
            .into_bytes()
        ))),
    ]
}

#[derive(Debug, Clone)]
struct Case {
    route: usize,
    method: Option<&'static str>,
    path_value: String,
    query: Vec<(usize, String)>,
    junk_query: Option<(String, String)>,
    key: usize,
    body: Option<(Option<&'static str>, Vec<u8>)>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        0..tenure_server::ROUTES.len(),
        prop_oneof![
            8 => Just(None),
            1 => Just(Some("POST")),
            1 => Just(Some("PUT")),
            1 => Just(Some("GET")),
        ],
        text(),
        prop::collection::vec((0..8usize, text()), 0..4),
        prop::option::of((text(), text())),
        0..4usize,
        body(),
    )
        .prop_map(
            |(route, method, path_value, query, junk_query, key, body)| Case {
                route,
                method,
                path_value,
                query,
                junk_query,
                key,
                body,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_input_gets_a_5xx(c in case()) {
        let f = fixture();
        let spec = &tenure_server::ROUTES[c.route];
        let mut path = spec.path.to_string();
        for p in spec.params.iter().filter(|p| p.in_path) {
            let v = if c.path_value.is_empty() { "x".to_string() } else { enc(&c.path_value) };
            path = path.replace(&format!("{{{}}}", p.name), &v);
        }
        let names: Vec<&str> = spec.params.iter().filter(|p| !p.in_path).map(|p| p.name).collect();
        let mut pairs: Vec<String> = c
            .query
            .iter()
            .filter_map(|(i, v)| names.get(i % names.len().max(1)).map(|n| format!("{n}={}", enc(v))))
            .collect();
        if let Some((k, v)) = &c.junk_query {
            pairs.push(format!("{}={}", enc(k), enc(v)));
        }
        if !pairs.is_empty() {
            path = format!("{path}?{}", pairs.join("&"));
        }
        let key = [None, Some(f.read.as_str()), Some(f.write.as_str()), Some(f.admin.as_str())][c.key];
        let method = c.method.unwrap_or(spec.method);
        let (ct, body) = match c.body.clone() {
            Some((ct, b)) => (ct, Some(b)),
            None => (None, None),
        };
        let r = send(method, &path, key, ct, body);
        // The one 5xx by design: a text route on a machine whose model cache lacks the encoder
        // answers 503 `model_not_installed` (what to run). Allowed only where the models are in fact
        // missing; CI pulls them, so there every answer must be below 500.
        let uninstalled = r.status == 503 && r.code() == "model_not_installed" && !models_installed();
        prop_assert!(r.status < 500 || uninstalled, "{method} {path} -> {} {}", r.status, r.text());
        if r.status >= 400 {
            prop_assert!(
                r.header("content-type").is_some_and(|t| t.starts_with("application/json")),
                "{method} {path} -> {} without a JSON error", r.status
            );
            prop_assert!(!r.code().is_empty());
        }
    }
}

/// Whether both catalogue encoders are in the model cache the server reads.
fn models_installed() -> bool {
    let dir = match std::env::var_os("TENURE_HOME") {
        Some(h) => std::path::PathBuf::from(h).join("models"),
        None => std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/tenure/models"),
    };
    ["all-minilm-l6-v2", "m3e-small"]
        .iter()
        .all(|m| dir.join(m).join("model.safetensors").is_file())
}
