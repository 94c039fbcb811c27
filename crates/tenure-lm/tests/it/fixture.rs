//! A tiny BERT folder with random weights, written by the tests themselves (no network, no real model).

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use tokenizers::Tokenizer;

pub const HIDDEN: usize = 16;
pub const LAYERS: usize = 2;
pub const HEADS: usize = 4;
pub const INTER: usize = 32;
pub const MAX_POS: usize = 24;

const WORDS: &[&str] = &[
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "product", "is", "good", "bad", "very",
    "hello", "world", "i", "love", "it", "not", "很", "好", "差", "的", "产", "品", "##s", "##ly",
];

pub fn vocab_size() -> usize {
    WORDS.len()
}

/// Writes config.json, tokenizer.json and model.safetensors of a random 2-layer BERT into `dir`.
pub fn write_tiny_model(dir: &Path, seed: u64) {
    std::fs::create_dir_all(dir).expect("mkdir");
    let config = serde_json::json!({
        "architectures": ["BertModel"], "model_type": "bert", "hidden_act": "gelu",
        "hidden_size": HIDDEN, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
        "intermediate_size": INTER, "max_position_embeddings": MAX_POS, "type_vocab_size": 2,
        "vocab_size": WORDS.len(), "layer_norm_eps": 1e-12, "pad_token_id": 0,
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02
    });
    std::fs::write(dir.join("config.json"), config.to_string()).expect("config");

    // A WordPiece tokenizer.json as Hugging Face writes it for BERT; loading it back through the
    // tokenizers crate proves the file is valid before any test relies on it.
    let vocab: serde_json::Map<String, serde_json::Value> = WORDS
        .iter()
        .enumerate()
        .map(|(i, w)| ((*w).to_string(), serde_json::json!(i)))
        .collect();
    let tokenizer = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                       "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab}
    });
    let text = tokenizer.to_string();
    Tokenizer::from_bytes(text.as_bytes()).expect("fixture tokenizer.json is valid");
    std::fs::write(dir.join("tokenizer.json"), text).expect("tokenizer");

    let dev = Device::Cpu;
    // candle has no seeded CPU RNG, so derive a deterministic pseudo-random fill from the seed.
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut rand = |shape: &[usize], scale: f32| -> Tensor {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (((state >> 33) as f64 / (1u64 << 31) as f64) as f32 * 2.0 - 1.0) * scale
            })
            .collect();
        Tensor::from_vec(v, shape, &dev).expect("tensor")
    };
    let mut t: HashMap<String, Tensor> = HashMap::new();
    let e = "bert.embeddings";
    t.insert(
        format!("{e}.word_embeddings.weight"),
        rand(&[WORDS.len(), HIDDEN], 1.0),
    );
    t.insert(
        format!("{e}.position_embeddings.weight"),
        rand(&[MAX_POS, HIDDEN], 0.5),
    );
    t.insert(
        format!("{e}.token_type_embeddings.weight"),
        rand(&[2, HIDDEN], 0.5),
    );
    t.insert(
        format!("{e}.LayerNorm.weight"),
        Tensor::ones(HIDDEN, DType::F32, &dev).expect("1"),
    );
    t.insert(
        format!("{e}.LayerNorm.bias"),
        Tensor::zeros(HIDDEN, DType::F32, &dev).expect("0"),
    );
    for l in 0..LAYERS {
        let p = format!("bert.encoder.layer.{l}");
        let mut dense = |name: String, d_in: usize, d_out: usize| {
            t.insert(format!("{name}.weight"), rand(&[d_out, d_in], 0.5));
            t.insert(format!("{name}.bias"), rand(&[d_out], 0.1));
        };
        dense(format!("{p}.attention.self.query"), HIDDEN, HIDDEN);
        dense(format!("{p}.attention.self.key"), HIDDEN, HIDDEN);
        dense(format!("{p}.attention.self.value"), HIDDEN, HIDDEN);
        dense(format!("{p}.attention.output.dense"), HIDDEN, HIDDEN);
        dense(format!("{p}.intermediate.dense"), HIDDEN, INTER);
        dense(format!("{p}.output.dense"), INTER, HIDDEN);
        for n in ["attention.output.LayerNorm", "output.LayerNorm"] {
            t.insert(
                format!("{p}.{n}.weight"),
                rand(&[HIDDEN], 0.1).affine(1.0, 1.0).expect("w"),
            );
            t.insert(format!("{p}.{n}.bias"), rand(&[HIDDEN], 0.1));
        }
    }
    // A pooler the encoder must ignore, as real checkpoints carry one.
    t.insert(
        "bert.pooler.dense.weight".into(),
        rand(&[HIDDEN, HIDDEN], 0.5),
    );
    candle_core::safetensors::save(&t, dir.join("model.safetensors")).expect("save");
}
