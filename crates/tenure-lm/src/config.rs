//! The model folder's JSON files: config.json, sentence-transformers' side files, tokenizer limits.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{LmError, Result};

/// The activation between a BERT layer's intermediate and output projections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Exact GELU with erf, `gelu` in Hugging Face configs.
    Gelu,
    /// The tanh approximation, `gelu_new` / `gelu_pytorch_tanh`.
    GeluTanh,
    /// `relu`.
    Relu,
}

/// How token vectors become one sentence vector (sentence-transformers' `1_Pooling/config.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// Mean over the tokens the attention mask keeps (the default when the folder says nothing).
    Mean,
    /// The first (`[CLS]`) token.
    Cls,
}

/// The subset of a BERT `config.json` the encoder needs.
#[derive(Debug, Clone, PartialEq)]
pub struct BertConfig {
    /// Rows of the word-embedding table.
    pub vocab_size: usize,
    /// Width of every hidden state (the embedding dimension).
    pub hidden_size: usize,
    /// Number of transformer layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer; divides `hidden_size`.
    pub num_attention_heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// Rows of the position-embedding table: the hard limit on sequence length.
    pub max_position_embeddings: usize,
    /// Rows of the token-type table.
    pub type_vocab_size: usize,
    /// Epsilon of every layer norm.
    pub layer_norm_eps: f64,
    /// The feed-forward activation.
    pub activation: Activation,
}

#[derive(Deserialize)]
struct RawConfig {
    model_type: Option<String>,
    vocab_size: usize,
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    intermediate_size: usize,
    max_position_embeddings: usize,
    #[serde(default = "default_type_vocab")]
    type_vocab_size: usize,
    #[serde(default = "default_eps")]
    layer_norm_eps: f64,
    #[serde(default = "default_act")]
    hidden_act: String,
    position_embedding_type: Option<String>,
}

fn default_type_vocab() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}
fn default_act() -> String {
    "gelu".to_string()
}

impl BertConfig {
    /// Parses and checks a `config.json` text; `path` only names the file in errors.
    pub fn from_json(text: &str, path: &Path) -> Result<Self> {
        let raw: RawConfig = serde_json::from_str(text).map_err(|source| LmError::BadJson {
            path: path.to_path_buf(),
            source,
        })?;
        if let Some(t) = raw.model_type.as_deref() {
            if t != "bert" {
                return Err(LmError::Unsupported {
                    what: format!(
                        "model_type `{t}` in {} (only `bert` runs here)",
                        path.display()
                    ),
                });
            }
        }
        if let Some(p) = raw.position_embedding_type.as_deref() {
            if p != "absolute" {
                return Err(LmError::Unsupported {
                    what: format!("position_embedding_type `{p}`"),
                });
            }
        }
        let activation = match raw.hidden_act.as_str() {
            "gelu" => Activation::Gelu,
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Activation::GeluTanh,
            "relu" => Activation::Relu,
            other => {
                return Err(LmError::Unsupported {
                    what: format!("hidden_act `{other}`"),
                })
            }
        };
        let zero = [
            ("vocab_size", raw.vocab_size),
            ("hidden_size", raw.hidden_size),
            ("num_hidden_layers", raw.num_hidden_layers),
            ("num_attention_heads", raw.num_attention_heads),
            ("intermediate_size", raw.intermediate_size),
            ("max_position_embeddings", raw.max_position_embeddings),
            ("type_vocab_size", raw.type_vocab_size),
        ]
        .into_iter()
        .find(|(_, v)| *v == 0);
        if let Some((name, _)) = zero {
            return Err(LmError::Unsupported {
                what: format!("{name} = 0 in {}", path.display()),
            });
        }
        if !raw.hidden_size.is_multiple_of(raw.num_attention_heads) {
            return Err(LmError::Unsupported {
                what: format!(
                    "hidden_size {} is not a multiple of num_attention_heads {}",
                    raw.hidden_size, raw.num_attention_heads
                ),
            });
        }
        Ok(Self {
            vocab_size: raw.vocab_size,
            hidden_size: raw.hidden_size,
            num_hidden_layers: raw.num_hidden_layers,
            num_attention_heads: raw.num_attention_heads,
            intermediate_size: raw.intermediate_size,
            max_position_embeddings: raw.max_position_embeddings,
            type_vocab_size: raw.type_vocab_size,
            layer_norm_eps: raw.layer_norm_eps,
            activation,
        })
    }
}

/// What sentence-transformers' side files say about the model (all optional).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SentenceConfig {
    /// `sentence_bert_config.json` `max_seq_length`.
    pub max_seq_length: Option<usize>,
    /// `tokenizer_config.json` `model_max_length` when it is a real limit (not the 1e30 sentinel).
    pub tokenizer_max_length: Option<usize>,
    /// From `1_Pooling/config.json`; mean when absent.
    pub pooling: Pooling,
}

fn read_optional(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(LmError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn parse_value(text: &str, path: &Path) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|source| LmError::BadJson {
        path: path.to_path_buf(),
        source,
    })
}

