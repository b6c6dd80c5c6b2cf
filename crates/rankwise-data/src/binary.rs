//! `BinaryDataset`: one positive and `group_size − 1` negatives per query (contrastive training).
//!
//! The selection follows the reference (Trove's `BinaryDataset`): query `index` in `epoch` takes
//! positive `(index + seed + epoch) mod P`, and its negatives from a ring in an order fixed by
//! (seed, index), starting at `epoch · (group_size − 1)`, so successive epochs see successive
//! negatives; a query with too few negatives draws them with replacement.

use std::collections::HashSet;

use rand::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::item::{GroupedDataset, TrainItem};
use crate::sampling::{Pick, item_rng, merge, merge_all};
use crate::source::{Source, SourceConfig, SourceLoader, SourceReport};

fn default_seed() -> u64 {
    42
}

/// `index + seed + epoch`, wrapping: the position of the positive (modulo their count) in an
/// item, and the reference's seed of its negative order (`hash(index + seed)` in Python is the
/// integer itself).
fn rotation(index: usize, seed: u64, epoch: u64) -> usize {
    (index as u64).wrapping_add(seed).wrapping_add(epoch) as usize
}

/// The `need` negatives of query `index` in `epoch`, as the reference draws them: the query's
/// negatives in one order fixed by (seed, index), read as a ring from position
/// `epoch · need mod len`, so consecutive epochs walk through all of them before any repeats.
/// With fewer than `need` negatives they are drawn with replacement (from the item's generator).
fn negative_window(
    negatives: &[Pick],
    need: usize,
    seed: u64,
    index: usize,
    epoch: u64,
    rng: &mut rand_chacha::ChaCha8Rng,
) -> Vec<Pick> {
    if negatives.len() < need {
        return (0..need)
            .map(|_| negatives[rng.random_range(0..negatives.len())])
            .collect();
    }
    let mut order = negatives.to_vec();
    order.shuffle(&mut item_rng(seed, u64::MAX, rotation(index, seed, 0)));
    let start = ((epoch as u128 * need as u128) % order.len() as u128) as usize;
    (0..need)
        .map(|k| order[(start + k) % order.len()])
        .collect()
}

/// Configuration of a [`BinaryDataset`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BinaryConfig {
    /// Sources of positives.
    pub positives: Vec<SourceConfig>,
    /// Sources of negatives.
    pub negatives: Vec<SourceConfig>,
    /// Passages per query: one positive plus `group_size − 1` negatives.
    pub group_size: usize,
    /// Seed of every random draw (the reference's default, 42).
    #[serde(default = "default_seed")]
    pub seed: u64,
}

/// Counts of a loaded [`BinaryDataset`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BinaryReport {
    /// Queries with at least one positive and one negative (the dataset).
    pub queries: usize,
    /// Queries that have positives but no negatives (not in the dataset).
    pub without_negatives: usize,
    /// Queries that have negatives but no positives (not in the dataset).
    pub without_positives: usize,
    /// Negatives that are also a positive of the same query (kept as positives only).
    pub negatives_also_positive: usize,
}

/// Queries with positives and negatives from separate source lists.
#[derive(Debug, Clone)]
pub struct BinaryDataset {
    config: BinaryConfig,
    positives: Vec<Source>,
    negatives: Vec<Source>,
    queries: Vec<String>,
    report: BinaryReport,
}

fn load_all(
    loader: &mut SourceLoader,
    configs: &[SourceConfig],
    key: &str,
) -> Result<Vec<Source>, DataError> {
    if configs.is_empty() {
        return Err(DataError::config(key, "at least one source is needed"));
    }
    configs
        .iter()
        .enumerate()
        .map(|(i, s)| loader.load(s, &format!("{key}[{i}]")))
        .collect()
}

fn query_set(sources: &[Source]) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for s in sources {
        for q in &s.query_order {
            if seen.insert(q) {
                out.push(q.clone());
            }
        }
    }
    out
}

