//! Graded contexts from real corpora without an LLM ("pseudo-labelling"): real positives keep a
//! level, mined candidates get levels by rank band, and random corpus passages get the lowest.

use std::collections::HashSet;

use rand::seq::index::sample;
use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::sampling::item_rng;
use rankwise_files::{Collection, QrelRow};

/// Candidates ranked `from..=to` (1-based, after removing the query's positives) get `level`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RankBand {
    /// First rank (1-based, inclusive).
    pub from: usize,
    /// Last rank (inclusive).
    pub to: usize,
    /// Level given to these candidates.
    pub level: i64,
}

/// `count` random corpus passages (not positives, not in any band) get `level`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomBand {
    /// Passages per query.
    pub count: usize,
    /// Level.
    pub level: i64,
}

/// Rules of pseudo-labelling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PseudoLabelConfig {
    /// Level of judged positives (`None`: keep their qrels grade).
    #[serde(default)]
    pub positive_level: Option<i64>,
    /// Rank bands over mined candidates, e.g. top hits → 2, ranks 90–95 → 1.
    pub bands: Vec<RankBand>,
    /// Random negatives.
    #[serde(default)]
    pub random: Option<RandomBand>,
    /// Qrels rows with a grade below this are not positives.
    #[serde(default = "one")]
    pub min_positive_grade: i64,
    /// Seed of the random band.
    #[serde(default)]
    pub seed: u64,
}

fn one() -> i64 {
    1
}

impl Default for PseudoLabelConfig {
    fn default() -> Self {
        Self {
            positive_level: Some(3),
            bands: vec![
                RankBand {
                    from: 1,
                    to: 3,
                    level: 2,
                },
                RankBand {
                    from: 90,
                    to: 95,
                    level: 1,
                },
            ],
            random: Some(RandomBand { count: 2, level: 0 }),
            min_positive_grade: 1,
            seed: 0,
        }
    }
}

impl PseudoLabelConfig {
    /// Checks the bands.
    pub fn validate(&self) -> Result<(), DataError> {
        for (i, b) in self.bands.iter().enumerate() {
            if b.from == 0 || b.to < b.from {
                return Err(DataError::config(
                    format!("bands[{i}]"),
                    format!("needs 1 <= from <= to, got from={} to={}", b.from, b.to),
                ));
            }
        }
        Ok(())
    }
}

/// Each query's judged positives (grade ≥ `min_grade`) with their grades, queries in order of
/// first appearance.
fn group_positives(qrels: &[QrelRow], min_grade: i64) -> Vec<(String, Vec<(String, i64)>)> {
    let mut positives: Vec<(String, Vec<(String, i64)>)> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for r in qrels {
        let grade = r.score as i64;
        if grade < min_grade {
            continue;
        }
        let slot = *index.entry(r.query_id.clone()).or_insert_with(|| {
            positives.push((r.query_id.clone(), Vec::new()));
            positives.len() - 1
        });
        positives[slot].1.push((r.doc_id.clone(), grade));
    }
    positives
}

/// The ranked real contexts of every query that has a positive in `qrels` and candidates in
/// `ranked` (best first): its first `depth` candidates that are not judged positives (grade ≥
/// `min_positive_grade`), as `(query, doc, rank)` rows with the 1-based rank as score — the form
/// of the paper's BM25 top documents, read as negatives with a score transform.
pub fn ranked_contexts(
    qrels: &[QrelRow],
    ranked: &std::collections::HashMap<String, Vec<String>>,
    depth: usize,
    min_positive_grade: i64,
) -> Vec<(String, String, i64)> {
    let mut rows = Vec::new();
    for (query, pos) in group_positives(qrels, min_positive_grade) {
        let Some(candidates) = ranked.get(&query) else {
            continue;
        };
        let kept = candidates
            .iter()
            .filter(|d| !pos.iter().any(|(p, _)| p == *d))
            .take(depth);
        for (rank, d) in kept.enumerate() {
            rows.push((query.clone(), d.clone(), rank as i64 + 1));
        }
    }
    rows
}

/// Labels every query that has a positive in `qrels` and a candidate list in `ranked`
/// (document ids, best first): returns `(query, doc, level)` rows, positives first.
pub fn pseudo_label(
    qrels: &[QrelRow],
    ranked: &std::collections::HashMap<String, Vec<String>>,
    corpus: &Collection,
    config: &PseudoLabelConfig,
) -> Result<Vec<(String, String, i64)>, DataError> {
    config.validate()?;
    let positives = group_positives(qrels, config.min_positive_grade);
    let mut rows = Vec::new();
    for (qi, (query, pos)) in positives.iter().enumerate() {
        let Some(candidates) = ranked.get(query) else {
            continue;
        };
        let mut used: HashSet<&str> = pos.iter().map(|(d, _)| d.as_str()).collect();
        for (d, g) in pos {
            rows.push((
                query.clone(),
                d.clone(),
                config.positive_level.unwrap_or(*g),
            ));
        }
        let mined: Vec<&String> = candidates
            .iter()
            .filter(|d| !pos.iter().any(|(p, _)| p == *d))
            .collect();
        for band in &config.bands {
            for d in mined
                .iter()
                .skip(band.from - 1)
                .take(band.to + 1 - band.from)
            {
                if used.insert(d.as_str()) {
                    rows.push((query.clone(), (*d).clone(), band.level));
                }
            }
        }
        if let Some(random) = config.random {
            let mut rng = item_rng(config.seed, 0, qi);
            let free = corpus.len().saturating_sub(used.len());
            let want = random.count.min(free);
            let mut taken = 0;
            // Draw more than needed so that collisions with used ids rarely need a second round.
            while taken < want {
                let n = (want * 2 + 8).min(corpus.len());
                for i in sample(&mut rng, corpus.len(), n) {
                    if taken == want {
                        break;
                    }
                    let id = corpus.id(i);
                    if used.insert(id) {
                        rows.push((query.clone(), id.to_string(), random.level));
                        taken += 1;
                    }
                }
            }
        }
    }
    Ok(rows)
}
