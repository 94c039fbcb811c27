//! Scale check, ignored by default: `cargo test --release -p tenure-models --test it -- --ignored
//! --nocapture scale` (TENURE_PERF_N customers, default 1,000,000).

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, Exp, Gamma};
use tenure_models::{BgNbdParams, BtydData, ClvParams, GammaGammaParams};

/// Customers simulated from a BG/NBD process in days (r 0.25, α 30, a 0.8, b 2.5), with ages
/// of 0–730 whole days and day-resolution purchase times, plus Gamma-Gamma spend.
fn simulate(n: usize, seed: u64) -> (BtydData, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let lambda = Gamma::new(0.25, 1.0 / 30.0).expect("valid");
    let p_drop = Beta::new(0.8, 2.5).expect("valid");
    let nu = Gamma::new(3.7, 1.0 / 15.0).expect("valid");
    let (mut x, mut t_x, mut age, mut money) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for _ in 0..n {
        let t_end = f64::from(rng.random_range(0u32..=730));
        let l = f64::max(lambda.sample(&mut rng), 1e-12);
        let p: f64 = p_drop.sample(&mut rng);
        let gap = Exp::new(l).expect("positive rate");
        let (mut t, mut last, mut k) = (0.0, 0.0, 0u32);
        loop {
            t += gap.sample(&mut rng);
            if t > t_end {
                break;
            }
            k += 1;
            last = t.floor().min(t_end);
            if rng.random::<f64>() < p {
                break;
            }
        }
        let scale: f64 = nu.sample(&mut rng);
        let spend = Gamma::new(
            6.0 * f64::from(k.max(1)),
            1.0 / (scale * f64::from(k.max(1))),
        )
        .expect("valid")
        .sample(&mut rng);
        x.push(f64::from(k));
        t_x.push(if k == 0 { 0.0 } else { last });
        age.push(t_end);
        money.push(if k == 0 { 0.0 } else { spend });
    }
    (BtydData::new(x, t_x, age).expect("valid"), money)
}

#[test]
#[ignore = "scale check; run in release"]
fn scale_fit_and_score() {
    let n: usize = std::env::var("TENURE_PERF_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let t0 = Instant::now();
    let (data, money) = simulate(n, 1);
    eprintln!("simulate {n}: {:.2?}", t0.elapsed());
    let t = Instant::now();
    let bg = BgNbdParams::default().fit(&data).expect("fits");
    eprintln!(
        "bg/nbd fit: {:.2?} ({} unique rows, {} iterations, r {:.4} α {:.3} a {:.4} b {:.4})",
        t.elapsed(),
        bg.diagnostics().n_unique_rows,
        bg.diagnostics().iterations,
        bg.r(),
        bg.alpha(),
        bg.a(),
        bg.b()
    );
    let t = Instant::now();
    let gg = GammaGammaParams::default()
        .fit(data.x(), &money)
        .expect("fits");
    eprintln!(
        "gamma-gamma fit: {:.2?} ({} rows, {} iterations, p {:.3} q {:.3} γ {:.3})",
        t.elapsed(),
        gg.diagnostics().n_unique_rows,
        gg.diagnostics().iterations,
        gg.p(),
        gg.q(),
        gg.gamma()
    );
    let t = Instant::now();
    let alive = bg.predict_probability_alive(&data);
    eprintln!("p(alive): {:.2?}", t.elapsed());
    let t = Instant::now();
    let e30 = bg
        .predict_conditional_expected_purchases(&data, 30.0)
        .expect("valid");
    eprintln!("E[Y(30)]: {:.2?}", t.elapsed());
    let t = Instant::now();
    let spend = gg
        .predict_conditional_expected_spend(data.x(), &money)
        .expect("valid");
    let clv = ClvParams::default()
        .customer_lifetime_value(&bg, &data, &spend)
        .expect("valid");
    eprintln!("clv: {:.2?}", t.elapsed());
    let t = Instant::now();
    let next = bg
        .predict_time_to_next_purchase(&data, 365.0)
        .expect("valid");
    eprintln!("next purchase: {:.2?}", t.elapsed());
    eprintln!("total: {:.2?}", t0.elapsed());
    if std::env::var("TENURE_PERF_PARETO").is_ok() {
        let t = Instant::now();
        let pn = tenure_models::ParetoNbdParams::default()
            .fit(&data)
            .expect("fits");
        eprintln!(
            "pareto/nbd fit: {:.2?} ({} iterations, r {:.4} α {:.3} s {:.4} β {:.3})",
            t.elapsed(),
            pn.diagnostics().iterations,
            pn.r(),
            pn.alpha(),
            pn.s(),
            pn.beta()
        );
    }
    assert!(alive.iter().chain(&e30).chain(&clv).all(|v| v.is_finite()));
    assert_eq!(next.len(), n);
}
