//! `experiments train`: fine-tune a bi-encoder from a TOML config.

use std::path::PathBuf;

use rankwise_train::TrainConfig;

use super::args::{DeviceArgs, ExistingArgs, TrainOverrides};
use super::run::{steps_done, train_config};

/// Arguments of `train`.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    experiments train --config experiments/configs/synth_multilevel.toml\n  \
    experiments train --config my.toml --resume            # continue a killed run\n  \
    experiments train --config my.toml --overwrite         # replace the run in output_dir\n  \
    experiments train --config my.toml --devices 4          # 4 devices share each step, concurrently\n  \
    # two machines with 4 GPUs each (README, \"Several GPUs and machines\"):\n  \
    experiments orchestrator --port 29500                    # on one of them\n  \
    experiments train --config my.toml --devices 4 --nodes 2 --node-rank 0 \\\n      \
      --orchestrator ws://10.0.0.1:29500 --node-address ws://10.0.0.1:29501\n  \
    experiments train --config my.toml --devices 4 --nodes 2 --node-rank 1 \\\n      \
      --orchestrator ws://10.0.0.1:29500 --node-address ws://10.0.0.2:29501")]
pub struct Args {
    /// Training config (TOML; relative paths are taken from the file's folder).
    #[arg(long)]
    pub config: PathBuf,
    #[command(flatten)]
    pub existing: ExistingArgs,
    #[command(flatten)]
    pub devices: DeviceArgs,
    #[command(flatten)]
    pub overrides: TrainOverrides,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
}

impl Args {
    /// The config file with the command-line overrides applied.
    pub fn config(&self) -> anyhow::Result<TrainConfig> {
        self.overrides.apply(TrainConfig::read(&self.config)?)
    }
}

/// Runs `train`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let config = args.config()?;
    let out = train_config(&config, &args.devices, args.existing.policy(), !args.quiet)?;
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
