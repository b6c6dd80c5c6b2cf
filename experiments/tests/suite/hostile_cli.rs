//! Hostile use of the command line: every case asserts the exit code, the message, and that no
//! file that existed before changed. Runs existing outputs (refused, resumed only with the same
//! settings, replaced only when asked), inputs (byte-order marks, ids with whitespace, several
//! formats of one file, empty or unmatched files, unsupported models, lengths beyond the model,
//! non-finite weights), `generate` failures and credentials, and SIGINT/SIGTERM.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::snapshot;

fn experiments() -> Command {
    Command::new(env!("CARGO_BIN_EXE_experiments"))
}

fn tiny() -> PathBuf {
    rankwise_assets::reference("encoder/tiny-bert").unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `cmd`; asserts it failed with exit code `code` and that stderr holds every one of
/// `needles`; returns stderr.
fn fails(cmd: &mut Command, code: i32, needles: &[&str]) -> String {
    let out = cmd.output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{cmd:?}\n{err}");
    for n in needles {
        assert!(err.contains(n), "{cmd:?}: `{n}` not in\n{err}");
    }
    err
}

fn succeeds(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// A small graded collection: 24 passages, 6 queries with levels 3/2/1/0 in `qrels/train.tsv`
/// and one relevant passage each in `qrels/test.tsv`.
fn collection(dir: &Path) -> PathBuf {
    let c = dir.join("collection");
    std::fs::create_dir_all(c.join("qrels")).unwrap();
    let topics = ["apples", "rivers", "engines", "stars", "music", "bread"];
    let mut corpus = String::new();
    let mut train = String::from("query-id\tcorpus-id\tscore\n");
    let mut test = String::from("query-id\tcorpus-id\tscore\n");
    let mut queries = String::new();
    for (q, t) in topics.iter().enumerate() {
        queries.push_str(&format!("{{\"_id\": \"q{q}\", \"text\": \"about {t}\"}}\n"));
        for level in 0..4 {
            let d = format!("d{q}-{level}");
            corpus.push_str(&format!(
                "{{\"_id\": \"{d}\", \"title\": \"\", \"text\": \"{} {t} passage {level}\"}}\n",
                "word ".repeat(level + 1)
            ));
            train.push_str(&format!("q{q}\t{d}\t{level}\n"));
        }
        test.push_str(&format!("q{q}\td{q}-3\t1\n"));
    }
    std::fs::write(c.join("corpus.jsonl"), corpus).unwrap();
    std::fs::write(c.join("queries.jsonl"), queries).unwrap();
    std::fs::write(c.join("qrels/train.tsv"), train).unwrap();
    std::fs::write(c.join("qrels/test.tsv"), test).unwrap();
    c
}

/// A training config over [`collection`]: tiny BERT, WS2, 2 queries per step, `epochs` epochs
/// (3 steps each), a checkpoint every `every` steps.
fn train_config(dir: &Path, epochs: usize, every: u64) -> PathBuf {
    let c = collection(dir);
    let data = dir.join("data.toml");
    std::fs::write(
        &data,
        format!(
            "kind = \"multilevel\"\ngroup_size = 4\n[[sources]]\ncorpus = {:?}\nqueries = {:?}\nqrels = {:?}\n",
            c.join("corpus.jsonl"),
            c.join("queries.jsonl"),
            c.join("qrels/train.tsv")
        ),
    )
    .unwrap();
    let config = dir.join("train.toml");
    std::fs::write(
        &config,
        format!(
            "model = {:?}\ndata = \"data.toml\"\noutput_dir = \"run\"\nglobal_batch = 2\n\
             query_max_length = 16\npassage_max_length = 32\nepochs = {epochs}\n\
             checkpoint_every = {every}\nkeep_checkpoints = 2\n[loss]\nkind = \"ws2\"\n\
             temperature = 0.2\n",
            tiny()
        ),
    )
    .unwrap();
    config
}

fn train(config: &Path, extra: &[&str]) -> Command {
    let mut c = experiments();
    c.args(["train", "--quiet", "--config"])
        .arg(config)
        .args(extra);
    c
}

#[test]
fn train_refuses_to_overwrite_and_resumes_only_the_same_run() {
    let dir = tempfile::tempdir().unwrap();
    let config = train_config(dir.path(), 1, 2);
    let run = dir.path().join("run");
    succeeds(&mut train(&config, &[]));
    let before = snapshot(&run);
    assert!(before.contains_key(&run.join("model/model.safetensors")));

    // Old: the run was silently replaced. New: refused, nothing touched.
    fails(
        &mut train(&config, &[]),
        1,
        &["already holds a run", "--resume", "--overwrite"],
    );
    assert_eq!(snapshot(&run), before);

    // Old: --resume accepted any change and mixed two runs. New: the changed keys are listed.
    let err = fails(
        &mut train(
            &config,
            &["--resume", "--lr", "0.001", "--global-batch", "3"],
        ),
        1,
        &["other settings", "optimizer.lr: ", "global_batch: 2 → 3"],
    );
    assert!(!err.contains("output_dir"), "{err}");
    assert_eq!(snapshot(&run), before);

    // Old: --resume with no checkpoint started from scratch. New: said, nothing written.
    let elsewhere = dir.path().join("elsewhere");
    fails(
        train(&config, &["--resume", "--output-dir"]).arg(&elsewhere),
        1,
        &["nothing to resume"],
    );
    assert!(!elsewhere.exists());
    fails(
        &mut train(&config, &["--resume", "--overwrite"]),
        2,
        &["cannot be used with"],
    );

    // The resolved config names absolute paths: it trains again from another folder.
    let resolved = run.join("config.resolved.toml");
    let again = dir.path().join("again");
    let out = succeeds(
        train(&resolved, &["--output-dir"])
            .arg(&again)
            .current_dir(std::env::temp_dir()),
    );
    assert!(text(&out.stdout).contains("trained 3 steps"));
    assert!(again.join("model/model.safetensors").is_file());

    // --overwrite replaces the run.
    succeeds(&mut train(&config, &["--overwrite"]));
    let after = snapshot(&run);
    assert_ne!(
        after[&run.join("metrics.jsonl")].1,
        before[&run.join("metrics.jsonl")].1
    );
}

/// Starts `cmd`, waits until `ready()` holds, sends `signal` (`-INT`, `-TERM`), and returns
/// the output.
fn signalled(cmd: &mut Command, signal: &str, ready: impl Fn() -> bool) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{cmd:?} never got ready"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    child.wait_with_output().unwrap()
}

/// A condition that holds once `wait` has passed.
fn after(wait: Duration) -> impl Fn() -> bool {
    let start = Instant::now();
    move || start.elapsed() >= wait
}

/// Starts `train` on a long run, sends `signal` once it logged two steps, and returns the output.
fn interrupted(config: &Path, signal: &str, extra: &[&str]) -> Output {
    let metrics = config.parent().unwrap().join("run/metrics.jsonl");
    let lines = || std::fs::read_to_string(&metrics).map_or(0, |t| t.lines().count());
    // A resumed run first truncates the log to its checkpoint, so count from what is there.
    let before = lines();
    signalled(&mut train(config, extra), signal, || lines() >= before + 2)
}

#[test]
fn sigint_and_sigterm_stop_training_with_a_checkpoint_and_it_resumes() {
    let dir = tempfile::tempdir().unwrap();
    // 600 steps: far longer than the test waits; no periodic checkpoint.
    let config = train_config(dir.path(), 200, 0);
    let run = dir.path().join("run");
    // Old: stopped without a message, losing the steps since the last checkpoint.
    let out = interrupted(&config, "-INT", &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("stopped at step") && err.contains("--resume"),
        "{err}"
    );
    let latest = std::fs::read_to_string(run.join("checkpoints/latest")).unwrap();
    let step: u64 = latest.trim_start_matches("step-").parse().unwrap();
    assert!(step >= 2, "{latest}");
    assert!(!run.join("model").exists());

    let out = interrupted(&config, "-TERM", &["--resume"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{err}");
    assert!(err.contains(&format!("resumed at step {step}")), "{err}");
}

/// Runs `evaluate` with the tiny model on `dataset` into `out`.
fn evaluate(dataset: &Path, out: &Path, extra: &[&str]) -> Command {
    evaluate_with(&tiny(), dataset, out, extra)
}

/// Runs `evaluate` with `model` (a folder or a shared name) on `dataset` into `out`.
fn evaluate_with(model: &Path, dataset: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut c = experiments();
    c.args(["evaluate", "--quiet", "--no-cache", "--model"])
        .arg(model)
        .arg("--dataset")
        .arg(dataset)
        .arg("--output")
        .arg(out)
        .args(extra);
    c
}

#[test]
fn evaluate_checks_every_output_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let c = collection(dir.path());
    let out = dir.path().join("o/eval.json");
    // A folder that does not exist yet is created.
    succeeds(&mut evaluate(&c, &out, &[]));
    let before = snapshot(dir.path());
    // Old: overwritten. New: refused, nothing touched.
    fails(
        &mut evaluate(&c, &out, &[]),
        1,
        &["eval.json already exists", "--overwrite"],
    );
    // Old: `--output run.run` replaced the run file with the JSON summary.
    fails(
        &mut evaluate(&c, &dir.path().join("o/eval.run"), &["--overwrite"]),
        1,
        &["would share this name"],
    );
    // Old: `--output <dataset>/corpus.jsonl` replaced the input corpus, even with --overwrite.
    fails(
        &mut evaluate(&c, &c.join("corpus.jsonl"), &["--overwrite"]),
        1,
        &["is a file of the collection being read"],
    );
    // Old: an existing folder as --output left partial files and a `.tmp`.
    fails(
        &mut evaluate(&c, &dir.path().join("o"), &[]),
        1,
        &["is a folder"],
    );
    // Old: `--k 0` printed every metric as 0.
    fails(
        &mut evaluate(&c, &dir.path().join("k.json"), &["--k", "0"]),
        1,
        &["k (documents retrieved per query) must be at least 1"],
    );
    assert_eq!(snapshot(dir.path()), before);
    // --overwrite replaces it.
    succeeds(&mut evaluate(&c, &out, &["--overwrite"]));

    // Old: two collections named alike wrote the same `eval.base.*` files. New: told apart.
    for parent in ["a", "b"] {
        let d = dir.path().join(parent).join("base");
        std::fs::create_dir_all(d.parent().unwrap()).unwrap();
        copy_tree(&c, &d);
    }
    let both = dir.path().join("both/eval.json");
    succeeds(
        evaluate(&dir.path().join("a/base"), &both, &["--dataset"]).arg(dir.path().join("b/base")),
    );
    for f in [
        "eval.a-base.json",
        "eval.b-base.json",
        "eval.json",
        "eval.md",
    ] {
        assert!(both.with_file_name(f).is_file(), "{f}");
    }
    let map: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&both).unwrap()).unwrap();
    assert_eq!(map.as_object().unwrap().len(), 2, "{map}");
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let target = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_tree(&p, &target);
        } else {
            std::fs::copy(&p, &target).unwrap();
        }
    }
}

