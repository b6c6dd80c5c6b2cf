//! Output paths of the evaluating commands, planned and checked before any work: one distinct,
//! file-safe name per collection, no file written twice, no input overwritten, nothing earlier
//! replaced without `--overwrite`, and a folder that exists and takes files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rankwise_eval::report::Written;

/// A file-safe name per collection folder: its folder name with anything but letters, digits,
/// `.`, `_` and `-` replaced by `_`; folders that share a name are told apart by their parent
/// folder's name, then by their position.
pub fn collection_file_names(datasets: &[PathBuf]) -> Vec<String> {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let part = |p: Option<&Path>| {
        p.and_then(Path::file_name)
            .map_or("collection".to_string(), |n| clean(&n.to_string_lossy()))
    };
    let names: Vec<String> = datasets.iter().map(|d| part(Some(d))).collect();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for n in &names {
        *counts.entry(n.as_str()).or_default() += 1;
    }
    let mut out: Vec<String> = names
        .iter()
        .zip(datasets)
        .map(|(n, d)| {
            if counts[n.as_str()] > 1 {
                format!("{}-{n}", part(d.parent()))
            } else {
                n.clone()
            }
        })
        .collect();
    let mut seen = BTreeSet::new();
    for (i, n) in out.iter_mut().enumerate() {
        if !seen.insert(n.clone()) {
            *n = format!("{n}-{}", i + 1);
            seen.insert(n.clone());
        }
    }
    out
}

/// The summary file of each collection: `output` itself for one collection, else
/// `<stem>.<name>.json` beside it.
pub fn summary_paths(output: &Path, datasets: &[PathBuf]) -> Vec<PathBuf> {
    if datasets.len() == 1 {
        return vec![output.to_path_buf()];
    }
    let stem = output.file_stem().unwrap_or_default().to_string_lossy();
    collection_file_names(datasets)
        .iter()
        .map(|n| output.with_file_name(format!("{stem}.{n}.json")))
        .collect()
}

/// Every file an evaluation of `datasets` writes for `output`.
pub fn planned_files(output: &Path, datasets: &[PathBuf]) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = summary_paths(output, datasets)
        .iter()
        .flat_map(|s| {
            Written::beside(s)
                .paths()
                .map(Path::to_path_buf)
                .into_iter()
        })
        .collect();
    if datasets.len() > 1 {
        files.push(output.to_path_buf());
        files.push(output.with_extension("md"));
    }
    files
}

/// Checks, before any work, that `files` can be written: no two the same, none an input file
/// of `datasets` (never, even with `overwrite`), none a folder, none already there unless
/// `overwrite`, and their folders exist (created here) and take files.
pub fn check_writable(
    files: &[PathBuf],
    datasets: &[PathBuf],
    overwrite: bool,
) -> anyhow::Result<()> {
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut seen = BTreeSet::new();
    for f in files {
        anyhow::ensure!(
            seen.insert(abs(f)),
            "output {}: two of the files to write would share this name; give --output a \
             `.json` name",
            f.display()
        );
    }
    let inputs: BTreeSet<PathBuf> = datasets
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok().map(|r| (d, r)))
        .flat_map(|(d, r)| {
            let qrels = std::fs::read_dir(d.join("qrels")).into_iter().flatten();
            r.chain(qrels)
                .filter_map(Result::ok)
                .map(|e| abs(&e.path()))
                .collect::<Vec<_>>()
        })
        .collect();
    for f in files {
        anyhow::ensure!(
            !inputs.contains(&abs(f)),
            "output {} is a file of the collection being read; choose another --output",
            f.display()
        );
        anyhow::ensure!(
            !f.is_dir(),
            "output {} is a folder; give a file name such as {}",
            f.display(),
            f.join("eval.json").display()
        );
        anyhow::ensure!(
            overwrite || !f.exists(),
            "output {} already exists; pass --overwrite to replace it, or choose another --output",
            f.display()
        );
    }
    let folders: BTreeSet<PathBuf> = files
        .iter()
        .map(|f| match f.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        })
        .collect();
    for dir in folders {
        std::fs::create_dir_all(&dir)
            .map_err(|e| anyhow::anyhow!("output folder {}: {e}", dir.display()))?;
        let probe = dir.join(format!(".rankwise-write-check-{}", std::process::id()));
        std::fs::write(&probe, b"")
            .map_err(|e| anyhow::anyhow!("output folder {} takes no files: {e}", dir.display()))?;
        let _ = std::fs::remove_file(&probe);
    }
    Ok(())
}

/// Claims `out` for a command that trains and evaluates several runs into it (`quickstart`,
/// `graded`): an error when it already holds results, unless `overwrite`.
pub fn claim_output(out: &Path, overwrite: bool) -> anyhow::Result<()> {
    if overwrite || !out.exists() {
        return Ok(());
    }
    anyhow::ensure!(out.is_dir(), "output {} is not a folder", out.display());
    let earlier: Vec<String> = std::fs::read_dir(out)?
        .filter_map(Result::ok)
        .filter(|e| {
            let p = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            name.starts_with("results.")
                || name.starts_with("eval-")
                || (p.is_dir()
                    && ["metrics.jsonl", "checkpoints", "model"]
                        .iter()
                        .any(|m| p.join(m).exists()))
        })
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    anyhow::ensure!(
        earlier.is_empty(),
        "output {} already holds results of an earlier run ({}); pass --overwrite to replace \
         them, or choose another --output",
        out.display(),
        earlier.join(", ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{collection_file_names, planned_files};
    use std::path::{Path, PathBuf};

    #[test]
    fn names_are_distinct_and_file_safe() {
        let d = |s: &str| PathBuf::from(s);
        assert_eq!(
            collection_file_names(&[d("a/base"), d("b/base"), d("x/my set")]),
            ["a-base", "b-base", "my_set"]
        );
        assert_eq!(
            collection_file_names(&[d("a/base"), d("a/base")]),
            ["a-base", "a-base-2"]
        );
    }

    #[test]
    fn several_collections_write_a_set_each_plus_the_map() {
        let files = planned_files(Path::new("o/eval.json"), &[PathBuf::from("x/med")]);
        assert_eq!(files.len(), 6);
        let files = planned_files(
            Path::new("o/eval.json"),
            &[PathBuf::from("x/med"), PathBuf::from("y/med")],
        );
        assert_eq!(files.len(), 14);
        assert!(files.contains(&PathBuf::from("o/eval.x-med.json")));
        assert!(files.contains(&PathBuf::from("o/eval.md")));
    }
}
