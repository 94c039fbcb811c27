//! Fused CPU kernels for the encoder's memory-bound steps.
//!
//! Profiling `Bert::forward` on all-MiniLM-L6-v2 (docs/LM.md) put roughly a third of the time outside
//! the matrix multiplications: candle runs bias add, GELU, mask add, softmax, residual add and layer
//! norm as separate passes, each allocating a fresh tensor. These kernels do each group in one pass
//! over rows, in parallel with rayon. They are plain safe Rust on contiguous f32 slices, exposed as
//! candle custom ops so the forward pass stays tensor code.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Shape, Tensor};
use rayon::prelude::*;

use crate::error::Result;

/// Rows per rayon task: enough work per task to amortise scheduling.
fn rows_per_task(width: usize) -> usize {
    (16_384 / width.max(1)).max(1)
}

pub(crate) fn f32_slice<'a>(
    s: &'a CpuStorage,
    l: &Layout,
    what: &str,
) -> candle_core::Result<&'a [f32]> {
    let CpuStorage::F32(v) = s else {
        candle_core::bail!("{what}: expected f32 storage")
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&v[a..b]),
        None => candle_core::bail!("{what}: expected a contiguous tensor"),
    }
}

/// erf(x) by Abramowitz & Stegun 7.1.26 (max abs error 1.5e-7), odd-extended to negative x.
#[inline]
fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
    let y = 1.0 - poly * (-a * a).exp();
    y.copysign(x)
}

/// Exact (erf) GELU as in BERT: x/2 · (1 + erf(x/√2)).
#[inline]
pub(crate) fn gelu_erf(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// `gelu(x + bias)` over the rows of a `(m, n)` matrix with an `(n)` bias.
struct BiasGelu;

impl CustomOp2 for BiasGelu {
    fn name(&self) -> &'static str {
        "tenure-bias-gelu"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        bs: &CpuStorage,
        bl: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = f32_slice(xs, xl, "bias_gelu x")?;
        let b = f32_slice(bs, bl, "bias_gelu bias")?;
        let n = b.len();
        if n == 0 || !x.len().is_multiple_of(n) {
            candle_core::bail!("bias_gelu: {} values do not form rows of {n}", x.len())
        }
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(n * rows_per_task(n))
            .zip(x.par_chunks(n * rows_per_task(n)))
            .for_each(|(o, x)| {
                for (orow, xrow) in o.chunks_mut(n).zip(x.chunks(n)) {
                    for ((o, &x), &b) in orow.iter_mut().zip(xrow).zip(b) {
                        *o = gelu_erf(x + b);
                    }
                }
            });
        Ok((CpuStorage::F32(out), xl.shape().clone()))
    }
}

/// `gelu_erf(x + bias)` for `x` `(m, n)` contiguous and `bias` `(n)`.
pub(crate) fn bias_gelu(x: &Tensor, bias: &Tensor) -> Result<Tensor> {
    Ok(x.apply_op2_no_bwd(bias, &BiasGelu)?)
}

/// Softmax over the last axis of attention scores `(b, h, q, k)` that ignores padded keys:
/// `mask` `(b, k)` holds 1 for kept and 0 for padded keys. Equal to adding the most negative float
/// to padded scores before a softmax, as Hugging Face BERT does, without the extra pass.
struct MaskedSoftmax;

impl CustomOp2 for MaskedSoftmax {
    fn name(&self) -> &'static str {
        "tenure-masked-softmax"
    }

    fn cpu_fwd(
        &self,
        ss: &CpuStorage,
        sl: &Layout,
        ms: &CpuStorage,
        ml: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let s = f32_slice(ss, sl, "masked_softmax scores")?;
        let m = f32_slice(ms, ml, "masked_softmax mask")?;
        let (b, h, q, k) = sl.shape().dims4()?;
        if ml.shape().dims2()? != (b, k) {
            candle_core::bail!(
                "masked_softmax: mask {:?} does not fit scores {:?}",
                ml.shape(),
                sl.shape()
            )
        }
        let mut out = vec![0f32; s.len()];
        let per_batch = h * q * k;
        out.par_chunks_mut(per_batch)
            .zip(s.par_chunks(per_batch))
            .enumerate()
            .for_each(|(bi, (o, s))| {
                let mask = &m[bi * k..(bi + 1) * k];
                for (orow, srow) in o.chunks_mut(k).zip(s.chunks(k)) {
                    let mut max = f32::NEG_INFINITY;
                    for (&v, &keep) in srow.iter().zip(mask) {
                        if keep != 0.0 && v > max {
                            max = v;
                        }
                    }
                    if max == f32::NEG_INFINITY {
                        // Every key padded (never for real input, which keeps [CLS]): uniform,
                        // as the additive-mask softmax gives.
                        orow.fill(1.0 / k as f32);
                        continue;
                    }
                    let mut sum = 0f32;
                    for ((o, &v), &keep) in orow.iter_mut().zip(srow).zip(mask) {
                        let e = if keep != 0.0 { (v - max).exp() } else { 0.0 };
                        *o = e;
                        sum += e;
                    }
                    let inv = 1.0 / sum;
                    for o in orow.iter_mut() {
                        *o *= inv;
                    }
                }
            });
        Ok((CpuStorage::F32(out), sl.shape().clone()))
    }
}

/// Masked softmax of attention scores `(b, h, q, k)` with a `(b, k)` 0/1 key mask.
pub(crate) fn masked_softmax(scores: &Tensor, mask: &Tensor) -> Result<Tensor> {
    Ok(scores.apply_op2_no_bwd(mask, &MaskedSoftmax)?)
}

