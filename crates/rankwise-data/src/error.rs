//! Errors of the data crate: every one names the file (and line and field when there is one).

use std::path::{Path, PathBuf};

/// A data file or dataset configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file could not be opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A record is malformed: bad JSON, a missing field, a wrong type, a duplicate id.
    #[error("{}:{line}: field `{field}`: {detail}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The field (or `json`/`line` for the record as a whole).
        field: String,
        /// What is wrong.
        detail: String,
    },
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
    /// A folder holds the same file in several formats (e.g. `corpus.jsonl` and
    /// `corpus.jsonl.gz`), so which one is meant is unclear.
    #[error(
        "{}: holds {} — more than one format of the same file; keep one",
        folder.display(),
        files.join(", ")
    )]
    Ambiguous {
        /// The folder.
        folder: PathBuf,
        /// The competing file names.
        files: Vec<String>,
    },
    /// The sources leave nothing to train on.
    #[error("empty dataset: {0}")]
    Empty(String),
}

impl DataError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn parse(
        path: &Path,
        line: usize,
        field: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self::Parse {
            path: path.to_path_buf(),
            line,
            field: field.into(),
            detail: detail.into(),
        }
    }

    pub(crate) fn config(key: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Config {
            key: key.into(),
            detail: detail.into(),
        }
    }
}
