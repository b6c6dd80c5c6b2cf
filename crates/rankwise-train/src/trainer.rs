//! The training loop: data order, micro-batches, accumulation, clipping, AdamW with the
//! schedule, logs, checkpoints, resume and the exported model. It trains parts that the caller
//! built ([`TrainParts`]) and reports each step to [`TrainHooks`] (evaluation during training is
//! such a hook, wired by the program that runs training).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::batch::{TrainBatch, TrainBatcher};
use burn::module::AutodiffModule;
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rankwise_data::{DatasetConfig, GroupedDataset};
use rankwise_encoder::{BiEncoder, BiEncoderModel, EncoderOptions};
use serde::Serialize;

use crate::checkpoint::{self, TrainState};
use crate::collective::Cluster;
use crate::config::TrainConfig;
use crate::error::{HookError, TrainError};
use crate::loss::Objective;
use crate::output::{OnExisting, config_differences, prepare};
use crate::peers::Peers;
use crate::schedule::LrSchedule;
use crate::update::StepSettings;

/// What a run trains: the encoder it starts from (on the first device) and the dataset it draws
/// its items from. [`TrainParts::load`] builds them from a [`TrainConfig`]; a program of its own
/// can build them in code.
pub struct TrainParts<B: crate::TrainingBackend> {
    /// The bi-encoder to fine-tune (its options set the lengths, prefixes and pooling).
    pub encoder: BiEncoder<B>,
    /// The items of every epoch.
    pub dataset: Arc<dyn GroupedDataset>,
}

impl<B: crate::TrainingBackend> TrainParts<B> {
    /// The model folder and dataset config a [`TrainConfig`] names, with its lengths and
    /// precision, loaded on `devices[0]` (every device must support the precision).
    pub fn load(config: &TrainConfig, devices: &[B::Device]) -> Result<Self, TrainError> {
        config.validate()?;
        let main = main_device::<B>(devices)?;
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
        Ok(Self {
            encoder: BiEncoder::<B>::load_with(&config.model, options, main)?,
            dataset: Arc::new(DatasetConfig::read(&config.data)?.load()?),
        })
    }
}

/// The device that holds the master weights: the first; an error when there is none.
fn main_device<B: crate::TrainingBackend>(devices: &[B::Device]) -> Result<&B::Device, TrainError> {
    devices
        .first()
        .ok_or_else(|| TrainError::config("devices", "at least one device is needed"))
}

/// What a run reports to as it goes (the part of Burn's `Learner` event hooks that training a
/// retriever needs). Every method has an empty default; `()` is the run without hooks.
pub trait TrainHooks<B: crate::TrainingBackend> {
    /// After optimiser step `log.step` of `total_steps`, before its line is written to
    /// `metrics.jsonl` and before any checkpoint of that step: `model` is the encoder as it now
    /// is, ready for inference (no graph, no dropout). A hook may fill `log.eval`.
    fn on_step(
        &mut self,
        log: &mut StepLog,
        model: &BiEncoder<B::InnerBackend>,
        total_steps: u64,
    ) -> Result<(), HookError> {
        let _ = (log, model, total_steps);
        Ok(())
    }
}

impl<B: crate::TrainingBackend> TrainHooks<B> for () {}

/// How a run is driven (not part of the experiment's configuration).
#[derive(Debug, Clone, Default)]
pub struct RunControl {
    /// What to do when the output folder already holds a run (default: refuse).
    pub existing: OnExisting,
    /// Set (e.g. by a signal handler) to stop after the current step: a checkpoint is written
    /// and the outcome says `interrupted`.
    pub interrupt: Option<Arc<AtomicBool>>,
    /// Show a progress bar.
    pub progress: bool,
    /// Return after this many steps (as if killed), without the final export.
    pub stop_after: Option<u64>,
    /// How several devices share a step: `None` (the default), in turn on the calling thread
    /// (GradCache chunks spread over the devices); `Some`, concurrently, one thread per device,
    /// through Burn's collective, on this machine or across several ([`Cluster`]).
    pub parallel: Option<Cluster>,
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
    /// Mean standard deviation of each query's in-batch scores (before the temperature).
    pub score_spread: f64,
    /// Queries per second.
    pub queries_per_s: f64,
    /// Real (unpadded) tokens per second.
    pub tokens_per_s: f64,
    /// Seconds since the run (or resume) started.
    pub elapsed_s: f64,
    /// Evaluation summary at this step, if a hook ran one.
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
    /// Warnings raised while training (also printed), e.g. a collapsed score spread.
    pub warnings: Vec<String>,
    /// The step this invocation resumed from (`None`: it started at step 0).
    pub resumed_from: Option<u64>,
    /// Stopped by [`RunControl::interrupt`] before the last step.
    pub interrupted: bool,
    /// The newest checkpoint written or resumed from.
    pub last_checkpoint: Option<PathBuf>,
}

