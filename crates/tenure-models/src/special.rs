//! Special functions and numerically stable helpers shared by the likelihoods.
//!
//! Log-gamma and digamma use the recurrence to shift the argument above 10 and then the Stirling
//! (de Moivre) asymptotic series (Abramowitz & Stegun 6.1.40 and 6.3.18); both are accurate to about
//! 1e-15 relative for positive arguments, which is all the models need.

/// ln(2π) / 2.
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// Arguments at or above this use the asymptotic series directly.
const ASYMPTOTIC_FROM: f64 = 10.0;

/// ln Γ(x) for x > 0 (A&S 6.1.40 after the recurrence Γ(x+1) = xΓ(x)).
pub(crate) fn ln_gamma(x: f64) -> f64 {
    if x >= ASYMPTOTIC_FROM {
        return stirling_ln_gamma(x);
    }
    let mut prod = 1.0;
    let mut y = x;
    while y < ASYMPTOTIC_FROM {
        prod *= y;
        y += 1.0;
    }
    stirling_ln_gamma(y) - prod.ln()
}

fn stirling_ln_gamma(x: f64) -> f64 {
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    // Bernoulli terms B_{2k} / (2k (2k-1) x^{2k-1}), k = 1..7.
    let series = inv
        * (1.0 / 12.0
            + inv2
                * (-1.0 / 360.0
                    + inv2
                        * (1.0 / 1260.0
                            + inv2
                                * (-1.0 / 1680.0
                                    + inv2
                                        * (1.0 / 1188.0
                                            + inv2 * (-691.0 / 360_360.0 + inv2 / 156.0))))));
    (x - 0.5) * x.ln() - x + HALF_LN_2PI + series
}

/// ψ(x) = d/dx ln Γ(x) for x > 0 (A&S 6.3.18 after the recurrence ψ(x+1) = ψ(x) + 1/x).
pub(crate) fn digamma(x: f64) -> f64 {
    let mut acc = 0.0;
    let mut y = x;
    while y < ASYMPTOTIC_FROM {
        acc -= 1.0 / y;
        y += 1.0;
    }
    let inv = 1.0 / y;
    let inv2 = inv * inv;
    let series = inv2
        * (1.0 / 12.0
            - inv2
                * (1.0 / 120.0
                    - inv2
                        * (1.0 / 252.0
                            - inv2
                                * (1.0 / 240.0
                                    - inv2
                                        * (1.0 / 132.0
                                            - inv2 * (691.0 / 32_760.0 - inv2 / 12.0))))));
    acc + y.ln() - 0.5 * inv - series
}

/// ln(e^a + e^b) without overflow; −∞ inputs are allowed.
pub(crate) fn ln_add_exp(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    if lo == f64::NEG_INFINITY {
        return hi;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// 1 / (1 + e^{-x}), stable for both signs.
pub(crate) fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// (1 − e^{−c·u}) / c, continuous at c = 0 where it equals u.
///
/// Appears in the Pareto/NBD expectations as [1 − (β/(β+t))^{s−1}] / (s−1) with c = s−1 and
/// u = ln(1 + t/β).
pub(crate) fn one_minus_exp_over(c: f64, u: f64) -> f64 {
    let cu = c * u;
    if cu.abs() < 1e-12 {
        u * (1.0 - 0.5 * cu)
    } else {
        -(-cu).exp_m1() / c
    }
}

/// expm1(c·L) / c, continuous at c = 0 where it equals L.
pub(crate) fn expm1_over(c: f64, l: f64) -> f64 {
    let cl = c * l;
    if cl.abs() < 1e-12 {
        l * (1.0 + 0.5 * cl)
    } else {
        cl.exp_m1() / c
    }
}

/// Nodes of the 10-point Gauss–Legendre rule on [−1, 1] (positive half; the rule is symmetric).
pub(crate) const GL10_NODES: [f64; 5] = [
    0.148_874_338_981_631_2,
    0.433_395_394_129_247_2,
    0.679_409_568_299_024_4,
    0.865_063_366_688_984_5,
    0.973_906_528_517_171_7,
];

/// Weights matching [`GL10_NODES`].
pub(crate) const GL10_WEIGHTS: [f64; 5] = [
    0.295_524_224_714_752_9,
    0.269_266_719_309_996_3,
    0.219_086_362_515_982,
    0.149_451_349_150_580_6,
    0.066_671_344_308_688_1,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_gamma_matches_known_values() {
        // Γ(1) = Γ(2) = 1, Γ(0.5) = √π, Γ(10) = 9!, Γ(100.5) from A&S tables / mpmath.
        assert!(ln_gamma(1.0).abs() < 1e-14);
        assert!(ln_gamma(2.0).abs() < 1e-14);
        let sqrt_pi_ln = 0.5 * std::f64::consts::PI.ln();
        assert!((ln_gamma(0.5) - sqrt_pi_ln).abs() < 1e-14);
        assert!((ln_gamma(10.0) - 362_880f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(100.5) - 361.435_540_467_777_6).abs() < 1e-10);
        // Γ(x) ~ 1/x as x → 0.
        assert!((ln_gamma(1e-10) - (1e10f64).ln()).abs() < 1e-8);
    }

    #[test]
    fn ln_gamma_recurrence_holds_everywhere() {
        for x in [0.013f64, 0.3, 0.77, 1.5, 3.3, 9.99, 10.0, 17.2, 1234.5] {
            let lhs = ln_gamma(x + 1.0);
            let rhs = ln_gamma(x) + f64::ln(x);
            assert!((lhs - rhs).abs() < 1e-12 * (1.0 + lhs.abs()), "x = {x}");
        }
    }

    #[test]
    fn digamma_matches_known_values_and_derivative() {
        // ψ(1) = −γ (Euler–Mascheroni), ψ(0.5) = −γ − 2 ln 2.
        let euler = 0.577_215_664_901_532_9;
        assert!((digamma(1.0) + euler).abs() < 1e-14);
        assert!((digamma(0.5) + euler + 2.0 * 2f64.ln()).abs() < 1e-14);
        for x in [0.05f64, 0.7, 2.5, 11.0, 300.0] {
            let h = 1e-5 * x.max(1.0);
            let numeric = (ln_gamma(x + h) - ln_gamma(x - h)) / (2.0 * h);
            assert!(
                (digamma(x) - numeric).abs() < 1e-6 * (1.0 + numeric.abs()),
                "x = {x}"
            );
        }
    }

    #[test]
    fn stable_helpers_are_continuous() {
        assert!((one_minus_exp_over(0.0, 2.0) - 2.0).abs() < 1e-15);
        assert!((one_minus_exp_over(1e-9, 2.0) - 2.0).abs() < 1e-8);
        assert!((one_minus_exp_over(0.5, 2.0) - (1.0 - (-1.0f64).exp()) / 0.5).abs() < 1e-15);
        assert!((expm1_over(0.0, -3.0) + 3.0).abs() < 1e-15);
        assert!((ln_add_exp(f64::NEG_INFINITY, 1.0) - 1.0).abs() < 1e-15);
        assert!((ln_add_exp(1000.0, 1000.0) - (1000.0 + 2f64.ln())).abs() < 1e-12);
        assert!(sigmoid(-800.0).abs() < 1e-300 && sigmoid(800.0) == 1.0);
        let total: f64 = GL10_WEIGHTS.iter().sum::<f64>() * 2.0;
        assert!((total - 2.0).abs() < 1e-14);
    }
}
