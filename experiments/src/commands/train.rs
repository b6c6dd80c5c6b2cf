//! `experiments train`: fine-tune a bi-encoder from a TOML config.

use std::path::PathBuf;

use anyhow::Context;
use rankwise_train::config::Precision;
use rankwise_train::{LossKind, RunControl, TrainConfig, TrainOutcome, train};

use crate::backend;

/// Arguments of `train`.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    experiments train --config experiments/configs/synth_multilevel.toml\n  \
    experiments train --config my.toml --resume            # continue a killed run\n  \
    experiments train --config my.toml --devices 4          # the global batch's chunks spread over 4 devices")]
pub struct Args {
    /// Training config (TOML; relative paths are taken from the file's folder).
    #[arg(long)]
    pub config: PathBuf,
    /// Continue from the latest checkpoint in the output folder.
    #[arg(long)]
    pub resume: bool,
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
    pub loss: Option<LossArg>,
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
    pub precision: Option<PrecisionArg>,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Precision on the command line.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum PrecisionArg {
    /// Everything in f32.
    F32,
    /// f16 products, f32 master weights.
    F16,
    /// bf16 products, f32 master weights.
    Bf16,
}

/// Loss on the command line.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum LossArg {
    /// 2-Wasserstein list-wise loss.
    Ws2,
    /// InfoNCE.
    Infonce,
    /// ListNet.
    Listnet,
    /// RankNet.
    Ranknet,
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
            c.loss.kind = match l {
                LossArg::Ws2 => LossKind::Ws2,
                LossArg::Infonce => LossKind::Infonce,
                LossArg::Listnet => LossKind::Listnet,
                LossArg::Ranknet => LossKind::Ranknet,
            };
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
            c.precision = match p {
                PrecisionArg::F32 => Precision::F32,
                PrecisionArg::F16 => Precision::F16,
                PrecisionArg::Bf16 => Precision::Bf16,
            };
        }
        c.validate()?;
        Ok(c)
    }
}

/// Trains with `config` on `devices` devices of the selected backend; writes `train.log`
/// beside the metrics.
pub fn train_config(
    config: &TrainConfig,
    devices: usize,
    resume: bool,
    progress: bool,
) -> anyhow::Result<TrainOutcome> {
    let devs = backend::devices(devices);
    let outcome = train::<backend::TrainBackend>(
        config,
        &devs,
        &RunControl {
            resume,
            progress,
            stop_after: None,
        },
    )
    .with_context(|| format!("training into {}", config.output_dir.display()))?;
    let mut log = format!(
        "backend {} x{devices} · {} steps · {:.1} s · final loss {:.6}\n",
        backend::NAME,
        outcome.steps,
        outcome.seconds,
        outcome.losses.last().copied().unwrap_or(f64::NAN)
    );
    for w in &outcome.warnings {
        log.push_str(&format!("warning: {w}\n"));
    }
    rankwise_data::write_atomic(&config.output_dir.join("train.log"), log.as_bytes())?;
    crate::plots::training_curves(&config.output_dir)?;
    Ok(outcome)
}

/// Runs `train`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let config = args.config()?;
    let out = train_config(&config, args.devices, args.resume, !args.quiet)?;
    println!(
        "trained {} steps in {:.1} s; model: {}",
        out.steps,
        out.seconds,
        out.model_dir
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    );
    Ok(())
}
