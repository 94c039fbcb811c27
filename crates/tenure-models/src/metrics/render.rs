//! Self-contained renderings of the reports: inline SVG charts and small HTML pages with no
//! external assets (no scripts, fonts or stylesheets to fetch). Pure: every function returns a
//! `String`; writing it to a file is the caller's business. Text from the caller is escaped.

use std::fmt::Write as _;

use super::binary::{BinaryReport, CalibrationBin, RocPoint, ThresholdMetrics};
use super::multiclass::MulticlassReport;

/// Left edge of the plot area, in SVG units.
const LEFT: f64 = 55.0;
/// Top edge of the plot area.
const TOP: f64 = 40.0;
/// Side of the square plot area.
const SIDE: f64 = 280.0;
const WIDTH: f64 = LEFT + SIDE + 20.0;
const HEIGHT: f64 = TOP + SIDE + 50.0;

/// Escapes the five characters that matter in HTML text and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
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

fn px(v: f64) -> f64 {
    LEFT + v.clamp(0.0, 1.0) * SIDE
}

fn py(v: f64) -> f64 {
    TOP + (1.0 - v.clamp(0.0, 1.0)) * SIDE
}

/// Opening tag, title, unit-square frame with grid, tick labels, axis labels and the diagonal.
fn open_chart(title: &str, x_label: &str, y_label: &str) -> String {
    let mut s = String::new();
    let title = escape(title);
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" font-family="sans-serif" font-size="11"><title>{title}</title>"##
    );
    let _ = write!(
        s,
        r##"<text x="{:.1}" y="22" text-anchor="middle" font-size="13" font-weight="bold">{title}</text>"##,
        LEFT + SIDE / 2.0
    );
    for i in 0..=4 {
        let v = f64::from(i) / 4.0;
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" y1="{top:.1}" x2="{x:.1}" y2="{bottom:.1}" stroke="#eee"/><line x1="{left:.1}" y1="{y:.1}" x2="{right:.1}" y2="{y:.1}" stroke="#eee"/><text x="{x:.1}" y="{ty:.1}" text-anchor="middle">{v}</text><text x="{tx:.1}" y="{y2:.1}" text-anchor="end">{v}</text>"##,
            x = px(v),
            y = py(v),
            top = TOP,
            bottom = TOP + SIDE,
            left = LEFT,
            right = LEFT + SIDE,
            ty = TOP + SIDE + 15.0,
            tx = LEFT - 6.0,
            y2 = py(v) + 4.0,
        );
    }
    let _ = write!(
        s,
        r##"<rect x="{LEFT}" y="{TOP}" width="{SIDE}" height="{SIDE}" fill="none" stroke="#333"/><line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#999" stroke-dasharray="4 4"/><text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"##,
        px(0.0),
        py(0.0),
        px(1.0),
        py(1.0),
        LEFT + SIDE / 2.0,
        TOP + SIDE + 35.0,
        escape(x_label),
        TOP + SIDE / 2.0,
        escape(y_label),
    );
    s
}

/// Area under a curve of (fpr, tpr) points by the trapezoidal rule.
fn trapezoid(points: &[RocPoint]) -> f64 {
    points
        .windows(2)
        .map(|w| (w[1].fpr - w[0].fpr) * (w[1].tpr + w[0].tpr) / 2.0)
        .sum()
}

/// The ROC curve as a self-contained inline SVG: unit-square axes with grid, the chance diagonal,
/// the curve, and its AUC (trapezoidal area under the points, equal to the rank AUC for the
/// points of [`super::roc_curve`]) in the title.
pub fn roc_svg(points: &[RocPoint]) -> String {
    let points: Vec<RocPoint> = points
        .iter()
        .copied()
        .filter(|p| p.fpr.is_finite() && p.tpr.is_finite())
        .collect();
    let title = if points.len() < 2 {
        "ROC curve (no curve to draw)".to_string()
    } else {
        format!("ROC curve (AUC = {:.3})", trapezoid(&points))
    };
    let mut s = open_chart(&title, "false positive rate", "true positive rate");
    let path: Vec<String> = points
        .iter()
        .map(|p| format!("{:.2},{:.2}", px(p.fpr), py(p.tpr)))
        .collect();
    let _ = write!(
        s,
        r##"<polyline points="{}" fill="none" stroke="#1f77b4" stroke-width="2"/></svg>"##,
        path.join(" ")
    );
    s
}

