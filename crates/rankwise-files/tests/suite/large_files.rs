//! Files of several read blocks (the reader works in 4 MiB blocks, parsed in parallel runs and
//! adopted in order): contents, gzip, and which error comes first when several are present.

use std::io::Write;
use std::path::{Path, PathBuf};

use rankwise_files::read_corpus;

/// Line `i` (0-based) of a corpus of `n` records; some titles empty, some texts with escapes,
/// integer ids every 7th record.
fn record(i: usize) -> String {
    let title = if i.is_multiple_of(3) {
        String::new()
    } else {
        format!("Title {i}")
    };
    let text = if i.is_multiple_of(5) {
        format!("quote \\\"{i}\\\" and tab\\t {}", "w ".repeat(i % 40))
    } else {
        format!("passage {i} {}", "word ".repeat(20 + i % 60))
    };
    if i.is_multiple_of(7) {
        format!("{{\"_id\": {i}, \"title\": \"{title}\", \"text\": \"{text}\"}}")
    } else {
        format!("{{\"_id\": \"d{i}\", \"title\": \"{title}\", \"text\": \"{text}\"}}")
    }
}

fn expected(i: usize) -> (String, String) {
    let v: serde_json::Value = serde_json::from_str(&record(i)).unwrap();
    let id = match &v["_id"] {
        serde_json::Value::String(s) => s.clone(),
        n => n.to_string(),
    };
    let title = v["title"].as_str().unwrap();
    let text = v["text"].as_str().unwrap();
    let joined = if title.is_empty() {
        text.trim().to_string()
    } else {
        format!("{title} {text}").trim().to_string()
    };
    (id, joined)
}

fn write_lines(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
    f.flush().unwrap();
    path
}

const N: usize = 60_000; // about 15 MiB: four blocks

#[test]
fn several_blocks_read_in_order_plain_and_gzipped() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (0..N).map(record).collect();
    let plain = write_lines(dir.path(), "corpus.jsonl", &lines);
    let size = std::fs::metadata(&plain).unwrap().len();
    assert!(size > 3 * (4 << 20), "{size} bytes: fewer than four blocks");
    let c = read_corpus(&plain).unwrap();
    assert_eq!(c.len(), N);
    for i in 0..N {
        let (id, text) = expected(i);
        assert_eq!(c.id(i), id, "record {i}");
        assert_eq!(c.text(i), text, "record {i}");
        assert_eq!(c.position(&id), Some(i));
    }
    assert_eq!(c.ids().count(), N);
    assert_eq!(c.texts().map(str::len).sum::<usize>(), c.text_bytes());

    let gz = dir.path().join("corpus.jsonl.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(&std::fs::read(&plain).unwrap()).unwrap();
    enc.finish().unwrap();
    let z = read_corpus(&gz).unwrap();
    assert!(z.ids().eq(c.ids()));
    assert!(z.texts().eq(c.texts()));
}

#[test]
fn a_duplicate_in_a_later_block_names_both_records() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines: Vec<String> = (0..N).map(record).collect();
    lines[N - 10] = lines[1].clone();
    let p = write_lines(dir.path(), "c.jsonl", &lines);
    let e = read_corpus(&p).unwrap_err().to_string();
    assert!(
        e.contains(&format!(
            "c.jsonl:{}: field `_id`: duplicate id \"d1\"",
            N - 9
        )) && e.contains("first seen as record 2"),
        "{e}"
    );
}

#[test]
fn the_first_error_in_file_order_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines: Vec<String> = (0..N).map(record).collect();
    // A bad line in the second block, a duplicate in the third, invalid UTF-8 in the fourth.
    lines[20_000] = "{\"_id\": \"x\", ".into();
    lines[35_000] = lines[0].clone();
    let mut bytes = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if i == 50_000 {
            bytes.extend_from_slice(b"{\"_id\": \"\xff\", \"text\": \"t\"}");
        } else {
            bytes.extend_from_slice(l.as_bytes());
        }
        bytes.push(b'\n');
    }
    // Each error in turn is the first reported; mending its line reveals the next.
    let p = dir.path().join("c.jsonl");
    let mend = |bytes: &[u8], line: usize| {
        let mut out = Vec::new();
        for (i, l) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
            if i == line {
                out.extend_from_slice(record(line).as_bytes());
                out.push(b'\n');
            } else {
                out.extend_from_slice(l);
            }
        }
        out
    };
    for (line, expected) in [
        (20_000, "c.jsonl:20001: field `json`"),
        (35_000, "c.jsonl:35001: field `_id`: duplicate id"),
        (
            50_000,
            "c.jsonl:50001: field `line`: stream did not contain valid UTF-8",
        ),
    ] {
        std::fs::write(&p, &bytes).unwrap();
        let e = read_corpus(&p).unwrap_err().to_string();
        assert!(e.contains(expected), "{e}");
        bytes = mend(&bytes, line);
    }
}