#[test]
fn hostile_collections_are_named_errors_or_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let good = collection(dir.path());
    let variant = |name: &str, edit: &dyn Fn(&Path)| {
        let d = dir.path().join(name);
        copy_tree(&good, &d);
        edit(&d);
        d
    };
    let out = |name: &str| dir.path().join(format!("out/{name}.json"));
    let ndcg = |path: &Path| -> f64 {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        v["ndcg@10"].as_f64().unwrap()
    };
    succeeds(&mut evaluate(&good, &out("good"), &[]));
    let reference = ndcg(&out("good"));

    // Old: a BOM on a headerless qrels file turned the first query id into another id (wrong
    // nDCG, exit 0); in JSONL an unnamed parse error; in a qrels header "not a number". New:
    // the mark is ignored everywhere.
    let bom = variant("bom", &|d| {
        for f in ["corpus.jsonl", "queries.jsonl", "qrels/test.tsv"] {
            let mut bytes = "\u{feff}".as_bytes().to_vec();
            bytes.extend(std::fs::read(d.join(f)).unwrap());
            std::fs::write(d.join(f), bytes).unwrap();
        }
    });
    succeeds(&mut evaluate(&bom, &out("bom"), &[]));
    assert_eq!(ndcg(&out("bom")), reference);
    let headerless = variant("headerless", &|d| {
        let t = std::fs::read_to_string(d.join("qrels/test.tsv")).unwrap();
        let body: String = t.lines().skip(1).map(|l| format!("{l}\n")).collect();
        std::fs::write(d.join("qrels/test.tsv"), format!("\u{feff}{body}")).unwrap();
    });
    succeeds(&mut evaluate(&headerless, &out("headerless"), &[]));
    assert_eq!(ndcg(&out("headerless")), reference);

    // Each variant is refused with a message naming file, line and field.
    let rejects = |name: &str, edit: &dyn Fn(&Path), needles: &[&str]| {
        let d = variant(name, edit);
        fails(&mut evaluate(&d, &out(name), &[]), 1, needles);
    };
    let replace = |d: &Path, file: &str, from: &str, to: &str| {
        let t = std::fs::read_to_string(d.join(file)).unwrap();
        std::fs::write(d.join(file), t.replacen(from, to, 1)).unwrap();
    };
    // Old: one of two formats used without a word.
    rejects(
        "both",
        &|d| {
            std::fs::copy(d.join("corpus.jsonl"), d.join("corpus.csv")).unwrap();
        },
        &["corpus.jsonl, corpus.csv", "more than one format"],
    );
    // Old: ids with a tab or space were written raw into TSV/TREC files.
    rejects(
        "spaced",
        &|d| replace(d, "corpus.jsonl", "d0-0", "d0 0"),
        &["corpus.jsonl:1: field `_id`", "holds a space"],
    );
    rejects(
        "tabbed",
        &|d| replace(d, "queries.jsonl", "\"q2\"", "\"q\\t2\""),
        &["queries.jsonl:3: field `_id`", "holds a tab"],
    );
    // Old: empty queries were reported against the qrels file.
    rejects(
        "empty",
        &|d| std::fs::write(d.join("queries.jsonl"), "").unwrap(),
        &["queries.jsonl: no records in the file"],
    );
    // No judged query in the queries file.
    rejects(
        "unjudged",
        &|d| {
            let t = std::fs::read_to_string(d.join("queries.jsonl")).unwrap();
            std::fs::write(d.join("queries.jsonl"), t.replace("\"q", "\"other-q")).unwrap();
        },
        &["none of its 6 judged queries is in", "queries.jsonl"],
    );
    // Old: judged documents all missing gave nDCG 0.0000 and exit 0.
    rejects(
        "unmatched",
        &|d| {
            let t = std::fs::read_to_string(d.join("corpus.jsonl")).unwrap();
            std::fs::write(d.join("corpus.jsonl"), t.replace("\"d", "\"x")).unwrap();
        },
        &["none of its 6 judged documents is in"],
    );
    // Some missing: evaluated, with a warning that counts them.
    let partly = variant("partly", &|d| {
        let t = std::fs::read_to_string(d.join("qrels/test.tsv")).unwrap();
        std::fs::write(
            d.join("qrels/test.tsv"),
            format!("{t}q9\td1-1\t1\nq0\tghost\t1\n"),
        )
        .unwrap();
    });
    let o = succeeds(&mut evaluate(&partly, &out("partly"), &[]));
    let err = text(&o.stderr);
    assert!(
        err.contains("1 of 7 judged queries are not in") && err.contains("1 of 8 judgements"),
        "{err}"
    );
}

