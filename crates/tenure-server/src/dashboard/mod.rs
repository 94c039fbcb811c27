//! The web dashboard: server-rendered HTML pages under `/ui` with inline SVG charts, no script and
//! no front-end build. The numbers come from `tenure_engine`'s dashboard functions on the same
//! pooled store connections as the API, so a page and the API agree for the same data.
//!
//! Auth: every page needs an API key of any scope. Browsers sign in at `/ui/login` with a key; the
//! server checks it and sets it as an `HttpOnly; SameSite=Strict` cookie scoped to `/ui`, which the
//! pages accept (so do `Authorization: Bearer` headers, for scripts). Without one a page redirects
//! to the login form. Personal data is always masked on the dashboard, whatever the key's scope.
//! Pages send a `Content-Security-Policy` that allows no script at all.

mod i18n;
mod pages;
mod svg;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use tenure_engine::escape;

use crate::auth::Caller;
use crate::error::{ApiError, InternalCause};
use crate::middleware::RequestLog;
use crate::state::AppState;
use i18n::t;
pub(crate) use i18n::Lang;

/// Name of the cookie that carries the key.
pub const COOKIE: &str = "tenure_key";

/// Largest request body a dashboard route accepts (the login form).
const BODY_LIMIT: usize = 8 * 1024;

/// The dashboard's routes, with their own auth, limit and logging layers (the API's JSON error
/// rewriting does not apply: errors here are HTML pages).
pub(crate) fn router(state: AppState) -> Router {
    let pages = Router::new()
        .route("/ui", get(pages::overview))
        .route("/ui/", get(pages::overview))
        .route("/ui/rfm", get(pages::rfm))
        .route("/ui/risk", get(pages::risk))
        .route("/ui/cohorts", get(pages::cohorts))
        .route("/ui/sentiment", get(pages::sentiment))
        .route("/ui/models", get(pages::models))
        .route("/ui/models/{id}", get(pages::model))
        .route("/ui/models/{id}/report.html", get(pages::model_html))
        .route("/ui/customers", get(pages::customers))
        .route("/ui/customers/{id}", get(pages::customer))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_key,
        ));
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui") }))
        .route("/ui/login", get(login_form).post(login))
        .route("/ui/logout", post(logout))
        .merge(pages)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Decode `application/x-www-form-urlencoded` text (`+` is a space, `%XX` a byte).
pub(crate) fn form_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encode everything but unreserved characters (for ids in paths and query values).
pub(crate) fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The pairs of a query string or form body, decoded.
pub(crate) fn pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (form_decode(k), form_decode(v))
        })
        .collect()
}

/// The first value of `key` in a query string or form body.
pub(crate) fn param(q: Option<&str>, key: &str) -> Option<String> {
    pairs(q?)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// A page's query: language and the raw pairs.
pub(crate) struct PageQuery {
    /// UI language.
    pub lang: Lang,
    /// The raw query.
    pub raw: Option<String>,
}

impl PageQuery {
    pub(crate) fn new(RawQuery(raw): RawQuery) -> PageQuery {
        PageQuery {
            lang: Lang::parse(param(raw.as_deref(), "lang").as_deref()),
            raw,
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<String> {
        param(self.raw.as_deref(), key)
    }
}

/// An error shown as an HTML page.
#[derive(Debug)]
pub(crate) struct PageError {
    status: StatusCode,
    message: String,
    lang: Lang,
    cause: Option<String>,
}

impl PageError {
    pub(crate) fn new(status: StatusCode, lang: Lang, message: impl Into<String>) -> Self {
        PageError {
            status,
            message: message.into(),
            lang,
            cause: None,
        }
    }

    pub(crate) fn from_api(lang: Lang) -> impl Fn(ApiError) -> PageError {
        move |e| match e {
            ApiError::Client {
                status, message, ..
            } => PageError::new(status, lang, message),
            ApiError::Unavailable { message, .. } => {
                PageError::new(StatusCode::SERVICE_UNAVAILABLE, lang, message)
            }
            ApiError::Internal(cause) => PageError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                message: t(lang, "err.internal").to_string(),
                lang,
                cause: Some(cause),
            },
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let lang = self.lang;
        let body = format!(
            "<h1>{}</h1><p class=\"error\">{}</p>",
            t(lang, "err.title"),
            escape(&self.message)
        );
        let mut r = (
            self.status,
            Html(pages::shell(lang, "", t(lang, "err.title"), &body, "/ui")),
        )
            .into_response();
        if let Some(cause) = self.cause {
            r.extensions_mut().insert(InternalCause(cause));
        }
        r
    }
}

/// The key of a request: the dashboard cookie or a bearer header.
fn presented_key(headers: &HeaderMap) -> Option<String> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|v| v.trim().to_string());
    bearer.or_else(|| {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| *k == COOKIE)
            .map(|(_, v)| v.trim().to_string())
    })
}

/// A same-site path under `/ui` to return to after signing in; anything else becomes `/ui`.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if (n == "/ui" || n.starts_with("/ui/") || n.starts_with("/ui?"))
                && !n.contains("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n.to_string()
        }
        _ => "/ui".into(),
    }
}

