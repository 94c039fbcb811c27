//! The dashboard's pages: each handler loads one engine report on a pooled connection and renders
//! it. Every value put into HTML goes through `escape`; every number is formatted here, once, so
//! the browser test can compare what is shown with the API's JSON.

use std::fmt::Write;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value;
use tenure_engine::store::Store;
use tenure_engine::{escape, line_chart, JsonRow, Series, RFM_GROUPS};

use super::i18n::{lookup, t, Lang};
use super::svg::{self, Bar, GridCell, HBar, MonthSeries, Part};
use super::{url_encode, PageError, PageQuery};
use crate::extract::ApiPath;
use crate::state::AppState;

type Page = Result<Html<String>, PageError>;

const STYLE: &str = "*{box-sizing:border-box}body{margin:0;font-family:system-ui,-apple-system,'Segoe UI','PingFang SC','Noto Sans CJK SC','Microsoft YaHei',sans-serif;color:#1f2937;background:#f6f7f9}\
header{background:#0f3d3e;color:#fff;padding:0 24px;display:flex;align-items:center;gap:20px;flex-wrap:wrap}\
header .brand{font-weight:700;font-size:18px;padding:14px 0;margin-right:8px;color:#fff;text-decoration:none}\
header nav{display:flex;gap:4px;flex-wrap:wrap;flex:1}header nav a{color:#cfe8e6;text-decoration:none;padding:16px 10px;border-bottom:3px solid transparent}\
header nav a.on{color:#fff;border-bottom-color:#5eead4}header nav a:hover{color:#fff}\
header .tools{display:flex;gap:12px;align-items:center}header .tools a,header .tools button{color:#cfe8e6;background:none;border:1px solid #4b7b7b;border-radius:4px;padding:4px 10px;font:inherit;cursor:pointer;text-decoration:none}\
main{max-width:1180px;margin:0 auto;padding:20px 24px 48px}h1{font-size:24px;margin:8px 0 4px}h2{font-size:18px;margin:28px 0 8px}\
.muted{color:#6b7280}.error{color:#b91c1c;font-weight:600}.note{background:#fff7ed;border:1px solid #fed7aa;padding:10px 14px;border-radius:6px}\
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:12px;margin:16px 0}\
.card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:12px 16px}.card .k{color:#6b7280;font-size:13px}.card .v{font-size:24px;font-weight:650;margin-top:4px;font-variant-numeric:tabular-nums}\
.panel{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:12px 16px;margin:12px 0;overflow-x:auto}\
svg.chart{width:100%;max-width:960px;height:auto;display:block}.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:12px}\
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums;background:#fff}th,td{padding:6px 10px;border-bottom:1px solid #e5e7eb;text-align:right;white-space:nowrap}\
th{background:#f3f4f6;font-weight:600;color:#374151}td.l,th.l{text-align:left;white-space:normal}td.nw{white-space:nowrap}a{color:#0f766e}\
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;vertical-align:middle}\
.badge{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-size:13px;font-weight:600}\
form.search,form.login{display:flex;gap:8px;flex-wrap:wrap;align-items:center;margin:12px 0}input{font:inherit;padding:7px 10px;border:1px solid #cbd5e1;border-radius:6px}\
button{font:inherit;padding:7px 14px;border-radius:6px;border:1px solid #0f766e;background:#0f766e;color:#fff;cursor:pointer}pre{white-space:pre-wrap;word-break:break-all;font-size:12px}";

const NAV: [(&str, &str, &str); 7] = [
    ("overview", "/ui", "nav.overview"),
    ("rfm", "/ui/rfm", "nav.rfm"),
    ("risk", "/ui/risk", "nav.risk"),
    ("cohorts", "/ui/cohorts", "nav.cohorts"),
    ("sentiment", "/ui/sentiment", "nav.sentiment"),
    ("models", "/ui/models", "nav.models"),
    ("customers", "/ui/customers", "nav.customers"),
];

/// `path` with the language appended to its query when it is not English.
pub(crate) fn link(lang: Lang, path: &str) -> String {
    match lang {
        Lang::En => path.to_string(),
        Lang::Zh if path.contains('?') => format!("{path}&lang=zh"),
        Lang::Zh => format!("{path}?lang=zh"),
    }
}

fn toggle(lang: Lang, here: &str) -> String {
    let other = lang.other();
    let sep = if here.contains('?') { '&' } else { '?' };
    format!(
        "<a id=\"lang-toggle\" href=\"{}\" hreflang=\"{}\">{}</a>",
        escape(&format!("{here}{sep}lang={}", other.code())),
        other.code(),
        t(other, "lang.name")
    )
}

fn document(lang: Lang, title: &str, header: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · tenure</title><link rel=\"icon\" href=\"data:,\"><style>{STYLE}</style></head><body>{header}<main>{body}</main></body></html>",
        if lang == Lang::Zh { "zh-CN" } else { "en" },
        escape(title)
    )
}

/// A page with the navigation bar; `active` names the nav item, `here` is the page's own path and
/// query without `lang` (for the language toggle).
pub(crate) fn shell(lang: Lang, active: &str, title: &str, body: &str, here: &str) -> String {
    let mut nav = String::new();
    for (id, path, key) in NAV {
        let _ = write!(
            nav,
            "<a href=\"{}\"{}>{}</a>",
            escape(&link(lang, path)),
            if id == active { " class=\"on\"" } else { "" },
            t(lang, key)
        );
    }
    let header = format!(
        "<header><a class=\"brand\" href=\"{}\">tenure</a><nav>{nav}</nav><div class=\"tools\">{}\
         <form method=\"post\" action=\"/ui/logout\"><button type=\"submit\" id=\"logout\">{}</button></form></div></header>",
        escape(&link(lang, "/ui")),
        toggle(lang, here),
        t(lang, "nav.logout")
    );
    document(lang, title, &header, body)
}

/// A page without navigation (the login form).
pub(crate) fn shell_bare(lang: Lang, title: &str, body: &str, here: &str) -> String {
    let header = format!(
        "<header><span class=\"brand\">tenure</span><nav></nav><div class=\"tools\">{}</div></header>",
        toggle(lang, here)
    );
    document(lang, title, &header, body)
}

