//! The texts of the speed stages: deterministic English word sequences, long enough that every
//! passage fills 256 tokens. Written once (`gpu-check texts`) and read by both rankwise and the
//! PyTorch baseline, so both encode exactly the same inputs.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

const WORDS: &[&str] = &[
    "protein",
    "cell",
    "gene",
    "expression",
    "patients",
    "risk",
    "increased",
    "reduced",
    "treatment",
    "disease",
    "cancer",
    "tumor",
    "immune",
    "response",
    "mice",
    "levels",
    "associated",
    "clinical",
    "trial",
    "effect",
    "blood",
    "pressure",
    "insulin",
    "glucose",
    "receptor",
    "signaling",
    "pathway",
    "mutation",
    "human",
    "study",
    "data",
    "analysis",
    "retrieval",
    "query",
    "passage",
    "relevance",
    "ranking",
    "model",
    "training",
    "loss",
    "ocean",
    "tides",
    "moon",
    "gravity",
    "vaccine",
    "infection",
    "virus",
    "bacteria",
    "heart",
    "brain",
    "neurons",
    "memory",
    "sleep",
    "diet",
    "exercise",
    "obesity",
    "age",
    "children",
    "women",
    "men",
    "population",
    "survey",
    "results",
    "suggest",
    "evidence",
    "the",
    "of",
    "and",
    "in",
    "to",
    "with",
    "for",
    "is",
    "was",
    "by",
    "on",
    "that",
    "from",
    "are",
    "as",
    "at",
    "this",
    "which",
    "after",
    "between",
    "during",
    "these",
    "not",
    "or",
];

/// Queries and passages of the speed stages.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Texts {
    /// Short queries (12 words).
    pub queries: Vec<String>,
    /// Long passages (300 words: over 256 tokens).
    pub passages: Vec<String>,
}

fn words(state: &mut u64, n: usize) -> String {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        // 64-bit LCG (Knuth's MMIX constants); the high bits pick the word.
        *state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        out.push(WORDS[((*state >> 33) % WORDS.len() as u64) as usize]);
    }
    out.join(" ")
}

impl Texts {
    /// `queries` queries and `passages` passages, the same on every machine.
    pub fn generate(queries: usize, passages: usize) -> Self {
        let mut state = 0x5EED_7E57u64;
        Self {
            queries: (0..queries).map(|_| words(&mut state, 12)).collect(),
            passages: (0..passages).map(|_| words(&mut state, 300)).collect(),
        }
    }

    /// Reads `texts.json`.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
        serde_json::from_str(&text).with_context(|| format!("{}: not a texts file", path.display()))
    }

    /// Writes `texts.json` (temporary file, then rename).
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        Ok(rankwise_files::write_atomic(
            path,
            &serde_json::to_vec(self)?,
        )?)
    }
}
