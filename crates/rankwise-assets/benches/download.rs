//! What a first run's downloads cost the client: the quickstart's model and collection
//! (all-MiniLM-L6-v2's encoder files, SciFact's tables: ~99 MB) fetched from a stand-in Hub on
//! 127.0.0.1 into an empty cache — HTTP, `.part` file, rename, hash check, links — against
//! copying the same files on the same disk, measured in the same run.
//!
//! `cargo bench -p rankwise-assets --features fake-hub --bench download` (needs the shared
//! assets). The Hub's own bandwidth is not in it: add size / bandwidth for a real first run.

use std::time::Instant;

use rankwise_assets::hub::RepoKind;
use rankwise_assets::hub::download::{HubOptions, fetch_dataset, fetch_model};
use rankwise_assets::hub::fake::{FakeHub, FakeRepo};

const MODEL_FILES: [&str; 8] = [
    "config.json",
    "tokenizer.json",
    "model.safetensors",
    "modules.json",
    "1_Pooling/config.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "tokenizer_config.json",
];
const DATA_FILES: [&str; 3] = ["corpus.jsonl", "queries.jsonl", "qrels/test.tsv"];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let (Ok(model_dir), Ok(data_dir)) = (
        rankwise_assets::model("all-MiniLM-L6-v2"),
        rankwise_assets::dataset("scifact"),
    ) else {
        eprintln!("download bench: the shared assets are not here; nothing measured");
        return;
    };
    let hub = FakeHub::start().unwrap();
    let model = FakeRepo::from_folder(
        &"1".repeat(40),
        &model_dir,
        &MODEL_FILES,
        &["model.safetensors"],
    )
    .expect("shared model");
    let data = FakeRepo::from_folder(&"2".repeat(40), &data_dir, &DATA_FILES, &[])
        .expect("shared SciFact");
    let (mb, db) = (model.size(), data.size());
    hub.add(
        RepoKind::Model,
        "sentence-transformers/all-MiniLM-L6-v2",
        model,
    );
    hub.add(RepoKind::Dataset, "mteb/scifact", data);
    let total = (mb + db) as f64 / 1e6;

    let (mut fetch, mut copy) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let opts = HubOptions {
            endpoint: hub.url().to_string(),
            token: None,
            offline: false,
            cache: dir.path().join("hub"),
            views: dir.path().join("views"),
            progress: false,
            retries: 0,
        };
        let t = Instant::now();
        let m = fetch_model(&opts, "sentence-transformers/all-MiniLM-L6-v2").unwrap();
        let d = fetch_dataset(&opts, "mteb/scifact").unwrap();
        fetch.push(t.elapsed().as_secs_f64());
        assert_eq!(m.files + d.files, MODEL_FILES.len() + DATA_FILES.len());

        let t = Instant::now();
        for (root, files) in [(&model_dir, &MODEL_FILES[..]), (&data_dir, &DATA_FILES[..])] {
            for f in files {
                let to = dir.path().join("copy").join(f);
                std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                std::fs::copy(root.join(f), to).unwrap();
            }
        }
        copy.push(t.elapsed().as_secs_f64());
    }
    let (f, c) = (median(fetch), median(copy));
    println!(
        "first-run assets: {total:.1} MB (model {:.1} MB, SciFact {:.1} MB), median of 5",
        mb as f64 / 1e6,
        db as f64 / 1e6
    );
    println!(
        "  fetch from a stand-in Hub on 127.0.0.1: {f:.3} s ({:.0} MB/s)",
        total / f
    );
    println!(
        "  copy of the same files (baseline):     {c:.3} s ({:.0} MB/s)",
        total / c
    );
    println!("  ratio fetch / copy: {:.1}x", f / c);
}
