//! Training and evaluation as the commands run them on the selected backend: a config trained
//! with the evaluation hook, signals and logs; a model folder evaluated on collections with its
//! reports. Commands call these, never each other.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rankwise_encoder::BiEncoder;
use rankwise_eval::report::{markdown_table, write_outcome};
use rankwise_eval::{EvalSettings, Outcome, Summary, evaluate_dataset};
use rankwise_train::config::EvalDuringTraining;
use rankwise_train::{
    HookError, OnExisting, RunControl, StepLog, TrainConfig, TrainHooks, TrainOutcome, TrainParts,
    train,
};

use super::args::{DeviceArgs, Lengths};
use super::outputs;
use crate::backend;
use crate::signals::{self, Interrupted};

/// Trains with `config` on the devices (and nodes) `devices` names, of the selected backend;
/// writes `train.log` beside the metrics (on the node that writes the run's files).
/// SIGINT/SIGTERM stop it after the current step with a checkpoint, and it returns
/// [`Interrupted`] saying how to resume.
pub fn train_config(
    config: &TrainConfig,
    devices: &DeviceArgs,
    existing: OnExisting,
    progress: bool,
) -> anyhow::Result<TrainOutcome> {
    let devs = backend::devices(devices.devices);
    let interrupt = signals::listen("stopping after the current step, with a checkpoint")?;
    let mut hook = EvalHook {
        eval: config.eval.clone(),
        device: devs.first().cloned().unwrap_or_default(),
    };
    let outcome = TrainParts::<backend::TrainBackend>::load(config, &devs)
        .and_then(|parts| {
            train(
                config,
                parts,
                &devs,
                &RunControl {
                    existing,
                    interrupt: Some(interrupt),
                    progress,
                    stop_after: None,
                    parallel: devices.parallel(),
                },
                &mut hook,
            )
        })
        .with_context(|| format!("training into {}", config.output_dir.display()))?;
    if outcome.interrupted {
        return Err(Interrupted {
            message: format!(
                "stopped at step {} of {} ({}); checkpoint {}. To continue, run the same \
                 command{}.",
                outcome.steps,
                outcome.total_steps,
                steps_done(&outcome),
                outcome
                    .last_checkpoint
                    .as_ref()
                    .map_or("none".to_string(), |p| p.display().to_string()),
                if existing == OnExisting::ResumeIfAny {
                    " again"
                } else {
                    " with --resume"
                },
            ),
        }
        .into());
    }
    if !devices.writes() {
        return Ok(outcome);
    }
    let mut log = format!(
        "backend {} · {} device(s){} · {} · {:.1} s · final loss {:.6}\n",
        backend::NAME,
        devices.devices,
        match (devices.parallel(), devices.nodes) {
            (None, _) => String::new(),
            (Some(_), 1) => " concurrently".into(),
            (Some(_), n) => format!(" concurrently on each of {n} nodes"),
        },
        steps_done(&outcome),
        outcome.seconds,
        outcome.losses.last().copied().unwrap_or(f64::NAN)
    );
    for w in &outcome.warnings {
        log.push_str(&format!("warning: {w}\n"));
    }
    rankwise_files::write_atomic(&config.output_dir.join("train.log"), log.as_bytes())?;
    crate::plots::training_curves(&config.output_dir)?;
    Ok(outcome)
}

/// Evaluation during training (the config's `[eval]` section): every `every_steps` steps and
/// after the last one, the model as it is on a BEIR collection; the summary goes into the step's
/// line of `metrics.jsonl`.
struct EvalHook {
    eval: Option<EvalDuringTraining>,
    device: backend::Device,
}

impl TrainHooks<backend::TrainBackend> for EvalHook {
    fn on_step(
        &mut self,
        log: &mut StepLog,
        model: &BiEncoder<backend::Backend>,
        total_steps: u64,
    ) -> Result<(), HookError> {
        let Some(ev) = &self.eval else {
            return Ok(());
        };
        if ev.every_steps == 0
            || !(log.step.is_multiple_of(ev.every_steps) || log.step == total_steps)
        {
            return Ok(());
        }
        let settings = EvalSettings {
            split: ev.split.clone(),
            max_queries: ev.max_queries,
            progress: false,
            ..Default::default()
        };
        let outcome = evaluate_dataset(
            model,
            "training",
            None,
            &ev.dataset,
            &settings,
            &self.device,
        )?;
        log.eval = Some(serde_json::to_value(&outcome.summary)?);
        Ok(())
    }
}

/// "trained N steps", saying where a resumed run started.
pub fn steps_done(outcome: &TrainOutcome) -> String {
    match outcome.resumed_from {
        Some(from) => format!(
            "trained {} steps (resumed at step {from}; {} of {} done)",
            outcome.steps_run(),
            outcome.steps,
            outcome.total_steps
        ),
        None => format!("trained {} steps", outcome.steps),
    }
}

