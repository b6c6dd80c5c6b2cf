//! `experiments generate`: synthetic multi-level passages for a query file through any
//! OpenAI-compatible server.

use std::path::PathBuf;

use anyhow::Context;
use rankwise_synth::{GenerateConfig, generate_until, redact_credentials};

use crate::signals::{self, Interrupted};

/// Arguments of `generate`.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    # a local llama.cpp server\n  \
    experiments generate --queries data/msmarco/queries.jsonl --out datasets/synthetic \\\n    \
    --base-url http://127.0.0.1:8012/v1 --model smollm2 --limit 100\n  \
    # a small model on two single-thread servers, one level per request\n  \
    experiments generate --queries claims.jsonl --out datasets/synthetic --per-level \\\n    \
    --base-url http://127.0.0.1:8021/v1 --base-url http://127.0.0.1:8022/v1 --concurrency 2 --model qwen\n\n\
    Killed runs resume where they stopped: run the same command again. The exit status is 0 only \
    when every query has its passages (failures are listed in failures.jsonl; --retry-failed \
    tries them again); 130/143 after Ctrl-C/SIGTERM.")]
pub struct Args {
    /// Queries (`queries.jsonl` with `_id` and `text`).
    #[arg(long)]
    pub queries: PathBuf,
    /// Output folder (BEIR layout: corpus.jsonl, queries.jsonl, qrels/train.tsv).
    #[arg(long)]
    pub out: PathBuf,
    /// Server base URL (OpenAI-compatible, e.g. `http://127.0.0.1:8012/v1`); give it more than
    /// once to spread the requests over several servers of the same model.
    #[arg(long, required = true)]
    pub base_url: Vec<String>,
    /// Model name sent to the server.
    #[arg(long)]
    pub model: String,
    /// Only the first N queries.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Environment variable with the API key (never logged).
    #[arg(long)]
    pub api_key_env: Option<String>,
    /// Requests in flight.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Requests per minute (0: no cap).
    #[arg(long, default_value_t = 0)]
    pub rpm: u32,
    /// Sampling temperature.
    #[arg(long, default_value_t = 0.7)]
    pub temperature: f64,
    /// Completion token limit.
    #[arg(long, default_value_t = 1024)]
    pub max_tokens: u32,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 120.0)]
    pub timeout: f64,
    /// Responses asked for per query before recording a failure.
    #[arg(long, default_value_t = 3)]
    pub attempts: u32,
    /// Prompt template file (placeholders: {query} {length} {style} {reading_level} {hard_instruction}).
    #[arg(long)]
    pub prompt: Option<PathBuf>,
    /// One request per level, as plain text (prompts made for small models).
    #[arg(long)]
    pub per_level: bool,
    /// Folder with `per_level_3.txt` … `per_level_0.txt` (default: the built-in ones).
    #[arg(long)]
    pub level_prompts: Option<PathBuf>,
    /// Seed of the attribute draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Passage lengths in words to draw from.
    #[arg(long, value_delimiter = ',')]
    pub lengths: Vec<u32>,
    /// Fraction of queries with hard (topically close) lower levels.
    #[arg(long)]
    pub hard_fraction: Option<f64>,
    /// Generate queries recorded as failures again.
    #[arg(long)]
    pub retry_failed: bool,
    /// Do not send `response_format` (servers without JSON mode).
    #[arg(long)]
    pub no_json_mode: bool,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Runs `generate`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let queries = rankwise_files::read_queries(&args.queries)?;
    let mut config = GenerateConfig {
        concurrency: args.concurrency,
        parse_attempts: args.attempts,
        limit: args.limit,
        retry_failed: args.retry_failed,
        progress: !args.quiet,
        ..Default::default()
    };
    let mut urls = args.base_url.into_iter();
    config.client.base_url = urls.next().expect("clap requires one");
    config.extra_base_urls = urls.collect();
    let c = &mut config.client;
    c.model = args.model;
    c.api_key_env = args.api_key_env;
    c.requests_per_minute = args.rpm;
    c.temperature = args.temperature;
    c.max_tokens = args.max_tokens;
    c.timeout_s = args.timeout;
    c.json_mode = !args.no_json_mode;
    let p = &mut config.prompt;
    p.template = args.prompt;
    p.per_level = args.per_level;
    p.level_templates = args.level_prompts;
    p.seed = args.seed;
    if !args.lengths.is_empty() {
        p.lengths = args.lengths;
    }
    if let Some(h) = args.hard_fraction {
        p.hard_fraction = h;
    }
    // Credentials in a base URL never reach a file or the terminal.
    let settings = redact_credentials(&serde_json::to_string_pretty(&config)?);
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    rankwise_files::write_atomic(
        &args.out.join("generate.settings.json"),
        settings.as_bytes(),
    )?;
    let stop = signals::listen("finishing the requests in flight, then stopping")?;
    let s = generate_until(&queries, &args.out, &config, &stop)?;
    println!(
        "{} queries: {} generated now, {} already done, {} failed now {:?}, {} failed earlier; \
         tokens {} prompt + {} completion; mean words per level 3/2/1/0: {:.0}/{:.0}/{:.0}/{:.0}; {:.1} s",
        s.queries,
        s.generated,
        s.already_done,
        s.failed,
        s.failures_by_kind,
        s.earlier_failures,
        s.prompt_tokens,
        s.completion_tokens,
        s.mean_words_per_level[3],
        s.mean_words_per_level[2],
        s.mean_words_per_level[1],
        s.mean_words_per_level[0],
        s.seconds
    );
    let missing = s.failed + s.earlier_failures;
    let unfinished = s.queries - s.already_done - s.generated - missing;
    if s.interrupted {
        return Err(Interrupted {
            message: format!(
                "stopped: {} of {} queries have passages, {unfinished} not attempted, {missing} \
                 failed; everything finished is written. Run the same command again to continue.",
                s.already_done + s.generated,
                s.queries
            ),
        }
        .into());
    }
    anyhow::ensure!(
        missing == 0,
        "{missing} of {} queries have no passages ({} failed now: {:?}; {} failed in earlier \
         runs); see {} and rerun with --retry-failed to try them again",
        s.queries,
        s.failed,
        s.failures_by_kind,
        s.earlier_failures,
        args.out.join("failures.jsonl").display()
    );
    Ok(())
}
