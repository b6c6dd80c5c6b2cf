//! Parquet and CSV input (feature `polars`): the same records as the JSONL/TSV readers, and
//! errors that name the file, the record and the column.
#![cfg(feature = "polars")]

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use rankwise_data::{MultiLevelConfig, MultiLevelDataset, PassageSelection, SourceConfig};
use rankwise_files::{collection_file, qrels_file, read_corpus, read_qrels, read_queries};

fn parquet(dir: &Path, name: &str, mut df: DataFrame) -> PathBuf {
    let p = dir.join(name);
    ParquetWriter::new(File::create(&p).unwrap())
        .finish(&mut df)
        .unwrap();
    p
}

fn csv(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn err_of<T: std::fmt::Debug, E: std::fmt::Display + std::fmt::Debug>(r: Result<T, E>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn parquet_records_match_the_jsonl_reader() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = parquet(
        dir.path(),
        "corpus.parquet",
        df!(
            "_id" => [1i64, 2, 30],
            "title" => [Some("Title"), None, Some("")],
            "text" => ["  body one ", "body two", "three"],
        )
        .unwrap(),
    );
    let jsonl = dir.path().join("corpus.jsonl");
    std::fs::write(
        &jsonl,
        "{\"_id\": 1, \"title\": \"Title\", \"text\": \"  body one \"}\n\
         {\"_id\": 2, \"title\": null, \"text\": \"body two\"}\n\
         {\"_id\": 30, \"title\": \"\", \"text\": \"three\"}\n",
    )
    .unwrap();
    let (a, b) = (read_corpus(&corpus).unwrap(), read_corpus(&jsonl).unwrap());
    assert_eq!(a.ids().collect::<Vec<_>>(), b.ids().collect::<Vec<_>>());
    assert_eq!(a.texts().collect::<Vec<_>>(), b.texts().collect::<Vec<_>>());
    assert_eq!(a.get("1"), Some("Title   body one"));
    assert_eq!(a.get("30"), Some("three"));

    let queries = parquet(
        dir.path(),
        "queries.parquet",
        df!("_id" => ["q1", "q2"], "text" => ["first?", " second "]).unwrap(),
    );
    let q = read_queries(&queries).unwrap();
    assert_eq!(q.get("q2"), Some("second"));

    let qrels = parquet(
        dir.path(),
        "qrels.parquet",
        df!("query-id" => ["q1", "q2"], "corpus-id" => [1i64, 30], "score" => [2i64, 0]).unwrap(),
    );
    let rows = read_qrels(&qrels).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (
            rows[1].query_id.as_str(),
            rows[1].doc_id.as_str(),
            rows[1].score,
            rows[1].line
        ),
        ("q2", "30", 0.0, 2)
    );
}

#[test]
fn csv_keeps_ids_as_written_and_reads_quoted_text() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = csv(
        dir.path(),
        "corpus.csv",
        "_id,title,text\n007,\"A, B\",\"said \"\"hi\"\", then left\"\n8,,plain\n",
    );
    let c = read_corpus(&corpus).unwrap();
    assert_eq!(c.ids().collect::<Vec<_>>(), ["007", "8"]);
    assert_eq!(c.get("007"), Some("A, B said \"hi\", then left"));
    assert_eq!(c.get("8"), Some("plain"));
    let qrels = csv(
        dir.path(),
        "q.csv",
        "query_id,corpus_id,score\nq1,007,1\nq1,8,0.5\n",
    );
    let rows = read_qrels(&qrels).unwrap();
    assert_eq!(rows[0].doc_id, "007");
    assert_eq!((rows[1].score, rows[1].line), (0.5, 3));
}

