//! Pieces shared by the experiment commands: writing configs, training, evaluating, tables.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rankwise_data::{
    BinaryConfig, DatasetConfig, MultiLevelConfig, PassageSelection, SourceConfig,
};
use rankwise_eval::{EvalSettings, Summary};
use rankwise_train::{LossKind, OnExisting, TrainConfig};

use serde::Serialize;

use super::args::Lengths;

/// One row of an experiment's results table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Run name.
    pub run: String,
    /// Training loss (`-` for the base model).
    pub loss: String,
    /// Evaluation.
    pub summary: Summary,
    /// Training seconds.
    pub train_s: f64,
}

/// Writes a dataset config as TOML and returns its path.
pub fn write_data_config(path: &Path, config: &DatasetConfig) -> anyhow::Result<PathBuf> {
    // `DatasetConfig` is tagged by `kind`, so it serialises to the file format it is read from.
    rankwise_files::write_atomic(path, toml::to_string(config)?.as_bytes())?;
    Ok(path.to_path_buf())
}

/// Multi-level data over one source (group 4, random selection).
pub fn multilevel(source: SourceConfig, group_size: usize, seed: u64) -> DatasetConfig {
    DatasetConfig::Multilevel(MultiLevelConfig {
        sources: vec![source],
        group_size,
        passage_selection_strategy: PassageSelection::Random,
        seed,
    })
}

/// Binarised data from one graded source: level ≥ `threshold` positive, below negative.
pub fn binarised(
    source: SourceConfig,
    threshold: f64,
    group_size: usize,
    seed: u64,
) -> DatasetConfig {
    let mut pos = source.clone();
    pos.min_score = Some(threshold);
    pos.score_transform = Some(1);
    let mut neg = source;
    neg.max_score = Some(threshold);
    neg.score_transform = Some(0);
    DatasetConfig::Binary(BinaryConfig {
        positives: vec![pos],
        negatives: vec![neg],
        group_size,
        seed,
    })
}

/// The small-run settings `quickstart` and `graded` share: global batch 8 (one chunk), query
/// length 64, each loss's default τ for the model (MiniLM's embeddings are unit vectors:
/// InfoNCE 0.05, WS2 [`rankwise_train::NORMALIZED_LISTWISE_TEMPERATURE`]), lr 2e-5 with 10 %
/// warm-up; with `smoke`, 2 steps of 2 queries and 5 evaluation queries. Returns the training
/// config and evaluation settings.
pub fn small_run(
    model: &Path,
    data: &Path,
    out: &Path,
    passage_max_length: usize,
    seed: u64,
    smoke: bool,
) -> (TrainConfig, EvalSettings) {
    let mut config = TrainConfig::new(model, data, out);
    config.global_batch = 8;
    config.chunk_size = 0;
    config.query_max_length = 64;
    config.passage_max_length = passage_max_length;
    config.optimizer.lr = 2e-5;
    config.optimizer.warmup_ratio = 0.1;
    config.seed = seed;
    let mut settings = super::run::default_settings(Some(out.join("embedding-cache")));
    if smoke {
        config.global_batch = 2;
        config.max_steps = Some(2);
        settings.max_queries = Some(5);
        settings.progress = false;
    }
    (config, settings)
}

/// Trains one run and evaluates its model on `eval_dataset`; an earlier run or result in its
/// place is replaced only with `overwrite`.
#[allow(clippy::too_many_arguments)]
pub fn train_and_evaluate(
    name: &str,
    mut config: TrainConfig,
    kind: LossKind,
    data: PathBuf,
    out: &Path,
    eval_dataset: &Path,
    settings: &EvalSettings,
    progress: bool,
    overwrite: bool,
) -> anyhow::Result<Row> {
    config.loss.kind = kind;
    config.data = data;
    config.output_dir = out.join(name);
    let t = Instant::now();
    let existing = if overwrite {
        OnExisting::Overwrite
    } else {
        OnExisting::Refuse
    };
    let trained = super::run::train_config(&config, &Default::default(), existing, progress)?;
    let train_s = t.elapsed().as_secs_f64();
    let model = trained.model_dir.expect("finished runs export a model");
    let summary = super::run::evaluate_model(
        &model,
        name,
        &[eval_dataset.to_path_buf()],
        settings,
        Lengths::both(config.query_max_length, config.passage_max_length),
        &out.join(format!("eval-{name}.json")),
        overwrite,
    )?
    .remove(0);
    Ok(Row {
        run: name.into(),
        loss: format!("{kind:?}").to_lowercase(),
        summary,
        train_s,
    })
}

/// Evaluates the starting model (an earlier result is replaced only with `overwrite`).
pub fn evaluate_base(
    model: &Path,
    out: &Path,
    eval_dataset: &Path,
    settings: &EvalSettings,
    lengths: Lengths,
    overwrite: bool,
) -> anyhow::Result<Row> {
    let summary = super::run::evaluate_model(
        model,
        "base",
        &[eval_dataset.to_path_buf()],
        settings,
        lengths,
        &out.join("eval-base.json"),
        overwrite,
    )?
    .remove(0);
    Ok(Row {
        run: "base".into(),
        loss: "-".into(),
        summary,
        train_s: 0.0,
    })
}

/// Markdown table of rows, with the command that produced it.
pub fn table(rows: &[Row], command: &str) -> String {
    let mut s = format!(
        "Command: `{command}`\n\n| run | loss | collection | queries | nDCG@10 | MRR@10 | Recall@100 | train (s) | eval (s) |\n\
         |---|---|---|---:|---:|---:|---:|---:|---:|\n"
    );
    for r in rows {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {:.4} | {:.4} | {:.4} | {:.0} | {:.0} |\n",
            r.run,
            r.loss,
            r.summary.collection,
            r.summary.num_queries,
            r.summary.ndcg_10,
            r.summary.mrr_10,
            r.summary.recall_100,
            r.train_s,
            r.summary.timings_s.total
        ));
    }
    s
}

/// Writes `results.json` and `results.md` into `out` and prints the table.
pub fn report(out: &Path, rows: &[Row], command: &str, seconds: f64) -> anyhow::Result<()> {
    let json = serde_json::json!({"command": command, "wall_s": seconds, "rows": rows});
    rankwise_files::write_atomic(
        &out.join("results.json"),
        serde_json::to_string_pretty(&json)?.as_bytes(),
    )?;
    let md = format!("{}\nWall time: {:.0} s\n", table(rows, command), seconds);
    rankwise_files::write_atomic(&out.join("results.md"), md.as_bytes())?;
    println!("{md}");
    Ok(())
}

/// The command line as typed (for result tables).
pub fn command_line() -> String {
    std::env::args().collect::<Vec<_>>().join(" ")
}

/// The shipped synthetic dataset (`quickstart` and `study` train on it by default).
pub fn shipped_data() -> PathBuf {
    rankwise_assets::workspace_root().join("datasets/synthetic-scifact-qwen05b")
}
