//! Every sampling rule of the multi-level and binary datasets on hand-made files.

use crate::common;

use std::collections::{HashMap, HashSet};

use rankwise_data::{
    BinaryConfig, BinaryDataset, GroupedDataset, MultiLevelConfig, MultiLevelDataset,
    PassageSelection,
};

fn multilevel(
    sources: Vec<rankwise_data::SourceConfig>,
    group_size: usize,
    strategy: PassageSelection,
) -> MultiLevelDataset {
    MultiLevelDataset::load(MultiLevelConfig {
        sources,
        group_size,
        passage_selection_strategy: strategy,
        seed: 7,
    })
    .unwrap()
}

#[test]
fn passage_text_is_title_space_text() {
    let dir = common::folder();
    let s = common::source(dir.path(), "a", &[("q0", "d3", 2.0)]);
    let d = multilevel(vec![s], 1, PassageSelection::Random);
    let item = d.item(0, 0);
    assert_eq!(item.passages, vec!["T3 text 3"]);
    assert_eq!(item.query, "query 0");
    assert_eq!(item.labels, vec![2]);
}

#[test]
fn min_inclusive_max_exclusive_and_transform() {
    let dir = common::folder();
    let rows = [
        ("q0", "d0", 0.0),
        ("q0", "d1", 1.0),
        ("q0", "d2", 2.0),
        ("q0", "d3", 3.0),
    ];
    let mut s = common::source(dir.path(), "a", &rows);
    s.min_score = Some(1.0);
    s.max_score = Some(3.0);
    let d = multilevel(vec![s.clone()], 2, PassageSelection::MostRelevant);
    assert_eq!(d.item(0, 0).passage_ids, vec!["d2", "d1"]);
    let r = d.reports()[0];
    assert_eq!((r.rows, r.kept, r.outside_score_range), (4, 2, 2));
    s.score_transform = Some(5);
    let d = multilevel(vec![s], 2, PassageSelection::MostRelevant);
    assert_eq!(d.item(0, 0).labels, vec![5, 5]);
}

#[test]
fn random_selection_is_a_fresh_permutation_cycled_or_truncated() {
    let dir = common::folder();
    let rows: Vec<(&str, &str, f64)> = vec![
        ("q0", "d0", 3.0),
        ("q0", "d1", 2.0),
        ("q0", "d2", 1.0),
        ("q0", "d3", 0.0),
    ];
    let s = common::source(dir.path(), "a", &rows);
    // Exactly four: a permutation of all four.
    let d = multilevel(vec![s.clone()], 4, PassageSelection::Random);
    let mut orders = HashSet::new();
    for epoch in 0..20 {
        let item = d.item(0, epoch);
        let set: HashSet<_> = item.passage_ids.iter().cloned().collect();
        assert_eq!(set.len(), 4);
        for (id, l) in item.passage_ids.iter().zip(&item.labels) {
            assert_eq!(
                *l,
                3 - id[1..].parse::<i64>().unwrap(),
                "label follows passage"
            );
        }
        orders.insert(item.passage_ids);
    }
    assert!(
        orders.len() > 5,
        "permutation redrawn per epoch: {}",
        orders.len()
    );
    // Same (seed, epoch, index) → same item.
    assert_eq!(d.item(0, 3), d.item(0, 3));
    // Too few: cycle the permutation.
    let d = multilevel(vec![s.clone()], 10, PassageSelection::Random);
    let ids = d.item(0, 1).passage_ids;
    assert_eq!(ids.len(), 10);
    assert_eq!(ids[0..4], ids[4..8]);
    assert_eq!(ids[0..2], ids[8..10]);
    // Too many: truncate to distinct passages.
    let d = multilevel(vec![s], 3, PassageSelection::Random);
    let ids: HashSet<_> = d.item(0, 1).passage_ids.into_iter().collect();
    assert_eq!(ids.len(), 3);
}

#[test]
fn most_relevant_sorts_by_level_and_cycles() {
    let dir = common::folder();
    let s = common::source(
        dir.path(),
        "a",
        &[("q0", "d0", 1.0), ("q0", "d1", 3.0), ("q0", "d2", 2.0)],
    );
    let d = multilevel(vec![s], 5, PassageSelection::MostRelevant);
    let item = d.item(0, 9);
    assert_eq!(item.passage_ids, vec!["d1", "d2", "d0", "d1", "d2"]);
    assert_eq!(item.labels, vec![3, 2, 1, 3, 2]);
}

#[test]
fn duplicates_across_sources_keep_first_position_and_last_label() {
    let dir = common::folder();
    let a = common::source(dir.path(), "a", &[("q0", "d0", 3.0), ("q0", "d1", 2.0)]);
    let b = common::source(dir.path(), "b", &[("q0", "d2", 1.0), ("q0", "d0", 0.0)]);
    let d = multilevel(vec![a, b], 3, PassageSelection::MostRelevant);
    assert_eq!(
        d.candidates(0, 0),
        vec![("d0".into(), 0), ("d1".into(), 2), ("d2".into(), 1)]
    );
    assert_eq!(d.item(0, 0).passage_ids, vec!["d1", "d2", "d0"]);
}

#[test]
fn queries_present_in_one_source_only_are_in_the_union() {
    let dir = common::folder();
    let a = common::source(dir.path(), "a", &[("q0", "d0", 3.0)]);
    let b = common::source(dir.path(), "b", &[("q1", "d1", 1.0), ("q0", "d2", 1.0)]);
    let d = multilevel(vec![a, b], 2, PassageSelection::MostRelevant);
    assert_eq!(d.query_ids().collect::<Vec<_>>(), vec!["q0", "q1"]);
    assert_eq!(d.item(1, 0).passage_ids, vec!["d1", "d1"]);
}

