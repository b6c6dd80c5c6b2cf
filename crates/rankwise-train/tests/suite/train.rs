//! Training on a tiny BERT: the loss falls and a held-out ranking metric rises; kill-and-resume
//! gives the identical loss sequence; the exported model reloads with the same weights;
//! GradCache over two devices equals the one-pass gradient; bad settings and a diverging run
//! give clear errors.

use std::path::{Path, PathBuf};

use burn::backend::{Autodiff, NdArray};
use rankwise_data::{DatasetConfig, GroupedDataset, TrainBatcher};
use rankwise_encoder::{BiEncoder, EncoderOptions, Precision, Side};
use rankwise_eval::{EvalSettings, evaluate_dataset};
use rankwise_train::clip::grad_norm;
use rankwise_train::step::{StepDropout, batch_gradients};
use rankwise_train::{LossKind, Objective, OnExisting, RunControl, TrainConfig, TrainError, train};

type B = Autodiff<NdArray>;

fn tiny_model() -> PathBuf {
    rankwise_assets::reference("encoder/tiny-bert").unwrap()
}

const WORDS: &[&str] = &[
    "apple", "river", "engine", "violin", "glacier", "copper", "falcon", "desert", "harbor",
    "lantern", "meadow", "nickel", "orchid", "pepper", "quartz", "saddle", "tunnel", "walnut",
    "yacht", "zebra", "anchor", "basket", "candle", "dragon", "feather", "garlic", "helmet",
    "island", "jacket", "kettle", "ladder", "magnet", "needle", "oyster", "pillow", "rocket",
    "salmon", "tomato", "velvet", "window", "bridge", "carpet", "dolphin", "forest", "guitar",
    "hammer", "insect", "jungle",
];

/// Topic i: query "i-word", level 3 repeats it, 2 mentions it once, 1 mentions its neighbour,
/// 0 is about another topic. Topics `train` go to the training set; the rest form a held-out
/// BEIR collection.
fn make_data(
    root: &Path,
    train_topics: std::ops::Range<usize>,
    heldout: std::ops::Range<usize>,
) -> (PathBuf, PathBuf) {
    let n = WORDS.len();
    let passages = |t: usize| {
        let w = WORDS[t];
        let next = WORDS[(t + 1) % n];
        let far = WORDS[(t + n / 2) % n];
        [
            (3, format!("{w} {w} {w} is all about {w}")),
            (2, format!("a note on {w} and other things")),
            (1, format!("something about {next} near here")),
            (0, format!("{far} {far} unrelated text")),
        ]
    };
    let write = |dir: &Path, topics: std::ops::Range<usize>| {
        std::fs::create_dir_all(dir.join("qrels")).unwrap();
        let mut corpus = String::new();
        let mut queries = String::new();
        let mut qrels = String::from("query-id\tcorpus-id\tscore\n");
        for t in topics {
            queries.push_str(&format!(
                "{{\"_id\": \"q{t}\", \"text\": \"{}\"}}\n",
                WORDS[t]
            ));
            for (level, text) in passages(t) {
                corpus.push_str(&format!(
                    "{{\"_id\": \"q{t}-L{level}\", \"text\": \"{text}\"}}\n"
                ));
                qrels.push_str(&format!("q{t}\tq{t}-L{level}\t{level}\n"));
            }
        }
        std::fs::write(dir.join("corpus.jsonl"), corpus).unwrap();
        std::fs::write(dir.join("queries.jsonl"), queries).unwrap();
        for split in ["train", "test"] {
            std::fs::write(dir.join(format!("qrels/{split}.tsv")), &qrels).unwrap();
        }
    };
    let train_dir = root.join("train");
    let held = root.join("heldout");
    write(&train_dir, train_topics);
    write(&held, heldout);
    let data = root.join("data.toml");
    std::fs::write(
        &data,
        "kind = \"multilevel\"\ngroup_size = 4\nseed = 1\n[[sources]]\ncorpus = \"train/corpus.jsonl\"\n\
         queries = \"train/queries.jsonl\"\nqrels = \"train/qrels/train.tsv\"\n",
    )
    .unwrap();
    (data, held)
}

