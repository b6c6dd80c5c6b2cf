//! `experiments evaluate`: one model on one or many BEIR folders.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rankwise_encoder::BiEncoder;
use rankwise_eval::report::{markdown_table, write_outcome};
use rankwise_eval::{EvalSettings, Outcome, Similarity, Summary, evaluate_dataset};

use super::outputs;
use crate::backend;
use crate::signals::{self, Interrupted};

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

/// What every evaluating command (`evaluate`, `bm25`) takes: collections, split, depth,
/// cut-offs, relevance level, query limit, output and progress.
#[derive(clap::Args)]
pub struct CollectionArgs {
    /// BEIR folder(s) (`corpus.jsonl`, `queries.jsonl`, `qrels/<split>.tsv`; parquet/CSV too) or
    /// shared names.
    #[arg(long, required = true)]
    pub dataset: Vec<String>,
    /// Qrels split.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// JSON summary to write. With several datasets, one `<stem>.<collection>.json` per
    /// dataset is written too, and this file maps collection → summary.
    #[arg(long)]
    pub output: PathBuf,
    /// Documents retrieved per query.
    #[arg(long, default_value_t = 100)]
    pub k: usize,
    /// Extra cut-offs to report (e.g. `1,3,5`), besides nDCG@10, MRR@10 and Recall@100.
    #[arg(long, value_delimiter = ',')]
    pub cutoffs: Vec<usize>,
    /// Judged grade counted as relevant for MRR, recall, MAP and P (nDCG uses every grade).
    #[arg(long, default_value_t = 1)]
    pub relevance_level: i64,
    /// Evaluate only the first N judged queries (smoke runs).
    #[arg(long)]
    pub max_queries: Option<usize>,
    /// Replace output files that already exist (without it, existing files stop the command
    /// before any work).
    #[arg(long)]
    pub overwrite: bool,
    /// Hide progress bars.
    #[arg(long)]
    pub quiet: bool,
}

impl CollectionArgs {
    /// `base` with these arguments' split, depth, cut-offs, relevance level, limit and progress.
    pub fn settings(&self, base: EvalSettings) -> EvalSettings {
        EvalSettings {
            split: self.split.clone(),
            k: self.k,
            relevance_level: self.relevance_level,
            extra_cutoffs: self.cutoffs.clone(),
            max_queries: self.max_queries,
            progress: !self.quiet,
            ..base
        }
    }

    /// The collections, resolved (folders or shared names).
    pub fn datasets(&self) -> anyhow::Result<Vec<PathBuf>> {
        self.dataset
            .iter()
            .map(|d| super::resolve_dataset(d))
            .collect()
    }
}

/// Query and passage truncation lengths that override a model's own (`None`: keep it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lengths {
    /// Query tokens.
    pub query: Option<usize>,
    /// Passage tokens.
    pub passage: Option<usize>,
}

impl Lengths {
    /// Both lengths set.
    pub fn both(query: usize, passage: usize) -> Self {
        Self {
            query: Some(query),
            passage: Some(passage),
        }
    }
}

/// Evaluates the model folder `model_dir` on each dataset at `lengths`; writes `<out>` (one
/// dataset) or `<stem>.<collection>.json` files plus a map in `<out>` (several). Existing
/// output files are an error unless `overwrite`; everything is checked before the model loads.
/// Returns the summaries.
pub fn evaluate_model(
    model_dir: &Path,
    label: &str,
    datasets: &[PathBuf],
    settings: &EvalSettings,
    lengths: Lengths,
    output: &Path,
    overwrite: bool,
) -> anyhow::Result<Vec<Summary>> {
    settings.check()?;
    check_outputs(output, datasets, overwrite)?;
    let device = backend::device();
    let mut options = rankwise_encoder::EncoderOptions::detect(model_dir)
        .with_context(|| format!("reading the options of {}", model_dir.display()))?;
    for (set, value) in [
        (lengths.query, &mut options.query_max_length),
        (lengths.passage, &mut options.passage_max_length),
    ] {
        if let Some(n) = set {
            anyhow::ensure!(
                (2..=8192).contains(&n),
                "a maximum length must be in 2..=8192, got {n}"
            );
            *value = n;
        }
    }
    let encoder = BiEncoder::<backend::Backend>::load_with(model_dir, options, &device)
        .with_context(|| format!("loading {}", model_dir.display()))?;
    report_each(label, datasets, output, |dataset| {
        evaluate_dataset(&encoder, label, Some(model_dir), dataset, settings, &device)
            .with_context(|| format!("evaluating on {}", dataset.display()))
    })
}

/// Checks every file an evaluation of `datasets` will write for `output`
/// ([`outputs::check_writable`]).
pub fn check_outputs(output: &Path, datasets: &[PathBuf], overwrite: bool) -> anyhow::Result<()> {
    outputs::check_writable(
        &outputs::planned_files(output, datasets),
        datasets,
        overwrite,
    )
}

/// Runs `evaluate` on each dataset and writes `<out>` (one dataset) or `<stem>.<name>.json`
/// files ([`outputs::summary_paths`]) plus a map and a markdown table beside `<out>` (several);
/// prints one line per dataset. A signal stops it between datasets, with what was written.
pub fn report_each(
    label: &str,
    datasets: &[PathBuf],
    output: &Path,
    mut evaluate: impl FnMut(&Path) -> anyhow::Result<Outcome>,
) -> anyhow::Result<Vec<Summary>> {
    let several = datasets.len() > 1;
    let mut summaries = Vec::new();
    let mut written_files = Vec::new();
    for (dataset, path) in datasets
        .iter()
        .zip(outputs::summary_paths(output, datasets))
    {
        if signals::requested() {
            return Err(Interrupted {
                message: format!(
                    "stopped after {} of {} collections; written: {}. The others were not \
                     evaluated.",
                    summaries.len(),
                    datasets.len(),
                    if written_files.is_empty() {
                        "nothing".to_string()
                    } else {
                        written_files.join(", ")
                    }
                ),
            }
            .into());
        }
        let outcome = evaluate(dataset)?;
        let written = write_outcome(&outcome, &path)?;
        written_files.push(written.summary.display().to_string());
        tracing::info!(
            "{} on {}: nDCG@10 {:.4} · MRR@10 {:.4} · Recall@100 {:.4} · {} queries · {:.1} s -> {}",
            label,
            outcome.summary.collection,
            outcome.summary.ndcg_10,
            outcome.summary.mrr_10,
            outcome.summary.recall_100,
            outcome.summary.num_queries,
            outcome.summary.timings_s.total,
            written.summary.display()
        );
        summaries.push(outcome.summary);
    }
    if several {
        // Keyed by the file names, which are distinct where collection names may not be.
        let map: serde_json::Map<String, serde_json::Value> =
            outputs::collection_file_names(datasets)
                .into_iter()
                .zip(&summaries)
                .map(|(name, s)| (name, serde_json::to_value(s).expect("serialisable")))
                .collect();
        let mut bytes = serde_json::to_vec_pretty(&map)?;
        bytes.push(b'\n');
        rankwise_files::write_atomic(output, &bytes)?;
        rankwise_files::write_atomic(
            &output.with_extension("md"),
            markdown_table(&summaries).as_bytes(),
        )?;
    }
    Ok(summaries)
}

/// Settings for evaluating with the selected backend.
pub fn default_settings(cache_dir: Option<PathBuf>) -> EvalSettings {
    EvalSettings {
        batch_size: 16,
        cache_dir,
        progress: true,
        ..Default::default()
    }
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
