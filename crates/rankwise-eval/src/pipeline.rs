//! Evaluating an encoder on a BEIR folder: encode (cached), search, score, report.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::backend::Backend;
use indicatif::{ProgressBar, ProgressStyle};
use rankwise_encoder::{BiEncoder, Inference, Side};
use rankwise_files::{Collection, collection_file, qrels_file, read_corpus, read_queries};
use serde::{Deserialize, Serialize};

use crate::bm25::{Bm25Index, Bm25Params};
use crate::cache::{CacheKey, EmbeddingCache};
use crate::metrics::{Qrels, Run, evaluate};
use crate::search::{Embeddings, Hit, Similarity, search};
use crate::trec::{EvalError, read_qrels};

/// Settings of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EvalSettings {
    /// Qrels split (`qrels/<split>.tsv`).
    pub split: String,
    /// Documents retrieved per query.
    pub k: usize,
    /// Scoring function.
    pub similarity: Similarity,
    /// Texts per encoder batch (on backends whose [`Inference`] path runs batches).
    pub batch_size: usize,
    /// Judged grade counted as relevant (MRR, recall, MAP, P).
    pub relevance_level: i64,
    /// Cut-offs reported besides the defaults (nDCG@10, MRR@10, Recall@100).
    pub extra_cutoffs: Vec<usize>,
    /// Where corpus embeddings are cached (`None`: no cache).
    pub cache_dir: Option<PathBuf>,
    /// Evaluate only the first n judged queries (smoke runs).
    pub max_queries: Option<usize>,
    /// Show progress bars.
    pub progress: bool,
}

impl Default for EvalSettings {
    fn default() -> Self {
        Self {
            split: "test".into(),
            k: 100,
            similarity: Similarity::Dot,
            batch_size: 32,
            relevance_level: 1,
            extra_cutoffs: Vec::new(),
            cache_dir: None,
            max_queries: None,
            progress: true,
        }
    }
}

impl EvalSettings {
    /// An error when a setting cannot give a meaningful number: `k`, `batch_size`, a cut-off
    /// or `max_queries` of 0.
    pub fn check(&self) -> Result<(), EvalError> {
        let zero = |what: &str| {
            Err(EvalError::Settings(format!(
                "{what} must be at least 1 (got 0)"
            )))
        };
        if self.k == 0 {
            return zero("k (documents retrieved per query)");
        }
        if self.batch_size == 0 {
            return zero("batch size");
        }
        if self.extra_cutoffs.contains(&0) {
            return zero("every cut-off");
        }
        if self.max_queries == Some(0) {
            return zero("max queries");
        }
        Ok(())
    }
}

/// Timings of the stages, in seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Reading files.
    pub load: f64,
    /// Encoding the corpus (0 on a cache hit); indexing it for BM25.
    pub encode_corpus: f64,
    /// Encoding the queries.
    pub encode_queries: f64,
    /// Exact search.
    pub search: f64,
    /// Metrics.
    pub metrics: f64,
    /// Everything.
    pub total: f64,
}

/// The JSON summary of one evaluation (scripts read `ndcg@10`, `mrr@10`, `recall@100`,
/// `num_queries`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// nDCG@10 (linear gains), mean over evaluated queries.
    #[serde(rename = "ndcg@10")]
    pub ndcg_10: f64,
    /// MRR@10.
    #[serde(rename = "mrr@10")]
    pub mrr_10: f64,
    /// Recall@100.
    #[serde(rename = "recall@100")]
    pub recall_100: f64,
    /// Queries evaluated (judged and retrieved).
    pub num_queries: usize,
    /// Every measure (`ndcg@k`, `mrr@k`, `recall@k`, `p@k`, `map@k`, `map`), mean over queries.
    pub metrics: BTreeMap<String, f64>,
    /// Model label.
    pub model: String,
    /// Collection name.
    pub collection: String,
    /// Qrels split.
    pub split: String,
    /// Documents in the corpus.
    pub num_docs: usize,
    /// Judged queries in the qrels.
    pub num_judged_queries: usize,
    /// Judged queries absent from `queries.jsonl` (not evaluated; counted here).
    pub unknown_query_ids: usize,
    /// Judgements whose document is absent from the corpus (kept, as trec_eval does: they
    /// count as relevant documents that cannot be retrieved).
    pub unknown_doc_judgements: usize,
    /// Scoring function of a dense model (empty for BM25).
    pub similarity: Option<Similarity>,
    /// Documents retrieved per query.
    pub k: usize,
    /// Whether corpus embeddings came from the cache.
    pub cache_hit: bool,
    /// Stage timings.
    pub timings_s: Timings,
}

