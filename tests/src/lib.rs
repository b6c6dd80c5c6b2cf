//! Support shared by the workspace's tests, and (in `tests/`) the end-to-end tests that cross
//! crates: training then evaluating, as a user's program would. Crate test suites depend on this
//! library for their common fixtures instead of copying them; it depends on nothing of rankwise but
//! the asset resolver, so any crate can use it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The tiny BERT of the reference fixtures (a few hundred kB; trains in seconds on a CPU).
pub fn tiny_model() -> PathBuf {
    rankwise_assets::reference("encoder/tiny-bert").unwrap()
}

/// The topic words of [`make_data`]: topic `i` is about `WORDS[i]`.
pub const WORDS: &[&str] = &[
    "apple", "river", "engine", "violin", "glacier", "copper", "falcon", "desert", "harbor",
    "lantern", "meadow", "nickel", "orchid", "pepper", "quartz", "saddle", "tunnel", "walnut",
    "yacht", "zebra", "anchor", "basket", "candle", "dragon", "feather", "garlic", "helmet",
    "island", "jacket", "kettle", "ladder", "magnet", "needle", "oyster", "pillow", "rocket",
    "salmon", "tomato", "velvet", "window", "bridge", "carpet", "dolphin", "forest", "guitar",
    "hammer", "insect", "jungle",
];

/// Topic i: query "i-word", level 3 repeats it, 2 mentions it once, 1 mentions its neighbour,
/// 0 is about another topic. Topics `train` go to the training set; the rest form a held-out
/// BEIR collection.
pub fn make_data(
    root: &Path,
    train_topics: std::ops::Range<usize>,
    heldout: std::ops::Range<usize>,
) -> (PathBuf, PathBuf) {
    let n = WORDS.len();
    let passages = |t: usize| {
        let w = WORDS[t];
        let next = WORDS[(t + 1) % n];
        let far = WORDS[(t + n / 2) % n];
        [
            (3, format!("{w} {w} {w} is all about {w}")),
            (2, format!("a note on {w} and other things")),
            (1, format!("something about {next} near here")),
            (0, format!("{far} {far} unrelated text")),
        ]
    };
    let write = |dir: &Path, topics: std::ops::Range<usize>| {
        std::fs::create_dir_all(dir.join("qrels")).unwrap();
        let mut corpus = String::new();
        let mut queries = String::new();
        let mut qrels = String::from("query-id\tcorpus-id\tscore\n");
        for t in topics {
            queries.push_str(&format!(
                "{{\"_id\": \"q{t}\", \"text\": \"{}\"}}\n",
                WORDS[t]
            ));
            for (level, text) in passages(t) {
                corpus.push_str(&format!(
                    "{{\"_id\": \"q{t}-L{level}\", \"text\": \"{text}\"}}\n"
                ));
                qrels.push_str(&format!("q{t}\tq{t}-L{level}\t{level}\n"));
            }
        }
        std::fs::write(dir.join("corpus.jsonl"), corpus).unwrap();
        std::fs::write(dir.join("queries.jsonl"), queries).unwrap();
        for split in ["train", "test"] {
            std::fs::write(dir.join(format!("qrels/{split}.tsv")), &qrels).unwrap();
        }
    };
    let train_dir = root.join("train");
    let held = root.join("heldout");
    write(&train_dir, train_topics);
    write(&held, heldout);
    let data = root.join("data.toml");
    std::fs::write(
        &data,
        "kind = \"multilevel\"\ngroup_size = 4\nseed = 1\n[[sources]]\ncorpus = \"train/corpus.jsonl\"\n\
         queries = \"train/queries.jsonl\"\nqrels = \"train/qrels/train.tsv\"\n",
    )
    .unwrap();
    (data, held)
}

/// Writes `<root>/<out>.toml`, a training run of the tiny model on the topic data of
/// [`make_data`] (`data`): 8 queries a step, no chunking, 16-token texts, lr 2e-3 with 10 %
/// warm-up, seed 5, output `<root>/<out>`; returns the file (read it with
/// `rankwise_train::TrainConfig::read`).
pub fn topic_run(root: &Path, data: &Path, out: &str) -> PathBuf {
    let path = root.join(format!("{out}.toml"));
    let text = format!(
        "model = {:?}\ndata = {:?}\noutput_dir = {:?}\nglobal_batch = 8\nchunk_size = 0\n\
         query_max_length = 16\npassage_max_length = 16\nseed = 5\n\
         [optimizer]\nlr = 2e-3\nwarmup_ratio = 0.1\n",
        tiny_model().display().to_string(),
        data.display().to_string(),
        root.join(out).display().to_string(),
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Whether a wgpu adapter exists (feature `wgpu`); without one the calling test should return
/// early (it is skipped, and says so), unless `RANKWISE_REQUIRE_WGPU=1` (set by CI) makes that a
/// failure.
#[cfg(feature = "wgpu")]
pub fn wgpu_adapter_available() -> bool {
    use burn::backend::Wgpu;
    let device = burn::backend::wgpu::WgpuDevice::default();
    let probe = std::panic::catch_unwind(|| {
        burn::tensor::Tensor::<Wgpu, 1>::from_floats([1.0, 2.0], &device)
            .sum()
            .into_scalar()
    });
    match probe {
        Ok(v) => v == 3.0 || panic!("wgpu device computes wrong sums"),
        Err(_) if std::env::var("RANKWISE_REQUIRE_WGPU").is_ok_and(|v| v == "1") => {
            panic!("RANKWISE_REQUIRE_WGPU=1 but no wgpu adapter could be created")
        }
        Err(_) => {
            eprintln!("SKIPPED: no wgpu adapter (set RANKWISE_REQUIRE_WGPU=1 to make this fail)");
            false
        }
    }
}

/// Every tensor of a safetensors file of f32 tensors (an exported model), by name.
pub fn safetensors_f32(path: &Path) -> BTreeMap<String, Vec<f32>> {
    let bytes = std::fs::read(path).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    tensors
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            let values = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            (name, values)
        })
        .collect()
}

/// Asserts that two runs' losses agree within 1e-5 (relative) and their parameters within 1e-5,
/// attention key biases aside: a key bias adds the same amount to every score of a query row,
/// which the softmax ignores, so its gradient is 0 up to rounding, and AdamW turns rounding
/// noise (such as the order in which several devices' gradients are summed) into steps of
/// either sign.
pub fn assert_same_run(
    (losses_a, params_a): (&[f64], &BTreeMap<String, Vec<f32>>),
    (losses_b, params_b): (&[f64], &BTreeMap<String, Vec<f32>>),
    what: &str,
) {
    assert_eq!(losses_a.len(), losses_b.len(), "{what}: steps");
    for (x, y) in losses_a.iter().zip(losses_b) {
        assert!(
            (x - y).abs() <= 1e-5 * x.abs().max(1.0),
            "{what}: losses {losses_a:?} vs {losses_b:?}"
        );
    }
    assert_eq!(
        params_a.keys().collect::<Vec<_>>(),
        params_b.keys().collect::<Vec<_>>(),
        "{what}: parameters"
    );
    for ((name, x), y) in params_a.iter().zip(params_b.values()) {
        if name.ends_with("attention.self.key.bias") {
            continue;
        }
        let diff = x
            .iter()
            .zip(y)
            .map(|(u, v)| (u - v).abs())
            .fold(0.0, f32::max);
        assert!(diff <= 1e-5, "{what}: {name} differs by {diff}");
    }
}