#[test]
fn group_top_k_and_group_random_k() {
    let dir = common::folder();
    let rows: Vec<(String, String, f64)> = (0..10)
        .map(|i| ("q0".to_string(), format!("d{i}"), i as f64))
        .collect();
    let rows: Vec<(&str, &str, f64)> = rows
        .iter()
        .map(|(q, d, s)| (q.as_str(), d.as_str(), *s))
        .collect();
    let mut top = common::source(dir.path(), "top", &rows);
    top.group_top_k = Some(3);
    top.score_transform = Some(1);
    let d = multilevel(vec![top], 3, PassageSelection::MostRelevant);
    assert_eq!(d.item(0, 0).passage_ids, vec!["d9", "d8", "d7"]);
    assert_eq!(d.reports()[0].beyond_top_k, 7);

    let mut random = common::source(dir.path(), "random", &rows);
    random.group_random_k = Some(2);
    random.score_transform = Some(1);
    let d = multilevel(vec![random], 2, PassageSelection::MostRelevant);
    let mut seen = HashMap::new();
    for epoch in 0..50 {
        let c = d.candidates(0, epoch);
        assert_eq!(c.len(), 2);
        assert_ne!(c[0].0, c[1].0);
        for (id, _) in c {
            *seen.entry(id).or_insert(0) += 1;
        }
    }
    assert!(seen.len() >= 8, "k random redrawn each time: {seen:?}");
}

fn binary(dir: &std::path::Path, group_size: usize) -> BinaryDataset {
    binary_with_seed(dir, group_size, 3)
}

fn binary_with_seed(dir: &std::path::Path, group_size: usize, seed: u64) -> BinaryDataset {
    let pos = common::source(
        dir,
        "pos",
        &[
            ("q0", "d0", 1.0),
            ("q0", "d1", 1.0),
            ("q1", "d2", 1.0),
            ("q2", "d3", 1.0),
        ],
    );
    let neg = common::source(
        dir,
        "neg",
        &[
            ("q0", "d4", 0.0),
            ("q0", "d5", 0.0),
            ("q0", "d6", 0.0),
            ("q0", "d1", 0.0),
            ("q1", "d7", 0.0),
            ("q3", "d8", 0.0),
        ],
    );
    BinaryDataset::load(BinaryConfig {
        positives: vec![pos],
        negatives: vec![neg],
        group_size,
        seed,
    })
    .unwrap()
}

#[test]
fn binary_intersection_and_report() {
    let dir = common::folder();
    let d = binary(dir.path(), 3);
    assert_eq!(d.query_ids().collect::<Vec<_>>(), vec!["q0", "q1"]);
    let r = d.report();
    assert_eq!(
        (r.queries, r.without_negatives, r.without_positives),
        (2, 1, 1)
    );
    assert_eq!(r.negatives_also_positive, 1);
}

#[test]
fn binary_positive_rotates_with_index_seed_and_epoch() {
    let dir = common::folder();
    let d = binary(dir.path(), 4);
    for epoch in 0..6u64 {
        let item = d.item(0, epoch);
        assert_eq!(item.labels, vec![1, 0, 0, 0]);
        // The reference: positives[(index + seed + epoch) % P], here index 0, seed 3, P = 2.
        let expected = if (3 + epoch) % 2 == 0 { "d0" } else { "d1" };
        assert_eq!(item.passage_ids[0], expected, "epoch {epoch}");
        let negs: HashSet<_> = item.passage_ids[1..].iter().cloned().collect();
        assert_eq!(
            negs,
            HashSet::from(["d4".into(), "d5".into(), "d6".into()]),
            "d1 is a positive"
        );
    }
    // The rotation counts the query index too: a one-epoch run does not always take the first
    // positive of every query.
    let first_positives: HashSet<String> = (0..2)
        .map(|e| binary_with_seed(dir.path(), 4, e).item(0, 0).passage_ids[0].clone())
        .collect();
    assert_eq!(first_positives.len(), 2, "the seed moves the positive");
    // Too few negatives (q1 has one): sampled with replacement.
    let item = d.item(1, 0);
    assert_eq!(item.passage_ids, vec!["d2", "d7", "d7", "d7"]);
}

#[test]
fn binary_negatives_walk_a_fixed_order_epoch_by_epoch() {
    let dir = common::folder();
    let d = binary(dir.path(), 3);
    // Three negatives, two per item: epochs 0, 1, 2 read the ring from positions 0, 2, 1, so
    // together they use every negative exactly twice, and epoch 3 repeats epoch 0.
    let mut count: HashMap<String, usize> = HashMap::new();
    for epoch in 0..3 {
        let item = d.item(0, epoch);
        assert_ne!(item.passage_ids[1], item.passage_ids[2]);
        for id in &item.passage_ids[1..] {
            *count.entry(id.clone()).or_default() += 1;
        }
    }
    assert_eq!(
        count,
        HashMap::from([("d4".into(), 2), ("d5".into(), 2), ("d6".into(), 2)])
    );
    assert_eq!(d.item(0, 3).passage_ids[1..], d.item(0, 0).passage_ids[1..]);
    // Consecutive epochs continue the same ring: epoch 1 starts where epoch 0 stopped.
    let e0 = d.item(0, 0).passage_ids;
    let e1 = d.item(0, 1).passage_ids;
    let e2 = d.item(0, 2).passage_ids;
    assert_eq!(e1[1..], [e2[2].clone(), e0[1].clone()]);
}
