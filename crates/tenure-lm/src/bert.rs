//! A BERT encoder forward pass on candle, inference only.
//!
//! Written here rather than taken from candle-transformers so that the weights can be checked tensor
//! by tensor with clear errors, the query/key/value projections run as one fused matmul with the
//! 1/sqrt(d) scale folded into the query weights, and the crate does not compile a hundred other model
//! families. The layout follows Hugging Face `modeling_bert.py` (Devlin et al. 2019, §3).

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor, D};

use crate::config::{Activation, BertConfig};
use crate::error::{LmError, Result};
use crate::kernels;

/// A dense layer stored as `(in, out)` so `x.matmul(w)` needs no transposed view.
struct Dense {
    w: Tensor,
    b: Tensor,
}

impl Dense {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(matmul(x, &self.w)?.broadcast_add(&self.b)?)
    }
}

/// `x (m, k) · w (k, n)`: OpenBLAS's sgemm with the `openblas` feature, candle's gemm without.
fn matmul(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    #[cfg(feature = "openblas")]
    return crate::blas::matmul(x, w);
    #[cfg(not(feature = "openblas"))]
    Ok(x.matmul(w)?)
}

/// Attention's `q·kᵀ` over `(groups, s, d)` operands.
fn scores(q: &Tensor, k: &Tensor) -> Result<Tensor> {
    #[cfg(feature = "openblas")]
    return crate::blas::batched_matmul_bt(q, k);
    #[cfg(not(feature = "openblas"))]
    Ok(q.matmul(&k.t()?)?)
}

/// Attention's `p·v` over `(groups, s, s)` and `(groups, s, d)` operands.
fn context(p: &Tensor, v: &Tensor) -> Result<Tensor> {
    #[cfg(feature = "openblas")]
    return crate::blas::batched_matmul(p, v);
    #[cfg(not(feature = "openblas"))]
    Ok(p.matmul(v)?)
}

struct Norm {
    w: Tensor,
    b: Tensor,
    eps: f32,
}

impl Norm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(candle_nn::ops::layer_norm(x, &self.w, &self.b, self.eps)?)
    }
}

struct Layer {
    qkv: Dense,
    /// Attention output projection `(h, h)`, its bias living in `attn_params`.
    attn_out: Tensor,
    /// `[bias of attn_out; layer-norm gamma; layer-norm beta]`, `(3, h)`, for [`kernels::add_norm`].
    attn_params: Tensor,
    up: Dense,
    /// Feed-forward down projection `(intermediate, h)`, its bias living in `out_params`.
    down: Tensor,
    /// `[bias of down; gamma; beta]`, `(3, h)`.
    out_params: Tensor,
    eps: f32,
}

/// The loaded encoder: embeddings, `num_hidden_layers` transformer layers, no pooler.
pub(crate) struct Bert {
    word: Tensor,
    position: Tensor,
    token_type0: Tensor,
    emb_norm: Norm,
    layers: Vec<Layer>,
    heads: usize,
    head_dim: usize,
    hidden: usize,
    activation: Activation,
}

/// Looks tensors up under the detected prefix and checks their shapes against config.json.
struct Weights {
    map: HashMap<String, Tensor>,
    prefix: String,
}

impl Weights {
    fn new(map: HashMap<String, Tensor>) -> Result<Self> {
        const ANCHOR: &str = "embeddings.word_embeddings.weight";
        let mut prefixes: Vec<&String> = map.keys().filter(|k| k.ends_with(ANCHOR)).collect();
        prefixes.sort_by_key(|k| k.len());
        let prefix = match prefixes.first() {
            Some(k) => k[..k.len() - ANCHOR.len()].to_string(),
            None => {
                return Err(LmError::MissingTensor {
                    name: ANCHOR.to_string(),
                    prefix: "any".to_string(),
                })
            }
        };
        Ok(Self { map, prefix })
    }

    fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let t = self.find(name)?;
        if t.dims() != shape {
            return Err(LmError::ShapeMismatch {
                name: format!("{}{name}", self.prefix),
                expected: shape.to_vec(),
                found: t.dims().to_vec(),
            });
        }
        Ok(t.to_dtype(DType::F32)?)
    }

    fn find(&self, name: &str) -> Result<&Tensor> {
        let full = format!("{}{name}", self.prefix);
        if let Some(t) = self.map.get(&full) {
            return Ok(t);
        }
        // Old TensorFlow-converted checkpoints name layer-norm parameters gamma/beta.
        let old = full
            .strip_suffix("LayerNorm.weight")
            .map(|s| format!("{s}LayerNorm.gamma"))
            .or_else(|| {
                full.strip_suffix("LayerNorm.bias")
                    .map(|s| format!("{s}LayerNorm.beta"))
            });
        old.and_then(|o| self.map.get(&o))
            .ok_or_else(|| LmError::MissingTensor {
                name: name.to_string(),
                prefix: self.prefix.clone(),
            })
    }

    /// A linear layer stored by PyTorch as `(out, in)`, returned as `(in, out)`.
    fn dense(&self, name: &str, d_in: usize, d_out: usize) -> Result<Dense> {
        let w = self.get(&format!("{name}.weight"), &[d_out, d_in])?;
        let b = self.get(&format!("{name}.bias"), &[d_out])?;
        Ok(Dense {
            w: w.t()?.contiguous()?,
            b,
        })
    }

    /// A dense layer followed by a residual layer norm, as `(weight (in, out), [bias; gamma; beta])`.
    fn dense_norm(
        &self,
        dense: &str,
        norm: &str,
        d_in: usize,
        d_out: usize,
    ) -> Result<(Tensor, Tensor)> {
        let d = self.dense(dense, d_in, d_out)?;
        let gamma = self.get(&format!("{norm}.weight"), &[d_out])?;
        let beta = self.get(&format!("{norm}.bias"), &[d_out])?;
        Ok((d.w, Tensor::stack(&[d.b, gamma, beta], 0)?))
    }

    fn norm(&self, name: &str, width: usize, eps: f64) -> Result<Norm> {
        Ok(Norm {
            w: self.get(&format!("{name}.weight"), &[width])?,
            b: self.get(&format!("{name}.bias"), &[width])?,
            eps: eps as f32,
        })
    }
}

impl Bert {
    /// Builds the encoder from a safetensors tensor map, checking every tensor against `cfg`.
    pub fn load(map: HashMap<String, Tensor>, cfg: &BertConfig) -> Result<Self> {
        let w = Weights::new(map)?;
        let h = cfg.hidden_size;
        let heads = cfg.num_attention_heads;
        let head_dim = h / heads;
        let eps = cfg.layer_norm_eps;
        let word = w.get("embeddings.word_embeddings.weight", &[cfg.vocab_size, h])?;
        let position = w.get(
            "embeddings.position_embeddings.weight",
            &[cfg.max_position_embeddings, h],
        )?;
        let token_type = w.get(
            "embeddings.token_type_embeddings.weight",
            &[cfg.type_vocab_size, h],
        )?;
        let token_type0 = token_type.narrow(0, 0, 1)?;
        let emb_norm = w.norm("embeddings.LayerNorm", h, eps)?;
        let scale = 1.0 / (head_dim as f64).sqrt();
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for i in 0..cfg.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            let q = w.dense(&format!("{p}.attention.self.query"), h, h)?;
            let k = w.dense(&format!("{p}.attention.self.key"), h, h)?;
            let v = w.dense(&format!("{p}.attention.self.value"), h, h)?;
            // Fold the attention scale into the query projection: (xW+b)/s = x(W/s) + b/s.
            let qkv = Dense {
                w: Tensor::cat(&[(q.w * scale)?, k.w, v.w], 1)?.contiguous()?,
                b: Tensor::cat(&[(q.b * scale)?, k.b, v.b], 0)?,
            };
            let (attn_out, attn_params) = w.dense_norm(
                &format!("{p}.attention.output.dense"),
                &format!("{p}.attention.output.LayerNorm"),
                h,
                h,
            )?;
            let (down, out_params) = w.dense_norm(
                &format!("{p}.output.dense"),
                &format!("{p}.output.LayerNorm"),
                cfg.intermediate_size,
                h,
            )?;
            layers.push(Layer {
                qkv,
                attn_out,
                attn_params,
                up: w.dense(&format!("{p}.intermediate.dense"), h, cfg.intermediate_size)?,
                down,
                out_params,
                eps: eps as f32,
            });
        }
        Ok(Self {
            word,
            position,
            token_type0,
            emb_norm,
            layers,
            heads,
            head_dim,
            hidden: h,
            activation: cfg.activation,
        })
    }

    /// The width of the hidden states.
    pub fn hidden_size(&self) -> usize {
        self.hidden
    }

    /// Runs the encoder: `ids` `(batch, seq)` u32 and `mask` `(batch, seq)` f32 of 0/1 give the last
    /// hidden states `(batch, seq, hidden)`. Token types are all 0 (single-sentence input).
    pub fn forward(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (b, s) = ids.dims2()?;
        let h = self.hidden;
        let x = self.word.index_select(&ids.flatten_all()?, 0)?;
        let pos = self
            .position
            .narrow(0, 0, s)?
            .broadcast_add(&self.token_type0)?;
        let x = x.reshape((b, s, h))?.broadcast_add(&pos)?;
        let mut x = self.emb_norm.forward(&x)?.reshape((b * s, h))?;
        for layer in &self.layers {
            x = self.layer(layer, &x, mask, b, s)?;
        }
        Ok(x.reshape((b, s, h))?)
    }

    fn layer(&self, l: &Layer, x: &Tensor, mask: &Tensor, b: usize, s: usize) -> Result<Tensor> {
        let (nh, hd, h) = (self.heads, self.head_dim, self.hidden);
        // One copy lays q, k and v out as (3, b, heads, s, head_dim).
        let qkv = l
            .qkv
            .forward(x)?
            .reshape((b, s, 3, nh, hd))?
            .permute((2, 0, 3, 1, 4))?
            .contiguous()?;
        let group = |i: usize| -> Result<Tensor> { Ok(qkv.get(i)?.reshape((b * nh, s, hd))?) };
        let (q, k, v) = (group(0)?, group(1)?, group(2)?);
        let scores = scores(&q, &k)?.reshape((b, nh, s, s))?;
        let probs = kernels::masked_softmax(&scores, mask)?.reshape((b * nh, s, s))?;
        let ctx = context(&probs, &v)?
            .reshape((b, nh, s, hd))?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((b * s, h))?;
        let a = kernels::add_norm(&matmul(&ctx, &l.attn_out)?, x, &l.attn_params, l.eps)?;
        let up = match self.activation {
            Activation::Gelu => kernels::bias_gelu(&matmul(&a, &l.up.w)?, &l.up.b)?,
            Activation::GeluTanh => l.up.forward(&a)?.gelu()?,
            Activation::Relu => l.up.forward(&a)?.relu()?,
        };
        kernels::add_norm(&matmul(&up, &l.down)?, &a, &l.out_params, l.eps)
    }
}

