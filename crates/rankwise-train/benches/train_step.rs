//! Training throughput: all-MiniLM-L6-v2, WS2, 16 queries × group 4 (64 passages), length 256,
//! SciFact text, one full step (forward, loss over the batch, backward, clipping, AdamW) on the
//! CPU backend. Runs `scripts/bench_train_torch.py` (the same step in PyTorch) when torch is
//! importable (`RANKWISE_PYTHON` picks the interpreter) and prints the ratio.
//!
//! `RANKWISE_BENCH_STEPS` (default 3) timed steps after one warm-up step.

use std::time::Instant;

use burn::backend::{Autodiff, NdArray};
use burn::optim::Optimizer;
use rankwise_data::TrainItem;
use rankwise_encoder::{BiEncoder, BiEncoderModel};
use rankwise_files::{read_corpus, read_queries};
use rankwise_train::TrainBatcher;
use rankwise_train::clip::clip_grad_norm;
use rankwise_train::step::{StepDropout, batch_gradients};
use rankwise_train::{LossSettings, Objective, OptimizerSettings};

type B = Autodiff<NdArray>;

/// As `experiments`: mimalloc, keeping freed memory for the next step (`rankwise_train::memory`).
#[global_allocator]
static ALLOC: rankwise_train::memory::TrainingAllocator = rankwise_train::memory::TrainingAllocator;

fn main() {
    // As `experiments` does: CPU training reuses freed memory instead of page-faulting it in.
    let tuned = rankwise_train::memory::keep_freed_memory() == -1;
    let steps: usize = std::env::var("RANKWISE_BENCH_STEPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let model_dir = rankwise_assets::model("all-MiniLM-L6-v2").unwrap();
    let scifact = rankwise_assets::dataset("scifact").unwrap();
    let corpus = read_corpus(&scifact.join("corpus.jsonl")).unwrap();
    let queries = read_queries(&scifact.join("queries.jsonl")).unwrap();
    let device = Default::default();
    let mut options = rankwise_encoder::EncoderOptions::detect(&model_dir).unwrap();
    options.query_max_length = 256;
    options.passage_max_length = 256;
    let encoder = BiEncoder::<B>::load_with(&model_dir, options, &device).unwrap();
    let batcher = TrainBatcher::for_encoder(&encoder);
    let (b, g) = (16, 4);
    let items = |step: usize| -> Vec<TrainItem> {
        (0..b)
            .map(|i| {
                let q = (step * b + i) % queries.len();
                let p0 = (step * b * g + i * g) % (corpus.len() - g);
                TrainItem {
                    query_id: queries.id(q).into(),
                    query: queries.text(q).into(),
                    passage_ids: (0..g).map(|j| corpus.id(p0 + j).into()).collect(),
                    passages: (0..g).map(|j| corpus.text(p0 + j).into()).collect(),
                    labels: vec![3, 2, 1, 0],
                }
            })
            .collect()
    };
    let objective = Objective::new(&LossSettings::default(), 1.0).expect("valid settings");
    let mut optim = OptimizerSettings::default().adamw::<B, BiEncoderModel<B>>();
    let mut model = encoder.model.clone();
    let (mut secs, mut tokens) = (0.0, 0usize);
    for step in 0..=steps {
        let batch = batcher.tokenize(&items(step)).unwrap();
        let t = Instant::now();
        let r = batch_gradients(
            &[model.clone()],
            &encoder.options,
            &batch,
            &objective,
            true,
            &[device],
            0,
            // Dropout 0.1 as in the PyTorch baseline (`model.train()`).
            StepDropout::new(0.1, 0.1, 0, step as u64, 0).as_ref(),
        )
        .unwrap();
        let mut grads = r.grads;
        clip_grad_norm::<B, _>(&model, &mut grads, 1.0);
        model = optim.step(1e-5, model, grads);
        let dt = t.elapsed().as_secs_f64();
        if step > 0 {
            secs += dt;
            tokens += batch.tokens();
        }
        println!(
            "step {step}: loss {:.6} {:.2} s{}",
            r.loss,
            dt,
            if step == 0 { " (warm-up)" } else { "" }
        );
    }
    let qps = (steps * b) as f64 / secs;
    println!(
        "rankwise (Burn NdArray{}): {:.3} queries/s, {:.0} tokens/s, {:.2} s/step (batch {b} x group {g}, len 256)",
        if tuned {
            ", mimalloc keeping freed memory"
        } else {
            ""
        },
        qps,
        tokens as f64 / secs,
        secs / steps as f64
    );
    let python = std::env::var("RANKWISE_PYTHON").unwrap_or_else(|_| "python3".into());
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/bench_train_torch.py");
    match std::process::Command::new(&python)
        .arg(&script)
        .arg(&model_dir)
        .arg(&scifact)
        .arg(steps.to_string())
        .output()
    {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            let torch: f64 = text
                .trim()
                .lines()
                .last()
                .and_then(|l| l.parse().ok())
                .expect("queries/s");
            println!(
                "PyTorch: {torch:.3} queries/s; ratio rankwise / PyTorch: {:.2}x",
                qps / torch
            );
        }
        Ok(o) => println!(
            "PyTorch reference not run: {}",
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ),
        Err(e) => println!("PyTorch reference not run: {python}: {e}"),
    }
}
