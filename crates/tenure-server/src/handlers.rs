//! The handlers: extract, call the engine on a pooled connection, map the result. No logic here.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};
use tenure_engine::{
    CustomerPage, CustomerProfile, CustomerQuery, CustomerSort, ExportFormat, PiiMode,
    SegmentsReport,
};

use crate::auth::{Caller, Scope};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

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

/// `GET /v1/customers/{id}`.
pub async fn get_customer(
    State(st): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PiiParams>,
) -> Result<Json<CustomerProfile>, ApiError> {
    let pii = pii_for(&caller, q.pii)?;
    let profile = st
        .inner
        .pool
        .run(move |s| tenure_engine::customer_profile(s, &id, pii))
        .await??;
    profile
        .map(Json)
        .ok_or_else(|| ApiError::not_found("no customer with this id"))
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
