//! The language models behind `POST /v1/text/sentiment` and `POST /v1/text/embed`: a catalogue
//! encoder from the local model cache (`tenure models pull`) and the sentiment head shipped for
//! it (the same heads `tenure analyze reviews` uses by default, compiled in). Each encoder is
//! loaded on first use and then shared by every request; a model that is not installed answers
//! 503 with what to run, and is looked for again on the next request. One request encodes at a
//! time: the encoder already spreads one batch over every core.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tenure_lm::{installed_dir, Encoder, EncoderOptions, Head, LmError};
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// Most texts in one request.
pub const MAX_TEXTS: usize = 64;
/// Longest text, in characters (the encoder reads at most [`MAX_TOKENS`] tokens of it anyway).
pub const MAX_CHARS: usize = 4_000;
/// Tokens read per text.
pub const MAX_TOKENS: usize = 256;

/// The catalogue encoders the routes serve, each with its shipped sentiment head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TextModel {
    /// all-MiniLM-L6-v2 (English), the default.
    #[serde(rename = "all-minilm-l6-v2")]
    MiniLm,
    /// m3e-small (Chinese).
    #[serde(rename = "m3e-small")]
    M3eSmall,
}

impl TextModel {
    /// Catalogue name.
    pub fn name(self) -> &'static str {
        match self {
            TextModel::MiniLm => "all-minilm-l6-v2",
            TextModel::M3eSmall => "m3e-small",
        }
    }

    fn head_bytes(self) -> Option<(&'static [u8], &'static [u8])> {
        tenure_engine::builtin_sentiment_head(self.name())
    }

    fn slot(self) -> usize {
        match self {
            TextModel::MiniLm => 0,
            TextModel::M3eSmall => 1,
        }
    }
}

/// A loaded encoder and its head.
pub struct Loaded {
    /// The encoder.
    pub encoder: Encoder,
    /// Its sentiment head.
    pub head: Head,
}

/// The loaded models, one slot per [`TextModel`].
pub struct TextModels {
    dir: Option<PathBuf>,
    slots: Arc<Slots>,
    busy: Arc<Semaphore>,
}

type Slots = [Mutex<Option<Arc<Loaded>>>; 2];

impl std::fmt::Debug for TextModels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextModels")
            .field("dir", &self.dir)
            .finish()
    }
}

/// Sentiment of one text.
#[derive(Debug, Clone, Serialize)]
pub struct Sentiment {
    /// The most probable label.
    pub label: String,
    /// Its probability.
    pub score: f64,
    /// Every label's probability.
    pub probabilities: serde_json::Map<String, serde_json::Value>,
}

fn unavailable(model: TextModel, e: &LmError) -> ApiError {
    ApiError::Unavailable {
        code: "model_not_installed",
        message: format!(
            "the {} encoder cannot be loaded ({e}); run `tenure models pull {}` on the server and retry",
            model.name(),
            model.name()
        ),
    }
}

/// Check a request's texts against the limits: 1 to [`MAX_TEXTS`] texts of at most
/// [`MAX_CHARS`] characters.
pub fn check_texts(texts: &[String]) -> Result<(), ApiError> {
    if texts.is_empty() {
        return Err(ApiError::client(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "texts is empty: send 1 to 64 texts",
        ));
    }
    if texts.len() > MAX_TEXTS {
        return Err(ApiError::client(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_texts",
            format!(
                "{} texts in one request; send at most {MAX_TEXTS}",
                texts.len()
            ),
        ));
    }
    if let Some((i, t)) = texts
        .iter()
        .enumerate()
        .find(|(_, t)| t.chars().count() > MAX_CHARS)
    {
        return Err(ApiError::client(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "text_too_long",
            format!(
                "text {i} has {} characters; send at most {MAX_CHARS} per text",
                t.chars().count()
            ),
        ));
    }
    Ok(())
}

/// The loaded model of a slot, loading it on first use.
fn load(slots: &Slots, dir: Option<&Path>, model: TextModel) -> Result<Arc<Loaded>, ApiError> {
    let slot = &slots[model.slot()];
    let mut guard = slot
        .lock()
        .map_err(|_| ApiError::Internal("text model slot poisoned".into()))?;
    if let Some(l) = guard.as_ref() {
        return Ok(Arc::clone(l));
    }
    let dir = dir.ok_or_else(|| ApiError::Unavailable {
        code: "model_not_installed",
        message: "no model cache: set TENURE_HOME or HOME, run `tenure models pull`, and restart"
            .into(),
    })?;
    let folder = installed_dir(dir, model.name()).map_err(|e| unavailable(model, &e))?;
    let encoder = Encoder::from_dir(
        &folder,
        EncoderOptions {
            max_length: Some(MAX_TOKENS),
            ..EncoderOptions::default()
        },
    )
    .map_err(|e| unavailable(model, &e))?;
    let (card, weights) = model.head_bytes().ok_or_else(|| {
        ApiError::Internal(format!("no sentiment head ships for {}", model.name()))
    })?;
    let head = Head::from_bytes(card, weights, model.name())
        .map_err(|e| ApiError::Internal(format!("shipped head of {}: {e}", model.name())))?;
    let loaded = Arc::new(Loaded { encoder, head });
    *guard = Some(Arc::clone(&loaded));
    Ok(loaded)
}

