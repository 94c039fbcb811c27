//! The sentence encoder: model folder → tokenizer + BERT → pooled, normalised vectors.

use std::path::{Path, PathBuf};

use candle_core::Tensor;
use rayon::prelude::*;
use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::bert::{self, Bert};
use crate::config::{BertConfig, Pooling, SentenceConfig};
use crate::error::{LmError, Result};

/// How the encoder batches and threads; every field has a sensible default.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EncoderOptions {
    /// Sentences per forward pass. Sentences are sorted by token count first, so a batch pads only
    /// to its own longest member. sentence-transformers' default is 32.
    pub batch_size: usize,
    /// Cap on padded tokens per forward pass (sentences × longest length): long sentences go in
    /// smaller batches so activations and attention scores stay cache- and allocator-friendly
    /// (measured in docs/LM.md: 2,048 beats larger budgets on 256-token reviews).
    pub max_batch_tokens: usize,
    /// Worker threads for tokenizing and the matrix kernels; `None` uses rayon's global pool
    /// (`RAYON_NUM_THREADS`, else one per core).
    pub num_threads: Option<usize>,
    /// Truncate at this many tokens instead of the folder's own limit (never above the position
    /// table).
    pub max_length: Option<usize>,
    /// Number format of the dense layers' products; int8 vectors get their own model id, so the
    /// embedding cache never mixes them with fp32 ones.
    #[serde(default)]
    pub precision: Precision,
}

/// Number format of the encoder's dense-layer products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Full precision, the reference (parity with sentence-transformers at cosine 1 − 1e-12).
    #[default]
    F32,
    /// Weights and activations quantized to 8-bit integers in blocks of 32 (GGML `Q8_0`), for
    /// inference; accuracy against fp32 is measured in docs/LM.md#int8.
    Int8,
}

impl Default for EncoderOptions {
    fn default() -> Self {
        Self {
            batch_size: 32,
            max_batch_tokens: 2048,
            num_threads: None,
            max_length: None,
            precision: Precision::F32,
        }
    }
}

/// A BERT-family sentence encoder loaded from a local Hugging Face folder.
///
/// `embed` mean-pools (or CLS-pools, when the folder's `1_Pooling/config.json` says so) the last
/// hidden states over the attention mask and L2-normalises the result, as sentence-transformers does,
/// so cosine similarity is a dot product. Heads train on its output directly ([`Encoder::embed_tensor`]).
pub struct Encoder {
    bert: Bert,
    tokenizer: Tokenizer,
    pooling: Pooling,
    max_length: usize,
    vocab_size: usize,
    model_id: String,
    dir: PathBuf,
    options: EncoderOptions,
    pool: Option<rayon::ThreadPool>,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("model_id", &self.model_id)
            .field("dir", &self.dir)
            .field("dim", &self.dim())
            .field("max_length", &self.max_length)
            .field("pooling", &self.pooling)
            .field("options", &self.options)
            .finish()
    }
}

fn read_required(dir: &Path, file: &'static str) -> Result<Vec<u8>> {
    let path = dir.join(file);
    match std::fs::read(&path) {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(LmError::MissingFile {
            dir: dir.to_path_buf(),
            file,
        }),
        Err(source) => Err(LmError::Io { path, source }),
    }
}

