//! `experiments evaluate` end to end: the real all-MiniLM-L6-v2 on the shared MED collection
//! reproduces the PyTorch reference nDCG@10 (0.7875), writes every output, and reuses its
//! embedding cache; bad collections give clear errors.

use std::path::Path;
use std::process::Command;

fn experiments() -> Command {
    Command::new(env!("CARGO_BIN_EXE_experiments"))
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn minilm_on_med_matches_reference_and_caches() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("med.json");
    let command = |extra: &[&str]| {
        let mut c = experiments();
        c.args([
            "evaluate",
            "--model",
            "all-MiniLM-L6-v2",
            "--dataset",
            "med",
            "--quiet",
            "--overwrite",
        ])
        .arg("--output")
        .arg(&out)
        .args(extra);
        c
    };
    let run = |extra: &[&str]| {
        assert!(command(extra).status().unwrap().success());
        json(&out)
    };
    let first = run(&[]);
    let ndcg = first["ndcg@10"].as_f64().unwrap();
    assert!((ndcg - 0.7875).abs() <= 0.002, "nDCG@10 {ndcg}");
    assert_eq!(first["num_queries"], 30);
    for key in ["mrr@10", "recall@100"] {
        let v = first[key].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v) && v > 0.5, "{key} = {v}");
    }
    assert_eq!(first["cache_hit"], false);
    let run_file = std::fs::read_to_string(dir.path().join("med.run")).unwrap();
    assert_eq!(run_file.lines().count(), 30 * 100);
    assert!(run_file.lines().next().unwrap().split_whitespace().count() == 6);
    let per_query = json(&dir.path().join("med.per_query.json"));
    assert_eq!(per_query.as_object().unwrap().len(), 30);
    let table = std::fs::read_to_string(dir.path().join("med.md")).unwrap();
    assert!(table.contains("| all-MiniLM-L6-v2 | med | 30 |"), "{table}");

    // Second run: corpus embeddings come from the cache, same numbers; extra cut-offs.
    let second = run(&["--cutoffs", "1,3,5"]);
    assert_eq!(second["cache_hit"], true);
    assert_eq!(second["ndcg@10"], first["ndcg@10"]);
    assert!(second["metrics"]["ndcg@3"].as_f64().is_some());
    assert!(second["metrics"]["p@5"].as_f64().is_some());

    // Lengths given on the command line replace the model's: a new cache entry, other scores.
    let short = run(&["--query-max-length", "16", "--passage-max-length", "32"]);
    assert_eq!(short["cache_hit"], false);
    assert_ne!(short["ndcg@10"], first["ndcg@10"]);
    // Refused before anything is encoded or written.
    let bad = command(&["--query-max-length", "1"]).output().unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("2..=8192, got 1"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

fn tiny_collection(dir: &Path, corpus: &str, qrels: &str) -> std::path::PathBuf {
    let c = dir.join("tiny");
    std::fs::create_dir_all(c.join("qrels")).unwrap();
    std::fs::write(c.join("corpus.jsonl"), corpus).unwrap();
    std::fs::write(
        c.join("queries.jsonl"),
        "{\"_id\": \"q1\", \"text\": \"hello\"}\n",
    )
    .unwrap();
    std::fs::write(c.join("qrels/test.tsv"), qrels).unwrap();
    c
}

fn tiny_model() -> std::path::PathBuf {
    rankwise_assets::reference("encoder/tiny-bert").unwrap()
}

fn stderr_of(collection: &Path, out: &Path) -> (bool, String, serde_json::Value) {
    let output = experiments()
        .arg("evaluate")
        .arg("--model")
        .arg(tiny_model())
        .arg("--dataset")
        .arg(collection)
        .arg("--output")
        .arg(out)
        .args(["--quiet", "--no-cache", "--overwrite"])
        .output()
        .unwrap();
    let summary = if output.status.success() {
        json(out)
    } else {
        serde_json::Value::Null
    };
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).to_string(),
        summary,
    )
}

#[test]
fn bad_collections_give_clear_errors_and_unknown_ids_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.json");
    let c = tiny_collection(dir.path(), "", "query-id\tcorpus-id\tscore\nq1\td1\t1\n");
    let (ok, err, _) = stderr_of(&c, &out);
    assert!(
        !ok && err.contains("corpus.jsonl: no records in the file"),
        "{err}"
    );

    let c = tiny_collection(
        dir.path(),
        "{\"_id\": \"d1\", \"text\": \"hello world\"}\n{\"_id\": \"d2\", \"text\": \"other\"}\n",
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\tghost\t1\nq404\td2\t1\n",
    );
    let (ok, err, summary) = stderr_of(&c, &out);
    assert!(ok, "{err}");
    assert!(
        err.contains("1 of 2 judged queries are not in") && err.contains("1 of 3 judgements"),
        "{err}"
    );
    assert_eq!(summary["unknown_doc_judgements"], 1);
    assert_eq!(summary["unknown_query_ids"], 1);
    assert_eq!(summary["num_judged_queries"], 2);
    assert_eq!(summary["num_queries"], 1);
    // The unknown judged document stays relevant: recall@100 is 1/2.
    assert_eq!(summary["recall@100"], 0.5);

    let c = tiny_collection(
        dir.path(),
        "{\"_id\": \"d1\", \"text\": \"x\"}\n",
        "query-id\tcorpus-id\tscore\nq1\td1\tmaybe\n",
    );
    let (ok, err, _) = stderr_of(&c, &out);
    assert!(!ok && err.contains("test.tsv:2: field `score`"), "{err}");
}

#[test]
fn a_model_in_the_hugging_face_cache_is_found_by_its_hub_id() {
    // The cache as Python's huggingface_hub lays it out: snapshot files are links into blobs/.
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("hub");
    let repo = cache.join("models--org--tiny-bert");
    let commit = "89abcdef0123456789abcdef0123456789abcdef";
    let snapshot = repo.join("snapshots").join(commit);
    std::fs::create_dir_all(repo.join("blobs")).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::create_dir_all(&snapshot).unwrap();
    for (i, f) in ["config.json", "model.safetensors", "tokenizer.json"]
        .iter()
        .enumerate()
    {
        std::fs::copy(tiny_model().join(f), repo.join(format!("blobs/b{i}"))).unwrap();
        std::os::unix::fs::symlink(format!("../../blobs/b{i}"), snapshot.join(f)).unwrap();
    }
    std::fs::write(repo.join("refs/main"), commit).unwrap();
    let c = tiny_collection(
        dir.path(),
        "{\"_id\": \"d1\", \"text\": \"hello world\"}\n",
        "query-id\tcorpus-id\tscore\nq1\td1\t1\n",
    );
    let run = |model: &str, out: &str| {
        experiments()
            .env("HF_HUB_CACHE", &cache)
            .env("HF_HUB_OFFLINE", "1")
            .args([
                "evaluate",
                "--quiet",
                "--no-cache",
                "--model",
                model,
                "--dataset",
            ])
            .arg(&c)
            .arg("--output")
            .arg(dir.path().join(out))
            .output()
            .unwrap()
    };
    let ok = run("org/tiny-bert", "a.json");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(json(&dir.path().join("a.json"))["num_queries"], 1);
    // Not in the cache: the id, the path looked at and how to fetch it are named.
    let missing = run("org/absent", "b.json");
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success());
    assert!(
        err.contains("model `org/absent` is not in the Hugging Face cache")
            && err.contains("models--org--absent")
            && err.contains("huggingface-cli download org/absent"),
        "{err}"
    );
}
