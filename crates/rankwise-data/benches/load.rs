//! Loading a large BEIR collection: a generated corpus of 1,000,000 passages (`corpus.jsonl`,
//! `_id`/`title`/`text`), 250,000 queries and 500,000 qrels, read into a multi-level dataset.
//! Reports wall time and peak heap, and in the same run times a bare polars `read_ndjson`
//! (`JsonReader` with `JsonFormat::JsonLines`) of the same corpus file (feature `polars`).
//!
//! Goals: the corpus read ≤ 2× polars' time; peak heap ≤ 2× the corpus file's size.
//! Times are medians of runs with the heap counter off (its shared atomic counters would tax the
//! reader that makes more allocations, from two threads); the peak heap comes from one more run
//! of each reader with the counter on.
//! `RANKWISE_BENCH_PASSAGES` changes the corpus size (queries = passages / 4, qrels = passages /
//! 2). The files are generated once under the target directory and reused.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::Instant;

use rankwise_data::{
    GroupedDataset, MultiLevelConfig, MultiLevelDataset, PassageSelection, SourceConfig,
};
use rankwise_files::read_corpus;

/// The system allocator, counting live and peak heap bytes.
struct Counting;

/// Signed: blocks allocated before counting started may be freed while it runs.
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);
/// Off during timed runs: then an allocation only reads this flag.
static COUNTING: AtomicBool = AtomicBool::new(false);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() && COUNTING.load(Ordering::Relaxed) {
            let size = layout.size() as isize;
            PEAK.fetch_max(
                LIVE.fetch_add(size, Ordering::Relaxed) + size,
                Ordering::Relaxed,
            );
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        if COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() && COUNTING.load(Ordering::Relaxed) {
            let grown = new_size as isize - layout.size() as isize;
            PEAK.fetch_max(
                LIVE.fetch_add(grown, Ordering::Relaxed) + grown,
                Ordering::Relaxed,
            );
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f` with the heap counter off, returning its result and seconds.
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let out = f();
    (out, t.elapsed().as_secs_f64())
}

/// Runs `f` with the heap counter on, returning its result and its peak heap (bytes allocated
/// by `f` and live at the same time; a block allocated before and freed by `f` lowers the count,
/// as the freed memory is there for `f` to reuse).
fn peak_heap<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LIVE.store(0, Ordering::Relaxed);
    PEAK.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::SeqCst);
    let out = f();
    COUNTING.store(false, Ordering::SeqCst);
    (out, PEAK.load(Ordering::Relaxed).max(0) as usize)
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Writes the collection unless a folder with the same size is already there.
fn generate(dir: &Path, passages: usize) -> std::io::Result<()> {
    let done = dir.join("complete");
    if done.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir.join("qrels"))?;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let vocab: Vec<String> = (0..5000)
        .map(|_| {
            let len = 2 + rng.below(9);
            (0..len)
                .map(|_| (b'a' + rng.below(26) as u8) as char)
                .collect()
        })
        .collect();
    let words = |rng: &mut Rng, n: usize| -> String {
        let mut s = String::new();
        for i in 0..n {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(&vocab[rng.below(vocab.len())]);
        }
        s
    };
    let mut corpus = BufWriter::new(std::fs::File::create(dir.join("corpus.jsonl"))?);
    for i in 0..passages {
        let n = 3 + rng.below(6);
        let title = words(&mut rng, n);
        let n = 30 + rng.below(90);
        let text = words(&mut rng, n);
        writeln!(
            corpus,
            "{{\"_id\": \"d{i}\", \"title\": \"{title}\", \"text\": \"{text}\"}}"
        )?;
    }
    corpus.flush()?;
    let nq = passages / 4;
    let mut queries = BufWriter::new(std::fs::File::create(dir.join("queries.jsonl"))?);
    for q in 0..nq {
        let n = 4 + rng.below(10);
        let text = words(&mut rng, n);
        writeln!(queries, "{{\"_id\": \"q{q}\", \"text\": \"{text}\"}}")?;
    }
    queries.flush()?;
    let mut qrels = BufWriter::new(std::fs::File::create(dir.join("qrels/train.tsv"))?);
    writeln!(qrels, "query-id\tcorpus-id\tscore")?;
    for r in 0..passages / 2 {
        let q = r % nq;
        writeln!(qrels, "q{q}\td{}\t{}", rng.below(passages), rng.below(4))?;
    }
    qrels.flush()?;
    std::fs::write(done, b"")
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[cfg(feature = "polars")]
fn polars_read_ndjson(path: &Path) -> polars::prelude::DataFrame {
    use polars::prelude::*;
    JsonReader::new(std::fs::File::open(path).unwrap())
        .with_json_format(JsonFormat::JsonLines)
        .finish()
        .unwrap()
}

fn main() {
    let passages = env("RANKWISE_BENCH_PASSAGES", 1_000_000);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("load-{passages}"));
    let t = Instant::now();
    generate(&dir, passages).expect("writing the benchmark collection");
    let corpus_file = dir.join("corpus.jsonl");
    let file_bytes = std::fs::metadata(&corpus_file).unwrap().len() as usize;
    println!(
        "collection: {passages} passages, {} queries, {} qrels; corpus.jsonl {:.0} MiB (ready in {:.1} s)",
        passages / 4,
        passages / 2,
        mib(file_bytes),
        t.elapsed().as_secs_f64()
    );

    let runs = 3;
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mut ours = Vec::new();
    for _ in 0..runs {
        let (c, secs) = timed(|| read_corpus(&corpus_file).unwrap());
        assert_eq!(c.len(), passages);
        ours.push(secs);
    }
    let (c, ours_peak) = peak_heap(|| read_corpus(&corpus_file).unwrap());
    let text_bytes = c.text_bytes();
    drop(c);
    let load = || {
        MultiLevelDataset::load(MultiLevelConfig {
            sources: vec![SourceConfig::beir(&dir, "train").unwrap()],
            group_size: 4,
            passage_selection_strategy: PassageSelection::Random,
            seed: 0,
        })
        .unwrap()
    };
    let (d, full_secs) = timed(load);
    let judged = d.len();
    drop(d);
    let (d, full_peak) = peak_heap(load);
    drop(d);
    let ours_median = median(ours);
    println!(
        "rankwise read_corpus        {ours_median:7.3} s  peak heap {:7.0} MiB ({:.2}× the file, {:.2}× the passage text)",
        mib(ours_peak),
        ours_peak as f64 / file_bytes as f64,
        ours_peak as f64 / text_bytes as f64
    );
    println!(
        "rankwise full load          {full_secs:7.3} s  peak heap {:7.0} MiB (corpus + queries + qrels -> {judged} training queries)",
        mib(full_peak)
    );
    #[cfg(feature = "polars")]
    {
        let mut theirs = Vec::new();
        for _ in 0..runs {
            let (df, secs) = timed(|| polars_read_ndjson(&corpus_file));
            assert_eq!(df.height(), passages);
            theirs.push(secs);
        }
        let (df, their_peak) = peak_heap(|| polars_read_ndjson(&corpus_file));
        drop(df);
        let theirs_median = median(theirs);
        println!(
            "polars read_ndjson          {theirs_median:7.3} s  peak heap {:7.0} MiB ({:.2}× the file)",
            mib(their_peak),
            their_peak as f64 / file_bytes as f64
        );
        println!(
            "ratio rankwise / polars: time {:.2}× (goal ≤ 2), peak heap {:.2}×",
            ours_median / theirs_median,
            ours_peak as f64 / their_peak as f64
        );
    }
    #[cfg(not(feature = "polars"))]
    println!("polars read_ndjson: not measured (built without the `polars` feature)");
}
