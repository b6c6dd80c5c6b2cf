//! Loading the PyTorch WS2 fixtures (`reference/ws2/*.json`).
#![allow(dead_code)]

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Case {
    pub name: String,
    #[serde(rename = "B")]
    pub b: usize,
    pub n: usize,
    pub m: usize,
    pub in_batch: bool,
    pub temperature: f64,
    pub eps: f64,
    pub logits: Vec<Vec<f64>>,
    pub labels: Vec<Vec<i64>>,
    pub loss: f64,
    pub grad_logits: Vec<Vec<f64>>,
}

impl Case {
    pub fn logits_flat(&self) -> Vec<f64> {
        self.logits.iter().flatten().copied().collect()
    }
    pub fn labels_flat(&self) -> Vec<f64> {
        self.labels.iter().flatten().map(|&v| v as f64).collect()
    }
    pub fn grad_flat(&self) -> Vec<f64> {
        self.grad_logits.iter().flatten().copied().collect()
    }
    /// `in_batch` as the loss understands it: widened labels (`m != n`), or B = 1.
    pub fn widened(&self) -> bool {
        self.m != self.n || self.b == 1
    }
}

pub fn cases() -> Vec<Case> {
    let dir = rankwise_assets::reference("ws2").expect("WS2 fixtures");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert_eq!(
        paths.len(),
        10,
        "expected 10 WS2 fixture cases in {}",
        dir.display()
    );
    paths
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

/// `|loss − ref| ≤ rel·|ref| + abs`.
pub fn assert_loss(case: &str, got: f64, want: f64, rel: f64, abs: f64) {
    assert!(
        (got - want).abs() <= rel * want.abs() + abs,
        "{case}: loss {got:e} vs reference {want:e} (rel err {:e})",
        ((got - want) / want).abs()
    );
}

/// Normwise gradient check: `max|g − ref| ≤ rel · max|ref|`.
pub fn assert_grad(case: &str, got: &[f64], want: &[f64], rel: f64) {
    assert_eq!(got.len(), want.len(), "{case}: gradient length");
    let scale = want.iter().fold(0.0f64, |a, b| a.max(b.abs()));
    let err = got
        .iter()
        .zip(want)
        .fold(0.0f64, |a, (g, w)| a.max((g - w).abs()));
    eprintln!(
        "{case}: gradient max abs err / max abs ref = {:.2e}",
        err / scale
    );
    assert!(
        err <= rel * scale,
        "{case}: gradient max abs err {err:e} > {rel:e} · {scale:e} (ratio {:e})",
        err / scale
    );
}
