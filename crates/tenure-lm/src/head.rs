//! Task heads on frozen sentence embeddings: a linear layer or a one-hidden-layer MLP, trained with
//! AdamW (Loshchilov & Hutter 2019) on cross-entropy (any number of classes) or binary cross-entropy
//! (two classes, one logit), with optional class weights and early stopping on a validation split.
//!
//! Training is deterministic: weights are initialised and batches shuffled from one explicit seed
//! (SplitMix64, Steele et al. 2014), so the same data and [`HeadParams`] give the same head. A trained
//! [`Head`] saves as `head.safetensors` (its tensors) plus `head.json` (its [`HeadCard`]: data,
//! metrics, hyper-parameters, training history) and loads back bit for bit.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use serde::{Deserialize, Serialize};

use crate::error::{LmError, Result};

/// The file a head's tensors are saved in, inside the head's folder.
pub const HEAD_WEIGHTS: &str = "head.safetensors";
/// The file a head's card is saved in, inside the head's folder.
pub const HEAD_CARD: &str = "head.json";
const FORMAT: &str = "tenure-head/1";

/// The shape of a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum HeadKind {
    /// One affine map from the embedding to the logits (multinomial logistic regression).
    #[default]
    Linear,
    /// Affine → ReLU → affine, with [`HeadParams::hidden_size`] hidden units.
    Mlp,
}

/// The training loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// Softmax cross-entropy over one logit per class (PyTorch `CrossEntropyLoss`).
    #[default]
    CrossEntropy,
    /// Sigmoid binary cross-entropy over a single logit for class 1 (PyTorch `BCEWithLogitsLoss`);
    /// only for two classes.
    Bce,
}

/// How much each class's examples weigh in the loss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ClassWeights {
    /// Every example weighs 1.
    #[default]
    None,
    /// `n / (k · n_c)` for class `c` with `n_c` of `n` training examples and `k` classes, as
    /// scikit-learn's `class_weight="balanced"`.
    Balanced,
    /// One weight per class, in class order.
    Given(Vec<f64>),
}

/// Hyper-parameters of a head, named as scikit-learn and PyTorch name them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HeadParams {
    /// Linear or MLP.
    pub kind: HeadKind,
    /// Hidden units of the MLP (ignored by the linear head).
    pub hidden_size: usize,
    /// Cross-entropy or binary cross-entropy.
    pub objective: Objective,
    /// AdamW step size.
    pub learning_rate: f64,
    /// AdamW decoupled weight decay.
    pub weight_decay: f64,
    /// Examples per optimiser step.
    pub batch_size: usize,
    /// Passes over the training set at most.
    pub max_epochs: usize,
    /// Stop after this many epochs without a validation-loss improvement of more than `tol`, and
    /// keep the best epoch's weights.
    pub patience: usize,
    /// The smallest validation-loss decrease that counts as an improvement.
    pub tol: f64,
    /// Per-class loss weights.
    pub class_weight: ClassWeights,
    /// Seed of the SplitMix64 generator behind initialisation and shuffling.
    pub seed: u64,
}

impl Default for HeadParams {
    fn default() -> Self {
        Self {
            kind: HeadKind::Linear,
            hidden_size: 256,
            objective: Objective::CrossEntropy,
            learning_rate: 3e-3,
            weight_decay: 1e-2,
            batch_size: 64,
            max_epochs: 200,
            patience: 8,
            tol: 1e-4,
            class_weight: ClassWeights::None,
            seed: 42,
        }
    }
}

/// Vectors with their class indices, the input of [`HeadParams::fit`].
#[derive(Debug, Clone, Copy)]
pub struct LabelledVectors<'a> {
    /// One embedding per example, all of the same length.
    pub x: &'a [Vec<f32>],
    /// The class index of each example, `< labels.len()`.
    pub y: &'a [usize],
}

/// One epoch of training as the card records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochLog {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean (weighted) training loss over the epoch's batches.
    pub train_loss: f64,
    /// (Weighted) loss on the validation split after the epoch, if there is one.
    pub valid_loss: Option<f64>,
}