/// UI prose escaped for HTML, with `backticked` commands set as code.
pub(crate) fn prose(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in s.split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str("<code>");
            out.push_str(&escape(part));
            out.push_str("</code>");
        } else {
            out.push_str(&escape(part));
        }
    }
    out
}

/// Thousands separators on an integer.
pub(crate) fn fmt_int(v: i64) -> String {
    let digits = v.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// A number with `decimals` places and thousands separators; "–" when missing or not finite.
pub(crate) fn fmt_num(v: Option<f64>, decimals: usize) -> String {
    let Some(v) = v.filter(|v| v.is_finite()) else {
        return "–".into();
    };
    let s = format!("{:.*}", decimals, v.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let int = fmt_int(int.parse::<i64>().unwrap_or(0));
    let sign = if v < 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "-"
    } else {
        ""
    };
    if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    }
}

fn pct(v: Option<f64>) -> String {
    v.filter(|v| v.is_finite())
        .map_or("–".into(), |v| format!("{:.1}%", 100.0 * v))
}

/// A stat card; `id` becomes `data-testid`, `raw` the exact value in `data-value`.
fn card(id: &str, label: &str, shown: &str, raw: &str) -> String {
    format!(
        "<div class=\"card\"><div class=\"k\">{}</div><div class=\"v\" data-testid=\"{}\" data-value=\"{}\">{}</div></div>",
        escape(label),
        escape(id),
        escape(raw),
        escape(shown)
    )
}

fn group_label(lang: Lang, g: &str) -> String {
    lookup(lang, &format!("group.{g}")).map_or_else(|| g.to_string(), str::to_string)
}

fn group_index(g: &str) -> usize {
    RFM_GROUPS.iter().position(|x| *x == g).unwrap_or(10)
}

async fn load<T, F>(st: &AppState, lang: Lang, f: F) -> Result<T, PageError>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> tenure_engine::Result<T> + Send + 'static,
{
    let from_api = PageError::from_api(lang);
    st.inner
        .pool
        .run(f)
        .await
        .map_err(&from_api)?
        .map_err(|e| from_api(e.into()))
}

fn run_line(lang: Lang, run: Option<&tenure_engine::ScoreRun>) -> String {
    match run {
        Some(r) => format!(
            "<p class=\"muted\">{} <b data-testid=\"as-of\">{}</b> · {} <code>{}</code></p>",
            t(lang, "run.as_of"),
            r.as_of,
            t(lang, "run.id"),
            escape(&r.run_id)
        ),
        None => format!("<p class=\"note\">{}</p>", prose(t(lang, "run.none"))),
    }
}

/// `GET /ui`: customers, revenue, value, active vs at risk, CLV distribution.
pub(crate) async fn overview(State(st): State<AppState>, raw: RawQuery) -> Page {
    let q = PageQuery::new(raw);
    let lang = q.lang;
    let o = load(&st, lang, tenure_engine::overview).await?;
    let mut b = format!(
        "<h1>{}</h1>{}",
        t(lang, "ov.title"),
        run_line(lang, o.run.as_ref())
    );
    b.push_str("<div class=\"cards\">");
    for (id, key, shown, raw) in [
        (
            "customers",
            "ov.customers",
            fmt_int(o.customers),
            o.customers.to_string(),
        ),
        (
            "orders",
            "ov.orders",
            fmt_int(o.orders),
            o.orders.to_string(),
        ),
        (
            "revenue",
            "ov.revenue",
            fmt_num(Some(o.revenue), 2),
            o.revenue.to_string(),
        ),
        (
            "clv-total",
            "ov.clv",
            fmt_num(Some(o.clv_total), 2),
            o.clv_total.to_string(),
        ),
        (
            "e90",
            "ov.e90",
            fmt_num(Some(o.expected_purchases_90d), 1),
            o.expected_purchases_90d.to_string(),
        ),
        (
            "mean-p-alive",
            "ov.mean_p_alive",
            fmt_num(o.mean_p_alive, 3),
            o.mean_p_alive.map(|v| v.to_string()).unwrap_or_default(),
        ),
    ] {
        b.push_str(&card(id, t(lang, key), &shown, &raw));
    }
    b.push_str("</div>");
    let a = &o.activity;
    let mut parts = vec![
        Part {
            label: t(lang, "ov.active").into(),
            value: a.active as f64,
            colour: "#0f766e",
        },
        Part {
            label: t(lang, "ov.at_risk").into(),
            value: a.at_risk as f64,
            colour: "#f59e0b",
        },
        Part {
            label: t(lang, "ov.lost").into(),
            value: a.lost as f64,
            colour: "#b91c1c",
        },
    ];
    if a.unknown > 0 {
        parts.push(Part {
            label: t(lang, "ov.unknown").into(),
            value: a.unknown as f64,
            colour: "#9ca3af",
        });
    }
    let _ = write!(
        b,
        "<h2>{}</h2><div class=\"panel\">{}<p class=\"muted\">{}</p></div>",
        t(lang, "ov.activity"),
        svg::stacked(t(lang, "ov.activity"), &parts),
        escape(t(lang, "ov.activity.note"))
    );
    let bars: Vec<Bar> = o
        .clv_histogram
        .iter()
        .map(|h| Bar {
            label: if h.open {
                format!("≥{}", svg::short(h.lower))
            } else {
                svg::short(h.lower)
            },
            value: h.count as f64,
            tip: format!(
                "{}–{}{}: {}",
                fmt_num(Some(h.lower), 0),
                fmt_num(Some(h.upper), 0),
                if h.open { "+" } else { "" },
                h.count
            ),
        })
        .collect();
    let _ = write!(
        b,
        "<h2>{}</h2><div class=\"panel\">{}<p class=\"muted\">{}</p></div>",
        t(lang, "ov.clv_hist"),
        svg::bars(
            t(lang, "ov.clv_hist"),
            t(lang, "axis.clv"),
            t(lang, "axis.customers"),
            &bars,
            "#0f766e"
        ),
        escape(t(lang, "ov.clv_hist.note"))
    );
    Ok(Html(shell(
        lang,
        "overview",
        t(lang, "ov.title"),
        &b,
        "/ui",
    )))
}