/// A reliability diagram as a self-contained inline SVG: observed positive rate against mean
/// predicted probability for every non-empty bin (dot area grows with the bin's rows), with the
/// diagonal of perfect calibration. Hovering a dot shows its bin, rows and rates.
pub fn calibration_svg(bins: &[CalibrationBin]) -> String {
    let filled: Vec<(f64, f64, &CalibrationBin)> = bins
        .iter()
        .filter_map(|b| Some((b.mean_predicted?, b.observed_rate?, b)))
        .filter(|(p, o, _)| p.is_finite() && o.is_finite())
        .collect();
    let title = format!("Calibration ({} bins)", bins.len());
    let mut s = open_chart(
        &title,
        "mean predicted probability",
        "observed positive rate",
    );
    let path: Vec<String> = filled
        .iter()
        .map(|(p, o, _)| format!("{:.2},{:.2}", px(*p), py(*o)))
        .collect();
    let _ = write!(
        s,
        r##"<polyline points="{}" fill="none" stroke="#d62728" stroke-width="1.5"/>"##,
        path.join(" ")
    );
    let max_count = filled.iter().map(|f| f.2.count).max().unwrap_or(1).max(1) as f64;
    for (p, o, b) in &filled {
        let r = 2.0 + 4.0 * (b.count as f64 / max_count).sqrt();
        let _ = write!(
            s,
            r##"<circle cx="{:.2}" cy="{:.2}" r="{r:.1}" fill="#d62728"><title>{:.2}–{:.2}: {} rows, predicted {:.3}, observed {:.3}</title></circle>"##,
            px(*p),
            py(*o),
            b.lower,
            b.upper,
            b.count,
            p,
            o
        );
    }
    s.push_str("</svg>");
    s
}

fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.4}")
    } else if v > 0.0 {
        "+∞".to_string()
    } else if v < 0.0 {
        "−∞".to_string()
    } else {
        "–".to_string()
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_string(), num)
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:0.25em 0.6em;text-align:right}th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}figure{display:inline-block;margin:0 1em 1em 0}";

fn page_start(title: &str) -> String {
    let title = escape(title);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title><style>{STYLE}</style></head><body><h1>{title}</h1>\n"
    )
}

fn row(cells: &[String]) -> String {
    let mut s = String::from("<tr>");
    for c in cells {
        let _ = write!(s, "<td>{c}</td>");
    }
    s.push_str("</tr>");
    s
}

fn header(cells: &[&str]) -> String {
    let mut s = String::from("<tr>");
    for c in cells {
        let _ = write!(s, "<th>{}</th>", escape(c));
    }
    s.push_str("</tr>");
    s
}

