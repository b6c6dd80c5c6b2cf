//! Dataset configuration files (TOML): `kind = "multilevel"` or `kind = "binary"` plus that
//! dataset's fields. Relative paths are resolved against the file's directory.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::binary::{BinaryConfig, BinaryDataset};
use crate::error::DataError;
use crate::item::{GroupedDataset, TrainItem};
use crate::multilevel::{MultiLevelConfig, MultiLevelDataset};

/// Either dataset kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DatasetConfig {
    /// Graded passages from several sources.
    Multilevel(MultiLevelConfig),
    /// One positive plus negatives.
    Binary(BinaryConfig),
}

impl DatasetConfig {
    /// Parses TOML; paths stay as written. Errors name the offending key and, for enumerations,
    /// the allowed values.
    pub fn from_toml(text: &str, origin: &Path) -> Result<Self, DataError> {
        let err = |key: &str, detail: String| DataError::Config {
            key: format!("{}: {key}", origin.display()),
            detail,
        };
        let mut table: toml::Table =
            toml::from_str(text).map_err(|e| err("<document>", e.to_string()))?;
        let kind = match table.remove("kind") {
            Some(toml::Value::String(k)) => k,
            Some(other) => return Err(err("kind", format!("expected a string, got {other}"))),
            None => {
                return Err(err(
                    "kind",
                    "missing; allowed: \"multilevel\", \"binary\"".into(),
                ));
            }
        };
        // Re-parse the rest as the chosen kind, so errors carry the key path.
        let rest = toml::to_string(&table).expect("a parsed table serialises");
        match kind.as_str() {
            "multilevel" => toml::from_str(&rest).map(Self::Multilevel),
            "binary" => toml::from_str(&rest).map(Self::Binary),
            other => {
                return Err(err(
                    "kind",
                    format!("unknown kind {other:?}; allowed: \"multilevel\", \"binary\""),
                ));
            }
        }
        .map_err(|e| err(&kind, e.to_string()))
    }

    /// Reads a TOML file and resolves its paths against the file's directory.
    pub fn read(path: &Path) -> Result<Self, DataError> {
        let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Ok(Self::from_toml(rankwise_files::strip_bom(&text), path)?.resolved(base))
    }

    /// Paths made absolute against `base`.
    pub fn resolved(mut self, base: &Path) -> Self {
        match &mut self {
            Self::Multilevel(c) => {
                for s in &mut c.sources {
                    *s = s.resolved(base);
                }
            }
            Self::Binary(c) => {
                for s in c.positives.iter_mut().chain(c.negatives.iter_mut()) {
                    *s = s.resolved(base);
                }
            }
        }
        self
    }

    /// Passages per item.
    pub fn group_size(&self) -> usize {
        match self {
            Self::Multilevel(c) => c.group_size,
            Self::Binary(c) => c.group_size,
        }
    }

    /// Loads the dataset.
    pub fn load(&self) -> Result<AnyDataset, DataError> {
        Ok(match self {
            Self::Multilevel(c) => {
                AnyDataset::Multilevel(Arc::new(MultiLevelDataset::load(c.clone())?))
            }
            Self::Binary(c) => AnyDataset::Binary(Arc::new(BinaryDataset::load(c.clone())?)),
        })
    }
}

/// A loaded dataset of either kind.
#[derive(Debug, Clone)]
pub enum AnyDataset {
    /// Multi-level.
    Multilevel(Arc<MultiLevelDataset>),
    /// Binary.
    Binary(Arc<BinaryDataset>),
}

impl GroupedDataset for AnyDataset {
    fn len(&self) -> usize {
        match self {
            Self::Multilevel(d) => d.len(),
            Self::Binary(d) => d.len(),
        }
    }
    fn group_size(&self) -> usize {
        match self {
            Self::Multilevel(d) => d.group_size(),
            Self::Binary(d) => d.group_size(),
        }
    }
    fn item(&self, index: usize, epoch: u64) -> TrainItem {
        match self {
            Self::Multilevel(d) => d.item(index, epoch),
            Self::Binary(d) => d.item(index, epoch),
        }
    }
}