#[test]
fn unsupported_models_and_lengths_are_refused_before_work() {
    let dir = tempfile::tempdir().unwrap();
    let c = collection(dir.path());
    let model = |name: &str, edit: &dyn Fn(&Path)| {
        let m = dir.path().join(name);
        copy_tree(&tiny(), &m);
        edit(&m);
        m
    };
    let run = |m: &Path, extra: &[&str]| evaluate_with(m, &c, &dir.path().join("o.json"), extra);
    // Old: a GPT-2 config loaded as BERT.
    let gpt2 = model("gpt2", &|m| {
        let t = std::fs::read_to_string(m.join("config.json")).unwrap();
        std::fs::write(
            m.join("config.json"),
            t.replace("\"model_type\": \"bert\"", "\"model_type\": \"gpt2\""),
        )
        .unwrap();
    });
    fails(
        &mut run(&gpt2, &[]),
        1,
        &[
            "field `model_type`",
            "unsupported model type \"gpt2\" (supported: bert)",
        ],
    );
    // Old: lengths beyond the position table were accepted and a long passage panicked.
    fails(
        &mut run(&tiny(), &["--passage-max-length", "1000"]),
        1,
        &["passage_max_length = 1000 exceeds the model's 512 positions"],
    );
    // Old: a NaN weight gave NaN embeddings and exit 0.
    let nan = model("nan", &|m| {
        let mut bytes = std::fs::read(m.join("model.safetensors")).unwrap();
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
        let (name, info) = header
            .as_object()
            .unwrap()
            .iter()
            .find(|(k, v)| !k.contains("position_ids") && v["dtype"] == "F32")
            .unwrap();
        let start = 8 + n + info["data_offsets"][0].as_u64().unwrap() as usize;
        bytes[start..start + 4].copy_from_slice(&f32::NAN.to_le_bytes());
        std::fs::write(m.join("model.safetensors"), bytes).unwrap();
        std::fs::write(m.join("nan-tensor"), name).unwrap();
    });
    let tensor = std::fs::read_to_string(nan.join("nan-tensor")).unwrap();
    fails(
        &mut run(&nan, &[]),
        1,
        &[&format!("tensor `{tensor}`"), "is not finite"],
    );
    assert!(!dir.path().join("o.json").exists());
}

