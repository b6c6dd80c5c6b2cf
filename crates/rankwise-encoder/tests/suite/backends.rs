//! The encoder on a CubeCL backend (wgpu; in CI over lavapipe): the composed default bodies of
//! `EncoderBackend` and their custom backward give the embeddings and weight gradients of the
//! NdArray kernels, and mixed precision (half-precision projection products, f32 master
//! weights) stays close to f32 where the device runs half precision.
#![cfg(feature = "wgpu")]

use burn::backend::{Autodiff, NdArray, Wgpu};
use burn::tensor::backend::AutodiffBackend;
use rankwise_encoder::{BiEncoder, EncoderBackend, EncoderOptions, Precision, Side};

const TEXTS: [&str; 3] = [
    "dense retrieval with graded relevance",
    "a much longer passage about list-wise training of bi-encoders on synthetic data written by a language model",
    "short",
];

/// Pooled embeddings and two weight gradients of `Σ e²`.
fn run<B: AutodiffBackend + EncoderBackend>(precision: Precision) -> [Vec<f32>; 3] {
    let device = Default::default();
    let options = EncoderOptions {
        query_max_length: 128,
        passage_max_length: 128,
        precision,
        ..Default::default()
    };
    let dir = rankwise_assets::reference("encoder/tiny-bert").expect("tiny-bert fixture");
    let enc = BiEncoder::<B>::load_with(&dir, options, &device).unwrap();
    let batch = enc.tokenize(Side::Passage, &TEXTS).unwrap();
    assert!(
        batch.lengths.iter().any(|&l| l < batch.len),
        "padding is exercised"
    );
    let e = BiEncoder::forward(&enc.model, &enc.options, Side::Passage, &batch, &device);
    let grads = (e.clone() * e.clone()).sum().backward();
    let layer = &enc.model.query.layers[0];
    let flat = |d: burn::tensor::TensorData| d.convert::<f32>().into_vec::<f32>().unwrap();
    let g1 = layer.intermediate.weight.grad(&grads).unwrap();
    let g2 = layer.attention.query.weight.grad(&grads).unwrap();
    assert_eq!(
        g1.dtype(),
        burn::tensor::DType::F32,
        "master gradients stay f32"
    );
    [
        flat(e.into_data()),
        flat(g1.into_data()),
        flat(g2.into_data()),
    ]
}

fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(scale > 0.0, "{what}: all zero");
    let worst = got
        .iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst <= tol * scale,
        "{what}: max error {worst} vs scale {scale}"
    );
}

#[test]
fn wgpu_composed_blocks_match_the_ndarray_kernels() {
    if !rankwise_tests::wgpu_adapter_available() {
        return;
    }
    let want = run::<Autodiff<NdArray>>(Precision::F32);
    let got = run::<Autodiff<Wgpu>>(Precision::F32);
    for (i, what) in ["embeddings", "intermediate grad", "query grad"]
        .iter()
        .enumerate()
    {
        assert_close(&got[i], &want[i], 1e-4, what);
    }
}

#[test]
fn f16_projections_stay_close_to_f32_with_f32_master_gradients() {
    if !rankwise_tests::wgpu_adapter_available() {
        return;
    }
    let device = Default::default();
    // lavapipe (CI) and CUDA GPUs run f16; bf16 is refused where the device lacks it.
    assert!(
        Precision::F16.supported::<Wgpu>(&device),
        "the test device runs f16"
    );
    let want = run::<Autodiff<Wgpu>>(Precision::F32);
    let got = run::<Autodiff<Wgpu>>(Precision::F16);
    for (i, what) in ["embeddings", "intermediate grad", "query grad"]
        .iter()
        .enumerate()
    {
        assert_close(&got[i], &want[i], 2e-2, what);
    }
    // Not the f32 result itself: the products did run in half precision.
    assert!(
        got[0] != want[0],
        "f16 embeddings equal the f32 ones bit for bit"
    );
}
