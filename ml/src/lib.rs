//! The ML layer's model: a degradation-pace regressor trained where data scientists work (scikit-learn), exchanged
//! as ONNX and run here with tract. It stays a leaf crate: it knows nothing of the twin but the features it is given.
//!
//! A pace model is an ONNX graph with one input, `[1, n]` doubles (the features, in order), and one output, the
//! predicted natural log of the defect's growth rate at the rated point, ln(1/h). Its version travels inside the
//! file as ONNX `metadata_props`:
//!
//! | key | value |
//! |---|---|
//! | `twin.version` | the model's version, e.g. "pace-2026-12-03" |
//! | `twin.target` | `ln_pace_per_h` |
//! | `twin.features` | JSON list of `{"name", "unit"}`, in input order |
//! | `twin.residual_sd_ln` | standard deviation of the log-pace around the prediction (cross-validated) |
//! | `twin.heldout_mae_ln` | mean absolute error of the log-pace on the training fleet's held-out pumps |
//! | `twin.training_fleet` | what it was trained on (e.g. "twin fleet scenes/run_to_failure.ron --pumps 120 --seed 1") |
//!
//! The file's SHA-256 is its digest: two files with the same digest are the same model.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tract_onnx::prelude::*;

/// The target a pace model must predict.
pub const TARGET: &str = "ln_pace_per_h";

/// Why a model cannot be used; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum MlError {
    /// The file cannot be read.
    #[error("{}: cannot read the pace model: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// The file is not an ONNX model tract can run.
    #[error("{}: not a usable ONNX model: {message}", path.display())]
    Onnx { path: PathBuf, message: String },
    /// The model's version metadata is missing or wrong.
    #[error("{}: {message}", path.display())]
    Metadata { path: PathBuf, message: String },
    /// The model's features are not the twin's.
    #[error("{}: the model's features do not match the twin's: {message}", path.display())]
    Features { path: PathBuf, message: String },
    /// Running the model failed, or it gave no finite number.
    #[error("{}: inference failed: {message}", path.display())]
    Inference { path: PathBuf, message: String },
}

/// One input feature: its name and unit (as the training script and the twin both write them).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Feature {
    /// Name, e.g. "winding_temp_c".
    pub name: String,
    /// Unit, e.g. "degC" ("1" for a ratio).
    pub unit: String,
}

/// What identifies a pace model, for the report, the workbench and the checkpoint.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelInfo {
    /// The file it was loaded from.
    pub path: PathBuf,
    /// SHA-256 of the file, hex.
    pub digest: String,
    /// `twin.version`.
    pub version: String,
    /// `twin.features`, in input order.
    pub features: Vec<Feature>,
    /// Standard deviation of the log-pace around the prediction.
    pub residual_sd_ln: f64,
    /// Mean absolute log-pace error on held-out pumps.
    pub heldout_mae_ln: f64,
    /// What it was trained on.
    pub training_fleet: String,
}

/// A loaded pace model, ready to run.
#[derive(Clone)]
pub struct PaceModel {
    /// Its identity and version.
    pub info: ModelInfo,
    plan: Arc<TypedRunnableModel>,
}

impl std::fmt::Debug for PaceModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaceModel").field("info", &self.info).finish_non_exhaustive()
    }
}

impl PaceModel {
    /// Loads the model at `path` and checks that its features are `expected` (name, unit), in order.
    pub fn load(path: &Path, expected: &[(&str, &str)]) -> Result<Self, MlError> {
        let bytes = std::fs::read(path).map_err(|source| MlError::Io { path: path.to_owned(), source })?;
        Self::from_bytes(path, &bytes, expected)
    }

    /// Loads a model from its bytes; `path` names it in messages.
    pub fn from_bytes(path: &Path, bytes: &[u8], expected: &[(&str, &str)]) -> Result<Self, MlError> {
        let onnx_err = |e: TractError| MlError::Onnx { path: path.to_owned(), message: format!("{e:#}") };
        let meta_err = |message: String| MlError::Metadata { path: path.to_owned(), message };
        let onnx = tract_onnx::onnx();
        let proto = onnx.proto_model_for_read(&mut &bytes[..]).map_err(onnx_err)?;
        let meta: HashMap<&str, &str> =
            proto.metadata_props.iter().map(|p| (p.key.as_str(), p.value.as_str())).collect();
        let get = |key: &str| {
            meta.get(key)
                .copied()
                .ok_or_else(|| meta_err(format!("no \"{key}\" in its metadata (train it with scripts/train_pace.py)")))
        };
        let number = |key: &str| -> Result<f64, MlError> {
            let text = get(key)?;
            text.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| meta_err(format!("\"{key}\" is \"{text}\", not a non-negative number")))
        };
        let target = get("twin.target")?;
        if target != TARGET {
            return Err(meta_err(format!("it predicts \"{target}\", the twin needs \"{TARGET}\"")));
        }
        let features: Vec<Feature> = serde_json::from_str(get("twin.features")?)
            .map_err(|e| meta_err(format!("\"twin.features\" is not a list of {{name, unit}}: {e}")))?;
        let wanted: Vec<String> = expected.iter().map(|(n, u)| format!("{n} [{u}]")).collect();
        let got: Vec<String> = features.iter().map(|f| format!("{} [{}]", f.name, f.unit)).collect();
        if wanted != got {
            return Err(MlError::Features {
                path: path.to_owned(),
                message: format!("it takes {}; the twin gives {}", got.join(", "), wanted.join(", ")),
            });
        }
        let info = ModelInfo {
            path: path.to_owned(),
            digest: Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect(),
            version: get("twin.version")?.to_owned(),
            residual_sd_ln: number("twin.residual_sd_ln")?,
            heldout_mae_ln: number("twin.heldout_mae_ln")?,
            training_fleet: get("twin.training_fleet")?.to_owned(),
            features,
        };
        let n = expected.len();
        let plan = onnx
            .model_for_proto_model(&proto)
            .and_then(|m| m.with_input_fact(0, f64::fact([1, n]).into()))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(onnx_err)?;
        let model = Self { info, plan };
        // A model that loads but cannot run on its own input shape is as unusable as one that does not load.
        model.predict(&vec![0.0; n])?;
        Ok(model)
    }

    /// The predicted log-pace, ln(1/h), for these feature values (in the model's order).
    pub fn predict(&self, x: &[f64]) -> Result<f64, MlError> {
        let fail = |message: String| MlError::Inference { path: self.info.path.clone(), message };
        let input = Tensor::from_shape(&[1, x.len()], x).map_err(|e| fail(format!("{e:#}")))?;
        let out = self.plan.run(tvec!(input.into())).map_err(|e| fail(format!("{e:#}")))?;
        let first = out.first().ok_or_else(|| fail("no output".into()))?;
        if !matches!(first.datum_type(), DatumType::F64 | DatumType::F32) || first.len() != 1 {
            return Err(fail(format!(
                "its output is {:?} of shape {:?}, not one number",
                first.datum_type(),
                first.shape()
            )));
        }
        let y = first.nth(0).and_then(|t| t.cast_to_scalar::<f64>()).ok();
        y.filter(|v| v.is_finite()).ok_or_else(|| fail("its output is not a finite number".into()))
    }

    /// The first 12 hex digits of the digest (enough to tell models apart on screen).
    pub fn short_digest(&self) -> &str {
        &self.info.digest[..12.min(self.info.digest.len())]
    }
}