impl TrainOutcome {
    /// Steps this invocation ran (not counting those before a resume).
    pub fn steps_run(&self) -> u64 {
        self.steps - self.resumed_from.unwrap_or(0)
    }
}

/// `config` with its paths made absolute (against the working directory), so that a written
/// `config.resolved.toml` can be used again from anywhere.
pub fn with_absolute_paths(config: &TrainConfig) -> Result<TrainConfig, TrainError> {
    let abs = |p: &Path| std::path::absolute(p).map_err(|e| TrainError::io(p, e));
    let mut c = config.clone();
    c.model = abs(&c.model)?;
    c.data = abs(&c.data)?;
    c.output_dir = abs(&c.output_dir)?;
    if let Some(ev) = &mut c.eval {
        ev.dataset = abs(&ev.dataset)?;
    }
    Ok(c)
}

/// A score spread below this share of the run's first logged step is reported as a collapse.
pub const SPREAD_COLLAPSE_RATIO: f64 = 0.25;

/// The warning for a collapsed score spread, if `spread` fell below
/// [`SPREAD_COLLAPSE_RATIO`] × `first`.
pub fn spread_warning(first: f64, spread: f64, step: u64, temperature: f64) -> Option<String> {
    (first > 0.0 && spread < SPREAD_COLLAPSE_RATIO * first).then(|| {
        format!(
            "the spread of the in-batch scores collapsed: {spread:.4} at step {step}, {first:.4} \
             at the start. The loss is being met by squeezing every score together, which \
             ruins retrieval; τ = {temperature} is likely too low for this model (unit-norm \
             embeddings need a larger τ with WS2; see RESULTS.md)"
        )
    })
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
    rankwise_files::write_atomic(path, kept.as_bytes())?;
    Ok(())
}

/// The order of the dataset's items in `epoch`.
pub fn epoch_order(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xDA7A_0BDE ^ epoch.wrapping_mul(0x9E37_79B9));
    order.shuffle(&mut rng);
    order
}

/// How an epoch of `items` queries is cut: micro-batches of `global` queries (the last may be
/// smaller) and steps of `accumulation` micro-batches (the last may have fewer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochPlan {
    /// Queries per epoch.
    pub items: usize,
    /// Queries per micro-batch.
    pub global: usize,
    /// Micro-batches per step.
    pub accumulation: usize,
}

impl EpochPlan {
    /// Micro-batches per epoch (`ceil(items / global)`).
    pub fn micro_batches(&self) -> usize {
        self.items.div_ceil(self.global)
    }
    /// Optimiser steps per epoch.
    pub fn steps(&self) -> u64 {
        self.micro_batches().div_ceil(self.accumulation) as u64
    }
    /// Positions (in the epoch's order) of the queries of each micro-batch of step `step`
    /// (0-based within the epoch).
    pub fn step_items(&self, step: u64) -> Vec<std::ops::Range<usize>> {
        let first = step as usize * self.accumulation;
        let last = (first + self.accumulation).min(self.micro_batches());
        (first..last)
            .map(|m| m * self.global..((m + 1) * self.global).min(self.items))
            .collect()
    }
}

