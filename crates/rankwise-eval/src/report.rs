//! Outputs of an evaluation: TREC run file, JSON summary, per-query JSON, markdown table.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rankwise_files::write_atomic;

use crate::pipeline::{Outcome, Summary};
use crate::trec::EvalError;

/// TREC run text (`qid Q0 docid rank score tag`), ranks from 1.
pub fn run_text(run: &[(String, Vec<(String, f32)>)], tag: &str) -> String {
    let mut out = String::new();
    for (q, hits) in run {
        for (r, (d, s)) in hits.iter().enumerate() {
            let _ = writeln!(out, "{q} Q0 {d} {} {s} {tag}", r + 1);
        }
    }
    out
}

/// A markdown table with one row per summary (collections and/or models side by side).
pub fn markdown_table(rows: &[Summary]) -> String {
    let mut out = String::from(
        "| model | collection | queries | nDCG@10 | MRR@10 | Recall@100 | time (s) |\n\
         |---|---|---:|---:|---:|---:|---:|\n",
    );
    for s in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.4} | {:.4} | {:.4} | {:.1} |",
            s.model,
            s.collection,
            s.num_queries,
            s.ndcg_10,
            s.mrr_10,
            s.recall_100,
            s.timings_s.total
        );
    }
    out
}

/// Files written next to the summary.
#[derive(Debug, Clone)]
pub struct Written {
    /// The JSON summary.
    pub summary: PathBuf,
    /// The TREC run.
    pub run: PathBuf,
    /// Per-query measures.
    pub per_query: PathBuf,
    /// The markdown table.
    pub table: PathBuf,
    /// Histogram of the top-k similarity scores.
    pub top_k_plot: PathBuf,
    /// Histograms of retrieved judged documents' scores per relevance level.
    pub levels_plot: PathBuf,
}

impl Written {
    /// The files [`write_outcome`] writes for the summary `summary_path` (nothing is written).
    pub fn beside(summary_path: &Path) -> Self {
        Self {
            summary: summary_path.to_path_buf(),
            run: sibling(summary_path, ".run"),
            per_query: sibling(summary_path, ".per_query.json"),
            table: sibling(summary_path, ".md"),
            top_k_plot: sibling(summary_path, ".topk.png"),
            levels_plot: sibling(summary_path, ".levels.png"),
        }
    }

    /// Every file, summary first.
    pub fn paths(&self) -> [&Path; 6] {
        [
            &self.summary,
            &self.run,
            &self.per_query,
            &self.table,
            &self.top_k_plot,
            &self.levels_plot,
        ]
    }
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "eval".into());
    path.with_file_name(format!("{stem}{suffix}"))
}

fn json_bytes<T: serde::Serialize>(value: &T) -> Vec<u8> {
    let mut v = serde_json::to_vec_pretty(value).expect("serialisable");
    v.push(b'\n');
    v
}

/// Writes `summary_path` (JSON) and, beside it, `<stem>.run`, `<stem>.per_query.json` and
/// `<stem>.md`. Every file is written atomically.
pub fn write_outcome(outcome: &Outcome, summary_path: &Path) -> Result<Written, EvalError> {
    let w = Written::beside(summary_path);
    if let Some(dir) = summary_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|source| rankwise_files::FileError::io(dir, source))?;
    }
    write_plots(outcome, &w)?;
    write_atomic(&w.run, run_text(&outcome.run, "rankwise").as_bytes())?;
    write_atomic(&w.per_query, &json_bytes(&outcome.per_query))?;
    write_atomic(
        &w.table,
        markdown_table(std::slice::from_ref(&outcome.summary)).as_bytes(),
    )?;
    write_atomic(&w.summary, &json_bytes(&outcome.summary))?;
    Ok(w)
}

/// Score histograms (as the paper's figures 3 and 4): every retrieved score, and the retrieved
/// documents' scores grouped by relevance level (plus the unjudged ones).
fn write_plots(outcome: &Outcome, w: &Written) -> Result<(), EvalError> {
    let plot_err = |e: rankwise_plot::PlotError| EvalError::Search(format!("plot: {e}"));
    let all: Vec<f64> = outcome
        .run
        .iter()
        .flat_map(|(_, hits)| hits.iter().map(|h| h.1 as f64))
        .collect();
    let title = format!(
        "{} on {}: top-{} scores",
        outcome.summary.model, outcome.summary.collection, outcome.summary.k
    );
    rankwise_plot::histogram(
        &w.top_k_plot,
        &title,
        "similarity",
        &[("retrieved", all)],
        40,
    )
    .map_err(plot_err)?;
    let mut by_level: std::collections::BTreeMap<i64, Vec<f64>> = Default::default();
    let mut unjudged = Vec::new();
    for (q, hits) in &outcome.run {
        let Some(judged) = outcome.qrels.get(q) else {
            continue;
        };
        for (d, s) in hits {
            match judged.get(d) {
                Some(&g) => by_level.entry(g).or_default().push(*s as f64),
                None => unjudged.push(*s as f64),
            }
        }
    }
    let mut names: Vec<String> = by_level.keys().map(|g| format!("level {g}")).collect();
    names.push("not judged".into());
    let groups: Vec<(&str, Vec<f64>)> = names
        .iter()
        .map(String::as_str)
        .zip(by_level.into_values().chain([unjudged]))
        .collect();
    let title = format!(
        "{} on {}: judged scores by level",
        outcome.summary.model, outcome.summary.collection
    );
    rankwise_plot::histogram(&w.levels_plot, &title, "similarity", &groups, 30).map_err(plot_err)
}
