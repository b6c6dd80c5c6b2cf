//! The fused CubeCL kernel on wgpu (lavapipe in CI) against the PyTorch fixtures and the CPU path.
//!
//! Without a Vulkan/Metal/DX adapter the tests print a notice and pass, unless
//! `RANKWISE_REQUIRE_WGPU=1` (set by CI), where a missing adapter fails them.
#![cfg(feature = "wgpu")]

mod common;

use burn::backend::wgpu::{CubeBackend, WgpuDevice, WgpuRuntime};
use burn::backend::{Autodiff, NdArray, Wgpu};
use burn::tensor::{Int, Tensor, TensorData, backend::Backend};
use common::*;
use rankwise_loss::{LossError, WassersteinLossConfig, Ws2Backend};

/// The kernel without the fusion wrapper.
type Direct = CubeBackend<WgpuRuntime, f32, i32, u32>;

fn adapter_available() -> bool {
    let probe = std::panic::catch_unwind(|| {
        Tensor::<Wgpu, 1>::from_floats([1.0, 2.0], &WgpuDevice::default())
            .sum()
            .into_scalar()
    });
    match probe {
        Ok(v) => {
            assert_eq!(v, 3.0, "wgpu device computes wrong sums");
            true
        }
        Err(_) if std::env::var("RANKWISE_REQUIRE_WGPU").is_ok_and(|v| v == "1") => {
            panic!(
                "RANKWISE_REQUIRE_WGPU=1 but no wgpu adapter could be created (install mesa-vulkan-drivers)"
            )
        }
        Err(_) => {
            eprintln!(
                "SKIPPED: no wgpu adapter on this machine (set RANKWISE_REQUIRE_WGPU=1 to make this fail)"
            );
            false
        }
    }
}

fn run<B: Ws2Backend + burn::tensor::backend::AutodiffBackend>(
    case: &Case,
    device: &B::Device,
) -> (f64, Vec<f64>) {
    let scores = Tensor::<B, 2>::from_data(
        TensorData::new(
            case.logits_flat()
                .iter()
                .map(|&v| v as f32)
                .collect::<Vec<_>>(),
            [case.b, case.m],
        ),
        device,
    )
    .require_grad();
    let labels = Tensor::<B, 2, Int>::from_data(
        TensorData::new(
            case.labels
                .iter()
                .flatten()
                .map(|&v| v as i32)
                .collect::<Vec<_>>(),
            [case.b, case.n],
        ),
        device,
    );
    let loss = WassersteinLossConfig::new()
        .with_temperature(case.temperature)
        .with_in_batch(case.widened())
        .with_epsilon(case.eps)
        .init()
        .unwrap()
        .forward(scores.clone(), labels)
        .unwrap();
    let grads = loss.backward();
    let grad = scores
        .grad(&grads)
        .unwrap()
        .into_data()
        .convert::<f64>()
        .to_vec()
        .unwrap();
    (
        loss.into_data().convert::<f64>().to_vec::<f64>().unwrap()[0],
        grad,
    )
}

fn check_backend<B: Ws2Backend + burn::tensor::backend::AutodiffBackend>(
    device: &B::Device,
    label: &str,
) {
    for case in cases() {
        let (loss, grad) = run::<B>(&case, device);
        let name = format!("{label}/{}", case.name);
        assert_loss(&name, loss, case.loss, 1e-4, 1e-12);
        assert_grad(&name, &grad, &case.grad_flat(), 1e-4);
        // and against the CPU path in the same run
        let (cpu_loss, cpu_grad) = run::<Autodiff<NdArray<f64>>>(&case, &Default::default());
        assert_loss(&format!("{name} vs cpu"), loss, cpu_loss, 1e-4, 1e-12);
        assert_grad(&format!("{name} vs cpu"), &grad, &cpu_grad, 1e-4);
    }
}

#[test]
fn fused_kernel_matches_reference_on_wgpu_with_fusion() {
    if adapter_available() {
        check_backend::<Autodiff<Wgpu>>(&WgpuDevice::default(), "wgpu+fusion");
    }
}

#[test]
fn fused_kernel_matches_reference_on_wgpu_without_fusion() {
    if adapter_available() {
        check_backend::<Autodiff<Direct>>(&WgpuDevice::default(), "wgpu");
    }
}

#[test]
fn fused_kernel_handles_degenerate_batches() {
    if !adapter_available() {
        return;
    }
    let device = WgpuDevice::default();
    // B = 1, all scores equal, τ = 0.01 with large scores: finite loss and gradient.
    for (b, n, value, tau) in [
        (1usize, 4usize, 0.3f32, 1.0f64),
        (5, 4, 0.75, 1.0),
        (6, 3, 40.0, 0.01),
    ] {
        let m = if b == 1 { n } else { b * n };
        let scores: Vec<f32> = (0..b * m)
            .map(|k| value * (1.0 + (k % 3) as f32 * (tau < 1.0) as u8 as f32))
            .collect();
        let scores =
            Tensor::<Autodiff<Wgpu>, 2>::from_data(TensorData::new(scores, [b, m]), &device)
                .require_grad();
        let labels: Vec<i32> = (0..b * n).map(|k| (k % 4) as i32).collect();
        let labels =
            Tensor::<Autodiff<Wgpu>, 2, Int>::from_data(TensorData::new(labels, [b, n]), &device);
        let loss = WassersteinLossConfig::new()
            .with_temperature(tau)
            .init()
            .unwrap()
            .forward(scores.clone(), labels)
            .unwrap();
        let grads = loss.backward();
        let g: Vec<f32> = scores.grad(&grads).unwrap().into_data().to_vec().unwrap();
        let l: f32 = loss.into_scalar();
        assert!(
            l.is_finite() && g.iter().all(|v| v.is_finite()),
            "b={b} τ={tau}: loss {l}"
        );
    }
    let _ = <Wgpu as Backend>::name(&device);
}

#[test]
fn non_finite_scores_on_the_device_are_named_by_the_on_device_check_or_reach_the_loss() {
    if !adapter_available() {
        return;
    }
    let device = WgpuDevice::default();
    let mut values = vec![0.5f32; 4 * 16];
    values[9] = f32::NAN;
    let scores = Tensor::<Autodiff<Wgpu>, 2>::from_data(TensorData::new(values, [4, 16]), &device);
    let labels: Vec<i32> = (0..16).map(|k| 3 - (k % 4)).collect();
    let labels =
        Tensor::<Autodiff<Wgpu>, 2, Int>::from_data(TensorData::new(labels, [4, 4]), &device);
    // The check runs on the device and names the first bad score.
    let err = WassersteinLossConfig::new()
        .init()
        .unwrap()
        .forward(scores.clone(), labels.clone())
        .unwrap_err();
    assert_eq!(
        err,
        LossError::NonFinite {
            loss: "WS2",
            input: "scores",
            row: 0,
            col: 9
        }
    );
    // Turned off, the NaN reaches the loss, where a training loop's own check refuses it.
    let loss = WassersteinLossConfig::new()
        .with_check_finite(false)
        .init()
        .unwrap()
        .forward(scores, labels)
        .unwrap();
    let l: f32 = loss.into_scalar();
    assert!(!l.is_finite(), "loss {l}");
}
