//! The dashboard's inline SVG charts (bars, a stacked bar, a heat map, the RFM grid, a line chart
//! over months). Self-contained markup, no script: every text is escaped, every number is finite.
//! Line charts over numeric axes reuse the engine's report chart (`tenure_engine::line_chart`).

use std::fmt::Write;

use tenure_engine::escape;

const W: f64 = 720.0;
const FONT: &str = r#"font-family="system-ui, sans-serif" font-size="12""#;

/// The opening `<svg>` of a chart with its accessible title, and the title drawn at `title_x`.
fn open(w: f64, h: f64, title: &str, title_x: f64) -> String {
    format!(
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{t}" {FONT}><title>{t}</title><text x="{title_x}" y="18" font-size="14" font-weight="600">{t}</text>"#,
        t = escape(title)
    )
}

/// Horizontal grid lines with their value labels, from `from` to `to` by `step`, between x = `left`
/// and x = `right`; `sy` maps a value to its y.
fn y_grid(
    s: &mut String,
    left: f64,
    right: f64,
    (from, to, step): (f64, f64, f64),
    sy: impl Fn(f64) -> f64,
) {
    let mut y = from;
    while y <= to + step * 1e-9 {
        let py = sy(y);
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{right}" y1="{py:.1}" y2="{py:.1}" stroke="#e5e7eb"/><text x="{}" y="{:.1}" text-anchor="end" fill="#555">{}</text>"##,
            left - 6.0,
            py + 4.0,
            short(y)
        );
        y += step;
    }
}

/// A "nice" axis maximum and step for values up to `max` (1, 2 or 5 times a power of ten).
fn nice(max: f64) -> (f64, f64) {
    if !(max.is_finite() && max > 0.0) {
        return (1.0, 0.2);
    }
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|f| f * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    ((max / step).ceil() * step, step)
}

/// A short number for an axis tick.
pub fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.1}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// One bar.
#[derive(Debug, Clone)]
pub struct Bar {
    /// Label under the bar (may be empty to thin the axis).
    pub label: String,
    /// Height.
    pub value: f64,
    /// Tooltip.
    pub tip: String,
}

/// A vertical bar chart with a y axis from zero.
pub fn bars(title: &str, x_label: &str, y_label: &str, bars: &[Bar], colour: &str) -> String {
    const H: f64 = 320.0;
    const L: f64 = 64.0;
    const R: f64 = 16.0;
    const T: f64 = 32.0;
    const B: f64 = 64.0;
    let max = bars
        .iter()
        .map(|b| b.value)
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let (top, step) = nice(max);
    let sy = |v: f64| H - B - v.max(0.0) / top * (H - T - B);
    let mut s = open(W, H, title, L);
    y_grid(&mut s, L, W - R, (0.0, top, step), sy);
    let n = bars.len().max(1) as f64;
    let slot = (W - L - R) / n;
    let every = ((bars.len() as f64 / 12.0).ceil() as usize).max(1);
    for (i, b) in bars.iter().enumerate() {
        let v = if b.value.is_finite() { b.value } else { 0.0 };
        let x = L + slot * i as f64 + slot * 0.1;
        let py = sy(v);
        let _ = write!(
            s,
            r#"<rect x="{x:.1}" y="{py:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}</title></rect>"#,
            slot * 0.8,
            (H - B - py).max(0.0),
            escape(colour),
            escape(&b.tip)
        );
        if i % every == 0 && !b.label.is_empty() {
            let cx = x + slot * 0.4;
            let _ = write!(
                s,
                r##"<text x="{cx:.1}" y="{}" text-anchor="end" transform="rotate(-35 {cx:.1} {})" fill="#333">{}</text>"##,
                H - B + 14.0,
                H - B + 14.0,
                escape(&b.label)
            );
        }
    }
    let _ = write!(
        s,
        r##"<line x1="{L}" x2="{}" y1="{b}" y2="{b}" stroke="#333"/><text x="{}" y="{}" text-anchor="middle" fill="#333">{}</text><text transform="translate(14 {}) rotate(-90)" text-anchor="middle" fill="#333">{}</text></svg>"##,
        W - R,
        (L + W - R) / 2.0,
        H - 6.0,
        escape(x_label),
        (T + H - B) / 2.0,
        escape(y_label),
        b = H - B
    );
    s
}

