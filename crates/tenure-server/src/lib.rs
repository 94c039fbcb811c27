//! tenure's HTTP face: an axum server over the engine with API-key auth (scopes read < write <
//! admin), a JSON API under `/v1`, health and readiness probes, Prometheus metrics, and an
//! OpenAPI document generated from the same route table the router is built from. Handlers only
//! extract, call the engine on a pooled store connection, and map the result; errors are JSON
//! (`{"error": {"code", "message"}}`), and 5xx answers carry a request id instead of the cause.

// The OpenAPI components are one `json!` literal, deeper than the default macro recursion limit.
#![recursion_limit = "256"]

mod auth;
mod cache;
mod dashboard;
mod error;
mod extract;
mod gauges;
mod handlers;
mod jobs;
mod metrics;
mod middleware;
mod openapi;
mod pool;
mod routes;
mod state;
mod text;

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;

use axum::extract::DefaultBodyLimit;
use axum::Router;

pub use auth::{create_key, list_keys, revoke_key, Caller, KeyRing, NewKey, Scope};
pub use error::{ApiError, Result, ServerError};
pub use extract::{ApiJson, ApiPath, ApiQuery};
pub use openapi::spec as openapi_spec;
pub use pool::Pool;
pub use routes::{Body, Param, RouteId, RouteSpec, Ty, ROUTES};
pub use state::{AppState, LogSink, ServeOptions};

/// The application: every route of [`ROUTES`], JSON 404/405 fallbacks, and the auth, body-limit
/// and request-observing middleware.
pub fn router(state: AppState) -> Router {
    let mut r: Router<AppState> = Router::new();
    for spec in ROUTES {
        r = r.route(spec.path, routes::method_router(spec));
    }
    let limit = state.inner.opts.body_limit;
    r.fallback(middleware::not_found)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::auth,
        ))
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::observe,
        ))
        .with_state(state.clone())
        .merge(dashboard::router(state))
}

/// Serve on a bound listener until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|source| ServerError::Io {
            op: "serve",
            source,
        })
}

/// Open the project, bind `opts.addr`, call `ready` with the bound address, and serve until
/// Ctrl-C. Blocks; builds its own runtime, so callers need no async code.
pub fn run(
    project: &Path,
    opts: ServeOptions,
    ready: impl FnOnce(SocketAddr, &AppState),
) -> Result<()> {
    let state = AppState::open(project, opts)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| ServerError::Io {
            op: "start the runtime",
            source,
        })?;
    rt.block_on(async move {
        let addr = state.inner.opts.addr;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind {
                addr: addr.to_string(),
                source,
            })?;
        let bound = listener.local_addr().map_err(|source| ServerError::Io {
            op: "read the bound address",
            source,
        })?;
        ready(bound, &state);
        tokio::spawn(state.clone().warm_profiles());
        serve(listener, state, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
    })
}
