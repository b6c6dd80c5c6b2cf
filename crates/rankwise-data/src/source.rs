//! Qrel sources: one (corpus, queries, qrels) triple plus the paper's filtering knobs, loaded
//! into per-query candidate lists.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::DataError;
use rankwise_files::{
    Collection, collection_file, qrels_file, read_corpus, read_qrels, read_queries,
};

/// One source of judgements and its filtering rules (a `[[sources]]` table in a dataset config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// `corpus.jsonl` (or `.jsonl.gz`).
    pub corpus: PathBuf,
    /// `queries.jsonl`.
    pub queries: PathBuf,
    /// Qrels: TSV with header, TREC, or JSONL.
    pub qrels: PathBuf,
    /// Keep rows with raw score ≥ this (inclusive).
    #[serde(default)]
    pub min_score: Option<f64>,
    /// Keep rows with raw score < this (exclusive).
    #[serde(default)]
    pub max_score: Option<f64>,
    /// Replace every kept score by this level (e.g. real positives → 3, BM25 negatives → 1).
    #[serde(default)]
    pub score_transform: Option<i64>,
    /// Keep k random passages of this source per query, redrawn every time an item is built.
    #[serde(default)]
    pub group_random_k: Option<usize>,
    /// Keep the k highest-scored passages of this source per query (applied at load).
    #[serde(default)]
    pub group_top_k: Option<usize>,
    /// Drop (and count) judgements whose query or document id is unknown instead of failing.
    #[serde(default)]
    pub skip_missing: bool,
}

impl SourceConfig {
    /// A source with no filters.
    pub fn new(
        corpus: impl Into<PathBuf>,
        queries: impl Into<PathBuf>,
        qrels: impl Into<PathBuf>,
    ) -> Self {
        Self {
            corpus: corpus.into(),
            queries: queries.into(),
            qrels: qrels.into(),
            min_score: None,
            max_score: None,
            score_transform: None,
            group_random_k: None,
            group_top_k: None,
            skip_missing: false,
        }
    }

    /// A source over a BEIR folder (`corpus.jsonl`, `queries.jsonl`, `qrels/<split>.tsv`, or
    /// the gzip/parquet/CSV files [`collection_file`] and [`qrels_file`] find).
    /// Several formats of the same file in the folder are an error.
    pub fn beir(folder: &Path, split: &str) -> Result<Self, DataError> {
        Ok(Self::new(
            collection_file(folder, "corpus")?,
            collection_file(folder, "queries")?,
            qrels_file(folder, split)?,
        ))
    }

    /// Paths made absolute against `base` (the directory of the config file).
    pub fn resolved(&self, base: &Path) -> Self {
        let fix = |p: &PathBuf| {
            if p.is_absolute() {
                p.clone()
            } else {
                base.join(p)
            }
        };
        Self {
            corpus: fix(&self.corpus),
            queries: fix(&self.queries),
            qrels: fix(&self.qrels),
            ..self.clone()
        }
    }

    /// Checks the knobs; `key` is the config path of this source (e.g. `sources[0]`).
    pub fn validate(&self, key: &str) -> Result<(), DataError> {
        if let (Some(lo), Some(hi)) = (self.min_score, self.max_score)
            && lo >= hi
        {
            return Err(DataError::config(
                format!("{key}.max_score"),
                format!("must be greater than min_score ({lo}), got {hi}"),
            ));
        }
        for (name, v) in [
            ("group_random_k", self.group_random_k),
            ("group_top_k", self.group_top_k),
        ] {
            if v == Some(0) {
                return Err(DataError::config(
                    format!("{key}.{name}"),
                    "must be at least 1 (leave it out to keep every passage)",
                ));
            }
        }
        Ok(())
    }
}

/// One judged passage of a query in a source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Position in the source's corpus.
    pub doc: usize,
    /// Integer relevance level (after `score_transform`).
    pub level: i64,
    /// Raw score from the file.
    pub score: f64,
}

/// What loading a source kept and dropped.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SourceReport {
    /// The qrels file.
    pub qrels: PathBuf,
    /// Rows in the file.
    pub rows: usize,
    /// Rows kept.
    pub kept: usize,
    /// Rows outside `[min_score, max_score)`.
    pub outside_score_range: usize,
    /// Rows dropped by `group_top_k`.
    pub beyond_top_k: usize,
    /// Rows with an unknown query id (dropped only with `skip_missing`).
    pub unknown_queries: usize,
    /// Rows with an unknown document id (dropped only with `skip_missing`).
    pub unknown_docs: usize,
    /// Queries with at least one kept row.
    pub queries: usize,
}

