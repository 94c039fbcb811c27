//! Fine-tuning a BERT-family encoder with a classification layer: every weight (**full**), or only
//! low-rank adapters on the attention query and value projections (**LoRA**, Hu et al. 2021, §4.2:
//! `W x + (α/r)·B A x` with `A` random, `B` zero, so training starts from the pretrained model).
//!
//! The inference encoder ([`crate::Encoder`]) fuses Q/K/V, folds the attention scale into the
//! weights and runs custom kernels without gradients, so training uses its own forward pass here,
//! written with differentiable candle operations only (layer norm, softmax and GELU spelled out) and
//! following Hugging Face `modeling_bert.py` like the encoder. Sentences are mean-pooled over the
//! attention mask and fed to a linear layer; the loss is cross-entropy. Dropout is off (candle's CPU
//! random numbers cannot be seeded), so a run is fully determined by its seed.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use serde::{Deserialize, Serialize};
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::config::{Activation, BertConfig};
use crate::error::{LmError, Result};
use crate::head::{argmax, EpochLog, SplitMix64};
use crate::sentiment::Example;

/// Which weights train.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum FineTuneMode {
    /// Every encoder weight plus the classifier.
    Full,
    /// Rank-`rank` adapters on every layer's query and value projections, scaled by `alpha / rank`,
    /// plus the classifier; the pretrained weights stay frozen.
    Lora {
        /// Adapter rank `r`.
        rank: usize,
        /// Scale numerator `α`.
        alpha: f64,
    },
}

/// Hyper-parameters of [`fine_tune`](FineTuneParams::fit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FineTuneParams {
    /// Full or LoRA.
    pub mode: FineTuneMode,
    /// AdamW step size.
    pub learning_rate: f64,
    /// AdamW decoupled weight decay.
    pub weight_decay: f64,
    /// Sentences per step.
    pub batch_size: usize,
    /// Passes over the training set at most.
    pub max_epochs: usize,
    /// Stop after this many optimiser steps in total, if set (CPU budgets).
    pub max_steps: Option<usize>,
    /// Evaluate on the validation split every this many steps (and at the end), keeping the best.
    pub eval_every: usize,
    /// Truncate sentences at this many tokens.
    pub max_length: usize,
    /// Seed of initialisation and shuffling (SplitMix64).
    pub seed: u64,
}

impl Default for FineTuneParams {
    fn default() -> Self {
        Self {
            mode: FineTuneMode::Lora {
                rank: 8,
                alpha: 16.0,
            },
            learning_rate: 5e-4,
            weight_decay: 0.01,
            batch_size: 32,
            max_epochs: 1,
            max_steps: None,
            eval_every: 100,
            max_length: 128,
            seed: 42,
        }
    }
}

/// A projection `x W + b (+ (α/r) x Aᵀ Bᵀ)`, weights stored `(in, out)`.
struct Proj {
    w: Tensor,
    b: Tensor,
    lora: Option<(Tensor, Tensor, f64)>,
}

impl Proj {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut y = crate::bert::matmul(x, &self.w)?.broadcast_add(&self.b)?;
        if let Some((a, b, scale)) = &self.lora {
            y = (y + (crate::bert::matmul(&crate::bert::matmul(x, a)?, b)? * *scale)?)?;
        }
        Ok(y)
    }
}

/// Attention's `q·kᵀ` over `(batch, heads, s, d)` operands.
fn attention_scores(q: &Tensor, k: &Tensor) -> Result<Tensor> {
    let (b, nh, s, d) = q.dims4()?;
    let sk = k.dim(2)?;
    let q = q.reshape((b * nh, s, d))?;
    let k = k.reshape((b * nh, sk, d))?;
    Ok(crate::bert::scores(&q, &k)?.reshape((b, nh, s, sk))?)
}

