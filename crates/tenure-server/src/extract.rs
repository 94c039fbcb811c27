//! Extractors that turn axum's rejections (bad JSON, wrong types, bad query strings, oversized
//! bodies) into [`ApiError`]s, so every client error is a JSON error and never a 5xx.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body; rejections become 400 (syntax), 415 (no JSON content type), 413 (too large) or
/// 422 (wrong fields or types).
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

/// A query string; rejections become 400.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

/// Path parameters; rejections become 400.
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

fn client_status(status: StatusCode) -> StatusCode {
    if status.is_client_error() {
        status
    } else {
        StatusCode::BAD_REQUEST
    }
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(r) => {
                let status = client_status(r.status());
                let code = match (&r, status) {
                    (_, StatusCode::PAYLOAD_TOO_LARGE) => "payload_too_large",
                    (JsonRejection::MissingJsonContentType(_), _) => "unsupported_media_type",
                    (JsonRejection::JsonDataError(_), _) => "invalid_body",
                    _ => "malformed_json",
                };
                Err(ApiError::client(status, code, r.body_text()))
            }
        }
    }
}

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|r: QueryRejection| {
                ApiError::client(client_status(r.status()), "invalid_query", r.body_text())
            })
    }
}

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| ApiPath(v))
            .map_err(|r: PathRejection| {
                ApiError::client(client_status(r.status()), "invalid_path", r.body_text())
            })
    }
}
