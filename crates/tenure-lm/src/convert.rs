//! Converting PyTorch checkpoints into the safetensors files the encoder loads.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{LmError, Result};

/// Reads a PyTorch `pytorch_model.bin` (the zip format `torch.save` writes) and writes its tensors
/// to `dst` as safetensors, unchanged in name, shape and dtype.
///
/// Pulls run it once for packages that ship only PyTorch weights, so the encoder itself reads only
/// safetensors, a format without code execution.
pub fn convert_pytorch_bin(src: &Path, dst: &Path) -> Result<()> {
    let bad = |e: candle_core::Error| LmError::BadWeights {
        path: src.to_path_buf(),
        reason: e.to_string(),
    };
    let tensors = candle_core::pickle::read_all(src).map_err(bad)?;
    if tensors.is_empty() {
        return Err(LmError::BadWeights {
            path: src.to_path_buf(),
            reason: "no tensors found".into(),
        });
    }
    let map: HashMap<String, candle_core::Tensor> = tensors.into_iter().collect();
    candle_core::safetensors::save(&map, dst).map_err(|e| LmError::BadWeights {
        path: dst.to_path_buf(),
        reason: e.to_string(),
    })
}