/// `GET /ui/rfm`: the 11 groups and the recency × frequency grid.
pub(crate) async fn rfm(State(st): State<AppState>, raw: RawQuery) -> Page {
    let q = PageQuery::new(raw);
    let lang = q.lang;
    let g = load(&st, lang, tenure_engine::rfm_grid).await?;
    let mut b = format!(
        "<h1>{}</h1>{}",
        t(lang, "rfm.title"),
        run_line(lang, g.run.as_ref())
    );
    let cells: Vec<GridCell> = g
        .cells
        .iter()
        .map(|c| GridCell {
            recency: c.recency,
            frequency: c.frequency,
            label: group_label(lang, &c.group),
            colour: svg::group_colour(group_index(&c.group)),
            customers: c.customers,
        })
        .collect();
    let total: i64 = g.groups.iter().filter_map(|s| s.customers).sum();
    let bars: Vec<HBar> = g
        .groups
        .iter()
        .map(|s| {
            let label = s.label.as_deref().unwrap_or(&s.name);
            let n = s.customers.unwrap_or(0);
            HBar {
                label: group_label(lang, label),
                value: n as f64,
                shown: format!(
                    "{} · {}",
                    fmt_int(n),
                    pct((total > 0).then(|| n as f64 / total as f64))
                ),
                colour: svg::group_colour(group_index(label)),
            }
        })
        .collect();
    let _ = write!(
        b,
        "<div class=\"grid2\"><div class=\"panel\">{}<p class=\"muted\">{}</p></div><div class=\"panel\">{}</div></div>",
        svg::rfm_grid(
            t(lang, "rfm.grid"),
            t(lang, "rfm.recency"),
            t(lang, "rfm.frequency"),
            &cells
        ),
        escape(t(lang, "rfm.grid.note")),
        svg::hbars(t(lang, "rfm.sizes"), &bars)
    );
    let _ = write!(
        b,
        "<h2>{}</h2><div class=\"panel\"><table id=\"rfm-groups\"><tr><th class=\"l\">{}</th><th class=\"l\">{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        t(lang, "rfm.sizes"),
        t(lang, "col.group"),
        t(lang, "col.meaning"),
        t(lang, "col.customers"),
        t(lang, "col.share"),
        t(lang, "col.clv"),
        t(lang, "col.mean_clv"),
        t(lang, "col.mean_p_alive"),
        t(lang, "col.e90"),
    );
    for s in &g.groups {
        let label = s.label.as_deref().unwrap_or(&s.name);
        let n = s.customers.unwrap_or(0);
        let mean_clv = s.clv.filter(|_| n > 0).map(|c| c / n as f64);
        let _ = write!(
            b,
            "<tr data-group=\"{slug}\"><td class=\"l\"><span class=\"swatch\" style=\"background:{}\"></span><a href=\"{}\">{}</a></td><td class=\"l muted\">{}</td>\
             <td data-testid=\"size-{slug}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            svg::group_colour(group_index(label)),
            escape(&link(lang, &format!("/ui/customers?segment={}", url_encode(&s.name)))),
            escape(&group_label(lang, label)),
            escape(t(lang, &format!("meaning.{label}"))),
            fmt_int(n),
            pct((total > 0).then(|| n as f64 / total as f64)),
            fmt_num(s.clv, 2),
            fmt_num(mean_clv, 2),
            fmt_num(s.mean_p_alive, 3),
            fmt_num(s.expected_purchases_90d, 1),
            slug = escape(&s.name),
        );
    }
    b.push_str("</table></div>");
    Ok(Html(shell(
        lang,
        "rfm",
        t(lang, "rfm.title"),
        &b,
        "/ui/rfm",
    )))
}

/// `GET /ui/risk`: churn risk distribution and by group.
pub(crate) async fn risk(State(st): State<AppState>, raw: RawQuery) -> Page {
    let q = PageQuery::new(raw);
    let lang = q.lang;
    let r = load(&st, lang, tenure_engine::risk_distribution).await?;
    let mut b = format!(
        "<h1>{}</h1>{}",
        t(lang, "risk.title"),
        run_line(lang, r.run.as_ref())
    );
    match r.source {
        tenure_engine::RiskSource::ChurnModel => {
            let _ = write!(
                b,
                "<p id=\"risk-source\" data-source=\"churn_model\">{} <a href=\"{}\"><code>{}</code></a>{}</p>",
                t(lang, "risk.src.model"),
                escape(&link(
                    lang,
                    &format!("/ui/models/{}", url_encode(r.model_id.as_deref().unwrap_or("")))
                )),
                escape(r.model_id.as_deref().unwrap_or("")),
                r.as_of.map(|d| format!(" · {d}")).unwrap_or_default()
            );
        }
        tenure_engine::RiskSource::PAlive => {
            let _ = write!(
                b,
                "<p class=\"note\" id=\"risk-source\" data-source=\"p_alive\">{}</p>",
                prose(t(lang, "risk.src.palive"))
            );
        }
    }
    b.push_str("<div class=\"cards\">");
    b.push_str(&card(
        "risk-customers",
        t(lang, "risk.customers"),
        &fmt_int(r.customers),
        &r.customers.to_string(),
    ));
    b.push_str(&card(
        "risk-mean",
        t(lang, "risk.mean"),
        &fmt_num(r.mean_risk, 3),
        &r.mean_risk.map(|v| v.to_string()).unwrap_or_default(),
    ));
    b.push_str(&card(
        "risk-high",
        t(lang, "risk.high"),
        &fmt_int(r.high_risk),
        &r.high_risk.to_string(),
    ));
    b.push_str("</div>");
    let bars: Vec<Bar> = r
        .histogram
        .iter()
        .map(|h| Bar {
            label: format!("{:.1}–{:.1}", h.lower, h.upper),
            value: h.count as f64,
            tip: format!("{:.1}–{:.1}: {}", h.lower, h.upper, h.count),
        })
        .collect();
    let groups: Vec<HBar> = r
        .by_group
        .iter()
        .map(|g| HBar {
            label: group_label(lang, &g.group),
            value: g.mean_risk.unwrap_or(0.0),
            shown: fmt_num(g.mean_risk, 3),
            colour: svg::group_colour(group_index(&g.group)),
        })
        .collect();
    let _ = write!(
        b,
        "<div class=\"grid2\"><div class=\"panel\">{}</div><div class=\"panel\">{}</div></div>",
        svg::bars(
            t(lang, "risk.hist"),
            t(lang, "axis.risk"),
            t(lang, "axis.customers"),
            &bars,
            "#b45309"
        ),
        svg::hbars(t(lang, "risk.by_group"), &groups)
    );
    let _ = write!(
        b,
        "<div class=\"panel\"><table><tr><th class=\"l\">{}</th><th>{}</th><th>{}</th></tr>",
        t(lang, "col.group"),
        t(lang, "col.customers"),
        t(lang, "col.mean_risk")
    );
    for g in &r.by_group {
        let _ = write!(
            b,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td></tr>",
            escape(&group_label(lang, &g.group)),
            fmt_int(g.customers),
            fmt_num(g.mean_risk, 3)
        );
    }
    b.push_str("</table></div>");
    Ok(Html(shell(
        lang,
        "risk",
        t(lang, "risk.title"),
        &b,
        "/ui/risk",
    )))
}

