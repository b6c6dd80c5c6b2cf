//! The study's data: a fixed train/dev split of the training queries, BM25 contexts of the real
//! corpus, a dev collection, and one dataset config per run — all written under `data/`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use anyhow::Context;
use rankwise_data::{
    BinaryConfig, DatasetConfig, MultiLevelConfig, PassageSelection, SourceConfig, ranked_contexts,
};
use rankwise_eval::{Bm25Params, EvalSettings, evaluate_bm25};
use rankwise_files::{
    QrelRow, collection_file, qrels_file, read_corpus, read_qrels, read_queries, write_qrels,
};
use serde::{Deserialize, Serialize};

use super::StudySettings;
use crate::commands::common::write_data_config;

/// What the data phase produced (`data/prepared.json`, written last).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Prepared {
    /// Training queries (judged positive in the training split, dev queries removed).
    pub train_queries: usize,
    /// Dev queries (held out of every training set; used only to choose τ and lr).
    pub dev_queries: usize,
    /// Training queries with four synthetic passages.
    pub synthetic_queries: usize,
    /// Passages in the dev collection (the dev queries' BM25 pool and their positives).
    pub dev_pool_docs: usize,
    /// Dataset config of each run, by data name.
    pub configs: BTreeMap<String, PathBuf>,
    /// The dev collection (BEIR folder, judgements in `qrels/test.tsv`).
    pub dev_collection: PathBuf,
    /// Seconds spent.
    pub seconds: f64,
}

impl Prepared {
    /// The same with its paths relative to `root` (the study folder).
    pub fn relative_to(&self, root: &std::path::Path) -> Self {
        let rel = |p: &PathBuf| {
            p.strip_prefix(root)
                .map_or_else(|_| p.clone(), PathBuf::from)
        };
        Self {
            configs: self
                .configs
                .iter()
                .map(|(k, p)| (k.clone(), rel(p)))
                .collect(),
            dev_collection: rel(&self.dev_collection),
            ..self.clone()
        }
    }
}

/// Whether query `id` belongs to the dev split: a hash of the id, so the split does not depend
/// on file order and a query keeps its side when other queries are added.
pub fn is_dev(id: &str, fraction: f64) -> bool {
    (query_hash(id) % 10_000) < (fraction * 10_000.0).round() as u64
}

