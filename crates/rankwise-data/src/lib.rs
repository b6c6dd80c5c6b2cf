//! Training data for dense retrievers with graded relevance.
//!
//! * [`read`]: BEIR-layout readers (`corpus.jsonl`, `queries.jsonl`, qrels TSV/TREC/JSONL, gzip;
//!   parquet and CSV through polars with the default `polars` feature).
//! * [`source`]: a qrels source and the paper's knobs (`min_score`, `max_score`,
//!   `score_transform`, `group_random_k`, `group_top_k`).
//! * [`multilevel`] and [`binary`]: the two dataset kinds and their sampling rules.
//! * [`item`]: training items, the Burn `Dataset` view of an epoch, and the tokenising batcher.
//! * [`pseudo`]: graded contexts from real qrels plus mined candidates, without an LLM.
//! * [`config`]: TOML dataset configs (`kind = "multilevel" | "binary"`).

pub mod binary;
mod collection;
pub mod config;
pub mod error;
pub mod item;
pub mod multilevel;
pub mod pseudo;
pub mod read;
pub mod sampling;
pub mod source;
#[cfg(feature = "polars")]
mod tabular;
pub mod write;

pub use binary::{BinaryConfig, BinaryDataset, BinaryReport};
pub use config::{AnyDataset, DatasetConfig};
pub use error::DataError;
pub use item::{EpochDataset, GroupedDataset, TrainBatch, TrainBatcher, TrainItem};
pub use multilevel::{MultiLevelConfig, MultiLevelDataset, PassageSelection};
pub use pseudo::{PseudoLabelConfig, RandomBand, RankBand, pseudo_label, ranked_contexts};
pub use read::{
    BOM, Collection, QrelRow, collection_file, id_flaw, qrels_file, read_corpus, read_qrels,
    read_queries, remove_bom, strip_bom,
};
pub use source::{Candidate, SourceConfig, SourceLoader, SourceReport};
pub use write::{write_atomic, write_qrels};
