//! Training then evaluating, across crates: a WS2 run on the tiny BERT lowers its loss and raises
//! a held-out nDCG@10, and evaluation during training runs as a hook of the run (as `experiments`
//! wires it), its summaries landing in `metrics.jsonl`.

use std::path::Path;

use burn::backend::{Autodiff, NdArray};
use rankwise_encoder::BiEncoder;
use rankwise_eval::{EvalSettings, evaluate_dataset};
use rankwise_tests::{make_data, tiny_model, topic_run};
use rankwise_train::{HookError, RunControl, StepLog, TrainConfig, TrainHooks, TrainParts, train};

type B = Autodiff<NdArray>;

fn ndcg(model: &BiEncoder<NdArray>, collection: &Path) -> f64 {
    let settings = EvalSettings {
        progress: false,
        k: 20,
        ..Default::default()
    };
    evaluate_dataset(model, "m", None, collection, &settings, &Default::default())
        .unwrap()
        .summary
        .ndcg_10
}

#[test]
fn loss_falls_and_heldout_ndcg_rises() {
    let dir = tempfile::tempdir().unwrap();
    let (data, held) = make_data(dir.path(), 0..32, 32..48);
    let mut c = config(dir.path(), &data, "ws2");
    c.epochs = 6;
    let before = ndcg(
        &BiEncoder::load(&tiny_model(), &Default::default()).unwrap(),
        &held,
    );
    let devices = [Default::default()];
    let parts = TrainParts::<B>::load(&c, &devices).unwrap();
    let mut hook = EvalEvery {
        every: 8,
        collection: held.clone(),
        seen: Vec::new(),
    };
    let out = train(&c, parts, &devices, &RunControl::default(), &mut hook).unwrap();
    assert_eq!(
        hook.seen,
        vec![8, 16, 24],
        "the hook ran after steps 8, 16 and the last"
    );
    assert_eq!(out.steps, 24);
    let first: f64 = out.losses[..4].iter().sum::<f64>() / 4.0;
    let last: f64 = out.losses[out.losses.len() - 4..].iter().sum::<f64>() / 4.0;
    assert!(
        last < 0.8 * first,
        "loss {first} -> {last}: {:?}",
        out.losses
    );
    let trained =
        BiEncoder::<NdArray>::load(out.model_dir.as_ref().unwrap(), &Default::default()).unwrap();
    let after = ndcg(&trained, &held);
    assert!(
        after > before + 0.02,
        "held-out nDCG@10 {before} -> {after}"
    );
    // Logs: one JSON line per step with the schedule's learning rate.
    let log = std::fs::read_to_string(c.output_dir.join("metrics.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 24);
    assert_eq!(lines[0]["lr"], 0.0, "linear warm-up starts at 0");
    assert!(
        (lines[3]["lr"].as_f64().unwrap() - 2e-3).abs() < 1e-12,
        "peak after ceil(0.1·24) = 3 warm-up steps"
    );
    assert!(lines[23]["lr"].as_f64().unwrap() < 2e-4);
    // The hook's summaries are in the log lines of its steps, and only there; the last one is the
    // exported model's score.
    let evaluated: Vec<u64> = lines
        .iter()
        .filter(|l| l.get("eval").is_some())
        .map(|l| l["step"].as_u64().unwrap())
        .collect();
    assert_eq!(evaluated, vec![8, 16, 24]);
    let last = lines[23]["eval"]["ndcg@10"].as_f64().unwrap();
    assert!((last - after).abs() < 1e-6, "{last} vs {after}");
}

/// Evaluation during training as a hook: every `every` steps and after the last one, nDCG@10 of
/// the model as it is on `collection`, into the step's log line.
struct EvalEvery {
    every: u64,
    collection: std::path::PathBuf,
    seen: Vec<u64>,
}

impl TrainHooks<B> for EvalEvery {
    fn on_step(
        &mut self,
        log: &mut StepLog,
        model: &BiEncoder<NdArray>,
        total_steps: u64,
    ) -> Result<(), HookError> {
        if log.step.is_multiple_of(self.every) || log.step == total_steps {
            let settings = EvalSettings {
                progress: false,
                k: 20,
                ..Default::default()
            };
            let outcome = evaluate_dataset(
                model,
                "training",
                None,
                &self.collection,
                &settings,
                &Default::default(),
            )?;
            log.eval = Some(serde_json::to_value(&outcome.summary)?);
            self.seen.push(log.step);
        }
        Ok(())
    }
}

fn config(root: &Path, data: &Path, out: &str) -> TrainConfig {
    TrainConfig::read(&topic_run(root, data, out)).unwrap()
}
