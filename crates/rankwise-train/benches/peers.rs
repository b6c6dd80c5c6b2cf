//! Step time with several devices: one device, two devices in turn on one thread (the sequential
//! GradCache path) and two concurrent peers (Burn's collective), in the same run, on the CPU
//! backend (devices are CPU replicas sharing the machine's cores) and on wgpu's default adapter
//! (lavapipe in CI: one software device shared by both peers). all-MiniLM-L6-v2, WS2, 16 queries ×
//! group 4 of SciFact text a step, dropout 0.1, AdamW, clipping: whole `train` steps.
//!
//! `RANKWISE_BENCH_STEPS` (default 3) timed steps after one warm-up step; `RANKWISE_BENCH_LEN`
//! (default 128) query and passage length on the CPU, `RANKWISE_BENCH_WGPU_LEN` (default 16) on
//! wgpu (lavapipe takes about 210 s for one step at length 64 on 2 cores);
//! `RANKWISE_BENCH_CPU=0` / `RANKWISE_BENCH_WGPU=0` skip the CPU / wgpu runs.

use std::path::Path;
use std::sync::Arc;

use burn::backend::{Autodiff, NdArray, Wgpu};
use rankwise_data::{GroupedDataset, TrainItem};
use rankwise_encoder::{BiEncoder, EncoderOptions};
use rankwise_files::{Collection, read_corpus, read_queries};
use rankwise_train::{Cluster, RunControl, TrainConfig, TrainParts, TrainingBackend};

#[global_allocator]
static ALLOC: rankwise_train::memory::TrainingAllocator = rankwise_train::memory::TrainingAllocator;

/// SciFact queries, each with 4 consecutive corpus passages labelled 3, 2, 1, 0.
struct SciFact {
    corpus: Collection,
    queries: Collection,
}

impl GroupedDataset for SciFact {
    fn len(&self) -> usize {
        self.queries.len()
    }
    fn group_size(&self) -> usize {
        4
    }
    fn item(&self, i: usize, _epoch: u64) -> TrainItem {
        let p0 = (i * 4) % (self.corpus.len() - 4);
        TrainItem {
            query_id: self.queries.id(i).into(),
            query: self.queries.text(i).into(),
            passage_ids: (0..4).map(|j| self.corpus.id(p0 + j).into()).collect(),
            passages: (0..4).map(|j| self.corpus.text(p0 + j).into()).collect(),
            labels: vec![3, 2, 1, 0],
        }
    }
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Median seconds per step (after the warm-up step) of a `steps + 1`-step run.
fn seconds_per_step<B: TrainingBackend>(
    data: &Arc<SciFact>,
    devices: &[B::Device],
    parallel: bool,
    len: usize,
    out: &Path,
) -> f64 {
    let model = rankwise_assets::model("all-MiniLM-L6-v2").unwrap();
    let steps = env("RANKWISE_BENCH_STEPS", 3);
    let mut c = TrainConfig::new(model.clone(), "unused.toml", out);
    c.global_batch = 16;
    c.chunk_size = 0;
    c.max_steps = Some(steps as u64 + 1);
    c.query_max_length = len;
    c.passage_max_length = len;
    c.dropout.hidden = Some(0.1);
    c.dropout.attention = Some(0.1);
    let mut options = EncoderOptions::detect(&model).unwrap();
    options.query_max_length = len;
    options.passage_max_length = len;
    let parts = TrainParts::<B> {
        encoder: BiEncoder::<B>::load_with(&model, options, &devices[0]).unwrap(),
        dataset: data.clone(),
    };
    let control = RunControl {
        parallel: parallel.then(Cluster::local),
        ..Default::default()
    };
    rankwise_train::train(&c, parts, devices, &control, &mut ()).unwrap();
    let text = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let mut times: Vec<f64> = text
        .lines()
        .skip(1)
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            16.0 / v["queries_per_s"].as_f64().unwrap()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// The three ways on `device` (twice for the two-device runs), printed with their ratios.
fn compare<B: TrainingBackend>(name: &str, data: &Arc<SciFact>, device: B::Device, len: usize) {
    let dir = tempfile::tempdir().unwrap();
    let one = seconds_per_step::<B>(
        data,
        std::slice::from_ref(&device),
        false,
        len,
        &dir.path().join("one"),
    );
    let two = [device.clone(), device];
    let seq = seconds_per_step::<B>(data, &two, false, len, &dir.path().join("seq"));
    let conc = seconds_per_step::<B>(data, &two, true, len, &dir.path().join("conc"));
    println!(
        "{name} (len {len}): one device {one:.2} s/step · two devices in turn {seq:.2} s/step · \
         two concurrent peers {conc:.2} s/step; concurrent vs in turn {:.2}x, vs one device {:.2}x",
        seq / conc,
        one / conc
    );
}

fn main() {
    rankwise_train::memory::keep_freed_memory();
    let scifact = rankwise_assets::dataset("scifact").unwrap();
    let data = Arc::new(SciFact {
        corpus: read_corpus(&scifact.join("corpus.jsonl")).unwrap(),
        queries: read_queries(&scifact.join("queries.jsonl")).unwrap(),
    });
    let len = env("RANKWISE_BENCH_LEN", 128);
    println!(
        "{} cores; step times are medians of {} steps",
        std::thread::available_parallelism().map_or(1, usize::from),
        env("RANKWISE_BENCH_STEPS", 3)
    );
    if env("RANKWISE_BENCH_CPU", 1) == 1 {
        compare::<Autodiff<NdArray>>("CPU (NdArray)", &data, Default::default(), len);
    }
    if env("RANKWISE_BENCH_WGPU", 1) == 1 {
        let len = env("RANKWISE_BENCH_WGPU_LEN", 16);
        compare::<Autodiff<Wgpu>>("wgpu (default adapter)", &data, Default::default(), len);
    }
}