/// `GET /ui/cohorts`: the retention heat map.
pub(crate) async fn cohorts(State(st): State<AppState>, raw: RawQuery) -> Page {
    let q = PageQuery::new(raw);
    let lang = q.lang;
    let c = load(&st, lang, tenure_engine::cohorts).await?;
    let mut b = format!(
        "<h1>{}</h1><p class=\"muted\">{}</p>",
        t(lang, "coh.title"),
        escape(t(lang, "coh.note"))
    );
    if c.rows.is_empty() {
        let _ = write!(b, "<p class=\"note\">{}</p>", escape(t(lang, "coh.none")));
    } else {
        let rows: Vec<(String, Vec<Option<f64>>)> = c
            .rows
            .iter()
            .map(|r| {
                (
                    format!("{} ({})", r.cohort, fmt_int(r.customers)),
                    r.retention.clone(),
                )
            })
            .collect();
        let _ = write!(
            b,
            "<div class=\"panel\">{}</div>",
            svg::heatmap(
                t(lang, "coh.heatmap"),
                t(lang, "coh.months_after"),
                &rows,
                c.months
            )
        );
        let _ = write!(
            b,
            "<div class=\"panel\"><table id=\"cohorts\"><tr><th class=\"l\">{}</th><th>{}</th>",
            t(lang, "col.cohort"),
            t(lang, "col.customers")
        );
        let shown = c.months.min(13);
        for k in 1..shown {
            let _ = write!(b, "<th>+{k}</th>");
        }
        b.push_str("</tr>");
        for r in &c.rows {
            let _ = write!(
                b,
                "<tr><td class=\"l\">{}</td><td>{}</td>",
                escape(&r.cohort),
                fmt_int(r.customers)
            );
            for v in r.retention.iter().take(shown).skip(1) {
                let _ = write!(b, "<td>{}</td>", v.map_or(String::new(), |v| pct(Some(v))));
            }
            b.push_str("</tr>");
        }
        b.push_str("</table></div>");
    }
    Ok(Html(shell(
        lang,
        "cohorts",
        t(lang, "coh.title"),
        &b,
        "/ui/cohorts",
    )))
}

/// `GET /ui/sentiment`: ratings and model sentiment by month, or the no-reviews state.
pub(crate) async fn sentiment(State(st): State<AppState>, raw: RawQuery) -> Page {
    let q = PageQuery::new(raw);
    let lang = q.lang;
    let s = load(&st, lang, tenure_engine::sentiment_trend).await?;
    let mut b = format!("<h1>{}</h1>", t(lang, "sent.title"));
    if s.reviews == 0 {
        let _ = write!(
            b,
            "<p class=\"note\" id=\"no-reviews\">{}</p>",
            prose(t(lang, "sent.none"))
        );
        return Ok(Html(shell(
            lang,
            "sentiment",
            t(lang, "sent.title"),
            &b,
            "/ui/sentiment",
        )));
    }
    b.push_str("<div class=\"cards\">");
    b.push_str(&card(
        "reviews",
        t(lang, "sent.reviews"),
        &fmt_int(s.reviews),
        &s.reviews.to_string(),
    ));
    b.push_str(&card(
        "analysed",
        t(lang, "sent.analysed"),
        &fmt_int(s.analysed),
        &s.analysed.to_string(),
    ));
    b.push_str("</div>");
    match &s.model {
        Some(m) => {
            let _ = write!(
                b,
                "<p class=\"muted\">{} <code>{}</code></p>",
                t(lang, "col.model"),
                escape(m)
            );
        }
        None => {
            let _ = write!(
                b,
                "<p class=\"note\">{}</p>",
                prose(t(lang, "sent.not_analysed"))
            );
        }
    }
    let months: Vec<String> = s.months.iter().map(|m| m.month.clone()).collect();
    let mut charts = String::new();
    if s.months.iter().any(|m| m.mean_rating.is_some()) {
        let _ = write!(
            charts,
            "<div class=\"panel\">{}</div>",
            svg::month_lines(
                t(lang, "sent.rating_chart"),
                t(lang, "axis.rating"),
                &months,
                &[MonthSeries {
                    label: t(lang, "sent.rating").into(),
                    values: s.months.iter().map(|m| m.mean_rating).collect(),
                    colour: "#0f766e",
                }],
                Some((1.0, 5.0)),
            )
        );
    }
    if s.model.is_some() {
        let _ = write!(
            charts,
            "<div class=\"panel\">{}</div>",
            svg::month_lines(
                t(lang, "sent.positive_chart"),
                t(lang, "sent.positive"),
                &months,
                &[MonthSeries {
                    label: t(lang, "sent.positive").into(),
                    values: s.months.iter().map(|m| m.mean_positive).collect(),
                    colour: "#7c3aed",
                }],
                Some((0.0, 1.0)),
            )
        );
    }
    let volume: Vec<Bar> = s
        .months
        .iter()
        .map(|m| Bar {
            label: m.month.clone(),
            value: m.reviews as f64,
            tip: format!("{}: {}", m.month, m.reviews),
        })
        .collect();
    let _ = write!(
        charts,
        "<div class=\"panel\">{}</div>",
        svg::bars(
            t(lang, "sent.volume_chart"),
            t(lang, "axis.month"),
            t(lang, "axis.reviews"),
            &volume,
            "#64748b"
        )
    );
    let _ = write!(b, "<div class=\"grid2\">{charts}</div>");
    let _ = write!(
        b,
        "<div class=\"panel\"><table><tr><th class=\"l\">{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        t(lang, "col.month"),
        t(lang, "col.reviews"),
        t(lang, "col.rating"),
        t(lang, "col.positive")
    );
    for m in s.months.iter().rev() {
        let _ = write!(
            b,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&m.month),
            fmt_int(m.reviews),
            fmt_num(m.mean_rating, 2),
            fmt_num(m.mean_positive, 3)
        );
    }
    b.push_str("</table></div>");
    Ok(Html(shell(
        lang,
        "sentiment",
        t(lang, "sent.title"),
        &b,
        "/ui/sentiment",
    )))
}