impl Encoder {
    /// Loads and validates the folder `dir` (config.json, tokenizer.json, model.safetensors, and
    /// sentence-transformers' optional side files). Every problem is an [`LmError`], never a panic.
    pub fn from_dir(dir: &Path, options: EncoderOptions) -> Result<Self> {
        #[cfg(feature = "openblas")]
        crate::blas::run_on_calling_thread();
        if options.batch_size == 0 {
            return Err(LmError::InvalidOption(
                "batch_size must be at least 1".into(),
            ));
        }
        if options.max_batch_tokens == 0 {
            return Err(LmError::InvalidOption(
                "max_batch_tokens must be at least 1".into(),
            ));
        }
        if options.num_threads == Some(0) {
            return Err(LmError::InvalidOption(
                "num_threads must be at least 1".into(),
            ));
        }
        if options.max_length.is_some_and(|m| m < 2) {
            return Err(LmError::InvalidOption(
                "max_length must leave room for [CLS] and [SEP] (at least 2)".into(),
            ));
        }
        if !dir.is_dir() {
            return Err(LmError::Io {
                path: dir.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such folder"),
            });
        }
        let config_bytes = read_required(dir, "config.json")?;
        let tokenizer_bytes = read_required(dir, "tokenizer.json")?;
        let weights = read_required(dir, "model.safetensors")?;
        let config_path = dir.join("config.json");
        let config_text = String::from_utf8(config_bytes).map_err(|e| LmError::BadJson {
            path: config_path.clone(),
            source: serde::de::Error::custom(e),
        })?;
        let cfg = BertConfig::from_json(&config_text, &config_path)?;
        let side = SentenceConfig::read(dir)?;
        let mut max_length = side.max_length(&cfg);
        if let Some(m) = options.max_length {
            max_length = m.min(cfg.max_position_embeddings);
        }

        let weights_path = dir.join("model.safetensors");
        let map =
            candle_core::safetensors::load_buffer(&weights, &bert::device()).map_err(|e| {
                LmError::BadWeights {
                    path: weights_path.clone(),
                    reason: e.to_string(),
                }
            })?;
        let mut bert = Bert::load(map, &cfg)?;
        if options.precision == Precision::Int8 {
            bert.quantize_int8()?;
        }

        let tok_path = dir.join("tokenizer.json");
        let bad_tok = |e: tokenizers::Error| LmError::BadTokenizer {
            path: tok_path.clone(),
            reason: e.to_string(),
        };
        let mut tokenizer = Tokenizer::from_bytes(&tokenizer_bytes).map_err(bad_tok)?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(bad_tok)?;
        tokenizer.with_padding(None);

        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".to_string());
        let mut model_id = format!("{name}@{:016x}", xxhash_rust::xxh3::xxh3_64(&weights));
        if options.precision == Precision::Int8 {
            model_id.push_str("+int8");
        }
        let pool = match options.num_threads {
            Some(n) => Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .build()
                    .map_err(|e| {
                        LmError::InvalidOption(format!("cannot start {n} threads: {e}"))
                    })?,
            ),
            None => None,
        };
        Ok(Self {
            bert,
            tokenizer,
            pooling: side.pooling,
            max_length,
            vocab_size: cfg.vocab_size,
            model_id,
            dir: dir.to_path_buf(),
            options,
            pool,
        })
    }

    /// The model's identity for cache keys: the folder name plus an XXH3 of its weights, so two
    /// folders with the same name but different weights never share cached embeddings.
    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// The embedding dimension (the model's hidden size).
    pub fn dim(&self) -> usize {
        self.bert.hidden_size()
    }

    /// The token count inputs are truncated at, `[CLS]` and `[SEP]` included.
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// The pooling the folder asked for.
    pub fn pooling(&self) -> Pooling {
        self.pooling
    }

    /// The folder the model was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Embeds `texts`, returning one unit-length vector per text in input order.
    ///
    /// Any UTF-8 string works: empty text embeds `[CLS] [SEP]`, long text is truncated at
    /// [`Encoder::max_length`] tokens.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        match &self.pool {
            Some(pool) => pool.install(|| self.embed_inner(texts)),
            None => self.embed_inner(texts),
        }
    }

    /// [`Encoder::embed`] as one `(texts.len(), dim)` f32 tensor, the input heads train on.
    pub fn embed_tensor(&self, texts: &[&str]) -> Result<Tensor> {
        let rows = self.embed(texts)?;
        let flat: Vec<f32> = rows.into_iter().flatten().collect();
        Ok(Tensor::from_vec(
            flat,
            (texts.len(), self.dim()),
            &bert::device(),
        )?)
    }

    fn embed_inner(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| LmError::Tokenize(e.to_string()))?;
        let ids: Vec<&[u32]> = encodings.iter().map(|e| e.get_ids()).collect();
        if let Some(bad) = ids
            .iter()
            .flat_map(|s| s.iter())
            .find(|&&i| i as usize >= self.vocab_size)
        {
            return Err(LmError::Unsupported {
                what: format!(
                    "tokenizer produced id {bad} but the model has {} embeddings: tokenizer.json and model.safetensors do not belong together",
                    self.vocab_size
                ),
            });
        }
        let mut out = vec![Vec::new(); texts.len()];
        let plan = plan_batches(&ids, self.options.batch_size, self.options.max_batch_tokens);
        // Batches run side by side, one per worker, rather than one after another with every kernel
        // split across the workers: on few cores a whole batch per core keeps each core busy with
        // large products, where splitting each product leaves cores waiting at every step.
        let done: Vec<Vec<Vec<f32>>> = plan
            .par_iter()
            .map(|batch| self.forward_batch(&ids, batch))
            .collect::<Result<_>>()?;
        for (vectors, batch) in done.into_iter().zip(&plan) {
            for (row, &i) in vectors.into_iter().zip(batch) {
                out[i] = row;
            }
        }
        Ok(out)
    }

    fn forward_batch(&self, ids: &[&[u32]], batch: &[usize]) -> Result<Vec<Vec<f32>>> {
        let seq = batch
            .iter()
            .map(|&i| ids[i].len())
            .max()
            .unwrap_or(0)
            .max(1);
        let mut flat_ids = vec![0u32; batch.len() * seq];
        let mut flat_mask = vec![0f32; batch.len() * seq];
        for (r, &i) in batch.iter().enumerate() {
            let row = ids[i];
            flat_ids[r * seq..r * seq + row.len()].copy_from_slice(row);
            flat_mask[r * seq..r * seq + row.len()].fill(1.0);
        }
        let dev = bert::device();
        let ids_t = Tensor::from_vec(flat_ids, (batch.len(), seq), &dev)?;
        let mask_t = Tensor::from_vec(flat_mask, (batch.len(), seq), &dev)?;
        let hidden = self.bert.forward(&ids_t, &mask_t)?;
        let pooled = match self.pooling {
            Pooling::Mean => bert::mean_pool(&hidden, &mask_t)?,
            Pooling::Cls => bert::cls_pool(&hidden)?,
        };
        Ok(bert::l2_normalize(&pooled)?.to_vec2::<f32>()?)
    }
}

