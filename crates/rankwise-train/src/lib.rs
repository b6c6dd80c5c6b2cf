//! Fine-tuning bi-encoders with list-wise (WS2, ListNet, RankNet) and contrastive (InfoNCE)
//! objectives.
//!
//! * [`batch`]: training items into tokenised batches (the Burn `Dataset` view of an epoch and
//!   the batcher with the encoder's tokenizers).
//! * [`config`]: the TOML run configuration with the paper's defaults.
//! * [`step`]: one micro-batch — in-batch scores, the loss over the global batch, and its
//!   gradient, in one pass, in GradCache chunks, or as one peer's share of a data-parallel step.
//! * [`collective`]: what several devices or machines training together exchange (Burn's
//!   collective): the gathered embeddings and the summed gradients, with a timeout.
//! * [`update`]: one optimiser step over a step's micro-batches (accumulation, the sum over
//!   peers, clipping, AdamW).
//! * [`trainer`]: the loop (AdamW, warm-up + linear decay, global-norm clipping, accumulation,
//!   checkpoints, resume, logs, export) over built [`TrainParts`], reporting to [`TrainHooks`].
//! * [`memory`]: allocator settings that keep a CPU training step from page-faulting its
//!   tensors in.

pub mod batch;
pub mod checkpoint;
pub mod clip;
pub mod collective;
pub mod config;
pub mod error;
pub mod loss;
pub mod memory;
pub mod output;
mod peers;
pub mod schedule;
pub mod step;
pub mod trainer;
pub mod update;

pub use batch::{EpochDataset, TrainBatch, TrainBatcher};
pub use collective::{Cluster, Peer};
pub use config::{
    LossKind, LossSettings, NORMALIZED_LISTWISE_TEMPERATURE, OptimizerSettings, TrainConfig,
    WarmupShape,
};
pub use error::{HookError, TrainError};
pub use loss::Objective;
pub use output::{OnExisting, RESUMABLE_KEYS, RUN_FILES, config_differences};
pub use schedule::LrSchedule;
pub use trainer::{EpochPlan, RunControl, StepLog, TrainHooks, TrainOutcome, TrainParts, train};
pub use update::{StepSettings, StepStats};

use burn::tensor::backend::AutodiffBackend;
use rankwise_encoder::EncoderBackend;
use rankwise_loss::Ws2Backend;

/// What training asks of a backend: autodiff, the fused WS2 loss, and the encoder's fused
/// blocks on both the differentiable backend and its inner one (which embeds without a graph
/// in GradCache's first pass and in evaluation). Implemented for every backend that has them.
pub trait TrainingBackend:
    AutodiffBackend<InnerBackend: EncoderBackend> + Ws2Backend + EncoderBackend
{
}

impl<B> TrainingBackend for B where
    B: AutodiffBackend<InnerBackend: EncoderBackend> + Ws2Backend + EncoderBackend
{
}