/// What a saved head says about itself: `head.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadCard {
    /// File format tag, `tenure-head/1`.
    pub format: String,
    /// Class names in class-index order.
    pub labels: Vec<String>,
    /// Input width (the embedding dimension).
    pub dim: usize,
    /// The encoder the embeddings came from ([`crate::Encoder::model_id`]), if the caller set it.
    pub encoder: Option<String>,
    /// Hyper-parameters the head was trained with.
    pub params: HeadParams,
    /// The class weights actually used (resolved from [`HeadParams::class_weight`]).
    pub class_weights: Vec<f64>,
    /// Per-epoch losses.
    pub history: Vec<EpochLog>,
    /// The epoch whose weights were kept (1-based).
    pub best_epoch: usize,
    /// Whether training stopped before `max_epochs` for lack of validation improvement.
    pub stopped_early: bool,
    /// Where the training data came from and how it was split; free-form, set by the caller.
    pub data: serde_json::Value,
    /// Evaluation results; free-form, set by the caller (the engine writes its metrics here).
    pub metrics: serde_json::Value,
}

/// `(weight (in, out), bias (out))` per affine layer.
type Layers = Vec<(Tensor, Tensor)>;

/// A trained head: apply it to embeddings with [`Head::predict_proba`].
#[derive(Debug, Clone)]
pub struct Head {
    /// The affine layers, ReLU between them.
    layers: Layers,
    card: HeadCard,
}

/// SplitMix64 (Steele, Lea & Flood 2014): a tiny, well-mixed, seedable generator.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (n > 0), by Lemire's multiply-shift (bias below 2^-32 for our sizes).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() >> 32).wrapping_mul(n as u64) >> 32) as usize
    }

    /// Fisher–Yates shuffle.
    pub(crate) fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

fn invalid(msg: impl Into<String>) -> LmError {
    LmError::InvalidData(msg.into())
}

/// Flattens `x` into a `(n, dim)` tensor, checking widths and finiteness.
fn to_matrix(x: &[Vec<f32>], dim: usize, what: &str) -> Result<Tensor> {
    let mut flat = Vec::with_capacity(x.len() * dim);
    for (i, row) in x.iter().enumerate() {
        if row.len() != dim {
            return Err(invalid(format!(
                "{what} vector {i} has {} values but the first has {dim}: embed all texts with one model",
                row.len()
            )));
        }
        if let Some(v) = row.iter().find(|v| !v.is_finite()) {
            return Err(invalid(format!(
                "{what} vector {i} holds a non-finite value ({v})"
            )));
        }
        flat.extend_from_slice(row);
    }
    Ok(Tensor::from_vec(flat, (x.len(), dim), &Device::Cpu)?)
}

fn check_labels(y: &[usize], n: usize, k: usize, what: &str) -> Result<()> {
    if y.len() != n {
        return Err(invalid(format!(
            "{what} has {n} vectors but {} labels",
            y.len()
        )));
    }
    if let Some((i, c)) = y.iter().enumerate().find(|(_, &c)| c >= k) {
        return Err(invalid(format!(
            "{what} label {i} is class {c} but there are only {k} classes"
        )));
    }
    Ok(())
}

/// A PyTorch-style `nn.Linear` initialisation: weights and bias uniform in ±1/sqrt(fan_in).
fn init_layer(rng: &mut SplitMix64, d_in: usize, d_out: usize) -> Result<(Var, Var)> {
    let bound = 1.0 / (d_in as f64).sqrt();
    let mut draw = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| ((rng.next_f64() * 2.0 - 1.0) * bound) as f32)
            .collect()
    };
    let w = Var::from_vec(draw(d_in * d_out), (d_in, d_out), &Device::Cpu)?;
    let b = Var::from_vec(draw(d_out), d_out, &Device::Cpu)?;
    Ok((w, b))
}

fn forward(layers: &[(Tensor, Tensor)], x: &Tensor) -> Result<Tensor> {
    let mut h = x.clone();
    for (i, (w, b)) in layers.iter().enumerate() {
        if i > 0 {
            h = h.relu()?;
        }
        h = h.matmul(w)?.broadcast_add(b)?;
    }
    Ok(h)
}