/// Attention's `p·v` over `(batch, heads, s, s)` and `(batch, heads, s, d)` operands.
fn attention_context(p: &Tensor, v: &Tensor) -> Result<Tensor> {
    let (b, nh, s, sk) = p.dims4()?;
    let d = v.dim(3)?;
    let p = p.reshape((b * nh, s, sk))?;
    let v = v.reshape((b * nh, sk, d))?;
    Ok(crate::bert::context(&p, &v)?.reshape((b, nh, s, d))?)
}

struct Norm {
    g: Tensor,
    b: Tensor,
    eps: f64,
}

impl Norm {
    /// Layer norm from differentiable primitives (Ba et al. 2016).
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mean = x.mean_keepdim(D::Minus1)?;
        let xc = x.broadcast_sub(&mean)?;
        let var = xc.sqr()?.mean_keepdim(D::Minus1)?;
        let xn = xc.broadcast_div(&(var + self.eps)?.sqrt()?)?;
        Ok(xn.broadcast_mul(&self.g)?.broadcast_add(&self.b)?)
    }
}

struct Layer {
    q: Proj,
    k: Proj,
    v: Proj,
    o: Proj,
    n1: Norm,
    up: Proj,
    down: Proj,
    n2: Norm,
}

/// The trainable model: BERT + mean pooling + linear classifier.
struct Model {
    word: Tensor,
    pos: Tensor,
    tok0: Tensor,
    emb_norm: Norm,
    layers: Vec<Layer>,
    cls: Proj,
    heads: usize,
    activation: Activation,
}

/// Named tensors: every weight of the model and whether it trains.
struct Params {
    named: Vec<(String, Tensor)>,
    vars: Vec<Var>,
}

impl Params {
    fn take(&mut self, name: String, t: Tensor, train: bool) -> Result<Tensor> {
        let t = if train {
            let v = Var::from_tensor(&t)?;
            let t = v.as_tensor().clone();
            self.vars.push(v);
            self.named.push((name, t.clone()));
            t
        } else {
            t
        };
        Ok(t)
    }
}

fn uniform(rng: &mut SplitMix64, shape: (usize, usize), bound: f64) -> Result<Tensor> {
    let v: Vec<f32> = (0..shape.0 * shape.1)
        .map(|_| ((rng.next_f64() * 2.0 - 1.0) * bound) as f32)
        .collect();
    Ok(Tensor::from_vec(v, shape, &Device::Cpu)?)
}