#[test]
fn bad_tables_name_file_record_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = parquet(
        dir.path(),
        "c.parquet",
        df!("_id" => ["a"], "body" => ["x"]).unwrap(),
    );
    let e = err_of(read_corpus(&p));
    assert!(
        e.contains("c.parquet:0: field `text`: missing column (the file has: _id, body)"),
        "{e}"
    );

    let p = parquet(
        dir.path(),
        "n.parquet",
        df!("_id" => [Some("a"), None], "text" => ["x", "y"]).unwrap(),
    );
    let e = err_of(read_corpus(&p));
    assert!(
        e.contains("n.parquet:2: field `_id`: missing (null)"),
        "{e}"
    );

    let p = parquet(
        dir.path(),
        "f.parquet",
        df!("_id" => [1.5f64], "text" => ["x"]).unwrap(),
    );
    let e = err_of(read_corpus(&p));
    assert!(
        e.contains("field `_id`: expected a string or integer id column, got f64"),
        "{e}"
    );

    let p = parquet(
        dir.path(),
        "d.parquet",
        df!("_id" => ["a", "b", "a"], "text" => ["x", "y", "z"]).unwrap(),
    );
    let e = err_of(read_corpus(&p));
    assert!(e.contains("d.parquet:3: field `_id`: duplicate id"), "{e}");

    let p = csv(
        dir.path(),
        "s.csv",
        "query-id,corpus-id,score\nq,d,1\nq,e,high\n",
    );
    let e = err_of(read_qrels(&p));
    assert!(
        e.contains("s.csv:3: field `score`: not a number: \"high\""),
        "{e}"
    );

    let p = parquet(
        dir.path(),
        "e.parquet",
        df!("query-id" => ["q"], "corpus-id" => [""], "score" => [1i64]).unwrap(),
    );
    let e = err_of(read_qrels(&p));
    assert!(
        e.contains("e.parquet:1: field `corpus-id`: empty id"),
        "{e}"
    );

    let p = csv(dir.path(), "broken.parquet", "not parquet at all");
    let e = err_of(read_corpus(&p));
    assert!(e.contains("broken.parquet:0: field `file`"), "{e}");
}

/// Cranfield (graded 0–4) converted to parquet loads into the same multi-level dataset as the
/// shared JSONL/TSV files.
#[test]
fn shared_collection_as_parquet_gives_the_same_dataset() {
    let folder = rankwise_assets::dataset("cranfield").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let corpus = read_corpus(&collection_file(&folder, "corpus").unwrap()).unwrap();
    let queries = read_queries(&collection_file(&folder, "queries").unwrap()).unwrap();
    let qrels = read_qrels(&qrels_file(&folder, "test").unwrap()).unwrap();
    let ids = |c: &rankwise_files::Collection| c.ids().map(String::from).collect::<Vec<_>>();
    let texts = |c: &rankwise_files::Collection| c.texts().map(String::from).collect::<Vec<_>>();
    parquet(
        dir.path(),
        "corpus.parquet",
        df!("_id" => ids(&corpus), "text" => texts(&corpus)).unwrap(),
    );
    parquet(
        dir.path(),
        "queries.parquet",
        df!("_id" => ids(&queries), "text" => texts(&queries)).unwrap(),
    );
    std::fs::create_dir(dir.path().join("qrels")).unwrap();
    parquet(
        dir.path(),
        "qrels/test.parquet",
        df!(
            "query-id" => qrels.iter().map(|r| r.query_id.clone()).collect::<Vec<_>>(),
            "corpus-id" => qrels.iter().map(|r| r.doc_id.clone()).collect::<Vec<_>>(),
            "score" => qrels.iter().map(|r| r.score as i64).collect::<Vec<_>>(),
        )
        .unwrap(),
    );
    assert!(
        collection_file(dir.path(), "corpus")
            .unwrap()
            .ends_with("corpus.parquet")
    );
    assert!(
        qrels_file(dir.path(), "test")
            .unwrap()
            .ends_with("qrels/test.parquet")
    );

    let load = |folder: &Path| {
        MultiLevelDataset::load(MultiLevelConfig {
            sources: vec![SourceConfig::beir(folder, "test").unwrap()],
            group_size: 4,
            passage_selection_strategy: PassageSelection::MostRelevant,
            seed: 0,
        })
        .unwrap()
    };
    let (a, b) = (load(&folder), load(dir.path()));
    assert_eq!(a.len(), b.len());
    assert_eq!(a.reports()[0].rows, qrels.len());
    assert_eq!(b.reports()[0].rows, qrels.len());
    use rankwise_data::GroupedDataset;
    for i in 0..a.len() {
        assert_eq!(a.item(i, 0), b.item(i, 0), "item {i}");
    }
}
