//! Models and datasets already in the Hugging Face cache, found without network: the layout
//! Python's `huggingface_hub` (and every tool built on it) writes —
//! `<cache>/models--<org>--<name>/{refs/<revision>, snapshots/<commit>/<files>, blobs/}` — so a
//! model downloaded by sentence-transformers or `huggingface-cli` is used where it is.
//!
//! [`beir`] picks the files of a dataset repository that make a BEIR collection; with the feature
//! `download`, [`download`] fetches what the cache lacks from the Hub into the same layout.

use std::path::{Path, PathBuf};

pub mod beir;
#[cfg(feature = "download")]
pub mod download;
#[cfg(feature = "fake-hub")]
pub mod fake;
#[cfg(feature = "download")]
mod verify;

/// The kind of repository: its folder prefix in the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RepoKind {
    /// `models--…`
    Model,
    /// `datasets--…`
    Dataset,
}

impl RepoKind {
    /// `model` or `dataset`, for messages.
    pub fn noun(self) -> &'static str {
        match self {
            Self::Model => "model",
            Self::Dataset => "dataset",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Self::Model => "models",
            Self::Dataset => "datasets",
        }
    }
}

/// A repository that is not in the cache, or not whole there.
#[derive(Debug, thiserror::Error)]
#[error(
    "{} `{id}` is not in the Hugging Face cache: {detail} (looked at {}). Download it with \
     `huggingface-cli download {}{id}` (or any tool that fills the cache; \
     HF_HUB_CACHE or HF_HOME choose the cache), or pass a folder",
    kind.noun(),
    looked_at.display(),
    match kind { RepoKind::Model => "", RepoKind::Dataset => "--repo-type dataset " }
)]
pub struct NotCached {
    /// Model or dataset.
    pub kind: RepoKind,
    /// The id as given (`org/name`, optionally `@revision`).
    pub id: String,
    /// What is missing.
    pub detail: String,
    /// The path looked at.
    pub looked_at: PathBuf,
}

/// The cache folder: `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`.
pub fn cache_dir() -> PathBuf {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("HF_HUB_CACHE")
        .or_else(|| var("HF_HOME").map(|h| h.join("hub")))
        .or_else(|| var("HOME").map(|h| h.join(".cache/huggingface/hub")))
        .unwrap_or_else(|| PathBuf::from(".cache/huggingface/hub"))
}

/// The folder of repository `repo` (`org/name`) in the cache folder `cache`.
pub fn repo_folder(cache: &Path, kind: RepoKind, repo: &str) -> PathBuf {
    cache.join(format!("{}--{}", kind.prefix(), repo.replace('/', "--")))
}

/// Whether `arg` has the shape of a Hub id: `org/name`, optionally `@revision`.
pub fn is_hub_id(arg: &str) -> bool {
    let repo = arg.split_once('@').map_or(arg, |(r, _)| r);
    let ok = |s: &str| {
        !s.is_empty()
            && !s.starts_with('.')
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    matches!(repo.split_once('/'), Some((org, name)) if ok(org) && ok(name))
}

/// The snapshot folder of `id` (`org/name[@revision]`, revision default `main`) in the cache
/// folder `cache`, holding every file of `required`.
pub fn cached_snapshot_in(
    cache: &Path,
    kind: RepoKind,
    id: &str,
    required: &[&str],
) -> Result<PathBuf, NotCached> {
    let (repo, revision) = split_revision(id);
    let folder = repo_folder(cache, kind, repo);
    let missing = |detail: String, looked_at: PathBuf| NotCached {
        kind,
        id: id.to_string(),
        detail,
        looked_at,
    };
    let is_commit = revision.len() == 40 && revision.chars().all(|c| c.is_ascii_hexdigit());
    let commit = if is_commit {
        revision.to_string()
    } else {
        let file = folder.join("refs").join(revision);
        std::fs::read_to_string(&file)
            .map_err(|_| missing(format!("no revision `{revision}`"), file))?
            .trim()
            .to_string()
    };
    let snapshot = folder.join("snapshots").join(&commit);
    if !snapshot.is_dir() {
        return Err(missing(format!("no snapshot {commit}"), snapshot));
    }
    for f in required {
        // `exists` follows the link into `blobs/`: a dangling link is a missing file.
        if !snapshot.join(f).exists() {
            return Err(missing(format!("`{f}` is missing"), snapshot.join(f)));
        }
    }
    Ok(snapshot)
}

/// The files of a snapshot folder, as paths relative to it with `/` separators, sorted (links
/// into `blobs/` count when they resolve).
pub fn snapshot_files(snapshot: &Path) -> std::io::Result<Vec<String>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                walk(root, &path, out)?;
            } else if path.is_file() {
                let rel = path.strip_prefix(root).unwrap_or(&path);
                let parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.push(parts.join("/"));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(snapshot, snapshot, &mut out)?;
    out.sort();
    Ok(out)
}