/// The weighted loss of `logits` against class indices `y` with per-example weights `w`:
/// `Σ w_i ℓ_i / Σ w_i`, as PyTorch's losses with `weight=` and `reduction="mean"`.
fn loss(objective: Objective, logits: &Tensor, y: &Tensor, w: &Tensor) -> Result<Tensor> {
    let per_example = match objective {
        Objective::CrossEntropy => {
            let logp = candle_nn::ops::log_softmax(logits, D::Minus1)?;
            logp.gather(&y.unsqueeze(1)?, 1)?.squeeze(1)?.neg()?
        }
        Objective::Bce => {
            // Stable BCE with logits: max(z, 0) − z·t + log(1 + exp(−|z|)).
            let z = logits.squeeze(1)?;
            let t = y.to_dtype(DType::F32)?;
            let softplus = z.abs()?.neg()?.exp()?.affine(1.0, 1.0)?.log()?;
            ((z.relu()? - (&z * &t)?)? + softplus)?
        }
    };
    Ok(((per_example * w)?.sum_all()? / w.sum_all()?.to_scalar::<f32>()? as f64)?)
}

impl HeadParams {
    fn validate(&self, k: usize) -> Result<()> {
        if self.batch_size == 0 || self.max_epochs == 0 {
            return Err(invalid("batch_size and max_epochs must be at least 1"));
        }
        if self.kind == HeadKind::Mlp && self.hidden_size == 0 {
            return Err(invalid("an MLP head needs hidden_size of at least 1"));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(invalid(format!(
                "learning_rate must be positive, got {}",
                self.learning_rate
            )));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(invalid(format!(
                "weight_decay must be ≥ 0, got {}",
                self.weight_decay
            )));
        }
        if k < 2 {
            return Err(invalid(format!(
                "a classifier needs at least 2 classes, got {k}"
            )));
        }
        if self.objective == Objective::Bce && k != 2 {
            return Err(invalid(format!(
                "binary cross-entropy needs exactly 2 classes, got {k}: use cross-entropy"
            )));
        }
        Ok(())
    }

    fn resolve_weights(&self, y: &[usize], k: usize) -> Result<Vec<f64>> {
        match &self.class_weight {
            ClassWeights::None => Ok(vec![1.0; k]),
            ClassWeights::Balanced => {
                let mut counts = vec![0usize; k];
                for &c in y {
                    counts[c] += 1;
                }
                Ok(counts
                    .iter()
                    .map(|&n_c| {
                        if n_c == 0 {
                            0.0
                        } else {
                            y.len() as f64 / (k * n_c) as f64
                        }
                    })
                    .collect())
            }
            ClassWeights::Given(w) => {
                if w.len() != k {
                    return Err(invalid(format!(
                        "{} class weights given for {k} classes",
                        w.len()
                    )));
                }
                if w.iter().any(|v| !v.is_finite() || *v < 0.0) || w.iter().all(|v| *v == 0.0) {
                    return Err(invalid(format!(
                        "class weights must be finite, ≥ 0 and not all 0: {w:?}"
                    )));
                }
                Ok(w.clone())
            }
        }
    }

