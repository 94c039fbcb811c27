//! Hostile inputs: clear errors naming the row, or results with warnings; never a panic or NaN.

use tenure_models::{
    BgNbdParams, BtydData, ClvParams, Error, GammaGammaParams, ParetoNbdParams, PurchaseModel,
    RfmParams,
};

fn finite_fit_outputs(m: &dyn PurchaseModel, data: &BtydData) {
    for i in 0..data.len() {
        let (x, tx, age) = (data.x()[i], data.t_x()[i], data.age()[i]);
        let p = m.probability_alive(x, tx, age).expect("valid");
        assert!((0.0..=1.0).contains(&p), "{p}");
        for t in [0.0, 1.0, 52.0, 1e4] {
            let e = m
                .conditional_expected_purchases(t, x, tx, age)
                .expect("valid");
            assert!(e.is_finite() && e >= 0.0, "{e}");
        }
        let e = m.expected_purchases(52.0).expect("valid");
        assert!(e.is_finite() && e >= 0.0);
    }
}

#[test]
fn empty_and_invalid_rows_are_named() {
    assert!(matches!(
        BtydData::new(vec![], vec![], vec![]),
        Err(Error::Empty { .. })
    ));
    let err = BtydData::from_slices(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0], &[5.0, f64::NAN, 5.0])
        .expect_err("NaN age");
    assert!(err.to_string().starts_with("row 1: T = NaN"), "{err}");
    let err = BtydData::from_slices(&[1.0, 2.0, -3.0], &[1.0, 2.0, 3.0], &[5.0, 5.0, 5.0])
        .expect_err("negative x");
    assert!(matches!(
        err,
        Error::InvalidInput {
            row: 2,
            field: "x",
            ..
        }
    ));
    let err = GammaGammaParams::default()
        .fit(&[1.0, 1.0], &[3.0, f64::INFINITY])
        .expect_err("infinite spend");
    assert!(matches!(err, Error::InvalidInput { row: 1, .. }));
    let err = RfmParams::default()
        .score(&[1.0, 1.0], &[1.0, f64::NAN], &[1.0, 1.0])
        .expect_err("NaN frequency");
    assert!(matches!(err, Error::InvalidInput { row: 1, .. }));
}

#[test]
fn one_time_buyers_only_is_a_clear_error_for_every_model() {
    let d = BtydData::from_slices(&[0.0; 3], &[0.0; 3], &[10.0, 20.0, 30.0]).expect("valid");
    for err in [
        BgNbdParams::default().fit(&d).expect_err("bg"),
        ParetoNbdParams::default().fit(&d).expect_err("pareto"),
        GammaGammaParams::default()
            .fit(d.x(), &[0.0; 3])
            .expect_err("gg"),
    ] {
        assert!(matches!(err, Error::NoRepeatBuyers { .. }), "{err}");
        assert!(err.to_string().contains("repeat"), "{err}");
    }
}

#[test]
fn degenerate_tables_fit_with_warnings() {
    // One customer; every customer's last purchase at T; huge x; T = 0 newcomers.
    let tables = [
        BtydData::from_slices(&[2.0], &[5.0], &[9.0]).expect("valid"),
        BtydData::from_slices(&[1.0, 3.0, 7.0], &[10.0, 20.0, 30.0], &[10.0, 20.0, 30.0])
            .expect("valid"),
        BtydData::from_slices(
            &[0.0, 1.0, 5000.0, 0.0],
            &[0.0, 3.0, 99.0, 0.0],
            &[40.0, 40.0, 100.0, 0.0],
        )
        .expect("valid"),
    ];
    for d in &tables {
        let bg = BgNbdParams::default().fit(d).expect("bg fits");
        assert!(bg.diagnostics().log_likelihood.is_finite());
        finite_fit_outputs(&bg, d);
        let pn = ParetoNbdParams::default().fit(d).expect("pareto fits");
        assert!(pn.diagnostics().log_likelihood.is_finite());
        finite_fit_outputs(&pn, d);
        let clv = ClvParams::default()
            .customer_lifetime_value(&bg, d, &vec![0.0; d.len()])
            .expect("valid");
        assert!(clv.iter().all(|v| *v == 0.0), "zero spend, zero value");
    }
    let single = BgNbdParams::default().fit(&tables[0]).expect("fits");
    assert!(!single.diagnostics().warnings.is_empty());
}