/// A loaded source: the collections and, per query, its candidates in file order.
#[derive(Debug, Clone)]
pub struct Source {
    /// The (resolved) configuration.
    pub config: SourceConfig,
    /// The corpus.
    pub corpus: Arc<Collection>,
    /// The queries.
    pub queries: Arc<Collection>,
    /// Query id → candidates.
    pub groups: HashMap<String, Vec<Candidate>>,
    /// Query ids in order of first appearance in the qrels.
    pub query_order: Vec<String>,
    /// Counts.
    pub report: SourceReport,
}

/// Loads sources, reading each corpus/queries file once even when several sources share it.
#[derive(Debug, Default)]
pub struct SourceLoader {
    corpora: HashMap<PathBuf, Arc<Collection>>,
    queries: HashMap<PathBuf, Arc<Collection>>,
}

impl SourceLoader {
    /// Loads one source; `key` names it in errors (e.g. `sources[2]`).
    pub fn load(&mut self, config: &SourceConfig, key: &str) -> Result<Source, DataError> {
        config.validate(key)?;
        let corpus = match self.corpora.get(&config.corpus) {
            Some(c) => c.clone(),
            None => {
                let c = Arc::new(read_corpus(&config.corpus)?);
                self.corpora.insert(config.corpus.clone(), c.clone());
                c
            }
        };
        let queries = match self.queries.get(&config.queries) {
            Some(q) => q.clone(),
            None => {
                let q = Arc::new(read_queries(&config.queries)?);
                self.queries.insert(config.queries.clone(), q.clone());
                q
            }
        };
        let rows = read_qrels(&config.qrels)?;
        let mut report = SourceReport {
            qrels: config.qrels.clone(),
            rows: rows.len(),
            ..Default::default()
        };
        let mut groups: HashMap<String, Vec<Candidate>> = HashMap::new();
        let mut query_order = Vec::new();
        let mut seen: HashMap<(String, usize), usize> = HashMap::new();
        let mut first_unknown: Option<(usize, String)> = None;
        for row in rows {
            let doc = corpus.position(&row.doc_id);
            let known_query = queries.position(&row.query_id).is_some();
            if !known_query || doc.is_none() {
                if !known_query {
                    report.unknown_queries += 1;
                } else {
                    report.unknown_docs += 1;
                }
                if first_unknown.is_none() {
                    let what = if known_query {
                        format!(
                            "corpus-id {:?} is not in {}",
                            row.doc_id,
                            corpus.path().display()
                        )
                    } else {
                        format!(
                            "query-id {:?} is not in {}",
                            row.query_id,
                            queries.path().display()
                        )
                    };
                    first_unknown = Some((row.line, what));
                }
                continue;
            }
            let doc = doc.expect("checked");
            if let Some(first) = seen.insert((row.query_id.clone(), doc), row.line) {
                return Err(DataError::parse(
                    &config.qrels,
                    row.line,
                    "corpus-id",
                    format!(
                        "({}, {}) is judged twice (first on line {first})",
                        row.query_id, row.doc_id
                    ),
                ));
            }
            let in_range = config.min_score.is_none_or(|lo| row.score >= lo)
                && config.max_score.is_none_or(|hi| row.score < hi);
            if !in_range {
                report.outside_score_range += 1;
                continue;
            }
            let level = match config.score_transform {
                Some(level) => level,
                None if row.score.fract() == 0.0 => row.score as i64,
                None => {
                    return Err(DataError::parse(
                        &config.qrels,
                        row.line,
                        "score",
                        format!(
                            "{} is not an integer relevance level; set `{key}.score_transform` \
                             to give this source's passages one level",
                            row.score
                        ),
                    ));
                }
            };
            let group = groups.entry(row.query_id.clone()).or_insert_with(|| {
                query_order.push(row.query_id.clone());
                Vec::new()
            });
            group.push(Candidate {
                doc,
                level,
                score: row.score,
            });
        }
        let unknown = report.unknown_queries + report.unknown_docs;
        if unknown > 0 && !config.skip_missing {
            let (first_line, first_detail) = first_unknown.expect("counted");
            return Err(DataError::UnknownIds {
                path: config.qrels.clone(),
                count: unknown,
                first_line,
                first_detail,
            });
        }
        if let Some(k) = config.group_top_k {
            for group in groups.values_mut() {
                // Stable: equal scores keep file order.
                group.sort_by(|a, b| b.score.total_cmp(&a.score));
                if group.len() > k {
                    report.beyond_top_k += group.len() - k;
                    group.truncate(k);
                }
            }
        }
        report.kept = groups.values().map(Vec::len).sum();
        report.queries = groups.len();
        Ok(Source {
            config: config.clone(),
            corpus,
            queries,
            groups,
            query_order,
            report,
        })
    }
}