fn load_model(
    map: &HashMap<String, Tensor>,
    cfg: &BertConfig,
    mode: FineTuneMode,
    n_classes: usize,
    rng: &mut SplitMix64,
) -> Result<(Model, Params)> {
    const ANCHOR: &str = "embeddings.word_embeddings.weight";
    let prefix = map
        .keys()
        .filter(|k| k.ends_with(ANCHOR))
        .min_by_key(|k| k.len())
        .map(|k| k[..k.len() - ANCHOR.len()].to_string())
        .ok_or_else(|| LmError::MissingTensor {
            name: ANCHOR.into(),
            prefix: "any".into(),
        })?;
    let full = mode == FineTuneMode::Full;
    let mut p = Params {
        named: Vec::new(),
        vars: Vec::new(),
    };
    let get = |name: &str, shape: &[usize]| -> Result<Tensor> {
        let key = format!("{prefix}{name}");
        let t = map
            .get(&key)
            .or_else(|| {
                let old = key
                    .strip_suffix("LayerNorm.weight")
                    .map(|s| format!("{s}LayerNorm.gamma"))
                    .or_else(|| {
                        key.strip_suffix("LayerNorm.bias")
                            .map(|s| format!("{s}LayerNorm.beta"))
                    })?;
                map.get(&old)
            })
            .ok_or_else(|| LmError::MissingTensor {
                name: name.into(),
                prefix: prefix.clone(),
            })?;
        if t.dims() != shape {
            return Err(LmError::ShapeMismatch {
                name: key,
                expected: shape.to_vec(),
                found: t.dims().to_vec(),
            });
        }
        Ok(t.to_dtype(DType::F32)?)
    };
    let h = cfg.hidden_size;
    let mut proj =
        |p: &mut Params, name: &str, d_in: usize, d_out: usize, lora: bool| -> Result<Proj> {
            let w = get(&format!("{name}.weight"), &[d_out, d_in])?
                .t()?
                .contiguous()?;
            let b = get(&format!("{name}.bias"), &[d_out])?;
            let w = p.take(format!("{name}.weight"), w, full)?;
            let b = p.take(format!("{name}.bias"), b, full)?;
            let lora = match (mode, lora) {
                (FineTuneMode::Lora { rank, alpha }, true) => {
                    // A as PyTorch's kaiming_uniform(a=√5) on (r, in): bound 1/√in; B = 0.
                    let a = uniform(rng, (d_in, rank), 1.0 / (d_in as f64).sqrt())?;
                    let bz = Tensor::zeros((rank, d_out), DType::F32, &Device::Cpu)?;
                    let a = p.take(format!("{name}.lora_a"), a, true)?;
                    let bz = p.take(format!("{name}.lora_b"), bz, true)?;
                    Some((a, bz, alpha / rank as f64))
                }
                _ => None,
            };
            Ok(Proj { w, b, lora })
        };
    let norm = |p: &mut Params, name: &str| -> Result<Norm> {
        Ok(Norm {
            g: p.take(
                format!("{name}.weight"),
                get(&format!("{name}.weight"), &[h])?,
                full,
            )?,
            b: p.take(
                format!("{name}.bias"),
                get(&format!("{name}.bias"), &[h])?,
                full,
            )?,
            eps: cfg.layer_norm_eps,
        })
    };
    let word = p.take(
        "embeddings.word_embeddings.weight".into(),
        get("embeddings.word_embeddings.weight", &[cfg.vocab_size, h])?,
        full,
    )?;
    let pos = p.take(
        "embeddings.position_embeddings.weight".into(),
        get(
            "embeddings.position_embeddings.weight",
            &[cfg.max_position_embeddings, h],
        )?,
        full,
    )?;
    let tok = p.take(
        "embeddings.token_type_embeddings.weight".into(),
        get(
            "embeddings.token_type_embeddings.weight",
            &[cfg.type_vocab_size, h],
        )?,
        full,
    )?;
    let emb_norm = norm(&mut p, "embeddings.LayerNorm")?;
    let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
    for i in 0..cfg.num_hidden_layers {
        let l = format!("encoder.layer.{i}");
        layers.push(Layer {
            q: proj(&mut p, &format!("{l}.attention.self.query"), h, h, true)?,
            k: proj(&mut p, &format!("{l}.attention.self.key"), h, h, false)?,
            v: proj(&mut p, &format!("{l}.attention.self.value"), h, h, true)?,
            o: proj(&mut p, &format!("{l}.attention.output.dense"), h, h, false)?,
            n1: norm(&mut p, &format!("{l}.attention.output.LayerNorm"))?,
            up: proj(
                &mut p,
                &format!("{l}.intermediate.dense"),
                h,
                cfg.intermediate_size,
                false,
            )?,
            down: proj(
                &mut p,
                &format!("{l}.output.dense"),
                cfg.intermediate_size,
                h,
                false,
            )?,
            n2: norm(&mut p, &format!("{l}.output.LayerNorm"))?,
        });
    }
    let bound = 1.0 / (h as f64).sqrt();
    let cw = p.take(
        "classifier.weight".into(),
        uniform(rng, (h, n_classes), bound)?,
        true,
    )?;
    let cb = p.take(
        "classifier.bias".into(),
        uniform(rng, (1, n_classes), bound)?.squeeze(0)?,
        true,
    )?;
    let model = Model {
        word,
        tok0: tok.narrow(0, 0, 1)?,
        pos,
        emb_norm,
        layers,
        cls: Proj {
            w: cw,
            b: cb,
            lora: None,
        },
        heads: cfg.num_attention_heads,
        activation: cfg.activation,
    };
    Ok((model, p))
}

