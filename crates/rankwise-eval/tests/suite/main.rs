//! Tests of search, metrics, BM25 and the embedding cache against their references. Each file is a module of this one test binary (compiled and linked once).

mod bm25;
mod cache;
mod pytrec_eval;
mod search;