/// One part of a stacked bar.
#[derive(Debug, Clone)]
pub struct Part {
    /// Legend label.
    pub label: String,
    /// Size.
    pub value: f64,
    /// CSS colour.
    pub colour: &'static str,
}

/// One horizontal bar split into parts, with a legend giving each part's count and share.
pub fn stacked(title: &str, parts: &[Part]) -> String {
    const H: f64 = 120.0;
    const L: f64 = 16.0;
    let total: f64 = parts
        .iter()
        .map(|p| p.value)
        .filter(|v| v.is_finite() && *v > 0.0)
        .sum();
    let mut s = open(W, H, title, L);
    let mut x = L;
    let width = W - 2.0 * L;
    for p in parts {
        let v = if p.value.is_finite() && p.value > 0.0 {
            p.value
        } else {
            0.0
        };
        let w = if total > 0.0 { v / total * width } else { 0.0 };
        let share = if total > 0.0 { 100.0 * v / total } else { 0.0 };
        let _ = write!(
            s,
            r#"<rect x="{x:.1}" y="32" width="{w:.1}" height="36" fill="{}"><title>{}: {v:.0} ({share:.1}%)</title></rect>"#,
            p.colour,
            escape(&p.label)
        );
        x += w;
    }
    let mut lx = L;
    for p in parts {
        let share = if total > 0.0 {
            100.0 * p.value / total
        } else {
            0.0
        };
        let _ = write!(
            s,
            r##"<rect x="{lx:.1}" y="84" width="12" height="12" fill="{}"/><text x="{:.1}" y="95" fill="#333">{} {} ({share:.1}%)</text>"##,
            p.colour,
            lx + 18.0,
            escape(&p.label),
            short(p.value)
        );
        lx += 18.0
            + 7.0 * text_width(&format!("{} {} ({share:.1}%)", p.label, short(p.value)))
            + 24.0;
    }
    s.push_str("</svg>");
    s
}

/// Approximate width of a label in 12 px characters (CJK characters count double).
fn text_width(s: &str) -> f64 {
    s.chars()
        .map(|c| if c.is_ascii() { 1.0 } else { 2.0 })
        .sum()
}

/// One horizontal bar of [`hbars`].
#[derive(Debug, Clone)]
pub struct HBar {
    /// Label left of the bar.
    pub label: String,
    /// Length.
    pub value: f64,
    /// Text right of the bar.
    pub shown: String,
    /// CSS colour.
    pub colour: &'static str,
}

/// Horizontal bars with labels on the left and values on the right (group sizes, group risk).
pub fn hbars(title: &str, bars: &[HBar]) -> String {
    const ROW: f64 = 28.0;
    const T: f64 = 36.0;
    const W2: f64 = 560.0;
    let l = 16.0
        + 7.0
            * bars
                .iter()
                .map(|b| text_width(&b.label))
                .fold(8.0, f64::max);
    let r = 104.0;
    let h = T + ROW * bars.len() as f64 + 12.0;
    let max = bars
        .iter()
        .map(|b| b.value)
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let scale = if max > 0.0 { (W2 - l - r) / max } else { 0.0 };
    let mut s = open(W2, h, title, 8.0);
    for (i, b) in bars.iter().enumerate() {
        let y = T + ROW * i as f64;
        let v = if b.value.is_finite() {
            b.value.max(0.0)
        } else {
            0.0
        };
        let w = v * scale;
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#333">{}</text><rect x="{l:.1}" y="{:.1}" width="{w:.1}" height="{:.1}" rx="2" fill="{}"><title>{}: {}</title></rect><text x="{:.1}" y="{:.1}" fill="#333">{}</text>"##,
            l - 8.0,
            y + ROW * 0.62,
            escape(&b.label),
            y + 4.0,
            ROW - 8.0,
            b.colour,
            escape(&b.label),
            escape(&b.shown),
            l + w + 6.0,
            y + ROW * 0.62,
            escape(&b.shown)
        );
    }
    s.push_str("</svg>");
    s
}

