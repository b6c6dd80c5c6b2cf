//! Step parity with the authors' own library: four optimiser steps of the paper's recipe
//! (AdamW, DeepSpeed `WarmupDecayLR` with log warm-up, clipping at 1.0, accumulation 2, in-batch
//! negatives, dropout off) on the tiny BERT, against the same steps run by Trove
//! (`scripts/trove_parity.py` wrote `fixtures/trove_parity.json`): loss, learning rate, gradient
//! norm and the change of every parameter at every step, for WS2 and InfoNCE, on one device
//! without chunks, on one device in GradCache chunks, and on two devices.

use std::collections::HashMap;
use std::path::Path;

use burn::backend::{Autodiff, NdArray};
use burn::module::AutodiffModule;
use burn::optim::AdamWConfig;
use rankwise_data::TrainItem;
use rankwise_encoder::{BiEncoder, BiEncoderModel, EncoderOptions, Pooling};
use rankwise_tests::tiny_model;
use rankwise_train::{
    LossKind, LossSettings, LrSchedule, Objective, StepSettings, TrainBatcher, WarmupShape,
};
use serde_json::Value;

type B = Autodiff<NdArray>;

fn fixture() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/trove_parity.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every f32 tensor of a safetensors file, by name, widened to f64.
fn tensors(path: &Path) -> HashMap<String, Vec<f64>> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(name, view)| {
            assert_eq!(view.dtype(), safetensors::Dtype::F32, "{name}");
            let values = view
                .data()
                .chunks_exact(4)
                .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                .collect();
            (name, values)
        })
        .collect()
}

/// Sum, L2 norm and weighted sum (r_i = ((i·2654435761) mod 2³²)/2³² − 0.5) of a change.
fn checksums(delta: &[f64]) -> [f64; 3] {
    let mut out = [0.0; 3];
    for (i, d) in delta.iter().enumerate() {
        let r = ((i as u64 * 2_654_435_761) % (1 << 32)) as f64 / 4_294_967_296.0 - 0.5;
        out[0] += d;
        out[1] += d * d;
        out[2] += d * r;
    }
    out[1] = out[1].sqrt();
    out
}

fn close(got: f64, want: f64, rel: f64, what: &str) {
    assert!(
        (got - want).abs() <= rel * want.abs().max(1e-3),
        "{what}: rankwise {got} vs Trove {want} (rel {:.2e})",
        (got - want).abs() / want.abs().max(1e-12)
    );
}

fn batches(run: &Value, batcher: &TrainBatcher) -> Vec<rankwise_train::TrainBatch> {
    run["micro_batches"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(m, mb)| {
            let strings = |k: &str| -> Vec<String> {
                mb[k]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_string())
                    .collect()
            };
            let (queries, passages) = (strings("queries"), strings("passages"));
            let labels: Vec<Vec<i64>> = mb["labels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    r.as_array()
                        .unwrap()
                        .iter()
                        .map(|l| l.as_i64().unwrap())
                        .collect()
                })
                .collect();
            let g = labels[0].len();
            let items: Vec<TrainItem> = queries
                .iter()
                .enumerate()
                .map(|(i, q)| TrainItem {
                    query_id: format!("m{m}q{i}"),
                    query: q.clone(),
                    passage_ids: (0..g).map(|k| format!("m{m}q{i}p{k}")).collect(),
                    passages: passages[i * g..(i + 1) * g].to_vec(),
                    labels: labels[i].clone(),
                })
                .collect();
            let batch = batcher.tokenize(&items).unwrap();
            // The same token ids as the reference tokenizer (padding to a multiple of 8).
            for (side, tokens, key) in [
                ("queries", &batch.queries, "query_ids"),
                ("passages", &batch.passages, "passage_ids"),
            ] {
                let want: Vec<i64> = mb[key]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_i64().unwrap()))
                    .collect();
                let got = tokens.input_ids.clone();
                assert_eq!(got, want, "micro-batch {m}: {side} token ids");
            }
            batch
        })
        .collect()
}

