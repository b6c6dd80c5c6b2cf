//! The generation run: workers ask the LLM for each unfinished query's four passages, the
//! main thread writes results as they arrive, with a progress bar and a final summary.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use rankwise_files::Collection;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::client::{ChatClient, ClientConfig};
use crate::error::SynthError;
use crate::output::{Generated, OutputStore, Recovery};
use crate::parse::{parse_passage, parse_passages};
use crate::prompt::{PromptConfig, Prompter};

/// Settings of a generation run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GenerateConfig {
    /// Server and sampling.
    pub client: ClientConfig,
    /// More servers of the same model: requests are spread over `client.base_url` and these
    /// (worker `w` uses server `w mod n`), e.g. one llama.cpp server per core or a pool of vLLM
    /// servers.
    pub extra_base_urls: Vec<String>,
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
            extra_base_urls: Vec::new(),
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
    /// Generated before this run (skipped).
    pub already_done: usize,
    /// Given up on in an earlier run and not retried now (`retry_failed` off): these queries
    /// still have no passages.
    pub earlier_failures: usize,
    /// Stopped early on request (a signal): some queries were not attempted.
    pub interrupted: bool,
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

/// Tokens, rejected replies and the last raw reply of one query's requests.
#[derive(Default)]
struct Tally {
    prompt_tokens: u64,
    completion_tokens: u64,
    rejected: Vec<&'static str>,
    last_raw: String,
    http_attempts: u32,
    finish_reason: String,
}

/// Why a query was given up: kind, detail, requests made.
struct GiveUp(&'static str, String, u32);

/// Asks for a reply and parses it, up to `attempts` replies; transport errors end at once.
fn ask<T>(
    client: &ChatClient,
    prompt: &str,
    json: bool,
    seed: u64,
    attempts: u32,
    tally: &mut Tally,
    parse: impl Fn(&str) -> Result<T, crate::parse::Rejection>,
) -> Result<(T, u32), GiveUp> {
    let mut last = GiveUp("no_passages", String::new(), 0);
    for attempt in 1..=attempts.max(1) {
        let reply = client
            .complete_with(prompt, Some(seed.wrapping_add(attempt as u64)), json)
            .map_err(|e| GiveUp(e.kind(), e.to_string(), attempt))?;
        tally.prompt_tokens += reply.prompt_tokens;
        tally.completion_tokens += reply.completion_tokens;
        tally.http_attempts += reply.attempts;
        tally.last_raw = reply.text.clone();
        tally.finish_reason = reply.finish_reason.clone();
        let parsed = if reply.finish_reason == "length" {
            Err(crate::parse::Rejection {
                kind: "truncated",
                detail: "the reply hit max_tokens".into(),
            })
        } else {
            parse(&reply.text)
        };
        match parsed {
            Ok(v) => return Ok((v, attempt)),
            Err(r) => {
                tally.rejected.push(r.kind);
                last = GiveUp(r.kind, r.detail, attempt);
            }
        }
    }
    // The last rejection is the failure itself, not a rejected reply that a retry replaced.
    tally.rejected.pop();
    Err(last)
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
    let start = Instant::now();
    let mut tally = Tally::default();
    let seed0 = prompter
        .config()
        .seed
        .wrapping_mul(1_000_003)
        .wrapping_add(index as u64);
    let (lo, hi, tries) = (config.min_words, config.max_words, config.parse_attempts);
    let result: Result<([String; 4], u32), GiveUp> = if prompter.per_level() {
        // One request per level; the query fails with the first level that fails.
        let mut out: Vec<String> = Vec::with_capacity(4);
        let mut attempts = 0;
        let mut failure = None;
        for level in [3usize, 2, 1, 0] {
            let prompt = prompter
                .render_level(level, query, &attrs)
                .expect("per-level mode has level templates");
            let seed = seed0.wrapping_mul(31).wrapping_add(level as u64 * 7_919);
            match ask(client, &prompt, false, seed, tries, &mut tally, |t| {
                parse_passage(t, query, level, lo, hi)
            }) {
                Ok((p, a)) => {
                    attempts += a;
                    out.push(p);
                }
                Err(GiveUp(kind, detail, a)) => {
                    failure = Some(GiveUp(
                        kind,
                        format!("level {level}: {detail}"),
                        attempts + a,
                    ));
                    break;
                }
            }
        }
        match failure {
            Some(f) => Err(f),
            None => Ok((
                [
                    out[0].clone(),
                    out[1].clone(),
                    out[2].clone(),
                    out[3].clone(),
                ],
                attempts,
            )),
        }
    } else {
        let prompt = prompter.render(query, &attrs);
        ask(client, &prompt, true, seed0, tries, &mut tally, |t| {
            parse_passages(t, lo, hi)
        })
    };
    let Tally {
        prompt_tokens: pt,
        completion_tokens: ct,
        rejected,
        last_raw,
        http_attempts,
        finish_reason,
    } = tally;
    match result {
        Ok((passages, attempts)) => {
            let words: Vec<usize> = passages
                .iter()
                .map(|p| p.split_whitespace().count())
                .collect();
            let record = json!({
                "query_id": id,
                "query": query,
                "model": client.config().model,
                "per_level": prompter.per_level(),
                "attributes": attrs,
                "attempts": attempts,
                "http_attempts": http_attempts,
                "finish_reason": finish_reason,
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
            Outcome::Done(Box::new(g), pt, ct, rejected)
        }
        Err(GiveUp(kind, detail, attempts)) => {
            let record = json!({
                "query_id": id, "query": query, "kind": kind, "detail": detail,
                "raw": last_raw, "attempts": attempts, "attributes": attrs,
            });
            Outcome::Failed(id.to_string(), record, kind, pt, ct, rejected)
        }
    }
}

/// Generates passages for every unfinished query of `queries` into `out`.
pub fn generate(
    queries: &Collection,
    out: &Path,
    config: &GenerateConfig,
) -> Result<Summary, SynthError> {
    generate_until(queries, out, config, &AtomicBool::new(false))
}

/// [`generate`] that stops taking new queries once `stop` is set: requests in flight finish and
/// are written, and the summary says `interrupted`. A rerun continues with the rest.
pub fn generate_until(
    queries: &Collection,
    out: &Path,
    config: &GenerateConfig,
    stop: &AtomicBool,
) -> Result<Summary, SynthError> {
    let start = Instant::now();
    let clients = std::iter::once(config.client.base_url.clone())
        .chain(config.extra_base_urls.iter().cloned())
        .map(|base_url| {
            ChatClient::new(ClientConfig {
                base_url,
                ..config.client.clone()
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let prompter = Prompter::new(config.prompt.clone())?;
    let (mut store, recovery) = OutputStore::open(out, config.retry_failed)?;
    let n = config.limit.map_or(queries.len(), |l| l.min(queries.len()));
    let todo: Vec<usize> = (0..n).filter(|&i| !store.is_done(queries.id(i))).collect();
    let earlier_failures = (0..n).filter(|&i| store.is_failed(queries.id(i))).count();
    let mut summary = Summary {
        queries: n,
        already_done: (n - todo.len()).saturating_sub(earlier_failures),
        earlier_failures,
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
        for w in 0..config.concurrency.max(1).min(todo.len().max(1)) {
            let tx = tx.clone();
            let client = &clients[w % clients.len()];
            let (next, todo, prompter) = (&next, &todo, &prompter);
            scope.spawn(move || {
                loop {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
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
    summary.interrupted = summary.generated + summary.failed < todo.len();
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
    rankwise_files::write_atomic(&out.join("summary.json"), &bytes)?;
    Ok(summary)
}
