//! Generation against an in-process HTTP server that misbehaves on purpose: timeouts, 500s,
//! 429 with Retry-After, 4xx, malformed replies, three passages, an empty passage, a dead
//! endpoint; and a killed run (torn and orphan lines) that resumes without losing or
//! duplicating anything.

use std::collections::{HashSet, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rankwise_data::{
    GroupedDataset, MultiLevelConfig, MultiLevelDataset, PassageSelection, SourceConfig,
};
use rankwise_files::Collection;
use rankwise_synth::{GenerateConfig, generate};

#[derive(Clone)]
enum Reply {
    /// A chat completion whose message content is this text.
    Content(String),
    /// Same, with `finish_reason: length`.
    Truncated(String),
    /// An HTTP status with extra headers.
    Status(u16, &'static str),
    /// Sleep this long before answering with the content.
    Slow(u64, String),
    /// A body that is not JSON.
    Garbage,
}

struct Server {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

fn completion(content: &str, finish: &str) -> String {
    serde_json::json!({
        "choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": finish}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 20}
    })
    .to_string()
}

/// Serves `script` in order; after it runs out, answers every request with `fallback`.
fn serve(script: Vec<Reply>, fallback: Option<Reply>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let queue = Arc::new(Mutex::new(VecDeque::from(script)));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let log = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let queue = queue.clone();
            let log = log.clone();
            let fallback = fallback.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut head = String::new();
                let mut len = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap();
                    }
                    head.push_str(&line);
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; len];
                reader.read_exact(&mut body).unwrap();
                log.lock()
                    .unwrap()
                    .push(format!("{head}{}", String::from_utf8_lossy(&body)));
                let reply = queue
                    .lock()
                    .unwrap()
                    .pop_front()
                    .or(fallback)
                    .expect("script exhausted");
                let (status, extra, body) = match reply {
                    Reply::Content(c) => (200, "", completion(&c, "stop")),
                    Reply::Truncated(c) => (200, "", completion(&c, "length")),
                    Reply::Status(s, h) => (s, h, "{\"error\": \"scripted\"}".to_string()),
                    Reply::Slow(ms, c) => {
                        std::thread::sleep(Duration::from_millis(ms));
                        (200, "", completion(&c, "stop"))
                    }
                    Reply::Garbage => (200, "", "<html>not json".to_string()),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    Server { url, requests }
}

fn good(tag: &str) -> String {
    serde_json::json!({
        "level_3": format!("{tag} fully answers the question with all the facts"),
        "level_2": format!("{tag} answers part of the question only here"),
        "level_1": format!("{tag} is about a related topic but no answer"),
        "level_0": format!("{tag} talks about cooking pasta at home tonight"),
    })
    .to_string()
}

fn queries(n: usize) -> Collection {
    Collection::from_pairs(
        "queries",
        (0..n).map(|i| (format!("q{i}"), format!("question {i}?"))),
    )
    .unwrap()
}

fn config(url: &str) -> GenerateConfig {
    let mut c = GenerateConfig {
        concurrency: 1,
        progress: false,
        ..Default::default()
    };
    c.client.base_url = url.to_string();
    c.client.model = "test-model".into();
    c.client.timeout_s = 1.0;
    c.client.backoff_s = 0.01;
    c.client.max_attempts = 5;
    c
}

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn transient_failures_are_retried_with_backoff() {
    let server = serve(
        vec![
            Reply::Status(500, ""),
            Reply::Status(429, "Retry-After: 0.2\r\n"),
            Reply::Slow(1500, good("late")),
            Reply::Content(good("ok")),
        ],
        None,
    );
    let dir = tempfile::tempdir().unwrap();
    let t = std::time::Instant::now();
    let s = generate(&queries(1), dir.path(), &config(&server.url)).unwrap();
    assert_eq!((s.generated, s.failed), (1, 0), "{s:?}");
    assert!(
        t.elapsed() >= Duration::from_millis(1200),
        "timeout and Retry-After waited"
    );
    assert_eq!(server.requests.lock().unwrap().len(), 4);
    let rec: serde_json::Value =
        serde_json::from_str(&lines(&dir.path().join("generation.jsonl"))[0]).unwrap();
    assert_eq!(rec["http_attempts"], 4);
    assert_eq!(rec["model"], "test-model");
    assert!(lines(&dir.path().join("corpus.jsonl"))[0].contains("ok fully answers"));
}

