//! The route table: every route's method, path, scope, parameters and responses, written once.
//! The router is built from it and the OpenAPI document is generated from it, so the spec cannot
//! list a route the server does not serve, or miss one it does.

use axum::handler::Handler;
use axum::routing::{on, MethodFilter, MethodRouter};

use crate::auth::Scope;
use crate::handlers;
use crate::state::AppState;

/// Which handler serves a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteId {
    /// Liveness.
    Healthz,
    /// Readiness.
    Readyz,
    /// Prometheus metrics.
    Metrics,
    /// This API's OpenAPI document.
    OpenApi,
    /// One customer.
    GetCustomer,
    /// A page of customers.
    ListCustomers,
    /// RFM groups and named segments.
    ListSegments,
    /// Store a named segment.
    CreateSegment,
    /// Export a segment's members.
    ExportSegment,
    /// The model registry.
    ListModels,
    /// Store orders and re-score their customers live.
    PostOrders,
    /// Store events and re-score their customers live.
    PostEvents,
    /// Sentiment of texts.
    TextSentiment,
    /// Embeddings of texts.
    TextEmbed,
    /// Queue a retrain job.
    Retrain,
    /// A retrain job's status.
    GetJob,
}

/// The type of a parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ty {
    /// Text.
    Str,
    /// A number.
    Num,
    /// A whole number ≥ 0.
    Int,
    /// One of a few words.
    Enum(&'static [&'static str]),
}

/// A path or query parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Param {
    /// Name.
    pub name: &'static str,
    /// `true` for path parameters.
    pub in_path: bool,
    /// Type.
    pub ty: Ty,
    /// What it does.
    pub description: &'static str,
}

/// What a successful response holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Body {
    /// JSON of a schema in the document's components.
    Json(&'static str),
    /// Prometheus text.
    Text,
    /// A CSV or Parquet file.
    File,
}

/// One route.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RouteSpec {
    /// Handler.
    pub id: RouteId,
    /// `GET` or `POST`.
    pub method: &'static str,
    /// Path template (axum's and OpenAPI's `{name}` syntax).
    pub path: &'static str,
    /// Scope a key needs; `None` = no key needed.
    pub scope: Option<Scope>,
    /// One line.
    pub summary: &'static str,
    /// Parameters.
    pub params: &'static [Param],
    /// Request body schema, for routes that take one.
    pub request: Option<&'static str>,
    /// Success status and body.
    pub ok: (u16, Body),
    /// Error statuses it can answer (besides 401/403 implied by the scope, and 413/503 for all).
    pub errors: &'static [u16],
}

const fn q(name: &'static str, ty: Ty, description: &'static str) -> Param {
    Param {
        name,
        in_path: false,
        ty,
        description,
    }
}

const fn p(name: &'static str, description: &'static str) -> Param {
    Param {
        name,
        in_path: true,
        ty: Ty::Str,
        description,
    }
}

const PII: Param = q(
    "pii",
    Ty::Enum(&["masked", "hashed", "plain"]),
    "How email and phone are shown: masked (default), hashed (SHA-256), or plain (admin keys only).",
);

