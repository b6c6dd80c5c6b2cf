//! `experiments study`: the paper's comparison at CPU scale, in one resumable command.
//!
//! Phases: **data** (train/dev split of the training queries, BM25 contexts, the dev
//! collection, one dataset config per run) → **select** (τ and lr of each loss chosen by dev
//! nDCG@10 at seed 0; the chosen candidate is seed 0 of the runs on its data) → **base** (the
//! starting model and BM25 on every collection) → **runs** (every run × seed: train, evaluate
//! everywhere) → **report** (mean ± std, paired randomization tests, `study.json`, `study.md`,
//! `study.png`). Every unit leaves its result file last, so a killed study continues where it
//! stopped; the settings are saved and a study
//! folder is never reused with other settings.

mod data;
mod ledger;
mod report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use rankwise_eval::{Bm25Params, EvalSettings, Summary, evaluate_bm25};
use rankwise_train::{LossKind, TrainConfig, WarmupShape};
use serde::{Deserialize, Serialize};

use super::args::Lengths;
use super::run::{evaluate_model, report_each};

/// Arguments of `study`.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    experiments study                       # full study (3 seeds, SciFact + MED + Cranfield)\n  \
    experiments study --quick --output runs/study-quick\n  \
    experiments study --eval-dataset vaswani   # one more zero-shot collection")]
pub struct Args {
    /// Output folder (resumed if it holds a study with the same settings).
    #[arg(long, default_value = "runs/study")]
    pub output: PathBuf,
    /// Starting model (folder or shared name).
    #[arg(long, default_value = "all-MiniLM-L6-v2")]
    pub model: String,
    /// Real training collection (BEIR folder or shared name) with `qrels/train.tsv` and
    /// `qrels/test.tsv` (its test split is the in-domain evaluation).
    #[arg(long, default_value = "scifact")]
    pub train_dataset: String,
    /// Synthetic multi-level set for the training queries (`experiments generate` output).
    #[arg(long)]
    pub synthetic: Option<PathBuf>,
    /// More zero-shot collections (besides MED and Cranfield; BEIR folders or shared names).
    #[arg(long)]
    pub eval_dataset: Vec<String>,
    /// Seeds per run.
    #[arg(long, default_value_t = 3)]
    pub seeds: u64,
    /// Query truncation length (training and every evaluation).
    #[arg(long, default_value_t = 64)]
    pub query_max_length: usize,
    /// Passage truncation length (training and every evaluation).
    #[arg(long, default_value_t = 128)]
    pub passage_max_length: usize,
    /// Queries per optimiser step (the loss sees them together).
    #[arg(long, default_value_t = 16)]
    pub global_batch: usize,
    /// Epochs over the training queries.
    #[arg(long, default_value_t = 1)]
    pub epochs: usize,
    /// Temperatures tried on the dev split for every loss (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "0.05,0.2")]
    pub temperatures: Vec<f64>,
    /// Learning rates tried on the dev split (comma separated; one value: fixed).
    #[arg(long, value_delimiter = ',', default_value = "2e-5")]
    pub learning_rates: Vec<f64>,
    /// Share of the training queries held out as the dev split.
    #[arg(long, default_value_t = 0.1)]
    pub dev_fraction: f64,
    /// Use at most this many training queries (a stable hash-ordered subset; 0: all).
    #[arg(long, default_value_t = 400)]
    pub max_train_queries: usize,
    /// A reduced study: one seed, in-domain evaluation only, 400 training queries, only WS2's
    /// τ chosen on dev (0.05 or 0.2 at lr 2e-5; InfoNCE at τ 0.05 and ListNet at 0.2, lr 2e-5).
    #[arg(long)]
    pub quick: bool,
    /// Reduced mode for tests: 2 steps, 5 evaluation queries (use with a tiny model).
    #[arg(long)]
    pub smoke: bool,
}

