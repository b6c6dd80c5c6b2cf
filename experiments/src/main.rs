//! `experiments`: the command-line entry point of rankwise.

mod backend;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use rankwise_encoder::{BiEncoder, Side};

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
    /// Embed texts with a Hugging Face model folder and print each embedding's size and norm.
    ///
    /// Example: `experiments embed "what causes scurvy?"` (uses the shared all-MiniLM-L6-v2).
    Embed {
        /// Model folder (config.json, model.safetensors, tokenizer.json).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Embed as passages instead of queries.
        #[arg(long)]
        passage: bool,
        /// Texts to embed.
        #[arg(required = true)]
        texts: Vec<String>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Embed {
            model,
            passage,
            texts,
        } => {
            let model = match model {
                Some(m) => m,
                None => rankwise_assets::model("all-MiniLM-L6-v2")?,
            };
            let device = backend::device();
            let encoder = BiEncoder::<backend::Backend>::load(&model, &device)
                .with_context(|| format!("loading {}", model.display()))?;
            let side = if passage { Side::Passage } else { Side::Query };
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let emb = encoder.embed(side, &refs, &device)?;
            let [rows, dim] = emb.dims();
            let norms: Vec<f32> = emb
                .powi_scalar(2)
                .sum_dim(1)
                .sqrt()
                .into_data()
                .to_vec()
                .expect("f32");
            println!(
                "backend {} · model {} · {rows} × {dim}",
                backend::NAME,
                model.display()
            );
            for (text, norm) in texts.iter().zip(norms) {
                println!("‖e‖ = {norm:.6}  {text}");
            }
        }
    }
    Ok(())
}
