//! Exact search + metrics over a synthetic collection (default 100 000 × 384 documents, 1 000
//! queries, k = 100), against numpy (matmul + argpartition + sort of the top k) run by
//! `scripts/bench_search_numpy.py` on the same data in the same run when Python with numpy is
//! available (`RANKWISE_PYTHON` picks the interpreter). Prints both times and the ratio.
//!
//! `RANKWISE_BENCH_DOCS`, `RANKWISE_BENCH_QUERIES` change the sizes.

use std::collections::HashMap;
use std::io::Write;
use std::time::Instant;

use rankwise_eval::{Embeddings, Similarity, evaluate, search};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 40) as f32 / (1u64 << 23) as f32) - 1.0
        })
        .collect()
}

fn main() {
    let (nd, nq, dim, k) = (
        env("RANKWISE_BENCH_DOCS", 100_000),
        env("RANKWISE_BENCH_QUERIES", 1_000),
        384,
        100,
    );
    let docs = Embeddings::new(nd, dim, values(nd * dim, 1)).unwrap();
    let queries = Embeddings::new(nq, dim, values(nq * dim, 2)).unwrap();
    // Qrels: 5 random relevant documents per query.
    let mut qrels: HashMap<String, HashMap<String, i64>> = HashMap::new();
    for q in 0..nq {
        let m = qrels.entry(format!("q{q}")).or_default();
        for j in 0..5 {
            m.insert(
                format!("d{}", (q * 7919 + j * 104_729) % nd),
                1 + (j % 3) as i64,
            );
        }
    }
    let mut times = Vec::new();
    let mut checksum = 0.0;
    for _ in 0..3 {
        let t = Instant::now();
        let hits = search(&queries, &docs, k, Similarity::Dot).unwrap();
        let run: HashMap<String, Vec<(String, f64)>> = hits
            .iter()
            .enumerate()
            .map(|(q, h)| {
                (
                    format!("q{q}"),
                    h.iter()
                        .map(|x| (format!("d{}", x.doc), x.score as f64))
                        .collect(),
                )
            })
            .collect();
        let ev = evaluate(&qrels, &run, 1, &[10, 100]);
        times.push(t.elapsed().as_secs_f64());
        checksum = ev.mean["ndcg_cut_10"] + hits[0][0].score as f64;
    }
    times.sort_by(f64::total_cmp);
    let ours = times[1];
    println!(
        "rankwise search+metrics: {nd} x {dim} docs, {nq} queries, k={k}: median {ours:.3} s (check {checksum:.6})"
    );

    let python = std::env::var("RANKWISE_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scripts/bench_search_numpy.py");
    let dir = std::env::temp_dir().join(format!("rankwise-search-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, e) in [("docs.f32", &docs), ("queries.f32", &queries)] {
        let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join(name)).unwrap());
        for x in &e.data {
            f.write_all(&x.to_le_bytes()).unwrap();
        }
    }
    let out = std::process::Command::new(&python)
        .arg(&script)
        .arg(&dir)
        .args([
            nd.to_string(),
            nq.to_string(),
            dim.to_string(),
            k.to_string(),
        ])
        .output();
    let _ = std::fs::remove_dir_all(&dir);
    match out {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            let numpy: f64 = text
                .trim()
                .lines()
                .last()
                .and_then(|l| l.parse().ok())
                .expect("seconds");
            println!("numpy matmul+argpartition+sort: median {numpy:.3} s");
            println!(
                "ratio numpy / rankwise: {:.2}x (>1 means rankwise is faster)",
                numpy / ours
            );
        }
        Ok(o) => println!(
            "numpy reference not run: {}",
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ),
        Err(e) => println!("numpy reference not run: {python}: {e}"),
    }
}
