//! The shared SciFact and Cranfield (graded 0–4) collections load into both dataset kinds, and
//! the counts match the files (counted here independently, line by line).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rankwise_data::{
    BinaryConfig, BinaryDataset, GroupedDataset, MultiLevelConfig, MultiLevelDataset,
    PassageSelection, SourceConfig,
};
use rankwise_files::{read_corpus, read_queries};

/// (query, doc, grade) rows of a BEIR qrels TSV, counted with plain string splitting.
fn rows(path: &Path) -> Vec<(String, String, i64)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                f[0].to_string(),
                f[1].to_string(),
                f[2].trim().parse().unwrap(),
            )
        })
        .collect()
}

fn nonblank_lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count()
}

fn check(name: &str, split: &str) {
    let folder = rankwise_assets::dataset(name).unwrap();
    let corpus = read_corpus(&folder.join("corpus.jsonl")).unwrap();
    let queries = read_queries(&folder.join("queries.jsonl")).unwrap();
    assert_eq!(corpus.len(), nonblank_lines(&folder.join("corpus.jsonl")));
    assert_eq!(queries.len(), nonblank_lines(&folder.join("queries.jsonl")));

    let source = SourceConfig::beir(&folder, split).unwrap();
    let qrels = rows(&source.qrels);
    let judged: HashSet<&str> = qrels.iter().map(|r| r.0.as_str()).collect();
    let d = MultiLevelDataset::load(MultiLevelConfig {
        sources: vec![source.clone()],
        group_size: 4,
        passage_selection_strategy: PassageSelection::MostRelevant,
        seed: 0,
    })
    .unwrap();
    assert_eq!(d.len(), judged.len(), "{name}: one item per judged query");
    assert_eq!(d.reports()[0].rows, qrels.len());
    assert_eq!(d.reports()[0].kept, qrels.len());
    let mut by_query: HashMap<&str, Vec<i64>> = HashMap::new();
    for (q, _, g) in &qrels {
        by_query.entry(q).or_default().push(*g);
    }
    let mut levels_seen = HashSet::new();
    for i in 0..d.len() {
        let item = d.item(i, 0);
        let all = d.candidates(i, 0);
        let mut expected = by_query[item.query_id.as_str()].clone();
        expected.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(all.len(), expected.len());
        let k = expected.len().min(4);
        assert_eq!(
            item.labels[..k],
            expected[..k],
            "{name} query {}",
            item.query_id
        );
        for (id, text) in item.passage_ids.iter().zip(&item.passages) {
            assert_eq!(corpus.get(id).unwrap(), text);
        }
        assert_eq!(queries.get(&item.query_id).unwrap(), item.query);
        levels_seen.extend(all.iter().map(|c| c.1));
    }
    let grades: HashSet<i64> = qrels.iter().map(|r| r.2).collect();
    assert_eq!(levels_seen, grades);

    // Binary: grade ≥ 2 positive, < 2 negative (graded) or judged positives vs. a
    // constant-level negative source built from the same rows (binary collections).
    let mut pos = source.clone();
    let mut neg = source.clone();
    let (lo, hi) = if grades.len() > 2 {
        (2.0, 2.0)
    } else {
        (1.0, 2.0)
    };
    pos.min_score = Some(lo);
    neg.max_score = Some(hi);
    neg.score_transform = Some(0);
    let expected_queries = {
        let p: HashSet<&str> = qrels
            .iter()
            .filter(|r| r.2 as f64 >= lo)
            .map(|r| r.0.as_str())
            .collect();
        let n: HashSet<(&str, &str)> = qrels
            .iter()
            .filter(|r| (r.2 as f64) < hi)
            .filter(|r| {
                !qrels
                    .iter()
                    .any(|s| s.0 == r.0 && s.1 == r.1 && s.2 as f64 >= lo)
            })
            .map(|r| (r.0.as_str(), r.1.as_str()))
            .collect();
        p.iter()
            .filter(|q| n.iter().any(|(nq, _)| nq == *q))
            .count()
    };
    let b = BinaryDataset::load(BinaryConfig {
        positives: vec![pos],
        negatives: vec![neg],
        group_size: 3,
        seed: 1,
    });
    if grades.len() > 2 {
        let b = b.unwrap();
        assert_eq!(b.len(), expected_queries, "{name}: binary queries");
        for i in 0..b.len() {
            let item = b.item(i, 2);
            assert_eq!(item.labels, vec![1, 0, 0]);
            let grade = |d: &str| {
                qrels
                    .iter()
                    .find(|r| r.0 == item.query_id && r.1 == d)
                    .unwrap()
                    .2
            };
            assert!(grade(&item.passage_ids[0]) >= 2);
            assert!(item.passage_ids[1..].iter().all(|d| grade(d) < 2));
        }
    } else {
        // SciFact has only grade-1 judgements: no negative exists, which is an error, not an
        // empty dataset.
        assert_eq!(expected_queries, 0);
        let err = b.unwrap_err().to_string();
        assert!(err.contains("no query has both"), "{err}");
    }
}

#[test]
fn scifact_train_and_test() {
    check("scifact", "train");
    check("scifact", "test");
}

#[test]
fn cranfield_graded() {
    check("cranfield", "test");
}
