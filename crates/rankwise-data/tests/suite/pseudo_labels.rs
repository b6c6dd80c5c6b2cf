//! Pseudo-labelling by rank bands, and the batcher's tensors.

use std::collections::HashMap;

use rankwise_data::{PseudoLabelConfig, RandomBand, RankBand, pseudo_label, ranked_contexts};
use rankwise_files::{Collection, QrelRow};

#[test]
fn rank_bands_positives_and_random() {
    let corpus = Collection::from_pairs(
        "corpus",
        (0..200).map(|i| (format!("d{i}"), format!("text {i}"))),
    )
    .unwrap();
    let qrels = vec![
        QrelRow {
            query_id: "q".into(),
            doc_id: "d5".into(),
            score: 2.0,
            line: 2,
        },
        QrelRow {
            query_id: "q".into(),
            doc_id: "d7".into(),
            score: 0.0,
            line: 3,
        },
        QrelRow {
            query_id: "other".into(),
            doc_id: "d1".into(),
            score: 1.0,
            line: 4,
        },
    ];
    // Ranked list with the positive at rank 2.
    let ranked: Vec<String> = [0, 5, 1, 2, 3, 4]
        .iter()
        .map(|i| format!("d{i}"))
        .chain((10..120).map(|i| format!("d{i}")))
        .collect();
    let config = PseudoLabelConfig {
        positive_level: Some(3),
        bands: vec![
            RankBand {
                from: 1,
                to: 2,
                level: 2,
            },
            RankBand {
                from: 90,
                to: 92,
                level: 1,
            },
        ],
        random: Some(RandomBand { count: 4, level: 0 }),
        min_positive_grade: 1,
        seed: 11,
    };
    let rows = pseudo_label(
        &qrels,
        &HashMap::from([("q".to_string(), ranked.clone())]),
        &corpus,
        &config,
    )
    .unwrap();
    let level = |l: i64| {
        rows.iter()
            .filter(|r| r.2 == l)
            .map(|r| r.1.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(level(3), vec!["d5"]);
    assert_eq!(
        level(2),
        vec!["d0", "d1"],
        "ranks 1–2 after removing the positive"
    );
    let without_pos: Vec<&String> = ranked.iter().filter(|d| *d != "d5").collect();
    assert_eq!(
        level(1),
        vec![
            without_pos[89].clone(),
            without_pos[90].clone(),
            without_pos[91].clone()
        ]
    );
    let random = level(0);
    assert_eq!(random.len(), 4);
    let mut all: Vec<&String> = rows.iter().map(|r| &r.1).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), rows.len(), "no passage twice");
    assert!(
        rows.iter().all(|r| r.0 == "q"),
        "query without candidates is skipped"
    );
    // Same seed, same rows.
    assert_eq!(
        rows,
        pseudo_label(
            &qrels,
            &HashMap::from([("q".to_string(), ranked)]),
            &corpus,
            &config
        )
        .unwrap()
    );
    let bad = PseudoLabelConfig {
        bands: vec![RankBand {
            from: 0,
            to: 1,
            level: 1,
        }],
        ..config
    };
    assert!(
        pseudo_label(&qrels, &HashMap::new(), &corpus, &bad)
            .unwrap_err()
            .to_string()
            .contains("bands[0]")
    );
}

#[test]
fn ranked_contexts_skip_positives_and_keep_rank_as_score() {
    let row = |q: &str, d: &str, score: f64| QrelRow {
        query_id: q.into(),
        doc_id: d.into(),
        score,
        line: 0,
    };
    // "q" has positive d2 (d9 is judged non-relevant: it stays a candidate); "r" has no
    // candidates; "s" has no positive.
    let qrels = vec![
        row("q", "d2", 1.0),
        row("q", "d9", 0.0),
        row("r", "d1", 2.0),
        row("s", "d3", 0.0),
    ];
    let ranked: HashMap<String, Vec<String>> = [
        ("q", vec!["d4", "d2", "d9", "d1", "d5"]),
        ("s", vec!["d3", "d4"]),
    ]
    .into_iter()
    .map(|(q, d)| (q.to_string(), d.into_iter().map(String::from).collect()))
    .collect();
    let rows = ranked_contexts(&qrels, &ranked, 3, 1);
    let expected: Vec<(String, String, i64)> = [("d4", 1), ("d9", 2), ("d1", 3)]
        .into_iter()
        .map(|(d, r)| ("q".to_string(), d.to_string(), r))
        .collect();
    assert_eq!(rows, expected);
}
