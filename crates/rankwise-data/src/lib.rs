//! Training data for dense retrievers with graded relevance: which passages a query is trained on,
//! at which levels. No Burn: the files come from `rankwise-files`, and the batches that enter the
//! model are made by `rankwise-train`.
//!
//! * [`source`]: a qrels source and the paper's knobs (`min_score`, `max_score`,
//!   `score_transform`, `group_random_k`, `group_top_k`).
//! * [`multilevel`] and [`binary`]: the two dataset kinds and their sampling rules.
//! * [`item`]: training items and the per-epoch dataset trait.
//! * [`pseudo`]: graded contexts from real qrels plus mined candidates, without an LLM.
//! * [`config`]: TOML dataset configs (`kind = "multilevel" | "binary"`).

pub mod binary;
pub mod config;
pub mod error;
pub mod item;
pub mod multilevel;
pub mod pseudo;
pub mod sampling;
pub mod source;

pub use binary::{BinaryConfig, BinaryDataset, BinaryReport};
pub use config::{AnyDataset, DatasetConfig};
pub use error::DataError;
pub use item::{GroupedDataset, TrainItem};
pub use multilevel::{MultiLevelConfig, MultiLevelDataset, PassageSelection};
pub use pseudo::{PseudoLabelConfig, RandomBand, RankBand, pseudo_label, ranked_contexts};
pub use source::{Candidate, SourceConfig, SourceLoader, SourceReport};