fn config(root: &Path, data: &Path, out: &str) -> TrainConfig {
    let mut c = TrainConfig::new(tiny_model(), data, root.join(out));
    c.global_batch = 8;
    c.chunk_size = 0;
    c.optimizer.lr = 2e-3;
    c.optimizer.warmup_ratio = 0.1;
    c.query_max_length = 16;
    c.passage_max_length = 16;
    c.seed = 5;
    c
}

fn ndcg(model: &BiEncoder<NdArray>, collection: &Path) -> f64 {
    let settings = EvalSettings {
        progress: false,
        k: 20,
        ..Default::default()
    };
    evaluate_dataset(model, "m", None, collection, &settings, &Default::default())
        .unwrap()
        .summary
        .ndcg_10
}

#[test]
fn loss_falls_and_heldout_ndcg_rises() {
    let dir = tempfile::tempdir().unwrap();
    let (data, held) = make_data(dir.path(), 0..32, 32..48);
    let mut c = config(dir.path(), &data, "ws2");
    c.epochs = 6;
    let before = ndcg(
        &BiEncoder::load(&tiny_model(), &Default::default()).unwrap(),
        &held,
    );
    let out = train::<B>(&c, &[Default::default()], &RunControl::default()).unwrap();
    assert_eq!(out.steps, 24);
    let first: f64 = out.losses[..4].iter().sum::<f64>() / 4.0;
    let last: f64 = out.losses[out.losses.len() - 4..].iter().sum::<f64>() / 4.0;
    assert!(
        last < 0.8 * first,
        "loss {first} -> {last}: {:?}",
        out.losses
    );
    let trained =
        BiEncoder::<NdArray>::load(out.model_dir.as_ref().unwrap(), &Default::default()).unwrap();
    let after = ndcg(&trained, &held);
    assert!(
        after > before + 0.02,
        "held-out nDCG@10 {before} -> {after}"
    );
    // Logs: one JSON line per step with the schedule's learning rate.
    let log = std::fs::read_to_string(c.output_dir.join("metrics.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 24);
    assert_eq!(lines[0]["lr"], 0.0, "linear warm-up starts at 0");
    assert!(
        (lines[3]["lr"].as_f64().unwrap() - 2e-3).abs() < 1e-12,
        "peak after ceil(0.1·24) = 3 warm-up steps"
    );
    assert!(lines[23]["lr"].as_f64().unwrap() < 2e-4);
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
    let a = train::<B>(&full, &[Default::default()], &RunControl::default()).unwrap();
    assert_eq!(a.losses.len(), 8);

    let mut cut = full.clone();
    cut.output_dir = dir.path().join("cut");
    let stopped = train::<B>(
        &cut,
        &[Default::default()],
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
    let b = train::<B>(&cut, &[Default::default()], &resume()).unwrap();
    assert_eq!(b.losses, a.losses, "identical loss sequence after resume");
    assert_eq!((b.resumed_from, b.steps_run()), (Some(4), 4));
    // The finished run is not replaced without being asked, nor resumed with other settings.
    let model_file = cut.output_dir.join("model/model.safetensors");
    let written = std::fs::metadata(&model_file).unwrap().modified().unwrap();
    let e = train::<B>(&cut, &[Default::default()], &RunControl::default()).unwrap_err();
    assert!(
        matches!(e, TrainError::Output { .. }) && e.to_string().contains("--resume"),
        "{e}"
    );
    let mut other = cut.clone();
    other.optimizer.lr *= 2.0;
    other.checkpoint_every = 3;
    let e = train::<B>(&other, &[Default::default()], &resume())
        .unwrap_err()
        .to_string();
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
    let e = train::<B>(&fresh, &[Default::default()], &resume())
        .unwrap_err()
        .to_string();
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
        );
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
        let e = train::<B>(&c, &[Default::default()], &RunControl::default())
            .unwrap_err()
            .to_string();
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
    let err = train::<B>(&c, &[Default::default()], &RunControl::default()).unwrap_err();
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