/// Every route the server serves.
pub const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        id: RouteId::Healthz,
        method: "GET",
        path: "/healthz",
        scope: None,
        summary: "Liveness: the process is up.",
        params: &[],
        request: None,
        ok: (200, Body::Json("Health")),
        errors: &[],
    },
    RouteSpec {
        id: RouteId::Readyz,
        method: "GET",
        path: "/readyz",
        scope: None,
        summary: "Readiness: the store is open and migrated.",
        params: &[],
        request: None,
        ok: (200, Body::Json("Health")),
        errors: &[503],
    },
    RouteSpec {
        id: RouteId::Metrics,
        method: "GET",
        path: "/metrics",
        scope: None,
        summary: "Prometheus metrics: requests, latency, build, customers scored, model versions.",
        params: &[],
        request: None,
        ok: (200, Body::Text),
        errors: &[],
    },
    RouteSpec {
        id: RouteId::OpenApi,
        method: "GET",
        path: "/openapi.json",
        scope: None,
        summary: "This document.",
        params: &[],
        request: None,
        ok: (200, Body::Json("OpenApi")),
        errors: &[],
    },
    RouteSpec {
        id: RouteId::GetCustomer,
        method: "GET",
        path: "/v1/customers/{id}",
        scope: Some(Scope::Read),
        summary: "One customer: profile, features, latest value scores, recent orders, and why.",
        params: &[p("id", "Customer id."), PII],
        request: None,
        ok: (200, Body::Json("CustomerProfile")),
        errors: &[400, 404],
    },
    RouteSpec {
        id: RouteId::ListCustomers,
        method: "GET",
        path: "/v1/customers",
        scope: Some(Scope::Read),
        summary: "Customers of the latest scoring run, filtered, sorted, one page at a time.",
        params: &[
            q("segment", Ty::Str, "An RFM group (label or slug, e.g. at_risk) or a named segment."),
            q("min_p_alive", Ty::Num, "Only customers with P(alive) at least this (0 to 1)."),
            q("min_churn", Ty::Num, "Only customers with churn risk at least this (0 to 1); needs churn scores."),
            q("sort", Ty::Enum(&["clv", "p_alive", "recency"]), "Order: highest CLV (default), highest P(alive), or most recent order first."),
            q("limit", Ty::Int, "Page size, 1 to 1000 (default 50)."),
            q("cursor", Ty::Str, "next_cursor of the previous page."),
        ],
        request: None,
        ok: (200, Body::Json("CustomerPage")),
        errors: &[400, 404, 409],
    },
    RouteSpec {
        id: RouteId::ListSegments,
        method: "GET",
        path: "/v1/segments",
        scope: Some(Scope::Read),
        summary: "The 11 RFM groups and the named segments, with size and value in the latest run.",
        params: &[],
        request: None,
        ok: (200, Body::Json("SegmentsReport")),
        errors: &[],
    },
    RouteSpec {
        id: RouteId::CreateSegment,
        method: "POST",
        path: "/v1/segments",
        scope: Some(Scope::Write),
        summary: "Store a named segment: a boolean SQL expression over customer_scores columns.",
        params: &[],
        request: Some("NewSegment"),
        ok: (201, Body::Json("Segment")),
        errors: &[400, 409, 415, 422],
    },
    RouteSpec {
        id: RouteId::ExportSegment,
        method: "GET",
        path: "/v1/segments/{name}/export",
        scope: Some(Scope::Read),
        summary: "The members of a segment with their scores, as CSV or Parquet; PII masked unless asked otherwise.",
        params: &[
            p("name", "RFM group slug or named segment."),
            q("format", Ty::Enum(&["csv", "parquet"]), "File format (default csv)."),
            PII,
        ],
        request: None,
        ok: (200, Body::File),
        errors: &[400, 403, 404, 409],
    },
    RouteSpec {
        id: RouteId::ListModels,
        method: "GET",
        path: "/v1/models",
        scope: Some(Scope::Read),
        summary: "The model registry: kind, version, training date, parameters, metrics.",
        params: &[],
        request: None,
        ok: (200, Body::Json("ModelList")),
        errors: &[],
    },
    RouteSpec {
        id: RouteId::PostOrders,
        method: "POST",
        path: "/v1/orders",
        scope: Some(Scope::Write),
        summary: "Store one order or a batch (validated as `tenure ingest` does, one transaction, answered after the commit), then re-score the customers live with the fitted models; says what changed.",
        params: &[],
        request: Some("OrderRows"),
        ok: (200, Body::Json("WriteResult")),
        errors: &[400, 415, 422],
    },
    RouteSpec {
        id: RouteId::PostEvents,
        method: "POST",
        path: "/v1/events",
        scope: Some(Scope::Write),
        summary: "Store one event or a batch (validated as `tenure ingest` does, one transaction, answered after the commit), then re-score the customers live; says what changed.",
        params: &[],
        request: Some("EventRows"),
        ok: (200, Body::Json("WriteResult")),
        errors: &[400, 415, 422],
    },
    RouteSpec {
        id: RouteId::TextSentiment,
        method: "POST",
        path: "/v1/text/sentiment",
        scope: Some(Scope::Read),
        summary: "Sentiment of up to 64 texts with a local encoder and its shipped head (503 until `tenure models pull` has installed the encoder).",
        params: &[],
        request: Some("TextRequest"),
        ok: (200, Body::Json("SentimentResult")),
        errors: &[400, 415, 422],
    },
    RouteSpec {
        id: RouteId::TextEmbed,
        method: "POST",
        path: "/v1/text/embed",
        scope: Some(Scope::Read),
        summary: "Unit-length sentence embeddings of up to 64 texts (503 until `tenure models pull` has installed the encoder).",
        params: &[],
        request: Some("TextRequest"),
        ok: (200, Body::Json("EmbedResult")),
        errors: &[400, 415, 422],
    },
    RouteSpec {
        id: RouteId::Retrain,
        method: "POST",
        path: "/v1/models/retrain",
        scope: Some(Scope::Admin),
        summary: "Refit a model on the whole store and score with it, as an asynchronous job; answers at once with the job.",
        params: &[],
        request: Some("RetrainRequest"),
        ok: (202, Body::Json("Job")),
        errors: &[400, 409, 415, 422],
    },
    RouteSpec {
        id: RouteId::GetJob,
        method: "GET",
        path: "/v1/jobs/{id}",
        scope: Some(Scope::Read),
        summary: "A retrain job: queued, running, succeeded (with the fit's summary) or failed (with the error).",
        params: &[p("id", "Job id from POST /v1/models/retrain.")],
        request: None,
        ok: (200, Body::Json("Job")),
        errors: &[400, 404],
    },
];