    /// Trains a head on `train`, early-stopping on `valid` (which may be empty: then it runs
    /// `max_epochs` and keeps the last weights). `labels` names the classes; `y` values index it.
    pub fn fit(
        &self,
        train: LabelledVectors<'_>,
        valid: LabelledVectors<'_>,
        labels: &[String],
    ) -> Result<Head> {
        let k = labels.len();
        self.validate(k)?;
        let n = train.x.len();
        if n == 0 {
            return Err(invalid("no training examples"));
        }
        let dim = train.x[0].len();
        if dim == 0 {
            return Err(invalid("training vectors are empty"));
        }
        check_labels(train.y, n, k, "training set")?;
        check_labels(valid.y, valid.x.len(), k, "validation set")?;
        let x_train = to_matrix(train.x, dim, "training")?;
        let class_weights = self.resolve_weights(train.y, k)?;
        let dev = Device::Cpu;
        let cw = Tensor::from_vec(
            class_weights.iter().map(|&v| v as f32).collect::<Vec<_>>(),
            k,
            &dev,
        )?;
        let labels_t = |y: &[usize]| -> Result<Tensor> {
            Ok(Tensor::from_vec(
                y.iter().map(|&c| c as u32).collect::<Vec<_>>(),
                y.len(),
                &dev,
            )?)
        };
        let y_train = labels_t(train.y)?;
        let w_train = cw.index_select(&y_train, 0)?;
        let valid_set = if valid.x.is_empty() {
            None
        } else {
            let x = to_matrix(valid.x, dim, "validation")?;
            let y = labels_t(valid.y)?;
            let w = cw.index_select(&y, 0)?;
            if w.sum_all()?.to_scalar::<f32>()? <= 0.0 {
                None
            } else {
                Some((x, y, w))
            }
        };
        if w_train.sum_all()?.to_scalar::<f32>()? <= 0.0 {
            return Err(invalid("every training example has class weight 0"));
        }

        let out = match self.objective {
            Objective::CrossEntropy => k,
            Objective::Bce => 1,
        };
        let widths = match self.kind {
            HeadKind::Linear => vec![(dim, out)],
            HeadKind::Mlp => vec![(dim, self.hidden_size), (self.hidden_size, out)],
        };
        let mut rng = SplitMix64::new(self.seed);
        let vars: Vec<(Var, Var)> = widths
            .iter()
            .map(|&(i, o)| init_layer(&mut rng, i, o))
            .collect::<Result<_>>()?;
        let flat_vars: Vec<Var> = vars
            .iter()
            .flat_map(|(w, b)| [w.clone(), b.clone()])
            .collect();
        let mut opt = AdamW::new(
            flat_vars,
            ParamsAdamW {
                lr: self.learning_rate,
                weight_decay: self.weight_decay,
                ..ParamsAdamW::default()
            },
        )?;
        let snapshot = || -> Result<Layers> {
            vars.iter()
                .map(|(w, b)| Ok((w.as_tensor().copy()?, b.as_tensor().copy()?)))
                .collect()
        };
        let live = || -> Layers {
            vars.iter()
                .map(|(w, b)| (w.as_tensor().clone(), b.as_tensor().clone()))
                .collect()
        };

        let mut order: Vec<u32> = (0..n as u32).collect();
        let mut history = Vec::new();
        let mut best: Option<(f64, usize, Layers)> = None;
        let mut since_best = 0usize;
        let mut stopped_early = false;
        for epoch in 1..=self.max_epochs {
            rng.shuffle(&mut order);
            let (mut total, mut batches) = (0.0f64, 0usize);
            for chunk in order.chunks(self.batch_size) {
                let idx = Tensor::from_slice(chunk, chunk.len(), &dev)?;
                let xb = x_train.index_select(&idx, 0)?;
                let yb = y_train.index_select(&idx, 0)?;
                let wb = w_train.index_select(&idx, 0)?;
                if wb.sum_all()?.to_scalar::<f32>()? <= 0.0 {
                    continue;
                }
                let l = loss(self.objective, &forward(&live(), &xb)?, &yb, &wb)?;
                opt.backward_step(&l)?;
                total += l.to_scalar::<f32>()? as f64;
                batches += 1;
            }
            let train_loss = total / batches.max(1) as f64;
            if !train_loss.is_finite() {
                return Err(invalid(format!(
                    "training diverged at epoch {epoch} (loss {train_loss}): lower learning_rate"
                )));
            }
            let valid_loss = match &valid_set {
                Some((x, y, w)) => Some(
                    loss(self.objective, &forward(&live(), x)?, y, w)?.to_scalar::<f32>()? as f64,
                ),
                None => None,
            };
            history.push(EpochLog {
                epoch,
                train_loss,
                valid_loss,
            });
            if let Some(v) = valid_loss {
                let improved = best.as_ref().is_none_or(|(b, _, _)| v < b - self.tol);
                if improved {
                    best = Some((v, epoch, snapshot()?));
                    since_best = 0;
                } else {
                    since_best += 1;
                    if since_best >= self.patience {
                        stopped_early = epoch < self.max_epochs;
                        break;
                    }
                }
            }
        }
        let (best_epoch, layers) = match best {
            Some((_, e, layers)) => (e, layers),
            None => (history.len(), snapshot()?),
        };
        Ok(Head {
            layers,
            card: HeadCard {
                format: FORMAT.to_string(),
                labels: labels.to_vec(),
                dim,
                encoder: None,
                params: self.clone(),
                class_weights,
                history,
                best_epoch,
                stopped_early,
                data: serde_json::Value::Null,
                metrics: serde_json::Value::Null,
            },
        })
    }
}