/// Pools hidden states `(batch, seq, hidden)` into `(batch, hidden)` by the mean over kept tokens,
/// exactly as sentence-transformers' `Pooling` (sum of masked vectors / max(kept count, 1e-9)).
pub(crate) fn mean_pool(hidden: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let m = mask.unsqueeze(2)?;
    let sum = hidden.broadcast_mul(&m)?.sum(1)?;
    let count = m.sum(1)?.clamp(1e-9, f64::MAX)?;
    Ok(sum.broadcast_div(&count)?)
}

/// The first token's vector of every row, `(batch, hidden)`.
pub(crate) fn cls_pool(hidden: &Tensor) -> Result<Tensor> {
    Ok(hidden.narrow(1, 0, 1)?.squeeze(1)?)
}

/// Divides every row by its L2 norm, clamped below at 1e-12 as `torch.nn.functional.normalize`.
pub(crate) fn l2_normalize(x: &Tensor) -> Result<Tensor> {
    let norm = x
        .sqr()?
        .sum_keepdim(D::Minus1)?
        .sqrt()?
        .clamp(1e-12, f64::MAX)?;
    Ok(x.broadcast_div(&norm)?)
}

/// The device every tensor of this crate lives on (CPU; GPUs are not wired yet).
pub(crate) fn device() -> Device {
    Device::Cpu
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_pool_ignores_masked_tokens() {
        let dev = device();
        // batch 1, seq 3, hidden 2; the third token is padding with a huge value.
        let h = Tensor::new(&[[[1f32, 2.], [3., 4.], [1000., 1000.]]], &dev).expect("t");
        let m = Tensor::new(&[[1f32, 1., 0.]], &dev).expect("m");
        let p = mean_pool(&h, &m)
            .expect("pool")
            .to_vec2::<f32>()
            .expect("v");
        assert_eq!(p, vec![vec![2.0, 3.0]]);
        let c = cls_pool(&h).expect("cls").to_vec2::<f32>().expect("v");
        assert_eq!(c, vec![vec![1.0, 2.0]]);
    }

    #[test]
    fn l2_normalize_gives_unit_rows_and_keeps_zero_rows_finite() {
        let dev = device();
        let x = Tensor::new(&[[3f32, 4.], [0., 0.]], &dev).expect("t");
        let n = l2_normalize(&x).expect("n").to_vec2::<f32>().expect("v");
        assert!((n[0][0] - 0.6).abs() < 1e-6 && (n[0][1] - 0.8).abs() < 1e-6);
        assert_eq!(n[1], vec![0.0, 0.0]);
    }
}
