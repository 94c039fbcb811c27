//! Handlers in-process through `tower::ServiceExt::oneshot`, without a socket.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use tower::ServiceExt;

use crate::common::fixture;

fn call(req: Request<Body>) -> (StatusCode, serde_json::Value) {
    let app = tenure_server::router(fixture().state.clone());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let resp = app.oneshot(req).await.expect("infallible");
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .expect("body");
        (status, serde_json::from_slice(&bytes).unwrap_or_default())
    })
}

#[test]
fn healthz_and_models_in_process() {
    let f = fixture();
    let (s, v) = call(
        Request::get("/healthz")
            .body(Body::empty())
            .expect("request"),
    );
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["status"], "ok");
    let (s, v) = call(
        Request::get("/v1/models")
            .body(Body::empty())
            .expect("request"),
    );
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(v["error"]["code"], "unauthenticated");
    let (s, v) = call(
        Request::get("/v1/segments")
            .header(header::AUTHORIZATION, format!("Bearer {}", f.read))
            .body(Body::empty())
            .expect("request"),
    );
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["rfm"].as_array().map(Vec::len), Some(11));
}
