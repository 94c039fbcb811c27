//! BG/NBD, Pareto/NBD and Gamma-Gamma fits on CDNOW against published estimates.

use tenure_models::{BgNbdParams, PurchaseModel};

use crate::fixtures;

fn close(got: f64, want: f64, tol: f64, what: &str) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got}, want {want} ± {tol}"
    );
}

/// FHL 2005 Table 1 / lifetimes 0.11.3: r 0.2426, α 4.4136, a 0.7929, b 2.4259, LL −9582.43.
#[test]
fn bg_nbd_reproduces_cdnow_estimates() {
    let data = fixtures::summary();
    let m = BgNbdParams::default().fit(&data).expect("fits");
    let d = m.diagnostics();
    close(m.r(), 0.2426, 0.00005, "r");
    close(m.alpha(), 4.4136, 0.0005, "alpha");
    close(m.a(), 0.7929, 0.00005, "a");
    close(m.b(), 2.4259, 0.0005, "b");
    close(d.log_likelihood, -9582.43, 0.01, "log-likelihood");
    assert!(d.converged && d.hessian_positive_definite, "{d:?}");
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    // FHL section 5: E[Y(39) | x = 2, t_x = 30.43, T = 38.86] = 1.226.
    let e = m
        .conditional_expected_purchases(39.0, 2.0, 30.43, 38.86)
        .expect("valid");
    close(e, 1.226, 0.001, "E[X(39) | 2, 30.43, 38.86]");
    // FHL Figure 3 / lifetimes: unconditional E[X(t)] and P(X(39) = 0).
    for (t, want) in [(1.0, 0.0532), (3.0, 0.1506), (32.0, 1.0437), (78.0, 1.8576)] {
        let got = m.expected_purchases(t).expect("valid");
        close(got, want, 0.001, &format!("E[X({t})]"));
    }
    close(
        m.probability_of_purchases(39.0, 0).expect("valid"),
        0.5738,
        0.001,
        "P(X(39) = 0)",
    );
    // Standard errors exist and are positive.
    let se = d.standard_errors.as_ref().expect("identified");
    assert!(se.iter().all(|s| *s > 0.0 && s.is_finite()), "{se:?}");
}

/// Fitting is deterministic: the same data gives bit-identical models.
#[test]
fn bg_nbd_fit_is_deterministic_and_serializable() {
    let data = fixtures::summary();
    let a = BgNbdParams::default().fit(&data).expect("fits");
    let b = BgNbdParams::default().fit(&data).expect("fits");
    assert_eq!(a, b);
    let json = serde_json::to_string(&a).expect("serializes");
    let back: tenure_models::BgNbdFitted = serde_json::from_str(&json).expect("deserializes");
    // serde_json's default float parser may differ from the written value in the last bit.
    for (x, y) in [
        (back.r(), a.r()),
        (back.alpha(), a.alpha()),
        (back.a(), a.a()),
        (back.b(), a.b()),
    ] {
        assert!((x - y).abs() <= 1e-15 * y, "{x} vs {y}");
    }
    assert_eq!(
        back.diagnostics().parameter_names,
        a.diagnostics().parameter_names
    );
    let params: BgNbdParams =
        serde_json::from_str(r#"{"penalizer_coef": 0.001}"#).expect("defaults fill in");
    assert_eq!(params.max_iter, BgNbdParams::default().max_iter);
    // lifetimes semantics: a penalty shrinks the parameters toward zero.
    let shrunk = params.fit(&data).expect("fits");
    assert!(shrunk.a() < a.a() && shrunk.b() < a.b(), "{shrunk:?}");
}

/// FHL 2005 (Pareto/NBD column) / BTYD: r 0.5533, α 10.5776, s 0.6061, β 11.6650, LL −9594.98.
#[test]
fn pareto_nbd_reproduces_cdnow_estimates() {
    let data = fixtures::summary();
    let m = tenure_models::ParetoNbdParams::default()
        .fit(&data)
        .expect("fits");
    let d = m.diagnostics();
    close(m.r(), 0.5532, 0.0005, "r");
    close(m.alpha(), 10.576, 0.005, "alpha");
    close(m.s(), 0.6062, 0.0005, "s");
    close(m.beta(), 11.67, 0.01, "beta");
    close(d.log_likelihood, -9594.98, 0.01, "log-likelihood");
    assert!(d.converged && d.hessian_positive_definite, "{d:?}");
    // lifetimes' Pareto/NBD docs: a customer with x = 26, t_x = 30.86, T = 31 buys 25.46
    // times in the next 52 weeks.
    let e = m
        .conditional_expected_purchases(52.0, 26.0, 30.86, 31.0)
        .expect("valid");
    close(e, 25.46, 0.05, "E[Y(52) | 26, 30.86, 31]");
    // Huge x: finite and increasing in x at t_x = T = 200.
    let e132 = m
        .conditional_expected_purchases(52.0, 132.0, 200.0, 200.0)
        .expect("valid");
    let e133 = m
        .conditional_expected_purchases(52.0, 133.0, 200.0, 200.0)
        .expect("valid");
    assert!(
        e132.is_finite() && e133.is_finite() && e133 > e132,
        "{e132} {e133}"
    );
    let p = m.probability_alive(133.0, 200.0, 200.0).expect("valid");
    assert!((0.0..=1.0).contains(&p));
}

/// Fader & Hardie (2013) on the 946 CDNOW repeat buyers: p 6.25, q 3.74, γ 15.44, LL −4055.92;
/// conditional expected spend of the first 10 customers as in lifetimes' documentation.
#[test]
fn gamma_gamma_reproduces_cdnow_estimates() {
    let rows = fixtures::read_csv(fixtures::WITH_TRANSACTIONS);
    let x: Vec<f64> = rows.iter().map(|r| r[1]).collect();
    let zbar: Vec<f64> = rows.iter().map(|r| r[4]).collect();
    let m = tenure_models::GammaGammaParams::default()
        .fit(&x, &zbar)
        .expect("fits");
    let d = m.diagnostics();
    assert_eq!(d.n_customers, 946);
    close(m.p(), 6.25, 0.01, "p");
    close(m.q(), 3.74, 0.01, "q");
    close(m.gamma(), 15.44, 0.01, "gamma");
    close(d.log_likelihood, -4055.92, 0.01, "log-likelihood");
    let want = [
        24.65, 18.91, 35.17, 35.17, 35.17, 71.46, 18.91, 35.17, 27.28, 35.17,
    ];
    let got = m
        .predict_conditional_expected_spend(&x[..10], &zbar[..10])
        .expect("valid");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        close(*g, w, 0.1, &format!("expected spend of customer {}", i + 1));
    }
}