impl SentenceConfig {
    /// Reads the optional sentence-transformers files of `dir`.
    pub fn read(dir: &Path) -> Result<Self> {
        let mut out = Self {
            max_seq_length: None,
            tokenizer_max_length: None,
            pooling: Pooling::Mean,
        };
        let p = dir.join("sentence_bert_config.json");
        if let Some(t) = read_optional(&p)? {
            let v = parse_value(&t, &p)?;
            out.max_seq_length = v
                .get("max_seq_length")
                .and_then(serde_json::Value::as_u64)
                .and_then(|n| usize::try_from(n).ok());
        }
        let p = dir.join("tokenizer_config.json");
        if let Some(t) = read_optional(&p)? {
            let v = parse_value(&t, &p)?;
            out.tokenizer_max_length = v
                .get("model_max_length")
                .and_then(serde_json::Value::as_f64)
                .filter(|n| *n >= 1.0 && *n < 1e7)
                .map(|n| n as usize);
        }
        let p = dir.join("modules.json");
        if let Some(t) = read_optional(&p)? {
            let v = parse_value(&t, &p)?;
            for m in v.as_array().into_iter().flatten() {
                let ty = m.get("type").and_then(|t| t.as_str()).unwrap_or("");
                let known = ty.ends_with("models.Transformer")
                    || ty.ends_with("models.Pooling")
                    || ty.ends_with("models.Normalize");
                if !known {
                    return Err(LmError::Unsupported {
                        what: format!("sentence-transformers module `{ty}` in {}", p.display()),
                    });
                }
            }
        }
        let p = dir.join("1_Pooling").join("config.json");
        if let Some(t) = read_optional(&p)? {
            out.pooling = pooling_from_json(&parse_value(&t, &p)?, &p)?;
        }
        Ok(out)
    }

    /// The sequence length the encoder truncates at, as sentence-transformers picks it:
    /// `max_seq_length` when given, else the smaller of the tokenizer's and the position table's.
    pub fn max_length(&self, config: &BertConfig) -> usize {
        let cap = config.max_position_embeddings;
        match (self.max_seq_length, self.tokenizer_max_length) {
            (Some(m), _) => m.min(cap),
            (None, Some(t)) => t.min(cap),
            (None, None) => cap,
        }
    }
}

fn pooling_from_json(v: &serde_json::Value, path: &Path) -> Result<Pooling> {
    let flag = |k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false)
    };
    let mean = flag("pooling_mode_mean_tokens");
    let cls = flag("pooling_mode_cls_token");
    let others = [
        "pooling_mode_max_tokens",
        "pooling_mode_mean_sqrt_len_tokens",
    ]
    .iter()
    .any(|k| flag(k));
    match (mean, cls, others) {
        (true, false, false) => Ok(Pooling::Mean),
        (false, true, false) => Ok(Pooling::Cls),
        _ => Err(LmError::Unsupported {
            what: format!(
                "pooling in {} (only mean or cls pooling alone)",
                PathBuf::from(path).display()
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINILM: &str = r#"{"_name_or_path":"x","architectures":["BertModel"],"attention_probs_dropout_prob":0.1,
      "gradient_checkpointing":false,"hidden_act":"gelu","hidden_dropout_prob":0.1,"hidden_size":384,
      "initializer_range":0.02,"intermediate_size":1536,"layer_norm_eps":1e-12,"max_position_embeddings":512,
      "model_type":"bert","num_attention_heads":12,"num_hidden_layers":6,"pad_token_id":0,
      "position_embedding_type":"absolute","transformers_version":"4.8.2","type_vocab_size":2,
      "use_cache":true,"vocab_size":30522}"#;

    #[test]
    fn parses_minilm_config() {
        let c = BertConfig::from_json(MINILM, Path::new("config.json")).expect("valid");
        assert_eq!(c.hidden_size, 384);
        assert_eq!(c.num_hidden_layers, 6);
        assert_eq!(c.activation, Activation::Gelu);
    }

    #[test]
    fn rejects_other_architectures_and_bad_json() {
        let roberta = MINILM.replace("\"bert\"", "\"roberta\"");
        let e = BertConfig::from_json(&roberta, Path::new("c.json")).expect_err("roberta");
        assert!(e.to_string().contains("roberta"), "{e}");
        let e = BertConfig::from_json("{\"hidden_size\": 3", Path::new("c.json")).expect_err("cut");
        assert!(matches!(e, LmError::BadJson { .. }), "{e}");
        let odd = MINILM.replace("\"num_attention_heads\":12", "\"num_attention_heads\":5");
        assert!(BertConfig::from_json(&odd, Path::new("c.json")).is_err());
    }

    #[test]
    fn max_length_follows_sentence_transformers() {
        let c = BertConfig::from_json(MINILM, Path::new("config.json")).expect("valid");
        let mut s = SentenceConfig {
            max_seq_length: Some(256),
            tokenizer_max_length: Some(512),
            pooling: Pooling::Mean,
        };
        assert_eq!(s.max_length(&c), 256);
        s.max_seq_length = None;
        s.tokenizer_max_length = Some(128);
        assert_eq!(s.max_length(&c), 128);
        s.tokenizer_max_length = None;
        assert_eq!(s.max_length(&c), 512);
        s.max_seq_length = Some(4096);
        assert_eq!(s.max_length(&c), 512);
    }

    #[test]
    fn pooling_modes() {
        let p = Path::new("p.json");
        let mean =
            serde_json::json!({"pooling_mode_mean_tokens": true, "pooling_mode_cls_token": false});
        assert_eq!(pooling_from_json(&mean, p).expect("mean"), Pooling::Mean);
        let cls = serde_json::json!({"pooling_mode_cls_token": true});
        assert_eq!(pooling_from_json(&cls, p).expect("cls"), Pooling::Cls);
        let max = serde_json::json!({"pooling_mode_max_tokens": true});
        assert!(pooling_from_json(&max, p).is_err());
    }
}