/// The repository and revision of an id: `org/name@rev` → (`org/name`, `rev`); `main` when no
/// revision is given.
pub fn split_revision(id: &str) -> (&str, &str) {
    id.split_once('@').unwrap_or((id, "main"))
}

/// The first 12 hex digits of a commit, as messages and folder names show it.
pub fn short_commit(commit: &str) -> String {
    commit.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cache laid out as `huggingface_hub` writes it: files are links into `blobs/`.
    fn cache_with(dir: &Path, files: &[(&str, &str)]) -> String {
        let repo = dir.join("models--org--tiny");
        let commit = "0123456789abcdef0123456789abcdef01234567";
        let snap = repo.join("snapshots").join(commit);
        std::fs::create_dir_all(repo.join("blobs")).unwrap();
        std::fs::create_dir_all(repo.join("refs")).unwrap();
        std::fs::create_dir_all(&snap).unwrap();
        for (i, (name, text)) in files.iter().enumerate() {
            let blob = format!("blob{i}");
            std::fs::write(repo.join("blobs").join(&blob), text).unwrap();
            std::os::unix::fs::symlink(format!("../../blobs/{blob}"), snap.join(name)).unwrap();
        }
        std::fs::write(repo.join("refs/main"), commit).unwrap();
        commit.to_string()
    }

    #[test]
    fn a_snapshot_is_found_by_ref_or_commit_and_missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let commit = cache_with(
            dir.path(),
            &[("config.json", "{}"), ("tokenizer.json", "{}")],
        );
        let snap =
            cached_snapshot_in(dir.path(), RepoKind::Model, "org/tiny", &["config.json"]).unwrap();
        assert_eq!(
            std::fs::read_to_string(snap.join("config.json")).unwrap(),
            "{}"
        );
        let by_commit = format!("org/tiny@{commit}");
        assert_eq!(
            cached_snapshot_in(dir.path(), RepoKind::Model, &by_commit, &[]).unwrap(),
            snap
        );
        let e = cached_snapshot_in(
            dir.path(),
            RepoKind::Model,
            "org/tiny",
            &["model.safetensors"],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("`model.safetensors` is missing"), "{e}");
        let e = cached_snapshot_in(dir.path(), RepoKind::Dataset, "org/other@v2", &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("dataset `org/other@v2`")
                && e.contains("no revision `v2`")
                && e.contains("--repo-type dataset"),
            "{e}"
        );
    }

    #[test]
    fn hub_ids_are_told_from_paths_and_names() {
        assert!(is_hub_id("sentence-transformers/all-MiniLM-L6-v2"));
        assert!(is_hub_id("BeIR/scifact@main"));
        for not in [
            "all-MiniLM-L6-v2",
            "a/b/c",
            "/abs/path",
            "./x",
            "a/",
            "a b/c",
        ] {
            assert!(!is_hub_id(not), "{not}");
        }
    }
}
