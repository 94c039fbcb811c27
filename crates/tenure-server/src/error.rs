//! The server's errors: [`ServerError`] for starting and managing the server, [`ApiError`] for
//! what a request gets back.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tenure_engine::store::StoreError;
use tenure_engine::EngineError;

/// What can stop the server from starting or a key command from finishing.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The engine refused something.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The store refused something.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}; pick another --addr")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The server's runtime or socket failed.
    #[error("server i/o failed while {op}: {source}")]
    Io {
        /// What the server was doing.
        op: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// An argument is not valid (a scope, an address).
    #[error("{0}")]
    Invalid(String),
}

/// The server's result type.
pub type Result<T, E = ServerError> = std::result::Result<T, E>;

/// The one error type of every handler. Client errors (4xx) carry their message in
/// `{"error": {"code", "message"}}`; server errors (5xx) carry a generic message and the request
/// id, and the real cause is logged under that id by the request middleware.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// A client error, shown as is.
    Client {
        /// HTTP status (4xx).
        status: StatusCode,
        /// Stable machine-readable code, e.g. `not_found`.
        code: &'static str,
        /// What was wrong and what to do.
        message: String,
    },
    /// The service cannot answer now (not ready, timed out); shown as is, not logged as a fault.
    Unavailable {
        /// Stable machine-readable code.
        code: &'static str,
        /// What happened.
        message: String,
    },
    /// A fault on our side; the message is logged, never sent.
    Internal(String),
}

/// The cause of a 500, carried from [`ApiError::into_response`] to the middleware that logs it.
#[derive(Debug, Clone)]
pub(crate) struct InternalCause(pub String);

impl ApiError {
    /// A client error with a status, a code and a message.
    pub fn client(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Client {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 with code `invalid_argument`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::client(StatusCode::BAD_REQUEST, "invalid_argument", message)
    }

    /// 404 with code `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::client(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 401: no usable key.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::client(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    /// 403: the key's scope is too small.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::client(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 413: the body is over the limit.
    pub fn too_large(limit: usize) -> Self {
        Self::client(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body is larger than {limit} bytes"),
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Client { status, .. } => *status,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The JSON error body.
pub(crate) fn error_body(code: &str, message: &str, request_id: Option<&str>) -> serde_json::Value {
    let mut e = serde_json::json!({"code": code, "message": message});
    if let Some(id) = request_id {
        e["request_id"] = id.into();
    }
    serde_json::json!({ "error": e })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match self {
            ApiError::Client { code, message, .. } | ApiError::Unavailable { code, message } => {
                (status, axum::Json(error_body(code, &message, None))).into_response()
            }
            ApiError::Internal(cause) => {
                let mut r = (
                    status,
                    axum::Json(error_body(
                        "internal",
                        "internal error: the request id identifies it in the server's log",
                        None,
                    )),
                )
                    .into_response();
                r.extensions_mut().insert(InternalCause(cause));
                r
            }
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Invalid(m) => ApiError::invalid(m),
            EngineError::NotFound(m) => ApiError::not_found(m),
            EngineError::Conflict(m) => ApiError::client(StatusCode::CONFLICT, "conflict", m),
            EngineError::Store(s) => s.into(),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(m) => ApiError::invalid(m),
            e @ (StoreError::NotReadOnly(_) | StoreError::UnknownTable(_)) => {
                ApiError::invalid(e.to_string())
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}
