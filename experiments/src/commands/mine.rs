//! `experiments mine`: graded training contexts from a real corpus without an LLM. Retrieves
//! candidates with a dense model or BM25 and either assigns levels by rank band (positives keep
//! a level, top hits → 2, ranks 90–95 → 1, random passages → 0 by default) or, with `--ranked
//! N`, writes each query's first N non-positive candidates with their rank as score (the paper's
//! "real" BM25 contexts).

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use rankwise_data::{PseudoLabelConfig, RandomBand, RankBand, pseudo_label, ranked_contexts};
use rankwise_encoder::BiEncoder;
use rankwise_eval::{Bm25Params, EvalSettings, evaluate_bm25, evaluate_dataset};
use rankwise_files::{read_corpus, read_qrels};

use crate::backend;

/// Arguments of `mine`.
#[derive(clap::Args)]
#[command(after_help = "Example:\n  \
    experiments mine --model all-MiniLM-L6-v2 --dataset data/msmarco --split train \\\n    \
    --bands 1-3:2,90-95:1 --random 2:0 --out data/msmarco/qrels/mined.tsv\n  \
    experiments mine --teacher bm25 --dataset scifact --split train --ranked 30 \\\n    \
    --out runs/scifact-bm25-top30.tsv")]
pub struct Args {
    /// Retriever of the candidates.
    #[arg(long, value_enum, default_value_t = Teacher::Dense)]
    pub teacher: Teacher,
    /// Retrieval model (folder or shared name), for `--teacher dense`.
    #[arg(long, required_if_eq("teacher", "dense"))]
    pub model: Option<String>,
    /// Write each query's first N non-positive candidates with their rank as score, instead of
    /// rank bands.
    #[arg(long, conflicts_with_all = ["bands", "random", "positive_level"])]
    pub ranked: Option<usize>,
    /// BEIR folder (or shared name) whose `qrels/<split>.tsv` holds the positives.
    #[arg(long)]
    pub dataset: String,
    /// Qrels split with the positives.
    #[arg(long, default_value = "train")]
    pub split: String,
    /// Rank bands `from-to:level`, comma separated (ranks after removing positives).
    #[arg(long, default_value = "1-3:2,90-95:1")]
    pub bands: String,
    /// Random passages per query `count:level` (`none` to skip).
    #[arg(long, default_value = "2:0")]
    pub random: String,
    /// Level of the judged positives (`keep` to keep their grade).
    #[arg(long, default_value = "3")]
    pub positive_level: String,
    /// Output qrels (TSV with header); the candidate run is written beside it.
    #[arg(long)]
    pub out: PathBuf,
    /// Seed of the random band.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Retriever of the mined candidates.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Teacher {
    /// A dense model (`--model`).
    Dense,
    /// Lucene-style BM25 (k1 1.2, b 0.75).
    Bm25,
}

fn parse_band(s: &str) -> anyhow::Result<RankBand> {
    let (range, level) = s
        .split_once(':')
        .with_context(|| format!("band `{s}`: expected from-to:level"))?;
    let (from, to) = range
        .split_once('-')
        .with_context(|| format!("band `{s}`: expected from-to:level"))?;
    Ok(RankBand {
        from: from
            .trim()
            .parse()
            .with_context(|| format!("band `{s}`: from"))?,
        to: to
            .trim()
            .parse()
            .with_context(|| format!("band `{s}`: to"))?,
        level: level
            .trim()
            .parse()
            .with_context(|| format!("band `{s}`: level"))?,
    })
}

/// Runs `mine`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let dataset = super::resolve_dataset(&args.dataset)?;
    let config = band_config(&args)?;
    let k = match args.ranked {
        Some(0) => bail!("--ranked must be at least 1"),
        // Room for the positives removed from the list.
        Some(n) => n + 20,
        None => {
            let k = config.bands.iter().map(|b| b.to).max().unwrap_or(0) + 20;
            if k == 20 && config.random.is_none() {
                bail!("nothing to mine: give --bands or --random");
            }
            k
        }
    };
    let settings = EvalSettings {
        split: args.split.clone(),
        k,
        ..super::run::default_settings(Some(args.out.with_file_name("embedding-cache")))
    };
    let outcome = match args.teacher {
        Teacher::Bm25 => evaluate_bm25(&dataset, Bm25Params::default(), "bm25", &settings)?,
        Teacher::Dense => {
            let model = args
                .model
                .as_deref()
                .context("--teacher dense needs --model")?;
            let model_dir = super::resolve_model(model)?;
            let device = backend::device();
            let encoder = BiEncoder::<backend::Backend>::load(&model_dir, &device)?;
            evaluate_dataset(
                &encoder,
                "miner",
                Some(&model_dir),
                &dataset,
                &settings,
                &device,
            )?
        }
    };
    let ranked: HashMap<String, Vec<String>> = outcome
        .run
        .iter()
        .map(|(q, hits)| (q.clone(), hits.iter().map(|h| h.0.clone()).collect()))
        .collect();
    let qrels = read_qrels(&rankwise_files::qrels_file(&dataset, &args.split)?)?;
    let rows = match args.ranked {
        Some(depth) => ranked_contexts(&qrels, &ranked, depth, config.min_positive_grade),
        None => {
            let corpus = read_corpus(&rankwise_files::collection_file(&dataset, "corpus")?)?;
            pseudo_label(&qrels, &ranked, &corpus, &config)?
        }
    };
    rankwise_files::write_qrels(&args.out, &rows)?;
    rankwise_files::write_atomic(
        &args.out.with_extension("run"),
        rankwise_eval::report::run_text(&outcome.run, "mined").as_bytes(),
    )?;
    let mut per_level: std::collections::BTreeMap<i64, usize> = Default::default();
    for r in &rows {
        *per_level.entry(r.2).or_default() += 1;
    }
    let what = if args.ranked.is_some() {
        "per rank"
    } else {
        "per level"
    };
    println!(
        "{} rows for {} queries; {what} {per_level:?} -> {}",
        rows.len(),
        ranked.len(),
        args.out.display()
    );
    Ok(())
}

/// The rank-band rules given on the command line.
fn band_config(args: &Args) -> anyhow::Result<PseudoLabelConfig> {
    let bands = args
        .bands
        .split(',')
        .map(parse_band)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let random = if args.random == "none" {
        None
    } else {
        let (c, l) = args
            .random
            .split_once(':')
            .context("--random: expected count:level or none")?;
        Some(RandomBand {
            count: c.parse().context("--random count")?,
            level: l.parse().context("--random level")?,
        })
    };
    let positive_level = match args.positive_level.as_str() {
        "keep" => None,
        v => Some(
            v.parse()
                .context("--positive-level: an integer or `keep`")?,
        ),
    };
    let config = PseudoLabelConfig {
        positive_level,
        bands,
        random,
        min_positive_grade: 1,
        seed: args.seed,
    };
    config.validate()?;
    Ok(config)
}
