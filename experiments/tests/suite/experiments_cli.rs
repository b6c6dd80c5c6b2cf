//! The experiment commands end to end in reduced mode (tiny model, two steps): `quickstart`,
//! `graded`, and `reproduce` for each of the paper's four configs on a stand-in data folder
//! with the paper's layout.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn experiments() -> Command {
    Command::new(env!("CARGO_BIN_EXE_experiments"))
}

fn tiny() -> PathBuf {
    rankwise_assets::reference("encoder/tiny-bert").unwrap()
}

/// Runs `cmd`, asserts success, returns its standard output.
fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{:?} failed:\n{}\n{}",
        cmd,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn rows(results: &Path) -> Vec<serde_json::Value> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(results).unwrap()).unwrap();
    v["rows"].as_array().unwrap().clone()
}

#[test]
fn quickstart_and_graded_reduced() {
    let dir = tempfile::tempdir().unwrap();
    let qs = dir.path().join("qs");
    run_ok(
        experiments()
            .args(["quickstart", "--smoke", "--eval-dataset", "med", "--model"])
            .arg(tiny())
            .arg("--output")
            .arg(&qs),
    );
    let r = rows(&qs.join("results.json"));
    assert_eq!(
        r.iter()
            .map(|r| r["run"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["base", "ws2", "infonce"]
    );
    for row in &r {
        assert_eq!(row["summary"]["num_queries"], 5);
        assert_eq!(row["summary"]["collection"], "med");
    }
    for f in [
        "results.md",
        "ws2/loss.png",
        "ws2/lr.png",
        "ws2/metrics.jsonl",
        "ws2/model/model.safetensors",
        "infonce/model/config.json",
        "eval-ws2.topk.png",
        "eval-ws2.levels.png",
        "eval-base.run",
    ] {
        assert!(qs.join(f).is_file(), "{f}");
    }
    let metrics = std::fs::read_to_string(qs.join("ws2/metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 2);
    // A second run into the same folder is refused before any work; --overwrite replaces it.
    let again = experiments()
        .args(["quickstart", "--smoke", "--eval-dataset", "med", "--model"])
        .arg(tiny())
        .arg("--output")
        .arg(&qs)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("already holds results") && err.contains("--overwrite"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(qs.join("ws2/metrics.jsonl")).unwrap(),
        metrics
    );
    run_ok(
        experiments()
            .args([
                "quickstart",
                "--smoke",
                "--overwrite",
                "--eval-dataset",
                "med",
                "--model",
            ])
            .arg(tiny())
            .arg("--output")
            .arg(&qs),
    );

    let gr = dir.path().join("graded");
    run_ok(
        experiments()
            .args(["graded", "--smoke", "--model"])
            .arg(tiny())
            .arg("--output")
            .arg(&gr),
    );
    let r = rows(&gr.join("results.json"));
    assert_eq!(r.len(), 3);
    assert_eq!(r[1]["run"], "ws2-graded");
    assert_eq!(r[1]["summary"]["collection"], "cranfield-split");
    // The split is disjoint and covers every judged query.
    let queries = |split: &str| -> std::collections::BTreeSet<String> {
        std::fs::read_to_string(gr.join(format!("cranfield-split/qrels/{split}.tsv")))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split('\t').next().unwrap().to_string())
            .collect()
    };
    let (train, test) = (queries("train"), queries("test"));
    assert!(train.is_disjoint(&test));
    assert_eq!(train.len() + test.len(), 225);
    assert!(train.len() > test.len());
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// `root/{experiments/configs, datasets/{configs, msmarco, sycl}, models/contriever}`: the
/// shipped configs over the miniature of the paper's published data layout.
fn stand_in(root: &Path) {
    let repo = rankwise_assets::workspace_root();
    for name in [
        "real_binary",
        "synth_binary",
        "synth_multilevel",
        "synth_plus_real",
    ] {
        for (from, to) in [
            ("experiments/configs", "experiments/configs"),
            ("datasets/configs", "datasets/configs"),
        ] {
            let text =
                std::fs::read_to_string(repo.join(from).join(format!("{name}.toml"))).unwrap();
            write(&root.join(to).join(format!("{name}.toml")), &text);
        }
    }
    write(
        &root.join("experiments/configs/eval.toml"),
        "[[datasets]]\npath = \"../../datasets/msmarco\"\nsplit = \"dev\"\n",
    );
    std::fs::create_dir_all(root.join("models/contriever")).unwrap();
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(tiny().join(f), root.join("models/contriever").join(f)).unwrap();
    }
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/paper-layout"),
        &root.join("datasets"),
    );
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn the_four_paper_configs_run_end_to_end_on_the_published_layout() {
    let dir = tempfile::tempdir().unwrap();
    stand_in(dir.path());
    let configs = dir.path().join("experiments/configs");
    for (run, name, loss) in [
        ("real-binary", "real_binary", "infonce"),
        ("synth-binary", "synth_binary", "infonce"),
        ("synth-multilevel", "synth_multilevel", "ws2"),
        ("synth-plus-real", "synth_plus_real", "ws2"),
    ] {
        let printed = run_ok(
            experiments()
                .args([
                    "reproduce",
                    run,
                    "--max-steps",
                    "2",
                    "--global-batch",
                    "2",
                    "--eval-max-queries",
                    "3",
                    "--configs",
                ])
                .arg(&configs),
        );
        assert!(
            printed.contains("global batch 2 queries")
                && printed.contains("embedded 16 at a time")
                && printed.contains("Logarithmic warm-up"),
            "{name}: the settings it uses are printed: {printed}"
        );
        let out = dir.path().join("runs").join(name);
        let r = rows(&out.join("results.json"));
        assert_eq!(r[0]["loss"], loss, "{name}");
        assert_eq!(r[0]["summary"]["collection"], "msmarco");
        let resolved = std::fs::read_to_string(out.join("config.resolved.toml")).unwrap();
        assert!(
            resolved.contains("chunk_size = 16") && resolved.contains("warmup_shape = \"log\""),
            "{name}: paper settings kept"
        );
        let steps = std::fs::read_to_string(out.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .count();
        assert_eq!(steps, 2, "{name}");
        assert!(out.join("model/model.safetensors").is_file());
    }
}

#[test]
fn bm25_and_mined_bm25_contexts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bm25.json");
    run_ok(
        experiments()
            .args(["bm25", "--dataset", "med", "--quiet", "--output"])
            .arg(&out),
    );
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(s["num_queries"], 30);
    assert!(s["similarity"].is_null());
    // bm25s (k1 1.2, b 0.75, Lucene stop words, Snowball): MED nDCG@10 0.6986.
    assert!((s["ndcg@10"].as_f64().unwrap() - 0.6986).abs() < 0.01);

    let mined = dir.path().join("top5.tsv");
    let stdout = run_ok(
        experiments()
            .args([
                "mine",
                "--teacher",
                "bm25",
                "--dataset",
                "med",
                "--split",
                "test",
            ])
            .args(["--ranked", "5", "--out"])
            .arg(&mined),
    );
    assert!(stdout.contains("rows for 30 queries"), "{stdout}");
    let text = std::fs::read_to_string(&mined).unwrap();
    let qrels = std::fs::read_to_string(
        rankwise_assets::dataset("med")
            .unwrap()
            .join("qrels/test.tsv"),
    )
    .unwrap();
    let judged: std::collections::HashSet<(String, String)> = qrels
        .lines()
        .skip(1)
        .filter(|l| l.split('\t').nth(2).is_some_and(|s| s != "0"))
        .map(|l| {
            let mut f = l.split('\t');
            (f.next().unwrap().into(), f.next().unwrap().into())
        })
        .collect();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split('\t').collect())
        .collect();
    assert_eq!(rows.len(), 30 * 5);
    for r in &rows {
        assert!(
            !judged.contains(&(r[0].to_string(), r[1].to_string())),
            "{r:?} is a positive"
        );
        assert!(("1"..="5").contains(&r[2]));
    }
    // A dense teacher needs a model.
    let out = experiments()
        .args(["mine", "--dataset", "med", "--ranked", "5", "--out"])
        .arg(dir.path().join("x.tsv"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--model"));
}

#[test]
fn study_smoke_resumes_and_refuses_other_settings() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("study");
    let study = || {
        let mut c = experiments();
        c.args(["study", "--smoke", "--model"])
            .arg(tiny())
            .arg("--output")
            .arg(&out);
        c
    };
    let first = run_ok(&mut study());
    assert!(first.contains("synth_multilevel − synth_binary"), "{first}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("study.json")).unwrap()).unwrap();
    let rows = v["collections"]["scifact"]["rows"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["run"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "base",
            "bm25",
            "real_binary",
            "synth_binary",
            "synth_multilevel",
            "synth_plus_real",
            "synth_multilevel_listnet"
        ]
    );
    for r in &rows[1..] {
        let p = r["vs_base"]["p_value"].as_f64().unwrap();
        assert!(p > 0.0 && p <= 1.0);
    }
    for f in [
        "study.md",
        "study.png",
        "select/choice.json",
        "data/dev/qrels/test.tsv",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    // Training and dev queries are disjoint.
    let dev: std::collections::HashSet<String> =
        std::fs::read_to_string(out.join("data/dev/qrels/test.tsv"))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split('\t').next().unwrap().to_string())
            .collect();
    for f in [
        "data/real-train.tsv",
        "data/synthetic-train.tsv",
        "data/bm25-top30.tsv",
    ] {
        let text = std::fs::read_to_string(out.join(f)).unwrap();
        assert!(
            text.lines()
                .skip(1)
                .all(|l| !dev.contains(l.split('\t').next().unwrap())),
            "{f}"
        );
    }
    // Seed 0 of the run trained on the selection data is the chosen selection candidate, not
    // trained again; a run on other data trains its own.
    let times: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("runs/synth_multilevel/seed0/times.json")).unwrap(),
    )
    .unwrap();
    assert!(times["reused_from"].is_string(), "{times}");
    assert!(!out.join("runs/synth_multilevel/seed0/train/model").exists());
    assert!(
        out.join("runs/synth_plus_real/seed0/train/metrics.jsonl")
            .is_file()
    );
    // A second run reuses every finished unit: nothing in `runs/` or `select/` is written again,
    // and the table is the same.
    let stamps = || {
        let mut all = common::snapshot(&out.join("runs"));
        all.extend(common::snapshot(&out.join("select")));
        all
    };
    let before = stamps();
    assert!(before.len() > 10, "{} files", before.len());
    let second = run_ok(&mut study());
    assert_eq!(stamps(), before);
    let table = |s: &str| s[s.find("### scifact").unwrap()..].to_string();
    assert_eq!(table(&first), table(&second));
    // Other settings in the same folder are refused.
    let out2 = study().args(["--query-max-length", "32"]).output().unwrap();
    assert!(!out2.status.success());
    assert!(String::from_utf8_lossy(&out2.stderr).contains("other settings"));
}

/// A machine with the repository and nothing beside it: no shared folder, an empty Hugging Face
/// cache, and `endpoint` as the Hub.
fn fresh_machine(cmd: &mut Command, root: &Path, endpoint: &str) {
    let empty = root.join("no-shared");
    std::fs::create_dir_all(&empty).unwrap();
    cmd.env("RANKWISE_SHARED", &empty)
        .env("HF_HOME", root.join("hf"))
        .env("RANKWISE_CACHE", root.join("rankwise-cache"))
        .env("HF_ENDPOINT", endpoint)
        .env_remove("HF_HUB_CACHE")
        .env_remove("HF_HUB_OFFLINE")
        .env_remove("HF_TOKEN");
}

#[test]
fn quickstart_on_a_fresh_machine_without_network_fails_at_once_naming_what_to_fetch() {
    let dir = tempfile::tempdir().unwrap();
    // A closed port: the network is blocked.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    for offline in [false, true] {
        let mut cmd = experiments();
        cmd.args(["quickstart", "--output"])
            .arg(dir.path().join("qs"));
        fresh_machine(&mut cmd, dir.path(), &endpoint);
        if offline {
            cmd.arg("--offline");
        }
        let start = std::time::Instant::now();
        let out = cmd.output().unwrap();
        let seconds = start.elapsed().as_secs_f64();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(seconds < 1.0, "{seconds} s");
        assert!(
            err.contains("model `sentence-transformers/all-MiniLM-L6-v2`")
                && err.contains("models--sentence-transformers--all-MiniLM-L6-v2")
                && err.contains("huggingface-cli download sentence-transformers/all-MiniLM-L6-v2")
                && err.contains("RANKWISE_SHARED")
                && err.contains("no-shared/models/all-MiniLM-L6-v2"),
            "{err}"
        );
        let reason = if offline {
            "offline".to_string()
        } else {
            format!("could not reach {endpoint}")
        };
        assert!(err.contains(&reason), "{err}");
        assert!(
            !dir.path().join("qs").exists(),
            "nothing is written before the assets are there"
        );
    }
}

#[test]
fn quickstart_downloads_its_default_model_and_collection_from_the_hub() {
    use rankwise_assets::hub::RepoKind;
    use rankwise_assets::hub::fake::{FakeHub, FakeRepo};
    let hub = FakeHub::start().unwrap();
    // The tiny BERT stands in for all-MiniLM-L6-v2, a six-passage collection for SciFact.
    let model = FakeRepo::from_folder(
        "1111111111111111111111111111111111111111",
        &tiny(),
        &["config.json", "model.safetensors", "tokenizer.json"],
        &["model.safetensors"],
    )
    .unwrap();
    hub.add(
        RepoKind::Model,
        "sentence-transformers/all-MiniLM-L6-v2",
        model,
    );
    let mut data = FakeRepo {
        commit: "2222222222222222222222222222222222222222".into(),
        ..Default::default()
    };
    let (mut corpus, mut queries, mut qrels) = (
        String::new(),
        String::new(),
        String::from("query-id\tcorpus-id\tscore\n"),
    );
    for i in 0..6 {
        corpus.push_str(&format!(
            "{{\"_id\": \"d{i}\", \"title\": \"\", \"text\": \"vitamin {i} deficiency\"}}\n"
        ));
        queries.push_str(&format!(
            "{{\"_id\": \"q{i}\", \"text\": \"what does vitamin {i} do\"}}\n"
        ));
        qrels.push_str(&format!("q{i}\td{i}\t1\n"));
    }
    for (f, text) in [
        ("corpus.jsonl", corpus),
        ("queries.jsonl", queries),
        ("qrels/test.tsv", qrels),
    ] {
        data.files.insert(f.into(), text.into_bytes());
    }
    hub.add(RepoKind::Dataset, "mteb/scifact", data);

    let dir = tempfile::tempdir().unwrap();
    let qs = dir.path().join("qs");
    let mut cmd = experiments();
    cmd.args(["quickstart", "--smoke", "--output"]).arg(&qs);
    fresh_machine(&mut cmd, dir.path(), hub.url());
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("model `sentence-transformers/all-MiniLM-L6-v2`: downloaded from")
            && err.contains("dataset `mteb/scifact`: downloaded from"),
        "{err}"
    );
    for row in rows(&qs.join("results.json")) {
        assert_eq!(row["summary"]["collection"], "scifact");
    }
    // Into the standard cache layout.
    assert!(
        dir.path()
            .join("hf/hub/models--sentence-transformers--all-MiniLM-L6-v2/refs/main")
            .is_file()
    );
    // A second run reads the cache, offline.
    let mut cmd = experiments();
    cmd.args([
        "quickstart",
        "--smoke",
        "--offline",
        "--overwrite",
        "--output",
    ])
    .arg(&qs);
    fresh_machine(&mut cmd, dir.path(), hub.url());
    let before = hub.log().len();
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("Hugging Face cache (commit 111111111111)"),
        "{err}"
    );
    assert_eq!(hub.log().len(), before);
}
