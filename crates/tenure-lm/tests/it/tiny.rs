//! The encoder on a tiny random BERT: shapes, masking, pooling, order, bad folders.

use std::path::Path;

use tenure_lm::{cache_key, Encoder, EncoderOptions, LmError, Precision};

use crate::fixture::{self, HIDDEN, MAX_POS};

fn tiny(dir: &Path) -> Encoder {
    fixture::write_tiny_model(dir, 7);
    Encoder::from_dir(dir, EncoderOptions::default()).expect("tiny model loads")
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn assert_close(a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= tol, "{a:?} vs {b:?}");
    }
}

#[test]
fn shapes_and_unit_norm() {
    let tmp = tempfile::tempdir().expect("tmp");
    let enc = tiny(tmp.path());
    assert_eq!(enc.dim(), HIDDEN);
    assert_eq!(enc.max_length(), MAX_POS);
    let v = enc
        .embed(&["the product is good", "bad", ""])
        .expect("embed");
    assert_eq!(v.len(), 3);
    for row in &v {
        assert_eq!(row.len(), HIDDEN);
        assert!((dot(row, row) - 1.0).abs() < 1e-5);
        assert!(row.iter().all(|x| x.is_finite()));
    }
    assert!(enc.embed(&[]).expect("empty batch").is_empty());
    let t = enc.embed_tensor(&["hello", "world"]).expect("tensor");
    assert_eq!(t.dims(), &[2, HIDDEN]);
}

#[test]
fn padding_does_not_change_a_sentence_embedding() {
    let tmp = tempfile::tempdir().expect("tmp");
    let enc = tiny(tmp.path());
    let short = "good";
    let long = "the product is very very good i love it not bad hello world";
    let alone = enc.embed(&[short]).expect("alone");
    let batched = enc.embed(&[long, short, "bad"]).expect("batched");
    assert_close(&alone[0], &batched[1], 1e-5);
}

#[test]
fn results_come_back_in_input_order_whatever_the_batching() {
    let tmp = tempfile::tempdir().expect("tmp");
    fixture::write_tiny_model(tmp.path(), 7);
    let texts = [
        "hello",
        "the product is very good",
        "bad",
        "i love it",
        "很好的产品",
        "not good",
        "",
        "world hello world hello",
    ];
    let one_by_one: Vec<Vec<f32>> = texts
        .iter()
        .map(|t| {
            Encoder::from_dir(tmp.path(), EncoderOptions::default())
                .expect("load")
                .embed(&[t])
                .expect("embed")
                .remove(0)
        })
        .collect();
    for (batch_size, max_batch_tokens) in [(1, 2048), (2, 2048), (3, 2048), (32, 2048), (32, 8)] {
        let opts = EncoderOptions {
            batch_size,
            max_batch_tokens,
            num_threads: Some(1),
            max_length: None,
            precision: Precision::F32,
        };
        let enc = Encoder::from_dir(tmp.path(), opts).expect("load");
        let all = enc.embed(&texts).expect("embed");
        for (a, b) in all.iter().zip(&one_by_one) {
            assert_close(a, b, 1e-5);
        }
    }
}

#[test]
fn hard_inputs_give_results() {
    let tmp = tempfile::tempdir().expect("tmp");
    let enc = tiny(tmp.path());
    let long = "good product ".repeat(8_000) + &"x".repeat(4_000); // > 100k chars
    assert!(long.len() > 100_000);
    let texts = [
        "",
        "   ",
        "😀😀🎉",
        "很好 the product 很差 😀",
        long.as_str(),
        "\u{0}\u{feff}控制",
        "ÅÄÖ é",
    ];
    let v = enc.embed(&texts).expect("embed");
    assert_eq!(v.len(), texts.len());
    assert!(v.iter().flatten().all(|x| x.is_finite()));
}

#[test]
fn truncation_keeps_the_first_max_length_tokens() {
    let tmp = tempfile::tempdir().expect("tmp");
    fixture::write_tiny_model(tmp.path(), 3);
    let opts = EncoderOptions {
        max_length: Some(6),
        ..EncoderOptions::default()
    };
    let enc = Encoder::from_dir(tmp.path(), opts).expect("load");
    assert_eq!(enc.max_length(), 6);
    // [CLS] + 4 words + [SEP]: the tails after the 4th word are cut, so both embed the same.
    let a = enc.embed(&["the product is good very bad"]).expect("a");
    let b = enc
        .embed(&["the product is good hello world i love it"])
        .expect("b");
    assert_close(&a[0], &b[0], 1e-6);
}

