//! `experiments reproduce <run>`: one of the paper's training runs (`experiments/configs`),
//! then evaluation of the trained model on the collections of `configs/eval.toml`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use rankwise_eval::EvalSettings;
use serde::Deserialize;

use super::common::{Row, report};

/// The paper's runs.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Run {
    /// InfoNCE, real positive + 2 BM25 negatives (group 3).
    RealBinary,
    /// InfoNCE, synthetic levels ≥ 2 vs < 2 (group 3).
    SynthBinary,
    /// WS2 on the four synthetic levels (group 4).
    SynthMultilevel,
    /// WS2 on real + BM25 + synthetic (group 7).
    SynthPlusReal,
}

impl Run {
    fn file(self) -> &'static str {
        match self {
            Self::RealBinary => "real_binary",
            Self::SynthBinary => "synth_binary",
            Self::SynthMultilevel => "synth_multilevel",
            Self::SynthPlusReal => "synth_plus_real",
        }
    }
}

/// Arguments of `reproduce`.
#[derive(clap::Args)]
#[command(
    after_help = "Examples (the paper's global batch of 64 queries, embedded 16 at a time):\n  \
    cargo run -p experiments --release --features cuda -- reproduce synth-multilevel\n  \
    cargo run -p experiments --release --features cuda -- reproduce synth-multilevel --devices 4"
)]
pub struct Args {
    /// Which run.
    #[arg(value_enum)]
    pub run: Run,
    /// Folder with `<run>.toml` and `eval.toml`.
    #[arg(long)]
    pub configs: Option<PathBuf>,
    #[command(flatten)]
    pub devices: super::args::DeviceArgs,
    /// Override the model.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Override `max_steps`.
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// Override `global_batch`.
    #[arg(long)]
    pub global_batch: Option<usize>,
    /// Override `chunk_size`.
    #[arg(long)]
    pub chunk_size: Option<usize>,
    /// Evaluate only the first N queries of each collection.
    #[arg(long)]
    pub eval_max_queries: Option<usize>,
    #[command(flatten)]
    pub existing: super::args::ExistingArgs,
}

/// `eval.toml`: the collections a trained model is evaluated on.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EvalConfig {
    datasets: Vec<EvalDataset>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EvalDataset {
    path: PathBuf,
    #[serde(default = "test")]
    split: String,
}

fn test() -> String {
    "test".into()
}

/// Runs `reproduce`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let start = Instant::now();
    let dir = args
        .configs
        .clone()
        .unwrap_or_else(|| rankwise_assets::workspace_root().join("experiments/configs"));
    let file = dir.join(format!("{}.toml", args.run.file()));
    let overrides = super::args::TrainOverrides {
        model: args.model.clone(),
        global_batch: args.global_batch,
        chunk_size: args.chunk_size,
        max_steps: args.max_steps,
        ..Default::default()
    };
    let config = overrides.apply(rankwise_train::TrainConfig::read(&file)?)?;
    println!(
        "{}: global batch {} queries × group from the data, embedded {} at a time over {} device(s), {} micro-batch(es) per step; lr {:e}, {:?} warm-up over {:.0} % of the steps then linear decay (DeepSpeed WarmupDecayLR); dropout {}",
        args.run.file(),
        config.global_batch,
        if config.chunk_size == 0 {
            "all".to_string()
        } else {
            config.chunk_size.to_string()
        },
        args.devices.devices * args.devices.nodes as usize,
        config.grad_accumulation,
        config.optimizer.lr,
        config.optimizer.warmup_shape,
        config.optimizer.warmup_ratio * 100.0,
        match (config.dropout.hidden, config.dropout.attention) {
            (None, None) => "from the model's config.json".to_string(),
            (h, a) => format!("hidden {h:?}, attention {a:?}"),
        }
    );
    let trained = super::run::train_config(&config, &args.devices, args.existing.policy(), true)?;
    let model = trained.model_dir.expect("finished runs export a model");
    let eval_file = dir.join("eval.toml");
    let text = std::fs::read_to_string(&eval_file)
        .with_context(|| format!("reading {}", eval_file.display()))?;
    let eval: EvalConfig =
        toml::from_str(&text).with_context(|| format!("{}", eval_file.display()))?;
    let mut rows = Vec::new();
    for d in eval.datasets {
        let path = if d.path.is_relative() {
            dir.join(&d.path)
        } else {
            d.path.clone()
        };
        let settings = EvalSettings {
            split: d.split.clone(),
            max_queries: args.eval_max_queries,
            ..super::run::default_settings(Some(config.output_dir.join("embedding-cache")))
        };
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let out: &Path = &config.output_dir;
        let summary = super::run::evaluate_model(
            &model,
            args.run.file(),
            std::slice::from_ref(&path),
            &settings,
            super::args::Lengths::both(config.query_max_length, config.passage_max_length),
            &out.join(format!("eval-{name}.json")),
            args.existing.resume || args.existing.overwrite,
        )?
        .remove(0);
        rows.push(Row {
            run: args.run.file().into(),
            loss: format!("{:?}", config.loss.kind).to_lowercase(),
            summary,
            train_s: trained.seconds,
        });
    }
    report(
        &config.output_dir,
        &rows,
        &super::common::command_line(),
        start.elapsed().as_secs_f64(),
    )
}
