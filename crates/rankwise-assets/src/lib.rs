//! One place that finds the real assets commands, tests and examples need: Hugging Face model
//! folders, BEIR-layout collections and reference fixtures — in the shared assets folder, the
//! Hugging Face cache, or (feature `download`, [`resolve`]) on the Hugging Face Hub.
//!
//! The root is the environment variable `RANKWISE_SHARED`, or `../shared` relative to the
//! workspace root when it is unset. Every lookup returns a [`MissingAsset`] error that names the
//! path it tried and how to fix it, instead of panicking.

use std::path::{Path, PathBuf};

pub mod fixtures;
pub mod hub;
#[cfg(feature = "download")]
pub mod resolve;

/// Name of the environment variable that points at the shared assets folder.
pub const ENV_VAR: &str = "RANKWISE_SHARED";

/// An asset that is not where the resolver looked.
#[derive(Debug, thiserror::Error)]
#[error(
    "asset `{relative}` not found at {}: set {ENV_VAR} to the folder holding models/, datasets/ and reference/ (default: ../shared next to the workspace)",
    tried.display()
)]
pub struct MissingAsset {
    /// The path relative to the shared root that was asked for.
    pub relative: String,
    /// The absolute path that was tried.
    pub tried: PathBuf,
}

/// The workspace root (the folder holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    // crates/rankwise-assets -> workspace root
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// The shared assets root: `$RANKWISE_SHARED`, else `<workspace>/../shared`.
pub fn shared_root() -> PathBuf {
    match std::env::var_os(ENV_VAR) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => workspace_root().join("../shared"),
    }
}

/// Resolve `relative` under the shared root, failing with a clear message when it is absent.
pub fn shared(relative: &str) -> Result<PathBuf, MissingAsset> {
    let tried = shared_root().join(relative);
    if tried.exists() {
        Ok(tried)
    } else {
        Err(MissingAsset {
            relative: relative.to_string(),
            tried,
        })
    }
}

/// A Hugging Face model folder under `models/`, e.g. `model("all-MiniLM-L6-v2")`.
pub fn model(name: &str) -> Result<PathBuf, MissingAsset> {
    shared(&format!("models/{name}"))
}

/// A BEIR-layout collection under `datasets/`, e.g. `dataset("scifact")`.
pub fn dataset(name: &str) -> Result<PathBuf, MissingAsset> {
    shared(&format!("datasets/{name}"))
}

/// A reference fixture file or folder under `reference/`, e.g. `reference("ws2/a_b1_n4.json")`.
pub fn reference(relative: &str) -> Result<PathBuf, MissingAsset> {
    shared(&format!("reference/{relative}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_asset_names_path_and_variable() {
        let err = shared("no/such/asset-xyz").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("no/such/asset-xyz"), "{msg}");
        assert!(msg.contains(ENV_VAR), "{msg}");
    }

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
        assert!(manifest.contains("[workspace]"));
    }
}