/// Everything an evaluation produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The summary.
    pub summary: Summary,
    /// Per-query measures.
    pub per_query: BTreeMap<String, BTreeMap<String, f64>>,
    /// The run (query id → ranked hits with document ids).
    pub run: Vec<(String, Vec<(String, f32)>)>,
    /// Judgements (for score-by-level plots).
    pub qrels: Qrels,
}

fn pretty(name: &str) -> String {
    for (from, to) in [
        ("ndcg_cut_", "ndcg@"),
        ("mrr_cut_", "mrr@"),
        ("recall_", "recall@"),
        ("P_", "p@"),
        ("map_cut_", "map@"),
    ] {
        if let Some(k) = name.strip_prefix(from) {
            return format!("{to}{k}");
        }
    }
    name.to_string()
}

fn bar(show: bool, len: usize, what: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len as u64);
    pb.set_style(
        ProgressStyle::with_template("{msg:>16} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

/// Encodes texts of one side in length-sorted batches, with a progress bar.
pub fn encode<B: Inference>(
    encoder: &BiEncoder<B>,
    side: Side,
    texts: &[&str],
    settings: &EvalSettings,
    device: &B::Device,
    what: &str,
) -> Result<Embeddings, EvalError> {
    let pb = bar(settings.progress, texts.len(), what);
    let data = encoder
        .embed_many(side, texts, settings.batch_size, device, &mut |n| {
            pb.inc(n as u64)
        })
        .map_err(|e| EvalError::Encoder(e.to_string()))?;
    pb.finish_and_clear();
    Embeddings::new(texts.len(), encoder.config.hidden_size, data)
        .map_err(|e| EvalError::Search(e.to_string()))
}

/// Cache key of a corpus encoded by the model in `model_dir` with `encoder`'s options.
pub fn corpus_key<B: Backend>(
    model_dir: &Path,
    encoder: &BiEncoder<B>,
    corpus_file: &Path,
) -> Result<String, EvalError> {
    let options = serde_json::to_string(&encoder.options).expect("options serialise");
    Ok(CacheKey::default()
        .value("format", "rankwise-corpus-embeddings-v1")
        .value("options", &options)
        .file(&model_dir.join("model.safetensors"))?
        .file(&model_dir.join("passage/model.safetensors"))?
        .file(&model_dir.join("config.json"))?
        .file(&model_dir.join("tokenizer.json"))?
        .file(corpus_file)?
        .finish())
}

/// A BEIR folder read for evaluation: corpus, queries, judgements and the queries evaluated.
struct Loaded {
    /// When reading began (the evaluation's start).
    start: Instant,
    /// Seconds spent reading.
    load_s: f64,
    corpus_file: PathBuf,
    corpus: Collection,
    eval_queries: Vec<String>,
    query_texts: Vec<String>,
    qrels: Qrels,
    num_judged_queries: usize,
    unknown_query_ids: usize,
    unknown_doc_judgements: usize,
}

impl Loaded {
    fn read(dataset: &Path, settings: &EvalSettings) -> Result<Self, EvalError> {
        settings.check()?;
        let start = Instant::now();
        let corpus_file = collection_file(dataset, "corpus")?;
        let corpus = read_corpus(&corpus_file)?;
        let queries_file = collection_file(dataset, "queries")?;
        let queries = read_queries(&queries_file)?;
        let qrels_file = qrels_file(dataset, &settings.split)?;
        let mut qrels = read_qrels(&qrels_file)?;
        for (file, c) in [(&corpus_file, &corpus), (&queries_file, &queries)] {
            if c.is_empty() {
                return Err(EvalError::Search(format!(
                    "{}: no records in the file",
                    file.display()
                )));
            }
        }
        if qrels.is_empty() {
            return Err(EvalError::Search(format!(
                "{}: no judgements in the file",
                qrels_file.display()
            )));
        }
        let mut judged: Vec<&String> = qrels.keys().collect();
        judged.sort_by_key(|q| (queries.position(q).unwrap_or(usize::MAX), q.to_string()));
        let unknown_query_ids = judged
            .iter()
            .filter(|q| queries.position(q).is_none())
            .count();
        let unknown_doc_judgements = qrels
            .values()
            .flat_map(|m| m.keys())
            .filter(|d| corpus.position(d).is_none())
            .count();
        let num_judged_queries = judged.len();
        let judgements: usize = qrels.values().map(|m| m.len()).sum();
        if unknown_doc_judgements == judgements {
            return Err(EvalError::Search(format!(
                "{}: none of its {judgements} judged documents is in {} (wrong corpus or split?)",
                qrels_file.display(),
                corpus_file.display()
            )));
        }
        if unknown_query_ids > 0 || unknown_doc_judgements > 0 {
            tracing::warn!(
                "{}: {unknown_query_ids} of {num_judged_queries} judged queries are not in \
                 {} (not evaluated); {unknown_doc_judgements} of {judgements} judgements name \
                 documents not in {} (counted as relevant and never retrieved)",
                qrels_file.display(),
                queries_file.display(),
                corpus_file.display()
            );
        }
        let mut eval_queries: Vec<String> = judged
            .iter()
            .filter(|q| queries.position(q).is_some())
            .map(|q| q.to_string())
            .collect();
        if let Some(n) = settings.max_queries {
            eval_queries.truncate(n);
            let keep: std::collections::HashSet<&String> = eval_queries.iter().collect();
            qrels.retain(|q, _| keep.contains(q));
        }
        if eval_queries.is_empty() {
            return Err(EvalError::Search(format!(
                "{}: none of its {num_judged_queries} judged queries is in {}",
                qrels_file.display(),
                queries_file.display()
            )));
        }
        let query_texts = eval_queries
            .iter()
            .map(|q| queries.get(q).expect("filtered").to_string())
            .collect();
        Ok(Self {
            start,
            load_s: start.elapsed().as_secs_f64(),
            corpus_file,
            corpus,
            eval_queries,
            query_texts,
            qrels,
            num_judged_queries,
            unknown_query_ids,
            unknown_doc_judgements,
        })
    }

    /// The evaluated queries' texts, in order.
    fn queries(&self) -> Vec<&str> {
        self.query_texts.iter().map(String::as_str).collect()
    }

    /// Scores `hits` (one list per evaluated query) and assembles the outcome; `timings` holds
    /// the retrieval stages, reading, metrics and the total are filled in here.
    #[allow(clippy::too_many_arguments)]
    fn finish(
        self,
        hits: &[Vec<Hit>],
        model: &str,
        dataset: &Path,
        similarity: Option<Similarity>,
        cache_hit: bool,
        settings: &EvalSettings,
        mut timings: Timings,
    ) -> Outcome {
        timings.load = self.load_s;
        let t = Instant::now();
        let (run, summary_metrics, per_query, num_queries) = score(
            &self.eval_queries,
            hits,
            &self.corpus,
            &self.qrels,
            settings,
        );
        timings.metrics = t.elapsed().as_secs_f64();
        timings.total = self.start.elapsed().as_secs_f64();
        let collection = dataset
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| dataset.display().to_string());
        let get = |k: &str| summary_metrics.get(k).copied().unwrap_or(0.0);
        let summary = Summary {
            ndcg_10: get("ndcg@10"),
            mrr_10: get("mrr@10"),
            recall_100: get("recall@100"),
            num_queries,
            model: model.to_string(),
            collection,
            split: settings.split.clone(),
            num_docs: self.corpus.len(),
            num_judged_queries: self.num_judged_queries,
            unknown_query_ids: self.unknown_query_ids,
            unknown_doc_judgements: self.unknown_doc_judgements,
            similarity,
            k: settings.k,
            cache_hit,
            timings_s: timings,
            metrics: summary_metrics,
        };
        Outcome {
            summary,
            per_query,
            run,
            qrels: self.qrels,
        }
    }
}

/// Evaluates `encoder` on the BEIR folder `dataset`. `model_dir` (the folder the encoder was
/// loaded from) enables the embedding cache; `model` labels the results.
pub fn evaluate_dataset<B: Inference>(
    encoder: &BiEncoder<B>,
    model: &str,
    model_dir: Option<&Path>,
    dataset: &Path,
    settings: &EvalSettings,
    device: &B::Device,
) -> Result<Outcome, EvalError> {
    let data = Loaded::read(dataset, settings)?;
    let mut timings = Timings::default();

    let t = Instant::now();
    let cache = match (&settings.cache_dir, model_dir) {
        (Some(dir), Some(m)) => Some((
            EmbeddingCache::new(dir),
            corpus_key(m, encoder, &data.corpus_file)?,
        )),
        _ => None,
    };
    let cached = match &cache {
        Some((c, key)) => c.load(key)?.filter(|e| e.rows == data.corpus.len()),
        None => None,
    };
    let cache_hit = cached.is_some();
    let doc_emb = match cached {
        Some(e) => e,
        None => {
            let e = encode(
                encoder,
                Side::Passage,
                &data.corpus.texts().collect::<Vec<_>>(),
                settings,
                device,
                "corpus",
            )?;
            if let Some((c, key)) = &cache {
                c.store(key, &e)?;
            }
            e
        }
    };
    if !cache_hit {
        timings.encode_corpus = t.elapsed().as_secs_f64();
    }

    let t = Instant::now();
    let q_emb = encode(
        encoder,
        Side::Query,
        &data.queries(),
        settings,
        device,
        "queries",
    )?;
    timings.encode_queries = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let hits = search(&q_emb, &doc_emb, settings.k, settings.similarity)
        .map_err(|e| EvalError::Search(e.to_string()))?;
    timings.search = t.elapsed().as_secs_f64();
    Ok(data.finish(
        &hits,
        model,
        dataset,
        Some(settings.similarity),
        cache_hit,
        settings,
        timings,
    ))
}

/// Evaluates BM25 ([`Bm25Index`]) on the BEIR folder `dataset` exactly as a dense model: the
/// same judged queries, cut-offs and report. Indexing is timed as `encode_corpus`, retrieval as
/// `search`; the summary's `similarity` is empty.
pub fn evaluate_bm25(
    dataset: &Path,
    params: Bm25Params,
    model: &str,
    settings: &EvalSettings,
) -> Result<Outcome, EvalError> {
    let data = Loaded::read(dataset, settings)?;
    let mut timings = Timings::default();
    let t = Instant::now();
    let pb = bar(settings.progress, data.corpus.len(), "bm25 index");
    let index = Bm25Index::build(&data.corpus.texts().collect::<Vec<_>>(), params, |n| {
        pb.inc(n as u64)
    });
    pb.finish_and_clear();
    timings.encode_corpus = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let texts = data.queries();
    let pb = bar(settings.progress, texts.len(), "bm25 search");
    let hits = index.search_all(&texts, settings.k, |n| pb.inc(n as u64));
    pb.finish_and_clear();
    timings.search = t.elapsed().as_secs_f64();
    Ok(data.finish(&hits, model, dataset, None, false, settings, timings))
}

type Scored = (
    Vec<(String, Vec<(String, f32)>)>,
    BTreeMap<String, f64>,
    BTreeMap<String, BTreeMap<String, f64>>,
    usize,
);

fn score(
    query_ids: &[String],
    hits: &[Vec<Hit>],
    corpus: &Collection,
    qrels: &Qrels,
    settings: &EvalSettings,
) -> Scored {
    let run_list: Vec<(String, Vec<(String, f32)>)> = query_ids
        .iter()
        .zip(hits)
        .map(|(q, h)| {
            (
                q.clone(),
                h.iter()
                    .map(|hit| (corpus.id(hit.doc).to_string(), hit.score))
                    .collect(),
            )
        })
        .collect();
    let run: Run = run_list
        .iter()
        .map(|(q, h)| {
            (
                q.clone(),
                h.iter().map(|(d, s)| (d.clone(), *s as f64)).collect(),
            )
        })
        .collect::<HashMap<_, _>>();
    let mut cutoffs = vec![10, 100];
    cutoffs.extend(&settings.extra_cutoffs);
    cutoffs.sort_unstable();
    cutoffs.dedup();
    let ev = evaluate(qrels, &run, settings.relevance_level, &cutoffs);
    let rename = |m: &BTreeMap<String, f64>| -> BTreeMap<String, f64> {
        m.iter()
            .filter(|(k, _)| !k.starts_with("num_"))
            .map(|(k, v)| (pretty(k), *v))
            .collect()
    };
    let per_query = ev
        .per_query
        .iter()
        .map(|(q, m)| (q.clone(), rename(m)))
        .collect();
    (run_list, rename(&ev.mean), per_query, ev.per_query.len())
}