/// The headline numeric metrics of a registry row (one level of nesting flattened as
/// `parent.child`), the usual quality measures first.
fn headline(metrics: &str) -> String {
    const FIRST: [&str; 7] = [
        "auc",
        "accuracy",
        "macro_f1",
        "holdout.correlation",
        "holdout.relative_error",
        "cumulative.relative_error",
        "log_loss",
    ];
    let Ok(Value::Object(m)) = serde_json::from_str::<Value>(metrics) else {
        return String::new();
    };
    let mut flat: Vec<(String, f64)> = Vec::new();
    for (k, v) in &m {
        match v {
            Value::Object(inner) => flat.extend(
                inner
                    .iter()
                    .filter_map(|(k2, v2)| Some((format!("{k}.{k2}"), v2.as_f64()?))),
            ),
            other => flat.extend(other.as_f64().map(|x| (k.clone(), x))),
        }
    }
    flat.sort_by_key(|(k, _)| FIRST.iter().position(|f| f == k).unwrap_or(FIRST.len()));
    flat.iter()
        .take(4)
        .map(|(k, v)| format!("{k} {}", fmt_num(Some(*v), 4)))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// `GET /ui/models`: the registry.
pub(crate) async fn models(State(st): State<AppState>, raw: RawQuery) -> Page {
    let q = PageQuery::new(raw);
    let lang = q.lang;
    let list = load(&st, lang, tenure_engine::models).await?;
    let mut b = format!("<h1>{}</h1>", t(lang, "mod.title"));
    if list.is_empty() {
        let _ = write!(b, "<p class=\"note\">{}</p>", prose(t(lang, "mod.none")));
    } else {
        let _ = write!(
            b,
            "<div class=\"panel\"><table id=\"models\"><tr><th class=\"l\">{}</th><th class=\"l\">{}</th><th>{}</th><th>{}</th><th>{}</th><th class=\"l\">{}</th></tr>",
            t(lang, "col.model"),
            t(lang, "col.kind"),
            t(lang, "col.version"),
            t(lang, "col.trained"),
            t(lang, "col.as_of"),
            t(lang, "col.metrics")
        );
        for m in &list {
            let _ = write!(
                b,
                "<tr><td class=\"l nw\"><a href=\"{}\">{}</a></td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"l muted\">{}</td></tr>",
                escape(&link(lang, &format!("/ui/models/{}", url_encode(&m.model_id)))),
                escape(&m.model_id),
                escape(&m.kind),
                m.version,
                m.trained_at.format("%Y-%m-%d %H:%M"),
                m.as_of.map(|d| d.to_string()).unwrap_or_default(),
                escape(&headline(&m.metrics))
            );
        }
        b.push_str("</table></div>");
    }
    Ok(Html(shell(
        lang,
        "models",
        t(lang, "mod.title"),
        &b,
        "/ui/models",
    )))
}

fn pretty(json: &str) -> String {
    serde_json::from_str::<Value>(json)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| json.to_string())
}

