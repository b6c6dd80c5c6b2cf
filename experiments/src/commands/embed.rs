//! `experiments embed`: embed texts and print each embedding's size and norm.

use std::path::PathBuf;

use anyhow::Context;
use rankwise_encoder::{BiEncoder, Side};

use crate::backend;

/// Arguments of `embed`.
#[derive(clap::Args)]
pub struct Args {
    /// Model folder (config.json, model.safetensors, tokenizer.json) or a shared model name.
    #[arg(long, default_value = "sentence-transformers/all-MiniLM-L6-v2")]
    pub model: String,
    /// Embed as passages instead of queries.
    #[arg(long)]
    pub passage: bool,
    /// Texts to embed.
    #[arg(required = true)]
    pub texts: Vec<String>,
}

/// Runs `embed`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let model: PathBuf = super::resolve_model(&args.model)?;
    let device = backend::device();
    let encoder = BiEncoder::<backend::Backend>::load(&model, &device)
        .with_context(|| format!("loading {}", model.display()))?;
    let side = if args.passage {
        Side::Passage
    } else {
        Side::Query
    };
    let refs: Vec<&str> = args.texts.iter().map(String::as_str).collect();
    let emb = encoder.embed(side, &refs, &device)?;
    let [rows, dim] = emb.dims();
    let norms: Vec<f32> = emb
        .powi_scalar(2)
        .sum_dim(1)
        .sqrt()
        .into_data()
        .convert::<f32>()
        .into_vec()
        .expect("f32 after convert");
    println!(
        "backend {} · model {} · {rows} × {dim}",
        backend::NAME,
        model.display()
    );
    for (text, norm) in args.texts.iter().zip(norms) {
        println!("‖e‖ = {norm:.6}  {text}");
    }
    Ok(())
}
