//! Hostile input to the readers: a byte-order mark is ignored everywhere, ids that would break
//! the TSV/TREC files written from them are errors naming file, line and field, a folder with
//! two formats of one file is an error, and a bounded fuzz run (random bytes and mutated real
//! files, plain and gzipped) never panics and always names the file (and the line, for parse
//! errors). `RANKWISE_FUZZ_SECONDS` sets the fuzz budget (default 10).

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rankwise_data::DatasetConfig;
use rankwise_files::{
    BOM, FileError, collection_file, id_flaw, qrels_file, read_corpus, read_qrels, read_queries,
    write_qrels,
};

const CORPUS: &str = "{\"_id\": \"d1\", \"title\": \"T\", \"text\": \"one\"}\n\
                      {\"_id\": 7, \"text\": \"seven\"}\n\
                      {\"_id\": \"d\\u00e9\", \"title\": null, \"text\": \"accent\"}\n";
const QUERIES: &str =
    "{\"_id\": \"q1\", \"text\": \"first\"}\n{\"_id\": \"q2\", \"text\": \"second\"}\n";
const QRELS_TSV: &str = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\t7\t2\n";
const QRELS_TREC: &str = "q1 0 d1 1\nq2 0 7 2\n";
const QRELS_JSONL: &str = "{\"query-id\": \"q1\", \"corpus-id\": \"d1\", \"score\": 1}\n\
                           {\"qid\": \"q2\", \"docid\": [\"7\", \"d1\"], \"score\": [2, 0]}\n";

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, bytes).unwrap();
    p
}

fn with_bom(text: &str) -> Vec<u8> {
    [BOM.as_bytes(), text.as_bytes()].concat()
}

#[test]
fn a_byte_order_mark_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let plain = read_corpus(&write(d, "a/corpus.jsonl", CORPUS.as_bytes())).unwrap();
    let marked = read_corpus(&write(d, "b/corpus.jsonl", &with_bom(CORPUS))).unwrap();
    assert_eq!(
        plain.ids().collect::<Vec<_>>(),
        marked.ids().collect::<Vec<_>>()
    );
    assert_eq!(marked.get("d1"), Some("T one"));
    let q = read_queries(&write(d, "b/queries.jsonl", &with_bom(QUERIES))).unwrap();
    assert_eq!(q.position("q1"), Some(0));
    for (name, text) in [
        ("qrels.tsv", QRELS_TSV),
        ("trec.tsv", QRELS_TREC),
        ("qrels.jsonl", QRELS_JSONL),
    ] {
        let plain = read_qrels(&write(d, &format!("a/{name}"), text.as_bytes())).unwrap();
        let marked = read_qrels(&write(d, &format!("b/{name}"), &with_bom(text))).unwrap();
        assert_eq!(plain, marked, "{name}");
        assert_eq!(marked[0].query_id, "q1", "{name}");
    }
    // Gzipped, the mark is inside the compressed stream.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&with_bom(QRELS_TREC)).unwrap();
    let rows = read_qrels(&write(d, "c/trec.tsv.gz", &gz.finish().unwrap())).unwrap();
    assert_eq!(rows[0].query_id, "q1");
    // A dataset config written by an editor that adds one.
    let cfg = write(
        d,
        "config.toml",
        &with_bom("kind = \"multilevel\"\ngroup_size = 2\nsources = []\n"),
    );
    DatasetConfig::read(&cfg).unwrap();
}

