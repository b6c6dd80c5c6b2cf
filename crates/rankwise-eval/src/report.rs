//! Outputs of an evaluation: TREC run file, JSON summary, per-query JSON, markdown table.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rankwise_data::write_atomic;

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
    let w = Written {
        summary: summary_path.to_path_buf(),
        run: sibling(summary_path, ".run"),
        per_query: sibling(summary_path, ".per_query.json"),
        table: sibling(summary_path, ".md"),
    };
    write_atomic(&w.run, run_text(&outcome.run, "rankwise").as_bytes())?;
    write_atomic(&w.per_query, &json_bytes(&outcome.per_query))?;
    write_atomic(
        &w.table,
        markdown_table(std::slice::from_ref(&outcome.summary)).as_bytes(),
    )?;
    write_atomic(&w.summary, &json_bytes(&outcome.summary))?;
    Ok(w)
}
