//! Which files of a Hub dataset repository make a BEIR collection, and a BEIR folder made of
//! links to them.
//!
//! Repositories lay BEIR out in three ways: the BEIR folder itself (`corpus.jsonl`,
//! `queries.jsonl`, `qrels/test.tsv`, as `mteb/scifact`), one parquet shard per table in a folder
//! named after it (`corpus/corpus-00000-of-00001.parquet`, as `BeIR/scifact`), and qrels in a
//! companion repository named `<id>-qrels` holding `test.tsv` (as `BeIR/scifact-qrels`).
//! [`select`] finds the tables in a list of repository files; [`beir_folder`] makes a folder of
//! links to them in the BEIR layout, which the readers take.

use std::path::{Path, PathBuf};

/// Extensions of corpus and query tables, in the readers' order.
const TABLE_EXT: [&str; 4] = ["jsonl", "jsonl.gz", "parquet", "csv"];
/// Extensions of qrels files, in the readers' order.
const QRELS_EXT: [&str; 6] = ["tsv", "tsv.gz", "jsonl", "jsonl.gz", "parquet", "csv"];
/// Folders that hold qrels by split in the layouts above (`qrels/test.tsv`,
/// `default/test-00000-of-00001.parquet`, `data/test.jsonl`).
const QRELS_FOLDERS: [&str; 3] = ["qrels", "default", "data"];

/// A repository whose files do not make a BEIR collection.
#[derive(Debug, thiserror::Error)]
#[error("`{id}` is not a BEIR collection: {detail} (files: {})", list(files))]
pub struct LayoutError {
    /// The repository id.
    pub id: String,
    /// What is missing or ambiguous.
    pub detail: String,
    /// The repository's files (at most 20 shown).
    pub files: Vec<String>,
}

fn list(files: &[String]) -> String {
    let mut s = files
        .iter()
        .take(20)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if files.len() > 20 {
        s.push_str(&format!(", … ({} in all)", files.len()));
    }
    s
}

/// The files of one BEIR collection, as repository paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeirFiles {
    /// The corpus table.
    pub corpus: String,
    /// The queries table.
    pub queries: String,
    /// `(split, path)` of every qrels file, sorted by split; paths in the qrels repository.
    pub qrels: Vec<(String, String)>,
    /// Whether the qrels are in the companion repository `<id>-qrels`.
    pub qrels_in_companion: bool,
}

impl BeirFiles {
    /// Every file of the dataset repository itself.
    pub fn own_files(&self) -> Vec<&str> {
        let mut v = vec![self.corpus.as_str(), self.queries.as_str()];
        if !self.qrels_in_companion {
            v.extend(self.qrels.iter().map(|(_, p)| p.as_str()));
        }
        v
    }

    /// The qrels files of the companion repository (empty when the qrels are not there).
    pub fn companion_files(&self) -> Vec<&str> {
        if self.qrels_in_companion {
            self.qrels.iter().map(|(_, p)| p.as_str()).collect()
        } else {
            Vec::new()
        }
    }
}

/// The extension of `name` among `exts` (the longest that fits: `jsonl.gz` before `gz`).
fn extension<'a>(name: &str, exts: &[&'a str]) -> Option<&'a str> {
    exts.iter()
        .filter(|e| name.len() > e.len() + 1 && name.ends_with(&format!(".{e}")))
        .max_by_key(|e| e.len())
        .copied()
}