/// A colour from white-ish to deep teal for a share in [0, 1].
fn ramp(v: f64) -> String {
    let v = v.clamp(0.0, 1.0).sqrt();
    let (r0, g0, b0) = (240.0, 249.0, 250.0);
    let (r1, g1, b1) = (13.0, 92.0, 99.0);
    format!(
        "rgb({:.0},{:.0},{:.0})",
        r0 + (r1 - r0) * v,
        g0 + (g1 - g0) * v,
        b0 + (b1 - b0) * v
    )
}

/// A heat map of shares in [0, 1]: one row per label, one column per index; `None` cells are left
/// blank. Cells show the share in percent.
pub fn heatmap(
    title: &str,
    x_label: &str,
    rows: &[(String, Vec<Option<f64>>)],
    cols: usize,
) -> String {
    const L: f64 = 104.0;
    const T: f64 = 48.0;
    let cols = cols.max(1);
    let cw = ((W - L - 8.0) / cols as f64).clamp(14.0, 48.0);
    let ch = 22.0;
    let w = (L + cw * cols as f64 + 8.0).max(360.0);
    let h = T + ch * rows.len() as f64 + 36.0;
    let mut s = open(w, h, title, 8.0);
    let label_every = if cw < 22.0 { 3 } else { 1 };
    for c in (0..cols).step_by(label_every) {
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{}" text-anchor="middle" fill="#555">{c}</text>"##,
            L + cw * (c as f64 + 0.5),
            T - 6.0
        );
    }
    for (r, (label, vals)) in rows.iter().enumerate() {
        let y = T + ch * r as f64;
        let _ = write!(
            s,
            r##"<text x="{}" y="{:.1}" text-anchor="end" fill="#333">{}</text>"##,
            L - 6.0,
            y + ch * 0.7,
            escape(label)
        );
        for (c, v) in vals.iter().enumerate().take(cols) {
            let Some(v) = v.filter(|v| v.is_finite()) else {
                continue;
            };
            let x = L + cw * c as f64;
            let ink = if v.sqrt() > 0.55 { "#fff" } else { "#123" };
            let _ = write!(
                s,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{} +{c}: {:.1}%</title></rect>"#,
                cw - 1.0,
                ch - 1.0,
                ramp(v),
                escape(label),
                100.0 * v
            );
            if cw >= 30.0 {
                let _ = write!(
                    s,
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="10" fill="{ink}">{:.0}</text>"#,
                    x + cw / 2.0,
                    y + ch * 0.68,
                    100.0 * v
                );
            }
        }
    }
    let _ = write!(
        s,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#333">{}</text></svg>"##,
        L + cw * cols as f64 / 2.0,
        h - 10.0,
        escape(x_label)
    );
    s
}

/// The colour of an RFM group (by its index in `tenure_engine::RFM_GROUPS`).
pub fn group_colour(i: usize) -> &'static str {
    const C: [&str; 11] = [
        "#0f766e", "#14b8a6", "#22c55e", "#84cc16", "#a3e635", "#facc15", "#f97316", "#ef4444",
        "#b91c1c", "#7f1d1d", "#9ca3af",
    ];
    C.get(i).copied().unwrap_or("#9ca3af")
}

/// One occupied cell of the RFM grid.
#[derive(Debug, Clone)]
pub struct GridCell {
    /// Recency score 1–5 (column).
    pub recency: i64,
    /// Frequency score 1–5 (row, 5 at the top).
    pub frequency: i64,
    /// Group label as shown.
    pub label: String,
    /// Group colour.
    pub colour: &'static str,
    /// Customers.
    pub customers: i64,
}

