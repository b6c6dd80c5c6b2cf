//! Training on a tiny BERT (held-out retrieval after training: `tests/tests/train_then_evaluate.rs`): kill-and-resume
//! gives the identical loss sequence; the exported model reloads with the same weights;
//! GradCache over two devices equals the one-pass gradient; bad settings and a diverging run
//! give clear errors.

use std::path::Path;

use burn::backend::{Autodiff, NdArray};
use rankwise_data::{DatasetConfig, GroupedDataset};
use rankwise_encoder::{BiEncoder, EncoderOptions, Precision, Side};
use rankwise_tests::{make_data, tiny_model, topic_run};
use rankwise_train::TrainBatcher;
use rankwise_train::clip::grad_norm;
use rankwise_train::step::{StepDropout, batch_gradients};
use rankwise_train::{
    LossKind, Objective, OnExisting, RunControl, TrainConfig, TrainError, TrainOutcome, TrainParts,
};

type B = Autodiff<NdArray>;

fn config(root: &Path, data: &Path, out: &str) -> TrainConfig {
    TrainConfig::read(&topic_run(root, data, out)).unwrap()
}

/// Trains with `c` on one CPU device, without hooks, parts loaded from the config.
fn train(c: &TrainConfig, control: &RunControl) -> Result<TrainOutcome, TrainError> {
    let devices = [Default::default()];
    let parts = TrainParts::<B>::load(c, &devices)?;
    rankwise_train::train(c, parts, &devices, control, &mut ())
}

fn resume() -> RunControl {
    RunControl {
        existing: OnExisting::Resume,
        ..Default::default()
    }
}

