//! `experiments evaluate`: one model on one or many BEIR folders.

use std::path::{Path, PathBuf};

use rankwise_eval::report::markdown_table;
use rankwise_eval::{EvalSettings, Similarity, Summary};

use super::args::{CollectionArgs, Lengths};
use super::run::{default_settings, evaluate_model};
use crate::signals;

/// Arguments of `evaluate`.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    experiments evaluate --model all-MiniLM-L6-v2 --dataset med --output runs/med.json\n  \
    experiments evaluate --model runs/ws2/model --dataset data/scifact --dataset data/nfcorpus \
    --output runs/ws2/eval.json")]
pub struct Args {
    /// Model folder (Hugging Face layout) or a shared model name.
    #[arg(long)]
    pub model: String,
    /// Collections, split, cut-offs and output.
    #[command(flatten)]
    pub collections: CollectionArgs,
    /// Scoring function.
    #[arg(long, value_enum, default_value_t = Similarity::Dot)]
    pub similarity: Similarity,
    /// Texts per encoder batch.
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// Corpus embedding cache (default: `embedding-cache/` next to the output).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Do not read or write the embedding cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Query truncation length (default: the model's own setting, else 256). Compare models
    /// at the same lengths.
    #[arg(long)]
    pub query_max_length: Option<usize>,
    /// Passage truncation length (default: the model's own setting, else 256).
    #[arg(long)]
    pub passage_max_length: Option<usize>,
}

/// Runs `evaluate`; returns the summaries.
pub fn run(args: Args) -> anyhow::Result<Vec<Summary>> {
    let model_dir = super::resolve_model(&args.model)?;
    let out_dir = args
        .collections
        .output
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let cache_dir = if args.no_cache {
        None
    } else {
        Some(
            args.cache_dir
                .clone()
                .unwrap_or_else(|| out_dir.join("embedding-cache")),
        )
    };
    let settings = args.collections.settings(EvalSettings {
        similarity: args.similarity,
        batch_size: args.batch_size,
        ..default_settings(cache_dir)
    });
    let datasets = args.collections.datasets()?;
    signals::listen("stopping after the current collection")?;
    let label = model_dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| args.model.clone());
    let lengths = Lengths {
        query: args.query_max_length,
        passage: args.passage_max_length,
    };
    let summaries = evaluate_model(
        &model_dir,
        &label,
        &datasets,
        &settings,
        lengths,
        &args.collections.output,
        args.collections.overwrite,
    )?;
    println!("{}", markdown_table(&summaries));
    Ok(summaries)
}
