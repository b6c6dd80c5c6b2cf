//! Errors raised while loading, running or saving an encoder.

use std::path::PathBuf;

/// Anything that can go wrong with a checkpoint folder, always naming the file and key.
#[derive(Debug, thiserror::Error)]
pub enum EncoderError {
    /// A file could not be written (atomically: the old one, if any, is left as it was).
    #[error(transparent)]
    File(#[from] rankwise_files::FileError),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A JSON file is malformed, or a field is missing or has the wrong type or value.
    #[error("{}: field `{key}`: {detail}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// The offending key.
        key: String,
        /// What is wrong.
        detail: String,
    },
    /// A weight tensor is missing, unexpected, mis-shaped or of an unsupported dtype.
    #[error("{}: tensor `{key}`: {detail}", path.display())]
    Weights {
        /// The safetensors file.
        path: PathBuf,
        /// The tensor name.
        key: String,
        /// What is wrong.
        detail: String,
    },
    /// The tokenizer could not be loaded or used.
    #[error("{}: tokenizer: {detail}", path.display())]
    Tokenizer {
        /// The tokenizer file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

impl EncoderError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
    pub(crate) fn config(
        path: impl Into<PathBuf>,
        key: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self::Config {
            path: path.into(),
            key: key.into(),
            detail: detail.into(),
        }
    }
    pub(crate) fn weights(
        path: impl Into<PathBuf>,
        key: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self::Weights {
            path: path.into(),
            key: key.into(),
            detail: detail.into(),
        }
    }
}
