//! Errors of the files floor: every one names the file (and line and field when there is one).

use std::path::{Path, PathBuf};

/// A file that cannot be read or written as asked.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// A file could not be opened, read or written.
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
}

impl FileError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// A malformed record: `path`, 1-based `line`, the `field` and what is wrong with it.
    pub fn parse(
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
}