/// Trains `parts` with the settings of `config` (objective, optimiser, schedule, batch, steps,
/// output) on `devices` (the first holds the master weights), reporting each step to `hooks`.
/// The loss sees `global_batch` queries whatever the number of devices; the devices share its
/// chunks. `config.model` and `config.data` are not read here (they are recorded in the
/// resolved config, and a resumed run must name the same).
pub fn train<B: crate::TrainingBackend>(
    config: &TrainConfig,
    parts: TrainParts<B>,
    devices: &[B::Device],
    control: &RunControl,
    hooks: &mut dyn TrainHooks<B>,
) -> Result<TrainOutcome, TrainError> {
    config.validate()?;
    let start = Instant::now();
    let out = &config.output_dir;
    if out.exists() && !out.is_dir() {
        return Err(TrainError::Output {
            path: out.clone(),
            detail: "exists and is not a folder".into(),
        });
    }
    // With several nodes, node 0 writes the run's files; the others read its checkpoints.
    let writes = control.parallel.as_ref().is_none_or(Cluster::writes);
    let latest = checkpoint::latest(out)?;
    let resume = if writes {
        let resume = prepare(out, control.existing, latest.is_some())?;
        std::fs::create_dir_all(out).map_err(|e| TrainError::io(out, e))?;
        resume
    } else {
        follow(out, control.existing, latest.is_some())?
    };
    let main = main_device::<B>(devices)?;
    let TrainParts { encoder, dataset } = parts;
    let batcher = TrainBatcher::for_encoder(&encoder);

    if dataset.is_empty() {
        return Err(TrainError::config("data", "the dataset has no query"));
    }
    let epoch_plan = EpochPlan {
        items: dataset.len(),
        global: config.global_batch,
        accumulation: config.grad_accumulation,
    };
    let steps_per_epoch = epoch_plan.steps();
    let dropout = (
        config
            .dropout
            .hidden
            .unwrap_or(encoder.config.hidden_dropout_prob),
        config
            .dropout
            .attention
            .unwrap_or(encoder.config.attention_probs_dropout_prob),
    );
    let total = {
        let t = steps_per_epoch * config.epochs as u64;
        config.max_steps.map_or(t, |m| m.min(t))
    };
    let o = &config.optimizer;
    let schedule = LrSchedule::new(o.lr, o.warmup_ratio, total, o.warmup_shape);
    let mut optim = o.adamw::<B, BiEncoderModel<B>>();
    let mut model = encoder.model.clone();
    let temperature = config.loss.temperature_for(encoder.options.normalize);
    let mut resolved = with_absolute_paths(config)?;
    resolved.loss.temperature = Some(temperature);
    let resolved_json = serde_json::to_value(&resolved).expect("config serialises");
    let mut state = TrainState {
        step: 0,
        total_steps: total,
        seed: config.seed,
        losses: Vec::new(),
        config: Some(resolved_json.clone()),
    };
    let mut last_checkpoint = None;
    let mut resumed_from = None;
    let metrics = out.join("metrics.jsonl");
    if resume && let Some(path) = latest {
        let (m, o2, mut s) = checkpoint::load::<B, _, _>(&path, model, optim, main)?;
        if let Some(stored) = &s.config {
            let changed = config_differences(stored, &resolved_json);
            if !changed.is_empty() {
                return Err(TrainError::Checkpoint {
                    path,
                    detail: format!(
                        "written by a run with other settings; --resume continues the same \
                         run, so these may not change (use --overwrite or another output \
                         folder for a new run):\n  {}",
                        changed.join("\n  ")
                    ),
                });
            }
        }
        s.config = Some(resolved_json.clone());
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
        resumed_from = Some(s.step);
        state = s;
        last_checkpoint = Some(path);
        if writes {
            truncate_log(&metrics, state.step)?;
        }
    }
    if writes {
        let text = toml::to_string(&resolved).expect("config serialises");
        rankwise_files::write_atomic(&out.join("config.resolved.toml"), text.as_bytes())?;
    }
    let objective = Objective::new(&config.loss, temperature)?;
    let settings = StepSettings::<B> {
        options: &encoder.options,
        objective: &objective,
        in_batch: config.loss.in_batch,
        devices,
        chunk_size: config.chunk_size,
        grad_accumulation: config.grad_accumulation,
        max_grad_norm: o.max_grad_norm,
        dropout,
        seed: config.seed,
    };
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
    let mut warnings: Vec<String> = Vec::new();
    let mut first_spread = None;
    let mut order_epoch = u64::MAX;
    let mut order = Vec::new();
    let run_start = Instant::now();
    // The outcome as it stands (returned when the loop stops: early, interrupted, or done).
    macro_rules! ended {
        ($model_dir:expr, $interrupted:expr) => {
            TrainOutcome {
                steps: state.step,
                total_steps: total,
                losses: state.losses,
                model_dir: $model_dir,
                seconds: start.elapsed().as_secs_f64(),
                warnings,
                resumed_from,
                interrupted: $interrupted,
                last_checkpoint,
            }
        };
    }
    std::thread::scope(|scope| {
        let peers = match &control.parallel {
            Some(cluster) => Some(Peers::start(
                scope, cluster, &settings, &model, &optim, state.step,
            )?),
            None => None,
        };
        // `Some(interrupted)` when the loop stops before the last step.
        let stopped = loop {
            if state.step >= total {
                break None;
            }
            if control.stop_after.is_some_and(|s| state.step >= s) {
                break Some(false);
            }
            let step_start = Instant::now();
            let epoch = state.step / steps_per_epoch;
            if epoch != order_epoch {
                order = epoch_order(dataset.len(), config.seed, epoch);
                order_epoch = epoch;
            }
            let in_epoch = state.step % steps_per_epoch;
            // Shared with the other peers' threads, when there are any.
            let micro_batches = Arc::new(
                epoch_plan
                    .step_items(in_epoch)
                    .into_iter()
                    .map(|r| {
                        let items: Vec<_> =
                            order[r].iter().map(|&i| dataset.item(i, epoch)).collect();
                        batcher.tokenize(&items)
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            );
            let queries: usize = micro_batches.iter().map(TrainBatch::len).sum();
            let lr = schedule.lr(state.step);
            let stepped = match &peers {
                Some(peers) => {
                    peers.step(&settings, model, &mut optim, state.step, &micro_batches, lr)
                }
                None => settings.step(model, &mut optim, state.step, &micro_batches, lr),
            };
            let (next, stats) = stepped.map_err(|e| match e {
                TrainError::NonFinite { step, loss, .. } => {
                    pb.finish_and_clear();
                    TrainError::NonFinite {
                        step,
                        loss,
                        last_checkpoint: last_checkpoint.clone(),
                    }
                }
                e => e,
            })?;
            model = next;
            let (loss, grad_norm, tokens) = (stats.loss, stats.grad_norm, stats.tokens);
            state.step += 1;
            let first = *first_spread.get_or_insert(stats.score_spread);
            if warnings.is_empty()
                && let Some(w) = spread_warning(first, stats.score_spread, state.step, temperature)
            {
                pb.suspend(|| tracing::warn!("{w}"));
                warnings.push(w);
            }
            state.losses.push(loss);
            let secs = step_start.elapsed().as_secs_f64();
            let mut line = StepLog {
                step: state.step,
                epoch,
                loss,
                lr,
                grad_norm,
                score_spread: stats.score_spread,
                queries_per_s: queries as f64 / secs,
                tokens_per_s: tokens as f64 / secs,
                elapsed_s: run_start.elapsed().as_secs_f64(),
                eval: None,
            };
            if writes {
                hooks
                    .on_step(&mut line, &encoder.with_model(model.valid()), total)
                    .map_err(|source| TrainError::Hook {
                        step: state.step,
                        source,
                    })?;
                log_line(&metrics, &line)?;
            }
            pb.set_message(format!(
                "loss {loss:.5} · lr {lr:.2e} · {:.1} q/s",
                line.queries_per_s
            ));
            pb.set_position(state.step);
            let interrupted = control
                .interrupt
                .as_ref()
                .is_some_and(|f| f.load(Ordering::SeqCst));
            let due =
                config.checkpoint_every > 0 && state.step.is_multiple_of(config.checkpoint_every);
            if writes && (due || state.step == total || interrupted) {
                last_checkpoint = Some(checkpoint::save::<B, _, _>(
                    out,
                    &model,
                    &optim,
                    &state,
                    config.keep_checkpoints,
                )?);
            }
            if interrupted && state.step < total {
                break Some(true);
            }
        };
        pb.finish_and_clear();
        if let Some(peers) = peers {
            peers.finish::<B>()?;
        }
        if let Some(interrupted) = stopped {
            return Ok(ended!(None, interrupted));
        }
        let model_dir = out.join("model");
        // A finished run resumed has nothing to add: its exported model stays as it is.
        let finished_before =
            resumed_from == Some(total) && model_dir.join("config.json").is_file();
        if writes && !finished_before {
            encoder.with_model(model.valid()).save(&model_dir)?;
        }
        Ok(ended!(Some(model_dir), false))
    })
}

/// What a node other than the first does with an output folder it reads but never writes:
/// resume from the latest checkpoint when asked to (and there is one), else start afresh.
fn follow(out: &Path, existing: OnExisting, has_checkpoint: bool) -> Result<bool, TrainError> {
    match existing {
        OnExisting::Resume if !has_checkpoint => Err(TrainError::Output {
            path: out.to_path_buf(),
            detail: "nothing to resume: no checkpoint here (the nodes after the first read the \
                     first node's checkpoints: give every node the same, shared output folder)"
                .into(),
        }),
        OnExisting::Resume | OnExisting::ResumeIfAny => Ok(has_checkpoint),
        OnExisting::Refuse | OnExisting::Overwrite => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::{EpochPlan, spread_warning};

    #[test]
    fn a_collapsed_spread_is_reported_once_below_a_quarter() {
        assert!(spread_warning(0.2, 0.06, 10, 0.05).is_none());
        let w = spread_warning(0.2, 0.04, 30, 0.05).unwrap();
        assert!(w.contains("step 30") && w.contains("τ = 0.05"), "{w}");
        assert!(spread_warning(0.0, 0.0, 1, 1.0).is_none());
    }

    #[test]
    fn the_last_partial_batch_and_step_are_kept() {
        let plan = EpochPlan {
            items: 10,
            global: 4,
            accumulation: 2,
        };
        assert_eq!((plan.micro_batches(), plan.steps()), (3, 2));
        assert_eq!(plan.step_items(0), vec![0..4, 4..8]);
        let last = plan.step_items(1);
        assert_eq!((last.len(), last[0].clone()), (1, 8..10));
        let one = EpochPlan {
            items: 3,
            global: 64,
            accumulation: 1,
        };
        assert_eq!(one.steps(), 1);
        let only = one.step_items(0);
        assert_eq!((only.len(), only[0].clone()), (1, 0..3));
    }
}
