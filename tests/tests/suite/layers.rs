//! The workspace's layering, checked: the crate graph follows the data flow (files → data →
//! model → loss → training → experiments) and no two files of a crate import each other, directly
//! or around a loop.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Every package `package` depends on for the host, directly or not, by normal (not dev, not
/// build) dependencies, as `cargo tree` resolves them (from the lock file, without network).
fn dependencies(package: &str) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["tree", "--offline", "--edges", "normal", "--prefix", "none"])
        .args(["--format", "{p}", "--package", package])
        .current_dir(workspace())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .map(String::from)
        .collect()
}

/// Everything `from` reaches in `graph`, directly or not.
fn closure(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_string()];
    while let Some(p) = todo.pop() {
        for d in graph.get(&p).into_iter().flatten() {
            if seen.insert(d.clone()) {
                todo.push(d.clone());
            }
        }
    }
    seen
}

#[test]
fn the_crate_graph_follows_the_data_flow() {
    for (from, forbidden) in [
        ("rankwise-files", "burn"),
        ("rankwise-data", "burn"),
        ("rankwise-data", "rankwise-encoder"),
        ("rankwise-synth", "burn"),
        ("rankwise-synth", "rankwise-data"),
        ("rankwise-train", "rankwise-eval"),
        ("rankwise-eval", "rankwise-train"),
        ("rankwise-encoder", "rankwise-data"),
        ("rankwise-plot", "burn"),
    ] {
        let below = dependencies(from);
        assert!(
            !below.contains(forbidden),
            "{from} depends on {forbidden}: {below:?}"
        );
    }
    // The loss can be imported alone: Burn (and CubeCL for its kernel) and nothing of ours.
    let ours: Vec<_> = dependencies("rankwise-loss")
        .into_iter()
        .filter(|d| d.starts_with("rankwise"))
        .collect();
    assert!(ours.is_empty(), "rankwise-loss depends on {ours:?}");
}

/// The modules of a crate's `src/` (`a/b.rs` and `a/b/mod.rs` are `a::b`) and their files.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut todo = vec![src.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(src).unwrap().with_extension("");
                let mut parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if matches!(
                    parts.last().map(String::as_str),
                    Some("mod" | "lib" | "main")
                ) {
                    parts.pop();
                }
                out.insert(parts.join("::"), path);
            }
        }
    }
    out
}

/// The sibling modules a file names through `crate::…` or `super::…`, leaving out comments and
/// its `#[cfg(test)] mod tests`.
fn imports(module: &str, text: &str, all: &BTreeMap<String, PathBuf>) -> BTreeSet<String> {
    let code: String = text
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap()
        .lines()
        .map(|l| l.split("//").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    let word = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == ':';
    let mut out = BTreeSet::new();
    let parent: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
    for (prefix, base) in [
        ("crate::", Vec::new()),
        ("super::", parent[..parent.len().saturating_sub(1)].to_vec()),
    ] {
        for (i, _) in code.match_indices(prefix) {
            if code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let path: String = code[i + prefix.len()..]
                .chars()
                .take_while(|&c| word(c))
                .collect();
            let mut parts: Vec<&str> = base.clone();
            parts.extend(path.split("::").filter(|s| !s.is_empty()));
            // The longest module the path names, other than the file itself and its parents.
            for k in (1..=parts.len()).rev() {
                let candidate = parts[..k].join("::");
                if all.contains_key(&candidate) {
                    if candidate != module && !module.starts_with(&format!("{candidate}::")) {
                        out.insert(candidate);
                    }
                    break;
                }
            }
        }
    }
    out
}

#[test]
fn no_two_files_import_each_other() {
    let mut crates: Vec<PathBuf> = std::fs::read_dir(workspace().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path().join("src"))
        .collect();
    crates.push(workspace().join("experiments/src"));
    for src in crates.into_iter().filter(|s| s.is_dir()) {
        let mods = modules(&src);
        let graph: BTreeMap<String, BTreeSet<String>> = mods
            .iter()
            .map(|(m, p)| {
                (
                    m.clone(),
                    imports(m, &std::fs::read_to_string(p).unwrap(), &mods),
                )
            })
            .collect();
        for (m, deps) in &graph {
            for d in deps {
                let back = closure(&graph, d);
                assert!(
                    !back.contains(m),
                    "{}: `{m}` imports `{d}`, which leads back to `{m}`",
                    src.display()
                );
            }
        }
    }
}
