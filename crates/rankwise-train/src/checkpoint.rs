//! Checkpoints: `checkpoints/step-NNNNNNNN/{model.bin, optimizer.bin, state.json}`, written
//! into a temporary folder and renamed, then named in `checkpoints/latest` (also replaced
//! atomically). A run killed at any moment leaves the previous checkpoint intact.

use std::path::{Path, PathBuf};

use burn::module::AutodiffModule;
use burn::optim::Optimizer;
use burn::record::{BinFileRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};

use crate::error::TrainError;

/// Where the run stands; with the seed this fixes the data order and every random draw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Optimiser steps done.
    pub step: u64,
    /// Total steps of the run.
    pub total_steps: u64,
    /// Seed of the run (checked on resume).
    pub seed: u64,
    /// Loss of every step so far.
    pub losses: Vec<f64>,
    /// The run's resolved configuration (JSON), compared on resume. Absent in checkpoints of
    /// older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
}

fn recorder() -> BinFileRecorder<FullPrecisionSettings> {
    BinFileRecorder::<FullPrecisionSettings>::new()
}

fn ck_err(path: &Path, detail: impl std::fmt::Display) -> TrainError {
    TrainError::Checkpoint {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
}

/// The checkpoint folder of a run.
pub fn dir(output: &Path) -> PathBuf {
    output.join("checkpoints")
}

/// Writes a checkpoint and points `latest` at it; keeps the `keep` most recent.
pub fn save<B, M, O>(
    output: &Path,
    model: &M,
    optim: &O,
    state: &TrainState,
    keep: usize,
) -> Result<PathBuf, TrainError>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    O: Optimizer<M, B>,
{
    let root = dir(output);
    let name = format!("step-{:08}", state.step);
    let final_dir = root.join(&name);
    let tmp = root.join(format!("{name}.tmp"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
    recorder()
        .record(model.clone().into_record(), tmp.join("model"))
        .map_err(|e| ck_err(&tmp, e))?;
    recorder()
        .record(optim.to_record(), tmp.join("optimizer"))
        .map_err(|e| ck_err(&tmp, e))?;
    let state_json = serde_json::to_vec_pretty(state).expect("serialisable");
    std::fs::write(tmp.join("state.json"), state_json).map_err(|e| TrainError::io(&tmp, e))?;
    if final_dir.exists() {
        std::fs::remove_dir_all(&final_dir).map_err(|e| TrainError::io(&final_dir, e))?;
    }
    std::fs::rename(&tmp, &final_dir).map_err(|e| TrainError::io(&final_dir, e))?;
    rankwise_files::write_atomic(&root.join("latest"), name.as_bytes())?;
    // Prune older checkpoints.
    let mut all: Vec<PathBuf> = std::fs::read_dir(&root)
        .map_err(|e| TrainError::io(&root, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("step-") && !n.ends_with(".tmp"))
        })
        .collect();
    all.sort();
    let excess = all.len().saturating_sub(keep.max(1));
    for old in &all[..excess] {
        std::fs::remove_dir_all(old).map_err(|e| TrainError::io(old, e))?;
    }
    Ok(final_dir)
}

/// The checkpoint `latest` points to, if any.
pub fn latest(output: &Path) -> Result<Option<PathBuf>, TrainError> {
    let file = dir(output).join("latest");
    if !file.exists() {
        return Ok(None);
    }
    let name = std::fs::read_to_string(&file).map_err(|e| TrainError::io(&file, e))?;
    let path = dir(output).join(name.trim());
    if !path.is_dir() {
        return Err(ck_err(&path, "named in `latest` but missing"));
    }
    Ok(Some(path))
}

/// Loads model weights, optimiser state and run state from a checkpoint folder.
pub fn load<B, M, O>(
    path: &Path,
    model: M,
    optim: O,
    device: &B::Device,
) -> Result<(M, O, TrainState), TrainError>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    O: Optimizer<M, B>,
{
    let state_file = path.join("state.json");
    let text = std::fs::read_to_string(&state_file).map_err(|e| TrainError::io(&state_file, e))?;
    let state: TrainState =
        serde_json::from_str(&text).map_err(|e| ck_err(path, format!("state.json: {e}")))?;
    let model_record = recorder()
        .load(path.join("model"), device)
        .map_err(|e| ck_err(path, format!("model.bin: {e}")))?;
    let optim_record = recorder()
        .load(path.join("optimizer"), device)
        .map_err(|e| ck_err(path, format!("optimizer.bin: {e}")))?;
    Ok((
        model.load_record(model_record),
        optim.load_record(optim_record),
        state,
    ))
}
