//! Training items: a query with its passages and their levels, and the datasets that draw them
//! per epoch.

use serde::Serialize;

/// One training example: a query and `group_size` passages with integer levels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainItem {
    /// Query id.
    pub query_id: String,
    /// Query text.
    pub query: String,
    /// Passage ids (in item order).
    pub passage_ids: Vec<String>,
    /// Passage texts.
    pub passages: Vec<String>,
    /// Relevance level of each passage.
    pub labels: Vec<i64>,
}

/// A dataset whose items depend on the epoch (random selections are redrawn every epoch).
pub trait GroupedDataset: Send + Sync {
    /// Number of queries (items per epoch).
    fn len(&self) -> usize;
    /// True when there is nothing to train on.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Passages per item.
    fn group_size(&self) -> usize;
    /// The item of query `index` in `epoch`; the same arguments always give the same item.
    fn item(&self, index: usize, epoch: u64) -> TrainItem;
}