/// Everything that decides a study's numbers (`study.settings.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudySettings {
    /// Starting model.
    pub model: PathBuf,
    /// Real training collection.
    pub train_dataset: PathBuf,
    /// Synthetic set.
    pub synthetic: PathBuf,
    /// Evaluation collections (the training collection's test split first).
    pub eval_datasets: Vec<PathBuf>,
    /// Seeds of the runs.
    pub seeds: Vec<u64>,
    /// Query length.
    pub query_max_length: usize,
    /// Passage length.
    pub passage_max_length: usize,
    /// Global batch.
    pub global_batch: usize,
    /// Epochs.
    pub epochs: usize,
    /// Step limit (smoke runs).
    pub max_steps: Option<u64>,
    /// Warm-up share of the steps (DeepSpeed WarmupDecayLR, log warm-up).
    pub warmup_ratio: f64,
    /// The (τ, lr) candidates of each loss, tried on the dev split (one candidate: taken as is).
    pub grids: BTreeMap<String, Vec<(f64, f64)>>,
    /// Training queries kept (`None`: all).
    pub max_train_queries: Option<usize>,
    /// Dev share of the training queries.
    pub dev_fraction: f64,
    /// BM25 documents per dev query in the dev collection.
    pub dev_pool: usize,
    /// BM25 contexts kept per training query.
    pub bm25_depth: usize,
    /// Evaluate only the first N queries (smoke runs).
    pub max_eval_queries: Option<usize>,
}

/// One compared run: its name, loss and data.
#[derive(Debug, Clone, Copy)]
pub struct RunSpec {
    /// Name in tables.
    pub name: &'static str,
    /// Loss.
    pub loss: LossKind,
    /// Data config name (see `data.rs`).
    pub data: &'static str,
}

/// The runs: the paper's four, plus ListNet on the multi-level data.
pub const RUNS: [RunSpec; 5] = [
    RunSpec {
        name: "real_binary",
        loss: LossKind::Infonce,
        data: "real_binary",
    },
    RunSpec {
        name: "synth_binary",
        loss: LossKind::Infonce,
        data: "synth_binary",
    },
    RunSpec {
        name: "synth_multilevel",
        loss: LossKind::Ws2,
        data: "synth_multilevel",
    },
    RunSpec {
        name: "synth_plus_real",
        loss: LossKind::Ws2,
        data: "synth_plus_real",
    },
    RunSpec {
        name: "synth_multilevel_listnet",
        loss: LossKind::Listnet,
        data: "synth_multilevel",
    },
];

/// The data each loss's τ and lr are chosen on: InfoNCE on the synthetic binary data, WS2 and
/// ListNet on the synthetic multi-level data (the runs the paper compares).
fn selection_data(loss: LossKind) -> &'static str {
    match loss {
        LossKind::Infonce | LossKind::Ranknet => "synth_binary",
        LossKind::Ws2 | LossKind::Listnet => "synth_multilevel",
    }
}

fn loss_name(loss: LossKind) -> &'static str {
    match loss {
        LossKind::Ws2 => "ws2",
        LossKind::Infonce => "infonce",
        LossKind::Listnet => "listnet",
        LossKind::Ranknet => "ranknet",
    }
}

/// A chosen (τ, lr) with the dev nDCG@10 of every candidate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Choice {
    /// Temperature.
    pub temperature: f64,
    /// Learning rate.
    pub lr: f64,
    /// Dev nDCG@10 of the choice (`None`: a single candidate, not trained on its own).
    pub dev_ndcg_10: Option<f64>,
    /// Every candidate: (τ, lr, dev nDCG@10).
    pub candidates: Vec<(f64, f64, f64)>,
}

/// Result of one trained unit (a selection candidate or a run × seed).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct UnitTimes {
    train_s: f64,
    eval_s: f64,
    /// The selection candidate whose model this unit is (its training counted in `select`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reused_from: Option<PathBuf>,
}

/// The seed of every selection candidate: the chosen candidate is then also seed 0 of the runs
/// trained on the selection data (same data, loss, τ, lr and seed), and is not trained twice.
const SELECTION_SEED: u64 = 0;

/// Folder of one selection candidate.
fn candidate_dir(out: &Path, loss: LossKind, t: f64, lr: f64) -> PathBuf {
    out.join(format!("select/{}/t{t}-lr{lr:e}", loss_name(loss)))
}

