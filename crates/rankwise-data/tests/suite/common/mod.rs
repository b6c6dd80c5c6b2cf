//! Small hand-made BEIR folders for the sampling tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use rankwise_data::SourceConfig;

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, text).unwrap();
    p
}

/// Corpus d0..d9 (title "T<i>", text "text <i>"), queries q0..q3.
pub fn folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let corpus: String = (0..10)
        .map(|i| format!("{{\"_id\": \"d{i}\", \"title\": \"T{i}\", \"text\": \"text {i}\"}}\n"))
        .collect();
    write(dir.path(), "corpus.jsonl", &corpus);
    let queries: String = (0..4)
        .map(|i| format!("{{\"_id\": \"q{i}\", \"text\": \"query {i}\"}}\n"))
        .collect();
    write(dir.path(), "queries.jsonl", &queries);
    dir
}

/// A source over `folder` with qrels `rows` written to `name`.
pub fn source(dir: &Path, name: &str, rows: &[(&str, &str, f64)]) -> SourceConfig {
    let mut text = String::from("query-id\tcorpus-id\tscore\n");
    for (q, d, s) in rows {
        text.push_str(&format!("{q}\t{d}\t{s}\n"));
    }
    let qrels = write(dir, &format!("qrels/{name}.tsv"), &text);
    SourceConfig::new(dir.join("corpus.jsonl"), dir.join("queries.jsonl"), qrels)
}
