//! One module per subcommand.

pub mod bm25;
pub mod common;
pub mod embed;
pub mod evaluate;
pub mod generate;
pub mod graded;
pub mod mine;
pub mod outputs;
pub mod quickstart;
pub mod reproduce;
pub mod study;
pub mod train;

use std::path::PathBuf;

use anyhow::bail;

/// Files a model folder needs.
const MODEL_FILES: [&str; 3] = ["config.json", "model.safetensors", "tokenizer.json"];

/// A model folder, the name of a model in the shared assets (`all-MiniLM-L6-v2`), or a Hub id
/// (`sentence-transformers/all-MiniLM-L6-v2`, optionally `@revision`) already in the Hugging
/// Face cache.
pub fn resolve_model(arg: &str) -> anyhow::Result<PathBuf> {
    if !PathBuf::from(arg).is_dir() && rankwise_assets::hub::is_hub_id(arg) {
        return Ok(rankwise_assets::hub::cached_snapshot(
            rankwise_assets::hub::RepoKind::Model,
            arg,
            &MODEL_FILES,
        )?);
    }
    resolve(arg, rankwise_assets::model, "model")
}

/// A BEIR folder, or the name of a shared collection (`med`, `scifact`, ...).
pub fn resolve_dataset(arg: &str) -> anyhow::Result<PathBuf> {
    resolve(arg, rankwise_assets::dataset, "dataset")
}

fn resolve(
    arg: &str,
    shared: impl Fn(&str) -> Result<PathBuf, rankwise_assets::MissingAsset>,
    what: &str,
) -> anyhow::Result<PathBuf> {
    let path = PathBuf::from(arg);
    if path.is_dir() {
        return Ok(path);
    }
    let looks_like_name = !arg.contains(std::path::MAIN_SEPARATOR);
    if !looks_like_name {
        bail!("{what} `{arg}`: no such folder");
    }
    match shared(arg) {
        Ok(p) => Ok(p),
        Err(e) => bail!(
            "{what} `{arg}` is neither a folder nor the name of a shared {what}: {e}{}",
            if what == "model" {
                " — or give a Hugging Face Hub id of a model in the Hugging Face cache \
                 (e.g. `huggingface-cli download sentence-transformers/all-MiniLM-L6-v2`, then \
                 `--model sentence-transformers/all-MiniLM-L6-v2`)"
            } else {
                ""
            }
        ),
    }
}