impl StudySettings {
    /// The settings as saved: paths under the shared folder or the workspace written from those
    /// roots (`$RANKWISE_SHARED/…`, `$WORKSPACE/…`), so that a study folder can be resumed on
    /// another machine or checkout.
    pub fn portable(&self) -> Self {
        let roots = [
            ("$RANKWISE_SHARED", rankwise_assets::shared_root()),
            ("$WORKSPACE", rankwise_assets::workspace_root()),
        ]
        .map(|(token, root)| (token, root.canonicalize().unwrap_or(root)));
        let fix = |p: &PathBuf| {
            let p = p.canonicalize().unwrap_or_else(|_| p.clone());
            roots
                .iter()
                .find_map(|(token, root)| {
                    p.strip_prefix(root)
                        .ok()
                        .map(|rest| Path::new(token).join(rest))
                })
                .unwrap_or(p)
        };
        Self {
            model: fix(&self.model),
            train_dataset: fix(&self.train_dataset),
            synthetic: fix(&self.synthetic),
            eval_datasets: self.eval_datasets.iter().map(fix).collect(),
            ..self.clone()
        }
    }

    fn from_args(args: &Args) -> anyhow::Result<Self> {
        let model = std::path::absolute(super::resolve_model(&args.model)?)?;
        let train_dataset = std::path::absolute(super::resolve_dataset(&args.train_dataset)?)?;
        let synthetic = std::path::absolute(
            args.synthetic
                .clone()
                .unwrap_or_else(super::common::shipped_data),
        )?;
        anyhow::ensure!(
            synthetic.join("qrels").is_dir(),
            "synthetic set {}: no qrels/ folder (an `experiments generate` output is expected)",
            synthetic.display()
        );
        let mut eval_datasets = vec![train_dataset.clone()];
        if !(args.quick || args.smoke) {
            for name in ["med", "cranfield"] {
                eval_datasets.push(std::path::absolute(super::resolve_dataset(name)?)?);
            }
        }
        for d in &args.eval_dataset {
            let p = std::path::absolute(super::resolve_dataset(d)?)?;
            if !eval_datasets.contains(&p) {
                eval_datasets.push(p);
            }
        }
        let seeds = if args.quick || args.smoke {
            1
        } else {
            args.seeds
        };
        anyhow::ensure!(seeds >= 1, "--seeds must be at least 1");
        anyhow::ensure!(
            !args.temperatures.is_empty()
                && args.temperatures.iter().all(|t| *t > 0.0 && t.is_finite()),
            "--temperatures must be positive numbers"
        );
        anyhow::ensure!(
            !args.learning_rates.is_empty()
                && args
                    .learning_rates
                    .iter()
                    .all(|l| *l > 0.0 && l.is_finite()),
            "--learning-rates must be positive numbers"
        );
        let full: Vec<(f64, f64)> = args
            .temperatures
            .iter()
            .flat_map(|t| args.learning_rates.iter().map(move |l| (*t, *l)))
            .collect();
        let mut grids: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        for spec in RUNS {
            let grid = if args.quick || args.smoke {
                match spec.loss {
                    LossKind::Ws2 => vec![(0.05, 2e-5), (0.2, 2e-5)],
                    LossKind::Infonce | LossKind::Ranknet => vec![(0.05, 2e-5)],
                    LossKind::Listnet => vec![(0.2, 2e-5)],
                }
            } else {
                full.clone()
            };
            grids.insert(loss_name(spec.loss).to_string(), grid);
        }
        let max_train_queries = if args.smoke {
            Some(40)
        } else {
            (args.max_train_queries > 0).then_some(args.max_train_queries)
        };
        anyhow::ensure!(
            args.dev_fraction > 0.0 && args.dev_fraction < 0.5,
            "--dev-fraction must be in (0, 0.5)"
        );
        Ok(Self {
            model,
            train_dataset,
            synthetic,
            eval_datasets,
            seeds: (0..seeds).collect(),
            query_max_length: args.query_max_length,
            passage_max_length: args.passage_max_length,
            global_batch: if args.smoke { 2 } else { args.global_batch },
            epochs: args.epochs,
            max_steps: args.smoke.then_some(2),
            warmup_ratio: 0.05,
            grids,
            max_train_queries,
            dev_fraction: args.dev_fraction,
            dev_pool: if args.smoke { 10 } else { 30 },
            bm25_depth: 30,
            max_eval_queries: args.smoke.then_some(5),
        })
    }

