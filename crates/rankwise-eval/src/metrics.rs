//! IR metrics with trec_eval's conventions (as pytrec_eval computes them).
//!
//! * Ranking: scores are cast to f32, sorted descending; ties broken by docid descending
//!   (byte-wise). File order and the rank column are ignored.
//! * Relevant: judged grade ≥ `relevance_level`. nDCG uses the grade itself as gain (linear),
//!   independent of the relevance level; IDCG uses all positive judged grades.
//! * Queries in the run but not in the qrels are ignored; qrels queries missing from the run get
//!   no per-query entry (and count as 0 in the `-c` mean).

use std::collections::{BTreeMap, HashMap};

/// Judgements: query id → (doc id → grade).
pub type Qrels = HashMap<String, HashMap<String, i64>>;
/// A run: query id → retrieved (doc id, score), in any order.
pub type Run = HashMap<String, Vec<(String, f64)>>;

/// trec_eval's ranking of one query's documents.
pub fn rank(docs: &[(String, f64)]) -> Vec<(&str, f32)> {
    let mut ranked: Vec<(&str, f32)> = docs.iter().map(|(d, s)| (d.as_str(), *s as f32)).collect();
    ranked.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then_with(|| b.0.as_bytes().cmp(a.0.as_bytes()))
    });
    ranked
}

/// Per-query measures of one query (pytrec_eval names: `ndcg_cut_10`, `P_10`, `recall_100`,
/// `map`, `map_cut_100`, `recip_rank`, `mrr_cut_10`, `num_rel`, `num_ret`, `num_rel_ret`).
pub fn query_measures(
    judged: &HashMap<String, i64>,
    docs: &[(String, f64)],
    relevance_level: i64,
    cutoffs: &[usize],
) -> BTreeMap<String, f64> {
    let ranked = rank(docs);
    let grade = |d: &str| judged.get(d).copied().unwrap_or(0);
    let relevant: Vec<bool> = ranked
        .iter()
        .map(|(d, _)| grade(d) >= relevance_level)
        .collect();
    let num_rel = judged.values().filter(|&&g| g >= relevance_level).count() as f64;
    let mut ideal: Vec<i64> = judged.values().copied().filter(|&g| g > 0).collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let discount = |r: usize| 1.0 / ((r + 2) as f64).log2();
    let dcg = |k: usize| {
        ranked
            .iter()
            .take(k)
            .enumerate()
            .map(|(r, (d, _))| grade(d).max(0) as f64 * discount(r))
            .sum::<f64>()
    };
    let idcg = |k: usize| {
        ideal
            .iter()
            .take(k)
            .enumerate()
            .map(|(r, &g)| g as f64 * discount(r))
            .sum::<f64>()
    };
    let hits = |k: usize| relevant.iter().take(k).filter(|&&r| r).count() as f64;
    let ap = |k: usize| {
        if num_rel == 0.0 {
            return 0.0;
        }
        let mut found = 0.0;
        let mut sum = 0.0;
        for (r, &rel) in relevant.iter().take(k).enumerate() {
            if rel {
                found += 1.0;
                sum += found / (r + 1) as f64;
            }
        }
        sum / num_rel
    };
    let first = relevant.iter().position(|&r| r);
    let mut m = BTreeMap::new();
    for &k in cutoffs {
        let i = idcg(k);
        m.insert(
            format!("ndcg_cut_{k}"),
            if i > 0.0 { dcg(k) / i } else { 0.0 },
        );
        m.insert(format!("P_{k}"), hits(k) / k as f64);
        m.insert(
            format!("recall_{k}"),
            if num_rel > 0.0 {
                hits(k) / num_rel
            } else {
                0.0
            },
        );
        m.insert(format!("map_cut_{k}"), ap(k));
        m.insert(
            format!("mrr_cut_{k}"),
            first
                .filter(|&r| r < k)
                .map_or(0.0, |r| 1.0 / (r + 1) as f64),
        );
    }
    m.insert("map".into(), ap(usize::MAX));
    m.insert(
        "recip_rank".into(),
        first.map_or(0.0, |r| 1.0 / (r + 1) as f64),
    );
    m.insert("num_rel".into(), num_rel);
    m.insert("num_ret".into(), ranked.len() as f64);
    m.insert("num_rel_ret".into(), hits(usize::MAX));
    m
}

/// Metrics of a run over a qrels set.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Measures of every query present in both the qrels and the run.
    pub per_query: BTreeMap<String, BTreeMap<String, f64>>,
    /// Mean over `per_query` (pytrec_eval / BEIR convention).
    pub mean: BTreeMap<String, f64>,
    /// Sum over `per_query` divided by the number of qrels queries (trec_eval `-c`).
    pub mean_all_qrels: BTreeMap<String, f64>,
    /// Qrels queries with no retrieved document.
    pub missing_from_run: Vec<String>,
    /// Run queries without judgements (ignored).
    pub missing_from_qrels: Vec<String>,
}

/// Evaluates `run` against `qrels` at `relevance_level` with measures cut at `cutoffs`.
pub fn evaluate(qrels: &Qrels, run: &Run, relevance_level: i64, cutoffs: &[usize]) -> Evaluation {
    let mut per_query = BTreeMap::new();
    for (qid, judged) in qrels {
        if let Some(docs) = run.get(qid) {
            per_query.insert(
                qid.clone(),
                query_measures(judged, docs, relevance_level, cutoffs),
            );
        }
    }
    let mut sums: BTreeMap<String, f64> = BTreeMap::new();
    for m in per_query.values() {
        for (k, v) in m {
            *sums.entry(k.clone()).or_default() += v;
        }
    }
    let avg = |d: f64| {
        sums.iter()
            .map(|(k, v)| (k.clone(), if d > 0.0 { v / d } else { 0.0 }))
            .collect()
    };
    let mut missing_from_run: Vec<String> = qrels
        .keys()
        .filter(|q| !run.contains_key(*q))
        .cloned()
        .collect();
    let mut missing_from_qrels: Vec<String> = run
        .keys()
        .filter(|q| !qrels.contains_key(*q))
        .cloned()
        .collect();
    missing_from_run.sort();
    missing_from_qrels.sort();
    Evaluation {
        mean: avg(per_query.len() as f64),
        mean_all_qrels: avg(qrels.len() as f64),
        per_query,
        missing_from_run,
        missing_from_qrels,
    }
}