#[test]
fn ids_with_whitespace_or_control_characters_are_errors_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases: [(&str, &str, &str, &str); 6] = [
        (
            "corpus.jsonl",
            "{\"_id\": \"ok\", \"text\": \"x\"}\n{\"_id\": \"a b\", \"text\": \"x\"}\n",
            ":2: field `_id`",
            "a space",
        ),
        (
            "queries.jsonl",
            "{\"_id\": \"q\\t1\", \"text\": \"x\"}\n",
            ":1: field `_id`",
            "a tab",
        ),
        (
            "corpus.jsonl",
            "{\"_id\": \"d\\n1\", \"text\": \"x\"}\n",
            ":1: field `_id`",
            "a line break",
        ),
        (
            "qrels.tsv",
            "query-id\tcorpus-id\tscore\nq1\td 1\t1\n",
            ":2: field `corpus-id`",
            "a space",
        ),
        (
            "qrels.jsonl",
            "{\"qid\": \"q1\", \"docid\": [\"ok\", \"x\\u0007\"], \"score\": [1, 0]}\n",
            ":1: field `docid[1]`",
            "U+0007",
        ),
        (
            "qrels.jsonl",
            "{\"query-id\": \"q 1\", \"corpus-id\": \"d\", \"score\": 1}\n",
            ":1: field `query-id`",
            "a space",
        ),
    ];
    for (i, (name, text, at, what)) in cases.into_iter().enumerate() {
        let p = write(d, &format!("{i}/{name}"), text.as_bytes());
        let e = if name.starts_with("qrels") {
            read_qrels(&p).map(|_| ()).unwrap_err()
        } else {
            read_corpus(&p).map(|_| ()).unwrap_err()
        };
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("{name}{at}")) && msg.contains(what),
            "{name}: {msg}"
        );
    }
    assert!(id_flaw("PMID:123_x-y.z").is_none());
    assert!(id_flaw("é漢字").is_none());

    // Writing refuses them too, before anything is written.
    let out = d.join("w/qrels/train.tsv");
    let rows = vec![
        ("q1".to_string(), "d1".to_string(), 1),
        ("q2".to_string(), "d\t2".to_string(), 0),
    ];
    let msg = write_qrels(&out, &rows).unwrap_err().to_string();
    assert!(msg.contains("train.tsv:3: field `corpus-id`"), "{msg}");
    assert!(!out.exists());
}

#[test]
fn two_formats_of_one_file_are_an_error_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "corpus.jsonl", CORPUS.as_bytes());
    assert!(
        collection_file(d, "corpus")
            .unwrap()
            .ends_with("corpus.jsonl")
    );
    write(d, "corpus.jsonl.gz", b"");
    let e = collection_file(d, "corpus").unwrap_err();
    assert!(matches!(e, FileError::Ambiguous { .. }));
    assert!(
        e.to_string().contains("corpus.jsonl, corpus.jsonl.gz"),
        "{e}"
    );
    write(d, "qrels/test.tsv", QRELS_TSV.as_bytes());
    write(d, "qrels/test.jsonl", QRELS_JSONL.as_bytes());
    let e = qrels_file(d, "test").unwrap_err().to_string();
    assert!(e.contains("test.tsv, test.jsonl"), "{e}");
    // None present: the first layout's name, so the read error names it.
    assert!(qrels_file(d, "dev").unwrap().ends_with("qrels/dev.tsv"));
}

/// A small deterministic generator (xorshift64*), so a failing case can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that often break readers.
const NASTY: [&[u8]; 12] = [
    b"\t",
    b"\n",
    b"\r\n",
    b"\"",
    b"{",
    b"}",
    b"\\",
    b" ",
    b"\xef\xbb\xbf",
    b"\xff",
    b"\0",
    b"1e999",
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(b.len() + 1);
        match rng.below(6) {
            0 if !b.is_empty() => {
                let i = at.min(b.len() - 1);
                b[i] = rng.next() as u8;
            }
            1 => {
                let n = NASTY[rng.below(NASTY.len())];
                b.splice(at..at, n.iter().copied());
            }
            2 if at < b.len() => {
                b.remove(at);
            }
            3 => b.truncate(at),
            4 => {
                // Repeat a slice (duplicate lines, ids).
                let from = rng.below(b.len() + 1);
                let to = (from + rng.below(40)).min(b.len());
                let piece = b[from..to].to_vec();
                b.splice(at..at, piece);
            }
            _ => {
                let piece: Vec<u8> = (0..rng.below(16)).map(|_| rng.next() as u8).collect();
                b.splice(at..at, piece);
            }
        }
    }
    b
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// Reads `path` with the reader its name calls for; `Err` holds the message.
fn read_any(path: &Path) -> Result<(), String> {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let r = if name.starts_with("corpus") {
        read_corpus(path).map(|_| ())
    } else if name.starts_with("queries") {
        read_queries(path).map(|_| ())
    } else {
        read_qrels(path).map(|_| ())
    };
    r.map_err(|e| match &e {
        FileError::Parse { line, .. } => format!("{e} [line {line}]"),
        _ => e.to_string(),
    })
}

