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

/// A layer's weight matrix in the form its products take.
enum Weight {
    /// fp32, stored `(in, out)` so `x·w` needs no transposed view.
    F32(Tensor),
    /// int8, weight-only ("W8A32"): see [`Int8Weight`].
    Int8(Int8Weight),
}

/// A weight matrix `(in, out)` kept as 8-bit integers with one fp32 scale per output column
/// (symmetric: `w ≈ q · scale`, `scale = max|w[:, j]| / 127`), a quarter of the fp32 memory.
///
/// Why weight-only: products run in fp32 on the dequantized matrix, which costs `in × out`
/// multiplications per product against `rows × in × out` for the product itself (under 0.2% for
/// a 640-token batch), so speed stays that of the fp32 sgemm. Integer arithmetic does not pay on
/// this project's AVX2 machines: AVX2's 8/16-bit multiply-add (`vpmaddwd`) does as many
/// multiply-adds per cycle as fp32 FMA, and candle's int8×int8 `Q8_0` product, tried first, ran at
/// 10 sentences/s against fp32's 61 (docs/LM.md#int8).
#[derive(Clone)]
struct Int8Weight {
    q: Vec<i8>,
    scale: Vec<f32>,
    d_in: usize,
    d_out: usize,
}

impl Int8Weight {
    /// Quantizes an fp32 `(in, out)` matrix column by column.
    fn quantize(w: &Tensor) -> Result<Self> {
        let (d_in, d_out) = w.dims2()?;
        let v = w.flatten_all()?.to_vec1::<f32>()?;
        let mut scale = vec![0f32; d_out];
        for row in v.chunks_exact(d_out) {
            for (s, &x) in scale.iter_mut().zip(row) {
                *s = s.max(x.abs());
            }
        }
        for s in &mut scale {
            *s = if *s > 0.0 { *s / 127.0 } else { 1.0 };
        }
        let q = v
            .chunks_exact(d_out)
            .flat_map(|row| {
                row.iter()
                    .zip(&scale)
                    .map(|(&x, &s)| (x / s).round().clamp(-127.0, 127.0) as i8)
            })
            .collect();
        Ok(Self {
            q,
            scale,
            d_in,
            d_out,
        })
    }

    /// The fp32 matrix `q · scale` the products use.
    fn dequantize(&self) -> Result<Tensor> {
        let w: Vec<f32> = self
            .q
            .chunks_exact(self.d_out)
            .flat_map(|row| row.iter().zip(&self.scale).map(|(&q, &s)| f32::from(q) * s))
            .collect();
        Ok(Tensor::from_vec(w, (self.d_in, self.d_out), &device())?)
    }
}

impl Weight {
    /// `x (m, in) · w` → `(m, out)`.
    fn apply(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Weight::F32(w) => matmul(x, w),
            Weight::Int8(q) => matmul(x, &q.dequantize()?),
        }
    }

    /// The int8 form of this weight.
    fn to_int8(&self) -> Result<Weight> {
        Ok(Weight::Int8(match self {
            Weight::F32(w) => Int8Weight::quantize(w)?,
            Weight::Int8(q) => q.clone(),
        }))
    }
}

/// A dense layer: weight and bias.
struct Dense {
    w: Weight,
    b: Tensor,
}

impl Dense {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.w.apply(x)?.broadcast_add(&self.b)?)
    }
}

/// `x (m, k) · w (k, n)`: OpenBLAS's sgemm with the `openblas` feature, candle's gemm without.
/// Differentiable either way, so fine-tuning uses the same products.
pub(crate) fn matmul(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    #[cfg(feature = "openblas")]
    return crate::blas::matmul(x, w);
    #[cfg(not(feature = "openblas"))]
    Ok(x.matmul(w)?)
}

/// Attention's `q·kᵀ` over `(groups, s, d)` operands.
pub(crate) fn scores(q: &Tensor, k: &Tensor) -> Result<Tensor> {
    #[cfg(feature = "openblas")]
    return crate::blas::batched_matmul_bt(q, k);
    #[cfg(not(feature = "openblas"))]
    Ok(q.matmul(&k.t()?)?)
}

/// Attention's `p·v` over `(groups, s, s)` and `(groups, s, d)` operands.
pub(crate) fn context(p: &Tensor, v: &Tensor) -> Result<Tensor> {
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
    attn_out: Weight,
    /// `[bias of attn_out; layer-norm gamma; layer-norm beta]`, `(3, h)`, for [`kernels::add_norm`].
    attn_params: Tensor,
    up: Dense,
    /// Feed-forward down projection `(intermediate, h)`, its bias living in `out_params`.
    down: Weight,
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

    /// A linear layer stored by PyTorch as `(out, in)`, returned as weight `(in, out)` and bias.
    fn linear(&self, name: &str, d_in: usize, d_out: usize) -> Result<(Tensor, Tensor)> {
        let w = self.get(&format!("{name}.weight"), &[d_out, d_in])?;
        let b = self.get(&format!("{name}.bias"), &[d_out])?;
        Ok((w.t()?.contiguous()?, b))
    }

    fn dense(&self, name: &str, d_in: usize, d_out: usize) -> Result<Dense> {
        let (w, b) = self.linear(name, d_in, d_out)?;
        Ok(Dense {
            w: Weight::F32(w),
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
    ) -> Result<(Weight, Tensor)> {
        let (w, b) = self.linear(dense, d_in, d_out)?;
        let gamma = self.get(&format!("{norm}.weight"), &[d_out])?;
        let beta = self.get(&format!("{norm}.bias"), &[d_out])?;
        Ok((Weight::F32(w), Tensor::stack(&[b, gamma, beta], 0)?))
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
            let (qw, qb) = w.linear(&format!("{p}.attention.self.query"), h, h)?;
            let (kw, kb) = w.linear(&format!("{p}.attention.self.key"), h, h)?;
            let (vw, vb) = w.linear(&format!("{p}.attention.self.value"), h, h)?;
            // Fold the attention scale into the query projection: (xW+b)/s = x(W/s) + b/s.
            let qkv = Dense {
                w: Weight::F32(Tensor::cat(&[(qw * scale)?, kw, vw], 1)?.contiguous()?),
                b: Tensor::cat(&[(qb * scale)?, kb, vb], 0)?,
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

    /// Replaces every dense layer's weight (q/k/v, attention output, feed-forward up and down) by
    /// its int8 form ([`Int8Weight`]); embeddings, layer norms, biases and attention's own products
    /// stay fp32, as in PyTorch's dynamic quantization of `nn.Linear`.
    pub fn quantize_int8(&mut self) -> Result<()> {
        for l in &mut self.layers {
            l.qkv.w = l.qkv.w.to_int8()?;
            l.attn_out = l.attn_out.to_int8()?;
            l.up.w = l.up.w.to_int8()?;
            l.down = l.down.to_int8()?;
        }
        Ok(())
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
        let a = kernels::add_norm(&l.attn_out.apply(&ctx)?, x, &l.attn_params, l.eps)?;
        let up = match self.activation {
            Activation::Gelu => kernels::bias_gelu(&l.up.w.apply(&a)?, &l.up.b)?,
            Activation::GeluTanh => l.up.forward(&a)?.gelu()?,
            Activation::Relu => l.up.forward(&a)?.relu()?,
        };
        kernels::add_norm(&l.down.apply(&up)?, &a, &l.out_params, l.eps)
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
