//! WS2 against the PyTorch float64 reference fixtures: the Burn CPU path (f64: the host path
//! itself; f32),
//! the backend-agnostic surrogate path, degenerate inputs and bad input.

mod common;

use burn::backend::{Autodiff, NdArray};
use burn::tensor::{Int, Tensor, TensorData};
use common::*;
use rankwise_loss::{LossError, WassersteinLoss, WassersteinLossConfig};

fn loss_for(case: &Case) -> WassersteinLoss {
    WassersteinLossConfig::new()
        .with_temperature(case.temperature)
        .with_in_batch(case.widened())
        .with_epsilon(case.eps)
        .init()
        .unwrap()
}

/// Runs `forward` + `backward` on `Autodiff<NdArray<F>>`, returns (loss, grad).
fn burn_loss_and_grad<F>(case: &Case, any: bool) -> (f64, Vec<f64>)
where
    F: burn::backend::ndarray::FloatNdArrayElement,
    burn::backend::ndarray::NdArrayTensor: From<burn::backend::ndarray::SharedArray<F>>,
{
    type I = i64;
    let device = Default::default();
    let dtype = <F as burn::tensor::Element>::dtype();
    let scores = Tensor::<Autodiff<NdArray<F, I>>, 2>::from_data(
        TensorData::new(case.logits_flat(), [case.b, case.m]),
        (&device, dtype),
    )
    .require_grad();
    let labels = Tensor::<Autodiff<NdArray<F, I>>, 2, Int>::from_data(
        TensorData::new(
            case.labels.iter().flatten().copied().collect::<Vec<i64>>(),
            [case.b, case.n],
        ),
        &device,
    );
    let loss_fn = loss_for(case);
    let loss = if any {
        loss_fn.forward_any(scores.clone(), labels).unwrap()
    } else {
        loss_fn.forward(scores.clone(), labels).unwrap()
    };
    let grads = loss.backward();
    let grad = scores
        .grad(&grads)
        .unwrap()
        .into_data()
        .convert::<f64>()
        .to_vec()
        .unwrap();
    let loss = loss.into_data().convert::<f64>().to_vec::<f64>().unwrap()[0];
    (loss, grad)
}

#[test]
fn burn_cpu_f64_matches_reference_to_1e9() {
    for case in cases() {
        let (loss, grad) = burn_loss_and_grad::<f64>(&case, false);
        assert_loss(&case.name, loss, case.loss, 1e-9, 1e-12);
        assert_grad(&case.name, &grad, &case.grad_flat(), 1e-9);
    }
}

#[test]
fn burn_cpu_f32_matches_reference_to_1e4() {
    for case in cases() {
        let (loss, grad) = burn_loss_and_grad::<f32>(&case, false);
        assert_loss(&case.name, loss, case.loss, 1e-4, 1e-12);
        assert_grad(&case.name, &grad, &case.grad_flat(), 1e-4);
    }
}

#[test]
fn backend_agnostic_surrogate_matches_reference() {
    for case in cases() {
        let (loss, grad) = burn_loss_and_grad::<f64>(&case, true);
        assert_loss(&case.name, loss, case.loss, 1e-9, 1e-12);
        assert_grad(&case.name, &grad, &case.grad_flat(), 1e-9);
    }
}

#[test]
fn degenerate_inputs_stay_finite() {
    // f32 scores, as a model gives them; the host path computes in f64 either way.
    type B = Autodiff<NdArray>;
    let device = Default::default();
    let (b, n) = (3, 4);
    let m = b * n;
    let labels: Vec<i64> = (0..b * n).map(|k| 3 - (k % 4) as i64).collect();
    let equal_labels = vec![2i64; b * n];
    let huge: Vec<f64> = (0..b * m)
        .map(|k| if k % 5 == 0 { 1e4 } else { -1e4 })
        .collect();
    let ramp: Vec<f64> = (0..b * m).map(|k| (k % 7) as f64 * 0.1).collect();
    let finite =
        |scores: Vec<f64>, labels: &[i64], rows: usize, cols: usize, n: usize, tau: f64| {
            let scores = TensorData::new(scores, [rows, cols]).convert::<f32>();
            let scores = Tensor::<B, 2>::from_data(scores, &device).require_grad();
            let labels = Tensor::<B, 2, Int>::from_data(
                TensorData::new(labels.to_vec(), [rows, n]),
                &device,
            );
            let loss = WassersteinLossConfig::new()
                .with_temperature(tau)
                .with_in_batch(cols != n)
                .init()
                .unwrap()
                .forward(scores.clone(), labels)
                .unwrap();
            let grad: Vec<f32> = scores
                .grad(&loss.backward())
                .unwrap()
                .to_data()
                .to_vec()
                .unwrap();
            let loss: f32 = loss.into_scalar();
            assert!(
                loss.is_finite() && grad.iter().all(|g| g.is_finite()),
                "{loss} {grad:?}"
            );
        };
    for (scores, labels, tau) in [
        (vec![0.5; b * m], &labels, 1.0),
        (ramp.clone(), &equal_labels, 1.0),
        (huge, &labels, 1.0),
        (ramp, &labels, 0.01),
    ] {
        finite(scores, labels, b, m, n, tau);
    }
    // B = 1
    finite(vec![1.0, 2.0, 3.0, 4.0], &[3, 2, 1, 0], 1, 4, 4, 1.0);
}

#[test]
fn bad_input_gives_clear_errors() {
    type B = NdArray;
    let device = Default::default();
    let loss = WassersteinLossConfig::new().init().unwrap();
    let labels = Tensor::<B, 2, Int>::from_ints([[3, 2, 1, 0], [0, 1, 2, 3]], &device);

    // in-batch needs B·n = 8 columns
    let scores = Tensor::<B, 2>::zeros([2, 4], &device);
    let err = loss.forward(scores, labels.clone()).unwrap_err();
    assert!(matches!(err, LossError::Shape { .. }), "{err}");
    assert!(err.to_string().contains("[2, 4]"), "{err}");

    // row count mismatch
    let scores = Tensor::<B, 2>::zeros([3, 12], &device);
    let err = loss.forward(scores, labels.clone()).unwrap_err();
    assert!(err.to_string().contains("3 rows"), "{err}");

    // non-finite
    let mut values = vec![0.0f32; 16];
    values[9] = f32::NAN;
    let scores = Tensor::<B, 2>::from_data(TensorData::new(values, [2, 8]), &device);
    let err = loss.forward(scores, labels.clone()).unwrap_err();
    assert_eq!(
        err,
        LossError::NonFinite {
            loss: "WS2",
            input: "scores",
            row: 1,
            col: 1
        }
    );

    // bad temperature
    let err = WassersteinLossConfig::new()
        .with_temperature(0.0)
        .init()
        .unwrap_err();
    assert!(
        matches!(
            err,
            LossError::Config {
                field: "temperature",
                ..
            }
        ),
        "{err}"
    );
}