/// The route a method and matched path template belong to (HEAD counts as GET).
pub fn find(method: &str, path: &str) -> Option<&'static RouteSpec> {
    let method = if method == "HEAD" { "GET" } else { method };
    ROUTES.iter().find(|r| r.path == path && r.method == method)
}

fn filter(method: &str) -> MethodFilter {
    match method {
        "POST" => MethodFilter::POST,
        "PUT" => MethodFilter::PUT,
        "DELETE" => MethodFilter::DELETE,
        _ => MethodFilter::GET,
    }
}

fn route<H, T>(spec: &RouteSpec, h: H) -> MethodRouter<AppState>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    on(filter(spec.method), h)
}

/// The method router of a table entry.
pub(crate) fn method_router(spec: &RouteSpec) -> MethodRouter<AppState> {
    match spec.id {
        RouteId::Healthz => route(spec, handlers::healthz),
        RouteId::Readyz => route(spec, handlers::readyz),
        RouteId::Metrics => route(spec, handlers::metrics),
        RouteId::OpenApi => route(spec, handlers::openapi),
        RouteId::GetCustomer => route(spec, handlers::get_customer),
        RouteId::ListCustomers => route(spec, handlers::list_customers),
        RouteId::ListSegments => route(spec, handlers::list_segments),
        RouteId::CreateSegment => route(spec, handlers::create_segment),
        RouteId::ExportSegment => route(spec, handlers::export_segment),
        RouteId::ListModels => route(spec, handlers::list_models),
        RouteId::PostOrders => route(spec, handlers::post_orders),
        RouteId::PostEvents => route(spec, handlers::post_events),
        RouteId::TextSentiment => route(spec, handlers::text_sentiment),
        RouteId::TextEmbed => route(spec, handlers::text_embed),
        RouteId::Retrain => route(spec, handlers::retrain),
        RouteId::GetJob => route(spec, handlers::get_job),
    }
}
