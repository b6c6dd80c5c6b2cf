//! `experiments`: the command-line entry point of rankwise.

mod backend;
mod commands;
mod plots;
mod signals;

use clap::{Parser, Subcommand};

/// Large short-lived tensors: mimalloc, told to keep freed memory, reuses it where the system
/// allocator returns it to the OS and faults it back in on every batch (see
/// `rankwise_train::memory`).
#[global_allocator]
static ALLOC: rankwise_train::memory::TrainingAllocator = rankwise_train::memory::TrainingAllocator;

#[derive(Parser)]
#[command(
    name = "experiments",
    version,
    about = "Train and evaluate dense retrievers on graded relevance with list-wise losses"
)]
struct Cli {
    /// Never touch the network: models and datasets come from folders, the shared assets or the
    /// Hugging Face cache only (as `HF_HUB_OFFLINE=1`).
    #[arg(long, global = true)]
    offline: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Embed texts and print each embedding's size and norm.
    ///
    /// Example: `experiments embed "what causes scurvy?"` (uses the shared all-MiniLM-L6-v2).
    Embed(commands::embed::Args),
    /// Evaluate a model on BEIR folders: exact search, nDCG@10, MRR@10, Recall@100.
    Evaluate(commands::evaluate::Args),
    /// Lucene-style BM25 on BEIR folders, evaluated like a dense model.
    Bm25(commands::bm25::Args),
    /// Fine-tune a bi-encoder from a TOML config (WS2, InfoNCE, ListNet, RankNet).
    Train(commands::train::Args),
    /// The README's CPU run: fine-tune on the shipped synthetic data with WS2 and InfoNCE,
    /// evaluate base and both models, print one table.
    Quickstart(commands::quickstart::Args),
    /// Real graded judgements: Cranfield split by seed; WS2 (graded) vs InfoNCE (binarised) vs base.
    Graded(commands::graded::Args),
    /// One of the paper's four runs (train + evaluate) from `experiments/configs`.
    Reproduce(commands::reproduce::Args),
    /// The paper's comparison at CPU scale: dev-chosen τ and lr, seeds, significance tests.
    Study(commands::study::Args),
    /// Graded contexts from a real corpus: dense retrieval + rank bands, no LLM.
    Mine(commands::mine::Args),
    /// Write synthetic passages at relevance levels 3/2/1/0 for each query with an LLM server.
    Generate(commands::generate::Args),
    /// Burn's global orchestrator, for a training run over several machines (`train --nodes`).
    Orchestrator(commands::orchestrator::Args),
}

fn main() -> std::process::ExitCode {
    tokio_workers();
    rankwise_train::memory::keep_freed_memory();
    let cli = Cli::parse();
    logging();
    commands::set_offline(cli.offline);
    let result = match cli.command {
        Command::Embed(args) => commands::embed::run(args),
        Command::Evaluate(args) => commands::evaluate::run(args).map(|_| ()),
        Command::Bm25(args) => commands::bm25::run(args).map(|_| ()),
        Command::Generate(args) => commands::generate::run(args),
        Command::Train(args) => commands::train::run(args),
        Command::Quickstart(args) => commands::quickstart::run(args),
        Command::Graded(args) => commands::graded::run(args),
        Command::Reproduce(args) => commands::reproduce::run(args),
        Command::Mine(args) => commands::mine::run(args),
        Command::Study(args) => commands::study::run(args),
        Command::Orchestrator(args) => commands::orchestrator::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) if e.is::<signals::Interrupted>() => {
            eprintln!("{e}");
            std::process::ExitCode::from(signals::exit_code())
        }
        Err(e) => {
            eprintln!("Error: {e:?}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs to stderr through `tracing` (and the `log` records of dependencies such as Burn's
/// collective): `RUST_LOG` picks what is shown (default: `info`), colours
/// only on a terminal. Progress bars stay with indicatif; results go to stdout and files.
fn logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        // Burn's collective logs every registration at `info`; its warnings and errors stay.
        tracing_subscriber::EnvFilter::new("info,burn_collective=warn,burn_communication=warn")
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .without_time()
        .init();
}

/// Burn's collective runs on a tokio runtime whose operations between nodes stall with fewer
/// than 4 worker threads (tokio's default is one per core); unless `TOKIO_WORKER_THREADS` is
/// set, at least 4.
fn tokio_workers() {
    const VAR: &str = "TOKIO_WORKER_THREADS";
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    if std::env::var_os(VAR).is_none() && cores < 4 {
        // SAFETY: called first thing in `main`, before any other thread exists.
        unsafe { std::env::set_var(VAR, "4") };
    }
}