/// The table `stem` (`corpus` or `queries`): `stem.<ext>` at the root, else the one file of
/// folder `stem/`.
fn table(id: &str, files: &[String], stem: &str) -> Result<String, LayoutError> {
    let err = |detail: String| LayoutError {
        id: id.to_string(),
        detail,
        files: files.to_vec(),
    };
    let root: Vec<&String> = files
        .iter()
        .filter(|f| extension(f, &TABLE_EXT).is_some_and(|e| f.as_str() == format!("{stem}.{e}")))
        .collect();
    let folder: Vec<&String> = files
        .iter()
        .filter(|f| {
            f.strip_prefix(&format!("{stem}/"))
                .is_some_and(|rest| !rest.contains('/') && extension(rest, &TABLE_EXT).is_some())
        })
        .collect();
    match (root.as_slice(), folder.as_slice()) {
        ([one], _) => Ok((*one).clone()),
        ([], [one]) => Ok((*one).clone()),
        ([], []) => Err(err(format!(
            "no {stem} table (`{stem}.jsonl`, `{stem}.parquet`, … or one file in `{stem}/`)"
        ))),
        ([], many) => Err(err(format!(
            "the {stem} is split into {} shards ({}); one file per table is read",
            many.len(),
            list(&many.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        ))),
        (many, _) => Err(err(format!(
            "several {stem} tables ({}); which one is meant is not guessed",
            list(&many.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        ))),
    }
}

/// `(split, path)` of the qrels in `files`: `<folder>/<split>.<ext>` or
/// `<folder>/<split>-<shard>.<ext>` for the folders of [`QRELS_FOLDERS`], and with
/// `at_root`, `<split>.<ext>` at the root (the companion repository's layout).
fn qrels(id: &str, files: &[String], at_root: bool) -> Result<Vec<(String, String)>, LayoutError> {
    let mut found: Vec<(String, String)> = Vec::new();
    for f in files {
        let (folder, name) = match f.rsplit_once('/') {
            Some((d, n)) if QRELS_FOLDERS.contains(&d) => (Some(d), n),
            None if at_root => (None, f.as_str()),
            _ => continue,
        };
        let Some(ext) = extension(name, &QRELS_EXT) else {
            continue;
        };
        let stem = &name[..name.len() - ext.len() - 1];
        // A shard name `test-00000-of-00001` belongs to split `test`; `qrels/` names its files
        // by split alone.
        let split = match folder {
            Some("qrels") | None => stem,
            _ => stem.split_once('-').map_or(stem, |(s, _)| s),
        };
        if split.is_empty() || split.eq_ignore_ascii_case("readme") {
            continue;
        }
        found.push((split.to_string(), f.clone()));
    }
    found.sort();
    for pair in found.windows(2) {
        if pair[0].0 == pair[1].0 {
            return Err(LayoutError {
                id: id.to_string(),
                detail: format!(
                    "split `{}` has several qrels files (`{}`, `{}`)",
                    pair[0].0, pair[0].1, pair[1].1
                ),
                files: files.to_vec(),
            });
        }
    }
    Ok(found)
}

/// Whether a dataset repository's files hold qrels of their own (else they are looked for in
/// the companion repository).
pub fn has_own_qrels(files: &[String]) -> bool {
    qrels("", files, false).is_ok_and(|q| !q.is_empty())
}

/// The id of the companion repository that holds a BEIR dataset's qrels (`BeIR/scifact` →
/// `BeIR/scifact-qrels`), revision kept.
pub fn companion_id(id: &str) -> String {
    let (repo, revision) = super::split_revision(id);
    match id.split_once('@') {
        Some(_) => format!("{repo}-qrels@{revision}"),
        None => format!("{repo}-qrels"),
    }
}

/// The BEIR tables of dataset `id` from its file list, and from the file list of its companion
/// repository when the dataset holds no qrels (`companion` is `None` when that repository does
/// not exist).
pub fn select(
    id: &str,
    files: &[String],
    companion: Option<&[String]>,
) -> Result<BeirFiles, LayoutError> {
    let corpus = table(id, files, "corpus")?;
    let queries = table(id, files, "queries")?;
    let own = qrels(id, files, false)?;
    if !own.is_empty() {
        return Ok(BeirFiles {
            corpus,
            queries,
            qrels: own,
            qrels_in_companion: false,
        });
    }
    let companion_qrels = match companion {
        Some(c) => qrels(&companion_id(id), c, true)?,
        None => Vec::new(),
    };
    if companion_qrels.is_empty() {
        return Err(LayoutError {
            id: id.to_string(),
            detail: format!(
                "no qrels (`qrels/<split>.tsv`, `default/<split>-*.parquet`, …) in it, and {}",
                match companion {
                    Some(_) => format!("none in `{}` either", companion_id(id)),
                    None => format!("no repository `{}`", companion_id(id)),
                }
            ),
            files: files.to_vec(),
        });
    }
    Ok(BeirFiles {
        corpus,
        queries,
        qrels: companion_qrels,
        qrels_in_companion: true,
    })
}

/// The name a table gets in a BEIR folder: `stem.<ext>` with the source's extension.
fn beir_name(stem: &str, source: &str, exts: &[&str]) -> String {
    let ext = extension(source, exts).unwrap_or(exts[0]);
    format!("{stem}.{ext}")
}

/// A BEIR folder for `files`: `<views>/<key>/<name>`, a folder of links into the snapshots
/// (`corpus.<ext>`, `queries.<ext>`, `qrels/<split>.<ext>`), made once (in a temporary folder
/// renamed into place). It is named `name` (the repository's name, `scifact`) because reports
/// name a collection by its folder. `qrels_snapshot` is the companion's snapshot when the qrels
/// are there.
pub fn beir_folder(
    files: &BeirFiles,
    snapshot: &Path,
    qrels_snapshot: &Path,
    views: &Path,
    key: &str,
    name: &str,
) -> std::io::Result<PathBuf> {
    let parent = views.join(key);
    let view = parent.join(name);
    if view.is_dir() {
        return Ok(view);
    }
    std::fs::create_dir_all(&parent)?;
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    std::fs::create_dir_all(tmp.join("qrels"))?;
    let link = |target: PathBuf, at: String| -> std::io::Result<()> {
        let target = std::path::absolute(target)?;
        link_file(&target, &tmp.join(at))
    };
    link(
        snapshot.join(&files.corpus),
        beir_name("corpus", &files.corpus, &TABLE_EXT),
    )?;
    link(
        snapshot.join(&files.queries),
        beir_name("queries", &files.queries, &TABLE_EXT),
    )?;
    for (split, path) in &files.qrels {
        link(
            qrels_snapshot.join(path),
            format!("qrels/{}", beir_name(split, path, &QRELS_EXT)),
        )?;
    }
    match std::fs::rename(&tmp, &view) {
        Ok(()) => Ok(view),
        // Another process made the same folder first: theirs is as good.
        Err(_) if view.is_dir() => {
            std::fs::remove_dir_all(&tmp)?;
            Ok(view)
        }
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
fn link_file(target: &Path, at: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, at)
}

#[cfg(not(unix))]
fn link_file(target: &Path, at: &Path) -> std::io::Result<()> {
    std::fs::copy(target, at).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_beir_folder_repository_is_selected_as_it_is() {
        let files = strings(&[
            ".gitattributes",
            "README.md",
            "corpus.jsonl",
            "queries.jsonl",
            "qrels/test.tsv",
            "qrels/train.tsv",
        ]);
        let got = select("mteb/scifact", &files, None).unwrap();
        assert_eq!(got.corpus, "corpus.jsonl");
        assert_eq!(
            got.qrels,
            vec![
                ("test".into(), "qrels/test.tsv".into()),
                ("train".into(), "qrels/train.tsv".into())
            ]
        );
        assert!(!got.qrels_in_companion);
    }

    #[test]
    fn parquet_shards_and_companion_qrels_become_a_folder_of_links() {
        let files = strings(&[
            "README.md",
            "corpus/corpus-00000-of-00001.parquet",
            "queries/queries-00000-of-00001.parquet",
        ]);
        let companion = strings(&["README.md", "test.tsv", "train.tsv"]);
        let e = select("BeIR/scifact", &files, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no repository `BeIR/scifact-qrels`"), "{e}");
        let got = select("BeIR/scifact", &files, Some(&companion)).unwrap();
        assert!(got.qrels_in_companion);
        assert_eq!(got.companion_files(), vec!["test.tsv", "train.tsv"]);
        assert_eq!(got.own_files().len(), 2);

        let dir = tempfile::tempdir().unwrap();
        let (snap, qsnap) = (dir.path().join("s"), dir.path().join("q"));
        std::fs::create_dir_all(snap.join("corpus")).unwrap();
        std::fs::create_dir_all(snap.join("queries")).unwrap();
        std::fs::create_dir_all(&qsnap).unwrap();
        std::fs::write(snap.join(&got.corpus), "C").unwrap();
        std::fs::write(snap.join(&got.queries), "Q").unwrap();
        std::fs::write(qsnap.join("test.tsv"), "T").unwrap();
        std::fs::write(qsnap.join("train.tsv"), "R").unwrap();
        let views = dir.path().join("views");
        let folder =
            beir_folder(&got, &snap, &qsnap, &views, "BeIR--scifact--c", "scifact").unwrap();
        assert_eq!(folder, views.join("BeIR--scifact--c/scifact"));
        let read = |p: &str| std::fs::read_to_string(folder.join(p)).unwrap();
        assert_eq!(read("corpus.parquet"), "C");
        assert_eq!(read("queries.parquet"), "Q");
        assert_eq!(read("qrels/test.tsv"), "T");
        assert_eq!(read("qrels/train.tsv"), "R");
        // Made once: a second call returns the same folder.
        assert_eq!(
            beir_folder(&got, &snap, &qsnap, &views, "BeIR--scifact--c", "scifact").unwrap(),
            folder
        );
    }

    #[test]
    fn mteb_parquet_qrels_by_split_are_found() {
        let files = strings(&[
            "corpus/corpus-00000-of-00001.parquet",
            "queries/queries-00000-of-00001.parquet",
            "default/test-00000-of-00001.parquet",
            "default/train-00000-of-00001.parquet",
        ]);
        let got = select("mteb/x", &files, None).unwrap();
        assert_eq!(got.qrels[0].0, "test");
        assert_eq!(got.qrels[1].0, "train");
    }

    #[test]
    fn ambiguous_and_sharded_tables_are_errors_naming_the_files() {
        let files = strings(&[
            "corpus.jsonl",
            "corpus.parquet",
            "queries.jsonl",
            "qrels/test.tsv",
        ]);
        let e = select("a/b", &files, None).unwrap_err().to_string();
        assert!(
            e.contains("several corpus tables") && e.contains("corpus.parquet"),
            "{e}"
        );
        let files = strings(&[
            "corpus/c-0.parquet",
            "corpus/c-1.parquet",
            "queries.jsonl",
            "qrels/test.tsv",
        ]);
        let e = select("a/b", &files, None).unwrap_err().to_string();
        assert!(
            e.contains("2 shards") && e.contains("corpus/c-1.parquet"),
            "{e}"
        );
        let e = select("a/b", &strings(&["README.md"]), None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no corpus table") && e.contains("README.md"),
            "{e}"
        );
        let files = strings(&[
            "corpus.jsonl",
            "queries.jsonl",
            "qrels/test.tsv",
            "qrels/test.jsonl",
        ]);
        let e = select("a/b", &files, None).unwrap_err().to_string();
        assert!(e.contains("split `test` has several"), "{e}");
    }

    #[test]
    fn companion_ids_keep_the_revision() {
        assert_eq!(companion_id("BeIR/scifact"), "BeIR/scifact-qrels");
        assert_eq!(companion_id("BeIR/scifact@v1"), "BeIR/scifact-qrels@v1");
    }
}
