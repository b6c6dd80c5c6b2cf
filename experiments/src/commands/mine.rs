//! `experiments mine`: graded training contexts from a real corpus without an LLM. Retrieves
//! candidates with a dense model and assigns levels by rank band (positives keep a level, top
//! hits → 2, ranks 90–95 → 1, random passages → 0 by default).

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use rankwise_data::{
    PseudoLabelConfig, RandomBand, RankBand, pseudo_label, read_corpus, read_qrels,
};
use rankwise_encoder::BiEncoder;
use rankwise_eval::{EvalSettings, evaluate_dataset};

use crate::backend;

/// Arguments of `mine`.
#[derive(clap::Args)]
#[command(after_help = "Example:\n  \
    experiments mine --model all-MiniLM-L6-v2 --dataset data/msmarco --split train \\\n    \
    --bands 1-3:2,90-95:1 --random 2:0 --out data/msmarco/qrels/mined.tsv")]
pub struct Args {
    /// Retrieval model (folder or shared name).
    #[arg(long)]
    pub model: String,
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
    let model_dir = super::resolve_model(&args.model)?;
    let dataset = super::resolve_dataset(&args.dataset)?;
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
    let k = config.bands.iter().map(|b| b.to).max().unwrap_or(0) + 20;
    if k == 20 && config.random.is_none() {
        bail!("nothing to mine: give --bands or --random");
    }
    let device = backend::device();
    let encoder = BiEncoder::<backend::Backend>::load(&model_dir, &device)?;
    let settings = EvalSettings {
        split: args.split.clone(),
        k,
        ..super::evaluate::default_settings(Some(args.out.with_file_name("embedding-cache")))
    };
    let outcome = evaluate_dataset(
        &encoder,
        "miner",
        Some(&model_dir),
        &dataset,
        &settings,
        &device,
    )?;
    let ranked: HashMap<String, Vec<String>> = outcome
        .run
        .iter()
        .map(|(q, hits)| (q.clone(), hits.iter().map(|h| h.0.clone()).collect()))
        .collect();
    let qrels = read_qrels(&rankwise_data::qrels_file(&dataset, &args.split))?;
    let corpus = read_corpus(&rankwise_data::collection_file(&dataset, "corpus"))?;
    let rows = pseudo_label(&qrels, &ranked, &corpus, &config)?;
    rankwise_data::write_qrels(&args.out, &rows)?;
    rankwise_data::write_atomic(
        &args.out.with_extension("run"),
        rankwise_eval::report::run_text(&outcome.run, "mined").as_bytes(),
    )?;
    let mut per_level: std::collections::BTreeMap<i64, usize> = Default::default();
    for r in &rows {
        *per_level.entry(r.2).or_default() += 1;
    }
    println!(
        "{} rows for {} queries; per level {per_level:?} -> {}",
        rows.len(),
        ranked.len(),
        args.out.display()
    );
    Ok(())
}
