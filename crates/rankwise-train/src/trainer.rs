//! The training loop: data order, micro-batches, accumulation, clipping, AdamW with the
//! schedule, logs, checkpoints, resume, periodic evaluation and the exported model.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::{AutodiffModule, Module};
use burn::optim::{AdamWConfig, GradientsAccumulator, Optimizer};
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rankwise_data::{AnyDataset, DatasetConfig, GroupedDataset, TrainBatcher};
use rankwise_encoder::{BiEncoder, BiEncoderModel, EncoderOptions};
use rankwise_eval::{EvalSettings, evaluate_dataset};
use serde::Serialize;

use crate::checkpoint::{self, TrainState};
use crate::clip::{clip_grad_norm, scale_grads};
use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::loss::Objective;
use crate::schedule::LrSchedule;
use crate::step::batch_gradients;

/// How a run is driven (not part of the experiment's configuration).
#[derive(Debug, Clone, Default)]
pub struct RunControl {
    /// Continue from the latest checkpoint in the output folder, if there is one.
    pub resume: bool,
    /// Show a progress bar.
    pub progress: bool,
    /// Return after this many steps (as if killed), without the final export.
    pub stop_after: Option<u64>,
}

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, Serialize)]
pub struct StepLog {
    /// Optimiser step (1-based).
    pub step: u64,
    /// Epoch (0-based).
    pub epoch: u64,
    /// Mean loss over the step's micro-batches.
    pub loss: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// Queries per second.
    pub queries_per_s: f64,
    /// Real (unpadded) tokens per second.
    pub tokens_per_s: f64,
    /// Seconds since the run (or resume) started.
    pub elapsed_s: f64,
    /// Evaluation summary at this step, if one ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eval: Option<serde_json::Value>,
}

/// What a finished (or stopped) run produced.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// Steps done.
    pub steps: u64,
    /// Total steps of the run.
    pub total_steps: u64,
    /// Loss of every step (resumed runs include the steps before the resume).
    pub losses: Vec<f64>,
    /// The exported Hugging Face folder (absent when stopped early).
    pub model_dir: Option<PathBuf>,
    /// Wall time of this invocation.
    pub seconds: f64,
}

fn log_line(path: &Path, line: &StepLog) -> Result<(), TrainError> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| TrainError::io(path, e))?;
    let mut text = serde_json::to_string(line).expect("serialisable");
    text.push('\n');
    f.write_all(text.as_bytes())
        .map_err(|e| TrainError::io(path, e))?;
    f.flush().map_err(|e| TrainError::io(path, e))
}

/// Keeps the metric lines of steps `<= step` (after a resume, later lines are redone).
fn truncate_log(path: &Path, step: u64) -> Result<(), TrainError> {
    if !path.exists() {
        return Ok(());
    }
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    let kept: String = text
        .lines()
        .filter(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .ok()
                .and_then(|v| v["step"].as_u64())
                .is_some_and(|s| s <= step)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    rankwise_data::write_atomic(path, kept.as_bytes())?;
    Ok(())
}

/// The order of the dataset's items in `epoch`.
pub fn epoch_order(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xDA7A_0BDE ^ epoch.wrapping_mul(0x9E37_79B9));
    order.shuffle(&mut rng);
    order
}

