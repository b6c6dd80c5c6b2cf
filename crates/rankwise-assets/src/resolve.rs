//! Which folder a model or dataset argument names. In order: a folder; the name of a shared
//! asset (`all-MiniLM-L6-v2`, `scifact`); a Hugging Face Hub id (`org/name`, optionally
//! `@revision`), read from the shared folder when it mirrors that repository, else from the
//! Hugging Face cache, else downloaded into it (see [`crate::hub::download`]).

use std::path::PathBuf;
use std::time::Instant;

use crate::MissingAsset;
use crate::hub::download::{self, HubError, HubOptions};
use crate::hub::{RepoKind, is_hub_id};

/// Hub repositories the shared folder holds a copy of (same files; see the PROVENANCE.md beside
/// each): an id here, without a revision, is read from the shared folder when it is present.
pub const SHARED_MIRRORS: [(&str, &str); 3] = [
    (
        "sentence-transformers/all-MiniLM-L6-v2",
        "models/all-MiniLM-L6-v2",
    ),
    ("mteb/scifact", "datasets/scifact"),
    ("BeIR/scifact", "datasets/scifact"),
];

/// Where a resolved folder came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// The argument was a folder.
    Folder,
    /// The shared assets folder.
    Shared,
    /// The Hugging Face cache, without network.
    Cache {
        /// The commit of the snapshot.
        commit: String,
    },
    /// Downloaded now (some files may have been in the cache already).
    Downloaded {
        /// The server.
        endpoint: String,
        /// The commit of the snapshot.
        commit: String,
        /// Files downloaded.
        files: usize,
        /// Bytes downloaded.
        bytes: u64,
        /// Seconds it took.
        seconds: f64,
    },
}

/// A folder and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The folder the readers take.
    pub path: PathBuf,
    /// Where it came from.
    pub origin: Origin,
}

impl std::fmt::Display for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short = crate::hub::short_commit;
        match &self.origin {
            Origin::Folder => write!(f, "folder {}", self.path.display()),
            Origin::Shared => write!(f, "shared assets, {}", self.path.display()),
            Origin::Cache { commit } => write!(
                f,
                "Hugging Face cache (commit {}), {}",
                short(commit),
                self.path.display()
            ),
            Origin::Downloaded {
                endpoint,
                commit,
                files,
                bytes,
                seconds,
            } => write!(
                f,
                "downloaded from {endpoint} (commit {}; {files} files, {:.1} MB in {seconds:.1} s) \
                 into the Hugging Face cache, {}",
                short(commit),
                *bytes as f64 / 1e6,
                self.path.display()
            ),
        }
    }
}

/// A model or dataset argument that names nothing usable.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// A path that is not a folder.
    #[error("{what} `{arg}`: no such folder")]
    NoFolder {
        /// `model` or `dataset`.
        what: &'static str,
        /// The argument.
        arg: String,
    },
    /// A bare name that is not a shared asset.
    #[error(
        "{what} `{arg}` is neither a folder nor the name of a shared {what}: {missing} — or give \
         a Hugging Face Hub id (`org/name`, e.g. `{example}`)"
    )]
    NotShared {
        /// `model` or `dataset`.
        what: &'static str,
        /// The argument.
        arg: String,
        /// Where the shared asset was looked for.
        missing: Box<MissingAsset>,
        /// A Hub id of that kind.
        example: &'static str,
    },
    /// A Hub id that could not be had.
    #[error(transparent)]
    Hub(#[from] Box<HubError>),
    /// A Hub id the shared folder mirrors, in neither place.
    #[error("{hub}; nor is it in the shared assets: {mirror}")]
    HubOrShared {
        /// Why the Hub route failed.
        hub: Box<HubError>,
        /// Where the shared copy was looked for.
        mirror: Box<MissingAsset>,
    },
}

/// The folder of a model argument.
pub fn model(arg: &str, opts: &HubOptions) -> Result<Resolved, ResolveError> {
    resolve(arg, RepoKind::Model, opts)
}

/// The BEIR folder of a dataset argument.
pub fn dataset(arg: &str, opts: &HubOptions) -> Result<Resolved, ResolveError> {
    resolve(arg, RepoKind::Dataset, opts)
}

fn resolve(arg: &str, kind: RepoKind, opts: &HubOptions) -> Result<Resolved, ResolveError> {
    let path = PathBuf::from(arg);
    let found = |path: PathBuf, origin: Origin| Ok(Resolved { path, origin });
    if path.is_dir() {
        return found(path, Origin::Folder);
    }
    if is_hub_id(arg) {
        let mirror = match SHARED_MIRRORS.iter().find(|(id, _)| *id == arg) {
            Some((_, shared)) => match crate::shared(shared) {
                Ok(p) => return found(p, Origin::Shared),
                Err(missing) => Some(missing),
            },
            None => None,
        };
        let start = Instant::now();
        let fetched = match kind {
            RepoKind::Model => download::fetch_model(opts, arg),
            RepoKind::Dataset => download::fetch_dataset(opts, arg),
        };
        let fetched = match (fetched, mirror) {
            (Ok(f), _) => f,
            (Err(hub), Some(mirror)) => {
                return Err(ResolveError::HubOrShared {
                    hub: Box::new(hub),
                    mirror: Box::new(mirror),
                });
            }
            (Err(e), None) => return Err(Box::new(e).into()),
        };
        let origin = if fetched.files == 0 {
            Origin::Cache {
                commit: fetched.commit,
            }
        } else {
            Origin::Downloaded {
                endpoint: opts.endpoint.clone(),
                commit: fetched.commit,
                files: fetched.files,
                bytes: fetched.bytes,
                seconds: start.elapsed().as_secs_f64(),
            }
        };
        return found(fetched.folder, origin);
    }
    if arg.contains(std::path::MAIN_SEPARATOR) || arg.contains('/') {
        return Err(ResolveError::NoFolder {
            what: kind.noun(),
            arg: arg.to_string(),
        });
    }
    let shared = match kind {
        RepoKind::Model => crate::model(arg),
        RepoKind::Dataset => crate::dataset(arg),
    };
    match shared {
        Ok(p) => found(p, Origin::Shared),
        Err(missing) => Err(ResolveError::NotShared {
            what: kind.noun(),
            arg: arg.to_string(),
            missing: Box::new(missing),
            example: match kind {
                RepoKind::Model => "sentence-transformers/all-MiniLM-L6-v2",
                RepoKind::Dataset => "mteb/scifact",
            },
        }),
    }
}
