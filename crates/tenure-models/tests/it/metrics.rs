//! Classifier metrics against scikit-learn on a fixed example, and properties of the fast kernels
//! against naive definitions.
//!
//! Reference numbers: scikit-learn 1.9.1 (numpy 2.4.6), printed with `repr` by
//!
//! ```python
//! from sklearn.metrics import *; from sklearn.calibration import calibration_curve
//! y = [1,0,1,1,0,0,1,0,1,0,0,1,0,1,0,0,1,0,0,1]          # Y below
//! s = [.9,.8,.8,.7,.65,.6,.6,.55,.5,.45,.4,.4,.3,.3,.25,.2,.15,.1,.05,.6]  # S below
//! roc_auc_score(y, s); roc_curve(y, s); log_loss(y, s); brier_score_loss(y, s)
//! p = (np.array(s) >= .5); accuracy_score(y, p); precision_score(y, p); recall_score(y, p)
//! f1_score(y, p); confusion_matrix(y, p); calibration_curve(y, s, n_bins=10)
//! pr, rc, th = precision_recall_curve(y, s); f1 = 2*pr*rc/(pr+rc); i = argmax(f1[:-1])
//! yt = [0,1,2,2,1,0,1,2,0,1,2,2]; P = PROBA below; yp = P.argmax(1)
//! accuracy_score(yt, yp); precision_recall_fscore_support(yt, yp, labels=[0,1,2])
//! f1_score(yt, yp, average="macro"|"weighted"); confusion_matrix(yt, yp); log_loss(yt, P)
//! ```
//!
//! No probability in the example is within 1e-15 of 0 or 1, so sklearn ≥ 1.5's clipping at the
//! machine epsilon and ours at 1e-15 give the same log loss.

use proptest::prelude::*;
use tenure_models::metrics::{
    auc, binary_report, bootstrap_auc, bootstrap_auc_difference, brier, calibration_bins,
    lift_by_decile, log_loss, multiclass_report, precision_at_k, roc_curve, BinaryReport,
};

const Y: [u8; 20] = [1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 1];
const S: [f64; 20] = [
    0.9, 0.8, 0.8, 0.7, 0.65, 0.6, 0.6, 0.55, 0.5, 0.45, 0.4, 0.4, 0.3, 0.3, 0.25, 0.2, 0.15, 0.1,
    0.05, 0.6,
];

fn y() -> Vec<bool> {
    Y.iter().map(|&v| v == 1).collect()
}

/// Tolerance for values sklearn computes with a different but exact-in-principle formula.
const TOL: f64 = 1e-12;

fn assert_close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() < TOL,
        "{what}: got {got}, sklearn {want}"
    );
}

