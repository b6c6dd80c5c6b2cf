//! BM25 against bm25s (Lucene-style, k1 1.2, b 0.75, Snowball English, stop words): nDCG@10
//! within 0.01 on SciFact, Cranfield and MED, and the same top documents for most queries
//! (`tests/fixtures/bm25s_reference.json`, written by `scripts/bm25_reference.py`).

use rankwise_eval::{Bm25Params, EvalSettings, evaluate_bm25};
use serde_json::Value;

fn reference() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/bm25s_reference.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn check(name: &str) {
    let expected = &reference()["collections"][name];
    let dataset = rankwise_assets::dataset(name).expect("shared collection");
    let settings = EvalSettings {
        progress: false,
        ..EvalSettings::default()
    };
    let outcome = evaluate_bm25(&dataset, Bm25Params::default(), "bm25", &settings).unwrap();
    let s = &outcome.summary;
    assert_eq!(
        s.num_queries as u64,
        expected["num_queries"].as_u64().unwrap()
    );
    // The same first document for nearly every query, and mostly the same top 10.
    let run: std::collections::HashMap<&str, Vec<&str>> = outcome
        .run
        .iter()
        .map(|(q, h)| (q.as_str(), h.iter().map(|d| d.0.as_str()).collect()))
        .collect();
    let (mut first, mut overlap, mut n) = (0, 0.0, 0);
    for (q, docs) in expected["top10"].as_object().unwrap() {
        let theirs: Vec<&str> = docs
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap())
            .collect();
        let ours = &run[q.as_str()];
        first += usize::from(ours.first() == theirs.first());
        overlap += ours.iter().take(10).filter(|d| theirs.contains(d)).count() as f64
            / theirs.len() as f64;
        n += 1;
    }
    let overlap = overlap / n as f64;
    eprintln!("{name}: same first document {first}/{n}, top-10 overlap {overlap:.3}");
    // nDCG@10 within 0.01 (the parity bound); MRR@10 and Recall@100 within 0.02, since one
    // query of MED's 30 moves MRR by up to 0.017. The stemmers differ slightly: rust-stemmers
    // implements Snowball's English of 2006, PyStemmer 3.1 Snowball 3.0 (which keeps "organic",
    // where the older one gives "organ"); that is MED query 18's swapped first two documents.
    for (ours, key, bound) in [
        (s.ndcg_10, "ndcg@10", 0.01),
        (s.mrr_10, "mrr@10", 0.02),
        (s.recall_100, "recall@100", 0.02),
    ] {
        let theirs = expected[key].as_f64().unwrap();
        eprintln!("{name} {key}: rankwise {ours:.4} bm25s {theirs:.4}");
        assert!(
            (ours - theirs).abs() <= bound,
            "{name} {key}: {ours:.4} vs bm25s {theirs:.4}"
        );
    }
    assert!(
        first * 10 >= n * 9,
        "{name}: first document agrees for {first}/{n}"
    );
    assert!(overlap >= 0.9, "{name}: top-10 overlap {overlap:.3}");
}

#[test]
fn scifact_matches_bm25s() {
    check("scifact");
}

#[test]
fn cranfield_matches_bm25s() {
    check("cranfield");
}

#[test]
fn med_matches_bm25s() {
    check("med");
}