impl Model {
    /// Logits `(batch, classes)` of token ids `(batch, seq)` with 0/1 mask `(batch, seq)`.
    fn forward(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (b, s) = ids.dims2()?;
        let h = self.word.dim(1)?;
        let nh = self.heads;
        let hd = h / nh;
        let x = self
            .word
            .index_select(&ids.flatten_all()?, 0)?
            .reshape((b, s, h))?;
        let x = x.broadcast_add(&self.pos.narrow(0, 0, s)?.broadcast_add(&self.tok0)?)?;
        let mut x = self.emb_norm.forward(&x)?.reshape((b * s, h))?;
        // Additive mask: 0 where kept, −10⁴ on padding, as in BERT's original implementation.
        let bias = (mask.affine(1.0, -1.0)? * 1e4)?.reshape((b, 1, 1, s))?;
        let scale = 1.0 / (hd as f64).sqrt();
        for l in &self.layers {
            let split = |t: Tensor| -> Result<Tensor> {
                Ok(t.reshape((b, s, nh, hd))?.transpose(1, 2)?.contiguous()?)
            };
            let q = split((l.q.forward(&x)? * scale)?)?;
            let k = split(l.k.forward(&x)?)?;
            let v = split(l.v.forward(&x)?)?;
            let scores = attention_scores(&q, &k)?.broadcast_add(&bias)?;
            let probs = candle_nn::ops::softmax(&scores, D::Minus1)?;
            let ctx = attention_context(&probs, &v)?
                .transpose(1, 2)?
                .contiguous()?
                .reshape((b * s, h))?;
            let a = l.n1.forward(&(l.o.forward(&ctx)? + &x)?)?;
            let up = l.up.forward(&a)?;
            let up = match self.activation {
                Activation::Gelu => up.gelu_erf()?,
                Activation::GeluTanh => up.gelu()?,
                Activation::Relu => up.relu()?,
            };
            x = l.n2.forward(&(l.down.forward(&up)? + a)?)?;
        }
        let hidden = x.reshape((b, s, h))?;
        let m = mask.unsqueeze(2)?;
        let pooled = hidden
            .broadcast_mul(&m)?
            .sum(1)?
            .broadcast_div(&m.sum(1)?.clamp(1e-9, f64::MAX)?)?;
        self.cls.forward(&pooled)
    }
}

/// A fine-tuned encoder with its classifier.
pub struct FineTuned {
    model: Model,
    tokenizer: Tokenizer,
    labels: Vec<String>,
    params: FineTuneParams,
    trainable: Vec<(String, Tensor)>,
    /// Per-evaluation losses (`epoch` holds the step number).
    pub history: Vec<EpochLog>,
    /// Optimiser steps taken.
    pub steps: usize,
    /// Trainable parameters, in numbers.
    pub trainable_params: usize,
}

impl std::fmt::Debug for FineTuned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FineTuned")
            .field("labels", &self.labels)
            .field("params", &self.params)
            .field("steps", &self.steps)
            .field("trainable_params", &self.trainable_params)
            .finish()
    }
}

fn tokenizer(dir: &Path, max_length: usize) -> Result<Tokenizer> {
    let path = dir.join("tokenizer.json");
    let bad = |e: tokenizers::Error| LmError::BadTokenizer {
        path: path.clone(),
        reason: e.to_string(),
    };
    let mut t = Tokenizer::from_file(&path).map_err(bad)?;
    t.with_truncation(Some(TruncationParams {
        max_length,
        strategy: TruncationStrategy::LongestFirst,
        stride: 0,
        direction: TruncationDirection::Right,
    }))
    .map_err(bad)?;
    t.with_padding(None);
    Ok(t)
}

fn encode(tok: &Tokenizer, texts: &[&str], vocab: usize) -> Result<Vec<Vec<u32>>> {
    let enc = tok
        .encode_batch(texts.to_vec(), true)
        .map_err(|e| LmError::Tokenize(e.to_string()))?;
    let ids: Vec<Vec<u32>> = enc.iter().map(|e| e.get_ids().to_vec()).collect();
    if ids.iter().flatten().any(|&i| i as usize >= vocab) {
        return Err(LmError::Unsupported {
            what: "tokenizer ids exceed the model's vocabulary".into(),
        });
    }
    Ok(ids)
}

