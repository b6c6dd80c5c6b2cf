//! Concurrent data-parallel training (one thread per peer, Burn's collective): two and three
//! peers on the CPU, and two on wgpu (lavapipe in CI), give the loss and the parameters of the
//! single-device GradCache run on the same global batch after 3 steps, with dropout off and on.

use std::collections::BTreeMap;
use std::path::Path;

use burn::backend::{Autodiff, NdArray};
use rankwise_tests::{make_data, topic_run};
use rankwise_train::{Cluster, RunControl, TrainConfig, TrainParts, TrainingBackend};

/// The loss of every step and every exported parameter of a 3-step run of the topic data on
/// `devices`, concurrently (`parallel`) or in turn on one thread.
fn run<B: TrainingBackend>(
    root: &Path,
    name: &str,
    devices: &[B::Device],
    parallel: bool,
    dropout: f64,
) -> (Vec<f64>, BTreeMap<String, Vec<f32>>) {
    let (data, _) = make_data(&root.join(name), 0..24, 24..26);
    let mut c = TrainConfig::read(&topic_run(root, &data, name)).unwrap();
    c.max_steps = Some(3);
    c.dropout.hidden = Some(dropout);
    c.dropout.attention = Some(dropout);
    let control = RunControl {
        parallel: parallel.then(Cluster::local),
        ..Default::default()
    };
    let parts = TrainParts::<B>::load(&c, devices).unwrap();
    let out = rankwise_train::train(&c, parts, devices, &control, &mut ()).unwrap();
    assert_eq!(out.steps, 3);
    let bytes = std::fs::read(out.model_dir.unwrap().join("model.safetensors")).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let params = tensors
        .tensors()
        .into_iter()
        .map(|(k, v)| {
            let values = v
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            (k, values)
        })
        .collect();
    (out.losses, params)
}

/// `peers` concurrent peers (on `devices`) against one device with GradCache chunks.
fn same_as_one_device<B: TrainingBackend>(devices: Vec<B::Device>, dropout: f64) {
    let dir = tempfile::tempdir().unwrap();
    let one = run::<B>(dir.path(), "one", &devices[..1], false, dropout);
    let many = run::<B>(dir.path(), "many", &devices, true, dropout);
    let what = format!("{} peers, dropout {dropout}", devices.len());
    for (a, b) in one.0.iter().zip(&many.0) {
        assert!(
            (a - b).abs() <= 1e-5 * a.abs().max(1.0),
            "{what}: losses {:?} vs {:?}",
            one.0,
            many.0
        );
    }
    assert_eq!(one.1.len(), many.1.len());
    for ((name, a), (_, b)) in one.1.iter().zip(&many.1) {
        // A key bias adds the same amount to every score of a query row, which the softmax
        // ignores: its gradient is 0 up to rounding, and AdamW turns rounding noise (here, the
        // order in which the peers' gradients are summed) into steps of either sign.
        if name.ends_with("attention.self.key.bias") {
            continue;
        }
        let diff = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert!(diff <= 1e-5, "{what}: {name} differs by {diff}");
    }
    // The runs trained: the loss moved over the 3 steps.
    assert!(
        one.0[0] != one.0[2],
        "{what}: the loss did not move: {:?}",
        one.0
    );
}

#[test]
fn two_and_three_cpu_peers_equal_one_device() {
    type B = Autodiff<NdArray>;
    let cpu = Default::default();
    for dropout in [0.0, 0.1] {
        same_as_one_device::<B>(vec![cpu; 2], dropout);
        same_as_one_device::<B>(vec![cpu; 3], dropout);
    }
}

#[test]
fn two_wgpu_peers_equal_one_device() {
    type B = Autodiff<burn::backend::Wgpu>;
    if !rankwise_tests::wgpu_adapter_available() {
        return;
    }
    let device = burn::backend::wgpu::WgpuDevice::default();
    for dropout in [0.0, 0.1] {
        same_as_one_device::<B>(vec![device.clone(); 2], dropout);
    }
}