/// `GET /ui/models/{id}`: ROC, calibration, holdout tracking.
pub(crate) async fn model(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    raw: RawQuery,
) -> Page {
    let q = PageQuery::new(raw);
    let lang = q.lang;
    let wanted = id.clone();
    let r = load(&st, lang, move |s| tenure_engine::model_report(s, &wanted))
        .await?
        .ok_or_else(|| {
            PageError::new(
                StatusCode::NOT_FOUND,
                lang,
                format!("no model `{id}`: see /ui/models"),
            )
        })?;
    let m = &r.model;
    let mut b = format!(
        "<h1>{} <code>{}</code></h1><p class=\"muted\">{} · {} {} · {} {}{}</p>",
        t(lang, "col.model"),
        escape(&m.model_id),
        escape(&m.kind),
        t(lang, "col.version"),
        m.version,
        t(lang, "col.trained"),
        m.trained_at.format("%Y-%m-%d %H:%M"),
        m.as_of
            .map(|d| format!(" · {} {d}", t(lang, "col.as_of")))
            .unwrap_or_default()
    );
    if r.has_html {
        let _ = write!(
            b,
            "<p><a id=\"full-report\" href=\"/ui/models/{}/report.html\">{}</a></p>",
            escape(&url_encode(&m.model_id)),
            t(lang, "mod.full_report")
        );
    }
    let mut charts = String::new();
    if let Some(c) = &r.classifier {
        let _ = write!(
            b,
            "<div class=\"cards\">{}{}{}</div>",
            card(
                "auc",
                "AUC",
                &fmt_num(c.auc, 4),
                &c.auc.map(|v| v.to_string()).unwrap_or_default()
            ),
            card(
                "log-loss",
                "log loss",
                &fmt_num(c.log_loss, 4),
                &c.log_loss.map(|v| v.to_string()).unwrap_or_default()
            ),
            card(
                "brier",
                "Brier",
                &fmt_num(c.brier, 4),
                &c.brier.map(|v| v.to_string()).unwrap_or_default()
            ),
        );
        let roc = line_chart(
            t(lang, "mod.roc"),
            t(lang, "axis.fpr"),
            t(lang, "axis.tpr"),
            &[
                Series {
                    label: t(lang, "mod.model"),
                    points: c.roc.clone(),
                    colour: "#0f766e",
                    dashed: false,
                },
                Series {
                    label: t(lang, "mod.chance"),
                    points: vec![(0.0, 0.0), (1.0, 1.0)],
                    colour: "#9ca3af",
                    dashed: true,
                },
            ],
            None,
        );
        let cal = line_chart(
            t(lang, "mod.calibration"),
            t(lang, "axis.predicted"),
            t(lang, "axis.observed"),
            &[
                Series {
                    label: t(lang, "mod.model"),
                    points: c.calibration.iter().map(|&(p, o, _)| (p, o)).collect(),
                    colour: "#b45309",
                    dashed: false,
                },
                Series {
                    label: t(lang, "mod.perfect"),
                    points: vec![(0.0, 0.0), (1.0, 1.0)],
                    colour: "#9ca3af",
                    dashed: true,
                },
            ],
            None,
        );
        let _ = write!(
            charts,
            "<div class=\"panel\" id=\"roc\">{}</div><div class=\"panel\" id=\"calibration\">{}</div>",
            roc.replacen("<svg ", "<svg class=\"chart\" ", 1),
            cal.replacen("<svg ", "<svg class=\"chart\" ", 1)
        );
    }
    if let Some(tc) = &r.tracking {
        let _ = write!(
            b,
            "<div class=\"cards\">{}{}</div>",
            card(
                "correlation",
                "holdout correlation",
                &fmt_num(tc.correlation, 3),
                &tc.correlation.map(|v| v.to_string()).unwrap_or_default()
            ),
            card(
                "relative-error",
                "holdout error",
                &pct(tc.relative_error),
                &tc.relative_error.map(|v| v.to_string()).unwrap_or_default()
            ),
        );
        let zip = |ys: &[f64]| {
            tc.weeks
                .iter()
                .copied()
                .zip(ys.iter().copied())
                .collect::<Vec<_>>()
        };
        let chart = line_chart(
            t(lang, "mod.tracking"),
            t(lang, "axis.week"),
            t(lang, "axis.purchases"),
            &[
                Series {
                    label: t(lang, "mod.actual"),
                    points: zip(&tc.actual),
                    colour: "#111827",
                    dashed: false,
                },
                Series {
                    label: t(lang, "mod.predicted"),
                    points: zip(&tc.predicted),
                    colour: "#dc2626",
                    dashed: true,
                },
            ],
            tc.calibration_end_week.map(|w| (w, t(lang, "mod.cal_end"))),
        );
        let _ = write!(
            charts,
            "<div class=\"panel\" id=\"tracking\">{}</div>",
            chart.replacen("<svg ", "<svg class=\"chart\" ", 1)
        );
    }
    if charts.is_empty() {
        let _ = write!(
            b,
            "<p class=\"note\">{}</p>",
            escape(t(lang, "mod.no_curves"))
        );
    } else {
        let _ = write!(b, "<div class=\"grid2\">{charts}</div>");
    }
    let _ = write!(
        b,
        "<div class=\"grid2\"><div class=\"panel\"><h2>{}</h2><pre>{}</pre></div><div class=\"panel\"><h2>{}</h2><pre>{}</pre></div></div>",
        t(lang, "mod.metrics"),
        escape(&pretty(&m.metrics)),
        t(lang, "mod.params"),
        escape(&pretty(&m.params))
    );
    let here = format!("/ui/models/{}", url_encode(&m.model_id));
    Ok(Html(shell(lang, "models", &m.model_id, &b, &here)))
}

/// `GET /ui/models/{id}/report.html`: the model's own static report, as written at training.
pub(crate) async fn model_html(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, PageError> {
    let lang = Lang::En;
    let html = load(&st, lang, move |s| {
        let Some(m) = s.models()?.into_iter().find(|m| m.model_id == id) else {
            return Ok(None);
        };
        Ok(tenure_engine::model_dir(s, &m).and_then(|d| std::fs::read(d.join("report.html")).ok()))
    })
    .await?
    .ok_or_else(|| PageError::new(StatusCode::NOT_FOUND, lang, "this model has no HTML report"))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        html,
    )
        .into_response())
}