fn batch(ids: &[Vec<u32>], idx: &[usize]) -> Result<(Tensor, Tensor)> {
    let s = idx.iter().map(|&i| ids[i].len()).max().unwrap_or(1).max(1);
    let mut flat = vec![0u32; idx.len() * s];
    let mut mask = vec![0f32; idx.len() * s];
    for (r, &i) in idx.iter().enumerate() {
        flat[r * s..r * s + ids[i].len()].copy_from_slice(&ids[i]);
        mask[r * s..r * s + ids[i].len()].fill(1.0);
    }
    Ok((
        Tensor::from_vec(flat, (idx.len(), s), &Device::Cpu)?,
        Tensor::from_vec(mask, (idx.len(), s), &Device::Cpu)?,
    ))
}

fn read_model(dir: &Path) -> Result<(BertConfig, HashMap<String, Tensor>)> {
    let cfg_path = dir.join("config.json");
    let text = std::fs::read_to_string(&cfg_path).map_err(|source| LmError::Io {
        path: cfg_path.clone(),
        source,
    })?;
    let cfg = BertConfig::from_json(&text, &cfg_path)?;
    let w = dir.join("model.safetensors");
    let map =
        candle_core::safetensors::load(&w, &Device::Cpu).map_err(|e| LmError::BadWeights {
            path: w.clone(),
            reason: e.to_string(),
        })?;
    Ok((cfg, map))
}

