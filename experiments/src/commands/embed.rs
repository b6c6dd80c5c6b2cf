//! `experiments embed`: embed texts and print each embedding's size and norm; optionally write
//! the embeddings to a JSON file.

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
    /// Also write `{"model", "side", "texts", "embeddings"}` to this JSON file (refused if it
    /// exists, unless --overwrite).
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Replace an existing --output file.
    #[arg(long, requires = "output")]
    pub overwrite: bool,
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
    if let Some(out) = &args.output
        && out.exists()
        && !args.overwrite
    {
        anyhow::bail!("{} exists; pass --overwrite to replace it", out.display());
    }
    let refs: Vec<&str> = args.texts.iter().map(String::as_str).collect();
    let emb = encoder.embed_many(side, &refs, 32, &device, &mut |_| {})?;
    let (rows, dim) = (refs.len(), encoder.config.hidden_size);
    let norms: Vec<f32> = emb
        .chunks(dim)
        .map(|e| e.iter().map(|x| x * x).sum::<f32>().sqrt())
        .collect();
    println!(
        "backend {} · model {} · {rows} × {dim}",
        backend::NAME,
        model.display()
    );
    for (text, norm) in args.texts.iter().zip(norms) {
        println!("‖e‖ = {norm:.6}  {text}");
    }
    if let Some(out) = &args.output {
        let rows: Vec<&[f32]> = emb.chunks(dim).collect();
        let json = serde_json::json!({
            "model": model,
            "side": if args.passage { "passage" } else { "query" },
            "texts": args.texts,
            "embeddings": rows,
        });
        rankwise_files::write_atomic(out, serde_json::to_string(&json)?.as_bytes())?;
    }
    Ok(())
}
