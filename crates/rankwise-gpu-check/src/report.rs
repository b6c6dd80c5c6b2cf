//! Joins the stage reports, the PyTorch baselines and the device description of one check run
//! into `report.json` and `report.md`.
//!
//! Layout of a run folder: `stages/<stage>.json` ([`StageReport`]), `torch/<stage>.json`
//! (`{"timings": [Timing…], "notes": […]}` or `{"error": "…"}`), `device.json` (free-form
//! key/value pairs), `memory/<process>.json` (`{"peak_mib": …}`, polled with `nvidia-smi`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use rankwise_files::write_atomic;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Stage, StageReport, Status, Timing};

/// Writes one stage's report to `<dir>/stages/<stage>.json`.
pub fn write_stage(dir: &Path, report: &StageReport) -> anyhow::Result<()> {
    let path = dir.join("stages").join(format!("{}.json", report.stage));
    Ok(write_atomic(&path, &serde_json::to_vec_pretty(report)?)?)
}

/// The speed goals of the check: (measurement, least rankwise speed-up over PyTorch).
pub const GOALS: [(&str, f64); 2] = [("ws2 64x448", 20.0), ("train f32", 1.0)];

/// One measurement next to its PyTorch baseline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Comparison {
    /// rankwise.
    pub rankwise: Timing,
    /// PyTorch on the same device, when it ran.
    pub torch: Option<Timing>,
    /// rankwise's speed-up (> 1: rankwise is faster).
    pub speedup: Option<f64>,
    /// The goal for this measurement, when there is one.
    pub goal: Option<f64>,
}

/// The whole check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Device, driver and library versions.
    pub device: BTreeMap<String, Value>,
    /// Every stage (missing ones as failed with the reason).
    pub stages: Vec<StageReport>,
    /// Speeds with their baselines.
    pub comparisons: Vec<Comparison>,
    /// PyTorch-side errors and notes, by stage.
    pub torch_notes: BTreeMap<String, Vec<String>>,
    /// Peak GPU memory of each process (MiB, `nvidia-smi`).
    pub peak_memory_mib: BTreeMap<String, f64>,
    /// Every stage passed and every parity check held.
    pub passed: bool,
}

fn read_json(path: &Path) -> anyhow::Result<Option<Value>> {
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    serde_json::from_str(&text)
        .map(Some)
        .with_context(|| format!("{}: invalid JSON", path.display()))
}

