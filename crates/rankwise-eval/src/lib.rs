//! Evaluation for rankwise.
//!
//! * [`metrics`]: trec_eval-compatible measures (nDCG with linear gains, MRR, recall, MAP, P).
//! * [`trec`]: qrels and TREC run readers, and the crate's error type.
//! * [`search`]: exact top-k dense search (blocked sgemm + per-query heap).
//! * [`bm25`]: Lucene-style BM25 (the `bm25` crate with bm25s' English analyser).
//! * [`cache`]: embeddings cached on disk under a hash of model, options and corpus.
//! * [`pipeline`]: encode → search → metrics on a BEIR folder.
//! * [`significance`]: paired randomization test, mean ± std over seeds.
//! * [`report`]: TREC run files, JSON summaries, markdown tables, score histograms.

pub mod bm25;
pub mod cache;
pub mod metrics;
pub mod pipeline;
pub mod report;
pub mod search;
pub mod significance;
pub mod trec;

pub use bm25::{Bm25Index, Bm25Params, EnglishAnalyzer};
pub use cache::{CacheKey, EmbeddingCache};
pub use metrics::{Evaluation, Qrels, Run, evaluate, rank};
pub use pipeline::{EvalSettings, Outcome, Summary, Timings, evaluate_bm25, evaluate_dataset};
pub use search::{Embeddings, Hit, SearchError, Similarity, search};
pub use significance::{PairedTest, mean_std, paired_randomization};
pub use trec::{EvalError, read_qrels, read_run};