#[test]
fn kill_and_resume_gives_identical_losses_and_export_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let (data, _) = make_data(dir.path(), 0..32, 32..40);
    let mut full = config(dir.path(), &data, "full");
    full.epochs = 2;
    full.checkpoint_every = 2;
    let a = train(&full, &RunControl::default()).unwrap();
    assert_eq!(a.losses.len(), 8);

    let mut cut = full.clone();
    cut.output_dir = dir.path().join("cut");
    let stopped = train(
        &cut,
        &RunControl {
            stop_after: Some(5),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(stopped.steps, 5);
    assert!(stopped.model_dir.is_none());
    // Step 5 finished but was not checkpointed (every 2): resume redoes it from step 4.
    let latest = std::fs::read_to_string(cut.output_dir.join("checkpoints/latest")).unwrap();
    assert_eq!(latest, "step-00000004");
    let b = train(&cut, &resume()).unwrap();
    assert_eq!(b.losses, a.losses, "identical loss sequence after resume");
    assert_eq!((b.resumed_from, b.steps_run()), (Some(4), 4));
    // The finished run is not replaced without being asked, nor resumed with other settings.
    let model_file = cut.output_dir.join("model/model.safetensors");
    let written = std::fs::metadata(&model_file).unwrap().modified().unwrap();
    let e = train(&cut, &RunControl::default()).unwrap_err();
    assert!(
        matches!(e, TrainError::Output { .. }) && e.to_string().contains("--resume"),
        "{e}"
    );
    let mut other = cut.clone();
    other.optimizer.lr *= 2.0;
    other.checkpoint_every = 3;
    let e = train(&other, &resume()).unwrap_err().to_string();
    assert!(
        e.contains("optimizer.lr: ") && !e.contains("checkpoint_every"),
        "{e}"
    );
    assert_eq!(
        std::fs::metadata(&model_file).unwrap().modified().unwrap(),
        written
    );
    // Nothing to resume is said, not silently started afresh.
    let mut fresh = cut.clone();
    fresh.output_dir = dir.path().join("fresh");
    let e = train(&fresh, &resume()).unwrap_err().to_string();
    assert!(e.contains("nothing to resume"), "{e}");
    assert!(!fresh.output_dir.exists());
    let log = std::fs::read_to_string(cut.output_dir.join("metrics.jsonl")).unwrap();
    let steps: Vec<u64> = log
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["step"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(steps, (1..=8).collect::<Vec<_>>(), "no step logged twice");

    // The exported folder reloads and embeds exactly as the uninterrupted run's export.
    let ea =
        BiEncoder::<NdArray>::load(a.model_dir.as_ref().unwrap(), &Default::default()).unwrap();
    let eb =
        BiEncoder::<NdArray>::load(b.model_dir.as_ref().unwrap(), &Default::default()).unwrap();
    let texts = ["apple engine", "a note on violin"];
    let va = ea
        .embed(Side::Passage, &texts, &Default::default())
        .unwrap();
    let vb = eb
        .embed(Side::Passage, &texts, &Default::default())
        .unwrap();
    va.into_data().assert_eq(&vb.into_data(), true);
    // ... and differs from the base model (training changed the weights).
    let base = BiEncoder::<NdArray>::load(&tiny_model(), &Default::default()).unwrap();
    let v0 = base
        .embed(Side::Passage, &texts, &Default::default())
        .unwrap();
    let va = ea
        .embed(Side::Passage, &texts, &Default::default())
        .unwrap();
    assert!((va - v0).abs().max().into_scalar() > 1e-4);
}

#[test]
fn gradcache_over_two_devices_equals_one_pass() {
    let dir = tempfile::tempdir().unwrap();
    let (data, _) = make_data(dir.path(), 0..16, 16..20);
    let device = Default::default();
    let mut options = EncoderOptions::detect(&tiny_model()).unwrap();
    options.query_max_length = 16;
    options.passage_max_length = 16;
    let encoder = BiEncoder::<B>::load_with(&tiny_model(), options, &device).unwrap();
    let dataset = DatasetConfig::read(&data).unwrap().load().unwrap();
    let items: Vec<_> = (0..8).map(|i| dataset.item(i, 0)).collect();
    let batch = TrainBatcher::for_encoder(&encoder)
        .tokenize(&items)
        .unwrap();
    // With dropout the masks are keyed by row, so every split sees the same ones.
    let dropped = StepDropout::new(0.1, 0.1, 7, 3, 0);
    let mut norms = Vec::new();
    for (kind, dropout) in [
        (LossKind::Ws2, None),
        (LossKind::Infonce, None),
        (LossKind::Ws2, dropped),
        (LossKind::Infonce, dropped),
    ] {
        let objective = Objective::new(
            &rankwise_train::LossSettings {
                kind,
                ..Default::default()
            },
            1.0,
        )
        .unwrap();
        let model = encoder.model.clone();
        let one = batch_gradients(
            std::slice::from_ref(&model),
            &encoder.options,
            &batch,
            &objective,
            true,
            &[device],
            0,
            dropout.as_ref(),
        )
        .unwrap();
        // Two devices (the CPU twice), each with one replica; plus chunks of 3 queries.
        let two = batch_gradients(
            &[model.clone(), model.clone()],
            &encoder.options,
            &batch,
            &objective,
            true,
            &[device, device],
            3,
            dropout.as_ref(),
        )
        .unwrap();
        let what = format!("{kind:?}, dropout {}", dropout.is_some());
        assert!(
            (one.loss - two.loss).abs() <= 1e-6 * one.loss.abs().max(1e-3),
            "{what}: {} vs {}",
            one.loss,
            two.loss
        );
        let n1 = grad_norm::<B, _>(&model, &one.grads);
        let n2 = grad_norm::<B, _>(&model, &two.grads);
        assert!(n1 > 0.0);
        assert!(
            (n1 - n2).abs() <= 1e-4 * n1,
            "{what}: grad norms {n1} vs {n2}"
        );
        // Element-wise on the word embeddings and the last layer's output weights.
        let w = &model.query.embeddings.word.weight;
        let g1 = one.grads.get::<NdArray, 2>(w.id).unwrap();
        let g2 = two.grads.get::<NdArray, 2>(w.id).unwrap();
        let diff = (g1.clone() - g2).abs().max().into_scalar();
        let scale = g1.abs().max().into_scalar();
        assert!(
            diff <= 1e-4 * scale,
            "{what}: max |Δgrad| {diff} (max |grad| {scale})"
        );
        norms.push((one.loss, n1));
    }
    // The masks take effect: dropout changes the loss and the gradient.
    for k in 0..2 {
        assert!(
            (norms[k].0 - norms[k + 2].0).abs() > 1e-6
                && (norms[k].1 - norms[k + 2].1).abs() > 1e-6,
            "dropout changed nothing: {norms:?}"
        );
    }
}

#[test]
fn config_errors_name_the_key() {
    let base = Path::new("");
    let e = TrainConfig::from_toml(
        "model = \"m\"\ndata = \"d\"\noutput_dir = \"o\"\nlr = 1\n",
        Path::new("t.toml"),
        base,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("unknown field `lr`"), "{e}");
    let e = TrainConfig::from_toml(
        "model = \"m\"\ndata = \"d\"\noutput_dir = \"o\"\n[loss]\nkind = \"hinge\"\n",
        Path::new("t.toml"),
        base,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("hinge") && e.contains("ws2") && e.contains("infonce"),
        "{e}"
    );
    let e = TrainConfig::from_toml(
        "model = \"m\"\ndata = \"d\"\noutput_dir = \"o\"\n[optimizer]\nlr = -1.0\n",
        Path::new("t.toml"),
        base,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("`optimizer.lr`: must be > 0"), "{e}");
    let e = TrainConfig::from_toml(
        "model = \"m\"\ndata = \"d\"\noutput_dir = \"o\"\nprecision = \"fp8\"\n",
        Path::new("t.toml"),
        base,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("fp8") && e.contains("f32") && e.contains("bf16"),
        "{e}"
    );
}

#[test]
fn half_precision_on_the_cpu_backend_is_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let (data, _) = make_data(dir.path(), 0..8, 8..10);
    for precision in [Precision::F16, Precision::Bf16] {
        let mut c = config(dir.path(), &data, "half");
        c.precision = precision;
        let e = train(&c, &RunControl::default()).unwrap_err().to_string();
        assert!(
            e.contains("`precision`") && e.contains("not supported") && e.contains("f32"),
            "{e}"
        );
        assert!(!dir.path().join("half").join("metrics.jsonl").exists());
    }
}

#[test]
fn diverging_run_stops_with_a_clear_error_and_keeps_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (data, _) = make_data(dir.path(), 0..32, 32..36);
    let mut c = config(dir.path(), &data, "nan");
    c.epochs = 20;
    c.optimizer.lr = 1e18;
    c.optimizer.warmup_ratio = 0.0;
    c.optimizer.max_grad_norm = 0.0;
    c.checkpoint_every = 1;
    c.loss.kind = LossKind::Listnet;
    let err = train(&c, &RunControl::default()).unwrap_err();
    match &err {
        TrainError::NonFinite {
            step,
            last_checkpoint,
            ..
        } => {
            assert!(*step >= 2, "{err}");
            assert!(
                last_checkpoint.as_ref().is_some_and(|p| p.is_dir()),
                "{err}"
            );
        }
        other => panic!("expected a non-finite loss error, got {other}"),
    }
    assert!(err.to_string().contains("non-finite loss"));
}
