//! Models and datasets from the Hugging Face Hub, downloaded with the `hf-hub` crate into the
//! Hugging Face cache (the layout Python's `huggingface_hub` writes, so both share downloads).
//!
//! What is already in the cache is used without network. A download goes to `blobs/<etag>.part`
//! and is renamed into place only when whole (a killed transfer resumes from the partial file on
//! the next run, or at once on a dropped connection); the file is then checked against the hash
//! the Hub named it by and removed when it differs, so a partial or corrupted file is never used.
//! `HF_ENDPOINT`, `HF_TOKEN` (else the token file `huggingface-cli login` writes), `HF_HOME` /
//! `HF_HUB_CACHE` and `HF_HUB_OFFLINE` mean what they mean to Python's tools. The token is sent
//! to the endpoint only, and never printed.

use std::path::{Path, PathBuf};

use hf_hub::api::sync::{ApiBuilder, ApiError, ApiRepo};
use hf_hub::{Cache, Repo, RepoType};

use super::beir::{self, LayoutError};
use super::verify::{self, Check};
use super::{NotCached, RepoKind};

/// The Hub, when `HF_ENDPOINT` does not name another server.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// Files the encoder cannot do without.
pub const MODEL_FILES: [&str; 3] = ["config.json", "model.safetensors", "tokenizer.json"];

/// Files the encoder reads when a model has them: sentence-transformers' pooling,
/// normalisation and length settings, our own export's options, a separate passage tower.
const MODEL_EXTRAS: [&str; 7] = [
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "rankwise.json",
    "passage/model.safetensors",
];

/// How to reach the Hub and where to keep what comes from it.
#[derive(Clone)]
pub struct HubOptions {
    /// The server: `HF_ENDPOINT`, else [`DEFAULT_ENDPOINT`].
    pub endpoint: String,
    /// Bearer token for private and gated repositories.
    pub token: Option<String>,
    /// Never touch the network (`HF_HUB_OFFLINE=1`, or `--offline`).
    pub offline: bool,
    /// The Hugging Face cache folder ([`super::cache_dir`]).
    pub cache: PathBuf,
    /// Where BEIR folders made of links into dataset snapshots go ([`views_dir`]).
    pub views: PathBuf,
    /// Show a progress bar per file.
    pub progress: bool,
    /// Times a dropped transfer is resumed before giving up.
    pub retries: usize,
}

impl std::fmt::Debug for HubOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubOptions")
            .field("endpoint", &self.endpoint)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("offline", &self.offline)
            .field("cache", &self.cache)
            .field("views", &self.views)
            .field("progress", &self.progress)
            .field("retries", &self.retries)
            .finish()
    }
}

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.trim().is_empty())
}

/// Whether `HF_HUB_OFFLINE` is set to a true value (`1`, `ON`, `YES`, `TRUE`), as Python reads it.
pub fn offline_from_env() -> bool {
    env("HF_HUB_OFFLINE").is_some_and(|v| {
        ["1", "on", "yes", "true"].contains(&v.trim().to_ascii_lowercase().as_str())
    })
}

/// Where BEIR folders made of links go: `$RANKWISE_CACHE/beir`, else
/// `$XDG_CACHE_HOME/rankwise/beir`, else `~/.cache/rankwise/beir` (outside the Hugging Face
/// cache, whose folders Python's tools expect to be repositories only).
pub fn views_dir() -> PathBuf {
    env("RANKWISE_CACHE")
        .map(PathBuf::from)
        .or_else(|| env("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("rankwise")))
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".cache/rankwise")))
        .unwrap_or_else(|| PathBuf::from(".cache/rankwise"))
        .join("beir")
}

impl HubOptions {
    /// Options from the environment, as Python's tools read it.
    pub fn from_env() -> Self {
        let cache = super::cache_dir();
        let token = env("HF_TOKEN").or_else(|| Cache::new(cache.clone()).token());
        Self {
            endpoint: env("HF_ENDPOINT")
                .map(|e| e.trim_end_matches('/').to_string())
                .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string()),
            token,
            offline: offline_from_env(),
            cache,
            views: views_dir(),
            progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            retries: 3,
        }
    }
}

/// What fetching a repository found or did.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// A folder the readers take: the model's snapshot, or a BEIR folder.
    pub folder: PathBuf,
    /// The commit of the snapshot.
    pub commit: String,
    /// Files downloaded now (0: all came from the cache).
    pub files: usize,
    /// Bytes downloaded now.
    pub bytes: u64,
}

