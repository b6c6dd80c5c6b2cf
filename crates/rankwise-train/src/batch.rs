//! Training items on their way into the model: the Burn `Dataset` view of one epoch and the batcher
//! that tokenises items with the encoder's tokenizers (the one place where data meets the encoder).

use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::tensor::{Int, Tensor, TensorData, backend::Backend};
use rankwise_data::{GroupedDataset, TrainItem};
use rankwise_encoder::{EncoderError, TextTokenizer, TokenBatch};

/// One epoch of a [`GroupedDataset`] as a Burn [`Dataset`].
#[derive(Clone)]
pub struct EpochDataset<D> {
    /// The dataset.
    pub inner: Arc<D>,
    /// The epoch whose draws `get` returns.
    pub epoch: u64,
}

impl<D: GroupedDataset> Dataset<TrainItem> for EpochDataset<D> {
    fn get(&self, index: usize) -> Option<TrainItem> {
        (index < self.inner.len()).then(|| self.inner.item(index, self.epoch))
    }
    fn len(&self) -> usize {
        self.inner.len()
    }
}

/// A tokenised batch: `B` queries and `B·group_size` passages (query i's passages are rows
/// `i·g .. (i+1)·g`), and the labels `[B, g]`.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainBatch {
    /// Query ids.
    pub query_ids: Vec<String>,
    /// Tokenised queries.
    pub queries: TokenBatch,
    /// Tokenised passages.
    pub passages: TokenBatch,
    /// Row-major `[B, g]` levels.
    pub labels: Vec<i64>,
    /// Passages per query.
    pub group_size: usize,
}

impl TrainBatch {
    /// Number of queries.
    pub fn len(&self) -> usize {
        self.query_ids.len()
    }
    /// True for an empty batch.
    pub fn is_empty(&self) -> bool {
        self.query_ids.is_empty()
    }
    /// Labels as an integer tensor `[B, g]`.
    pub fn labels_tensor<B: Backend>(&self, device: &B::Device) -> Tensor<B, 2, Int> {
        Tensor::from_data(
            TensorData::new(self.labels.clone(), [self.len(), self.group_size]),
            device,
        )
    }
    /// Real (unpadded) tokens in the batch.
    pub fn tokens(&self) -> usize {
        self.queries.lengths.iter().sum::<usize>() + self.passages.lengths.iter().sum::<usize>()
    }
}

/// Tokenises items into a [`TrainBatch`] with the encoder's tokenizers and prefixes.
#[derive(Debug, Clone)]
pub struct TrainBatcher {
    /// Query tokenizer (query max length).
    pub query: TextTokenizer,
    /// Passage tokenizer (passage max length).
    pub passage: TextTokenizer,
    /// Prefix put before every query.
    pub query_prefix: String,
    /// Prefix put before every passage.
    pub passage_prefix: String,
}

impl TrainBatcher {
    /// Tokenises items; all must have the same group size.
    pub fn tokenize(&self, items: &[TrainItem]) -> Result<TrainBatch, EncoderError> {
        let g = items.first().map_or(0, |i| i.passages.len());
        let queries: Vec<String> = items
            .iter()
            .map(|i| format!("{}{}", self.query_prefix, i.query))
            .collect();
        let passages: Vec<String> = items
            .iter()
            .flat_map(|i| i.passages.iter())
            .map(|p| format!("{}{}", self.passage_prefix, p))
            .collect();
        let q: Vec<&str> = queries.iter().map(String::as_str).collect();
        let p: Vec<&str> = passages.iter().map(String::as_str).collect();
        Ok(TrainBatch {
            query_ids: items.iter().map(|i| i.query_id.clone()).collect(),
            queries: self.query.encode(&q)?,
            passages: self.passage.encode(&p)?,
            labels: items
                .iter()
                .flat_map(|i| i.labels.iter().copied())
                .collect(),
            group_size: g,
        })
    }
}

impl<B: Backend> Batcher<B, TrainItem, TrainBatch> for TrainBatcher {
    /// Panics only if a text cannot be tokenised at all (the `tokenizers` crate failing on
    /// valid UTF-8); use [`TrainBatcher::tokenize`] to get that as an error.
    fn batch(&self, items: Vec<TrainItem>, _device: &B::Device) -> TrainBatch {
        self.tokenize(&items).expect("tokenisation failed")
    }
}

impl TrainBatcher {
    /// The batcher matching an encoder's tokenizers, lengths and prefixes.
    pub fn for_encoder<B: Backend>(encoder: &rankwise_encoder::BiEncoder<B>) -> Self {
        use rankwise_encoder::Side;
        Self {
            query: encoder.tokenizer(Side::Query).clone(),
            passage: encoder.tokenizer(Side::Passage).clone(),
            query_prefix: encoder.options.query_prefix.clone(),
            passage_prefix: encoder.options.passage_prefix.clone(),
        }
    }
}
