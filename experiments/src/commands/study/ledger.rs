//! The study's time ledger, `study.times.json`: the wall time and phase times of every
//! invocation, written after each phase and each finished run × seed unit, so that an
//! invocation that is stopped still counts up to its last finished unit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// One invocation's times.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Invocation {
    /// Wall time up to its last record.
    pub wall_s: f64,
    /// Seconds per phase (a phase still running: up to the last finished unit).
    pub phases_s: BTreeMap<String, f64>,
}

/// Every invocation of a study, this one last.
#[derive(Debug)]
pub struct Ledger {
    path: PathBuf,
    invocations: Vec<Invocation>,
    start: Instant,
}

#[derive(Serialize, Deserialize)]
struct File {
    invocations: Vec<Invocation>,
}

impl Ledger {
    /// Reads `out/study.times.json` (a study written before the ledger existed: its
    /// `study.json` totals as one earlier invocation) and starts a new invocation.
    pub fn open(out: &Path, start: Instant) -> anyhow::Result<Self> {
        let path = out.join("study.times.json");
        let mut invocations = if path.is_file() {
            super::read_json::<File>(&path)?.invocations
        } else if let Ok(report) = super::read_json::<serde_json::Value>(&out.join("study.json")) {
            vec![Invocation {
                wall_s: report["wall_s"].as_f64().unwrap_or(0.0),
                phases_s: serde_json::from_value(report["phases_s"].clone()).unwrap_or_default(),
            }]
        } else {
            Vec::new()
        };
        invocations.push(Invocation::default());
        Ok(Self {
            path,
            invocations,
            start,
        })
    }

    /// Records `secs` spent so far in `phase` by this invocation (called again as a phase goes
    /// on: the last value counts) and writes the ledger.
    pub fn record(&mut self, phase: &str, secs: f64) -> anyhow::Result<()> {
        let now = self.invocations.last_mut().expect("this invocation");
        now.wall_s = self.start.elapsed().as_secs_f64();
        now.phases_s.insert(phase.to_string(), secs);
        super::write_json(
            &self.path,
            &File {
                invocations: self.invocations.clone(),
            },
        )
    }

    /// Wall time and phase times summed over the invocations, and their number.
    pub fn totals(&self) -> (f64, BTreeMap<String, f64>, usize) {
        let mut phases = BTreeMap::new();
        for i in &self.invocations {
            for (k, v) in &i.phases_s {
                *phases.entry(k.clone()).or_default() += v;
            }
        }
        (
            self.invocations.iter().map(|i| i.wall_s).sum(),
            phases,
            self.invocations.len(),
        )
    }
}
