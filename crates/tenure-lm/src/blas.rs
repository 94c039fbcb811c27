//! Matrix products through the system's OpenBLAS (feature `openblas`), for the encoder's inference
//! forward pass.
//!
//! Why: on this project's reference machine (2-core Zen 3, AVX2) candle's pure-Rust `gemm` reaches
//! 22-27 GFLOP/s per core on the encoder's shapes where OpenBLAS's sgemm reaches 60-67 (measured
//! side by side, docs/LM.md#speed), and about three quarters of the forward pass is matrix products.
//! The calls go through `ndarray`'s safe `general_mat_mul`, which hands standard and transposed
//! layouts to `cblas_sgemm`, so the products need no FFI of their own. Linking
//! (`-lopenblas`) is done by this crate's build script; Debian's `libopenblas-dev` provides it. The
//! one `unsafe` call in the crate sets OpenBLAS to one thread ([`run_on_calling_thread`]).
//! Products record their gradient when an operand is a training variable (fine-tuning), and the
//! backward products go through OpenBLAS as well.

use candle_core::{CpuStorage, CustomOp2, Layout, Shape, Tensor};
use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayView3, ArrayViewMut3, Axis};

use crate::error::Result;
use crate::kernels::f32_slice;

#[allow(unsafe_code)]
mod ffi {
    extern "C" {
        /// OpenBLAS's own setter of its worker count (`common_interface.h`).
        pub fn openblas_set_num_threads(num_threads: std::os::raw::c_int);
    }
}

/// Makes every OpenBLAS call run on its calling thread alone, once per process.
///
/// Why: the encoder already runs one batch per core, so OpenBLAS's own workers would only compete
/// with those cores; and concurrent calls into the threaded build queue on one lock (measured 46
/// sentences/s with OpenBLAS's two workers against 62-66 with one, docs/LM.md#speed). Set before the
/// first product; OpenBLAS reads its environment only when it is loaded, so this call is the way.
pub(crate) fn run_on_calling_thread() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: a plain C call with an integer argument; OpenBLAS's setter takes any positive
        // count, and `Once` keeps it from racing with itself. It runs before any product is
        // computed by this crate.
        #[allow(unsafe_code)]
        unsafe {
            ffi::openblas_set_num_threads(1)
        }
    });
}

fn shape_err(e: ndarray::ShapeError) -> candle_core::Error {
    candle_core::Error::Msg(format!("blas matmul: {e}"))
}

/// `x (m, k) · w (k, n)` for contiguous operands.
struct Dense;

impl CustomOp2 for Dense {
    fn name(&self) -> &'static str {
        "tenure-blas-dense"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (m, k) = xl.shape().dims2()?;
        let (k2, n) = wl.shape().dims2()?;
        if k != k2 {
            candle_core::bail!("blas matmul: ({m}, {k}) · ({k2}, {n}) do not chain")
        }
        let x = ArrayView2::from_shape((m, k), f32_slice(xs, xl, "blas matmul x")?)
            .map_err(shape_err)?;
        let w = ArrayView2::from_shape((k, n), f32_slice(ws, wl, "blas matmul w")?)
            .map_err(shape_err)?;
        // `dot` allocates the result without zeroing it first (sgemm with β = 0 overwrites it).
        let out = x.dot(&w);
        // Row-major operands give a row-major result; the guard keeps the raw order right anyway.
        let out = if out.is_standard_layout() {
            out
        } else {
            out.as_standard_layout().into_owned()
        };
        Ok((
            CpuStorage::F32(out.into_raw_vec_and_offset().0),
            Shape::from((m, n)),
        ))
    }

    /// `y = x·w`: `dx = g·wᵀ`, `dw = xᵀ·g`, both through OpenBLAS too.
    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _y: &Tensor,
        g: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let g = g.contiguous()?;
        let dx = g.apply_op2_no_bwd(&w.t()?.contiguous()?, &Dense)?;
        let dw = x.t()?.contiguous()?.apply_op2_no_bwd(&g, &Dense)?;
        Ok((Some(dx), Some(dw)))
    }
}

/// `x (m, k) · w (k, n)` through OpenBLAS; both made contiguous first. The gradient is recorded
/// (and computed through OpenBLAS too) only when an operand is a training variable.
pub(crate) fn matmul(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    Ok(x.contiguous()?.apply_op2(&w.contiguous()?, Dense)?)
}

/// Batched products over the leading axis: `a (g, m, k) · b (g, k, n)`, or `· b(g, n, k)ᵀ` when
/// `transpose_b`, as attention needs for `q·kᵀ` and `p·v`.
struct Batched {
    transpose_b: bool,
}

