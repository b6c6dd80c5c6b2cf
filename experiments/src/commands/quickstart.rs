//! `experiments quickstart`: the CPU end-to-end run of the README. Fine-tunes a model on the
//! shipped synthetic multi-level dataset with WS2 (levels 3/2/1/0) and with InfoNCE (levels
//! binarised at 2), evaluates the base model and both fine-tuned models on a shared collection,
//! and prints one table.

use std::path::PathBuf;
use std::time::Instant;

use rankwise_data::SourceConfig;
use rankwise_train::LossKind;

use super::common::{
    binarised, evaluate_base, multilevel, report, small_run, train_and_evaluate, write_data_config,
};

/// Arguments of `quickstart`.
#[derive(clap::Args)]
pub struct Args {
    /// Output folder.
    #[arg(long, default_value = "runs/quickstart")]
    pub output: PathBuf,
    /// Starting model: a folder, a shared name, or a Hugging Face Hub id (read from the shared
    /// folder when it mirrors it, else the Hugging Face cache, else downloaded).
    #[arg(long, default_value = "sentence-transformers/all-MiniLM-L6-v2")]
    pub model: String,
    /// Synthetic training data (BEIR layout with graded qrels/train.tsv).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Evaluation collection: a BEIR folder, a shared name, or a Hub dataset id (SciFact's 300
    /// test claims by default).
    #[arg(long, default_value = "mteb/scifact")]
    pub eval_dataset: String,
    /// Reduced mode for tests: 2 steps, 5 evaluation queries (use with a tiny model).
    #[arg(long)]
    pub smoke: bool,
    /// Replace the results of an earlier run in the output folder.
    #[arg(long)]
    pub overwrite: bool,
}

/// Runs `quickstart`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let start = Instant::now();
    let model = super::resolve_model(&args.model)?;
    let eval = super::resolve_dataset(&args.eval_dataset)?;
    let data = args
        .data
        .clone()
        .unwrap_or_else(super::common::shipped_data);
    let out = &args.output;
    super::outputs::claim_output(out, args.overwrite)?;
    std::fs::create_dir_all(out)?;
    let source = SourceConfig::beir(&std::path::absolute(&data)?, "train")?;
    let ml = write_data_config(
        &out.join("data-multilevel.toml"),
        &multilevel(source.clone(), 4, 7),
    )?;
    let bin = write_data_config(&out.join("data-binary.toml"), &binarised(source, 2.0, 3, 7))?;
    let (config, settings) = small_run(&model, &ml, out, 128, 7, args.smoke);
    // Every model, the base model included, is evaluated at the training lengths.
    let lengths = super::args::Lengths::both(config.query_max_length, config.passage_max_length);
    let progress = !args.smoke;
    let rows = vec![
        evaluate_base(&model, out, &eval, &settings, lengths, args.overwrite)?,
        train_and_evaluate(
            "ws2",
            config.clone(),
            LossKind::Ws2,
            ml,
            out,
            &eval,
            &settings,
            progress,
            args.overwrite,
        )?,
        train_and_evaluate(
            "infonce",
            config,
            LossKind::Infonce,
            bin,
            out,
            &eval,
            &settings,
            progress,
            args.overwrite,
        )?,
    ];
    report(
        out,
        &rows,
        &super::common::command_line(),
        start.elapsed().as_secs_f64(),
    )
}