/// The 5 × 5 recency × frequency grid, coloured by group, each cell with its customer count.
pub fn rfm_grid(title: &str, x_label: &str, y_label: &str, cells: &[GridCell]) -> String {
    const L: f64 = 72.0;
    const T: f64 = 36.0;
    const S: f64 = 100.0;
    let w = L + 5.0 * S + 24.0;
    let h = T + 5.0 * S + 48.0;
    let mut s = open(w, h, title, 8.0);
    for c in cells {
        if !(1..=5).contains(&c.recency) || !(1..=5).contains(&c.frequency) {
            continue;
        }
        let x = L + S * (c.recency - 1) as f64;
        let y = T + S * (5 - c.frequency) as f64;
        let _ = write!(
            s,
            r##"<rect x="{x}" y="{y}" width="{}" height="{}" fill="{}" stroke="#fff" stroke-width="2"><title>{} — R{} F{}: {}</title></rect><text x="{}" y="{}" text-anchor="middle" font-size="18" font-weight="600" fill="#fff">{}</text><text x="{}" y="{}" text-anchor="middle" font-size="10" fill="#fff">{}</text>"##,
            S,
            S,
            c.colour,
            escape(&c.label),
            c.recency,
            c.frequency,
            c.customers,
            x + S / 2.0,
            y + S / 2.0,
            c.customers,
            x + S / 2.0,
            y + S / 2.0 + 18.0,
            escape(&c.label)
        );
    }
    for i in 1..=5 {
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" text-anchor="middle" fill="#333">{i}</text><text x="{}" y="{}" text-anchor="end" fill="#333">{i}</text>"##,
            L + S * (i as f64 - 0.5),
            T + 5.0 * S + 16.0,
            L - 8.0,
            T + S * (5.5 - i as f64) + 4.0
        );
    }
    let _ = write!(
        s,
        r##"<text x="{}" y="{}" text-anchor="middle" fill="#333">{}</text><text transform="translate(20 {}) rotate(-90)" text-anchor="middle" fill="#333">{}</text></svg>"##,
        L + 2.5 * S,
        h - 10.0,
        escape(x_label),
        T + 2.5 * S,
        escape(y_label)
    );
    s
}

/// One line over the months of [`month_lines`]; `None` leaves a gap.
#[derive(Debug, Clone)]
pub struct MonthSeries {
    /// Legend label.
    pub label: String,
    /// One value per month.
    pub values: Vec<Option<f64>>,
    /// CSS colour.
    pub colour: &'static str,
}

