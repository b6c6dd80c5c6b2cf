//! `experiments graded`: real graded judgements. Cranfield (grades 0–4) is split into train and
//! test queries with a fixed seed; WS2 on the graded levels vs InfoNCE on labels binarised at
//! grade 2 vs the base model, by nDCG@10 on the test queries.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Instant;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rankwise_data::SourceConfig;
use rankwise_files::read_qrels;
use rankwise_train::LossKind;

use super::common::{
    binarised, evaluate_base, multilevel, report, small_run, train_and_evaluate, write_data_config,
};

/// Arguments of `graded`.
#[derive(clap::Args)]
pub struct Args {
    /// Output folder.
    #[arg(long, default_value = "runs/graded")]
    pub output: PathBuf,
    /// Starting model (folder or shared name).
    #[arg(long, default_value = "all-MiniLM-L6-v2")]
    pub model: String,
    /// Graded collection (folder or shared name) with `qrels/test.tsv`.
    #[arg(long, default_value = "cranfield")]
    pub dataset: String,
    /// Fraction of judged queries used for training.
    #[arg(long, default_value_t = 0.7)]
    pub train_fraction: f64,
    /// Seed of the split.
    #[arg(long, default_value_t = 13)]
    pub seed: u64,
    /// Epochs.
    #[arg(long, default_value_t = 1)]
    pub epochs: usize,
    /// Reduced mode for tests: 2 steps, 5 evaluation queries (use with a tiny model).
    #[arg(long)]
    pub smoke: bool,
    /// Replace the results of an earlier run in the output folder.
    #[arg(long)]
    pub overwrite: bool,
}

/// Runs `graded`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let start = Instant::now();
    let model = super::resolve_model(&args.model)?;
    let src = super::resolve_dataset(&args.dataset)?;
    let out = std::path::absolute(&args.output)?;
    super::outputs::claim_output(&out, args.overwrite)?;
    let name = src
        .file_name()
        .map_or("collection".into(), |n| n.to_string_lossy().to_string());
    let split = out.join(format!("{name}-split"));
    std::fs::create_dir_all(split.join("qrels"))?;
    for f in ["corpus.jsonl", "queries.jsonl"] {
        std::fs::copy(src.join(f), split.join(f))?;
    }
    let rows = read_qrels(&src.join("qrels/test.tsv"))?;
    let queries: BTreeSet<&str> = rows.iter().map(|r| r.query_id.as_str()).collect();
    let mut queries: Vec<&str> = queries.into_iter().collect();
    queries.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(args.seed));
    let n_train = (queries.len() as f64 * args.train_fraction).round() as usize;
    let train: BTreeSet<&str> = queries[..n_train].iter().copied().collect();
    let write = |name: &str, keep: &dyn Fn(&str) -> bool| -> anyhow::Result<()> {
        let mut text = String::from("query-id\tcorpus-id\tscore\n");
        for r in rows.iter().filter(|r| keep(&r.query_id)) {
            text.push_str(&format!("{}\t{}\t{}\n", r.query_id, r.doc_id, r.score));
        }
        rankwise_files::write_atomic(&split.join(format!("qrels/{name}.tsv")), text.as_bytes())?;
        Ok(())
    };
    write("train", &|q| train.contains(q))?;
    write("test", &|q| !train.contains(q))?;
    let source = SourceConfig::beir(&split, "train")?;
    let ml = write_data_config(
        &out.join("data-multilevel.toml"),
        &multilevel(source.clone(), 4, args.seed),
    )?;
    let bin = write_data_config(
        &out.join("data-binary.toml"),
        &binarised(source, 2.0, 4, args.seed),
    )?;
    let (mut config, settings) = small_run(&model, &ml, &out, 256, args.seed, args.smoke);
    // Every model, the base model included, is evaluated at the training lengths.
    let lengths = super::args::Lengths::both(config.query_max_length, config.passage_max_length);
    config.epochs = args.epochs;
    let progress = !args.smoke;
    let results = vec![
        evaluate_base(&model, &out, &split, &settings, lengths, args.overwrite)?,
        train_and_evaluate(
            "ws2-graded",
            config.clone(),
            LossKind::Ws2,
            ml,
            &out,
            &split,
            &settings,
            progress,
            args.overwrite,
        )?,
        train_and_evaluate(
            "infonce-binarised",
            config,
            LossKind::Infonce,
            bin,
            &out,
            &split,
            &settings,
            progress,
            args.overwrite,
        )?,
    ];
    report(
        &out,
        &results,
        &super::common::command_line(),
        start.elapsed().as_secs_f64(),
    )
}