/// FNV-1a (64 bits) of a query id: the split and the training subset depend on ids only.
fn query_hash(id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn rows_of(rows: &[QrelRow], keep: impl Fn(&str) -> bool) -> Vec<(String, String, i64)> {
    rows.iter()
        .filter(|r| keep(&r.query_id))
        .map(|r| (r.query_id.clone(), r.doc_id.clone(), r.score as i64))
        .collect()
}

fn jsonl_line(id: &str, text: &str) -> String {
    let mut line = serde_json::json!({"_id": id, "text": text}).to_string();
    line.push('\n');
    line
}

/// Prepares `data/` (reused when `data/prepared.json` exists).
pub fn prepare(settings: &StudySettings, out: &Path, progress: bool) -> anyhow::Result<Prepared> {
    let dir = out.join("data");
    let done = dir.join("prepared.json");
    if done.is_file() {
        return super::read_json(&done);
    }
    let start = std::time::Instant::now();
    let real = &settings.train_dataset;
    let real_qrels_file = qrels_file(real, "train")?;
    let real_rows = read_qrels(&real_qrels_file)?;
    let positives: BTreeSet<&str> = real_rows
        .iter()
        .filter(|r| r.score >= 1.0)
        .map(|r| r.query_id.as_str())
        .collect();
    anyhow::ensure!(
        !positives.is_empty(),
        "{}: no judged positive",
        real_qrels_file.display()
    );
    let dev: BTreeSet<&str> = positives
        .iter()
        .copied()
        .filter(|q| is_dev(q, settings.dev_fraction))
        .collect();
    let mut train: BTreeSet<&str> = positives.difference(&dev).copied().collect();
    if let Some(n) = settings.max_train_queries {
        // A stable subset: the n training queries of smallest hash (the reverse of the
        // hash's bits, so it does not correlate with the dev split's modulus).
        let mut by_hash: Vec<&str> = train.iter().copied().collect();
        by_hash.sort_by_key(|q| (query_hash(q).reverse_bits(), *q));
        train = by_hash.into_iter().take(n).collect();
    }
    anyhow::ensure!(
        !dev.is_empty() && !train.is_empty(),
        "the dev fraction {} leaves {} training and {} dev queries",
        settings.dev_fraction,
        train.len(),
        dev.len()
    );
    let real_train = dir.join("real-train.tsv");
    write_qrels(&real_train, &rows_of(&real_rows, |q| train.contains(q)))?;

    // BM25 over the real corpus for every judged training query (dev included, for its pool).
    let depth = settings.bm25_depth;
    let bm25_settings = EvalSettings {
        split: "train".into(),
        k: (depth + 20).max(settings.dev_pool),
        progress,
        ..EvalSettings::default()
    };
    let outcome = evaluate_bm25(real, Bm25Params::default(), "bm25", &bm25_settings)
        .with_context(|| format!("BM25 over {}", real.display()))?;
    let ranked: HashMap<String, Vec<String>> = outcome
        .run
        .iter()
        .map(|(q, hits)| (q.clone(), hits.iter().map(|h| h.0.clone()).collect()))
        .collect();
    let contexts: Vec<_> = ranked_contexts(&real_rows, &ranked, depth, 1)
        .into_iter()
        .filter(|r| train.contains(r.0.as_str()))
        .collect();
    let bm25_file = dir.join(format!("bm25-top{depth}.tsv"));
    write_qrels(&bm25_file, &contexts)?;

    // The dev collection: each dev query's BM25 top `dev_pool` plus its judged passages.
    let corpus = read_corpus(&collection_file(real, "corpus")?)?;
    let queries = read_queries(&collection_file(real, "queries")?)?;
    let mut pool: BTreeSet<&str> = BTreeSet::new();
    for q in &dev {
        if let Some(list) = ranked.get(*q) {
            pool.extend(list.iter().take(settings.dev_pool).map(String::as_str));
        }
    }
    let dev_rows = rows_of(&real_rows, |q| dev.contains(q));
    pool.extend(dev_rows.iter().map(|r| r.1.as_str()));
    let dev_dir = dir.join("dev");
    let mut text = String::new();
    for d in &pool {
        let body = corpus
            .get(d)
            .with_context(|| format!("dev passage `{d}` is not in the corpus"))?;
        text.push_str(&jsonl_line(d, body));
    }
    rankwise_files::write_atomic(&dev_dir.join("corpus.jsonl"), text.as_bytes())?;
    let mut text = String::new();
    for q in &dev {
        let body = queries
            .get(q)
            .with_context(|| format!("dev query `{q}` has no text"))?;
        text.push_str(&jsonl_line(q, body));
    }
    rankwise_files::write_atomic(&dev_dir.join("queries.jsonl"), text.as_bytes())?;
    write_qrels(&dev_dir.join("qrels/test.tsv"), &dev_rows)?;

    // The synthetic set, restricted to the training queries.
    let synth = &settings.synthetic;
    let synth_rows = read_qrels(&qrels_file(synth, "train")?)?;
    let synth_train = dir.join("synthetic-train.tsv");
    let kept = rows_of(&synth_rows, |q| train.contains(q));
    let synthetic_queries = kept
        .iter()
        .map(|r| r.0.as_str())
        .collect::<BTreeSet<_>>()
        .len();
    anyhow::ensure!(
        synthetic_queries > 0,
        "{}: no synthetic passage for a training query of {}",
        synth.display(),
        real.display()
    );
    write_qrels(&synth_train, &kept)?;

    let configs = write_configs(settings, &dir, &real_train, &bm25_file, &synth_train)?;
    let prepared = Prepared {
        train_queries: train.len(),
        dev_queries: dev.len(),
        synthetic_queries,
        dev_pool_docs: pool.len(),
        configs,
        dev_collection: dev_dir,
        seconds: start.elapsed().as_secs_f64(),
    };
    rankwise_files::write_atomic(&done, serde_json::to_string_pretty(&prepared)?.as_bytes())?;
    Ok(prepared)
}

/// The dataset config of each run's data, as the paper's four configs at this scale: real
/// positive + BM25 negatives (group 3); synthetic levels ≥ 2 vs < 2 (group 3); the four
/// synthetic levels (group 4); real positive → 3, two random BM25 contexts → 1, and the four
/// synthetic passages (group 7).
fn write_configs(
    settings: &StudySettings,
    dir: &Path,
    real_train: &Path,
    bm25: &Path,
    synth_train: &Path,
) -> anyhow::Result<BTreeMap<String, PathBuf>> {
    let real = &settings.train_dataset;
    let (real_corpus, real_queries) = (
        collection_file(real, "corpus")?,
        collection_file(real, "queries")?,
    );
    let synth_corpus = collection_file(&settings.synthetic, "corpus")?;
    let real_source = |qrels: &Path| SourceConfig::new(&real_corpus, &real_queries, qrels);
    let synth_source = SourceConfig::new(&synth_corpus, &real_queries, synth_train);
    let seed = 42;
    let mut configs = BTreeMap::new();

    let mut pos = real_source(real_train);
    pos.min_score = Some(1.0);
    pos.score_transform = Some(1);
    let mut neg = real_source(bm25);
    neg.score_transform = Some(0);
    configs.insert(
        "real_binary".to_string(),
        DatasetConfig::Binary(BinaryConfig {
            positives: vec![pos.clone()],
            negatives: vec![neg.clone()],
            group_size: 3,
            seed,
        }),
    );

    let mut spos = synth_source.clone();
    spos.min_score = Some(2.0);
    spos.score_transform = Some(1);
    let mut sneg = synth_source.clone();
    sneg.max_score = Some(2.0);
    sneg.score_transform = Some(0);
    configs.insert(
        "synth_binary".to_string(),
        DatasetConfig::Binary(BinaryConfig {
            positives: vec![spos],
            negatives: vec![sneg],
            group_size: 3,
            seed,
        }),
    );
    configs.insert(
        "synth_multilevel".to_string(),
        DatasetConfig::Multilevel(MultiLevelConfig {
            sources: vec![synth_source.clone()],
            group_size: 4,
            passage_selection_strategy: PassageSelection::Random,
            seed,
        }),
    );
    let mut real3 = pos;
    real3.score_transform = Some(3);
    let mut bm25_1 = neg;
    bm25_1.score_transform = Some(1);
    bm25_1.group_random_k = Some(2);
    configs.insert(
        "synth_plus_real".to_string(),
        DatasetConfig::Multilevel(MultiLevelConfig {
            sources: vec![real3, bm25_1, synth_source],
            group_size: 7,
            passage_selection_strategy: PassageSelection::Random,
            seed,
        }),
    );
    configs
        .into_iter()
        .map(|(name, config)| {
            let path = write_data_config(&dir.join(format!("{name}.toml")), &config)?;
            Ok((name, path))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::is_dev;

    #[test]
    fn the_dev_split_is_a_stable_fraction() {
        let ids: Vec<String> = (0..20_000).map(|i| i.to_string()).collect();
        let dev = ids.iter().filter(|q| is_dev(q, 0.1)).count();
        assert!((1_800..2_200).contains(&dev), "{dev}");
        assert_eq!(is_dev("1234", 0.1), is_dev("1234", 0.1));
        assert_eq!(ids.iter().filter(|q| is_dev(q, 0.0)).count(), 0);
    }
}
