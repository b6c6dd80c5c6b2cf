//! The output folder, in the layout the data crate reads: `corpus.jsonl` (ids
//! `<query id>-L<level>`), `queries.jsonl`, `qrels/train.tsv` (the levels), plus
//! `generation.jsonl` (one record per finished query: attributes, model, timings, tokens) and
//! `failures.jsonl` (queries given up on, with the raw response).
//!
//! Append-only and flushed per record. A query's lines are written corpus → qrels → queries
//! → generation; its `generation.jsonl` record is the commit. On open, a torn last line (a run
//! killed mid-write) is cut off, and corpus/qrels/queries lines of queries without a commit
//! record are removed, so a resumed run neither duplicates nor loses anything.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::error::SynthError;

/// One generated query's passages, best first (levels 3, 2, 1, 0).
#[derive(Debug, Clone)]
pub struct Generated {
    /// Query id.
    pub query_id: String,
    /// Query text.
    pub query: String,
    /// Passages for levels 3, 2, 1, 0.
    pub passages: [String; 4],
    /// The `generation.jsonl` record.
    pub record: Value,
}

/// What opening the folder found and repaired.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Recovery {
    /// Queries already finished (generated or failed).
    pub finished: usize,
    /// Files whose torn last line was cut off.
    pub torn_lines: usize,
    /// Lines of unfinished queries removed.
    pub orphan_lines: usize,
}

/// The open output folder.
#[derive(Debug)]
pub struct OutputStore {
    dir: PathBuf,
    corpus: File,
    qrels: File,
    queries: File,
    generation: File,
    failures: File,
    done: HashSet<String>,
    failed: HashSet<String>,
}

const QRELS_HEADER: &str = "query-id\tcorpus-id\tscore\n";

fn read_lines(path: &Path) -> Result<Vec<String>, SynthError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let bytes = std::fs::read(path).map_err(|e| SynthError::io(path, e))?;
    let text = String::from_utf8_lossy(&bytes);
    Ok(text.lines().map(String::from).collect())
}

/// Cuts a torn (unterminated) last line; returns whether one was cut.
fn cut_torn(path: &Path) -> Result<bool, SynthError> {
    if !path.exists() {
        return Ok(false);
    }
    let bytes = std::fs::read(path).map_err(|e| SynthError::io(path, e))?;
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return Ok(false);
    }
    let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    rankwise_files::write_atomic(path, &bytes[..keep])?;
    Ok(true)
}

fn append(path: &Path) -> Result<File, SynthError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| SynthError::io(path, e))
}

fn query_of_doc(id: &str) -> &str {
    id.rsplit_once("-L").map_or(id, |(q, _)| q)
}

fn ids_in(path: &Path, lines: &[String], key: &str) -> Result<Vec<String>, SynthError> {
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let v: Value =
                serde_json::from_str(l).map_err(|e| rankwise_files::FileError::Parse {
                    path: path.to_path_buf(),
                    line: i + 1,
                    field: "json".into(),
                    detail: e.to_string(),
                })?;
            v[key].as_str().map(String::from).ok_or_else(|| {
                rankwise_files::FileError::Parse {
                    path: path.to_path_buf(),
                    line: i + 1,
                    field: key.into(),
                    detail: "missing".into(),
                }
                .into()
            })
        })
        .collect()
}

