//! Evaluation for rankwise: trec_eval-compatible metrics ([`metrics`]) and the TREC/BEIR file
//! readers they need ([`trec`]).

pub mod metrics;
pub mod trec;

pub use metrics::{Evaluation, Qrels, Run, evaluate, rank};
pub use trec::{EvalError, read_qrels, read_run};