fn check_run(run: &Value, recipe: &Value, devices: usize, chunk: usize) {
    let loss = run["loss"].as_str().unwrap();
    let kind = if loss == "ws2" {
        LossKind::Ws2
    } else {
        LossKind::Infonce
    };
    let what = format!("{loss}, {devices} device(s), chunk {chunk}");
    let mut options = EncoderOptions::detect(&tiny_model()).unwrap();
    options.pooling = Pooling::Mean;
    options.normalize = false;
    let max_length = recipe["max_length"].as_u64().unwrap() as usize;
    options.query_max_length = max_length;
    options.passage_max_length = max_length;
    let device = Default::default();
    let encoder = BiEncoder::<B>::load_with(&tiny_model(), options, &device).unwrap();
    let micro = batches(run, &TrainBatcher::for_encoder(&encoder));
    let objective = Objective::new(
        &LossSettings {
            kind,
            temperature: Some(1.0),
            positive_threshold: 1,
            in_batch: true,
        },
        1.0,
    )
    .unwrap();
    let devs = vec![device; devices];
    let accumulation = recipe["grad_accumulation"].as_u64().unwrap() as usize;
    let settings = StepSettings::<B> {
        options: &encoder.options,
        objective: &objective,
        in_batch: true,
        devices: &devs,
        chunk_size: chunk,
        grad_accumulation: accumulation,
        max_grad_norm: recipe["max_grad_norm"].as_f64().unwrap(),
        dropout: (0.0, 0.0),
        seed: 42,
    };
    let schedule = LrSchedule::new(
        recipe["peak_lr"].as_f64().unwrap(),
        recipe["warmup_ratio"].as_f64().unwrap(),
        recipe["total_steps"].as_u64().unwrap(),
        WarmupShape::Logarithmic,
    );
    let mut optim = AdamWConfig::new()
        .with_beta_1(0.9)
        .with_beta_2(0.999)
        .with_epsilon(1e-8)
        .with_weight_decay(0.0)
        .init::<B, BiEncoderModel<B>>();
    let start = tensors(&tiny_model().join("model.safetensors"));
    let out = tempfile::tempdir().unwrap();
    let mut model = encoder.model.clone();
    println!("{what}\nstep | Trove loss | rankwise loss | rel. diff | grad-norm rel. diff");
    for (s, want) in run["steps"].as_array().unwrap().iter().enumerate() {
        let lr = schedule.lr(s as u64);
        close(
            lr,
            want["lr"].as_f64().unwrap(),
            1e-12,
            &format!("{what}: lr of step {}", s + 1),
        );
        let (next, stats) = settings
            .step(
                model,
                &mut optim,
                s as u64,
                &micro[s * accumulation..(s + 1) * accumulation],
                lr,
            )
            .unwrap();
        model = next;
        let want_loss = want["loss"].as_f64().unwrap();
        let want_norm = want["grad_norm"].as_f64().unwrap();
        println!(
            "{} | {want_loss:.9} | {:.9} | {:.1e} | {:.1e}",
            s + 1,
            stats.loss,
            (stats.loss - want_loss).abs() / want_loss.abs(),
            (stats.grad_norm - want_norm).abs() / want_norm.abs()
        );
        close(
            stats.loss,
            want_loss,
            1e-5,
            &format!("{what}: loss of step {}", s + 1),
        );
        close(
            stats.grad_norm,
            want_norm,
            1e-5,
            &format!("{what}: gradient norm of step {}", s + 1),
        );
        let dir = out.path().join(format!("step{s}"));
        encoder.with_model(model.valid()).save(&dir).unwrap();
        let now = tensors(&dir.join("model.safetensors"));
        for (name, sums) in want["params"].as_object().unwrap() {
            // A key bias adds the same amount to every score of a query row, which the softmax
            // ignores: its gradient is 0 up to rounding, and Adam turns rounding noise into
            // steps of either sign in both libraries. Nothing to compare.
            if name.ends_with("attention.self.key.bias") {
                continue;
            }
            let (p0, p1) = (&start[name], &now[name]);
            let delta: Vec<f64> = p1.iter().zip(p0).map(|(a, b)| a - b).collect();
            let got = checksums(&delta);
            for (k, key) in ["sum", "norm", "dot"].iter().enumerate() {
                let w = sums[key].as_f64().unwrap();
                assert!(
                    (got[k] - w).abs() <= 1e-5 * w.abs().max(1.0),
                    "{what}: step {} {name} {key} of the change: rankwise {} vs Trove {w}",
                    s + 1,
                    got[k]
                );
            }
        }
    }
}

#[test]
fn four_steps_match_trove_on_one_device_in_chunks_and_on_two_devices() {
    let f = fixture();
    for run in f["runs"].as_array().unwrap() {
        for (devices, chunk) in [(1, 0), (1, 2), (2, 1)] {
            check_run(run, &f["recipe"], devices, chunk);
        }
    }
}
