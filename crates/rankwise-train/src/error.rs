//! Training errors.

use std::path::PathBuf;

/// Why a training run stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A configuration value is invalid; names the key and what is allowed.
    #[error("config key `{key}`: {detail}")]
    Config {
        /// Dotted key, e.g. `optimizer.lr`.
        key: String,
        /// What is wrong and what is allowed.
        detail: String,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The output folder cannot be used as asked (it holds a run, or has nothing to resume).
    #[error("output {}: {detail}", path.display())]
    Output {
        /// The folder.
        path: PathBuf,
        /// What is wrong and the ways on.
        detail: String,
    },
    /// A checkpoint is missing pieces, cannot be decoded, or belongs to other settings.
    #[error("checkpoint {}: {detail}", path.display())]
    Checkpoint {
        /// The checkpoint folder.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The loss became NaN or infinite; the last good checkpoint is kept.
    #[error(
        "non-finite loss {loss} at step {step}; stopped. Last good checkpoint: {}",
        last_checkpoint.as_ref().map_or("none".to_string(), |p| p.display().to_string())
    )]
    NonFinite {
        /// Step that produced it.
        step: u64,
        /// The value.
        loss: f64,
        /// Checkpoint to resume from.
        last_checkpoint: Option<PathBuf>,
    },
    /// Data loading failed.
    #[error(transparent)]
    Data(#[from] rankwise_data::DataError),
    /// A file could not be read or written.
    #[error(transparent)]
    File(#[from] rankwise_files::FileError),
    /// The encoder failed.
    #[error(transparent)]
    Encoder(#[from] rankwise_encoder::EncoderError),
    /// The loss rejected its inputs.
    #[error(transparent)]
    Loss(#[from] rankwise_loss::LossError),
    /// A collective operation of a data-parallel run failed or timed out (a peer or node
    /// stopped, cannot be reached, or runs with other settings).
    #[error("data-parallel run: {detail}")]
    Collective {
        /// What failed and the way on.
        detail: String,
    },
    /// A hook of the run (e.g. evaluation during training) failed.
    #[error("after step {step}: {source}")]
    Hook {
        /// The step after which the hook ran.
        step: u64,
        /// What the hook reported.
        source: HookError,
    },
}

impl TrainError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn config(key: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Config {
            key: key.into(),
            detail: detail.into(),
        }
    }
}

/// An error raised by a hook of the run ([`crate::TrainHooks`]); it ends the run as
/// [`TrainError::Hook`].
pub type HookError = Box<dyn std::error::Error + Send + Sync>;
