//! tenure-models