#[test]
fn client_errors_are_not_retried_and_dead_endpoints_fail_cleanly() {
    let server = serve(vec![Reply::Status(400, "")], None);
    let dir = tempfile::tempdir().unwrap();
    let s = generate(&queries(1), dir.path(), &config(&server.url)).unwrap();
    assert_eq!(s.failed, 1);
    assert_eq!(s.failures_by_kind.get("http_4xx"), Some(&1));
    assert_eq!(server.requests.lock().unwrap().len(), 1, "no retry on 400");
    let f: serde_json::Value =
        serde_json::from_str(&lines(&dir.path().join("failures.jsonl"))[0]).unwrap();
    assert!(f["detail"].as_str().unwrap().contains("HTTP 400"), "{f}");

    // Nothing listens on this port: transport errors, retried, then recorded.
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(&format!("http://{dead}/v1"));
    c.client.max_attempts = 2;
    let s = generate(&queries(2), dir.path(), &c).unwrap();
    assert_eq!(s.failures_by_kind.get("transport"), Some(&2), "{s:?}");
    assert_eq!(s.generated, 0);
}

#[test]
fn bad_replies_are_retried_then_recorded_with_the_raw_text() {
    let server = serve(
        vec![
            // q0: malformed, three passages, then good.
            Reply::Content("{\"level_3\": \"cut off".into()),
            Reply::Content(
                serde_json::json!({"passages": ["one two three four five", "six seven eight nine ten", "a b c d e f"]}).to_string(),
            ),
            Reply::Content(format!("Sure! Here it is:\n```json\n{}\n```", good("fenced"))),
            // q1: empty passage, truncated, garbage body (not retried: protocol error is final).
            Reply::Content(serde_json::json!({"level_3": "a b c d e", "level_2": "f g h i j", "level_1": "", "level_0": "k l m n o"}).to_string()),
            Reply::Truncated(good("long")),
            Reply::Content("1. only one item here in the list".into()),
        ],
        None,
    );
    let dir = tempfile::tempdir().unwrap();
    let s = generate(&queries(2), dir.path(), &config(&server.url)).unwrap();
    assert_eq!((s.generated, s.failed), (1, 1), "{s:?}");
    assert_eq!(s.rejected_by_kind.get("no_passages"), Some(&1), "{s:?}");
    assert_eq!(s.rejected_by_kind.get("wrong_count"), Some(&1), "{s:?}");
    assert_eq!(s.rejected_by_kind.get("empty_passage"), Some(&1), "{s:?}");
    assert_eq!(s.rejected_by_kind.get("truncated"), Some(&1), "{s:?}");
    assert_eq!(s.failures_by_kind.get("wrong_count"), Some(&1), "{s:?}");
    let f: serde_json::Value =
        serde_json::from_str(&lines(&dir.path().join("failures.jsonl"))[0]).unwrap();
    assert_eq!(f["query_id"], "q1");
    assert_eq!(f["raw"], "1. only one item here in the list");
    assert_eq!(f["attempts"], 3);

    let server = serve(vec![Reply::Garbage], None);
    let dir = tempfile::tempdir().unwrap();
    let s = generate(&queries(1), dir.path(), &config(&server.url)).unwrap();
    assert_eq!(s.failures_by_kind.get("protocol"), Some(&1), "{s:?}");
}

#[test]
fn killed_run_resumes_without_loss_or_duplicates() {
    let server = serve(vec![], Some(Reply::Content(good("p"))));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let first = generate(&queries(3), out, &config(&server.url)).unwrap();
    assert_eq!(first.generated, 3);
    // A kill while q3 was being written: its corpus and qrels lines made it, a torn half line
    // follows, and no commit record exists; generation.jsonl itself ends in a torn line too.
    let mut corpus = std::fs::OpenOptions::new()
        .append(true)
        .open(out.join("corpus.jsonl"))
        .unwrap();
    write!(
        corpus,
        "{{\"_id\":\"q3-L3\",\"title\":\"\",\"text\":\"orphan\"}}\n{{\"_id\":\"q3-L2\",\"te"
    )
    .unwrap();
    let mut qrels = std::fs::OpenOptions::new()
        .append(true)
        .open(out.join("qrels/train.tsv"))
        .unwrap();
    writeln!(qrels, "q3\tq3-L3\t3").unwrap();
    let mut generation = std::fs::OpenOptions::new()
        .append(true)
        .open(out.join("generation.jsonl"))
        .unwrap();
    write!(generation, "{{\"query_id\": \"q3\", \"mod").unwrap();
    drop((corpus, qrels, generation));

    let before = server.requests.lock().unwrap().len();
    let second = generate(&queries(5), out, &config(&server.url)).unwrap();
    assert_eq!(second.already_done, 3);
    assert_eq!(second.generated, 2);
    assert_eq!(
        server.requests.lock().unwrap().len() - before,
        2,
        "finished queries are skipped"
    );
    assert!(second.recovery.torn_lines >= 2, "{:?}", second.recovery);
    assert_eq!(second.recovery.orphan_lines, 2, "{:?}", second.recovery);

    let corpus = lines(&out.join("corpus.jsonl"));
    let ids: Vec<String> = corpus
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids.len(), 20);
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        20,
        "no duplicates"
    );
    assert!(!corpus.iter().any(|l| l.contains("orphan")));
    assert_eq!(lines(&out.join("generation.jsonl")).len(), 5);
    assert_eq!(lines(&out.join("qrels/train.tsv")).len(), 21);

    // The folder loads as a multi-level dataset with levels 3/2/1/0 for every query.
    let d = MultiLevelDataset::load(MultiLevelConfig {
        sources: vec![SourceConfig::new(
            out.join("corpus.jsonl"),
            out.join("queries.jsonl"),
            out.join("qrels/train.tsv"),
        )],
        group_size: 4,
        passage_selection_strategy: PassageSelection::MostRelevant,
        seed: 0,
    })
    .unwrap();
    assert_eq!(d.len(), 5);
    for i in 0..5 {
        assert_eq!(d.item(i, 0).labels, vec![3, 2, 1, 0]);
    }
}