/// Reads a run folder.
pub fn build(dir: &Path) -> anyhow::Result<Report> {
    let mut stages = Vec::new();
    for stage in Stage::ALL {
        let path = dir.join("stages").join(format!("{}.json", stage.name()));
        stages.push(match read_json(&path)? {
            Some(v) => serde_json::from_value(v)
                .with_context(|| format!("{}: not a stage report", path.display()))?,
            None => StageReport {
                stage: stage.name().into(),
                backend: String::new(),
                status: Status::Failed,
                seconds: 0.0,
                checks: vec![],
                timings: vec![],
                notes: vec![],
                error: Some(format!(
                    "no report: the stage did not finish (killed at its time limit or crashed; see {}.log)",
                    stage.name()
                )),
            },
        });
    }
    let mut torch = BTreeMap::<String, Timing>::new();
    let mut torch_notes = BTreeMap::new();
    let ran_baselines = dir.join("torch").is_dir();
    for stage in Stage::ALL {
        let path = dir.join("torch").join(format!("{}.json", stage.name()));
        let Some(v) = read_json(&path)? else {
            let timed = stages
                .iter()
                .any(|s| s.stage == stage.name() && !s.timings.is_empty());
            if ran_baselines && timed {
                torch_notes.insert(
                    stage.name().to_string(),
                    vec![format!(
                        "no baseline: the PyTorch stage failed or ran out of time (logs/torch-{}.log)",
                        stage.name()
                    )],
                );
            }
            continue;
        };
        let mut notes: Vec<String> = v["notes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n.as_str().map(str::to_string))
            .collect();
        if let Some(e) = v["error"].as_str() {
            notes.push(format!("error: {e}"));
        }
        for t in v["timings"].as_array().into_iter().flatten() {
            let t: Timing = serde_json::from_value(t.clone())
                .with_context(|| format!("{}: not a timing", path.display()))?;
            torch.insert(t.name.clone(), t);
        }
        if !notes.is_empty() {
            torch_notes.insert(stage.name().to_string(), notes);
        }
    }
    let comparisons = stages
        .iter()
        .flat_map(|s| s.timings.iter())
        .map(|t| {
            let base = torch.get(&t.name).cloned();
            let speedup = base.as_ref().map(|b| {
                if t.lower_is_better {
                    b.value / t.value
                } else {
                    t.value / b.value
                }
            });
            Comparison {
                rankwise: t.clone(),
                torch: base,
                speedup,
                goal: GOALS.iter().find(|g| g.0 == t.name).map(|g| g.1),
            }
        })
        .collect();
    let device = match read_json(&dir.join("device.json"))? {
        Some(Value::Object(map)) => map.into_iter().collect(),
        _ => BTreeMap::new(),
    };
    let mut peak_memory_mib = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(dir.join("memory")) {
        for e in entries.flatten() {
            let path = e.path();
            if let (Some(name), Some(v)) = (
                path.file_stem()
                    .and_then(|s| s.to_str())
                    .map(str::to_string),
                read_json(&path)?,
            ) && let Some(mib) = v["peak_mib"].as_f64()
            {
                peak_memory_mib.insert(name, mib);
            }
        }
    }
    let passed = stages.iter().all(|s| s.status == Status::Passed);
    Ok(Report {
        device,
        stages,
        comparisons,
        torch_notes,
        peak_memory_mib,
        passed,
    })
}

fn number(v: f64) -> String {
    if (v.fract() == 0.0 && v.abs() < 1e9) || v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 0.01 {
        format!("{v:.3}")
    } else {
        format!("{v:.2e}")
    }
}

/// The report as markdown (the tables BENCHMARKS.md takes).
pub fn markdown(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# GPU check: {}\n",
        if r.passed { "passed" } else { "FAILED" }
    );
    if !r.device.is_empty() {
        s.push_str("| device | value |\n|---|---|\n");
        for (k, v) in &r.device {
            let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            let _ = writeln!(s, "| {k} | {v} |");
        }
        s.push('\n');
    }
    s.push_str("| stage | backend | status | s | notes |\n|---|---|---|---:|---|\n");
    for st in &r.stages {
        let mut notes = st.notes.clone();
        if let Some(e) = &st.error {
            notes.insert(0, format!("**{e}**"));
        }
        let _ = writeln!(
            s,
            "| {} | {} | {:?} | {:.1} | {} |",
            st.stage,
            st.backend,
            st.status,
            st.seconds,
            notes.join("; ").replace('|', "/").replace('\n', " ")
        );
    }
    s.push_str(
        "\n## Parity\n\n| stage | check | error | tolerance | ok |\n|---|---|---:|---:|---|\n",
    );
    for st in &r.stages {
        for c in &st.checks {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                st.stage,
                c.name.replace('|', "\\|"),
                number(c.error),
                number(c.tolerance),
                if c.passed { "yes" } else { "**no**" }
            );
        }
    }
    s.push_str("\n## Speed (same device, same run)\n\n| measurement | rankwise | PyTorch | rankwise speed-up | goal | details |\n|---|---:|---:|---:|---|---|\n");
    for c in &r.comparisons {
        let t = &c.rankwise;
        let details: Vec<String> = t
            .extra
            .iter()
            .map(|(k, v)| format!("{k} {}", number(*v)))
            .chain(
                c.torch
                    .iter()
                    .flat_map(|b| b.extra.iter())
                    .map(|(k, v)| format!("PyTorch {k} {}", number(*v))),
            )
            .collect();
        let goal = match (c.goal, c.speedup) {
            (Some(g), Some(x)) if x >= g => format!("≥ {g}×: met"),
            (Some(g), Some(_)) => format!("≥ {g}×: **not met**"),
            (Some(g), None) => format!("≥ {g}×: no baseline"),
            (None, _) => String::new(),
        };
        let _ = writeln!(
            s,
            "| {} | {} {} | {} | {} | {} | {} |",
            t.name,
            number(t.value),
            t.unit,
            c.torch
                .as_ref()
                .map_or("-".into(), |b| format!("{} {}", number(b.value), b.unit)),
            c.speedup.map_or("-".into(), |x| format!("{x:.2}×")),
            goal,
            details.join(", ")
        );
    }
    if !r.peak_memory_mib.is_empty() {
        s.push_str("\n| process | peak GPU memory (MiB, nvidia-smi) |\n|---|---:|\n");
        for (k, v) in &r.peak_memory_mib {
            let _ = writeln!(s, "| {k} | {v:.0} |");
        }
    }
    for (stage, notes) in &r.torch_notes {
        let _ = writeln!(s, "\nPyTorch {stage}: {}", notes.join("; "));
    }
    s
}

/// Builds the report of `dir` and writes `report.json` and `report.md` there.
pub fn write(dir: &Path) -> anyhow::Result<Report> {
    let report = build(dir)?;
    write_atomic(
        &dir.join("report.json"),
        &serde_json::to_vec_pretty(&report)?,
    )?;
    write_atomic(&dir.join("report.md"), markdown(&report).as_bytes())?;
    Ok(report)
}