/// A repository that could not be had.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// Offline, and not in the cache.
    #[error("{0} (offline: HF_HUB_OFFLINE or --offline is set, so nothing is downloaded)")]
    Offline(Box<NotCached>),
    /// The endpoint could not be reached, and the repository is not in the cache.
    #[error("{what} `{id}`: could not reach {endpoint} ({detail}). {cached}")]
    Unreachable {
        /// `model` or `dataset`.
        what: &'static str,
        /// The id.
        id: String,
        /// The server tried.
        endpoint: String,
        /// The transport's error.
        detail: String,
        /// Where the cache was looked at, and how to fill it.
        cached: Box<NotCached>,
    },
    /// The server answered with an error status.
    #[error("{what} `{id}`{file}: {endpoint} answered {status}: {meaning}")]
    Http {
        /// `model` or `dataset`.
        what: &'static str,
        /// The id.
        id: String,
        /// ` file `name`` or empty for the repository itself.
        file: String,
        /// The server.
        endpoint: String,
        /// The HTTP status.
        status: u16,
        /// What it means here, and what to do.
        meaning: String,
    },
    /// A file the reader needs is not in the repository.
    #[error("{what} `{id}` has no `{file}`{hint}")]
    MissingFile {
        /// `model` or `dataset`.
        what: &'static str,
        /// The id.
        id: String,
        /// The file.
        file: String,
        /// What the repository has instead, when that helps.
        hint: String,
    },
    /// A downloaded file does not hash to what the Hub named it by.
    #[error(
        "`{file}` of {what} `{id}` is corrupted: its content hashes to {got}, the server named \
         it {expected}; the file was removed, run the command again to download it anew"
    )]
    Corrupted {
        /// `model` or `dataset`.
        what: &'static str,
        /// The id.
        id: String,
        /// The file.
        file: String,
        /// The hash the server gave (ETag).
        expected: String,
        /// The file's hash.
        got: String,
    },
    /// A dataset repository that is not a BEIR collection.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// Anything else: the message says where.
    #[error("{what} `{id}`: {detail}")]
    Other {
        /// `model` or `dataset`.
        what: &'static str,
        /// The id.
        id: String,
        /// What went wrong.
        detail: String,
    },
}

/// One repository at one revision, on one server, with its cache folder.
struct Remote<'a> {
    opts: &'a HubOptions,
    kind: RepoKind,
    /// The id as given (`org/name[@revision]`).
    id: &'a str,
    api: ApiRepo,
}

impl<'a> Remote<'a> {
    fn new(opts: &'a HubOptions, kind: RepoKind, id: &'a str) -> Result<Self, HubError> {
        let (repo, revision) = super::split_revision(id);
        let api = ApiBuilder::from_cache(Cache::new(opts.cache.clone()))
            .with_endpoint(opts.endpoint.clone())
            .with_token(opts.token.clone())
            .with_progress(opts.progress)
            .with_retries(opts.retries)
            .build()
            .map_err(|e| HubError::Other {
                what: kind.noun(),
                id: id.to_string(),
                detail: format!("cannot set up the HTTP client: {e}"),
            })?;
        let repo_type = match kind {
            RepoKind::Model => RepoType::Model,
            RepoKind::Dataset => RepoType::Dataset,
        };
        let api = api.repo(Repo::with_revision(
            repo.to_string(),
            repo_type,
            revision.to_string(),
        ));
        Ok(Self {
            opts,
            kind,
            id,
            api,
        })
    }

    fn other(&self, detail: String) -> HubError {
        HubError::Other {
            what: self.kind.noun(),
            id: self.id.to_string(),
            detail,
        }
    }

