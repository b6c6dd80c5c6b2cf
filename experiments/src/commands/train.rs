//! `experiments train`: fine-tune a bi-encoder from a TOML config.

use std::path::PathBuf;

use anyhow::Context;
use rankwise_encoder::BiEncoder;
use rankwise_eval::{EvalSettings, evaluate_dataset};
use rankwise_train::config::EvalDuringTraining;
use rankwise_train::config::Precision;
use rankwise_train::{
    HookError, LossKind, OnExisting, RunControl, StepLog, TrainConfig, TrainHooks, TrainOutcome,
    TrainParts, train,
};

use crate::backend;
use crate::signals::{self, Interrupted};

/// What to do with a run already in the output folder (default: refuse, naming both flags).
#[derive(clap::Args, Clone, Copy, Debug, Default)]
pub struct ExistingArgs {
    /// Continue the run in the output folder from its latest checkpoint (the settings must be
    /// the same; only output, checkpoint and evaluation settings may change).
    #[arg(long, conflicts_with = "overwrite")]
    pub resume: bool,
    /// Replace the run in the output folder (its metrics, checkpoints and model are deleted).
    #[arg(long)]
    pub overwrite: bool,
}

impl ExistingArgs {
    /// The trainer's policy for these flags.
    pub fn policy(self) -> OnExisting {
        match (self.resume, self.overwrite) {
            (true, _) => OnExisting::Resume,
            (_, true) => OnExisting::Overwrite,
            _ => OnExisting::Refuse,
        }
    }
}

/// Arguments of `train`.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    experiments train --config experiments/configs/synth_multilevel.toml\n  \
    experiments train --config my.toml --resume            # continue a killed run\n  \
    experiments train --config my.toml --overwrite         # replace the run in output_dir\n  \
    experiments train --config my.toml --devices 4          # the global batch's chunks spread over 4 devices")]
pub struct Args {
    /// Training config (TOML; relative paths are taken from the file's folder).
    #[arg(long)]
    pub config: PathBuf,
    #[command(flatten)]
    pub existing: ExistingArgs,
    /// Devices (GPUs, or CPU replicas) that share the chunks of the global batch (the loss
    /// sees `global_batch` queries whatever this is).
    #[arg(long, default_value_t = 1)]
    pub devices: usize,
    /// Override `output_dir`.
    #[arg(long)]
    pub output_dir: Option<PathBuf>,
    /// Override `model`.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Override `loss.kind`.
    #[arg(long, value_enum)]
    pub loss: Option<LossKind>,
    /// Override `optimizer.lr`.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Override `global_batch` (queries the loss sees per micro-step).
    #[arg(long)]
    pub global_batch: Option<usize>,
    /// Override `chunk_size` (queries embedded with a graph at a time; 0: no chunking).
    #[arg(long)]
    pub chunk_size: Option<usize>,
    /// Override `max_steps`.
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// Override `precision` of the projection products (f16/bf16: GPU backends only).
    #[arg(long, value_enum)]
    pub precision: Option<Precision>,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
}

impl Args {
    /// The config file with the command-line overrides applied.
    pub fn config(&self) -> anyhow::Result<TrainConfig> {
        let mut c = TrainConfig::read(&self.config)?;
        if let Some(o) = &self.output_dir {
            c.output_dir = o.clone();
        }
        if let Some(m) = &self.model {
            c.model = m.clone();
        }
        if let Some(l) = self.loss {
            c.loss.kind = l;
        }
        if let Some(lr) = self.lr {
            c.optimizer.lr = lr;
        }
        if let Some(b) = self.global_batch {
            c.global_batch = b;
        }
        if let Some(b) = self.chunk_size {
            c.chunk_size = b;
        }
        if self.max_steps.is_some() {
            c.max_steps = self.max_steps;
        }
        if let Some(p) = self.precision {
            c.precision = p;
        }
        c.validate()?;
        Ok(c)
    }
}