impl BinaryDataset {
    /// Loads the sources and keeps the queries that have both positives and negatives.
    pub fn load(config: BinaryConfig) -> Result<Self, DataError> {
        if config.group_size < 2 {
            return Err(DataError::config(
                "group_size",
                format!(
                    "must be at least 2 (one positive + negatives), got {}",
                    config.group_size
                ),
            ));
        }
        let mut loader = SourceLoader::default();
        let positives = load_all(&mut loader, &config.positives, "positives")?;
        let negatives = load_all(&mut loader, &config.negatives, "negatives")?;
        let pos_q = query_set(&positives);
        let neg_q: HashSet<String> = query_set(&negatives).into_iter().collect();
        let pos_set: HashSet<&String> = pos_q.iter().collect();
        let mut report = BinaryReport {
            without_positives: neg_q.iter().filter(|q| !pos_set.contains(q)).count(),
            ..Default::default()
        };
        let mut queries = Vec::new();
        for q in &pos_q {
            let pos: HashSet<&str> = merge_all(&positives, q)
                .iter()
                .map(|p| positives[p.source].corpus.id(p.doc))
                .collect();
            let neg = merge_all(&negatives, q);
            let overlap = neg
                .iter()
                .filter(|p| pos.contains(negatives[p.source].corpus.id(p.doc)))
                .count();
            report.negatives_also_positive += overlap;
            if neg.len() > overlap {
                queries.push(q.clone());
            } else {
                report.without_negatives += 1;
            }
        }
        report.queries = queries.len();
        if queries.is_empty() {
            return Err(DataError::Empty(
                "no query has both a positive and a negative".into(),
            ));
        }
        Ok(Self {
            config,
            positives,
            negatives,
            queries,
            report,
        })
    }

    /// Counts.
    pub fn report(&self) -> &BinaryReport {
        &self.report
    }
    /// What each source kept and dropped (positives, then negatives).
    pub fn source_reports(&self) -> Vec<&SourceReport> {
        self.positives
            .iter()
            .chain(&self.negatives)
            .map(|s| &s.report)
            .collect()
    }
    /// Query ids, in dataset order.
    pub fn query_ids(&self) -> impl Iterator<Item = &str> {
        self.queries.iter().map(String::as_str)
    }
}

impl GroupedDataset for BinaryDataset {
    fn len(&self) -> usize {
        self.queries.len()
    }

    fn group_size(&self) -> usize {
        self.config.group_size
    }

    fn item(&self, index: usize, epoch: u64) -> TrainItem {
        let q = &self.queries[index];
        let mut rng = item_rng(self.config.seed, epoch, index);
        let positives = merge(&self.positives, q, &mut rng);
        let pos_ids: HashSet<&str> = positives
            .iter()
            .map(|p| self.positives[p.source].corpus.id(p.doc))
            .collect();
        let not_positive = |p: &Pick| !pos_ids.contains(self.negatives[p.source].corpus.id(p.doc));
        let mut negatives: Vec<Pick> = merge(&self.negatives, q, &mut rng)
            .into_iter()
            .filter(not_positive)
            .collect();
        if negatives.is_empty() {
            // `group_random_k` drew only passages that are also positives: use every negative
            // (load kept only queries that have at least one true negative).
            negatives = merge_all(&self.negatives, q)
                .into_iter()
                .filter(not_positive)
                .collect();
        }
        let need = self.config.group_size - 1;
        let chosen_neg =
            negative_window(&negatives, need, self.config.seed, index, epoch, &mut rng);
        // The reference's rule: the positive rotates with the query index, the seed and the epoch.
        let positive = positives[rotation(index, self.config.seed, epoch) % positives.len()];
        let entries: Vec<(&Source, Pick, i64)> =
            std::iter::once((&self.positives[positive.source], positive, 1))
                .chain(
                    chosen_neg
                        .iter()
                        .map(|p| (&self.negatives[p.source], *p, 0)),
                )
                .collect();
        TrainItem {
            query_id: q.clone(),
            query: self.positives[positive.source]
                .queries
                .get(q)
                .expect("query ids come from the queries file")
                .to_string(),
            passage_ids: entries
                .iter()
                .map(|(s, p, _)| s.corpus.id(p.doc).to_string())
                .collect(),
            passages: entries
                .iter()
                .map(|(s, p, _)| s.corpus.text(p.doc).to_string())
                .collect(),
            labels: entries.iter().map(|e| e.2).collect(),
        }
    }
}
