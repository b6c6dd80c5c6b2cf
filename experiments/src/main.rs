//! `experiments`: the command-line entry point of rankwise.

mod backend;
mod commands;

use clap::{Parser, Subcommand};

// Large short-lived tensors: mimalloc reuses freed pages where the system allocator returns
// them to the OS and faults them back in on every batch.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "experiments",
    version,
    about = "Train and evaluate dense retrievers on graded relevance with list-wise losses"
)]
struct Cli {
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
    /// Write synthetic passages at relevance levels 3/2/1/0 for each query with an LLM server.
    Generate(commands::generate::Args),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Embed(args) => commands::embed::run(args),
        Command::Evaluate(args) => commands::evaluate::run(args).map(|_| ()),
        Command::Generate(args) => commands::generate::run(args),
    }
}
