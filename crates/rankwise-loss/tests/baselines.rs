//! Baseline losses against direct f64 computations of their definitions.

use burn::backend::{Autodiff, NdArray};
use burn::tensor::{Int, Tensor, TensorData};
use rankwise_loss::{InfoNceConfig, ListNetConfig, LossError, RankNetConfig};

type B = Autodiff<NdArray<f64>>;

const BQ: usize = 3;
const N: usize = 4;

fn inputs() -> (Vec<f64>, Vec<i64>) {
    let m = BQ * N;
    let scores = (0..BQ * m)
        .map(|k| ((k * 7919) % 23) as f64 / 7.0 - 1.5)
        .collect();
    let labels = vec![3, 2, 1, 0, 0, 3, 1, 1, 2, 2, 0, 3];
    (scores, labels)
}

fn tensors(scores: &[f64], labels: &[i64], m: usize) -> (Tensor<B, 2>, Tensor<B, 2, Int>) {
    let device = Default::default();
    let dtype = burn::tensor::DType::F64;
    (
        Tensor::from_data(TensorData::new(scores.to_vec(), [BQ, m]), (&device, dtype))
            .require_grad(),
        Tensor::from_data(TensorData::new(labels.to_vec(), [BQ, N]), &device),
    )
}

fn widened(labels: &[i64], i: usize, j: usize) -> f64 {
    if j / N == i {
        labels[i * N + j % N] as f64
    } else {
        0.0
    }
}

fn scalar(t: Tensor<B, 1>) -> f64 {
    t.into_data().convert::<f64>().to_vec::<f64>().unwrap()[0]
}

#[test]
fn infonce_matches_definition() {
    let (s, y) = inputs();
    let m = BQ * N;
    let tau = 0.5;
    let mut want = 0.0;
    for i in 0..BQ {
        let all: f64 = (0..m).map(|j| (s[i * m + j] / tau).exp()).sum();
        let pos: f64 = (0..m)
            .filter(|&j| widened(&y, i, j) >= 2.0)
            .map(|j| (s[i * m + j] / tau).exp())
            .sum();
        want += -(pos / all).ln();
    }
    want /= BQ as f64;
    let (scores, labels) = tensors(&s, &y, m);
    let got = InfoNceConfig::new()
        .with_temperature(tau)
        .with_positive_threshold(2)
        .init()
        .unwrap()
        .forward(scores.clone(), labels)
        .unwrap();
    assert!(
        (scalar(got.clone()) - want).abs() < 1e-12,
        "{} vs {want}",
        scalar(got.clone())
    );
    let grads = got.backward();
    assert!(scores.grad(&grads).is_some());
}

#[test]
fn infonce_rejects_rows_without_positive() {
    let (s, mut y) = inputs();
    y[4..8].iter_mut().for_each(|v| *v = 0);
    let (scores, labels) = tensors(&s, &y, BQ * N);
    let err = InfoNceConfig::new()
        .init()
        .unwrap()
        .forward(scores, labels)
        .unwrap_err();
    assert!(
        matches!(err, LossError::Shape { .. }) && err.to_string().contains("row 1"),
        "{err}"
    );
}

#[test]
fn listnet_matches_definition() {
    let (s, y) = inputs();
    let m = BQ * N;
    let tau = 2.0;
    let mut want = 0.0;
    for i in 0..BQ {
        let zq: f64 = (0..m).map(|j| widened(&y, i, j).exp()).sum();
        let zp: f64 = (0..m).map(|j| (s[i * m + j] / tau).exp()).sum();
        for j in 0..m {
            let q = widened(&y, i, j).exp() / zq;
            let logp = s[i * m + j] / tau - zp.ln();
            want -= q * logp;
        }
    }
    want /= BQ as f64;
    let (scores, labels) = tensors(&s, &y, m);
    let got = scalar(
        ListNetConfig::new()
            .with_temperature(tau)
            .init()
            .unwrap()
            .forward(scores, labels)
            .unwrap(),
    );
    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
}

#[test]
fn ranknet_matches_definition() {
    let (s, y) = inputs();
    let m = BQ * N;
    let (mut total, mut pairs) = (0.0, 0.0);
    for i in 0..BQ {
        for j in 0..N {
            for k in 0..N {
                if y[i * N + j] > y[i * N + k] {
                    let d = s[i * m + i * N + j] - s[i * m + i * N + k];
                    total += (1.0 + (-d).exp()).ln();
                    pairs += 1.0;
                }
            }
        }
    }
    let (scores, labels) = tensors(&s, &y, m);
    let got = scalar(
        RankNetConfig::new()
            .init()
            .unwrap()
            .forward(scores, labels)
            .unwrap(),
    );
    assert!(
        (got - total / pairs).abs() < 1e-12,
        "{got} vs {}",
        total / pairs
    );
}

#[test]
fn baselines_reject_bad_shapes() {
    let (s, y) = inputs();
    let (scores, labels) = tensors(&s[..BQ * 5], &y, 5);
    assert!(
        ListNetConfig::new()
            .init()
            .unwrap()
            .forward(scores.clone(), labels.clone())
            .is_err()
    );
    assert!(
        RankNetConfig::new()
            .init()
            .unwrap()
            .forward(scores.clone(), labels.clone())
            .is_err()
    );
    assert!(
        InfoNceConfig::new()
            .init()
            .unwrap()
            .forward(scores, labels)
            .is_err()
    );
}

#[test]
fn infonce_is_finite_for_large_scores_and_small_temperature() {
    let (s, y) = inputs();
    let big: Vec<f64> = s.iter().map(|v| v * 100.0).collect();
    let (scores, labels) = tensors(&big, &y, BQ * N);
    let loss = InfoNceConfig::new()
        .with_temperature(0.01)
        .init()
        .unwrap()
        .forward(scores.clone(), labels)
        .unwrap();
    let value = scalar(loss.clone());
    let grad: Vec<f64> = scores
        .grad(&loss.backward())
        .unwrap()
        .into_data()
        .to_vec()
        .unwrap();
    assert!(
        value.is_finite() && grad.iter().all(|g| g.is_finite()),
        "loss {value}"
    );
}
