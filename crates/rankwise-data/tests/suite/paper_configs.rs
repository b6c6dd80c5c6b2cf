//! The paper's four data configurations (`datasets/configs/*.toml`) load on a stand-in data
//! folder with the same layout and produce items with the paper's group sizes and labels.

use crate::common;

use std::collections::HashSet;
use std::path::Path;

use rankwise_data::{DatasetConfig, GroupedDataset};

/// The published layout for 5 queries: `msmarco/` (real positives), Trove's grouped BM25 qrels
/// (rank as score) and the synthetic corpus with headerless qrels (levels 3/2/1/0).
fn stand_in(root: &Path) {
    std::fs::create_dir_all(root.join("configs")).unwrap();
    let queries: String = (0..5)
        .map(|q| format!("{{\"_id\": \"{q}\", \"text\": \"query {q}\"}}\n"))
        .collect();
    let mut corpus = String::new();
    let mut train = String::from("query-id\tcorpus-id\tscore\n");
    let mut bm25 = String::new();
    for q in 0..5 {
        corpus.push_str(&format!(
            "{{\"_id\": \"p{q}\", \"title\": \"\", \"text\": \"positive {q}\"}}\n"
        ));
        train.push_str(&format!("{q}\tp{q}\t1\n"));
        for n in 0..4 {
            corpus.push_str(&format!(
                "{{\"_id\": \"n{q}_{n}\", \"text\": \"bm25 {q} {n}\"}}\n"
            ));
        }
        bm25.push_str(&format!(
            "{{\"qid\": \"{q}\", \"docid\": [\"n{q}_0\", \"n{q}_1\", \"n{q}_2\", \"n{q}_3\"], \"score\": [1, 2, 3, 4]}}\n"
        ));
    }
    common::write(root, "msmarco/corpus.jsonl", &corpus);
    common::write(root, "msmarco/queries.jsonl", &queries);
    common::write(root, "msmarco/qrels/train.tsv", &train);
    common::write(
        root,
        "sycl/real_data/bm25_top_docs/train_qrels.jsonl",
        &bm25,
    );
    let mut corpus = String::new();
    let mut qrels = String::new();
    for q in 0..5 {
        for level in 0..4 {
            corpus.push_str(&format!(
                "{{\"_id\": \"{q}-L{level}\", \"text\": \"synthetic {q} {level}\"}}\n"
            ));
            qrels.push_str(&format!("{q}\t{q}-L{level}\t{level}\n"));
        }
    }
    common::write(root, "sycl/llama33_70b/corpus.jsonl", &corpus);
    common::write(root, "sycl/llama33_70b/qrels/train.tsv", &qrels);
}

fn load(root: &Path, name: &str) -> rankwise_data::AnyDataset {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../datasets/configs")
        .join(name);
    let text = std::fs::read_to_string(&shipped).unwrap();
    let config = DatasetConfig::from_toml(&text, &shipped)
        .unwrap()
        .resolved(&root.join("configs"));
    config.load().unwrap()
}

#[test]
fn paper_configurations() {
    let dir = tempfile::tempdir().unwrap();
    stand_in(dir.path());

    let d = load(dir.path(), "real_binary.toml");
    assert_eq!((d.len(), d.group_size()), (5, 3));
    let item = d.item(0, 0);
    assert_eq!(item.labels, vec![1, 0, 0]);
    assert!(item.passage_ids[0].starts_with('p') && item.passage_ids[1].starts_with('n'));

    let d = load(dir.path(), "synth_binary.toml");
    let item = d.item(2, 1);
    assert_eq!(item.labels, vec![1, 0, 0]);
    assert!(item.passage_ids[0].ends_with("L3") || item.passage_ids[0].ends_with("L2"));
    assert_eq!(
        item.passage_ids[1..].iter().collect::<HashSet<_>>(),
        HashSet::from([&"2-L1".to_string(), &"2-L0".to_string()])
    );

    let d = load(dir.path(), "synth_multilevel.toml");
    let item = d.item(3, 0);
    let mut labels = item.labels.clone();
    labels.sort();
    assert_eq!(labels, vec![0, 1, 2, 3]);
    for (id, l) in item.passage_ids.iter().zip(&item.labels) {
        assert_eq!(id, &format!("3-L{l}"));
    }

    let d = load(dir.path(), "synth_plus_real.toml");
    assert_eq!(d.group_size(), 7);
    for epoch in 0..3 {
        let item = d.item(1, epoch);
        let mut by_kind: Vec<(char, i64)> = item
            .passage_ids
            .iter()
            .zip(&item.labels)
            .map(|(id, l)| {
                (
                    if id.contains('-') {
                        's'
                    } else {
                        id.chars().next().unwrap()
                    },
                    *l,
                )
            })
            .collect();
        by_kind.sort();
        assert_eq!(
            by_kind,
            vec![
                ('n', 1),
                ('n', 1),
                ('p', 3),
                ('s', 0),
                ('s', 1),
                ('s', 2),
                ('s', 3)
            ],
            "epoch {epoch}"
        );
    }
}
