//! The generation run: workers ask the LLM for each unfinished query's four passages, the
//! main thread writes results as they arrive, with a progress bar and a final summary.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use rankwise_data::Collection;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::client::{ChatClient, ClientConfig};
use crate::error::SynthError;
use crate::output::{Generated, OutputStore, Recovery};
use crate::parse::parse_passages;
use crate::prompt::{PromptConfig, Prompter};

/// Settings of a generation run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GenerateConfig {
    /// Server and sampling.
    pub client: ClientConfig,
    /// Prompt template and attributes.
    pub prompt: PromptConfig,
    /// Requests in flight.
    pub concurrency: usize,
    /// Responses asked for per query before it is recorded as a failure.
    pub parse_attempts: u32,
    /// Fewest words per passage.
    pub min_words: usize,
    /// Most words per passage.
    pub max_words: usize,
    /// Only the first n queries of the file.
    pub limit: Option<usize>,
    /// Generate queries recorded as failures again.
    pub retry_failed: bool,
    /// Show a progress bar.
    pub progress: bool,
}

impl Default for GenerateConfig {
    fn default() -> Self {
        Self {
            client: ClientConfig::default(),
            prompt: PromptConfig::default(),
            concurrency: 4,
            parse_attempts: 3,
            min_words: 5,
            max_words: 400,
            limit: None,
            retry_failed: false,
            progress: true,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Queries considered (after `limit`).
    pub queries: usize,
    /// Finished before this run (skipped).
    pub already_done: usize,
    /// Generated now.
    pub generated: usize,
    /// Given up on now.
    pub failed: usize,
    /// Failures (final) and rejected responses (retried) by kind.
    pub failures_by_kind: BTreeMap<String, usize>,
    /// Rejected responses that a later attempt replaced, by kind.
    pub rejected_by_kind: BTreeMap<String, usize>,
    /// Prompt tokens used.
    pub prompt_tokens: u64,
    /// Completion tokens used.
    pub completion_tokens: u64,
    /// Passages written per level (index = level).
    pub passages_per_level: [usize; 4],
    /// Mean words per level (index = level).
    pub mean_words_per_level: [f64; 4],
    /// Repairs made when opening the folder.
    pub recovery: Recovery,
    /// Wall time.
    pub seconds: f64,
}

enum Outcome {
    Done(Box<Generated>, u64, u64, Vec<&'static str>),
    Failed(
        String,
        serde_json::Value,
        &'static str,
        u64,
        u64,
        Vec<&'static str>,
    ),
}

fn work(
    client: &ChatClient,
    prompter: &Prompter,
    config: &GenerateConfig,
    index: usize,
    id: &str,
    query: &str,
) -> Outcome {
    let attrs = prompter.attributes(index);
    let prompt = prompter.render(query, &attrs);
    let start = Instant::now();
    let (mut pt, mut ct) = (0, 0);
    let mut rejected = Vec::new();
    let mut last_raw = String::new();
    let mut last_kind = "no_passages";
    let mut last_detail = String::new();
    let seed0 = prompter
        .config()
        .seed
        .wrapping_mul(1_000_003)
        .wrapping_add(index as u64);
    for attempt in 1..=config.parse_attempts.max(1) {
        let reply = match client.complete(&prompt, Some(seed0.wrapping_add(attempt as u64))) {
            Ok(r) => r,
            Err(e) => {
                let record = json!({
                    "query_id": id, "query": query, "kind": e.kind(), "detail": e.to_string(),
                    "raw": last_raw, "attempts": attempt, "attributes": attrs,
                });
                return Outcome::Failed(id.to_string(), record, e.kind(), pt, ct, rejected);
            }
        };
        pt += reply.prompt_tokens;
        ct += reply.completion_tokens;
        last_raw = reply.text.clone();
        let parsed = if reply.finish_reason == "length" {
            Err(crate::parse::Rejection {
                kind: "truncated",
                detail: "the reply hit max_tokens".into(),
            })
        } else {
            parse_passages(&reply.text, config.min_words, config.max_words)
        };
        match parsed {
            Ok(passages) => {
                let words: Vec<usize> = passages
                    .iter()
                    .map(|p| p.split_whitespace().count())
                    .collect();
                let record = json!({
                    "query_id": id,
                    "query": query,
                    "model": client.config().model,
                    "attributes": attrs,
                    "attempts": attempt,
                    "http_attempts": reply.attempts,
                    "finish_reason": reply.finish_reason,
                    "prompt_tokens": pt,
                    "completion_tokens": ct,
                    "seconds": start.elapsed().as_secs_f64(),
                    "words_per_level": {"3": words[0], "2": words[1], "1": words[2], "0": words[3]},
                });
                let g = Generated {
                    query_id: id.to_string(),
                    query: query.to_string(),
                    passages,
                    record,
                };
                return Outcome::Done(Box::new(g), pt, ct, rejected);
            }
            Err(r) => {
                rejected.push(r.kind);
                last_kind = r.kind;
                last_detail = r.detail;
            }
        }
    }
    rejected.pop();
    let record = json!({
        "query_id": id, "query": query, "kind": last_kind, "detail": last_detail,
        "raw": last_raw, "attempts": config.parse_attempts, "attributes": attrs,
    });
    Outcome::Failed(id.to_string(), record, last_kind, pt, ct, rejected)
}

/// Generates passages for every unfinished query of `queries` into `out`.
pub fn generate(
    queries: &Collection,
    out: &Path,
    config: &GenerateConfig,
) -> Result<Summary, SynthError> {
    let start = Instant::now();
    let client = ChatClient::new(config.client.clone())?;
    let prompter = Prompter::new(config.prompt.clone())?;
    let (mut store, recovery) = OutputStore::open(out, config.retry_failed)?;
    let n = config.limit.map_or(queries.len(), |l| l.min(queries.len()));
    let todo: Vec<usize> = (0..n).filter(|&i| !store.is_done(queries.id(i))).collect();
    let mut summary = Summary {
        queries: n,
        already_done: n - todo.len(),
        recovery,
        ..Default::default()
    };
    let pb = if config.progress {
        let pb = ProgressBar::new(todo.len() as u64);
        pb.set_style(
            ProgressStyle::with_template(
                "{bar:30} {pos}/{len} queries · {per_sec} · eta {eta} · {msg}",
            )
            .expect("valid template"),
        );
        pb
    } else {
        ProgressBar::hidden()
    };
    let mut words = [0usize; 4];
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<Outcome>();
    let mut write_error = None;
    std::thread::scope(|scope| {
        for _ in 0..config.concurrency.max(1).min(todo.len().max(1)) {
            let tx = tx.clone();
            let (next, todo, client, prompter) = (&next, &todo, &client, &prompter);
            scope.spawn(move || {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = todo.get(k) else { break };
                    let outcome = work(client, prompter, config, i, queries.id(i), queries.text(i));
                    if tx.send(outcome).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for outcome in rx {
            let result = match outcome {
                Outcome::Done(g, pt, ct, rejected) => {
                    summary.generated += 1;
                    summary.prompt_tokens += pt;
                    summary.completion_tokens += ct;
                    for k in rejected {
                        *summary.rejected_by_kind.entry(k.into()).or_default() += 1;
                    }
                    for (i, p) in g.passages.iter().enumerate() {
                        summary.passages_per_level[3 - i] += 1;
                        words[3 - i] += p.split_whitespace().count();
                    }
                    store.add(&g)
                }
                Outcome::Failed(id, record, kind, pt, ct, rejected) => {
                    summary.failed += 1;
                    summary.prompt_tokens += pt;
                    summary.completion_tokens += ct;
                    *summary.failures_by_kind.entry(kind.into()).or_default() += 1;
                    for k in rejected {
                        *summary.rejected_by_kind.entry(k.into()).or_default() += 1;
                    }
                    store.fail(&id, &record)
                }
            };
            if let Err(e) = result {
                // Stop the workers: they see the closed channel after their current request.
                write_error = Some(e);
                break;
            }
            pb.inc(1);
            pb.set_message(format!("{} failed", summary.failed));
        }
    });
    pb.finish_and_clear();
    if let Some(e) = write_error {
        return Err(e);
    }
    for ((mean, &n), &w) in summary
        .mean_words_per_level
        .iter_mut()
        .zip(&summary.passages_per_level)
        .zip(&words)
    {
        *mean = if n > 0 { w as f64 / n as f64 } else { 0.0 };
    }
    summary.seconds = start.elapsed().as_secs_f64();
    let mut bytes = serde_json::to_vec_pretty(&summary).expect("serialisable");
    bytes.push(b'\n');
    rankwise_data::write_atomic(&out.join("summary.json"), &bytes)?;
    Ok(summary)
}