impl CustomOp2 for Batched {
    fn name(&self) -> &'static str {
        "tenure-blas-batched"
    }

    fn cpu_fwd(
        &self,
        as_: &CpuStorage,
        al: &Layout,
        bs: &CpuStorage,
        bl: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (g, m, k) = al.shape().dims3()?;
        let (g2, b1, b2) = bl.shape().dims3()?;
        let (kb, n) = if self.transpose_b { (b2, b1) } else { (b1, b2) };
        if g != g2 || k != kb {
            candle_core::bail!(
                "blas batched matmul: ({g}, {m}, {k}) · ({g2}, {b1}, {b2}) do not chain"
            )
        }
        let a = ArrayView3::from_shape((g, m, k), f32_slice(as_, al, "blas batched a")?)
            .map_err(shape_err)?;
        let b = ArrayView3::from_shape((g, b1, b2), f32_slice(bs, bl, "blas batched b")?)
            .map_err(shape_err)?;
        let mut out = vec![0f32; g * m * n];
        let mut o = ArrayViewMut3::from_shape((g, m, n), &mut out).map_err(shape_err)?;
        for ((a, b), mut o) in a
            .axis_iter(Axis(0))
            .zip(b.axis_iter(Axis(0)))
            .zip(o.axis_iter_mut(Axis(0)))
        {
            if self.transpose_b {
                general_mat_mul(1.0, &a, &b.t(), 0.0, &mut o);
            } else {
                general_mat_mul(1.0, &a, &b, 0.0, &mut o);
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((g, m, n))))
    }

    /// `c = a·b`: `da = g·bᵀ`, `db = aᵀ·g`; `c = a·bᵀ`: `da = g·b`, `db = gᵀ·a`.
    fn bwd(
        &self,
        a: &Tensor,
        b: &Tensor,
        _c: &Tensor,
        g: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let g = g.contiguous()?;
        let plain = Batched { transpose_b: false };
        let (da, db) = if self.transpose_b {
            (
                g.apply_op2_no_bwd(b, &plain)?,
                g.transpose(1, 2)?
                    .contiguous()?
                    .apply_op2_no_bwd(a, &plain)?,
            )
        } else {
            (
                g.apply_op2_no_bwd(b, &Batched { transpose_b: true })?,
                a.transpose(1, 2)?
                    .contiguous()?
                    .apply_op2_no_bwd(&g, &plain)?,
            )
        };
        Ok((Some(da), Some(db)))
    }
}

/// `a (g, m, k) · b (g, k, n)` → `(g, m, n)` through OpenBLAS.
pub(crate) fn batched_matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    Ok(a.contiguous()?
        .apply_op2(&b.contiguous()?, Batched { transpose_b: false })?)
}

/// `a (g, m, k) · b (g, n, k)ᵀ` → `(g, m, n)` through OpenBLAS, without copying `b` transposed.
pub(crate) fn batched_matmul_bt(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    Ok(a.contiguous()?
        .apply_op2(&b.contiguous()?, Batched { transpose_b: true })?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::max_diff;
    use candle_core::Device;

    #[test]
    fn dense_and_batched_products_equal_candles() -> Result<()> {
        run_on_calling_thread();
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (37, 19), &dev)?;
        let w = Tensor::randn(0f32, 1.0, (19, 23), &dev)?;
        assert!(max_diff(&matmul(&x, &w)?, &x.matmul(&w)?) < 1e-4);
        let a = Tensor::randn(0f32, 1.0, (6, 11, 8), &dev)?;
        let b = Tensor::randn(0f32, 1.0, (6, 8, 13), &dev)?;
        assert!(max_diff(&batched_matmul(&a, &b)?, &a.matmul(&b)?) < 1e-4);
        let bt = Tensor::randn(0f32, 1.0, (6, 13, 8), &dev)?;
        let want = a.matmul(&bt.t()?)?;
        assert!(max_diff(&batched_matmul_bt(&a, &bt)?, &want) < 1e-4);
        Ok(())
    }

    #[test]
    fn gradients_equal_candles() -> Result<()> {
        run_on_calling_thread();
        let dev = Device::Cpu;
        let x = candle_core::Var::randn(0f32, 1.0, (7, 5), &dev)?;
        let w = candle_core::Var::randn(0f32, 1.0, (5, 3), &dev)?;
        let ours = matmul(&x, &w)?.sqr()?.sum_all()?.backward()?;
        let theirs = x.matmul(&w)?.sqr()?.sum_all()?.backward()?;
        for v in [x.as_tensor(), w.as_tensor()] {
            let (a, b) = (ours.get(v), theirs.get(v));
            assert!(max_diff(a.expect("ours"), b.expect("candle's")) < 1e-4);
        }
        let a = candle_core::Var::randn(0f32, 1.0, (2, 4, 6), &dev)?;
        let b = candle_core::Var::randn(0f32, 1.0, (2, 6, 3), &dev)?;
        let bt = candle_core::Var::randn(0f32, 1.0, (2, 3, 6), &dev)?;
        let ours = (batched_matmul(&a, &b)?.sqr()?.sum_all()?
            + batched_matmul_bt(&a, &bt)?.sqr()?.sum_all()?)?
        .backward()?;
        let theirs = (a.matmul(&b)?.sqr()?.sum_all()? + a.matmul(&bt.t()?)?.sqr()?.sum_all()?)?
            .backward()?;
        for v in [a.as_tensor(), b.as_tensor(), bt.as_tensor()] {
            let (p, q) = (ours.get(v), theirs.get(v));
            assert!(max_diff(p.expect("ours"), q.expect("candle's")) < 1e-3);
        }
        Ok(())
    }

    #[test]
    fn mismatched_shapes_are_an_error_not_a_panic() -> Result<()> {
        let dev = Device::Cpu;
        let x = Tensor::zeros((3, 4), candle_core::DType::F32, &dev)?;
        let w = Tensor::zeros((5, 2), candle_core::DType::F32, &dev)?;
        assert!(matmul(&x, &w).is_err());
        Ok(())
    }
}