#[test]
fn thread_count_does_not_change_results() {
    let tmp = tempfile::tempdir().expect("tmp");
    fixture::write_tiny_model(tmp.path(), 11);
    let texts = ["hello world", "the product is good", "bad", "很好"];
    let one = EncoderOptions {
        num_threads: Some(1),
        ..EncoderOptions::default()
    };
    let two = EncoderOptions {
        num_threads: Some(2),
        ..EncoderOptions::default()
    };
    let a = Encoder::from_dir(tmp.path(), one)
        .expect("1")
        .embed(&texts)
        .expect("a");
    let b = Encoder::from_dir(tmp.path(), two)
        .expect("2")
        .embed(&texts)
        .expect("b");
    for (x, y) in a.iter().zip(&b) {
        assert_close(x, y, 1e-5);
    }
}

#[test]
fn model_id_is_content_addressed() {
    let tmp = tempfile::tempdir().expect("tmp");
    let a = tmp.path().join("m");
    let b = tmp.path().join("other").join("m");
    fixture::write_tiny_model(&a, 1);
    fixture::write_tiny_model(&b, 2);
    let ea = Encoder::from_dir(&a, EncoderOptions::default()).expect("a");
    let eb = Encoder::from_dir(&b, EncoderOptions::default()).expect("b");
    assert!(ea.model_id().starts_with("m@"));
    assert_ne!(ea.model_id(), eb.model_id());
    assert_ne!(cache_key("x", ea.model_id()), cache_key("x", eb.model_id()));
}

#[test]
fn cls_pooling_when_the_folder_asks_for_it() {
    let tmp = tempfile::tempdir().expect("tmp");
    fixture::write_tiny_model(tmp.path(), 5);
    let mean = Encoder::from_dir(tmp.path(), EncoderOptions::default()).expect("mean");
    std::fs::create_dir_all(tmp.path().join("1_Pooling")).expect("mkdir");
    std::fs::write(
        tmp.path().join("1_Pooling/config.json"),
        r#"{"word_embedding_dimension": 16, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}"#,
    )
    .expect("write");
    let cls = Encoder::from_dir(tmp.path(), EncoderOptions::default()).expect("cls");
    assert_eq!(cls.pooling(), tenure_lm::Pooling::Cls);
    let a = mean.embed(&["the product is good"]).expect("a");
    let b = cls.embed(&["the product is good"]).expect("b");
    assert!(dot(&a[0], &b[0]) < 0.9999);
}

// ---- corrupt folders: an error naming the problem, never a panic ----

fn load_err(dir: &Path) -> LmError {
    Encoder::from_dir(dir, EncoderOptions::default()).expect_err("must fail")
}

#[test]
fn missing_files_are_named() {
    for file in ["config.json", "tokenizer.json", "model.safetensors"] {
        let tmp = tempfile::tempdir().expect("tmp");
        fixture::write_tiny_model(tmp.path(), 1);
        std::fs::remove_file(tmp.path().join(file)).expect("rm");
        let e = load_err(tmp.path());
        assert!(
            matches!(e, LmError::MissingFile { file: f, .. } if f == file),
            "{e}"
        );
        assert!(e.to_string().contains(file));
    }
    let e = load_err(Path::new("/definitely/not/here"));
    assert!(matches!(e, LmError::Io { .. }), "{e}");
}

#[test]
fn corrupt_json_and_tokenizer_are_reported() {
    let tmp = tempfile::tempdir().expect("tmp");
    fixture::write_tiny_model(tmp.path(), 1);
    std::fs::write(tmp.path().join("config.json"), "{\"hidden_size\": 16,").expect("w");
    assert!(matches!(load_err(tmp.path()), LmError::BadJson { .. }));

    fixture::write_tiny_model(tmp.path(), 1);
    std::fs::write(tmp.path().join("tokenizer.json"), "not json at all").expect("w");
    assert!(matches!(load_err(tmp.path()), LmError::BadTokenizer { .. }));

    fixture::write_tiny_model(tmp.path(), 1);
    std::fs::write(tmp.path().join("sentence_bert_config.json"), "{").expect("w");
    assert!(matches!(load_err(tmp.path()), LmError::BadJson { .. }));
}

