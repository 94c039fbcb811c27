//! The two middlewares every route runs through.
//!
//! `observe` (outermost): gives the request an id, refuses bodies over the limit by their
//! `Content-Length`, applies the timeout, makes every error body JSON, logs the cause of a 5xx
//! under the request id (the client sees only the id), counts the request in the metrics, and
//! writes one JSON log line — method, route *template*, status, latency; never the raw path,
//! query string or body, which can hold customer ids and email addresses.
//!
//! `auth`: checks the bearer key against the route's scope in the route table.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::RngCore;

use crate::error::{error_body, ApiError, InternalCause};
use crate::routes;
use crate::state::AppState;

fn request_id() -> String {
    format!("{:016x}", rand::rng().next_u64())
}

/// One request as the logs and metrics see it: a fresh id, the method and the route template
/// (never the path, which can hold a customer id, nor the query). Shared by the API's and the
/// dashboard's `observe` layers.
pub(crate) struct RequestLog {
    /// Request id, also sent back as `x-request-id`.
    pub(crate) id: String,
    method: String,
    route: String,
    start: Instant,
}

impl RequestLog {
    /// Starts the clock for `req`.
    pub(crate) fn begin(req: &Request) -> Self {
        RequestLog {
            id: request_id(),
            method: req.method().as_str().to_string(),
            route: req
                .extensions()
                .get::<MatchedPath>()
                .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string()),
            start: Instant::now(),
        }
    }

    /// Logs the cause a handler attached to a 5xx (server log only, never the response).
    pub(crate) fn internal_error(&self, st: &AppState, cause: &str) {
        st.inner.opts.log.line(
            &serde_json::json!({
                "ts": chrono::Utc::now().to_rfc3339(),
                "level": "error",
                "msg": "internal error",
                "request_id": self.id,
                "method": self.method,
                "route": self.route,
                "error": cause,
            })
            .to_string(),
        );
    }

    /// Records the answer in the metrics and writes the one-line JSON request log.
    pub(crate) fn finish(&self, st: &AppState, status: StatusCode) {
        let seconds = self.start.elapsed().as_secs_f64();
        st.inner
            .metrics
            .record(&self.route, &self.method, status.as_u16(), seconds);
        st.inner.opts.log.line(
            &serde_json::json!({
                "ts": chrono::Utc::now().to_rfc3339(),
                "level": if status.is_server_error() { "error" } else if status.is_client_error() { "warn" } else { "info" },
                "msg": "request",
                "request_id": self.id,
                "method": self.method,
                "route": self.route,
                "status": status.as_u16(),
                "latency_ms": (seconds * 1e6).round() / 1e3,
            })
            .to_string(),
        );
    }
}

fn is_json(r: &Response) -> bool {
    r.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// Request id, limits, timeout, JSON errors, metrics and the request log.
pub(crate) async fn observe(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let log = RequestLog::begin(&req);
    let id = log.id.clone();
    let opts = &st.inner.opts;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut resp = if declared.is_some_and(|n| n > opts.body_limit as u64) {
        ApiError::too_large(opts.body_limit).into_response()
    } else {
        match tokio::time::timeout(opts.timeout, next.run(req)).await {
            Ok(r) => r,
            Err(_) => ApiError::Unavailable {
                code: "timeout",
                message: format!(
                    "the request took longer than {} s; narrow it (a smaller page, a segment) or try again",
                    opts.timeout.as_secs_f64()
                ),
            }
            .into_response(),
        }
    };
    let status = resp.status();
    if let Some(InternalCause(cause)) = resp.extensions_mut().remove::<InternalCause>() {
        log.internal_error(&st, &cause);
        resp = (
            status,
            axum::Json(error_body(
                "internal",
                "internal error: the request id identifies it in the server's log",
                Some(&id),
            )),
        )
            .into_response();
    } else if (status.is_client_error() || status.is_server_error()) && !is_json(&resp) {
        let reason = status.canonical_reason().unwrap_or("error").to_lowercase();
        let code = reason.replace(' ', "_");
        let rid = status.is_server_error().then_some(id.as_str());
        let (parts, _) = resp.into_parts();
        resp = Response::from_parts(
            parts,
            Body::from(error_body(&code, &reason, rid).to_string()),
        );
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        resp.headers_mut().remove(header::CONTENT_LENGTH);
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    log.finish(&st, status);
    resp
}

/// Bearer-key check against the scope the route table asks for.
pub(crate) async fn auth(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let needed = req
        .extensions()
        .get::<MatchedPath>()
        .and_then(|m| routes::find(req.method().as_str(), m.as_str()))
        .and_then(|r| r.scope);
    let Some(needed) = needed else {
        return next.run(req).await;
    };
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let Some(token) = token else {
        return unauthenticated("send an API key as `Authorization: Bearer <key>`; create one with `tenure keys create --scope read`");
    };
    let Some(caller) = st.inner.keys.verify(token) else {
        return unauthenticated("the API key is not valid or has been revoked");
    };
    if caller.scope < needed {
        return ApiError::forbidden(format!(
            "this route needs a {} key; this key has scope {}",
            needed.as_str(),
            caller.scope.as_str()
        ))
        .into_response();
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

fn unauthenticated(message: &str) -> Response {
    let mut r = ApiError::unauthenticated(message).into_response();
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

/// JSON 404 for paths no route matches.
pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found("no such route: see /openapi.json for the routes this server has")
}

/// JSON 405 for a known path with another method.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::client(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method: see /openapi.json",
    )
}
