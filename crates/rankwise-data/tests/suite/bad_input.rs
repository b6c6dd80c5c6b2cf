//! Malformed input gives an error naming the file, line and field, for each error class.

use crate::common;

use rankwise_data::{
    DataError, DatasetConfig, MultiLevelConfig, MultiLevelDataset, PassageSelection, SourceConfig,
};
use rankwise_files::{read_corpus, read_qrels, read_queries};

fn err_of<T: std::fmt::Debug, E: std::fmt::Display + std::fmt::Debug>(r: Result<T, E>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn malformed_json_names_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = common::write(
        dir.path(),
        "corpus.jsonl",
        "{\"_id\": \"a\", \"text\": \"x\"}\n{\"_id\": \"b\", \n",
    );
    let e = err_of(read_corpus(&p));
    assert!(e.contains("corpus.jsonl:2: field `json`"), "{e}");
}

#[test]
fn missing_and_mistyped_fields() {
    let dir = tempfile::tempdir().unwrap();
    let p = common::write(dir.path(), "c.jsonl", "{\"_id\": \"a\"}\n");
    assert!(err_of(read_corpus(&p)).contains("c.jsonl:1: field `text`: missing"));
    let p = common::write(dir.path(), "q.jsonl", "\n{\"text\": \"x\"}\n");
    assert!(err_of(read_queries(&p)).contains("q.jsonl:2: field `_id`: missing"));
    let p = common::write(dir.path(), "t.jsonl", "{\"_id\": \"a\", \"text\": 5}\n");
    assert!(err_of(read_corpus(&p)).contains("field `text`: expected a string, got a number"));
    let p = common::write(dir.path(), "i.jsonl", "{\"_id\": [1], \"text\": \"x\"}\n");
    assert!(err_of(read_corpus(&p)).contains("field `_id`: expected a string or integer id"));
    let p = common::write(dir.path(), "n.jsonl", "[1, 2]\n");
    assert!(err_of(read_corpus(&p)).contains("expected an object"));
}

#[test]
fn integer_ids_are_strings() {
    let dir = tempfile::tempdir().unwrap();
    let p = common::write(
        dir.path(),
        "c.jsonl",
        "{\"_id\": 12, \"text\": \"x\", \"title\": null}\n",
    );
    assert_eq!(read_corpus(&p).unwrap().get("12"), Some("x"));
}

#[test]
fn duplicate_ids() {
    let dir = tempfile::tempdir().unwrap();
    let p = common::write(
        dir.path(),
        "c.jsonl",
        "{\"_id\": \"a\", \"text\": \"x\"}\n{\"_id\": \"a\", \"text\": \"y\"}\n",
    );
    let e = err_of(read_corpus(&p));
    assert!(
        e.contains("c.jsonl:2: field `_id`: duplicate id \"a\""),
        "{e}"
    );
}

#[test]
fn qrels_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = common::write(dir.path(), "a.tsv", "query-id\tcorpus-id\tscore\nq\td\tx\n");
    assert!(err_of(read_qrels(&p)).contains("a.tsv:2: field `score`: not a number"));
    let p = common::write(dir.path(), "b.tsv", "query-id\tcorpus-id\tscore\nq\td\n");
    assert!(err_of(read_qrels(&p)).contains("b.tsv:2: field `line`: expected 3"));
    let p = common::write(
        dir.path(),
        "c.jsonl",
        "{\"query-id\": \"q\", \"corpus-id\": \"d\"}\n",
    );
    assert!(err_of(read_qrels(&p)).contains("c.jsonl:1: field `score`: missing"));
    let p = common::write(dir.path(), "d.tsv", "q 0 d 1\nq 0 e 2\n");
    assert_eq!(read_qrels(&p).unwrap().len(), 2, "TREC layout");
}

#[test]
fn gzip_input() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.jsonl.gz");
    let mut gz =
        flate2::write::GzEncoder::new(std::fs::File::create(&p).unwrap(), Default::default());
    gz.write_all(b"{\"_id\": \"a\", \"title\": \"t\", \"text\": \"x \"}\n")
        .unwrap();
    gz.finish().unwrap();
    assert_eq!(read_corpus(&p).unwrap().get("a"), Some("t x"));
}

fn load(sources: Vec<SourceConfig>) -> Result<MultiLevelDataset, DataError> {
    MultiLevelDataset::load(MultiLevelConfig {
        sources,
        group_size: 2,
        passage_selection_strategy: PassageSelection::Random,
        seed: 0,
    })
}

