//! `MultiLevelDataset`: per query, passages with graded levels from any number of sources.

use std::collections::HashSet;

use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::item::{GroupedDataset, TrainItem};
use crate::sampling::{Pick, cycle_to, item_rng, merge};
use crate::source::{Source, SourceConfig, SourceLoader, SourceReport};

/// How `group_size` passages are chosen from a query's merged candidates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PassageSelection {
    /// A fresh random permutation each time; cycled when too few, truncated when too many.
    #[default]
    Random,
    /// Highest levels first (stable: ties keep merge order); cycled when too few.
    MostRelevant,
}

/// Configuration of a [`MultiLevelDataset`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultiLevelConfig {
    /// The sources, merged in order.
    pub sources: Vec<SourceConfig>,
    /// Passages per query.
    pub group_size: usize,
    /// Selection rule.
    #[serde(default)]
    pub passage_selection_strategy: PassageSelection,
    /// Seed of every random draw.
    #[serde(default)]
    pub seed: u64,
}

/// Queries with graded passages from several sources (the paper's multi-level training data).
#[derive(Debug, Clone)]
pub struct MultiLevelDataset {
    config: MultiLevelConfig,
    sources: Vec<Source>,
    /// (query id, source whose queries file gives its text).
    queries: Vec<(String, usize)>,
}

impl MultiLevelDataset {
    /// Loads every source; the queries are the union over sources, in order of first appearance.
    pub fn load(config: MultiLevelConfig) -> Result<Self, DataError> {
        if config.group_size == 0 {
            return Err(DataError::config("group_size", "must be at least 1"));
        }
        if config.sources.is_empty() {
            return Err(DataError::config(
                "sources",
                "at least one source is needed",
            ));
        }
        let mut loader = SourceLoader::default();
        let sources = config
            .sources
            .iter()
            .enumerate()
            .map(|(i, s)| loader.load(s, &format!("sources[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let mut seen = HashSet::new();
        let mut queries = Vec::new();
        for (s, source) in sources.iter().enumerate() {
            for q in &source.query_order {
                if seen.insert(q.clone()) {
                    queries.push((q.clone(), s));
                }
            }
        }
        if queries.is_empty() {
            return Err(DataError::Empty(
                "no source kept any judgement (check min_score/max_score)".into(),
            ));
        }
        Ok(Self {
            config,
            sources,
            queries,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &MultiLevelConfig {
        &self.config
    }
    /// What each source kept and dropped.
    pub fn reports(&self) -> Vec<&SourceReport> {
        self.sources.iter().map(|s| &s.report).collect()
    }
    /// Query ids, in dataset order.
    pub fn query_ids(&self) -> impl Iterator<Item = &str> {
        self.queries.iter().map(|(q, _)| q.as_str())
    }
    /// All merged candidates of query `index` (levels included) before group selection,
    /// with `group_random_k` drawn for `epoch`.
    pub fn candidates(&self, index: usize, epoch: u64) -> Vec<(String, i64)> {
        let (q, _) = &self.queries[index];
        let mut rng = item_rng(self.config.seed, epoch, index);
        merge(&self.sources, q, &mut rng)
            .into_iter()
            .map(|p| (self.sources[p.source].corpus.id(p.doc).to_string(), p.level))
            .collect()
    }
}

impl GroupedDataset for MultiLevelDataset {
    fn len(&self) -> usize {
        self.queries.len()
    }

    fn group_size(&self) -> usize {
        self.config.group_size
    }

    fn item(&self, index: usize, epoch: u64) -> TrainItem {
        let (q, text_source) = &self.queries[index];
        let mut rng = item_rng(self.config.seed, epoch, index);
        let mut picks: Vec<Pick> = merge(&self.sources, q, &mut rng);
        match self.config.passage_selection_strategy {
            PassageSelection::Random => picks.shuffle(&mut rng),
            PassageSelection::MostRelevant => picks.sort_by_key(|p| std::cmp::Reverse(p.level)),
        }
        let chosen = cycle_to(&picks, self.config.group_size);
        let doc = |p: &Pick| &self.sources[p.source].corpus;
        TrainItem {
            query_id: q.clone(),
            query: self.sources[*text_source]
                .queries
                .get(q)
                .expect("query ids come from the queries file")
                .to_string(),
            passage_ids: chosen
                .iter()
                .map(|p| doc(p).id(p.doc).to_string())
                .collect(),
            passages: chosen
                .iter()
                .map(|p| doc(p).text(p.doc).to_string())
                .collect(),
            labels: chosen.iter().map(|p| p.level).collect(),
        }
    }
}