    fn eval_settings(&self, out: &Path, progress: bool) -> EvalSettings {
        EvalSettings {
            max_queries: self.max_eval_queries,
            progress,
            ..super::run::default_settings(Some(out.join("embedding-cache")))
        }
    }

    fn lengths(&self) -> Lengths {
        Lengths::both(self.query_max_length, self.passage_max_length)
    }

    fn train_config(
        &self,
        data: &Path,
        out: &Path,
        loss: LossKind,
        t: f64,
        lr: f64,
    ) -> TrainConfig {
        let mut c = TrainConfig::new(&self.model, data, out);
        c.loss.kind = loss;
        c.loss.temperature = Some(t);
        c.optimizer.lr = lr;
        c.optimizer.warmup_ratio = self.warmup_ratio;
        c.optimizer.warmup_shape = WarmupShape::Logarithmic;
        c.global_batch = self.global_batch;
        c.chunk_size = 0;
        c.query_max_length = self.query_max_length;
        c.passage_max_length = self.passage_max_length;
        c.epochs = self.epochs;
        c.max_steps = self.max_steps;
        c.checkpoint_every = 10;
        c.keep_checkpoints = 1;
        c
    }
}

fn collection_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().to_string(),
    )
}

fn phase_bar(show: bool, len: usize, phase: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len as u64);
    pb.set_style(
        ProgressStyle::with_template(
            "{prefix:>8} [{bar:24}] {pos}/{len} {msg} (elapsed {elapsed})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    pb.set_prefix(phase.to_string());
    pb
}

/// Appends a line to `study.log`.
fn log(out: &Path, line: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let path = out.join("study.log");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    writeln!(f, "{line}").with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{}: not the expected JSON", path.display()))
}

/// Writes `value` as JSON atomically; a file that already holds exactly these bytes is left
/// alone (a resumed study rewrites nothing it finished).
fn write_json<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value)?;
    bytes.push(b'\n');
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    rankwise_files::write_atomic(path, &bytes)?;
    Ok(())
}

/// Trains (resuming a stopped run) and returns the model folder and the seconds spent.
fn train_unit(config: &TrainConfig, progress: bool) -> anyhow::Result<(PathBuf, f64)> {
    let t = Instant::now();
    let outcome = super::run::train_config(
        config,
        &Default::default(),
        rankwise_train::OnExisting::ResumeIfAny,
        progress,
    )?;
    let model = outcome
        .model_dir
        .context("a finished run exports its model")?;
    Ok((model, t.elapsed().as_secs_f64()))
}

/// Removes a finished unit's checkpoints (its model and logs stay).
fn drop_checkpoints(train_dir: &Path) {
    let _ = std::fs::remove_dir_all(train_dir.join("checkpoints"));
}

