//! CLV and bootstrap intervals on CDNOW.

use tenure_models::{
    BgNbdParams, BootstrapParams, BtydData, ClvParams, GammaGammaParams, PurchaseModel,
};

use crate::fixtures;

fn with_transactions() -> (BtydData, Vec<f64>) {
    let rows = fixtures::read_csv(fixtures::WITH_TRANSACTIONS);
    let data = BtydData::new(
        rows.iter().map(|r| r[1]).collect(),
        rows.iter().map(|r| r[2]).collect(),
        rows.iter().map(|r| r[3]).collect(),
    )
    .expect("valid fixture");
    (data, rows.iter().map(|r| r[4]).collect())
}

#[test]
fn clv_with_gamma_gamma_spend() {
    let (data, zbar) = with_transactions();
    let bg = BgNbdParams::default().fit(&data).expect("fits");
    let gg = GammaGammaParams::default()
        .fit(data.x(), &zbar)
        .expect("fits");
    let spend = gg
        .predict_conditional_expected_spend(data.x(), &zbar)
        .expect("valid");
    let params = ClvParams {
        horizon_months: 12,
        monthly_discount_rate: 0.01,
        units_per_month: 30.0,
    };
    let clv = params
        .customer_lifetime_value(&bg, &data, &spend)
        .expect("valid");
    // lifetimes 0.11.3 docs ("Estimating customer lifetime value using the Gamma-Gamma model"):
    // 12 months at 1 % a month with its default freq="D" (30 units a month) on this weekly data.
    let want = [
        140.096211,
        18.943467,
        38.180574,
        38.180574,
        38.180574,
        1003.868107,
        28.109683,
        38.180574,
        167.418216,
        38.180574,
    ];
    for (i, (got, want)) in clv.iter().zip(want).enumerate() {
        assert!(
            (got - want).abs() < 0.01,
            "customer {}: {got} vs {want}",
            i + 1
        );
    }
    assert!(clv.iter().all(|v| v.is_finite() && *v >= 0.0));
    // Longer horizons are worth more; heavier discounting is worth less.
    let longer = ClvParams {
        horizon_months: 24,
        ..params.clone()
    }
    .customer_lifetime_value(&bg, &data, &spend)
    .expect("valid");
    let steeper = ClvParams {
        monthly_discount_rate: 0.05,
        ..params.clone()
    }
    .customer_lifetime_value(&bg, &data, &spend)
    .expect("valid");
    assert!(longer[0] > clv[0] && steeper[0] < clv[0]);
}

fn query() -> BtydData {
    BtydData::from_slices(
        &[0.0, 2.0, 10.0],
        &[0.0, 30.43, 35.0],
        &[38.86, 38.86, 38.86],
    )
    .expect("valid")
}

/// Same seed, same intervals; another seed, other intervals.
#[test]
fn bg_nbd_bootstrap_is_seeded() {
    let data = fixtures::summary();
    let params = BgNbdParams::default();
    let boot = BootstrapParams {
        n_resamples: 20,
        confidence: 0.9,
        seed: 42,
    };
    let a = params
        .bootstrap_conditional_expected_purchases(&data, &query(), 39.0, &boot)
        .expect("fits");
    let b = params
        .bootstrap_conditional_expected_purchases(&data, &query(), 39.0, &boot)
        .expect("fits");
    assert_eq!(a, b);
    let c = params
        .bootstrap_conditional_expected_purchases(
            &data,
            &query(),
            39.0,
            &BootstrapParams { seed: 43, ..boot },
        )
        .expect("fits");
    assert_ne!(a, c);
    assert_eq!((a.n_succeeded, a.n_failed), (20, 0));
    let full = params.fit(&data).expect("fits");
    for (i, iv) in a.intervals.iter().enumerate() {
        let q = query();
        let e = full
            .conditional_expected_purchases(39.0, q.x()[i], q.t_x()[i], q.age()[i])
            .expect("valid");
        assert!((iv.estimate - e).abs() < 1e-12);
        assert!(iv.lower <= iv.upper && iv.lower > 0.0, "{iv:?}");
        // Sampling noise of a 2,357-customer fit is a few per cent, not orders of magnitude.
        assert!(iv.lower > 0.5 * e && iv.upper < 2.0 * e, "{iv:?} vs {e}");
    }
}

#[test]
fn clv_bootstrap_is_seeded() {
    let (data, zbar) = with_transactions();
    let q = query();
    let q_money = [0.0, 22.35, 40.0];
    let boot = BootstrapParams {
        n_resamples: 10,
        confidence: 0.8,
        seed: 7,
    };
    let params = ClvParams {
        units_per_month: 4.345,
        ..ClvParams::default()
    };
    let run = || {
        params
            .bootstrap(
                &BgNbdParams::default(),
                &GammaGammaParams::default(),
                &data,
                &zbar,
                &q,
                &q_money,
                &boot,
            )
            .expect("fits")
    };
    let a = run();
    assert_eq!(a, run());
    assert_eq!(a.intervals.len(), 3);
    assert!(
        a.total.lower <= a.total.upper && a.total.estimate > 0.0,
        "{a:?}"
    );
    for iv in &a.intervals {
        assert!(iv.lower.is_finite() && iv.upper.is_finite() && iv.lower <= iv.upper);
    }
}
