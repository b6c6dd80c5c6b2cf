//! Exact top-k dense search: blocked matrix products (the workspace's one GEMM,
//! [`rankwise_encoder::kernels::sgemm`] over the `gemm` crate) and a bounded min-heap per query,
//! parallel over query blocks (rayon).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rankwise_encoder::kernels::sgemm;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Row-major f32 embeddings `[rows, dim]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    /// Number of vectors.
    pub rows: usize,
    /// Dimension.
    pub dim: usize,
    /// `rows * dim` values.
    pub data: Vec<f32>,
}

/// Search inputs that cannot be searched.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SearchError {
    /// Query and document dimensions differ, or a buffer has the wrong length.
    #[error("dimension mismatch: {0}")]
    Dims(String),
    /// No documents or no queries.
    #[error("nothing to search: {0}")]
    Empty(&'static str),
    /// A vector holds NaN or infinity.
    #[error("{what} embedding {row} is not finite")]
    NonFinite {
        /// `query` or `document`.
        what: &'static str,
        /// Row index.
        row: usize,
    },
}

impl Embeddings {
    /// Wraps `data`; its length must be `rows * dim`.
    pub fn new(rows: usize, dim: usize, data: Vec<f32>) -> Result<Self, SearchError> {
        if data.len() != rows * dim {
            return Err(SearchError::Dims(format!(
                "{} values for {rows} x {dim} embeddings",
                data.len()
            )));
        }
        Ok(Self { rows, dim, data })
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// A copy with every row scaled to unit L2 norm (zero rows stay zero).
    pub fn normalized(&self) -> Self {
        let mut out = self.clone();
        out.data.par_chunks_mut(self.dim.max(1)).for_each(|row| {
            let n = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            if n > 0.0 {
                row.iter_mut().for_each(|x| *x /= n);
            }
        });
        out
    }

    fn check_finite(&self, what: &'static str) -> Result<(), SearchError> {
        match self.data.iter().position(|x| !x.is_finite()) {
            Some(i) => Err(SearchError::NonFinite {
                what,
                row: i / self.dim.max(1),
            }),
            None => Ok(()),
        }
    }
}

/// Scoring function.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum Similarity {
    /// Inner product (the paper's setting).
    #[default]
    Dot,
    /// Cosine: inner product of L2-normalised vectors.
    Cosine,
}

/// One retrieved document.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// Row of the document in the corpus embeddings.
    pub doc: usize,
    /// Similarity.
    pub score: f32,
}

/// Heap entry ordered so that the *worst* hit is the heap's maximum: lower score is worse;
/// on equal scores the higher document index is worse (deterministic results).
#[derive(Clone, Copy, PartialEq)]
struct Worst(Hit);

impl Eq for Worst {}
impl Ord for Worst {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .0
            .score
            .total_cmp(&self.0.score)
            .then(self.0.doc.cmp(&other.0.doc))
    }
}
impl PartialOrd for Worst {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Bounded top-k collector.
struct TopK {
    k: usize,
    heap: BinaryHeap<Worst>,
}

impl TopK {
    fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    #[inline]
    fn push(&mut self, doc: usize, score: f32) {
        if self.heap.len() < self.k {
            self.heap.push(Worst(Hit { doc, score }));
        } else if let Some(worst) = self.heap.peek()
            && Worst(Hit { doc, score }) < *worst
        {
            self.heap.pop();
            self.heap.push(Worst(Hit { doc, score }));
        }
    }

    fn into_sorted(self) -> Vec<Hit> {
        // Ascending by `Worst` = best first.
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|w| w.0)
            .collect()
    }
}

/// Queries per block (rows of one sgemm).
const QUERY_BLOCK: usize = 64;
/// Documents per block (columns of one sgemm); the block's scores stay in cache.
const DOC_BLOCK: usize = 1024;

/// The `k` best documents for every query, best first (ties: lower document row first).
pub fn search(
    queries: &Embeddings,
    docs: &Embeddings,
    k: usize,
    similarity: Similarity,
) -> Result<Vec<Vec<Hit>>, SearchError> {
    if queries.dim != docs.dim {
        return Err(SearchError::Dims(format!(
            "queries have dimension {}, documents {}",
            queries.dim, docs.dim
        )));
    }
    if docs.rows == 0 {
        return Err(SearchError::Empty("the corpus has no embeddings"));
    }
    if queries.rows == 0 {
        return Err(SearchError::Empty("there are no query embeddings"));
    }
    queries.check_finite("query")?;
    docs.check_finite("document")?;
    let (q_norm, d_norm);
    let (queries, docs) = match similarity {
        Similarity::Dot => (queries, docs),
        Similarity::Cosine => {
            q_norm = queries.normalized();
            d_norm = docs.normalized();
            (&q_norm, &d_norm)
        }
    };
    let dim = queries.dim;
    let k = k.min(docs.rows);
    let results: Vec<Vec<Vec<Hit>>> = queries
        .data
        .par_chunks(QUERY_BLOCK * dim)
        .map(|qblock| {
            let qb = qblock.len() / dim;
            let mut tops: Vec<TopK> = (0..qb).map(|_| TopK::new(k)).collect();
            let mut scores = vec![0f32; qb * DOC_BLOCK];
            for start in (0..docs.rows).step_by(DOC_BLOCK) {
                let db = DOC_BLOCK.min(docs.rows - start);
                let dblock = &docs.data[start * dim..(start + db) * dim];
                // scores [qb × db] = qblock [qb × dim] · dblockᵀ [dim × db].
                sgemm(
                    qb,
                    dim,
                    db,
                    1.0,
                    (qblock, dim as isize, 1),
                    (dblock, 1, dim as isize),
                    (&mut scores[..qb * db], db as isize, 1),
                );
                for (q, top) in tops.iter_mut().enumerate() {
                    for (j, &s) in scores[q * db..(q + 1) * db].iter().enumerate() {
                        top.push(start + j, s);
                    }
                }
            }
            tops.into_iter().map(TopK::into_sorted).collect()
        })
        .collect();
    Ok(results.into_iter().flatten().collect())
}