/// Trains with `config` on `devices` devices of the selected backend; writes `train.log`
/// beside the metrics. SIGINT/SIGTERM stop it after the current step with a checkpoint, and it
/// returns [`Interrupted`] saying how to resume.
pub fn train_config(
    config: &TrainConfig,
    devices: usize,
    existing: OnExisting,
    progress: bool,
) -> anyhow::Result<TrainOutcome> {
    let devs = backend::devices(devices);
    let interrupt = signals::listen("stopping after the current step, with a checkpoint")?;
    let mut hook = EvalHook {
        eval: config.eval.clone(),
        device: devs.first().cloned().unwrap_or_default(),
    };
    let outcome = TrainParts::<backend::TrainBackend>::load(config, &devs)
        .and_then(|parts| {
            train(
                config,
                parts,
                &devs,
                &RunControl {
                    existing,
                    interrupt: Some(interrupt),
                    progress,
                    stop_after: None,
                },
                &mut hook,
            )
        })
        .with_context(|| format!("training into {}", config.output_dir.display()))?;
    if outcome.interrupted {
        return Err(Interrupted {
            message: format!(
                "stopped at step {} of {} ({}); checkpoint {}. To continue, run the same \
                 command{}.",
                outcome.steps,
                outcome.total_steps,
                steps_done(&outcome),
                outcome
                    .last_checkpoint
                    .as_ref()
                    .map_or("none".to_string(), |p| p.display().to_string()),
                if existing == OnExisting::ResumeIfAny {
                    " again"
                } else {
                    " with --resume"
                },
            ),
        }
        .into());
    }
    let mut log = format!(
        "backend {} x{devices} · {} · {:.1} s · final loss {:.6}\n",
        backend::NAME,
        steps_done(&outcome),
        outcome.seconds,
        outcome.losses.last().copied().unwrap_or(f64::NAN)
    );
    for w in &outcome.warnings {
        log.push_str(&format!("warning: {w}\n"));
    }
    rankwise_files::write_atomic(&config.output_dir.join("train.log"), log.as_bytes())?;
    crate::plots::training_curves(&config.output_dir)?;
    Ok(outcome)
}

/// Evaluation during training (the config's `[eval]` section): every `every_steps` steps and
/// after the last one, the model as it is on a BEIR collection; the summary goes into the step's
/// line of `metrics.jsonl`.
struct EvalHook {
    eval: Option<EvalDuringTraining>,
    device: backend::Device,
}

impl TrainHooks<backend::TrainBackend> for EvalHook {
    fn on_step(
        &mut self,
        log: &mut StepLog,
        model: &BiEncoder<backend::Backend>,
        total_steps: u64,
    ) -> Result<(), HookError> {
        let Some(ev) = &self.eval else {
            return Ok(());
        };
        if ev.every_steps == 0
            || !(log.step.is_multiple_of(ev.every_steps) || log.step == total_steps)
        {
            return Ok(());
        }
        let settings = EvalSettings {
            split: ev.split.clone(),
            max_queries: ev.max_queries,
            progress: false,
            ..Default::default()
        };
        let outcome = evaluate_dataset(
            model,
            "training",
            None,
            &ev.dataset,
            &settings,
            &self.device,
        )?;
        log.eval = Some(serde_json::to_value(&outcome.summary)?);
        Ok(())
    }
}

/// Runs `train`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let config = args.config()?;
    let out = train_config(&config, args.devices, args.existing.policy(), !args.quiet)?;
    println!(
        "{} in {:.1} s; model: {}",
        steps_done(&out),
        out.seconds,
        out.model_dir
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    );
    Ok(())
}

/// "trained N steps", saying where a resumed run started.
pub fn steps_done(outcome: &TrainOutcome) -> String {
    match outcome.resumed_from {
        Some(from) => format!(
            "trained {} steps (resumed at step {from}; {} of {} done)",
            outcome.steps_run(),
            outcome.steps,
            outcome.total_steps
        ),
        None => format!("trained {} steps", outcome.steps),
    }
}
