//! The handlers: extract, call the engine on a pooled connection, map the result. No logic here.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};
use tenure_engine::store::OnConflict;
use tenure_engine::{
    CustomerPage, CustomerQuery, CustomerSort, ExportFormat, PiiMode, RetrainModel, SegmentsReport,
};

use crate::auth::{Caller, Scope};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::jobs::Job;
use crate::metrics::IngestCounts;
use crate::state::AppState;
use crate::text::{check_texts, TextModel};

/// `?pii=` of routes that return personal data.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PiiParams {
    pii: Option<PiiMode>,
}

fn pii_for(caller: &Caller, asked: Option<PiiMode>) -> Result<PiiMode, ApiError> {
    match asked.unwrap_or_default() {
        PiiMode::Plain if caller.scope < Scope::Admin => Err(ApiError::forbidden(
            "pii=plain needs an admin key; use pii=masked or pii=hashed",
        )),
        mode => Ok(mode),
    }
}

/// `GET /healthz`.
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`.
pub async fn readyz(State(st): State<AppState>) -> Result<Json<Value>, ApiError> {
    let version = st.inner.pool.run(|s| s.schema_version()).await??;
    let want = st.inner.schema_target;
    if version < want {
        return Err(ApiError::Unavailable {
            code: "not_ready",
            message: format!("store is at schema v{version}, the server needs v{want}"),
        });
    }
    Ok(Json(json!({"status": "ready", "schema_version": version})))
}

/// `GET /metrics`.
pub async fn metrics(State(st): State<AppState>) -> Result<Response, ApiError> {
    let gauges = st.inner.pool.run(crate::gauges::collect).await??;
    let mut out = crate::gauges::render(&gauges, st.inner.started.elapsed().as_secs_f64());
    st.inner.metrics.render(&mut out);
    out.push_str(&format!(
        "# HELP tenure_profile_cache_entries Customer profiles held ready to answer.\n# TYPE tenure_profile_cache_entries gauge\ntenure_profile_cache_entries {}\n# HELP tenure_profile_cache_warm 1 once every customer's profile is cached (no write since).\n# TYPE tenure_profile_cache_warm gauge\ntenure_profile_cache_warm {}\n",
        st.inner.profiles.len(),
        u8::from(st.inner.profiles.is_warm())
    ));
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        out,
    )
        .into_response())
}

/// `GET /openapi.json`.
pub async fn openapi() -> Json<Value> {
    Json(crate::openapi::spec())
}

/// A JSON answer from bytes already serialised (the profile cache's).
fn json_bytes(bytes: std::sync::Arc<Vec<u8>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        axum::body::Bytes::from_owner(ArcBytes(bytes)),
    )
        .into_response()
}

struct ArcBytes(std::sync::Arc<Vec<u8>>);

impl AsRef<[u8]> for ArcBytes {
    fn as_ref(&self) -> &[u8] {
        self.0.as_slice()
    }
}

/// `GET /v1/customers/{id}`: from the profile cache, else computed and cached.
pub async fn get_customer(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PiiParams>,
) -> Result<Response, ApiError> {
    let pii = pii_for(&caller, q.pii)?;
    if let Some(bytes) = st.inner.profiles.get(&id, pii) {
        return Ok(json_bytes(bytes));
    }
    let gen = st.inner.profiles.generation();
    let key = id.clone();
    let profile = st
        .inner
        .pool
        .run(move |s| tenure_engine::customer_profile(s, &key, pii))
        .await??
        .ok_or_else(|| ApiError::not_found("no customer with this id"))?;
    let bytes = std::sync::Arc::new(
        serde_json::to_vec(&profile)
            .map_err(|e| ApiError::Internal(format!("profile as JSON: {e}")))?,
    );
    st.inner
        .profiles
        .put(&id, pii, gen, std::sync::Arc::clone(&bytes));
    Ok(json_bytes(bytes))
}

/// Query of `GET /v1/customers`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    segment: Option<String>,
    min_p_alive: Option<f64>,
    min_churn: Option<f64>,
    sort: Option<CustomerSort>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// `GET /v1/customers`.
pub async fn list_customers(
    State(st): State<AppState>,
    ApiQuery(q): ApiQuery<ListParams>,
) -> Result<Json<CustomerPage>, ApiError> {
    let query = CustomerQuery {
        segment: q.segment,
        min_p_alive: q.min_p_alive,
        min_churn: q.min_churn,
        sort: q.sort.unwrap_or_default(),
        limit: q.limit,
        cursor: q.cursor,
    };
    let page = st
        .inner
        .pool
        .run(move |s| tenure_engine::list_customers(s, &query))
        .await??;
    Ok(Json(page))
}

/// `GET /v1/segments`.
pub async fn list_segments(State(st): State<AppState>) -> Result<Json<SegmentsReport>, ApiError> {
    Ok(Json(
        st.inner.pool.run(tenure_engine::list_segments).await??,
    ))
}

/// Body of `POST /v1/segments`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSegment {
    name: String,
    predicate: String,
}

/// `POST /v1/segments`.
pub async fn create_segment(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<NewSegment>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let now = chrono::Utc::now().naive_utc();
    let seg = st
        .inner
        .pool
        .run(move |s| {
            tenure_engine::create_segment(s, &body.name, &body.predicate, Some(&caller.key_id), now)
        })
        .await??;
    Ok((StatusCode::CREATED, Json(json!(seg))))
}

/// Query of `GET /v1/segments/{name}/export`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    format: Option<ExportFormat>,
    pii: Option<PiiMode>,
}

/// `GET /v1/segments/{name}/export`.
pub async fn export_segment(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<ExportParams>,
) -> Result<Response, ApiError> {
    let pii = pii_for(&caller, q.pii)?;
    let format = q.format.unwrap_or_default();
    let file: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let export = st
        .inner
        .pool
        .run(move |s| tenure_engine::export_segment(s, &name, format, pii))
        .await??;
    let content_type = match export.format {
        ExportFormat::Csv => "text/csv; charset=utf-8",
        ExportFormat::Parquet => "application/vnd.apache.parquet",
    };
    let disposition = format!(
        "attachment; filename=\"{file}.{}\"",
        export.format.extension()
    );
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::HeaderName::from_static("x-rows"),
                export.rows.to_string(),
            ),
        ],
        export.bytes,
    )
        .into_response())
}

/// `GET /v1/models`.
pub async fn list_models(State(st): State<AppState>) -> Result<Json<Value>, ApiError> {
    let models = st.inner.pool.run(|s| s.models()).await??;
    let parse = |t: &str| serde_json::from_str::<Value>(t).unwrap_or_else(|_| Value::from(t));
    let models: Vec<Value> = models
        .into_iter()
        .map(|m| {
            json!({
                "model_id": m.model_id,
                "kind": m.kind,
                "version": m.version,
                "trained_at": m.trained_at,
                "as_of": m.as_of,
                "params": parse(&m.params),
                "metrics": parse(&m.metrics),
                "artifact_path": m.artifact_path,
            })
        })
        .collect();
    Ok(Json(json!({ "models": models })))
}

/// The rows of a write body: one JSON object, or an array of them.
fn body_rows(body: Value) -> Result<Vec<Value>, ApiError> {
    let unprocessable =
        |m: String| ApiError::client(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", m);
    let rows = match body {
        Value::Array(rows) => rows,
        v @ Value::Object(_) => vec![v],
        other => {
            return Err(unprocessable(format!(
                "the body is a JSON {}: send one object or an array of objects",
                match other {
                    Value::Null => "null",
                    Value::Bool(_) => "boolean",
                    Value::Number(_) => "number",
                    _ => "string",
                }
            )))
        }
    };
    if rows.is_empty() {
        return Err(unprocessable(
            "the array is empty: send at least one object".into(),
        ));
    }
    if rows.len() > tenure_engine::store::MAX_INGEST_ROWS {
        return Err(ApiError::client(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_rows",
            format!(
                "{} rows in one request; send at most {}",
                rows.len(),
                tenure_engine::store::MAX_INGEST_ROWS
            ),
        ));
    }
    Ok(rows)
}

/// Store rows in `table` (one transaction), then re-score their customers live. The rows are
/// durable before the answer: a failure of the re-score is reported in `live.error`, not as a
/// failed request.
async fn write_rows(
    st: AppState,
    table: &'static str,
    body: Value,
) -> Result<Json<Value>, ApiError> {
    let rows = body_rows(body)?;
    let _writer = st.inner.write_lock.clone().lock_owned().await;
    let source = format!("api:POST /v1/{table}");
    let outcome = st
        .inner
        .pool
        .run(move |s| {
            let r = s.ingest_rows(table, &rows, &source, OnConflict::Reject)?;
            let now = chrono::Utc::now().naive_utc();
            let live = tenure_engine::rescore_customers(s, &r.customers, now);
            Ok::<_, ApiError>((r, live))
        })
        .await;
    // Whatever happened, the store may have changed: no cached profile outlives a write.
    st.inner.profiles.invalidate();
    let (ingested, live) = outcome??;
    let rep = &ingested.report;
    st.inner.metrics.record_ingest(
        table,
        IngestCounts {
            read: rep.read,
            accepted: rep.accepted,
            duplicate: rep.duplicate,
            conflicting: rep.conflicting,
            rejected: rep.rejected,
        },
    );
    let live = match live {
        Ok(l) => {
            st.inner.metrics.record_scoring(
                l.seconds,
                l.customers.iter().filter(|c| c.rescored).count() as u64,
            );
            json!(l)
        }
        Err(e) => json!({"error": format!("rows stored, customers not re-scored: {e}")}),
    };
    Ok(Json(json!({
        "table": table,
        "committed": true,
        "ingest": {
            "run_id": rep.run_id,
            "read": rep.read,
            "accepted": rep.accepted,
            "duplicate": rep.duplicate,
            "conflicting": rep.conflicting,
            "rejected": rep.rejected,
            "rejections": ingested.rejections,
            "warnings": rep.warnings,
        },
        "live": live,
    })))
}

/// `POST /v1/orders`.
pub async fn post_orders(
    State(st): State<AppState>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Value>, ApiError> {
    write_rows(st, "orders", body).await
}

/// `POST /v1/events`.
pub async fn post_events(
    State(st): State<AppState>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Value>, ApiError> {
    write_rows(st, "events", body).await
}

/// Body of the text routes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextRequest {
    texts: Vec<String>,
    model: Option<TextModel>,
}

/// `POST /v1/text/sentiment`.
pub async fn text_sentiment(
    State(st): State<AppState>,
    ApiJson(body): ApiJson<TextRequest>,
) -> Result<Json<Value>, ApiError> {
    check_texts(&body.texts)?;
    if let Some(model) = body.model {
        let results = st.inner.text.sentiment(model, body.texts).await?;
        return Ok(Json(json!({"model": model.name(), "results": results})));
    }
    // No model named: each text goes to the encoder of its language (m3e-small for mostly-Chinese
    // texts, all-minilm-l6-v2 otherwise); every result says which one read it.
    let mut results: Vec<Value> = vec![Value::Null; body.texts.len()];
    let mut used = Vec::new();
    for model in [TextModel::MiniLm, TextModel::M3eSmall] {
        let want_zh = model == TextModel::M3eSmall;
        let (idx, texts): (Vec<usize>, Vec<String>) = body
            .texts
            .iter()
            .enumerate()
            .filter(|(_, t)| tenure_engine::is_chinese_text(t) == want_zh)
            .map(|(i, t)| (i, t.clone()))
            .unzip();
        if texts.is_empty() {
            continue;
        }
        used.push(model.name());
        for (i, r) in idx
            .into_iter()
            .zip(st.inner.text.sentiment(model, texts).await?)
        {
            let mut v = serde_json::to_value(r)
                .map_err(|e| ApiError::Internal(format!("sentiment result: {e}")))?;
            v["model"] = json!(model.name());
            results[i] = v;
        }
    }
    let model = if used.len() == 1 { used[0] } else { "auto" };
    Ok(Json(json!({"model": model, "results": results})))
}

/// `POST /v1/text/embed`.
pub async fn text_embed(
    State(st): State<AppState>,
    ApiJson(body): ApiJson<TextRequest>,
) -> Result<Json<Value>, ApiError> {
    check_texts(&body.texts)?;
    let model = body.model.unwrap_or(TextModel::MiniLm);
    let vectors = st.inner.text.embed(model, body.texts).await?;
    let dim = vectors.first().map_or(0, Vec::len);
    Ok(Json(
        json!({"model": model.name(), "dim": dim, "embeddings": vectors}),
    ))
}

/// Body of `POST /v1/models/retrain`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrainRequest {
    model: RetrainModel,
}

/// `POST /v1/models/retrain`: queue the job and answer 202 at once; the fit waits for the writer
/// lock, then runs on a store connection.
pub async fn retrain(
    State(st): State<AppState>,
    ApiJson(body): ApiJson<RetrainRequest>,
) -> Result<(StatusCode, Json<Job>), ApiError> {
    let job = st.inner.jobs.queue(body.model).map_err(|running| {
        ApiError::client(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "a retrain of {} is already queued or running: follow /v1/jobs/{running}",
                body.model.name()
            ),
        )
    })?;
    let id = job.job_id.clone();
    let model = body.model;
    let bg = st.clone();
    tokio::spawn(async move {
        let _writer = bg.inner.write_lock.clone().lock_owned().await;
        bg.inner.jobs.start(&id);
        let now = chrono::Utc::now().naive_utc();
        let outcome = bg
            .inner
            .pool
            .run(move |s| tenure_engine::retrain(s, model, now))
            .await;
        let outcome = match outcome {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(format!("{e:?}")),
        };
        bg.inner.profiles.invalidate();
        bg.inner.jobs.finish(&id, outcome);
    });
    Ok((StatusCode::ACCEPTED, Json(job)))
}

/// `GET /v1/jobs/{id}`.
pub async fn get_job(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Job>, ApiError> {
    st.inner.jobs.get(&id).map(Json).ok_or_else(|| {
        ApiError::not_found(
            "no job with this id (jobs are kept in memory until the server restarts)",
        )
    })
}
