//! `experiments bm25`: Lucene-style BM25 on BEIR folders, evaluated and reported exactly as a
//! dense model (`evaluate`): the lexical baseline of every comparison.

use anyhow::Context;
use rankwise_eval::report::markdown_table;
use rankwise_eval::{Bm25Params, EvalSettings, Summary, evaluate_bm25};

use super::args::CollectionArgs;
use super::run::{check_outputs, report_each};

/// Arguments of `bm25`.
#[derive(clap::Args)]
#[command(after_help = "Example:\n  \
    experiments bm25 --dataset scifact --dataset med --output runs/bm25/eval.json")]
pub struct Args {
    /// Collections, split, cut-offs and output.
    #[command(flatten)]
    pub collections: CollectionArgs,
    /// Term-frequency saturation.
    #[arg(long, default_value_t = 1.2)]
    pub k1: f32,
    /// Length normalisation.
    #[arg(long, default_value_t = 0.75)]
    pub b: f32,
}

/// Runs `bm25`; returns the summaries.
pub fn run(args: Args) -> anyhow::Result<Vec<Summary>> {
    anyhow::ensure!(
        args.k1 >= 0.0 && (0.0..=1.0).contains(&args.b),
        "--k1 must be ≥ 0 and --b in [0, 1]"
    );
    let settings = args.collections.settings(EvalSettings::default());
    let params = Bm25Params {
        k1: args.k1,
        b: args.b,
    };
    settings.check()?;
    let datasets = args.collections.datasets()?;
    check_outputs(
        &args.collections.output,
        &datasets,
        args.collections.overwrite,
    )?;
    crate::signals::listen("stopping after the current collection")?;
    let summaries = report_each("bm25", &datasets, &args.collections.output, |dataset| {
        evaluate_bm25(dataset, params, "bm25", &settings)
            .with_context(|| format!("BM25 on {}", dataset.display()))
    })?;
    println!("{}", markdown_table(&summaries));
    Ok(summaries)
}