    /// The error for `e`, met while asking for `file` (the listing when `None`).
    fn error(&self, e: ApiError, file: Option<&str>) -> HubError {
        let what = self.kind.noun();
        let id = self.id.to_string();
        match e {
            ApiError::RequestError(e) => match *e {
                ureq::Error::Status(status, response) => {
                    let code = response.header("x-error-code").unwrap_or("").to_string();
                    let token = if self.opts.token.is_some() {
                        "a token was sent"
                    } else {
                        "no token was sent: set HF_TOKEN"
                    };
                    let meaning = match (status, code.as_str()) {
                        (401, _) => format!(
                            "unauthorized: the repository does not exist, or it is private or \
                             gated and needs a token with access ({token})"
                        ),
                        (403, _) => format!(
                            "forbidden: the token has no access (a gated repository: accept its \
                             terms on its page first) ({token})"
                        ),
                        (404, _) if file.is_some() => {
                            "no such file in the repository at this revision".to_string()
                        }
                        (404, "RevisionNotFound") => "no such revision".to_string(),
                        (404, _) => "no such repository".to_string(),
                        (s, _) => format!("HTTP status {s}"),
                    };
                    HubError::Http {
                        what,
                        id,
                        file: file.map(|f| format!(" file `{f}`")).unwrap_or_default(),
                        endpoint: self.opts.endpoint.clone(),
                        status,
                        meaning,
                    }
                }
                ureq::Error::Transport(t) => HubError::Unreachable {
                    what,
                    id,
                    endpoint: self.opts.endpoint.clone(),
                    detail: t.to_string(),
                    cached: Box::new(self.not_cached(match file {
                        Some(f) => format!("`{f}` is not there"),
                        None => "not there, or not whole".to_string(),
                    })),
                },
            },
            ApiError::TooManyRetries(inner) => {
                let inner = self.error(*inner, file);
                self.other(format!(
                    "the transfer of `{}` failed after {} retries: {inner}",
                    file.unwrap_or("?"),
                    self.opts.retries
                ))
            }
            other => self.other(format!(
                "{}: {other}",
                file.map_or("listing the repository".to_string(), |f| format!("`{f}`"))
            )),
        }
    }

    fn not_cached(&self, detail: String) -> NotCached {
        NotCached {
            kind: self.kind,
            id: self.id.to_string(),
            detail,
            looked_at: self.folder(),
        }
    }

    /// The repository's folder in the cache.
    fn folder(&self) -> PathBuf {
        let (repo, _) = super::split_revision(self.id);
        super::repo_folder(&self.opts.cache, self.kind, repo)
    }

    /// The folder of snapshot `commit` in the cache.
    fn snapshot(&self, commit: &str) -> PathBuf {
        self.folder().join("snapshots").join(commit)
    }

    /// The repository's files at the revision, and its commit.
    fn list(&self) -> Result<(Vec<String>, String), HubError> {
        let info = self.api.info().map_err(|e| self.error(e, None))?;
        let files = info.siblings.into_iter().map(|s| s.rfilename).collect();
        Ok((files, info.sha))
    }

    /// Downloads `file` unless the snapshot `commit` has it; returns its path and the bytes
    /// downloaded. A partial transfer left by a killed run resumes; a partial file longer than
    /// the file is removed and the download started again.
    fn fetch(&self, file: &str, commit: &str) -> Result<(PathBuf, u64), HubError> {
        let cached = self.snapshot(commit).join(file);
        if cached.is_file() {
            return Ok((cached, 0));
        }
        let pointer = match self.api.download(file) {
            Err(ApiError::InvalidResume) => {
                self.remove_partial_files()?;
                self.api.download(file)
            }
            other => other,
        }
        .map_err(|e| self.error(e, Some(file)))?;
        let blob = std::fs::canonicalize(&pointer)
            .map_err(|e| self.other(format!("`{}`: {e}", pointer.display())))?;
        let etag = blob
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let check = verify::check(&blob, &etag)
            .map_err(|e| self.other(format!("reading `{}`: {e}", blob.display())))?;
        if let Check::Differs { got } = check {
            // Neither the blob nor the link to it may be used again.
            let _ = std::fs::remove_file(&pointer);
            let _ = std::fs::remove_file(&blob);
            return Err(HubError::Corrupted {
                what: self.kind.noun(),
                id: self.id.to_string(),
                file: file.to_string(),
                expected: etag,
                got,
            });
        }
        let bytes = std::fs::metadata(&blob).map(|m| m.len()).unwrap_or(0);
        Ok((pointer, bytes))
    }