impl OutputStore {
    /// Opens (creating) `dir`, repairs it, and lists finished queries. With `retry_failed`,
    /// earlier failures are forgotten so they are generated again.
    pub fn open(dir: &Path, retry_failed: bool) -> Result<(Self, Recovery), SynthError> {
        std::fs::create_dir_all(dir.join("qrels")).map_err(|e| SynthError::io(dir, e))?;
        let p = |n: &str| dir.join(n);
        let files = [
            "corpus.jsonl",
            "qrels/train.tsv",
            "queries.jsonl",
            "generation.jsonl",
            "failures.jsonl",
        ];
        let mut rec = Recovery::default();
        for f in files {
            rec.torn_lines += usize::from(cut_torn(&p(f))?);
        }
        let generated: HashSet<String> = ids_in(
            &p("generation.jsonl"),
            &read_lines(&p("generation.jsonl"))?,
            "query_id",
        )?
        .into_iter()
        .collect();
        let fail_lines = read_lines(&p("failures.jsonl"))?;
        let failed: HashSet<String> = if retry_failed {
            rankwise_files::write_atomic(&p("failures.jsonl"), b"")?;
            HashSet::new()
        } else {
            ids_in(&p("failures.jsonl"), &fail_lines, "query_id")?
                .into_iter()
                .collect()
        };
        // Drop lines of queries without a commit record.
        let corpus = read_lines(&p("corpus.jsonl"))?;
        let corpus_ids = ids_in(&p("corpus.jsonl"), &corpus, "_id")?;
        let keep_corpus: Vec<&String> = corpus
            .iter()
            .zip(&corpus_ids)
            .filter(|(_, id)| generated.contains(query_of_doc(id)))
            .map(|(l, _)| l)
            .collect();
        let queries = read_lines(&p("queries.jsonl"))?;
        let query_ids = ids_in(&p("queries.jsonl"), &queries, "_id")?;
        let keep_queries: Vec<&String> = queries
            .iter()
            .zip(&query_ids)
            .filter(|(_, id)| generated.contains(*id))
            .map(|(l, _)| l)
            .collect();
        let qrels = read_lines(&p("qrels/train.tsv"))?;
        let header = usize::from(qrels.first().is_some_and(|h| h.starts_with("query-id")));
        let keep_qrels: Vec<&String> = qrels
            .iter()
            .skip(header)
            .filter(|l| l.split('\t').next().is_some_and(|q| generated.contains(q)))
            .collect();
        rec.orphan_lines = (corpus.len() - keep_corpus.len())
            + (queries.len() - keep_queries.len())
            + (qrels.len() - header - keep_qrels.len());
        let join = |v: &[&String]| v.iter().map(|l| format!("{l}\n")).collect::<String>();
        rankwise_files::write_atomic(&p("corpus.jsonl"), join(&keep_corpus).as_bytes())?;
        rankwise_files::write_atomic(&p("queries.jsonl"), join(&keep_queries).as_bytes())?;
        rankwise_files::write_atomic(
            &p("qrels/train.tsv"),
            format!("{QRELS_HEADER}{}", join(&keep_qrels)).as_bytes(),
        )?;
        let done: HashSet<String> = generated.union(&failed).cloned().collect();
        rec.finished = done.len();
        Ok((
            Self {
                dir: dir.to_path_buf(),
                corpus: append(&p("corpus.jsonl"))?,
                qrels: append(&p("qrels/train.tsv"))?,
                queries: append(&p("queries.jsonl"))?,
                generation: append(&p("generation.jsonl"))?,
                failures: append(&p("failures.jsonl"))?,
                done,
                failed,
            },
            rec,
        ))
    }

    /// True when `query_id` ended as a failure in an earlier run (and `retry_failed` was off).
    pub fn is_failed(&self, query_id: &str) -> bool {
        self.failed.contains(query_id)
    }

    /// True when `query_id` needs no more work.
    pub fn is_done(&self, query_id: &str) -> bool {
        self.done.contains(query_id)
    }

    fn write(file: &mut File, path: PathBuf, text: &str) -> Result<(), SynthError> {
        file.write_all(text.as_bytes())
            .and_then(|_| file.flush())
            .map_err(|e| SynthError::io(&path, e))
    }

    /// Appends a generated query (commit record last).
    pub fn add(&mut self, g: &Generated) -> Result<(), SynthError> {
        let mut corpus = String::new();
        let mut qrels = String::new();
        for (i, text) in g.passages.iter().enumerate() {
            let level = 3 - i;
            let id = format!("{}-L{level}", g.query_id);
            let line = serde_json::json!({"_id": id, "title": "", "text": text});
            corpus.push_str(&format!("{line}\n"));
            qrels.push_str(&format!("{}\t{id}\t{level}\n", g.query_id));
        }
        let d = self.dir.clone();
        Self::write(&mut self.corpus, d.join("corpus.jsonl"), &corpus)?;
        Self::write(&mut self.qrels, d.join("qrels/train.tsv"), &qrels)?;
        let q = serde_json::json!({"_id": g.query_id, "text": g.query});
        Self::write(
            &mut self.queries,
            d.join("queries.jsonl"),
            &format!("{q}\n"),
        )?;
        Self::write(
            &mut self.generation,
            d.join("generation.jsonl"),
            &format!("{}\n", g.record),
        )?;
        self.done.insert(g.query_id.clone());
        Ok(())
    }

    /// Records a query given up on.
    pub fn fail(&mut self, query_id: &str, record: &Value) -> Result<(), SynthError> {
        let d = self.dir.clone();
        Self::write(
            &mut self.failures,
            d.join("failures.jsonl"),
            &format!("{record}\n"),
        )?;
        self.done.insert(query_id.to_string());
        Ok(())
    }
}
