//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong while loading a model folder or embedding text.
///
/// Messages are lowercase and say what to do; variants carry the offending path, tensor or value so a
/// caller can print them without context of its own.
#[derive(Debug, thiserror::Error)]
pub enum LmError {
    /// A file the model folder must contain is not there.
    #[error("model folder {dir} has no {file}: point --model-dir at a Hugging Face folder with config.json, tokenizer.json and model.safetensors")]
    MissingFile {
        /// The model folder.
        dir: PathBuf,
        /// The missing file's name.
        file: &'static str,
    },
    /// A file exists but could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// A JSON file of the model folder does not parse or lacks a required field.
    #[error("{path} is not a valid model JSON file: {source}")]
    BadJson {
        /// The file.
        path: PathBuf,
        /// The parser's reason.
        #[source]
        source: serde_json::Error,
    },
    /// `model.safetensors` is truncated, corrupt or not a safetensors file.
    #[error("{path} is not a readable safetensors file ({reason}): re-pull the model or replace the file")]
    BadWeights {
        /// The file.
        path: PathBuf,
        /// What the reader said.
        reason: String,
    },
    /// `tokenizer.json` cannot be loaded or configured.
    #[error("{path} is not a usable tokenizer: {reason}")]
    BadTokenizer {
        /// The file.
        path: PathBuf,
        /// What the tokenizer library said.
        reason: String,
    },
    /// The weights lack a tensor the configured architecture needs.
    #[error("weights have no tensor `{name}` (looked under prefix `{prefix}`): is this a BERT-family model?")]
    MissingTensor {
        /// The tensor's name without prefix.
        name: String,
        /// The prefix the loader detected.
        prefix: String,
    },
    /// A tensor's shape disagrees with config.json.
    #[error("tensor `{name}` has shape {found:?} but config.json implies {expected:?}")]
    ShapeMismatch {
        /// The tensor's name.
        name: String,
        /// The shape config.json implies.
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// The folder describes something this crate does not run (another architecture, pooling or module).
    #[error("unsupported model: {what}")]
    Unsupported {
        /// What is unsupported, in words.
        what: String,
    },
    /// A model name that is not in the built-in catalogue.
    #[error("unknown model `{name}`; known models: {known}")]
    UnknownModel {
        /// The name asked for.
        name: String,
        /// The catalogue's names, comma separated.
        known: String,
    },
    /// A catalogue model that has not been pulled into the cache yet.
    #[error("model `{name}` is not installed in {dir}: run `tenure models pull {name}` first (or pass --model-dir)")]
    NotInstalled {
        /// The model's catalogue name.
        name: String,
        /// Where it was looked for.
        dir: PathBuf,
    },
    /// Options that cannot work (zero batch size, zero threads, ...).
    #[error("invalid encoder option: {0}")]
    InvalidOption(String),
    /// Tokenizing the input failed.
    #[error("tokenizing failed: {0}")]
    Tokenize(String),
    /// The tensor library failed during a forward pass.
    #[error("tensor computation failed: {0}")]
    Candle(#[from] candle_core::Error),
    /// A saved head or adapter (`head.json` + `head.safetensors`) is missing a tensor, has the
    /// wrong shapes or an unknown format.
    #[error("{path} is not a usable saved head ({reason}): retrain it with `tenure train`")]
    BadHead {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Training or labelled data that cannot be used as given.
    #[error("invalid training data: {0}")]
    InvalidData(String),
}

/// The crate's result alias.
pub type Result<T> = std::result::Result<T, LmError>;