    fn remove_partial_files(&self) -> Result<(), HubError> {
        let blobs = self.folder().join("blobs");
        let entries = std::fs::read_dir(&blobs)
            .map_err(|e| self.other(format!("`{}`: {e}", blobs.display())))?;
        for entry in entries.flatten() {
            if entry.path().extension().is_some_and(|x| x == "part") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(())
    }

    /// Downloads every file of `files` into snapshot `commit`; returns the snapshot folder,
    /// the number of files downloaded and their bytes.
    fn fetch_all(&self, files: &[&str], commit: &str) -> Result<(PathBuf, usize, u64), HubError> {
        let snapshot = self.snapshot(commit);
        let (mut n, mut bytes) = (0, 0);
        for file in files {
            let (path, b) = self.fetch(file, commit)?;
            // The Hub moved the revision while we downloaded: files from two commits.
            if !path.starts_with(&snapshot) {
                return Err(self.other(format!(
                    "the revision moved from commit {commit} during the download (`{file}` came \
                     from {}); run the command again",
                    path.display()
                )));
            }
            if b > 0 {
                n += 1;
                bytes += b;
            }
        }
        Ok((snapshot, n, bytes))
    }
}

/// The snapshot of model `id` (`org/name[@revision]`) with the files the encoder reads: from
/// the cache when it holds [`MODEL_FILES`], else downloaded.
pub fn fetch_model(opts: &HubOptions, id: &str) -> Result<Fetched, HubError> {
    let cached = super::cached_snapshot_in(&opts.cache, RepoKind::Model, id, &MODEL_FILES);
    let cached = match cached {
        Ok(folder) => {
            return Ok(Fetched {
                commit: commit_of(&folder),
                folder,
                files: 0,
                bytes: 0,
            });
        }
        Err(e) => e,
    };
    if opts.offline {
        return Err(HubError::Offline(Box::new(cached)));
    }
    let remote = Remote::new(opts, RepoKind::Model, id)?;
    let (listing, commit) = remote.list()?;
    for required in MODEL_FILES {
        if !listing.iter().any(|f| f == required) {
            let hint = if required == "model.safetensors"
                && listing.iter().any(|f| f == "pytorch_model.bin")
            {
                " (it has `pytorch_model.bin`: the encoder reads safetensors; convert it, or \
                 pick the repository's safetensors revision)"
                    .to_string()
            } else {
                String::new()
            };
            return Err(HubError::MissingFile {
                what: "model",
                id: id.to_string(),
                file: required.to_string(),
                hint,
            });
        }
    }
    // Small files first, the weights last: a model is whole in the cache once its weights are.
    let mut files: Vec<&str> = listing
        .iter()
        .map(String::as_str)
        .filter(|f| MODEL_EXTRAS.contains(f) || is_module_config(f))
        .filter(|f| *f != "passage/model.safetensors")
        .collect();
    files.extend(["config.json", "tokenizer.json"]);
    if listing.iter().any(|f| f == "passage/model.safetensors") {
        files.push("passage/model.safetensors");
    }
    files.push("model.safetensors");
    let (folder, n, bytes) = remote.fetch_all(&files, &commit)?;
    Ok(Fetched {
        folder,
        commit,
        files: n,
        bytes,
    })
}

/// A sentence-transformers module's settings: `<n>_<Name>/config.json` (`1_Pooling/config.json`).
fn is_module_config(file: &str) -> bool {
    file.split_once('/').is_some_and(|(dir, rest)| {
        rest == "config.json"
            && dir
                .split_once('_')
                .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })
}

fn commit_of(snapshot: &Path) -> String {
    snapshot
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A BEIR folder for dataset `id` (`org/name[@revision]`; qrels from the companion repository
/// `<id>-qrels` when the dataset has none): from the cache when it holds the tables, else
/// downloaded (only the tables, not the rest of the repository).
pub fn fetch_dataset(opts: &HubOptions, id: &str) -> Result<Fetched, HubError> {
    let cached = match cached_dataset(opts, id) {
        Ok(f) => return Ok(f),
        Err(e) => e,
    };
    if opts.offline {
        return Err(HubError::Offline(Box::new(cached)));
    }
    let remote = Remote::new(opts, RepoKind::Dataset, id)?;
    let (listing, commit) = remote.list()?;
    // The companion repository is asked for only when the dataset holds no qrels.
    let companion_id = beir::companion_id(id);
    let companion = if beir::has_own_qrels(&listing) {
        None
    } else {
        let companion_remote = Remote::new(opts, RepoKind::Dataset, &companion_id)?;
        match companion_remote.list() {
            Ok((files, commit)) => Some((companion_remote, files, commit)),
            Err(HubError::Http {
                status: 401 | 404, ..
            }) => None,
            Err(e) => return Err(e),
        }
    };
    let files = beir::select(
        id,
        &listing,
        companion.as_ref().map(|(_, f, _)| f.as_slice()),
    )?;
    let (snapshot, mut n, mut bytes) = remote.fetch_all(&files.own_files(), &commit)?;
    let mut qrels_snapshot = snapshot.clone();
    let mut key = view_key(id, &commit, None);
    if let Some((companion_remote, _, qcommit)) = &companion {
        let (qs, qn, qb) = companion_remote.fetch_all(&files.companion_files(), qcommit)?;
        qrels_snapshot = qs;
        n += qn;
        bytes += qb;
        key = view_key(id, &commit, Some(qcommit));
    }
    let folder = beir::beir_folder(
        &files,
        &snapshot,
        &qrels_snapshot,
        &opts.views,
        &key,
        repo_name(id),
    )
    .map_err(|e| {
        remote.other(format!(
            "making its BEIR folder in {}: {e}",
            opts.views.display()
        ))
    })?;
    Ok(Fetched {
        folder,
        commit,
        files: n,
        bytes,
    })
}

/// The name part of `org/name[@revision]`.
fn repo_name(id: &str) -> &str {
    let (repo, _) = super::split_revision(id);
    repo.rsplit('/').next().unwrap_or(repo)
}

/// The folder that holds a BEIR folder of links: repository, commit, and the qrels' commit.
fn view_key(id: &str, commit: &str, qrels_commit: Option<&str>) -> String {
    let (repo, _) = super::split_revision(id);
    let short = super::short_commit;
    match qrels_commit {
        Some(q) => format!(
            "{}--{}--qrels-{}",
            repo.replace('/', "--"),
            short(commit),
            short(q)
        ),
        None => format!("{}--{}", repo.replace('/', "--"), short(commit)),
    }
}

/// The dataset from the cache alone: its snapshot (and its companion's) listed on disk.
fn cached_dataset(opts: &HubOptions, id: &str) -> Result<Fetched, NotCached> {
    let snapshot = super::cached_snapshot_in(&opts.cache, RepoKind::Dataset, id, &[])?;
    let listed = |s: &Path| super::snapshot_files(s).unwrap_or_default();
    let listing = listed(&snapshot);
    let companion_id = beir::companion_id(id);
    let companion = super::cached_snapshot_in(&opts.cache, RepoKind::Dataset, &companion_id, &[]);
    let companion_listing = companion.as_ref().ok().map(|s| listed(s));
    let not_cached = |detail: String| NotCached {
        kind: RepoKind::Dataset,
        id: id.to_string(),
        detail,
        looked_at: snapshot.clone(),
    };
    let files = beir::select(id, &listing, companion_listing.as_deref()).map_err(|e| {
        not_cached(format!(
            "its snapshot is not a whole BEIR collection: {}",
            e.detail
        ))
    })?;
    let commit = commit_of(&snapshot);
    let qrels_snapshot = companion.as_ref().unwrap_or(&snapshot);
    let key = view_key(
        id,
        &commit,
        files
            .qrels_in_companion
            .then(|| commit_of(qrels_snapshot))
            .as_deref(),
    );
    let folder = beir::beir_folder(
        &files,
        &snapshot,
        qrels_snapshot,
        &opts.views,
        &key,
        repo_name(id),
    )
    .map_err(|e| {
        not_cached(format!(
            "cannot make its BEIR folder in {}: {e}",
            opts.views.display()
        ))
    })?;
    Ok(Fetched {
        folder,
        commit,
        files: 0,
        bytes: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_configs_are_told_from_other_configs() {
        assert!(is_module_config("1_Pooling/config.json"));
        assert!(is_module_config("2_Dense/config.json"));
        assert!(!is_module_config("config.json"));
        assert!(!is_module_config("onnx/config.json"));
        assert!(!is_module_config("1_Pooling/other.json"));
    }

    #[test]
    fn the_token_is_not_in_the_options_debug_text() {
        let opts = HubOptions {
            token: Some("hf_secret".into()),
            ..HubOptions::from_env()
        };
        let text = format!("{opts:?}");
        assert!(
            !text.contains("hf_secret") && text.contains("<set>"),
            "{text}"
        );
    }
}