impl TextModels {
    /// Models from `dir` (the model cache), none loaded yet; `None` = no cache known.
    pub fn new(dir: Option<PathBuf>) -> Self {
        TextModels {
            dir,
            slots: Arc::new([Mutex::new(None), Mutex::new(None)]),
            busy: Arc::new(Semaphore::new(1)),
        }
    }

    /// Run `f` with the loaded model on a blocking thread, one request at a time.
    async fn with<T, F>(&self, model: TextModel, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Loaded) -> Result<T, ApiError> + Send + 'static,
    {
        let _permit = Arc::clone(&self.busy)
            .acquire_owned()
            .await
            .map_err(|_| ApiError::Internal("text semaphore closed".into()))?;
        // Loading reads the model folder: off the async workers too.
        let slots = Arc::clone(&self.slots);
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || f(&*load(&slots, dir.as_deref(), model)?))
            .await
            .map_err(|e| ApiError::Internal(format!("text worker failed: {e}")))?
    }

    /// Unit-length sentence embeddings of `texts`.
    pub async fn embed(
        &self,
        model: TextModel,
        texts: Vec<String>,
    ) -> Result<Vec<Vec<f32>>, ApiError> {
        self.with(model, move |l| {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            l.encoder
                .embed(&refs)
                .map_err(|e| ApiError::Internal(format!("embedding failed: {e}")))
        })
        .await
    }

    /// Sentiment of `texts` with the shipped head.
    pub async fn sentiment(
        &self,
        model: TextModel,
        texts: Vec<String>,
    ) -> Result<Vec<Sentiment>, ApiError> {
        self.with(model, move |l| {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let x = l
                .encoder
                .embed(&refs)
                .map_err(|e| ApiError::Internal(format!("embedding failed: {e}")))?;
            let p = l
                .head
                .predict_proba(&x)
                .map_err(|e| ApiError::Internal(format!("sentiment head failed: {e}")))?;
            let labels = l.head.labels();
            Ok(p.into_iter()
                .map(|row| {
                    let best = tenure_lm::argmax(&row);
                    Sentiment {
                        label: labels.get(best).cloned().unwrap_or_default(),
                        score: row.get(best).copied().unwrap_or(f64::NAN),
                        probabilities: labels
                            .iter()
                            .zip(&row)
                            .map(|(k, v)| (k.clone(), serde_json::json!(v)))
                            .collect(),
                    }
                })
                .collect())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_4xx_and_the_shipped_heads_load() {
        assert_eq!(
            check_texts(&[]).err().map(|e| e.status().as_u16()),
            Some(422)
        );
        let many = vec!["x".to_string(); MAX_TEXTS + 1];
        assert_eq!(
            check_texts(&many).err().map(|e| e.status().as_u16()),
            Some(413)
        );
        let long = vec!["é".repeat(MAX_CHARS + 1)];
        assert_eq!(
            check_texts(&long).err().map(|e| e.status().as_u16()),
            Some(413)
        );
        assert!(check_texts(&["fine".into(), String::new()]).is_ok());
        for m in [TextModel::MiniLm, TextModel::M3eSmall] {
            let (c, w) = m.head_bytes().expect("a head ships for every text model");
            let head = Head::from_bytes(c, w, m.name()).expect("shipped head");
            assert!(head.labels().len() >= 2);
        }
    }

    #[test]
    fn a_missing_model_is_503_naming_the_pull_command() {
        let dir = tempfile::tempdir().expect("tempdir");
        let models = TextModels::new(Some(dir.path().to_path_buf()));
        let e = load(&models.slots, models.dir.as_deref(), TextModel::MiniLm)
            .err()
            .expect("not installed");
        assert_eq!(e.status().as_u16(), 503);
        match e {
            ApiError::Unavailable { code, message } => {
                assert_eq!(code, "model_not_installed");
                assert!(message.contains("tenure models pull all-minilm-l6-v2"));
            }
            other => panic!("{other:?}"),
        }
    }
}
