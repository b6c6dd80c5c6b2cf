//! BM25 indexing and top-100 retrieval over a BEIR collection (default: the shared SciFact,
//! 5 183 abstracts and its 1 109 queries; `RANKWISE_BENCH_REPEAT` repeats the corpus to make it
//! larger), against bm25s run by `scripts/bench_bm25_bm25s.py` on the same collection in the same
//! run when Python with bm25s and PyStemmer is available (`RANKWISE_PYTHON` picks the
//! interpreter). Prints both times and the ratios. `RANKWISE_BENCH_DATASET` names another
//! collection.

use std::time::Instant;

use rankwise_eval::{Bm25Index, Bm25Params};
use rankwise_files::{collection_file, read_corpus, read_queries};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let name = std::env::var("RANKWISE_BENCH_DATASET").unwrap_or_else(|_| "scifact".into());
    let repeat: usize = std::env::var("RANKWISE_BENCH_REPEAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let folder = rankwise_assets::dataset(&name).expect("collection");
    let corpus = read_corpus(&collection_file(&folder, "corpus").unwrap()).unwrap();
    let queries = read_queries(&collection_file(&folder, "queries").unwrap()).unwrap();
    let texts: Vec<&str> = (0..repeat).flat_map(|_| corpus.texts()).collect();
    let qs: Vec<&str> = queries.texts().collect();
    let (mut index_t, mut search_t) = (Vec::new(), Vec::new());
    let mut check = 0.0;
    for _ in 0..3 {
        let t = Instant::now();
        let index = Bm25Index::build(&texts, Bm25Params::default(), |_| {});
        index_t.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let hits = index.search_all(&qs, 100, |_| {});
        search_t.push(t.elapsed().as_secs_f64());
        check = hits.iter().map(|h| h.len()).sum::<usize>() as f64 + hits[0][0].score as f64;
    }
    let (ours_index, ours_search) = (median(index_t), median(search_t));
    println!(
        "rankwise bm25 on {name} ×{repeat}: {} docs, {} queries, k=100: index {ours_index:.3} s, search {ours_search:.3} s (check {check:.4})",
        texts.len(),
        qs.len()
    );
    let python = std::env::var("RANKWISE_PYTHON").unwrap_or_else(|_| "python3".into());
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/bench_bm25_bm25s.py");
    let out = std::process::Command::new(&python)
        .arg(&script)
        .arg(&folder)
        .arg(repeat.to_string())
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            let v: Vec<f64> = text
                .trim()
                .lines()
                .last()
                .unwrap_or("")
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            let (index, search) = (v[0], v[1]);
            println!("bm25s: index {index:.3} s, search {search:.3} s");
            println!(
                "ratio bm25s / rankwise: index {:.2}x, search {:.2}x (>1 means rankwise is faster)",
                index / ours_index,
                search / ours_search
            );
        }
        Ok(o) => println!(
            "bm25s reference not run: {}",
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ),
        Err(e) => println!("bm25s reference not run: {python}: {e}"),
    }
}
