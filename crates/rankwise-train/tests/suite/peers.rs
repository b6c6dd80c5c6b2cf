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
    run_with::<B>(
        root,
        name,
        devices,
        parallel,
        dropout,
        RunControl::default(),
    )
}

/// [`run`] with `control` (its `parallel` set from `parallel`), a checkpoint every step.
fn run_with<B: TrainingBackend>(
    root: &Path,
    name: &str,
    devices: &[B::Device],
    parallel: bool,
    dropout: f64,
    control: RunControl,
) -> (Vec<f64>, BTreeMap<String, Vec<f32>>) {
    let (data, _) = make_data(&root.join(name), 0..24, 24..26);
    let mut c = TrainConfig::read(&topic_run(&root.join(name), &data, "run")).unwrap();
    c.max_steps = Some(3);
    c.checkpoint_every = 1;
    c.dropout.hidden = Some(dropout);
    c.dropout.attention = Some(dropout);
    let control = RunControl {
        parallel: parallel.then(Cluster::local),
        ..control
    };
    let parts = TrainParts::<B>::load(&c, devices).unwrap();
    let out = rankwise_train::train(&c, parts, devices, &control, &mut ()).unwrap();
    if out.steps < 3 {
        return (out.losses, BTreeMap::new());
    }
    let params = rankwise_tests::safetensors_f32(&out.model_dir.unwrap().join("model.safetensors"));
    (out.losses, params)
}

/// `peers` concurrent peers (on `devices`) against one device with GradCache chunks.
fn same_as_one_device<B: TrainingBackend>(devices: Vec<B::Device>, dropout: f64) {
    let dir = tempfile::tempdir().unwrap();
    let one = run::<B>(dir.path(), "one", &devices[..1], false, dropout);
    let many = run::<B>(dir.path(), "many", &devices, true, dropout);
    let what = format!("{} peers, dropout {dropout}", devices.len());
    rankwise_tests::assert_same_run((&one.0, &one.1), (&many.0, &many.1), &what);
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

#[test]
fn a_run_of_two_peers_resumes_on_three_and_on_one_device() {
    type B = Autodiff<NdArray>;
    let cpu = Default::default();
    let dir = tempfile::tempdir().unwrap();
    let whole = run::<B>(dir.path(), "one", &[cpu], false, 0.1);
    for (name, devices, parallel) in [("three", vec![cpu; 3], true), ("single", vec![cpu], false)] {
        // The same output folder (`run`) for both halves: two peers stop after step 1.
        let root = dir.path().join(name);
        let stop = RunControl {
            stop_after: Some(1),
            ..Default::default()
        };
        let first = run_with::<B>(&root, "data", &[cpu; 2], true, 0.1, stop);
        assert_eq!(first.0.len(), 1);
        let resume = RunControl {
            existing: rankwise_train::OnExisting::Resume,
            ..Default::default()
        };
        let rest = run_with::<B>(&root, "data", &devices, parallel, 0.1, resume);
        assert_eq!(rest.0.len(), 3, "{name}: the losses of all 3 steps");
        rankwise_tests::assert_same_run((&whole.0, &whole.1), (&rest.0, &rest.1), name);
    }
}