/// Pages need a valid key (any scope); browsers without one are sent to the login form.
async fn require_key(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    if let Some(caller) = presented_key(req.headers()).and_then(|k| st.inner.keys.verify(&k)) {
        req.extensions_mut().insert::<Caller>(caller);
        return next.run(req).await;
    }
    if req.method() == Method::GET || req.method() == Method::HEAD {
        let here = req
            .uri()
            .path_and_query()
            .map_or("/ui", |p| p.as_str())
            .to_string();
        let lang = Lang::parse(param(req.uri().query(), "lang").as_deref());
        return Redirect::to(&format!(
            "/ui/login?lang={}&next={}",
            lang.code(),
            url_encode(&here)
        ))
        .into_response();
    }
    PageError::new(
        StatusCode::UNAUTHORIZED,
        Lang::En,
        "sign in at /ui/login with an API key",
    )
    .into_response()
}

fn login_page(lang: Lang, next: &str, error: bool) -> String {
    let err = if error {
        format!(
            "<p class=\"error\" id=\"login-error\">{}</p>",
            t(lang, "login.bad")
        )
    } else {
        String::new()
    };
    let body = format!(
        "<h1>{}</h1>{err}<p class=\"muted\">{}</p>\
         <form method=\"post\" action=\"/ui/login\" class=\"login\">\
         <label for=\"key\">{}</label>\
         <input id=\"key\" name=\"key\" type=\"password\" autocomplete=\"off\" required size=\"60\">\
         <input type=\"hidden\" name=\"next\" value=\"{}\"><input type=\"hidden\" name=\"lang\" value=\"{}\">\
         <button type=\"submit\">{}</button></form>",
        t(lang, "login.title"),
        pages::prose(t(lang, "login.help")),
        t(lang, "login.key"),
        escape(next),
        lang.code(),
        t(lang, "login.submit"),
    );
    pages::shell_bare(lang, t(lang, "login.title"), &body, "/ui/login")
}

/// `GET /ui/login`: the form.
async fn login_form(raw: RawQuery) -> Html<String> {
    let q = PageQuery::new(raw);
    Html(login_page(
        q.lang,
        &safe_next(q.get("next").as_deref()),
        false,
    ))
}

/// `POST /ui/login`: check the key, set the cookie, go back where the user was going.
async fn login(State(st): State<AppState>, body: Bytes) -> Response {
    let form = String::from_utf8_lossy(&body).into_owned();
    let field = |k: &str| param(Some(&form), k);
    let lang = Lang::parse(field("lang").as_deref());
    let next = safe_next(field("next").as_deref());
    let key = field("key").unwrap_or_default();
    let key = key.trim();
    if st.inner.keys.verify(key).is_none() {
        return (
            StatusCode::UNAUTHORIZED,
            Html(login_page(lang, &next, true)),
        )
            .into_response();
    }
    let mut r = Redirect::to(&next).into_response();
    // The key has only [a-z0-9_] characters (checked by `verify`), so it needs no cookie quoting.
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{COOKIE}={key}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=43200"
    )) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// `POST /ui/logout`: forget the cookie.
async fn logout() -> Response {
    let mut r = Redirect::to("/ui/login").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("tenure_key=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    r
}

/// Request id, timeout, security headers, metrics and the one-line JSON request log (route
/// template only: never the path, which can hold a customer id, or the query).
async fn observe(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let log = RequestLog::begin(&req);
    let opts = &st.inner.opts;
    let mut resp = match tokio::time::timeout(opts.timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => PageError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            Lang::En,
            "the page took too long; try again",
        )
        .into_response(),
    };
    if let Some(InternalCause(cause)) = resp.extensions_mut().remove::<InternalCause>() {
        log.internal_error(&st, &cause);
    }
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&log.id) {
        h.insert("x-request-id", v);
    }
    log.finish(&st, resp.status());
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_and_ids_encode() {
        assert_eq!(form_decode("a+b%3Cc%3E%zz"), "a b<c>%zz");
        assert_eq!(url_encode("a/b <c>"), "a%2Fb%20%3Cc%3E");
        assert_eq!(form_decode(&url_encode("x/é?&")), "x/é?&");
        assert_eq!(param(Some("lang=zh&q=a%20b"), "q").as_deref(), Some("a b"));
        assert_eq!(param(None, "q"), None);
    }

    #[test]
    fn next_stays_on_the_dashboard() {
        assert_eq!(safe_next(Some("/ui/rfm?lang=zh")), "/ui/rfm?lang=zh");
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/ui//evil",
            "/uix",
            "/v1/customers",
            "/ui\\..",
        ] {
            assert_eq!(safe_next(Some(bad)), "/ui", "{bad}");
        }
        assert_eq!(safe_next(None), "/ui");
    }

    #[test]
    fn keys_come_from_the_cookie_or_the_header() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; tenure_key=tnr_x ;c=d"),
        );
        assert_eq!(presented_key(&h).as_deref(), Some("tnr_x"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer tnr_y"),
        );
        assert_eq!(presented_key(&h).as_deref(), Some("tnr_y"));
        assert_eq!(presented_key(&HeaderMap::new()), None);
    }
}