/// Runs `study`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let start = Instant::now();
    let settings = StudySettings::from_args(&args)?;
    let out = std::path::absolute(&args.output)?;
    std::fs::create_dir_all(&out)?;
    let saved = out.join("study.settings.json");
    if saved.is_file() {
        let before: StudySettings = read_json(&saved)?;
        if before != settings.portable() {
            bail!(
                "{} holds a study with other settings ({}); give another --output, or remove \
                 the folder to start over",
                out.display(),
                saved.display()
            );
        }
        tracing::info!("resuming the study in {}", out.display());
    } else {
        write_json(&saved, &settings.portable())?;
    }
    let progress = !args.smoke;
    let mut ledger = ledger::Ledger::open(&out, start)?;

    // Data.
    let t = Instant::now();
    let prepared = data::prepare(&settings, &out, progress)?;
    ledger.record("data", t.elapsed().as_secs_f64())?;
    log(
        &out,
        &format!(
            "data: {} training queries ({} with synthetic passages), {} dev queries, dev pool {} passages",
            prepared.train_queries,
            prepared.synthetic_queries,
            prepared.dev_queries,
            prepared.dev_pool_docs
        ),
    )?;

    // Selection on the dev split.
    let t = Instant::now();
    let choices = select(&settings, &prepared, &out, progress)?;
    write_json(&out.join("select/choice.json"), &choices)?;
    ledger.record("select", t.elapsed().as_secs_f64())?;

    // Base model and BM25.
    let t = Instant::now();
    let eval = settings.eval_settings(&out, progress);
    let pb = phase_bar(progress, settings.eval_datasets.len() * 2, "base");
    for dataset in &settings.eval_datasets {
        let name = collection_name(dataset);
        let base = out.join(format!("eval/base/{name}.json"));
        if !base.is_file() {
            evaluate_model(
                &settings.model,
                "base",
                std::slice::from_ref(dataset),
                &eval,
                settings.lengths(),
                &base,
                true,
            )?;
        }
        pb.inc(1);
        let bm25 = out.join(format!("eval/bm25/{name}.json"));
        if !bm25.is_file() {
            report_each("bm25", std::slice::from_ref(dataset), &bm25, |d| {
                Ok(evaluate_bm25(d, Bm25Params::default(), "bm25", &eval)?)
            })?;
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    ledger.record("base", t.elapsed().as_secs_f64())?;

    // Runs × seeds.
    let t = Instant::now();
    let units = RUNS.len() * settings.seeds.len();
    let pb = phase_bar(progress, units, "runs");
    let mut unit_times: BTreeMap<String, UnitTimes> = BTreeMap::new();
    for spec in RUNS {
        let choice = &choices[loss_name(spec.loss)];
        for &seed in &settings.seeds {
            pb.set_message(format!("{} seed {seed}", spec.name));
            let times = run_unit(
                &settings, &prepared, spec, choice, seed, &out, &eval, progress,
            )?;
            unit_times.insert(format!("{}/seed{seed}", spec.name), times);
            ledger.record("runs", t.elapsed().as_secs_f64())?;
            pb.inc(1);
        }
    }
    pb.finish_and_clear();
    ledger.record("runs", t.elapsed().as_secs_f64())?;

    let t = Instant::now();
    let compute: BTreeMap<String, f64> = [
        (
            "train_s".to_string(),
            unit_times.values().map(|u| u.train_s).sum(),
        ),
        (
            "eval_s".to_string(),
            unit_times.values().map(|u| u.eval_s).sum(),
        ),
    ]
    .into();
    report::write(
        &settings,
        &prepared,
        &choices,
        &out,
        &compute,
        &mut ledger,
        t,
    )
}

/// Chooses τ and lr for each loss on the dev collection (one seed; ties: the first in grid
/// order). Each candidate leaves `select/<loss>/t<τ>-lr<lr>/dev.json`.
fn select(
    settings: &StudySettings,
    prepared: &data::Prepared,
    out: &Path,
    progress: bool,
) -> anyhow::Result<BTreeMap<String, Choice>> {
    let mut losses: Vec<LossKind> = RUNS.iter().map(|r| r.loss).collect();
    losses.sort_by_key(|l| loss_name(*l));
    losses.dedup();
    let trained: usize = settings
        .grids
        .values()
        .filter(|g| g.len() > 1)
        .map(Vec::len)
        .sum();
    let pb = phase_bar(progress, trained, "select");
    let mut dev_eval = settings.eval_settings(out, false);
    dev_eval.cache_dir = None;
    let mut choices = BTreeMap::new();
    for loss in losses {
        let grid = &settings.grids[loss_name(loss)];
        if let [(t, lr)] = grid[..] {
            choices.insert(
                loss_name(loss).to_string(),
                Choice {
                    temperature: t,
                    lr,
                    dev_ndcg_10: None,
                    candidates: Vec::new(),
                },
            );
            continue;
        }
        let mut candidates = Vec::new();
        for &(t, lr) in grid {
            let dir = candidate_dir(out, loss, t, lr);
            let result = dir.join("dev.json");
            pb.set_message(format!("{} τ {t} lr {lr:e}", loss_name(loss)));
            if !result.is_file() {
                let data = &prepared.configs[selection_data(loss)];
                let mut config = settings.train_config(data, &dir.join("train"), loss, t, lr);
                config.seed = SELECTION_SEED;
                let (model, train_s) = train_unit(&config, progress)?;
                let summary = evaluate_model(
                    &model,
                    &format!("{} τ {t} lr {lr:e}", loss_name(loss)),
                    std::slice::from_ref(&prepared.dev_collection),
                    &dev_eval,
                    settings.lengths(),
                    &result,
                    true,
                )?
                .remove(0);
                log(
                    out,
                    &format!(
                        "select {} τ {t} lr {lr:e}: dev nDCG@10 {:.4} (train {train_s:.0} s)",
                        loss_name(loss),
                        summary.ndcg_10
                    ),
                )?;
                drop_checkpoints(&dir.join("train"));
            }
            let summary: Summary = read_json(&result)?;
            candidates.push((t, lr, summary.ndcg_10));
            pb.inc(1);
        }
        let best = candidates
            .iter()
            .copied()
            .fold(None::<(f64, f64, f64)>, |best, c| match best {
                Some(b) if b.2 >= c.2 => Some(b),
                _ => Some(c),
            })
            .expect("a non-empty grid");
        // Only the chosen candidate's weights are used again (as seed 0 of its runs).
        for &(t, lr, _) in &candidates {
            if (t, lr) != (best.0, best.1) {
                let _ =
                    std::fs::remove_dir_all(candidate_dir(out, loss, t, lr).join("train/model"));
            }
        }
        choices.insert(
            loss_name(loss).to_string(),
            Choice {
                temperature: best.0,
                lr: best.1,
                dev_ndcg_10: Some(best.2),
                candidates,
            },
        );
    }
    pb.finish_and_clear();
    Ok(choices)
}

/// Trains one run × seed (resuming) in `<out>/runs/<run>/seed<seed>` and evaluates it on every
/// collection; returns its times.
#[allow(clippy::too_many_arguments)]
fn run_unit(
    settings: &StudySettings,
    prepared: &data::Prepared,
    spec: RunSpec,
    choice: &Choice,
    seed: u64,
    out: &Path,
    eval: &EvalSettings,
    progress: bool,
) -> anyhow::Result<UnitTimes> {
    let dir = &out.join(format!("runs/{}/seed{seed}", spec.name));
    let times_file = dir.join("times.json");
    if times_file.is_file() {
        return read_json(&times_file);
    }
    let train_dir = dir.join("train");
    let selected = candidate_dir(out, spec.loss, choice.temperature, choice.lr).join("train/model");
    let reused_from = (seed == SELECTION_SEED
        && spec.data == selection_data(spec.loss)
        && !choice.candidates.is_empty()
        && selected.join("config.json").is_file())
    .then_some(selected);
    let model = reused_from
        .clone()
        .unwrap_or_else(|| train_dir.join("model"));
    let train_s = if model.join("config.json").is_file() {
        0.0
    } else {
        let mut config = settings.train_config(
            &prepared.configs[spec.data],
            &train_dir,
            spec.loss,
            choice.temperature,
            choice.lr,
        );
        config.seed = seed;
        train_unit(&config, progress)?.1
    };
    drop_checkpoints(&train_dir);
    let t = Instant::now();
    for dataset in &settings.eval_datasets {
        let result = dir.join(format!("{}.json", collection_name(dataset)));
        if !result.is_file() {
            evaluate_model(
                &model,
                &format!("{} seed {seed}", spec.name),
                std::slice::from_ref(dataset),
                eval,
                settings.lengths(),
                &result,
                true,
            )?;
        }
    }
    let times = UnitTimes {
        train_s,
        eval_s: t.elapsed().as_secs_f64(),
        reused_from,
    };
    log(
        out,
        &format!(
            "run {} seed {seed}: train {:.0} s{}, eval {:.0} s",
            spec.name,
            times.train_s,
            if times.reused_from.is_some() {
                " (the chosen selection candidate)"
            } else {
                ""
            },
            times.eval_s
        ),
    )?;
    write_json(&times_file, &times)?;
    Ok(times)
}
