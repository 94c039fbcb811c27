//! Checks on the real catalogue models, run only where they have been pulled.

use std::path::PathBuf;

use tenure_lm::{catalog, installed_dir, Encoder, EncoderOptions};

fn models_dir() -> PathBuf {
    match std::env::var_os("TENURE_HOME") {
        Some(h) => PathBuf::from(h).join("models"),
        None => {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/tenure/models")
        }
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn real_models_rank_paraphrases_above_unrelated_text() {
    let dir = models_dir();
    for entry in catalog() {
        let Ok(path) = installed_dir(&dir, entry.name) else {
            println!(
                "skipped {}: not installed in {} (run `tenure models pull {}`)",
                entry.name,
                dir.display(),
                entry.name
            );
            continue;
        };
        let enc =
            Encoder::from_dir(&path, EncoderOptions::default()).expect("catalogue model loads");
        assert_eq!(enc.dim(), entry.dim);
        let v = enc
            .embed(&[
                "The delivery was fast and the product works great.",
                "Shipping was quick and the item is excellent.",
                "The tax office closes at five on Fridays.",
            ])
            .expect("embed");
        assert!(
            dot(&v[0], &v[1]) > dot(&v[0], &v[2]) + 0.1,
            "{}",
            entry.name
        );
    }
}