impl FineTuneParams {
    /// Fine-tunes the model in `model_dir` on `train`, keeping the weights with the lowest loss on
    /// `valid` (evaluated every `eval_every` steps and at the end). Labels index `labels`.
    pub fn fit(
        &self,
        model_dir: &Path,
        train: &[Example],
        valid: &[Example],
        labels: &[String],
    ) -> Result<FineTuned> {
        let k = labels.len();
        if k < 2
            || train.is_empty()
            || self.batch_size == 0
            || self.max_length < 2
            || self.eval_every == 0
        {
            return Err(LmError::InvalidData(format!(
                "fine-tuning needs ≥ 2 classes ({k}), training examples ({}), batch_size ≥ 1, max_length ≥ 2 and eval_every ≥ 1",
                train.len()
            )));
        }
        if let Some(e) = train.iter().chain(valid).find(|e| e.label >= k) {
            return Err(LmError::InvalidData(format!(
                "label {} but only {k} classes",
                e.label
            )));
        }
        if let FineTuneMode::Lora { rank, alpha } = self.mode {
            if rank == 0 || !alpha.is_finite() {
                return Err(LmError::InvalidData(
                    "LoRA needs rank ≥ 1 and a finite alpha".into(),
                ));
            }
        }
        let (cfg, map) = read_model(model_dir)?;
        let tok = tokenizer(model_dir, self.max_length.min(cfg.max_position_embeddings))?;
        let mut rng = SplitMix64::new(self.seed);
        let (model, params) = load_model(&map, &cfg, self.mode, k, &mut rng)?;
        drop(map);
        let trainable_params = params.vars.iter().map(|v| v.elem_count()).sum();
        let texts: Vec<&str> = train.iter().map(|e| e.text.as_str()).collect();
        let ids = encode(&tok, &texts, cfg.vocab_size)?;
        let vtexts: Vec<&str> = valid.iter().map(|e| e.text.as_str()).collect();
        let vids = encode(&tok, &vtexts, cfg.vocab_size)?;
        let y: Vec<u32> = train.iter().map(|e| e.label as u32).collect();
        let vy: Vec<u32> = valid.iter().map(|e| e.label as u32).collect();
        let mut opt = AdamW::new(
            params.vars.clone(),
            ParamsAdamW {
                lr: self.learning_rate,
                weight_decay: self.weight_decay,
                ..ParamsAdamW::default()
            },
        )?;
        let snapshot =
            || -> Result<Vec<Tensor>> { params.named.iter().map(|(_, t)| Ok(t.copy()?)).collect() };
        let valid_loss = |model: &Model| -> Result<Option<f64>> {
            if vids.is_empty() {
                return Ok(None);
            }
            let mut order: Vec<usize> = (0..vids.len()).collect();
            order.sort_by_key(|&i| vids[i].len());
            let mut total = 0.0;
            for chunk in order.chunks(64) {
                let (ids_t, mask) = batch(&vids, chunk)?;
                let logits = model.forward(&ids_t, &mask)?;
                let yt = Tensor::from_vec(
                    chunk.iter().map(|&i| vy[i]).collect::<Vec<_>>(),
                    chunk.len(),
                    &Device::Cpu,
                )?;
                let l = candle_nn::loss::cross_entropy(&logits, &yt)?.to_scalar::<f32>()? as f64;
                total += l * chunk.len() as f64;
            }
            Ok(Some(total / vids.len() as f64))
        };
        let mut history = Vec::new();
        let mut best: Option<(f64, Vec<Tensor>)> = None;
        let mut steps = 0usize;
        let mut window = (0.0, 0usize);
        let mut order: Vec<usize> = (0..ids.len()).collect();
        'epochs: for _ in 0..self.max_epochs.max(1) {
            rng.shuffle(&mut order);
            for chunk in order.chunks(self.batch_size) {
                let (ids_t, mask) = batch(&ids, chunk)?;
                let yt = Tensor::from_vec(
                    chunk.iter().map(|&i| y[i]).collect::<Vec<_>>(),
                    chunk.len(),
                    &Device::Cpu,
                )?;
                let l = candle_nn::loss::cross_entropy(&model.forward(&ids_t, &mask)?, &yt)?;
                opt.backward_step(&l)?;
                let lv = l.to_scalar::<f32>()? as f64;
                if !lv.is_finite() {
                    return Err(LmError::InvalidData(format!(
                        "fine-tuning diverged at step {steps} (loss {lv}): lower learning_rate"
                    )));
                }
                window = (window.0 + lv, window.1 + 1);
                steps += 1;
                let last = self.max_steps.is_some_and(|m| steps >= m);
                if steps.is_multiple_of(self.eval_every) || last {
                    let v = valid_loss(&model)?;
                    history.push(EpochLog {
                        epoch: steps,
                        train_loss: window.0 / window.1.max(1) as f64,
                        valid_loss: v,
                    });
                    window = (0.0, 0);
                    if let Some(v) = v {
                        if best.as_ref().is_none_or(|(b, _)| v < *b) {
                            best = Some((v, snapshot()?));
                        }
                    }
                }
                if last {
                    break 'epochs;
                }
            }
        }
        if window.1 > 0 {
            let v = valid_loss(&model)?;
            history.push(EpochLog {
                epoch: steps,
                train_loss: window.0 / window.1 as f64,
                valid_loss: v,
            });
            if let Some(v) = v {
                if best.as_ref().is_none_or(|(b, _)| v < *b) {
                    best = Some((v, snapshot()?));
                }
            }
        }
        if let Some((_, kept)) = best {
            for ((_, live), saved) in params.named.iter().zip(kept) {
                live_set(live, &saved)?;
            }
        }
        Ok(FineTuned {
            model,
            tokenizer: tok,
            labels: labels.to_vec(),
            params: self.clone(),
            trainable: params.named,
            history,
            steps,
            trainable_params,
        })
    }
}

/// Copies `src` into the storage of `dst`, a Var's tensor: `Var::from_tensor` on a variable tensor
/// shares its storage, so the write lands in the live model.
fn live_set(dst: &Tensor, src: &Tensor) -> Result<()> {
    Ok(Var::from_tensor(dst)?.set(src)?)
}

/// The card saved beside a fine-tuned model's trainable tensors.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct FineTuneCard {
    format: String,
    labels: Vec<String>,
    params: FineTuneParams,
    steps: usize,
    trainable_params: usize,
    history: Vec<EpochLog>,
}

const FT_FORMAT: &str = "tenure-finetune/1";