/// `layer_norm(x + bias + residual)` over rows of width n; `params` is `(3, n)`: bias, gamma, beta.
struct AddNorm {
    eps: f32,
}

impl CustomOp3 for AddNorm {
    fn name(&self) -> &'static str {
        "tenure-add-norm"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        rs: &CpuStorage,
        rl: &Layout,
        ps: &CpuStorage,
        pl: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = f32_slice(xs, xl, "add_norm x")?;
        let r = f32_slice(rs, rl, "add_norm residual")?;
        let p = f32_slice(ps, pl, "add_norm params")?;
        let (three, n) = pl.shape().dims2()?;
        if three != 3 || x.len() != r.len() || n == 0 || !x.len().is_multiple_of(n) {
            candle_core::bail!(
                "add_norm: shapes {:?} {:?} {:?}",
                xl.shape(),
                rl.shape(),
                pl.shape()
            )
        }
        let (bias, rest) = p.split_at(n);
        let (gamma, beta) = rest.split_at(n);
        let eps = self.eps;
        let mut out = vec![0f32; x.len()];
        let chunk = n * rows_per_task(n);
        out.par_chunks_mut(chunk)
            .zip(x.par_chunks(chunk).zip(r.par_chunks(chunk)))
            .for_each(|(o, (x, r))| {
                for ((orow, xrow), rrow) in o.chunks_mut(n).zip(x.chunks(n)).zip(r.chunks(n)) {
                    let mut sum = 0f32;
                    for (((o, &x), &r), &b) in orow.iter_mut().zip(xrow).zip(rrow).zip(bias) {
                        *o = x + b + r;
                        sum += *o;
                    }
                    let mean = sum / n as f32;
                    let mut var = 0f32;
                    for o in orow.iter_mut() {
                        *o -= mean;
                        var += *o * *o;
                    }
                    let inv = 1.0 / (var / n as f32 + eps).sqrt();
                    for ((o, &g), &b) in orow.iter_mut().zip(gamma).zip(beta) {
                        *o = *o * inv * g + b;
                    }
                }
            });
        Ok((CpuStorage::F32(out), xl.shape().clone()))
    }
}

/// `layer_norm(x + bias + residual) * gamma + beta` with `params = [bias; gamma; beta]` `(3, n)`.
pub(crate) fn add_norm(x: &Tensor, residual: &Tensor, params: &Tensor, eps: f32) -> Result<Tensor> {
    Ok(x.apply_op3_no_bwd(residual, params, &AddNorm { eps })?)
}

/// Largest absolute difference of two same-shaped tensors (infinite when they cannot be compared).
#[cfg(test)]
pub(crate) fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .and_then(|d| d.abs())
        .and_then(|d| d.flatten_all())
        .and_then(|d| d.max(0))
        .and_then(|d| d.to_scalar::<f32>())
        .unwrap_or(f32::INFINITY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, D};

    #[test]
    fn erf_matches_reference_values() {
        // Reference values: Abramowitz & Stegun Table 7.1; 7.1.26 promises |error| <= 1.5e-7, plus
        // f32 rounding.
        for (x, want) in [
            (0.0f32, 0.0f32),
            (0.5, 0.520_499_9),
            (1.0, 0.842_700_8),
            (2.0, 0.995_322_3),
        ] {
            assert!((erf(x) - want).abs() < 3e-7, "erf({x}) = {}", erf(x));
            assert!((erf(-x) + want).abs() < 3e-7, "erf(-{x})");
        }
    }

    #[test]
    fn bias_gelu_matches_candle() {
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 3.0, (37, 24), &dev).expect("x");
        let b = Tensor::randn(0f32, 1.0, 24, &dev).expect("b");
        let want = x
            .broadcast_add(&b)
            .and_then(|t| t.gelu_erf())
            .expect("want");
        let got = bias_gelu(&x, &b).expect("got");
        assert!(max_diff(&got, &want) < 1e-5);
    }

    #[test]
    fn masked_softmax_matches_additive_mask() {
        let dev = Device::Cpu;
        let s = Tensor::randn(0f32, 2.0, (2, 3, 5, 5), &dev).expect("s");
        let mask = Tensor::new(&[[1f32, 1., 1., 0., 0.], [1., 1., 1., 1., 1.]], &dev).expect("m");
        let neg =
            ((mask.ones_like().expect("1") - &mask).expect("d") * f64::from(f32::MIN)).expect("n");
        let want = candle_nn::ops::softmax_last_dim(
            &s.broadcast_add(&neg.reshape((2, 1, 1, 5)).expect("r"))
                .expect("a"),
        )
        .expect("want");
        let got = masked_softmax(&s, &mask).expect("got");
        assert!(max_diff(&got, &want) < 1e-6);
    }

    #[test]
    fn add_norm_matches_candle() {
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (9, 16), &dev).expect("x");
        let r = Tensor::randn(0f32, 1.0, (9, 16), &dev).expect("r");
        let p = Tensor::randn(0f32, 1.0, (3, 16), &dev).expect("p");
        let (b, g, beta) = (
            p.get(0).expect("b"),
            p.get(1).expect("g"),
            p.get(2).expect("beta"),
        );
        let sum = x.broadcast_add(&b).and_then(|t| t + &r).expect("sum");
        let want = candle_nn::ops::layer_norm(&sum, &g, &beta, 1e-12).expect("want");
        let got = add_norm(&x, &r, &p, 1e-12).expect("got");
        assert!(max_diff(&got, &want) < 1e-5);
        assert_eq!(got.dims(), x.dims());
        let _ = D::Minus1;
    }
}