impl Head {
    /// The head's card (labels, hyper-parameters, history, data and metrics).
    pub fn card(&self) -> &HeadCard {
        &self.card
    }

    /// The card, to fill in `encoder`, `data` and `metrics` before saving.
    pub fn card_mut(&mut self) -> &mut HeadCard {
        &mut self.card
    }

    /// Class names in class-index order.
    pub fn labels(&self) -> &[String] {
        &self.card.labels
    }

    /// The input width the head expects.
    pub fn dim(&self) -> usize {
        self.card.dim
    }

    /// Class probabilities for each vector of `x` (rows sum to 1, columns in [`Head::labels`] order).
    pub fn predict_proba(&self, x: &[Vec<f32>]) -> Result<Vec<Vec<f64>>> {
        if x.is_empty() {
            return Ok(Vec::new());
        }
        let logits = forward(&self.layers, &to_matrix(x, self.card.dim, "input")?)?;
        let probs = match self.card.params.objective {
            Objective::CrossEntropy => candle_nn::ops::softmax(&logits, D::Minus1)?,
            Objective::Bce => {
                let p = candle_nn::ops::sigmoid(&logits)?;
                Tensor::cat(&[p.affine(-1.0, 1.0)?, p], 1)?
            }
        };
        Ok(probs
            .to_vec2::<f32>()?
            .into_iter()
            .map(|r| r.into_iter().map(f64::from).collect())
            .collect())
    }

    /// The most probable class index of each vector (ties go to the lower index).
    pub fn predict(&self, x: &[Vec<f32>]) -> Result<Vec<usize>> {
        Ok(self.predict_proba(x)?.iter().map(|p| argmax(p)).collect())
    }