impl FineTuned {
    /// Class names in class-index order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Class probabilities of each text (rows sum to 1).
    pub fn predict_proba(&self, texts: &[&str]) -> Result<Vec<Vec<f64>>> {
        let vocab = self.model.word.dim(0)?;
        let ids = encode(&self.tokenizer, texts, vocab)?;
        let mut out = vec![Vec::new(); texts.len()];
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| ids[i].len());
        for chunk in order.chunks(64) {
            let (ids_t, mask) = batch(&ids, chunk)?;
            let p = candle_nn::ops::softmax(&self.model.forward(&ids_t, &mask)?, D::Minus1)?
                .to_vec2::<f32>()?;
            for (&i, row) in chunk.iter().zip(p) {
                out[i] = row.into_iter().map(f64::from).collect();
            }
        }
        Ok(out)
    }

    /// The most probable class of each text.
    pub fn predict(&self, texts: &[&str]) -> Result<Vec<usize>> {
        Ok(self
            .predict_proba(texts)?
            .iter()
            .map(|p| argmax(p))
            .collect())
    }

    /// Writes the trainable tensors (adapters and classifier, or every weight for full
    /// fine-tuning) to `dir/adapter.safetensors` and the card to `dir/adapter.json`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|source| LmError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let map: HashMap<String, Tensor> = self.trainable.iter().cloned().collect();
        let w = dir.join("adapter.safetensors");
        candle_core::safetensors::save(&map, &w).map_err(|e| LmError::BadHead {
            path: w.clone(),
            reason: e.to_string(),
        })?;
        let card = FineTuneCard {
            format: FT_FORMAT.into(),
            labels: self.labels.clone(),
            params: self.params.clone(),
            steps: self.steps,
            trainable_params: self.trainable_params,
            history: self.history.clone(),
        };
        let path = dir.join("adapter.json");
        let text = serde_json::to_string_pretty(&card).map_err(|e| LmError::BadHead {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        std::fs::write(&path, text).map_err(|source| LmError::Io { path, source })
    }

    /// Loads what [`FineTuned::save`] wrote in `dir` on top of the base model in `model_dir`.
    pub fn load(model_dir: &Path, dir: &Path) -> Result<Self> {
        let path = dir.join("adapter.json");
        let text = std::fs::read_to_string(&path).map_err(|source| LmError::Io {
            path: path.clone(),
            source,
        })?;
        let card: FineTuneCard =
            serde_json::from_str(&text).map_err(|source| LmError::BadJson {
                path: path.clone(),
                source,
            })?;
        if card.format != FT_FORMAT {
            return Err(LmError::BadHead {
                path,
                reason: format!("format `{}`, expected `{FT_FORMAT}`", card.format),
            });
        }
        let (cfg, map) = read_model(model_dir)?;
        let mut rng = SplitMix64::new(card.params.seed);
        let (model, params) =
            load_model(&map, &cfg, card.params.mode, card.labels.len(), &mut rng)?;
        let w = dir.join("adapter.safetensors");
        let saved =
            candle_core::safetensors::load(&w, &Device::Cpu).map_err(|e| LmError::BadHead {
                path: w.clone(),
                reason: e.to_string(),
            })?;
        for (name, live) in &params.named {
            let t = saved.get(name).ok_or_else(|| LmError::BadHead {
                path: w.clone(),
                reason: format!("no tensor `{name}`"),
            })?;
            if t.dims() != live.dims() {
                return Err(LmError::BadHead {
                    path: w.clone(),
                    reason: format!(
                        "`{name}` has shape {:?}, expected {:?}",
                        t.dims(),
                        live.dims()
                    ),
                });
            }
            live_set(live, &t.to_dtype(DType::F32)?)?;
        }
        Ok(Self {
            model,
            tokenizer: tokenizer(
                model_dir,
                card.params.max_length.min(cfg.max_position_embeddings),
            )?,
            labels: card.labels,
            params: card.params,
            trainable: params.named,
            history: card.history,
            steps: card.steps,
            trainable_params: card.trainable_params,
        })
    }
}