/// A line chart over calendar months (`YYYY-MM` labels), y from `y_min` to `y_max` (or from zero
/// to the data's maximum).
pub fn month_lines(
    title: &str,
    y_label: &str,
    months: &[String],
    series: &[MonthSeries],
    y_range: Option<(f64, f64)>,
) -> String {
    const H: f64 = 320.0;
    const L: f64 = 64.0;
    const R: f64 = 16.0;
    const T: f64 = 40.0;
    const B: f64 = 64.0;
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .filter(|v| v.is_finite())
        .fold(0.0, |a: f64, b| a.max(*b));
    let (y0, y1, step) = match y_range {
        Some((a, b)) if b > a => (a, b, nice(b - a).1),
        _ => {
            let (top, step) = nice(max);
            (0.0, top, step)
        }
    };
    let n = months.len().max(2) as f64;
    let sx = |i: usize| L + (W - L - R) * i as f64 / (n - 1.0);
    let sy = |v: f64| H - B - (v.clamp(y0, y1) - y0) / (y1 - y0) * (H - T - B);
    let mut s = open(W, H, title, L);
    y_grid(&mut s, L, W - R, (y0, y1, step), sy);
    let every = ((months.len() as f64 / 12.0).ceil() as usize).max(1);
    for (i, m) in months.iter().enumerate().step_by(every) {
        let x = sx(i);
        let _ = write!(
            s,
            r##"<text x="{x:.1}" y="{}" text-anchor="end" transform="rotate(-35 {x:.1} {})" fill="#333">{}</text>"##,
            H - B + 14.0,
            H - B + 14.0,
            escape(m)
        );
    }
    let _ = write!(
        s,
        r##"<line x1="{L}" x2="{}" y1="{b}" y2="{b}" stroke="#333"/><text transform="translate(14 {}) rotate(-90)" text-anchor="middle" fill="#333">{}</text>"##,
        W - R,
        (T + H - B) / 2.0,
        escape(y_label),
        b = H - B
    );
    for (k, se) in series.iter().enumerate() {
        let mut seg: Vec<String> = Vec::new();
        let mut paths = Vec::new();
        for (i, v) in se.values.iter().enumerate() {
            match v.filter(|v| v.is_finite()) {
                Some(v) => seg.push(format!("{:.1},{:.1}", sx(i), sy(v))),
                None if !seg.is_empty() => paths.push(std::mem::take(&mut seg)),
                None => {}
            }
        }
        if !seg.is_empty() {
            paths.push(seg);
        }
        for p in paths {
            if p.len() == 1 {
                let (x, y) = p[0].split_once(',').unwrap_or(("0", "0"));
                let _ = write!(
                    s,
                    r#"<circle cx="{x}" cy="{y}" r="3" fill="{}"/>"#,
                    se.colour
                );
            } else {
                let _ = write!(
                    s,
                    r#"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>"#,
                    se.colour,
                    p.join(" ")
                );
            }
        }
        let lx = L + 12.0 + 160.0 * k as f64;
        let _ = write!(
            s,
            r#"<line x1="{lx}" x2="{}" y1="30" y2="30" stroke="{}" stroke-width="2"/><text x="{}" y="34">{}</text>"#,
            lx + 20.0,
            se.colour,
            lx + 26.0,
            escape(&se.label)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn well_formed(svg: &str) {
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        assert_eq!(svg.matches("<svg").count(), 1);
    }

    #[test]
    fn charts_are_well_formed_escaped_and_survive_empty_or_odd_input() {
        let hostile = "<script>\"&'";
        let b = bars(
            hostile,
            "x",
            "y",
            &[
                Bar {
                    label: hostile.into(),
                    value: 3.0,
                    tip: hostile.into(),
                },
                Bar {
                    label: "b".into(),
                    value: f64::NAN,
                    tip: "b".into(),
                },
            ],
            "#123",
        );
        well_formed(&b);
        assert!(!b.contains("<script>") && b.contains("&lt;script&gt;"));
        assert_eq!(b.matches("<rect").count(), 2);
        well_formed(&bars("empty", "x", "y", &[], "#123"));
        well_formed(&stacked("s", &[]));
        let st = stacked(
            "s",
            &[
                Part {
                    label: "a".into(),
                    value: 3.0,
                    colour: "#0a0",
                },
                Part {
                    label: "b".into(),
                    value: 1.0,
                    colour: "#a00",
                },
            ],
        );
        well_formed(&st);
        assert!(st.contains("75.0%") && st.contains("25.0%"), "{st}");
        let h = heatmap(
            "h",
            "months",
            &[("2020-01".into(), vec![Some(1.0), Some(0.25), None])],
            3,
        );
        well_formed(&h);
        assert!(h.contains(">25<"), "{h}");
        well_formed(&heatmap("h", "m", &[], 0));
        let hb = hbars(
            "g",
            &[
                HBar {
                    label: hostile.into(),
                    value: 2.0,
                    shown: "2".into(),
                    colour: "#000",
                },
                HBar {
                    label: "b".into(),
                    value: f64::NAN,
                    shown: "–".into(),
                    colour: "#000",
                },
            ],
        );
        well_formed(&hb);
        assert!(!hb.contains("<script>"));
        well_formed(&hbars("g", &[]));
        let g = rfm_grid(
            "g",
            "r",
            "f",
            &[GridCell {
                recency: 5,
                frequency: 5,
                label: "Champions".into(),
                colour: group_colour(0),
                customers: 12,
            }],
        );
        well_formed(&g);
        assert!(g.contains(">12<"));
        let m = month_lines(
            "m",
            "y",
            &["2020-01".into(), "2020-02".into(), "2020-03".into()],
            &[MonthSeries {
                label: "a".into(),
                values: vec![Some(1.0), None, Some(f64::INFINITY)],
                colour: "#000",
            }],
            Some((1.0, 5.0)),
        );
        well_formed(&m);
        assert!(m.contains("<circle"));
    }

    #[test]
    fn axes_are_nice() {
        assert_eq!(nice(93.0), (100.0, 20.0));
        assert_eq!(nice(0.0), (1.0, 0.2));
        assert_eq!(short(12_345.0), "12k");
        assert_eq!(short(0.25), "0.25");
    }
}