#[test]
fn api_key_is_sent_but_never_shown_and_rate_cap_spaces_requests() {
    let server = serve(vec![], Some(Reply::Content(good("k"))));
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(&server.url);
    // SAFETY: single-threaded at this point of the test; the variable is unique to it.
    unsafe { std::env::set_var("RANKWISE_TEST_KEY", "s3cret") };
    c.client.api_key_env = Some("RANKWISE_TEST_KEY".into());
    c.client.requests_per_minute = 240; // one request every 0.25 s
    c.concurrency = 3;
    let t = std::time::Instant::now();
    generate(&queries(4), dir.path(), &c).unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(700),
        "{:?}",
        t.elapsed()
    );
    let reqs = server.requests.lock().unwrap();
    assert!(reqs.iter().all(|r| r.contains("Bearer s3cret")));
    assert!(reqs[0].contains("\"response_format\""));
    let client = rankwise_synth::ChatClient::new(c.client.clone()).unwrap();
    assert!(!format!("{client:?}").contains("s3cret"));
    for f in ["generation.jsonl", "summary.json", "corpus.jsonl"] {
        assert!(
            !std::fs::read_to_string(dir.path().join(f))
                .unwrap()
                .contains("s3cret")
        );
    }
    c.client.api_key_env = Some("RANKWISE_TEST_KEY_UNSET".into());
    let e = rankwise_synth::ChatClient::new(c.client)
        .unwrap_err()
        .to_string();
    assert!(e.contains("RANKWISE_TEST_KEY_UNSET"), "{e}");
}

#[test]
fn per_level_requests_spread_over_several_servers() {
    // Each server answers every request with one plain-text passage (with the labels and
    // quotes small models add); a bad first reply of a level is retried.
    let a = serve(
        vec![Reply::Content("ok".into())],
        Some(Reply::Content(
            "Passage: \"server a writes a passage of enough words here\"\n\nThis passage is level 3."
                .into(),
        )),
    );
    let b = serve(
        vec![],
        Some(Reply::Content(
            "server b writes a passage of enough words".into(),
        )),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(&a.url);
    c.extra_base_urls = vec![b.url.clone()];
    c.concurrency = 2;
    c.prompt.per_level = true;
    let s = generate(&queries(4), dir.path(), &c).unwrap();
    assert_eq!((s.generated, s.failed), (4, 0), "{s:?}");
    assert_eq!(s.rejected_by_kind.get("too_short"), Some(&1), "{s:?}");
    let (ra, rb) = (a.requests.lock().unwrap(), b.requests.lock().unwrap());
    assert_eq!(
        ra.len() + rb.len(),
        4 * 4 + 1,
        "one request per level, one retry"
    );
    assert!(
        ra.len() >= 4 && rb.len() >= 4,
        "both servers used: {} and {}",
        ra.len(),
        rb.len()
    );
    // Plain text is asked for, with the one-level prompt.
    assert!(
        !ra.iter()
            .chain(rb.iter())
            .any(|r| r.contains("response_format"))
    );
    assert!(
        ra.iter()
            .chain(rb.iter())
            .any(|r| r.contains("\"role\":\"system\"") && r.contains("everyday topic")),
        "level 0 is a chat with a system turn"
    );
    let corpus = lines(&dir.path().join("corpus.jsonl"));
    assert_eq!(corpus.len(), 16);
    assert!(
        corpus
            .iter()
            .all(|l| l.contains("writes a passage of enough words")
                && !l.contains("Passage:")
                && !l.contains("level 3.")),
        "{corpus:?}"
    );
}