#[test]
fn unknown_ids_error_by_default_and_are_counted_when_skipped() {
    let dir = common::folder();
    let mut s = common::source(
        dir.path(),
        "a",
        &[
            ("q0", "d0", 1.0),
            ("q9", "d1", 1.0),
            ("q0", "zz", 1.0),
            ("q1", "d2", 1.0),
        ],
    );
    let e = err_of(load(vec![s.clone()]));
    assert!(
        e.contains("a.tsv: 2 judgement(s) reference unknown ids (first: line 3"),
        "{e}"
    );
    assert!(e.contains("query-id \"q9\""), "{e}");
    s.skip_missing = true;
    let d = load(vec![s]).unwrap();
    let r = d.reports()[0];
    assert_eq!((r.unknown_queries, r.unknown_docs, r.kept), (1, 1, 2));
}

#[test]
fn duplicate_judgement_non_integer_levels_and_empty_sources() {
    let dir = common::folder();
    let s = common::source(dir.path(), "dup", &[("q0", "d0", 1.0), ("q0", "d0", 2.0)]);
    assert!(
        err_of(load(vec![s])).contains("dup.tsv:3: field `corpus-id`: (q0, d0) is judged twice")
    );
    let s = common::source(dir.path(), "frac", &[("q0", "d0", 12.5)]);
    let e = err_of(load(vec![s]));
    assert!(
        e.contains("frac.tsv:2: field `score`: 12.5 is not an integer"),
        "{e}"
    );
    assert!(e.contains("sources[0].score_transform"), "{e}");
    let mut s = common::source(dir.path(), "empty", &[("q0", "d0", 1.0)]);
    s.min_score = Some(5.0);
    assert!(err_of(load(vec![s])).contains("empty dataset"));
    let mut s = common::source(dir.path(), "bad", &[("q0", "d0", 1.0)]);
    s.min_score = Some(2.0);
    s.max_score = Some(1.0);
    assert!(err_of(load(vec![s])).contains("`sources[0].max_score`"));
}

#[test]
fn config_errors_name_the_key_and_allowed_values() {
    let e = err_of(DatasetConfig::from_toml(
        "kind = \"multilevel\"\ngroup_size = 4\npassage_selection_strategy = \"best\"\nsources = []",
        std::path::Path::new("x.toml"),
    ));
    assert!(
        e.contains("passage_selection_strategy")
            && e.contains("random")
            && e.contains("most_relevant"),
        "{e}"
    );
    let e = err_of(DatasetConfig::from_toml(
        "kind = \"graded\"",
        std::path::Path::new("x.toml"),
    ));
    assert!(e.contains("multilevel") && e.contains("binary"), "{e}");
    let e = err_of(DatasetConfig::from_toml(
        "kind = \"binary\"\ngroup_size = 3\npositives = []\nnegatives = []\ncolour = 1",
        std::path::Path::new("x.toml"),
    ));
    assert!(e.contains("colour"), "{e}");
    let missing = common::folder();
    let s = SourceConfig::new(missing.path().join("nope.jsonl"), "q", "r");
    let e = err_of(load(vec![s]));
    assert!(e.contains("nope.jsonl"), "{e}");
}

/// Without the `polars` feature a parquet or CSV file is refused by name, not misread as JSONL.
#[cfg(not(feature = "polars"))]
#[test]
fn tables_need_the_polars_feature() {
    let dir = tempfile::tempdir().unwrap();
    let p = common::write(dir.path(), "corpus.parquet", "PAR1");
    let e = err_of(read_corpus(&p));
    assert!(
        e.contains("corpus.parquet:0: field `file`: reading .parquet files needs"),
        "{e}"
    );
    let p = common::write(dir.path(), "qrels.csv", "query-id,corpus-id,score\n");
    assert!(err_of(read_qrels(&p)).contains("`polars` feature"));
}

#[test]
fn invalid_utf8_names_the_line_and_crlf_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.jsonl");
    let mut bytes = b"{\"_id\": \"a\", \"text\": \"x\"}\r\n\r\n".to_vec();
    bytes.extend_from_slice(b"{\"_id\": \"b\", \"text\": \"\xff\"}\n");
    std::fs::write(&p, &bytes).unwrap();
    let e = err_of(read_corpus(&p));
    assert!(e.contains("c.jsonl:3: field `line`"), "{e}");
    std::fs::write(
        &p,
        b"{\"_id\": \"a\", \"text\": \"x\"}\r\n\r\n{\"_id\": 2, \"text\": \"y\"}",
    )
    .unwrap();
    let c = read_corpus(&p).unwrap();
    assert_eq!((c.get("a"), c.get("2")), (Some("x"), Some("y")));
}