/// A chat server that answers every request with HTTP 401 after `delay`; returns its base URL
/// with credentials in it.
fn unauthorised_server(delay: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                let mut got = Vec::new();
                // Read the headers and the body announced by Content-Length.
                loop {
                    let Ok(n) = s.read(&mut buf) else { return };
                    if n == 0 {
                        return;
                    }
                    got.extend_from_slice(&buf[..n]);
                    let t = String::from_utf8_lossy(&got).to_string();
                    if let Some(end) = t.find("\r\n\r\n") {
                        let len = t[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if got.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                std::thread::sleep(delay);
                let body = "{\"error\": \"bad key\"}";
                let _ = write!(
                    s,
                    "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    format!("http://user:s3cret@{addr}/v1")
}

fn generate(queries: &Path, out: &Path, url: &str) -> Command {
    let mut c = experiments();
    c.args([
        "generate",
        "--quiet",
        "--concurrency",
        "1",
        "--attempts",
        "1",
        "--model",
        "m",
        "--base-url",
        url,
    ])
    .arg("--queries")
    .arg(queries)
    .arg("--out")
    .arg(out);
    c
}

#[test]
fn generate_fails_loudly_redacts_credentials_and_stops_on_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let c = collection(dir.path());
    let out = dir.path().join("synthetic");
    // Old: exit 0 when every query failed, and the password in two files.
    let url = unauthorised_server(Duration::ZERO);
    let err = fails(
        &mut generate(&c.join("queries.jsonl"), &out, &url),
        1,
        &["6 of 6 queries have no passages", "--retry-failed"],
    );
    assert!(!err.contains("s3cret"), "{err}");
    for (path, (bytes, _)) in snapshot(&out) {
        assert!(!text(&bytes).contains("s3cret"), "{}", path.display());
    }
    // Old: a rerun reported the failed queries as "already done".
    let o = generate(&c.join("queries.jsonl"), &out, &url)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let stdout = text(&o.stdout);
    assert!(
        stdout.contains("0 already done") && stdout.contains("6 failed earlier"),
        "{stdout}"
    );

    // SIGINT: the request in flight finishes and is written, then exit 130.
    let slow = unauthorised_server(Duration::from_millis(700));
    let out2 = dir.path().join("slow");
    let o = signalled(
        &mut generate(&c.join("queries.jsonl"), &out2, &slow),
        "-INT",
        after(Duration::from_millis(1000)),
    );
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(
        err.contains("stopped:") && err.contains("not attempted"),
        "{err}"
    );
    let failures = std::fs::read_to_string(out2.join("failures.jsonl")).unwrap();
    assert!((1..6).contains(&failures.lines().count()), "{failures}");
}

#[test]
fn sigint_stops_evaluate_after_the_current_collection() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("eval.json");
    let mut evaluate = evaluate_with(
        Path::new("all-MiniLM-L6-v2"),
        Path::new("med"),
        &out,
        &["--dataset", "cranfield"],
    );
    // Encoding MED takes far longer than starting up.
    let o = signalled(&mut evaluate, "-INT", after(Duration::from_secs(3)));
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{err}");
    let med = dir.path().join("eval.med.json");
    assert!(
        err.contains("stopped after 1 of 2 collections")
            && err.contains(&med.display().to_string()),
        "{err}"
    );
    assert!(med.is_file());
    assert!(!dir.path().join("eval.cranfield.json").exists());
    assert!(!out.exists());
}
