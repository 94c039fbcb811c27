//! Self-contained SVG charts for the HTML reports: no script, no external asset, so a report opens
//! offline in any browser and can be mailed as one file.

use std::fmt::Write;

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Series<'a> {
    /// Legend label.
    pub label: &'a str,
    /// Points (x, y); non-finite points are skipped.
    pub points: Vec<(f64, f64)>,
    /// CSS colour.
    pub colour: &'a str,
    /// Dashed line (used for predictions, solid for actuals).
    pub dashed: bool,
}

/// Escape text for HTML and SVG.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A "nice" step for about `target` ticks over `span` (1, 2 or 5 times a power of ten).
fn nice_step(span: f64, target: f64) -> f64 {
    if !(span.is_finite() && span > 0.0) {
        return 1.0;
    }
    let raw = span / target;
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

fn fmt_tick(v: f64, step: f64) -> String {
    if step >= 1.0 {
        format!("{v:.0}")
    } else if step >= 0.1 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A line chart with axes, ticks, a legend and an optional vertical marker (e.g. the end of the
/// calibration period). The y axis starts at zero when all values are non-negative.
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series<'_>],
    marker: Option<(f64, &str)>,
) -> String {
    const W: f64 = 720.0;
    const H: f64 = 360.0;
    const L: f64 = 64.0;
    const R: f64 = 16.0;
    const T: f64 = 40.0;
    const B: f64 = 48.0;
    let pts = series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|(x, y)| x.is_finite() && y.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if y0 >= 0.0 {
        y0 = 0.0;
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if y1 <= y0 {
        y1 = y0 + 1.0;
    }
    let y_step = nice_step(y1 - y0, 5.0);
    y1 = (y1 / y_step).ceil() * y_step;
    let sx = |x: f64| L + (x - x0) / (x1 - x0) * (W - L - R);
    let sy = |y: f64| H - B - (y - y0) / (y1 - y0) * (H - T - B);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{t}" font-family="sans-serif" font-size="12">"#,
        t = escape(title)
    );
    let _ = write!(
        svg,
        r#"<text x="{}" y="20" font-size="14" font-weight="bold">{}</text>"#,
        L,
        escape(title)
    );
    let mut y = (y0 / y_step).ceil() * y_step;
    while y <= y1 + 1e-9 * y_step {
        let py = sy(y);
        let _ = write!(
            svg,
            r##"<line x1="{L}" x2="{}" y1="{py:.1}" y2="{py:.1}" stroke="#e3e3e3"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            W - R,
            L - 6.0,
            py + 4.0,
            fmt_tick(y, y_step)
        );
        y += y_step;
    }
    let x_step = nice_step(x1 - x0, 8.0);
    let mut x = (x0 / x_step).ceil() * x_step;
    while x <= x1 + 1e-9 * x_step {
        let px = sx(x);
        let _ = write!(
            svg,
            r##"<line x1="{px:.1}" x2="{px:.1}" y1="{}" y2="{}" stroke="#999"/><text x="{px:.1}" y="{}" text-anchor="middle">{}</text>"##,
            H - B,
            H - B + 4.0,
            H - B + 18.0,
            fmt_tick(x, x_step)
        );
        x += x_step;
    }
    let _ = write!(
        svg,
        r##"<line x1="{L}" x2="{}" y1="{b}" y2="{b}" stroke="#333"/><line x1="{L}" x2="{L}" y1="{T}" y2="{b}" stroke="#333"/>"##,
        W - R,
        b = H - B
    );
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text><text transform="translate(16 {}) rotate(-90)" text-anchor="middle">{}</text>"#,
        (L + W - R) / 2.0,
        H - 8.0,
        escape(x_label),
        (T + H - B) / 2.0,
        escape(y_label)
    );
    if let Some((mx, label)) = marker {
        if mx.is_finite() && mx >= x0 && mx <= x1 {
            let px = sx(mx);
            let _ = write!(
                svg,
                r##"<line x1="{px:.1}" x2="{px:.1}" y1="{T}" y2="{}" stroke="#888" stroke-dasharray="2 3"/><text x="{:.1}" y="{}" fill="#555">{}</text>"##,
                H - B,
                px + 4.0,
                T + 12.0,
                escape(label)
            );
        }
    }
    for (i, s) in series.iter().enumerate() {
        let path: Vec<String> = s
            .points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
            .collect();
        let dash = if s.dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{c}" stroke-width="2"{dash} points="{p}"/>"#,
            c = escape(s.colour),
            p = path.join(" ")
        );
        let ly = T + 8.0 + 16.0 * i as f64;
        let lx = L + 12.0;
        let _ = write!(
            svg,
            r#"<line x1="{lx}" x2="{}" y1="{ly}" y2="{ly}" stroke="{c}" stroke-width="2"{dash}/><text x="{}" y="{}">{}</text>"#,
            lx + 24.0,
            lx + 30.0,
            ly + 4.0,
            escape(s.label),
            c = escape(s.colour)
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_is_well_formed_and_escapes_text() {
        let svg = line_chart(
            "a <b> & c",
            "week",
            "purchases",
            &[
                Series {
                    label: "actual",
                    points: vec![(1.0, 0.0), (2.0, 5.0), (3.0, f64::NAN)],
                    colour: "#000",
                    dashed: false,
                },
                Series {
                    label: "predicted",
                    points: vec![],
                    colour: "#c00",
                    dashed: true,
                },
            ],
            Some((2.0, "end of calibration")),
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("a &lt;b&gt; &amp; c"));
        assert!(!svg.contains("NaN"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        // An empty chart still renders.
        assert!(line_chart("empty", "x", "y", &[], None).ends_with("</svg>"));
    }

    #[test]
    fn steps_are_nice() {
        assert_eq!(nice_step(100.0, 5.0), 20.0);
        assert_eq!(nice_step(7.0, 5.0), 2.0);
        assert_eq!(nice_step(0.0, 5.0), 1.0);
    }
}
