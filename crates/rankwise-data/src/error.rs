//! Errors of the data crate: a file that cannot be read, or sources and settings that cannot make
//! a dataset. Every one names the file (and line and field) or the configuration key.

use std::path::{Path, PathBuf};

/// A data file or dataset configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file could not be read: I/O, a malformed record, an ambiguous folder.
    #[error(transparent)]
    File(#[from] rankwise_files::FileError),
    /// Qrels name queries or documents that the queries/corpus files do not have.
    #[error(
        "{}: {count} judgement(s) reference unknown ids (first: line {first_line}, {first_detail}); \
         set `skip_missing = true` on this source to drop them",
        path.display()
    )]
    UnknownIds {
        /// The qrels file.
        path: PathBuf,
        /// How many rows reference an unknown query or document.
        count: usize,
        /// Line of the first such row.
        first_line: usize,
        /// Which id of the first row is unknown.
        first_detail: String,
    },
    /// A configuration value is invalid.
    #[error("config key `{key}`: {detail}")]
    Config {
        /// The key, e.g. `sources[1].max_score`.
        key: String,
        /// What is wrong and what is allowed.
        detail: String,
    },
    /// The sources leave nothing to train on.
    #[error("empty dataset: {0}")]
    Empty(String),
}

impl DataError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        rankwise_files::FileError::io(path, source).into()
    }

    pub(crate) fn parse(
        path: &Path,
        line: usize,
        field: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        rankwise_files::FileError::parse(path, line, field, detail).into()
    }

    pub(crate) fn config(key: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Config {
            key: key.into(),
            detail: detail.into(),
        }
    }
}