fn customer_table(lang: Lang, items: &[JsonRow]) -> String {
    let mut b = format!(
        "<table id=\"customer-list\"><tr><th class=\"l\">{}</th><th class=\"l\">{}</th><th class=\"l\">{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        t(lang, "col.customer"),
        t(lang, "col.group"),
        t(lang, "col.tier"),
        t(lang, "col.p_alive"),
        t(lang, "col.e90"),
        t(lang, "col.clv"),
        t(lang, "col.next_order")
    );
    for it in items {
        let s = |k: &str| {
            it.get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let f = |k: &str| it.get(k).and_then(|v| v.as_f64());
        let id = s("customer_id");
        let _ = write!(
            b,
            "<tr><td class=\"l\"><a href=\"{}\">{}</a></td><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&link(lang, &format!("/ui/customers/{}", url_encode(&id)))),
            escape(&id),
            escape(&group_label(lang, &s("rfm_group"))),
            escape(&s("value_tier")),
            fmt_num(f("p_alive"), 3),
            fmt_num(f("expected_purchases_90d"), 2),
            fmt_num(f("clv"), 2),
            escape(&s("next_order_date"))
        );
    }
    b.push_str("</table>");
    b
}

/// `GET /ui/customers?q=…` or `?segment=…`: search by id, a segment's members, or the top by CLV.
pub(crate) async fn customers(State(st): State<AppState>, raw: RawQuery) -> Page {
    let q = PageQuery::new(raw);
    let lang = q.lang;
    let text = q.get("q").unwrap_or_default();
    let segment = q.get("segment").filter(|s| !s.is_empty());
    let mut b = format!(
        "<h1>{}</h1><form class=\"search\" method=\"get\" action=\"/ui/customers\"><label for=\"q\">{}</label>\
         <input id=\"q\" name=\"q\" value=\"{}\" maxlength=\"200\" autocomplete=\"off\"><input type=\"hidden\" name=\"lang\" value=\"{}\"><button type=\"submit\">{}</button></form>",
        t(lang, "cust.title"),
        t(lang, "cust.search"),
        escape(&text),
        lang.code(),
        t(lang, "cust.go")
    );
    let (heading, items, here) = if let Some(seg) = segment {
        let name = seg.clone();
        let page = load(&st, lang, move |s| {
            tenure_engine::list_customers(
                s,
                &tenure_engine::CustomerQuery {
                    segment: Some(name),
                    limit: Some(tenure_engine::SEARCH_LIMIT),
                    ..Default::default()
                },
            )
        })
        .await?;
        (
            format!("{} <code>{}</code>", t(lang, "cust.segment"), escape(&seg)),
            page.items,
            format!("/ui/customers?segment={}", url_encode(&seg)),
        )
    } else {
        let query = text.clone();
        let found = load(&st, lang, move |s| {
            tenure_engine::search_customers(s, &query)
        })
        .await?;
        let heading = if found.query.is_empty() {
            t(lang, "cust.top").to_string()
        } else {
            format!("{} “{}”", t(lang, "cust.results"), escape(&found.query))
        };
        let here = if text.is_empty() {
            "/ui/customers".to_string()
        } else {
            format!("/ui/customers?q={}", url_encode(&text))
        };
        (heading, found.items, here)
    };
    let _ = write!(b, "<h2>{heading}</h2>");
    if items.is_empty() {
        let _ = write!(
            b,
            "<p class=\"note\" id=\"no-match\">{}</p>",
            t(lang, "cust.none")
        );
    } else {
        let _ = write!(
            b,
            "<div class=\"panel\">{}</div>",
            customer_table(lang, &items)
        );
    }
    Ok(Html(shell(
        lang,
        "customers",
        t(lang, "cust.title"),
        &b,
        &here,
    )))
}

fn jtext(row: Option<&JsonRow>, key: &str) -> Option<String> {
    let v = row?.get(key)?;
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn jnum(row: Option<&JsonRow>, key: &str) -> Option<f64> {
    row?.get(key)?.as_f64()
}

/// `GET /ui/customers/{id}`: one customer.
pub(crate) async fn customer(
    State(st): State<AppState>,
    ApiPath(id): ApiPath<String>,
    raw: RawQuery,
) -> Result<Response, PageError> {
    let q = PageQuery::new(raw);
    let lang = q.lang;
    let wanted = id.clone();
    let here = format!("/ui/customers/{}", url_encode(&id));
    let Some(d) = load(&st, lang, move |s| {
        tenure_engine::customer_detail(s, &wanted)
    })
    .await?
    else {
        let body = format!(
            "<h1>{} <code>{}</code></h1><p class=\"note\" id=\"not-found\">{}</p><p><a href=\"{}\">{}</a></p>",
            t(lang, "col.customer"),
            escape(&id),
            t(lang, "cust.not_found"),
            escape(&link(lang, "/ui/customers")),
            t(lang, "cust.search")
        );
        return Ok((
            StatusCode::NOT_FOUND,
            Html(shell(lang, "customers", &id, &body, &here)),
        )
            .into_response());
    };
    let p = &d.profile;
    let scores = p.scores.as_ref();
    let group = jtext(scores, "rfm_group").unwrap_or_default();
    let mut b = format!(
        "<h1>{} <code id=\"customer-id\">{}</code>",
        t(lang, "col.customer"),
        escape(&p.customer_id)
    );
    if !group.is_empty() {
        let _ = write!(
            b,
            " <span class=\"badge\" id=\"segment\" style=\"background:{}\">{}</span>",
            svg::group_colour(group_index(&group)),
            escape(&group_label(lang, &group))
        );
    }
    b.push_str("</h1>");
    b.push_str(&run_line(lang, p.run.as_ref()));
    if scores.is_none() {
        let _ = write!(b, "<p class=\"note\">{}</p>", t(lang, "cust.none_scored"));
    }
    let churn = jnum(p.risk.as_ref(), "churn_probability");
    let cluster = jtext(p.cluster.as_ref(), "cluster_name");
    let raw = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    b.push_str("<h2>");
    b.push_str(t(lang, "cust.scores"));
    b.push_str("</h2><div class=\"cards\">");
    let p_alive = jnum(scores, "p_alive");
    let clv = jnum(scores, "clv");
    let e90 = jnum(scores, "expected_purchases_90d");
    b.push_str(&card(
        "p_alive",
        t(lang, "cust.p_alive"),
        &fmt_num(p_alive, 3),
        &raw(p_alive),
    ));
    b.push_str(&card(
        "clv",
        t(lang, "cust.clv"),
        &fmt_num(clv, 2),
        &raw(clv),
    ));
    let (lo, hi) = (jnum(scores, "clv_low"), jnum(scores, "clv_high"));
    if lo.is_some() || hi.is_some() {
        b.push_str(&card(
            "clv-interval",
            t(lang, "cust.clv_interval"),
            &format!("{} – {}", fmt_num(lo, 2), fmt_num(hi, 2)),
            "",
        ));
    }
    b.push_str(&card(
        "e90",
        t(lang, "cust.e90"),
        &fmt_num(e90, 2),
        &raw(e90),
    ));
    b.push_str(&card(
        "next-order",
        t(lang, "cust.next"),
        &jtext(scores, "next_order_date").unwrap_or_else(|| "–".into()),
        "",
    ));
    if churn.is_some() {
        b.push_str(&card(
            "churn",
            t(lang, "cust.churn"),
            &fmt_num(churn, 3),
            &raw(churn),
        ));
    }
    b.push_str(&card(
        "segment-card",
        t(lang, "cust.segment_label"),
        &if group.is_empty() {
            "–".to_string()
        } else {
            format!(
                "{} ({})",
                group_label(lang, &group),
                jtext(scores, "rfm_cell").unwrap_or_default()
            )
        },
        &group,
    ));
    if let Some(c) = &cluster {
        b.push_str(&card("cluster", t(lang, "cust.cluster"), c, c));
    }
    let satisfaction = jnum(p.sentiment.as_ref(), "satisfaction");
    if satisfaction.is_some() {
        let reviews = jnum(p.sentiment.as_ref(), "reviews");
        b.push_str(&card(
            "satisfaction",
            t(lang, "cust.satisfaction"),
            &format!(
                "{} ({} {})",
                fmt_num(satisfaction, 2),
                fmt_num(reviews, 0),
                t(lang, "cust.reviews_n")
            ),
            &raw(satisfaction),
        ));
    }
    b.push_str("</div>");
    if let Some(n) = &p.narrative {
        let _ = write!(
            b,
            "<h2>{}</h2><div class=\"panel\"><p id=\"narrative\">{}</p></div>",
            t(lang, "cust.narrative"),
            escape(n)
        );
    }
    if let Some(w) = &p.why {
        let _ = write!(
            b,
            "<h2>{}</h2><div class=\"panel\"><p>{}</p><table><tr><th class=\"l\">{}</th><th>{}</th><th>{}</th><th class=\"l\">{}</th></tr>",
            t(lang, "cust.why"),
            escape(if lang == Lang::Zh {
                t(lang, &format!("meaning.{}", w.group))
            } else {
                &w.summary
            }),
            t(lang, "col.factor"),
            t(lang, "col.score"),
            t(lang, "col.value"),
            t(lang, "col.position")
        );
        for dr in &w.drivers {
            let _ = write!(
                b,
                "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td class=\"l\">{}</td></tr>",
                t(lang, &format!("factor.{}", dr.factor)),
                dr.score,
                match dr.factor {
                    "monetary" => fmt_num(dr.value, 2),
                    "recency" => format!("{} {}", fmt_num(dr.value, 0), t(lang, "unit.days")),
                    _ => fmt_num(dr.value, 0),
                },
                t(lang, &format!("pos.{}", dr.position))
            );
        }
        b.push_str("</table></div>");
    }
    let f = p.features.as_ref();
    let prof = p.profile.as_ref();
    let _ = write!(
        b,
        "<h2>{}</h2><div class=\"panel\"><table>",
        t(lang, "cust.profile")
    );
    for (key, v) in [
        (
            "cust.orders_n",
            jnum(f, "orders").map(|v| fmt_num(Some(v), 0)),
        ),
        (
            "cust.spend",
            jnum(f, "spend_total").map(|v| fmt_num(Some(v), 2)),
        ),
        ("cust.first", jtext(f, "first_order_at")),
        ("cust.last", jtext(f, "last_order_at")),
        ("cust.email", jtext(prof, "email")),
        ("cust.phone", jtext(prof, "phone")),
        ("cust.country", jtext(prof, "country")),
        ("cust.city", jtext(prof, "city")),
        ("cust.created", jtext(prof, "created_at")),
    ] {
        if let Some(v) = v {
            let _ = write!(
                b,
                "<tr><th class=\"l\">{}</th><td class=\"l\">{}</td></tr>",
                t(lang, key),
                escape(&v)
            );
        }
    }
    let _ = write!(
        b,
        "</table><p class=\"muted\">{}</p></div>",
        t(lang, "cust.masked")
    );
    let bars: Vec<Bar> = d
        .monthly
        .iter()
        .map(|m| Bar {
            label: m.month.clone(),
            value: m.amount.max(0.0),
            tip: format!(
                "{}: {} ({} orders)",
                m.month,
                fmt_num(Some(m.amount), 2),
                m.orders
            ),
        })
        .collect();
    let _ = write!(
        b,
        "<h2>{}</h2><div class=\"panel\">{}</div>",
        t(lang, "cust.monthly"),
        svg::bars(
            t(lang, "cust.monthly"),
            t(lang, "axis.month"),
            t(lang, "axis.amount"),
            &bars,
            "#0f766e"
        )
    );
    let _ = write!(
        b,
        "<h2>{}</h2><div class=\"panel\"><table id=\"orders\"><tr><th class=\"l\">{}</th><th class=\"l\">{}</th><th>{}</th><th class=\"l\">{}</th><th class=\"l\">{}</th></tr>",
        t(lang, "cust.orders"),
        t(lang, "col.order"),
        t(lang, "col.date"),
        t(lang, "col.amount"),
        t(lang, "col.status"),
        t(lang, "col.channel")
    );
    for o in &p.recent_orders {
        let o = Some(o);
        let _ = write!(
            b,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
            escape(&jtext(o, "order_id").unwrap_or_default()),
            escape(&jtext(o, "ordered_at").unwrap_or_default()),
            fmt_num(jnum(o, "amount"), 2),
            escape(&jtext(o, "status").unwrap_or_default()),
            escape(&jtext(o, "channel").unwrap_or_default())
        );
    }
    b.push_str("</table></div>");
    Ok(Html(shell(lang, "customers", &p.customer_id, &b, &here)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_formatted_once() {
        assert_eq!(fmt_int(1_234_567), "1,234,567");
        assert_eq!(fmt_int(-1_000), "-1,000");
        assert_eq!(fmt_int(999), "999");
        assert_eq!(fmt_num(Some(1234.5678), 2), "1,234.57");
        assert_eq!(fmt_num(Some(-0.0001), 2), "0.00");
        assert_eq!(fmt_num(Some(-12.5), 1), "-12.5");
        assert_eq!(fmt_num(None, 2), "–");
        assert_eq!(fmt_num(Some(f64::NAN), 2), "–");
        assert_eq!(
            link(Lang::Zh, "/ui/customers?q=a"),
            "/ui/customers?q=a&lang=zh"
        );
        assert_eq!(link(Lang::En, "/ui"), "/ui");
        assert_eq!(prose("run `a<b>` now"), "run <code>a&lt;b&gt;</code> now");
        let h = headline(
            r#"{"log_likelihood": -10.5, "holdout": {"correlation": 0.6, "n": 3}, "auc": 0.75, "name": "x"}"#,
        );
        assert!(
            h.starts_with("auc 0.7500 · holdout.correlation 0.6000 · "),
            "{h}"
        );
        assert!(
            h.contains("log_likelihood -10.5000") && !h.contains("name"),
            "{h}"
        );
        assert_eq!(headline("not json"), "");
    }
}
