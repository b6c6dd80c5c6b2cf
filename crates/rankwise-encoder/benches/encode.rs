//! Encoding throughput: 512 SciFact passages, max length 256, batch 32, all-MiniLM-L6-v2 on the
//! CPU: the Burn model on the NdArray backend (and Burn's `flex` backend with feature `flex`) and
//! the host inference path ([`HostEncoder`], what `experiments evaluate` uses on the CPU).
//! Prints passages/s and peak resident memory, and the ratio against sentence-transformers
//! (`scripts/bench_encode_torch.py`) run on the same machine in the same run when Python with
//! torch and sentence-transformers is installed (`RANKWISE_PYTHON` picks the interpreter).
//! `RANKWISE_BENCH_PASSAGES` shortens the run.
//!
//! `cargo bench -p rankwise-encoder --bench encode`

use std::io::BufRead;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use burn::backend::NdArray;
use burn::tensor::backend::Backend;
use rankwise_encoder::{BiEncoder, EncoderBackend, EncoderOptions, HostEncoder, Side};

const PASSAGES: usize = 512;
const BATCH: usize = 32;
const MAX_LEN: usize = 256;

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn load<B: Backend>(model: &Path) -> BiEncoder<B> {
    let mut options = EncoderOptions::detect(model).unwrap();
    options.passage_max_length = MAX_LEN;
    BiEncoder::<B>::load_with(model, options, &Default::default()).unwrap()
}

/// Passages per second of the host path on every core (one warm-up batch first).
fn host_throughput(model: &Path, refs: &[&str]) -> f64 {
    let enc = load::<NdArray>(model);
    let host = HostEncoder::new(&enc);
    host.embed_texts(Side::Passage, &refs[..BATCH.min(refs.len())], 0, |_| {})
        .unwrap();
    let start = Instant::now();
    let out = host.embed_texts(Side::Passage, refs, 0, |_| {}).unwrap();
    assert_eq!(out.len(), refs.len() * 384);
    refs.len() as f64 / start.elapsed().as_secs_f64()
}

/// Passages per second for `refs` on backend `B` (one warm-up batch first).
fn throughput<B: EncoderBackend>(model: &Path, refs: &[&str]) -> f64 {
    let device = Default::default();
    let enc = load::<B>(model);
    enc.embed_sorted(
        Side::Passage,
        &refs[..BATCH.min(refs.len())],
        BATCH,
        &device,
        |_| {},
    )
    .unwrap();
    // Whole batches on every core, as `experiments evaluate` does on the CPU backend.
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let start = Instant::now();
    let out = enc
        .embed_sorted_parallel(Side::Passage, refs, BATCH, workers, &device, |_| {})
        .unwrap();
    assert_eq!(out.len(), refs.len() * 384);
    refs.len() as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let model = rankwise_assets::model("all-MiniLM-L6-v2").expect("MiniLM checkpoint");
    let corpus = rankwise_assets::dataset("scifact")
        .expect("scifact")
        .join("corpus.jsonl");
    let count = std::env::var("RANKWISE_BENCH_PASSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(PASSAGES);
    let file = std::fs::File::open(&corpus).expect("corpus.jsonl");
    let texts: Vec<String> = std::io::BufReader::new(file)
        .lines()
        .take(count)
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(&l.unwrap()).unwrap();
            format!(
                "{} {}",
                v["title"].as_str().unwrap_or(""),
                v["text"].as_str().unwrap_or("")
            )
            .trim()
            .to_string()
        })
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();

    let ours = host_throughput(&model, &refs);
    println!(
        "rankwise (host inference path): {ours:.2} passages/s, peak RSS {:.0} MiB",
        peak_rss_mib()
    );
    let burn = throughput::<NdArray>(&model, &refs);
    println!(
        "rankwise (burn ndarray): {burn:.2} passages/s; host / burn = {:.2}x",
        ours / burn
    );
    #[cfg(feature = "flex")]
    {
        let flex = throughput::<burn::backend::Flex>(&model, &refs);
        println!(
            "rankwise (burn flex): {flex:.2} passages/s; flex / ndarray = {:.2}x",
            flex / burn
        );
    }

    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/bench_encode_torch.py"
    );
    let python = std::env::var("RANKWISE_PYTHON").unwrap_or_else(|_| "python3".into());
    match Command::new(&python)
        .args([script, model.to_str().unwrap(), corpus.to_str().unwrap()])
        .output()
    {
        Ok(o) if o.status.success() => {
            let theirs: f64 = String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse()
                .unwrap_or(f64::NAN);
            println!("sentence-transformers (PyTorch): {theirs:.2} passages/s");
            println!(
                "ratio rankwise (host path) / PyTorch: {:.2}x",
                ours / theirs
            );
        }
        Ok(o) => println!(
            "PyTorch baseline unavailable: {}",
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ),
        Err(e) => println!("PyTorch baseline unavailable: {e}"),
    }
}
