//! Readers for qrels (BEIR TSV with header, or classic `qid 0 docid grade`) and TREC run files
//! (`qid Q0 docid rank score tag`). Ids stay strings. Errors name the file, line and field.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::metrics::{Qrels, Run};

/// A malformed or unreadable qrels/run file.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A file could not be read or written, or a data file (qrels, corpus, queries) is
    /// malformed.
    #[error(transparent)]
    File(#[from] rankwise_files::FileError),
    /// The encoder failed.
    #[error("encoder: {0}")]
    Encoder(String),
    /// Evaluation settings that cannot give a meaningful number (e.g. `k = 0`).
    #[error("settings: {0}")]
    Settings(String),
    /// Search inputs are unusable (empty corpus, mismatched dimensions, non-finite vectors).
    #[error("search: {0}")]
    Search(String),
    /// A line is malformed.
    #[error("{}:{line}: field `{field}`: {detail}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The field.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
}

fn parse_err(
    path: &Path,
    line: usize,
    field: &'static str,
    detail: impl Into<String>,
) -> EvalError {
    EvalError::Parse {
        path: path.to_path_buf(),
        line,
        field,
        detail: detail.into(),
    }
}

/// The file's text, without a leading byte-order mark.
fn read(path: &Path) -> Result<String, EvalError> {
    let mut text = std::fs::read_to_string(path)
        .map_err(|source| rankwise_files::FileError::io(path, source))?;
    rankwise_files::remove_bom(&mut text);
    Ok(text)
}

/// Reads qrels (BEIR TSV with header, TREC `qid 0 docid grade`, or JSONL; optionally gzipped)
/// with the data crate's reader. Grades must be integers; a pair judged twice is an error.
pub fn read_qrels(path: &Path) -> Result<Qrels, EvalError> {
    let rows = rankwise_files::read_qrels(path)?;
    let mut qrels: Qrels = HashMap::new();
    for r in rows {
        if r.score.fract() != 0.0 {
            return Err(parse_err(
                path,
                r.line,
                "score",
                format!("`{}` is not an integer grade", r.score),
            ));
        }
        if qrels
            .entry(r.query_id.clone())
            .or_default()
            .insert(r.doc_id.clone(), r.score as i64)
            .is_some()
        {
            return Err(parse_err(
                path,
                r.line,
                "corpus-id",
                format!("query `{}` judges `{}` twice", r.query_id, r.doc_id),
            ));
        }
    }
    Ok(qrels)
}

/// Reads a TREC run (`qid Q0 docid rank score tag`); rank and tag are ignored, as in trec_eval.
pub fn read_run(path: &Path) -> Result<Run, EvalError> {
    let text = read(path)?;
    let mut run: Run = HashMap::new();
    let mut seen: HashMap<String, std::collections::HashSet<String>> = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() != 6 {
            return Err(parse_err(
                path,
                n,
                "line",
                format!(
                    "expected 6 columns `qid Q0 docid rank score tag`, got {}",
                    cols.len()
                ),
            ));
        }
        let score: f64 = cols[4]
            .parse()
            .map_err(|_| parse_err(path, n, "score", format!("`{}` is not a number", cols[4])))?;
        if !score.is_finite() {
            return Err(parse_err(path, n, "score", "not finite"));
        }
        if !seen
            .entry(cols[0].to_string())
            .or_default()
            .insert(cols[2].to_string())
        {
            return Err(parse_err(
                path,
                n,
                "docid",
                format!("`{}` retrieved twice for query `{}`", cols[2], cols[0]),
            ));
        }
        run.entry(cols[0].to_string())
            .or_default()
            .push((cols[2].to_string(), score));
    }
    Ok(run)
}