#[test]
fn fuzzed_files_never_panic_and_errors_name_the_file() {
    let budget: f64 = std::env::var("RANKWISE_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10.0);
    let dir = tempfile::tempdir().unwrap();
    let mut seeds: Vec<(&str, Vec<u8>)> = vec![
        ("corpus.jsonl", CORPUS.into()),
        ("queries.jsonl", QUERIES.into()),
        ("qrels.tsv", QRELS_TSV.into()),
        ("trec.tsv", QRELS_TREC.into()),
        ("qrels.jsonl", QRELS_JSONL.into()),
        (
            "corpus.csv",
            b"_id,title,text\nd1,T,one\nd2,,\"two, quoted\"\n".to_vec(),
        ),
        ("qrels.csv", b"query-id,corpus-id,score\nq1,d1,1\n".to_vec()),
    ];
    // Real files: the first lines of a shared collection, when present.
    if let Ok(scifact) = rankwise_assets::dataset("scifact") {
        for (name, file) in [
            ("corpus.jsonl", "corpus.jsonl"),
            ("queries.jsonl", "queries.jsonl"),
            ("qrels.tsv", "qrels/test.tsv"),
        ] {
            let text = std::fs::read_to_string(scifact.join(file)).unwrap();
            let head: String = text.lines().take(20).map(|l| format!("{l}\n")).collect();
            seeds.push((name, head.into_bytes()));
        }
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let start = Instant::now();
    let (mut cases, mut errors) = (0usize, 0usize);
    while start.elapsed() < Duration::from_secs_f64(budget) || cases < 200 {
        let (name, seed) = &seeds[rng.below(seeds.len())];
        let bytes = if rng.below(8) == 0 {
            (0..rng.below(200)).map(|_| rng.next() as u8).collect()
        } else {
            mutate(&mut rng, seed)
        };
        let gz = !name.ends_with(".csv") && rng.below(4) == 0;
        let file = format!("{cases}-{name}{}", if gz { ".gz" } else { "" });
        let path = write(
            dir.path(),
            &file,
            &if gz { gzip(&bytes) } else { bytes.clone() },
        );
        let outcome = catch_unwind(AssertUnwindSafe(|| read_any(&path)));
        let replay = || format!("{file}: {:?}", String::from_utf8_lossy(&bytes));
        match outcome {
            Err(_) => panic!("reader panicked on {}", replay()),
            Ok(Err(msg)) => {
                errors += 1;
                assert!(
                    msg.contains(&file),
                    "error does not name the file: {msg}\n{}",
                    replay()
                );
                if let Some(line) = msg
                    .rsplit("[line ")
                    .next()
                    .filter(|_| msg.contains("[line "))
                {
                    let n: usize = line.trim_end_matches(']').parse().unwrap();
                    let lines = bytes.iter().filter(|&&b| b == b'\n').count() + 1;
                    assert!(
                        n <= lines.max(1),
                        "line {n} of {lines}: {msg}\n{}",
                        replay()
                    );
                }
            }
            Ok(Ok(())) => {}
        }
        std::fs::remove_file(&path).unwrap();
        cases += 1;
    }
    eprintln!("{cases} fuzzed files, {errors} rejected with a named error");
    assert!(errors > 0 && errors < cases);
}