#[test]
fn binary_metrics_match_sklearn() {
    let y = y();
    assert_close(auc(&y, &S).expect("valid"), 0.6818181818181818, "auc");
    assert_close(
        log_loss(&y, &S).expect("valid"),
        0.6462118213692541,
        "log loss",
    );
    assert_close(brier(&y, &S).expect("valid"), 0.22875, "brier");

    let roc = roc_curve(&y, &S).expect("valid");
    let fpr = [
        0.0,
        0.0,
        0.09090909090909091,
        0.09090909090909091,
        0.18181818181818182,
        0.2727272727272727,
        0.36363636363636365,
        0.36363636363636365,
        0.45454545454545453,
        0.6363636363636364,
        0.8181818181818182,
        0.8181818181818182,
        1.0,
    ];
    let tpr = [
        0.0,
        0.1111111111111111,
        0.2222222222222222,
        0.3333333333333333,
        0.3333333333333333,
        0.5555555555555556,
        0.5555555555555556,
        0.6666666666666666,
        0.6666666666666666,
        0.8888888888888888,
        0.8888888888888888,
        1.0,
        1.0,
    ];
    let thr = [
        f64::INFINITY,
        0.9,
        0.8,
        0.7,
        0.65,
        0.6,
        0.55,
        0.5,
        0.45,
        0.3,
        0.2,
        0.15,
        0.05,
    ];
    assert_eq!(roc.len(), fpr.len());
    for (i, p) in roc.iter().enumerate() {
        assert_close(p.fpr, fpr[i], "fpr");
        assert_close(p.tpr, tpr[i], "tpr");
        assert_eq!(p.threshold, thr[i], "threshold {i}");
    }

    let r = binary_report(&y, &S, 0.5).expect("valid");
    let m = r.at_threshold;
    assert_close(m.accuracy, 0.65, "accuracy");
    assert_close(m.precision, 0.6, "precision");
    assert_close(m.recall, 0.6666666666666666, "recall");
    assert_close(m.f1, 0.631578947368421, "f1");
    // sklearn confusion_matrix [[tn, fp], [fn, tp]] = [[7, 4], [3, 6]].
    let c = m.confusion;
    assert_eq!(
        [
            c.true_negatives,
            c.false_positives,
            c.false_negatives,
            c.true_positives
        ],
        [7, 4, 3, 6]
    );
    // precision_recall_curve's F1 peaks at 2/3 for thresholds 0.15 and 0.3; both tie exactly and
    // rounding made sklearn's argmax land on 0.3, which is also our rule (highest of tied).
    assert_eq!(r.best_f1.threshold, 0.3);
    assert_close(r.best_f1.f1, 2.0 / 3.0, "best f1");
    assert_close(r.best_f1.precision, 0.5333333333333333, "best-f1 precision");
    assert_close(r.best_f1.recall, 0.8888888888888888, "best-f1 recall");
    assert_eq!(
        (r.n, r.positives, r.auc, r.log_loss, r.brier),
        (
            20,
            9,
            auc(&y, &S).expect("valid"),
            Some(log_loss(&y, &S).expect("valid")),
            Some(brier(&y, &S).expect("valid"))
        )
    );

    // calibration_curve drops empty bins; here only the top bin (0.9, 1] is empty.
    let prob_true = [0.0, 0.5, 0.3333333333333333, 0.5, 0.5, 0.5, 0.5, 0.5, 1.0];
    let prob_pred = [
        0.07500000000000001,
        0.175,
        0.2833333333333333,
        0.4,
        0.475,
        0.5875,
        0.675,
        0.8,
        0.9,
    ];
    let bins = calibration_bins(&y, &S, 10).expect("valid");
    assert_eq!(r.calibration.as_deref(), Some(bins.as_slice()));
    let filled: Vec<(f64, f64)> = bins
        .iter()
        .filter_map(|b| Some((b.observed_rate?, b.mean_predicted?)))
        .collect();
    assert_eq!(filled.len(), prob_true.len());
    for (i, (o, p)) in filled.iter().enumerate() {
        assert_close(*o, prob_true[i], "calibration observed");
        assert_close(*p, prob_pred[i], "calibration predicted");
    }
    assert_eq!(bins.iter().map(|b| b.count).sum::<usize>(), 20);
    // By hand from the bins above: Σ n_b |predicted − observed| = 2.6 over 20 rows.
    let ece = r.expected_calibration_error.expect("probabilities");
    assert!((ece - 0.13).abs() < 1e-12, "{ece}");
}