/// Splits input indices into batches, longest first, so each batch pads to a length close to all its
/// members (dynamic padding). A batch holds at most `batch_size` sentences and, beyond its first,
/// at most `max_tokens` padded tokens. Ties keep input order.
pub(crate) fn plan_batches(
    ids: &[&[u32]],
    batch_size: usize,
    max_tokens: usize,
) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
    let mut plan: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut width = 0;
    for i in order {
        if current.is_empty() {
            width = ids[i].len().max(1);
        } else if current.len() >= batch_size || (current.len() + 1) * width > max_tokens {
            plan.push(std::mem::take(&mut current));
            width = ids[i].len().max(1);
        }
        current.push(i);
    }
    if !current.is_empty() {
        plan.push(current);
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_sorted_longest_first_and_cover_every_input_once() {
        let a = [1u32, 2, 3];
        let b = [1u32];
        let c = [1u32, 2, 3, 4, 5];
        let d = [1u32, 2];
        let ids: Vec<&[u32]> = vec![&a, &b, &c, &d];
        let plan = plan_batches(&ids, 3, 1000);
        assert_eq!(plan, vec![vec![2, 0, 3], vec![1]]);
        // A token budget of 10 fits two 5-token rows, then three 2-token rows.
        let plan = plan_batches(&ids, 8, 10);
        assert_eq!(plan, vec![vec![2, 0], vec![3, 1]]);
        let mut all: Vec<usize> = plan.concat();
        all.sort_unstable();
        assert_eq!(all, vec![0, 1, 2, 3]);
    }

    #[test]
    fn options_are_checked() {
        let dir = std::env::temp_dir();
        let zero = EncoderOptions {
            batch_size: 0,
            ..EncoderOptions::default()
        };
        assert!(matches!(
            Encoder::from_dir(&dir, zero),
            Err(LmError::InvalidOption(_))
        ));
    }
}
