//! Every measure, per query and averaged, against pytrec_eval (`reference/metrics`), 1e-9.

use std::path::PathBuf;

use rankwise_eval::{evaluate, read_qrels, read_run};
use serde_json::Value;

const CUTOFFS: [usize; 2] = [10, 100];

fn dir() -> PathBuf {
    rankwise_assets::reference("metrics").expect("metric fixtures")
}

fn check(set: &str, qrels_file: &str) {
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(dir().join(format!("expected.{set}.json"))).unwrap(),
    )
    .unwrap();
    let qrels = read_qrels(&dir().join(qrels_file)).unwrap();
    let run = read_run(&dir().join(expected["run"].as_str().unwrap())).unwrap();
    let mut blocks = 0;
    for (key, block) in expected.as_object().unwrap() {
        let Some(level) = key.strip_prefix("relevance_level_") else {
            continue;
        };
        blocks += 1;
        let eval = evaluate(&qrels, &run, level.parse().unwrap(), &CUTOFFS);
        let per_query = block["per_query"].as_object().unwrap();
        assert_eq!(
            eval.per_query.len(),
            per_query.len(),
            "{set}@{level}: evaluated queries"
        );
        assert_eq!(
            eval.per_query.len() as u64,
            block["evaluated_queries"].as_u64().unwrap()
        );
        let missing: Vec<String> = block["queries_in_qrels_missing_from_run"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        let mut missing_sorted = missing.clone();
        missing_sorted.sort();
        assert_eq!(eval.missing_from_run, missing_sorted, "{set}@{level}");
        let mut compared = 0;
        for (qid, measures) in per_query {
            for (name, want) in measures.as_object().unwrap() {
                if name == "mrr_cut_10_file_order" {
                    continue; // the BEIR stable-sort variant, not trec_eval's ranking
                }
                let got = eval.per_query[qid][name];
                let want = want.as_f64().unwrap();
                assert!(
                    (got - want).abs() <= 1e-9,
                    "{set}@{level} query {qid} {name}: {got} vs {want}"
                );
                compared += 1;
            }
        }
        assert!(compared > 0);
        for (mean_key, ours) in [
            ("mean_over_evaluated_queries", &eval.mean),
            (
                "mean_over_all_qrels_queries_missing_count_as_zero",
                &eval.mean_all_qrels,
            ),
        ] {
            for (name, want) in block[mean_key].as_object().unwrap() {
                if name == "mrr_cut_10_file_order" {
                    continue;
                }
                let want = want.as_f64().unwrap();
                assert!(
                    (ours[name] - want).abs() <= 1e-9,
                    "{set}@{level} {mean_key} {name}: {} vs {want}",
                    ours[name]
                );
            }
        }
    }
    assert!(blocks >= 1);
}

#[test]
fn cranfield_bm25_graded_missing_and_extra_queries() {
    check("cranfield.bm25", "cranfield.qrels.tsv");
    check("cranfield.bm25", "cranfield.qrels.trec");
}

#[test]
fn cranfield_ties_float32_and_docid_descending() {
    check("cranfield.ties", "cranfield.qrels.tsv");
}

#[test]
fn scifact_minilm_binary() {
    check("scifact.minilm", "scifact.qrels.tsv");
}

#[test]
fn malformed_files_name_file_line_and_field() {
    let tmp = std::env::temp_dir().join(format!("rankwise-eval-bad-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let run = tmp.join("bad.run");
    std::fs::write(&run, "1 Q0 d1 1 0.5 t\n1 Q0 d2 2 high t\n").unwrap();
    let err = read_run(&run).unwrap_err().to_string();
    assert!(err.contains("bad.run:2") && err.contains("score"), "{err}");
    std::fs::write(&run, "1 Q0 d1 1 0.5 t\n1 Q0 d1 2 0.4 t\n").unwrap();
    let err = read_run(&run).unwrap_err().to_string();
    assert!(err.contains("bad.run:2") && err.contains("twice"), "{err}");
    let qrels = tmp.join("bad.tsv");
    std::fs::write(&qrels, "query-id\tcorpus-id\tscore\n1\td1\t1\n1\td2\n").unwrap();
    let err = read_qrels(&qrels).unwrap_err().to_string();
    assert!(err.contains("bad.tsv:3") && err.contains("fields"), "{err}");
    std::fs::write(&qrels, "query-id\tcorpus-id\tscore\n1\td1\tyes\n").unwrap();
    let err = read_qrels(&qrels).unwrap_err().to_string();
    assert!(err.contains("bad.tsv:2") && err.contains("score"), "{err}");
    std::fs::remove_dir_all(&tmp).unwrap();
}
