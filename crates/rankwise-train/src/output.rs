//! A run's output folder: what may happen to a run already there, and which changes a resumed
//! run may make to its configuration.

use std::path::Path;

use serde_json::Value;

use crate::error::TrainError;

/// What `train` does when its output folder already holds a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnExisting {
    /// Stop with an error naming the folder and the ways on (the default: nothing is lost).
    #[default]
    Refuse,
    /// Continue from the latest checkpoint; an error when there is none.
    Resume,
    /// Continue from the latest checkpoint when there is one; otherwise start afresh, replacing
    /// whatever an unfinished first attempt left (for drivers that rerun units until done).
    ResumeIfAny,
    /// Delete the earlier run's files ([`RUN_FILES`]) and start afresh.
    Overwrite,
}

/// The files and folders a run writes into its output folder.
pub const RUN_FILES: [&str; 4] = [
    "metrics.jsonl",
    "checkpoints",
    "model",
    "config.resolved.toml",
];

/// The files whose presence means a run has been there (a lone `config.resolved.toml` is a
/// run that failed before its first step).
const RUN_MARKERS: [&str; 3] = ["metrics.jsonl", "checkpoints", "model"];

/// Applies `existing` to the folder `out` before anything is written: `Ok(true)` when the run
/// should resume from its latest checkpoint.
pub(crate) fn prepare(
    out: &Path,
    existing: OnExisting,
    has_checkpoint: bool,
) -> Result<bool, TrainError> {
    let found: Vec<&str> = RUN_MARKERS
        .iter()
        .copied()
        .filter(|f| out.join(f).exists())
        .collect();
    match existing {
        OnExisting::Refuse if !found.is_empty() => Err(TrainError::Output {
            path: out.to_path_buf(),
            detail: format!(
                "already holds a run ({}); pass --resume to continue it, --overwrite to replace \
                 it, or choose another output folder",
                found.join(", ")
            ),
        }),
        OnExisting::Resume if !has_checkpoint => Err(TrainError::Output {
            path: out.to_path_buf(),
            detail: if found.is_empty() {
                "nothing to resume: no run here".to_string()
            } else {
                format!(
                    "nothing to resume: no checkpoint (found {}); pass --overwrite to start afresh",
                    found.join(", ")
                )
            },
        }),
        OnExisting::Resume => Ok(true),
        OnExisting::ResumeIfAny if has_checkpoint => Ok(true),
        OnExisting::Refuse => Ok(false),
        OnExisting::ResumeIfAny | OnExisting::Overwrite => {
            for f in RUN_FILES {
                let p = out.join(f);
                let removed = if p.is_dir() {
                    std::fs::remove_dir_all(&p)
                } else if p.exists() {
                    std::fs::remove_file(&p)
                } else {
                    Ok(())
                };
                removed.map_err(|e| TrainError::io(&p, e))?;
            }
            Ok(false)
        }
    }
}

/// Top-level configuration keys a resumed run may change: they decide where and how often
/// things are written and what is measured on the side, not what is trained.
pub const RESUMABLE_KEYS: [&str; 4] =
    ["output_dir", "checkpoint_every", "keep_checkpoints", "eval"];

/// The settings that differ between the configuration stored in a checkpoint and the current
/// one, as `key: old → new` (dotted keys), leaving out [`RESUMABLE_KEYS`].
pub fn config_differences(stored: &Value, current: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff("", stored, current, &mut out);
    out.retain(|d| {
        !RESUMABLE_KEYS
            .iter()
            .any(|k| d.starts_with(&format!("{k}:")) || d.starts_with(&format!("{k}.")))
    });
    out
}

fn diff(prefix: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                diff(
                    &key,
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        _ if a != b => out.push(format!("{prefix}: {a} → {b}")),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::config_differences;
    use serde_json::json;

    #[test]
    fn differences_are_listed_by_dotted_key_and_output_settings_are_allowed() {
        let a = json!({"loss": {"kind": "ws2", "temperature": 0.2}, "seed": 1,
                       "output_dir": "/a", "eval": null, "checkpoint_every": 5});
        let b = json!({"loss": {"kind": "infonce", "temperature": 0.2}, "seed": 2,
                       "output_dir": "/b", "eval": {"every_steps": 3}, "checkpoint_every": 9});
        assert_eq!(
            config_differences(&a, &b),
            ["loss.kind: \"ws2\" → \"infonce\"", "seed: 1 → 2"]
        );
        assert!(config_differences(&a, &a).is_empty());
    }
}
