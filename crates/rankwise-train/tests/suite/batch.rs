//! The tokenising batcher: shapes, labels, prefixes.

use rankwise_data::TrainItem;
use rankwise_encoder::TextTokenizer;
use rankwise_train::TrainBatcher;

fn item(query_id: &str, query: &str, passages: &[(&str, i64)]) -> TrainItem {
    TrainItem {
        query_id: query_id.into(),
        query: query.into(),
        passage_ids: (0..passages.len())
            .map(|i| format!("{query_id}-d{i}"))
            .collect(),
        passages: passages.iter().map(|(p, _)| p.to_string()).collect(),
        labels: passages.iter().map(|(_, l)| *l).collect(),
    }
}

#[test]
fn batcher_shapes_and_labels() {
    let tokenizer_file = rankwise_assets::model("all-MiniLM-L6-v2")
        .unwrap()
        .join("tokenizer.json");
    let batcher = TrainBatcher {
        query: TextTokenizer::load(&tokenizer_file, 16).unwrap(),
        passage: TextTokenizer::load(&tokenizer_file, 32).unwrap(),
        query_prefix: "query: ".into(),
        passage_prefix: String::new(),
    };
    let items = vec![
        item("q0", "query 0", &[("T0 text 0", 3), ("T1 text 1", 2)]),
        item("q1", "query 1", &[("T2 text 2", 1), ("T3 text 3", 0)]),
    ];
    let batch = batcher.tokenize(&items).unwrap();
    assert_eq!(batch.len(), 2);
    assert_eq!(batch.query_ids, vec!["q0", "q1"]);
    assert_eq!(batch.queries.batch, 2);
    assert_eq!(batch.passages.batch, 4);
    assert_eq!(batch.group_size, 2);
    assert_eq!(batch.labels, vec![3, 2, 1, 0]);
    // "[CLS] query : query 0 [SEP]" = 6 tokens; the prefix is tokenised.
    assert_eq!(batch.queries.lengths, vec![6, 6]);
    // "[CLS] t ##0 text 0 [SEP]": the passages carry no prefix.
    assert_eq!(batch.passages.lengths, vec![6, 6, 6, 6]);
    type B = burn::backend::NdArray;
    let labels = batch.labels_tensor::<B>(&Default::default());
    assert_eq!(labels.dims(), [2, 2]);
    assert_eq!(
        labels.into_data().to_vec::<i64>().unwrap(),
        vec![3, 2, 1, 0]
    );
    assert_eq!(batch.tokens(), 12 + 24);
}
