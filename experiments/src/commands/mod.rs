//! One module per subcommand.

pub mod args;
pub mod bm25;
pub mod common;
pub mod embed;
pub mod evaluate;
pub mod generate;
pub mod graded;
pub mod mine;
pub mod orchestrator;
pub mod outputs;
pub mod quickstart;
pub mod reproduce;
pub mod run;
pub mod study;
pub mod train;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use rankwise_assets::hub::download::HubOptions;
use rankwise_assets::resolve::{self, Origin, Resolved};

static OFFLINE: AtomicBool = AtomicBool::new(false);

/// `--offline`: never touch the network (as `HF_HUB_OFFLINE=1`).
pub fn set_offline(offline: bool) {
    OFFLINE.store(offline, Ordering::Relaxed);
}

/// How to reach the Hugging Face Hub: the environment, and `--offline`.
pub fn hub_options() -> HubOptions {
    let mut opts = HubOptions::from_env();
    opts.offline |= OFFLINE.load(Ordering::Relaxed);
    opts
}

/// Says on stderr where an asset came from, unless it was given as a folder.
fn announce(what: &str, arg: &str, resolved: &Resolved) {
    if resolved.origin != Origin::Folder {
        tracing::info!("{what} `{arg}`: {resolved}");
    }
}

/// A model folder, the name of a model in the shared assets (`all-MiniLM-L6-v2`), or a Hub id
/// (`sentence-transformers/all-MiniLM-L6-v2`, optionally `@revision`): from the shared folder
/// when it mirrors it, the Hugging Face cache, or downloaded into the cache.
pub fn resolve_model(arg: &str) -> anyhow::Result<PathBuf> {
    let resolved = resolve::model(arg, &hub_options())?;
    announce("model", arg, &resolved);
    Ok(resolved.path)
}

/// A BEIR folder, the name of a shared collection (`med`, `scifact`, ...), or a Hub dataset id
/// in the BEIR / MTEB layout (`mteb/scifact`, `BeIR/scifact`).
pub fn resolve_dataset(arg: &str) -> anyhow::Result<PathBuf> {
    let resolved = resolve::dataset(arg, &hub_options())?;
    announce("dataset", arg, &resolved);
    Ok(resolved.path)
}