#[test]
fn multiclass_matches_sklearn() {
    let yt = [0, 1, 2, 2, 1, 0, 1, 2, 0, 1, 2, 2];
    let proba: Vec<Vec<f64>> = [
        [0.7, 0.2, 0.1],
        [0.1, 0.6, 0.3],
        [0.2, 0.2, 0.6],
        [0.3, 0.4, 0.3],
        [0.5, 0.4, 0.1],
        [0.4, 0.35, 0.25],
        [0.2, 0.3, 0.5],
        [0.1, 0.1, 0.8],
        [0.3, 0.3, 0.4],
        [0.25, 0.5, 0.25],
        [0.05, 0.15, 0.8],
        [0.6, 0.2, 0.2],
    ]
    .iter()
    .map(|r| r.to_vec())
    .collect();
    let labels: Vec<String> = ["negative", "neutral", "positive"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let r = multiclass_report(&yt, &proba, &labels).expect("valid");
    assert_close(r.accuracy, 0.5833333333333334, "accuracy");
    let precision = [0.5, 0.6666666666666666, 0.6];
    let recall = [0.6666666666666666, 0.5, 0.6];
    let f1 = [0.5714285714285714, 0.5714285714285714, 0.6];
    for (c, m) in r.per_class.iter().enumerate() {
        assert_close(m.precision, precision[c], "precision");
        assert_close(m.recall, recall[c], "recall");
        assert_close(m.f1, f1[c], "f1");
    }
    let support: Vec<usize> = r.per_class.iter().map(|m| m.support).collect();
    assert_eq!(support, vec![3, 4, 5]);
    assert_close(r.macro_f1, 0.580952380952381, "macro f1");
    assert_close(r.weighted_f1, 0.5833333333333334, "weighted f1");
    assert_close(r.macro_precision, 0.5888888888888889, "macro precision");
    assert_close(r.macro_recall, 0.5888888888888889, "macro recall");
    assert_eq!(
        r.confusion,
        vec![vec![2, 0, 1], vec![1, 2, 1], vec![1, 1, 3]]
    );
    assert_close(r.log_loss, 0.7976415219849414, "log loss");
}

#[test]
fn report_round_trips_through_json_and_renders() {
    let r = binary_report(&y(), &S, 0.5).expect("valid");
    let json = serde_json::to_string_pretty(&r).expect("serializes");
    let back: BinaryReport = serde_json::from_str(&json).expect("parses");
    // serde_json's default float parser may be off in the last bit, so compare with a tolerance.
    assert_eq!(
        (back.n, back.positives, back.roc.len()),
        (20, 9, r.roc.len())
    );
    assert_eq!(
        back.roc[0].threshold,
        f64::INFINITY,
        "null reads back as +inf"
    );
    assert_eq!(back.at_threshold.confusion, r.at_threshold.confusion);
    for (a, b) in back.roc.iter().zip(&r.roc).skip(1) {
        assert!(
            (a.fpr - b.fpr).abs() + (a.tpr - b.tpr).abs() + (a.threshold - b.threshold).abs()
                < 1e-15
        );
    }
    assert!((back.auc - r.auc).abs() < 1e-15);
    let html = r.to_html("churn & high value");
    assert!(html.contains("churn &amp; high value"));
    assert!(
        html.contains("ROC curve (AUC = 0.682)"),
        "trapezoid area = rank AUC"
    );
}

#[test]
fn bootstrap_intervals_are_seeded_and_bracket_the_estimate() {
    let y = y();
    let one = bootstrap_auc(&y, &S, 500, 42).expect("valid");
    assert_eq!(one, bootstrap_auc(&y, &S, 500, 42).expect("valid"));
    assert_close(
        one.auc.estimate,
        0.6818181818181818,
        "sklearn roc_auc_score",
    );
    assert!(one.auc.lower < one.auc.estimate && one.auc.estimate < one.auc.upper);
    // 20 rows cannot pin an AUC down: the interval is wide.
    assert!(one.auc.upper - one.auc.lower > 0.2, "{one:?}");
    // Model b = reversed ranks of a: difference 2·AUC − 1, and a wins exactly when AUC(a) > ½.
    let b: Vec<f64> = S.iter().map(|v| -v).collect();
    let d = bootstrap_auc_difference(&y, &S, &b, 500, 42).expect("valid");
    assert_close(
        d.difference.estimate,
        2.0 * 0.6818181818181818 - 1.0,
        "a - b",
    );
    assert_eq!(d.auc_a, one.auc, "paired draws are the single-model draws");
    assert!(d.share_a_better > 0.5 && d.share_a_better < 1.0, "{d:?}");
}

/// AUC as its definition: the share of (positive, negative) pairs ordered right, ties ½.
fn naive_auc(y: &[bool], s: &[f64]) -> f64 {
    let (mut wins, mut pairs) = (0.0, 0.0);
    for (i, &yi) in y.iter().enumerate() {
        for (j, &yj) in y.iter().enumerate() {
            if yi && !yj {
                pairs += 1.0;
                if s[i] > s[j] {
                    wins += 1.0;
                } else if s[i] == s[j] {
                    wins += 0.5;
                }
            }
        }
    }
    wins / pairs
}

/// Labels with both classes and scores drawn from few values, so ties are common.
fn labelled_scores() -> impl Strategy<Value = (Vec<bool>, Vec<f64>)> {
    (2usize..60)
        .prop_flat_map(|n| {
            (
                prop::collection::vec(any::<bool>(), n),
                prop::collection::vec(0u8..12, n),
            )
        })
        .prop_filter("both classes", |(y, _)| {
            y.iter().any(|&v| v) && y.iter().any(|&v| !v)
        })
        .prop_map(|(y, s)| (y, s.into_iter().map(|v| f64::from(v) / 11.0).collect()))
}

/// A permutation of 0..n from a seed (a Fisher–Yates shuffle driven by a small LCG).
fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    let mut state = seed | 1;
    for i in (1..n).rev() {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        p.swap(i, (state >> 33) as usize % (i + 1));
    }
    p
}

