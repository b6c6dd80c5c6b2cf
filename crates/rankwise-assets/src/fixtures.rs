//! Readers of the reference fixtures' formats, shared by the tests that use them and the GPU
//! check.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A fixture file that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// The file or folder cannot be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a fixture of the expected format.
    #[error("{path}: not a WS2 fixture case: {detail}")]
    Format {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The folder holds no case.
    #[error("no WS2 fixture cases (*.json) in {0}")]
    Empty(PathBuf),
}

/// One WS2 case of `reference/ws2/*.json`, computed by PyTorch in float64.
#[derive(Debug, Clone, Deserialize)]
pub struct Ws2Case {
    /// Case name.
    pub name: String,
    /// Queries.
    #[serde(rename = "B")]
    pub b: usize,
    /// Labels per query.
    pub n: usize,
    /// Score columns.
    pub m: usize,
    /// Whether the reference widened the labels for in-batch negatives.
    pub in_batch: bool,
    /// Softmax temperature.
    pub temperature: f64,
    /// ε under the square root.
    pub eps: f64,
    /// Scores `[B, m]`.
    pub logits: Vec<Vec<f64>>,
    /// Labels `[B, n]`.
    pub labels: Vec<Vec<i64>>,
    /// Reference loss.
    pub loss: f64,
    /// Reference gradient `[B, m]`.
    pub grad_logits: Vec<Vec<f64>>,
}

impl Ws2Case {
    /// Scores, row-major.
    pub fn logits_flat(&self) -> Vec<f64> {
        self.logits.iter().flatten().copied().collect()
    }

    /// Labels as floats, row-major.
    pub fn labels_flat(&self) -> Vec<f64> {
        self.labels.iter().flatten().map(|&v| v as f64).collect()
    }

    /// Reference gradient, row-major.
    pub fn grad_flat(&self) -> Vec<f64> {
        self.grad_logits.iter().flatten().copied().collect()
    }

    /// `in_batch` as the loss understands it: widened labels (`m != n`), or B = 1.
    pub fn widened(&self) -> bool {
        self.m != self.n || self.b == 1
    }
}

/// Every case of `folder` (`*.json`), in file-name order.
pub fn ws2_cases(folder: &Path) -> Result<Vec<Ws2Case>, FixtureError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| FixtureError::Io { path, source }
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(folder)
        .map_err(io(folder))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    if paths.is_empty() {
        return Err(FixtureError::Empty(folder.to_path_buf()));
    }
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).map_err(io(p))?;
            serde_json::from_str(&text).map_err(|e| FixtureError::Format {
                path: p.clone(),
                detail: e.to_string(),
            })
        })
        .collect()
}

/// The integers of a fixture value, in row order: a number, a list of numbers, or a list of rows
/// (PyTorch's `tolist()` of a `[rows, len]` tensor); anything else adds nothing.
pub fn ints(v: &serde_json::Value) -> Vec<i64> {
    use serde_json::Value;
    let mut out = Vec::new();
    for x in v.as_array().map_or(std::slice::from_ref(v), Vec::as_slice) {
        match x {
            Value::Array(a) => out.extend(a.iter().filter_map(Value::as_i64)),
            y => out.extend(y.as_i64()),
        }
    }
    out
}

/// Rows of a fixture's `[rows, len]` list (1 for anything that is not a list of rows).
pub fn rows(v: &serde_json::Value) -> usize {
    v.as_array().map_or(1, Vec::len).max(1)
}
