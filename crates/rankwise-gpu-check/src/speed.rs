//! Stages 3–5: WS2 forward + backward, one training step at the paper's shape, and encoding
//! throughput. Every time is taken after warm-up (kernel compilation and autotuning) and ends
//! with the device synchronised, so it is the device's work, not the launch queue's.

use std::time::{Duration, Instant};

use anyhow::Context;
use burn::optim::Optimizer;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};
use rankwise_data::TrainItem;
use rankwise_encoder::{
    BiEncoder, BiEncoderModel, EncoderBackend, EncoderOptions, Precision, Side,
};
use rankwise_loss::{WassersteinLossConfig, Ws2Backend};
use rankwise_train::TrainBatcher;
use rankwise_train::TrainingBackend;
use rankwise_train::clip::clip_grad_norm;
use rankwise_train::step::{StepDropout, batch_gradients};
use rankwise_train::{LossSettings, Objective, OptimizerSettings};

use crate::texts::Texts;
use crate::{Inputs, Outcome, Timing};

/// The paper's WS2 shapes (queries × score columns): 16×64, 64×256, 64×448, 256×1024.
pub const WS2_SHAPES: [(usize, usize); 4] = [(16, 4), (64, 4), (64, 7), (256, 4)];

fn sync<B: Backend>(device: &B::Device) -> anyhow::Result<()> {
    B::sync(device).map_err(|e| anyhow::anyhow!("device synchronisation failed: {e:?}"))
}

/// Deterministic scores in about `[0, 2]` (a 64-bit LCG), as the PyTorch baseline's shape.
fn pseudo_scores(len: usize) -> Vec<f32> {
    let mut state = 0x5C0_4E5u64;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0
        })
        .collect()
}

/// Median milliseconds of `run` (each call ends synchronised), after `warmup` calls; at most
/// `max` calls or `budget` of time.
fn median_ms(
    warmup: usize,
    max: usize,
    budget: Duration,
    mut run: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<(f64, usize)> {
    for _ in 0..warmup {
        run()?;
    }
    let start = Instant::now();
    let mut times = Vec::new();
    while times.len() < max && (times.len() < 3 || start.elapsed() < budget) {
        let t = Instant::now();
        run()?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], times.len()))
}

/// Stage 3: WS2 forward + backward with the gradient read back, per shape.
pub fn ws2<B: AutodiffBackend + Ws2Backend>(
    device: &B::Device,
    inputs: &Inputs,
) -> anyhow::Result<Outcome> {
    let shapes: &[(usize, usize)] = if inputs.smoke { &[(4, 4)] } else { &WS2_SHAPES };
    let mut out = Outcome::default();
    for &(b, n) in shapes {
        let m = b * n;
        let scores =
            Tensor::<B, 2>::from_data(TensorData::new(pseudo_scores(b * m), [b, m]), device);
        let labels: Vec<i32> = (0..b * n)
            .map(|k| (3 - (k * 5 + k / n) % 4) as i32)
            .collect();
        let labels = Tensor::<B, 2, Int>::from_data(TensorData::new(labels, [b, n]), device);
        let loss = WassersteinLossConfig::new().init().expect("valid settings");
        let (ms, calls) = median_ms(
            if inputs.smoke { 1 } else { 5 },
            if inputs.smoke { 3 } else { 200 },
            Duration::from_secs(3),
            || {
                let s = scores.clone().require_grad();
                let l = loss.forward(s.clone(), labels.clone())?;
                let mut g = l.backward();
                let grad = s.grad_remove(&mut g).context("no gradient")?;
                let _ = grad.into_data();
                Ok(())
            },
        )?;
        out.timings.push(Timing {
            name: format!("ws2 {b}x{m}"),
            value: ms,
            unit: "ms".into(),
            lower_is_better: true,
            extra: [("calls".to_string(), calls as f64)].into(),
        });
    }
    Ok(out)
}