fn decision_rows(m: &ThresholdMetrics) -> [(&'static str, String); 6] {
    [
        ("threshold (flag score ≥)", num(m.threshold)),
        ("accuracy", num(m.accuracy)),
        ("precision", num(m.precision)),
        ("recall", num(m.recall)),
        ("specificity", num(m.specificity)),
        ("F1", num(m.f1)),
    ]
}

impl BinaryReport {
    /// A small self-contained HTML page of the report: summary metrics, decision metrics at the
    /// chosen and the best-F1 threshold, the confusion matrix, the ROC and calibration charts as
    /// inline SVG, the lift table and precision@k. `title` is escaped.
    pub fn to_html(&self, title: &str) -> String {
        let mut s = page_start(title);
        s.push_str("<h2>Summary</h2><table>");
        for (name, value) in [
            ("rows", self.n.to_string()),
            ("positives", self.positives.to_string()),
            ("prevalence", num(self.prevalence)),
            ("AUC", num(self.auc)),
            ("log loss", opt(self.log_loss)),
            ("Brier score", opt(self.brier)),
            (
                "expected calibration error",
                opt(self.expected_calibration_error),
            ),
        ] {
            s.push_str(&row(&[name.to_string(), value]));
        }
        s.push_str("</table>\n<h2>Decisions</h2><table>");
        s.push_str(&header(&[
            "",
            "at the chosen threshold",
            "at the best-F1 threshold",
        ]));
        let (chosen, best) = (
            decision_rows(&self.at_threshold),
            decision_rows(&self.best_f1),
        );
        for ((name, a), (_, b)) in chosen.into_iter().zip(best) {
            s.push_str(&row(&[escape(name), a, b]));
        }
        let c = &self.at_threshold.confusion;
        s.push_str("</table>\n<h2>Confusion matrix at the chosen threshold</h2><table>");
        s.push_str(&header(&["", "flagged", "not flagged"]));
        s.push_str(&row(&[
            "positive".to_string(),
            c.true_positives.to_string(),
            c.false_negatives.to_string(),
        ]));
        s.push_str(&row(&[
            "negative".to_string(),
            c.false_positives.to_string(),
            c.true_negatives.to_string(),
        ]));
        s.push_str("</table>\n<h2>Charts</h2><figure>");
        s.push_str(&roc_svg(&self.roc));
        s.push_str("</figure>");
        if let Some(bins) = &self.calibration {
            s.push_str("<figure>");
            s.push_str(&calibration_svg(bins));
            s.push_str("</figure>");
        }
        s.push_str("\n<h2>Lift by decile</h2><table>");
        s.push_str(&header(&[
            "decile",
            "rows",
            "scores",
            "positives",
            "rate",
            "lift",
            "cumulative capture",
            "cumulative lift",
        ]));
        for b in &self.lift {
            s.push_str(&row(&[
                b.decile.to_string(),
                b.n_rows.to_string(),
                format!("{} – {}", num(b.min_score), num(b.max_score)),
                format!("{:.2}", b.positives),
                num(b.rate),
                format!("{:.2}", b.lift),
                num(b.cumulative_capture),
                format!("{:.2}", b.cumulative_lift),
            ]));
        }
        s.push_str("</table>\n");
        if !self.precision_at_k.is_empty() {
            s.push_str("<h2>Precision at k</h2><table>");
            s.push_str(&header(&["k", "positives", "precision", "recall"]));
            for p in &self.precision_at_k {
                s.push_str(&row(&[
                    p.k.to_string(),
                    format!("{:.2}", p.positives),
                    num(p.precision),
                    num(p.recall),
                ]));
            }
            s.push_str("</table>\n");
        }
        s.push_str("</body></html>\n");
        s
    }
}

impl MulticlassReport {
    /// A small self-contained HTML page of the report: summary metrics, the per-class table and
    /// the confusion matrix (rows: true class, columns: predicted). Title and labels are escaped.
    pub fn to_html(&self, title: &str) -> String {
        let mut s = page_start(title);
        s.push_str("<h2>Summary</h2><table>");
        for (name, value) in [
            ("rows", self.n.to_string()),
            ("accuracy", num(self.accuracy)),
            ("macro precision", num(self.macro_precision)),
            ("macro recall", num(self.macro_recall)),
            ("macro F1", num(self.macro_f1)),
            ("weighted F1", num(self.weighted_f1)),
            ("log loss", num(self.log_loss)),
        ] {
            s.push_str(&row(&[name.to_string(), value]));
        }
        s.push_str("</table>\n<h2>Per class</h2><table>");
        s.push_str(&header(&["class", "precision", "recall", "F1", "support"]));
        for c in &self.per_class {
            s.push_str(&row(&[
                escape(&c.label),
                num(c.precision),
                num(c.recall),
                num(c.f1),
                c.support.to_string(),
            ]));
        }
        s.push_str("</table>\n<h2>Confusion matrix (rows: true, columns: predicted)</h2><table><tr><th></th>");
        for l in &self.labels {
            let _ = write!(s, "<th>{}</th>", escape(l));
        }
        s.push_str("</tr>");
        for (l, counts) in self.labels.iter().zip(&self.confusion) {
            let mut cells = vec![escape(l)];
            cells.extend(counts.iter().map(usize::to_string));
            s.push_str(&row(&cells));
        }
        s.push_str("</table>\n</body></html>\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{binary_report, multiclass_report, roc_curve};

    #[test]
    fn escape_covers_markup() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn roc_svg_is_self_contained_with_auc_in_title() {
        let roc = roc_curve(&[true, false, true, false], &[0.9, 0.8, 0.4, 0.2]).expect("valid");
        let svg = roc_svg(&roc);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>"));
        assert!(
            svg.contains("<title>ROC curve (AUC = 0.750)</title>"),
            "{svg}"
        );
        assert!(svg.contains("stroke-dasharray"), "the chance diagonal");
        assert!(!svg.contains("href") && !svg.contains("NaN") && !svg.contains("inf"));
        assert!(roc_svg(&[]).contains("no curve"));
    }

    #[test]
    fn html_escapes_title_and_holds_every_section() {
        let y = [true, false, true, false, true, false];
        let s = [0.9, 0.8, 0.7, 0.3, 0.2, 0.1];
        let html = binary_report(&y, &s, 0.5)
            .expect("valid")
            .to_html("<script>alert(1)</script>");
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        for part in [
            "Summary",
            "Confusion matrix",
            "Lift by decile",
            "Calibration (10 bins)",
        ] {
            assert!(html.contains(part), "{part}");
        }
        assert_eq!(html.matches("<svg").count(), 2);
        assert!(
            !html.contains("src=") && !html.contains("<link"),
            "no external assets"
        );
    }

    #[test]
    fn multiclass_html_escapes_labels() {
        let labels = vec!["<neg>".to_string(), "pos & co".to_string()];
        let r =
            multiclass_report(&[0, 1], &[vec![0.7, 0.3], vec![0.2, 0.8]], &labels).expect("valid");
        let html = r.to_html("sentiment");
        assert!(html.contains("&lt;neg&gt;") && html.contains("pos &amp; co"));
        assert!(!html.contains("<neg>"));
    }
}
