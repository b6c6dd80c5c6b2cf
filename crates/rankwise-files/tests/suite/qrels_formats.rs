//! The qrels layouts the reference (Trove) reads: grouped JSONL lines, delimited files with a
//! header of known names in any order or with no header, and the errors for the rest.

use std::path::Path;

use rankwise_files::read_qrels;

fn rows(path: &Path) -> Vec<(String, String, f64)> {
    read_qrels(path)
        .unwrap()
        .into_iter()
        .map(|r| (r.query_id, r.doc_id, r.score))
        .collect()
}

fn row(q: &str, d: &str, s: f64) -> (String, String, f64) {
    (q.into(), d.into(), s)
}

#[test]
fn grouped_jsonl_becomes_one_row_per_document() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("train_qrels.jsonl");
    std::fs::write(
        &p,
        "{\"qid\": \"q1\", \"docid\": [\"d1\", \"d2\", 7], \"score\": [1, 2, 3.5]}\n\
         {\"qid\": 2, \"docid\": \"d9\", \"score\": 1}\n\
         {\"query-id\": \"q3\", \"corpus-id\": \"d3\", \"score\": 0}\n",
    )
    .unwrap();
    assert_eq!(
        rows(&p),
        vec![
            row("q1", "d1", 1.0),
            row("q1", "d2", 2.0),
            row("q1", "7", 3.5),
            row("2", "d9", 1.0),
            row("q3", "d3", 0.0),
        ]
    );
}

#[test]
fn grouped_jsonl_errors_name_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("q.jsonl");
    for (text, field) in [
        (
            "{\"qid\": \"q\", \"docid\": [\"a\", \"b\"], \"score\": [1]}",
            "score",
        ),
        (
            "{\"qid\": \"q\", \"docid\": [\"a\"], \"score\": 1}",
            "score",
        ),
        (
            "{\"qid\": \"q\", \"docid\": [\"a\", \"\"], \"score\": [1, 2]}",
            "docid[1]",
        ),
        (
            "{\"qid\": \"q\", \"docid\": [\"a\"], \"score\": [\"x\"]}",
            "score[0]",
        ),
    ] {
        std::fs::write(
            &p,
            format!("{{\"qid\": \"q0\", \"docid\": [\"z\"], \"score\": [1]}}\n{text}\n"),
        )
        .unwrap();
        let e = read_qrels(&p).unwrap_err().to_string();
        assert!(
            e.contains(":2:") && e.contains(&format!("`{field}`")),
            "{text}: {e}"
        );
    }
}

#[test]
fn headers_of_known_names_in_any_order_or_none() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("q.tsv");
    let want = vec![row("q1", "d1", 2.0), row("q2", "d2", 0.0)];
    for text in [
        "query-id\tcorpus-id\tscore\nq1\td1\t2\nq2\td2\t0\n",
        "qid\tdocid\tscore\nq1\td1\t2\nq2\td2\t0\n",
        "docid\tscore\tquery_id\nd1\t2\tq1\nd2\t0\tq2\n",
        "q1\td1\t2\nq2\td2\t0\n",
        "q1 0 d1 2\nq2 0 d2 0\n",
    ] {
        std::fs::write(&p, text).unwrap();
        assert_eq!(rows(&p), want, "{text:?}");
    }
    std::fs::write(&p, "qid\tpassage\tscore\nq1\td1\t2\n").unwrap();
    let e = read_qrels(&p).unwrap_err().to_string();
    assert!(e.contains(":1:") && e.contains("`header`"), "{e}");
}
