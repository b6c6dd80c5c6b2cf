//! Stage 1: the fused WS2 kernel against the f64 PyTorch fixtures (`reference/ws2/*.json`),
//! with the tolerances of the wgpu kernel tests (loss `1e-4·|ref| + 1e-12`, gradient
//! `max|Δ| ≤ 1e-4·max|ref|`).

use anyhow::Context;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Int, Tensor, TensorData};
pub use rankwise_assets::fixtures::Ws2Case as Case;
use rankwise_loss::{WassersteinLossConfig, Ws2Backend};

use crate::{Check, Inputs, Outcome, max_abs, max_abs_diff, values};

/// Loss and gradient of one case on backend `B`.
pub fn loss_and_grad<B: AutodiffBackend + Ws2Backend>(
    case: &Case,
    device: &B::Device,
) -> anyhow::Result<(f64, Vec<f64>)> {
    let logits: Vec<f32> = case.logits_flat().iter().map(|&v| v as f32).collect();
    let scores =
        Tensor::<B, 2>::from_data(TensorData::new(logits, [case.b, case.m]), device).require_grad();
    let labels: Vec<i32> = case.labels.iter().flatten().map(|&v| v as i32).collect();
    let labels = Tensor::<B, 2, Int>::from_data(TensorData::new(labels, [case.b, case.n]), device);
    let loss = WassersteinLossConfig::new()
        .with_temperature(case.temperature)
        .with_in_batch(case.widened())
        .with_epsilon(case.eps)
        .init()
        .expect("valid settings")
        .forward(scores.clone(), labels)?;
    let grads = loss.backward();
    let grad = scores.grad(&grads).context("no gradient for the scores")?;
    Ok((values(loss)[0], values(grad)))
}

/// Runs every fixture case.
pub fn run<B: AutodiffBackend + Ws2Backend>(
    device: &B::Device,
    inputs: &Inputs,
) -> anyhow::Result<Outcome> {
    let mut out = Outcome::default();
    for case in rankwise_assets::fixtures::ws2_cases(&inputs.reference.join("ws2"))? {
        let (loss, grad) = loss_and_grad::<B>(&case, device)?;
        out.checks.push(Check::new(
            format!("{} loss |Δ|", case.name),
            (loss - case.loss).abs(),
            1e-4 * case.loss.abs() + 1e-12,
        ));
        let want = case.grad_flat();
        out.checks.push(Check::new(
            format!("{} gradient max|Δ| / max|ref|", case.name),
            max_abs_diff(&grad, &want) / max_abs(&want).max(f64::MIN_POSITIVE),
            1e-4,
        ));
    }
    Ok(out)
}