    /// Writes `head.safetensors` and `head.json` into `dir` (created if missing).
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|source| LmError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut map: HashMap<String, Tensor> = HashMap::new();
        for (i, (w, b)) in self.layers.iter().enumerate() {
            map.insert(format!("layers.{i}.weight"), w.clone());
            map.insert(format!("layers.{i}.bias"), b.clone());
        }
        let weights = dir.join(HEAD_WEIGHTS);
        candle_core::safetensors::save(&map, &weights)
            .map_err(|e| bad_head(&weights, e.to_string()))?;
        let card = dir.join(HEAD_CARD);
        let text =
            serde_json::to_string_pretty(&self.card).map_err(|e| bad_head(&card, e.to_string()))?;
        std::fs::write(&card, text + "\n").map_err(|source| LmError::Io { path: card, source })
    }

    /// Loads a head saved by [`Head::save`], checking every tensor's shape against the card.
    pub fn load(dir: &Path) -> Result<Self> {
        let card_path = dir.join(HEAD_CARD);
        let text = std::fs::read(&card_path).map_err(|source| LmError::Io {
            path: card_path.clone(),
            source,
        })?;
        let weights = dir.join(HEAD_WEIGHTS);
        let bytes = std::fs::read(&weights).map_err(|source| LmError::Io {
            path: weights.clone(),
            source,
        })?;
        Self::from_parts(&text, &bytes, &card_path, &weights)
    }

    /// A head from the bytes of its `head.json` and `head.safetensors` (for heads compiled into a
    /// binary); `name` only labels errors.
    pub fn from_bytes(card: &[u8], weights: &[u8], name: &str) -> Result<Self> {
        let dir = Path::new(name);
        Self::from_parts(card, weights, &dir.join(HEAD_CARD), &dir.join(HEAD_WEIGHTS))
    }

    fn from_parts(text: &[u8], bytes: &[u8], card_path: &Path, weights: &Path) -> Result<Self> {
        let card: HeadCard = serde_json::from_slice(text).map_err(|source| LmError::BadJson {
            path: card_path.to_path_buf(),
            source,
        })?;
        if card.format != FORMAT {
            return Err(bad_head(
                card_path,
                format!("format is `{}`, expected `{FORMAT}`", card.format),
            ));
        }
        let k = card.labels.len();
        card.params
            .validate(k)
            .map_err(|e| bad_head(card_path, e.to_string()))?;
        let out = match card.params.objective {
            Objective::CrossEntropy => k,
            Objective::Bce => 1,
        };
        let widths = match card.params.kind {
            HeadKind::Linear => vec![(card.dim, out)],
            HeadKind::Mlp => vec![
                (card.dim, card.params.hidden_size),
                (card.params.hidden_size, out),
            ],
        };
        let map = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)
            .map_err(|e| bad_head(weights, e.to_string()))?;
        let mut layers = Vec::with_capacity(widths.len());
        for (i, (d_in, d_out)) in widths.into_iter().enumerate() {
            let get = |name: String, shape: &[usize]| -> Result<Tensor> {
                let t = map
                    .get(&name)
                    .ok_or_else(|| bad_head(weights, format!("no tensor `{name}`")))?;
                if t.dims() != shape {
                    return Err(bad_head(
                        weights,
                        format!(
                            "tensor `{name}` has shape {:?}, the card implies {shape:?}",
                            t.dims()
                        ),
                    ));
                }
                Ok(t.to_dtype(DType::F32)?)
            };
            layers.push((
                get(format!("layers.{i}.weight"), &[d_in, d_out])?,
                get(format!("layers.{i}.bias"), &[d_out])?,
            ));
        }
        Ok(Self { layers, card })
    }
}

fn bad_head(path: &Path, reason: String) -> LmError {
    LmError::BadHead {
        path: PathBuf::from(path),
        reason,
    }
}

/// The index of the largest value (the first one on ties; 0 for an empty slice).
pub fn argmax(p: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in p.iter().enumerate() {
        if *v > p[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_is_seeded_and_shuffle_is_a_permutation() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        assert_eq!(a.next_u64(), b.next_u64());
        let mut v: Vec<usize> = (0..100).collect();
        a.shuffle(&mut v);
        let mut s = v.clone();
        s.sort_unstable();
        assert_eq!(s, (0..100).collect::<Vec<_>>());
        assert_ne!(v, s);
        assert!((0..1000).all(|_| a.below(3) < 3));
    }

    #[test]
    fn weighted_cross_entropy_matches_hand_computation() {
        let dev = Device::Cpu;
        let logits = Tensor::new(&[[0f32, 0.], [2., 0.]], &dev).expect("t");
        let y = Tensor::new(&[1u32, 1], &dev).expect("y");
        let w = Tensor::new(&[1f32, 3.], &dev).expect("w");
        let l = loss(Objective::CrossEntropy, &logits, &y, &w)
            .expect("loss")
            .to_scalar::<f32>()
            .expect("s") as f64;
        let l0 = 2f64.ln();
        let l1 = (1.0 + 2f64.exp()).ln();
        assert!((l - (l0 + 3.0 * l1) / 4.0).abs() < 1e-5, "{l}");
        // BCE on one logit equals two-class CE on logits (0, z).
        let z = Tensor::new(&[[0f32], [-2.]], &dev).expect("z");
        let b = loss(Objective::Bce, &z, &y, &w)
            .expect("bce")
            .to_scalar::<f32>()
            .expect("s") as f64;
        assert!((b - l).abs() < 1e-5, "{b} vs {l}");
    }
}