/// Stage 4: one training step (forward over 64 queries × group 4 at length 256 with dropout
/// 0.1, WS2 over the batch, backward, global-norm clipping at 1.0, AdamW) with the BERT-base
/// model of the work folder, in f32 and in bf16 where the device runs it.
pub fn train_step<B: TrainingBackend>(
    device: &B::Device,
    inputs: &Inputs,
) -> anyhow::Result<Outcome> {
    let (b, g, len, warmup, steps) = if inputs.smoke {
        (4, 4, 32, 1, 1)
    } else {
        (64, 4, 256, 2, 5)
    };
    let dir = inputs.model("bert-base")?;
    let texts = match &inputs.work {
        Some(work) if !inputs.smoke => Texts::read(&work.join("texts.json"))?,
        _ => Texts::generate(b, b * g),
    };
    anyhow::ensure!(
        texts.queries.len() >= b && texts.passages.len() >= b * g,
        "texts.json holds too few texts"
    );
    let items: Vec<TrainItem> = (0..b)
        .map(|i| TrainItem {
            query_id: format!("q{i}"),
            query: texts.queries[i].clone(),
            passage_ids: (0..g).map(|j| format!("p{}", i * g + j)).collect(),
            passages: (0..g).map(|j| texts.passages[i * g + j].clone()).collect(),
            labels: vec![3, 2, 1, 0],
        })
        .collect();
    let mut out = Outcome::default();
    for (precision, name) in [(Precision::F32, "f32"), (Precision::Bf16, "bf16")] {
        if !precision.supported::<B>(device) {
            out.notes
                .push(format!("train {name}: the device does not run it"));
            continue;
        }
        let mut options = EncoderOptions::detect(&dir)?;
        options.query_max_length = len;
        options.passage_max_length = len;
        options.precision = precision;
        let encoder = BiEncoder::<B>::load_with(&dir, options, device)?;
        let batch = TrainBatcher::for_encoder(&encoder).tokenize(&items)?;
        let objective = Objective::new(&LossSettings::default(), 1.0).expect("valid settings");
        let mut optim = OptimizerSettings::default().adamw::<B, BiEncoderModel<B>>();
        let mut model = encoder.model.clone();
        let mut run_step = |step: usize| -> anyhow::Result<f64> {
            let dropout = StepDropout::new(0.1, 0.1, 0, step as u64, 0);
            let r = batch_gradients(
                std::slice::from_ref(&model),
                &encoder.options,
                &batch,
                &objective,
                true,
                std::slice::from_ref(device),
                0,
                dropout.as_ref(),
            )?;
            let mut grads = r.grads;
            clip_grad_norm::<B, _>(&model, &mut grads, 1.0);
            model = optim.step(1e-5, model.clone(), grads);
            sync::<B>(device)?;
            Ok(r.loss)
        };
        for step in 0..warmup {
            run_step(step)?;
        }
        let start = Instant::now();
        let mut last = 0.0;
        for step in warmup..warmup + steps {
            last = run_step(step)?;
        }
        let secs = start.elapsed().as_secs_f64();
        anyhow::ensure!(last.is_finite(), "train {name}: loss {last}");
        out.timings.push(Timing {
            name: format!("train {name}"),
            value: (steps * b) as f64 / secs,
            unit: "queries/s".into(),
            lower_is_better: false,
            extra: [
                (
                    "tokens/s".to_string(),
                    (steps * batch.tokens()) as f64 / secs,
                ),
                ("s/step".to_string(), secs / steps as f64),
                ("steps timed".to_string(), steps as f64),
                ("last loss".to_string(), last),
            ]
            .into(),
        });
    }
    Ok(out)
}

/// Stage 5: encoding passages (length 256, batches of 256) with the MiniLM-shaped model of the
/// work folder: passages/s, tokenisation included (as sentence-transformers' `encode`).
pub fn encode<B: EncoderBackend>(device: &B::Device, inputs: &Inputs) -> anyhow::Result<Outcome> {
    let (count, batch_size, len) = if inputs.smoke {
        (20, 8, 32)
    } else {
        (10_000, 256, 256)
    };
    let dir = inputs.model("minilm")?;
    let texts = match &inputs.work {
        Some(work) if !inputs.smoke => Texts::read(&work.join("texts.json"))?,
        _ => Texts::generate(0, count),
    };
    anyhow::ensure!(
        texts.passages.len() >= count,
        "texts.json holds too few passages"
    );
    let passages: Vec<&str> = texts.passages[..count].iter().map(String::as_str).collect();
    let mut options = EncoderOptions::detect(&dir)?;
    options.passage_max_length = len;
    let encoder = BiEncoder::<B>::load_with(&dir, options, device)?;
    // Warm-up: the kernels of a full batch are compiled and tuned before the clock starts.
    encoder.embed_sorted(
        Side::Passage,
        &passages[..(2 * batch_size).min(count)],
        batch_size,
        device,
        |_| {},
    )?;
    sync::<B>(device)?;
    let start = Instant::now();
    let embeddings = encoder.embed_sorted(Side::Passage, &passages, batch_size, device, |_| {})?;
    sync::<B>(device)?;
    let secs = start.elapsed().as_secs_f64();
    anyhow::ensure!(
        embeddings.iter().all(|v| v.is_finite()),
        "non-finite embeddings"
    );
    let mut out = Outcome::default();
    out.timings.push(Timing {
        name: "encode".into(),
        value: count as f64 / secs,
        unit: "passages/s".into(),
        lower_is_better: false,
        extra: [
            ("passages".to_string(), count as f64),
            ("batch size".to_string(), batch_size as f64),
            ("max length".to_string(), len as f64),
        ]
        .into(),
    });
    Ok(out)
}