proptest! {
    #[test]
    fn fast_auc_equals_pairwise((y, s) in labelled_scores()) {
        let fast = auc(&y, &s).expect("valid");
        prop_assert!((fast - naive_auc(&y, &s)).abs() < 1e-12);
        let roc = roc_curve(&y, &s).expect("valid");
        let area: f64 = roc
            .windows(2)
            .map(|w| (w[1].fpr - w[0].fpr) * (w[1].tpr + w[0].tpr) / 2.0)
            .sum();
        prop_assert!((area - fast).abs() < 1e-12, "roc area {} vs auc {}", area, fast);
    }

    #[test]
    fn negated_scores_flip_auc((y, s) in labelled_scores()) {
        let neg: Vec<f64> = s.iter().map(|v| -v).collect();
        let sum = auc(&y, &s).expect("valid") + auc(&y, &neg).expect("valid");
        prop_assert!((sum - 1.0).abs() < 1e-12);
    }

    #[test]
    fn metrics_ignore_row_order((y, s) in labelled_scores(), seed in any::<u64>()) {
        let p = permutation(y.len(), seed);
        let py: Vec<bool> = p.iter().map(|&i| y[i]).collect();
        let ps: Vec<f64> = p.iter().map(|&i| s[i]).collect();
        let a = binary_report(&y, &s, 0.5).expect("valid");
        let b = binary_report(&py, &ps, 0.5).expect("valid");
        // Sums in another order may differ in the last bits; everything rank-based is exact.
        prop_assert_eq!(&a.roc, &b.roc);
        prop_assert_eq!(a.auc, b.auc);
        prop_assert_eq!(a.at_threshold, b.at_threshold);
        prop_assert_eq!(a.best_f1, b.best_f1);
        prop_assert_eq!(&a.lift, &b.lift);
        prop_assert_eq!(
            precision_at_k(&y, &s, &[1, y.len()]).expect("valid"),
            precision_at_k(&py, &ps, &[1, y.len()]).expect("valid")
        );
        let close = |u: Option<f64>, v: Option<f64>| match (u, v) {
            (Some(u), Some(v)) => (u - v).abs() < 1e-12,
            _ => false,
        };
        prop_assert!(close(a.log_loss, b.log_loss) && close(a.brier, b.brier));
        let (ca, cb) = (a.calibration.expect("probabilities"), b.calibration.expect("probabilities"));
        for (u, v) in ca.iter().zip(&cb) {
            prop_assert_eq!(u.count, v.count);
            prop_assert_eq!(u.observed_rate, v.observed_rate);
        }
    }

    #[test]
    fn lift_captures_every_positive((y, s) in labelled_scores()) {
        let lift = lift_by_decile(&y, &s).expect("valid");
        let last = lift.last().expect("at least one decile");
        prop_assert!((last.cumulative_capture - 1.0).abs() < 1e-12);
        prop_assert!((last.cumulative_lift - 1.0).abs() < 1e-12);
        prop_assert_eq!(last.cumulative_rows, y.len());
        let total: f64 = lift.iter().map(|b| b.positives).sum();
        prop_assert!((total - y.iter().filter(|&&v| v).count() as f64).abs() < 1e-9);
    }
}