/// Trains on `devices` (the first holds the master weights; the global micro-batch is
/// `batch_size × devices.len()` queries).
pub fn train<B: crate::TrainingBackend>(
    config: &TrainConfig,
    devices: &[B::Device],
    control: &RunControl,
) -> Result<TrainOutcome, TrainError> {
    config.validate()?;
    let start = Instant::now();
    let out = &config.output_dir;
    std::fs::create_dir_all(out).map_err(|e| TrainError::io(out, e))?;
    let resolved = toml::to_string(config).expect("config serialises");
    rankwise_data::write_atomic(&out.join("config.resolved.toml"), resolved.as_bytes())?;
    let main = devices
        .first()
        .ok_or_else(|| TrainError::config("devices", "at least one device is needed"))?;

    let mut options = EncoderOptions::detect(&config.model)?;
    options.query_max_length = config.query_max_length;
    options.passage_max_length = config.passage_max_length;
    options.precision = config.precision;
    for device in devices {
        if !config.precision.supported::<B>(device) {
            return Err(TrainError::config(
                "precision",
                format!(
                    "{:?} is not supported by this backend on {device:?}; allowed here: \"f32\" (half precision needs the wgpu or cuda backend on a device that has it)",
                    config.precision
                ),
            ));
        }
    }
    let encoder = BiEncoder::<B>::load_with(&config.model, options, main)?;
    let dataset: AnyDataset = DatasetConfig::read(&config.data)?.load()?;
    let batcher = TrainBatcher::for_encoder(&encoder);

    let global = config.batch_size * devices.len();
    let per_step = global * config.grad_accumulation;
    let steps_per_epoch = (dataset.len() / per_step) as u64;
    if steps_per_epoch == 0 {
        return Err(TrainError::config(
            "batch_size",
            format!(
                "the dataset has {} queries, fewer than one step needs ({} per device × {} devices × {} accumulation)",
                dataset.len(),
                config.batch_size,
                devices.len(),
                config.grad_accumulation
            ),
        ));
    }
    let total = {
        let t = steps_per_epoch * config.epochs as u64;
        config.max_steps.map_or(t, |m| m.min(t))
    };
    let o = &config.optimizer;
    let schedule = LrSchedule::new(o.lr, o.warmup_ratio, total, o.warmup_shape);
    let mut optim = AdamWConfig::new()
        .with_beta_1(o.beta1)
        .with_beta_2(o.beta2)
        .with_epsilon(o.eps)
        .with_weight_decay(o.weight_decay)
        .init::<B, BiEncoderModel<B>>();
    let mut model = encoder.model.clone();
    let mut state = TrainState {
        step: 0,
        total_steps: total,
        seed: config.seed,
        losses: Vec::new(),
    };
    let mut last_checkpoint = None;
    let metrics = out.join("metrics.jsonl");
    if control.resume
        && let Some(path) = checkpoint::latest(out)?
    {
        let (m, o2, s) = checkpoint::load::<B, _, _>(&path, model, optim, main)?;
        if s.seed != config.seed || s.total_steps != total {
            return Err(TrainError::Checkpoint {
                path,
                detail: format!(
                    "written by a run with seed {} and {} steps; this config has seed {} and {} steps",
                    s.seed, s.total_steps, config.seed, total
                ),
            });
        }
        model = m;
        optim = o2;
        state = s;
        last_checkpoint = Some(path);
        truncate_log(&metrics, state.step)?;
    } else if metrics.exists() {
        std::fs::remove_file(&metrics).map_err(|e| TrainError::io(&metrics, e))?;
    }

    let objective = Objective::new(&config.loss);
    let pb = if control.progress {
        let pb = ProgressBar::new(total);
        pb.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} steps · {msg} · eta {eta}")
                .expect("valid template"),
        );
        pb.set_position(state.step);
        pb
    } else {
        ProgressBar::hidden()
    };
    let mut order_epoch = u64::MAX;
    let mut order = Vec::new();
    let run_start = Instant::now();
    while state.step < total {
        if control.stop_after.is_some_and(|s| state.step >= s) {
            pb.finish_and_clear();
            return Ok(TrainOutcome {
                steps: state.step,
                total_steps: total,
                losses: state.losses,
                model_dir: None,
                seconds: start.elapsed().as_secs_f64(),
            });
        }
        let step_start = Instant::now();
        let epoch = state.step / steps_per_epoch;
        if epoch != order_epoch {
            order = epoch_order(dataset.len(), config.seed, epoch);
            order_epoch = epoch;
        }
        let in_epoch = (state.step % steps_per_epoch) as usize;
        let replicas: Vec<BiEncoderModel<B>> = devices
            .iter()
            .enumerate()
            .map(|(i, d)| {
                if i == 0 {
                    model.clone()
                } else {
                    model.clone().fork(d)
                }
            })
            .collect();
        let mut accumulator = GradientsAccumulator::<BiEncoderModel<B>>::new();
        let mut loss_sum = 0.0;
        let mut tokens = 0;
        for micro in 0..config.grad_accumulation {
            let first = in_epoch * per_step + micro * global;
            let items: Vec<_> = order[first..first + global]
                .iter()
                .map(|&i| dataset.item(i, epoch))
                .collect();
            let batch = batcher.tokenize(&items)?;
            tokens += batch.tokens();
            let r = batch_gradients(
                &replicas,
                &encoder.options,
                &batch,
                &objective,
                config.loss.in_batch,
                devices,
                config.chunk_size,
            )?;
            if !r.loss.is_finite() {
                pb.finish_and_clear();
                return Err(TrainError::NonFinite {
                    step: state.step + 1,
                    loss: r.loss,
                    last_checkpoint,
                });
            }
            loss_sum += r.loss;
            accumulator.accumulate(&model, r.grads);
        }
        let mut grads = accumulator.grads();
        if config.grad_accumulation > 1 {
            scale_grads::<B, _>(&model, &mut grads, 1.0 / config.grad_accumulation as f64);
        }
        let grad_norm = clip_grad_norm::<B, _>(&model, &mut grads, o.max_grad_norm);
        let lr = schedule.lr(state.step);
        model = optim.step(lr, model, grads);
        let loss = loss_sum / config.grad_accumulation as f64;
        state.step += 1;
        state.losses.push(loss);
        let secs = step_start.elapsed().as_secs_f64();
        let mut line = StepLog {
            step: state.step,
            epoch,
            loss,
            lr,
            grad_norm,
            queries_per_s: per_step as f64 / secs,
            tokens_per_s: tokens as f64 / secs,
            elapsed_s: run_start.elapsed().as_secs_f64(),
            eval: None,
        };
        if let Some(ev) = &config.eval
            && ev.every_steps > 0
            && (state.step.is_multiple_of(ev.every_steps) || state.step == total)
        {
            let view = encoder.with_model(model.valid());
            let settings = EvalSettings {
                split: ev.split.clone(),
                max_queries: ev.max_queries,
                progress: false,
                ..Default::default()
            };
            let outcome = evaluate_dataset(&view, "training", None, &ev.dataset, &settings, main)?;
            line.eval = Some(serde_json::to_value(&outcome.summary).expect("serialisable"));
        }
        log_line(&metrics, &line)?;
        pb.set_message(format!(
            "loss {loss:.5} · lr {lr:.2e} · {:.1} q/s",
            line.queries_per_s
        ));
        pb.set_position(state.step);
        let due = config.checkpoint_every > 0 && state.step.is_multiple_of(config.checkpoint_every);
        if due || state.step == total {
            last_checkpoint = Some(checkpoint::save::<B, _, _>(
                out,
                &model,
                &optim,
                &state,
                config.keep_checkpoints,
            )?);
        }
    }
    pb.finish_and_clear();
    let model_dir = out.join("model");
    encoder.with_model(model.valid()).save(&model_dir)?;
    Ok(TrainOutcome {
        steps: state.step,
        total_steps: total,
        losses: state.losses,
        model_dir: Some(model_dir),
        seconds: start.elapsed().as_secs_f64(),
    })
}