#[test]
fn truncated_or_garbage_weights_are_reported() {
    let tmp = tempfile::tempdir().expect("tmp");
    fixture::write_tiny_model(tmp.path(), 1);
    let path = tmp.path().join("model.safetensors");
    let bytes = std::fs::read(&path).expect("read");
    for cut in [0, 4, 8, 100, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&path, &bytes[..cut]).expect("w");
        let e = load_err(tmp.path());
        assert!(matches!(e, LmError::BadWeights { .. }), "cut {cut}: {e}");
    }
    std::fs::write(&path, vec![0xAB; 4096]).expect("w");
    assert!(matches!(load_err(tmp.path()), LmError::BadWeights { .. }));
}

#[test]
fn wrong_shapes_and_missing_tensors_are_reported() {
    let tmp = tempfile::tempdir().expect("tmp");
    fixture::write_tiny_model(tmp.path(), 1);
    // config.json claims a wider model than the weights hold.
    let cfg = std::fs::read_to_string(tmp.path().join("config.json")).expect("r");
    let wide = cfg.replace("\"hidden_size\":16", "\"hidden_size\":32");
    assert_ne!(cfg, wide);
    std::fs::write(tmp.path().join("config.json"), wide).expect("w");
    let e = load_err(tmp.path());
    assert!(matches!(e, LmError::ShapeMismatch { .. }), "{e}");

    // More layers than the weights have.
    let deep = cfg.replace("\"num_hidden_layers\":2", "\"num_hidden_layers\":3");
    std::fs::write(tmp.path().join("config.json"), deep).expect("w");
    let e = load_err(tmp.path());
    assert!(matches!(e, LmError::MissingTensor { .. }), "{e}");
    assert!(e.to_string().contains("layer.2"), "{e}");
}

#[test]
fn tokenizer_from_another_model_is_caught() {
    let tmp = tempfile::tempdir().expect("tmp");
    fixture::write_tiny_model(tmp.path(), 1);
    // Shrink the model's vocabulary below the tokenizer's.
    let cfg = std::fs::read_to_string(tmp.path().join("config.json")).expect("r");
    let n = fixture::vocab_size();
    let small = cfg.replace(&format!("\"vocab_size\":{n}"), "\"vocab_size\":5");
    std::fs::write(tmp.path().join("config.json"), small).expect("w");
    let e = load_err(tmp.path());
    assert!(matches!(e, LmError::ShapeMismatch { .. }), "{e}");
}

#[test]
fn int8_stays_within_cosine_0_99_of_fp32_and_has_its_own_model_id() {
    let tmp = tempfile::tempdir().expect("tmp");
    fixture::write_tiny_model(tmp.path(), 5);
    let texts = [
        "hello world",
        "the product is good",
        "bad",
        "很好 the product 很差",
        "",
    ];
    let fp32 = Encoder::from_dir(tmp.path(), EncoderOptions::default()).expect("fp32");
    let int8 = Encoder::from_dir(
        tmp.path(),
        EncoderOptions {
            precision: Precision::Int8,
            ..EncoderOptions::default()
        },
    )
    .expect("int8");
    assert_eq!(int8.model_id(), format!("{}+int8", fp32.model_id()));
    let a = fp32.embed(&texts).expect("a");
    let b = int8.embed(&texts).expect("b");
    for (x, y) in a.iter().zip(&b) {
        let cos: f32 = x.iter().zip(y).map(|(p, q)| p * q).sum();
        assert!(cos >= 0.99, "cosine {cos}");
        assert!(x != y, "int8 must actually quantize");
    }
}

#[test]
fn batches_run_side_by_side_give_the_sequential_result_every_time() {
    let tmp = tempfile::tempdir().expect("tmp");
    fixture::write_tiny_model(tmp.path(), 13);
    let texts: Vec<String> = (0..40)
        .map(|i| "the product is good ".repeat(1 + i % 7))
        .collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let opts = |threads| EncoderOptions {
        batch_size: 2,
        num_threads: Some(threads),
        ..EncoderOptions::default()
    };
    let want = Encoder::from_dir(tmp.path(), opts(1))
        .expect("1")
        .embed(&texts)
        .expect("sequential");
    let enc = Encoder::from_dir(tmp.path(), opts(2)).expect("2");
    for _ in 0..5 {
        assert_eq!(enc.embed(&texts).expect("parallel"), want);
    }
}
