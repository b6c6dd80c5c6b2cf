//! Loading the PyTorch WS2 fixtures (`reference/ws2/*.json`).
#![allow(dead_code)]

pub use rankwise_assets::fixtures::Ws2Case as Case;

pub fn cases() -> Vec<Case> {
    let dir = rankwise_assets::reference("ws2").expect("WS2 fixtures");
    let cases = rankwise_assets::fixtures::ws2_cases(&dir).unwrap();
    assert_eq!(
        cases.len(),
        10,
        "expected 10 WS2 fixture cases in {}",
        dir.display()
    );
    cases
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