/// Evaluates the model folder `model_dir` on each dataset at `lengths`; writes `<out>` (one
/// dataset) or `<stem>.<collection>.json` files plus a map in `<out>` (several). Existing
/// output files are an error unless `overwrite`; everything is checked before the model loads.
/// Returns the summaries.
pub fn evaluate_model(
    model_dir: &Path,
    label: &str,
    datasets: &[PathBuf],
    settings: &EvalSettings,
    lengths: Lengths,
    output: &Path,
    overwrite: bool,
) -> anyhow::Result<Vec<Summary>> {
    settings.check()?;
    check_outputs(output, datasets, overwrite)?;
    let device = backend::device();
    let mut options = rankwise_encoder::EncoderOptions::detect(model_dir)
        .with_context(|| format!("reading the options of {}", model_dir.display()))?;
    for (set, value) in [
        (lengths.query, &mut options.query_max_length),
        (lengths.passage, &mut options.passage_max_length),
    ] {
        if let Some(n) = set {
            anyhow::ensure!(
                (2..=8192).contains(&n),
                "a maximum length must be in 2..=8192, got {n}"
            );
            *value = n;
        }
    }
    let encoder = BiEncoder::<backend::Backend>::load_with(model_dir, options, &device)
        .with_context(|| format!("loading {}", model_dir.display()))?;
    report_each(label, datasets, output, |dataset| {
        evaluate_dataset(&encoder, label, Some(model_dir), dataset, settings, &device)
            .with_context(|| format!("evaluating on {}", dataset.display()))
    })
}

/// Checks every file an evaluation of `datasets` will write for `output`
/// ([`outputs::check_writable`]).
pub fn check_outputs(output: &Path, datasets: &[PathBuf], overwrite: bool) -> anyhow::Result<()> {
    outputs::check_writable(
        &outputs::planned_files(output, datasets),
        datasets,
        overwrite,
    )
}

/// Runs `evaluate` on each dataset and writes `<out>` (one dataset) or `<stem>.<name>.json`
/// files ([`outputs::summary_paths`]) plus a map and a markdown table beside `<out>` (several);
/// prints one line per dataset. A signal stops it between datasets, with what was written.
pub fn report_each(
    label: &str,
    datasets: &[PathBuf],
    output: &Path,
    mut evaluate: impl FnMut(&Path) -> anyhow::Result<Outcome>,
) -> anyhow::Result<Vec<Summary>> {
    let several = datasets.len() > 1;
    let mut summaries = Vec::new();
    let mut written_files = Vec::new();
    for (dataset, path) in datasets
        .iter()
        .zip(outputs::summary_paths(output, datasets))
    {
        if signals::requested() {
            return Err(Interrupted {
                message: format!(
                    "stopped after {} of {} collections; written: {}. The others were not \
                     evaluated.",
                    summaries.len(),
                    datasets.len(),
                    if written_files.is_empty() {
                        "nothing".to_string()
                    } else {
                        written_files.join(", ")
                    }
                ),
            }
            .into());
        }
        let outcome = evaluate(dataset)?;
        let written = write_outcome(&outcome, &path)?;
        written_files.push(written.summary.display().to_string());
        tracing::info!(
            "{} on {}: nDCG@10 {:.4} · MRR@10 {:.4} · Recall@100 {:.4} · {} queries · {:.1} s -> {}",
            label,
            outcome.summary.collection,
            outcome.summary.ndcg_10,
            outcome.summary.mrr_10,
            outcome.summary.recall_100,
            outcome.summary.num_queries,
            outcome.summary.timings_s.total,
            written.summary.display()
        );
        summaries.push(outcome.summary);
    }
    if several {
        // Keyed by the file names, which are distinct where collection names may not be.
        let map: serde_json::Map<String, serde_json::Value> =
            outputs::collection_file_names(datasets)
                .into_iter()
                .zip(&summaries)
                .map(|(name, s)| (name, serde_json::to_value(s).expect("serialisable")))
                .collect();
        let mut bytes = serde_json::to_vec_pretty(&map)?;
        bytes.push(b'\n');
        rankwise_files::write_atomic(output, &bytes)?;
        rankwise_files::write_atomic(
            &output.with_extension("md"),
            markdown_table(&summaries).as_bytes(),
        )?;
    }
    Ok(summaries)
}

/// Settings for evaluating with the selected backend.
pub fn default_settings(cache_dir: Option<PathBuf>) -> EvalSettings {
    EvalSettings {
        batch_size: 16,
        cache_dir,
        progress: true,
        ..Default::default()
    }
}
