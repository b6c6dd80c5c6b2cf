//! Readers for BEIR-layout files: `corpus.jsonl` (`_id`, `title`, `text`), `queries.jsonl`
//! (`_id`, `text`) and qrels (TSV with a `query-id corpus-id score` header, headerless TREC
//! `qid 0 docid score`, or JSONL). Any of them may be gzipped (`.gz`). Ids may be JSON strings or
//! integers and are kept as strings. Nothing is skipped silently: a bad line is an error naming
//! the file, line and field. A UTF-8 byte-order mark at the start of a file is ignored; an id
//! holding whitespace or a control character is an error (it would corrupt the TSV and TREC
//! files written from it).
//!
//! Files ending in `.parquet` or `.csv` are read through polars instead (feature `polars`, on by
//! default): a corpus has `_id`, `text` and optionally `title` columns, queries `_id` and `text`,
//! qrels `query-id`, `corpus-id` and `score`; CSV files have a header row.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde_json::Value;

use crate::collection::{Collection, Records};
use crate::error::FileError;
use crate::record::{BOM, QrelRow, check_id, id_flaw, push_passage_text};

/// Opens a file for buffered reading, decompressing it when the name ends in `.gz`.
pub fn open(path: &Path) -> Result<Box<dyn BufRead>, FileError> {
    Ok(Box::new(BufReader::with_capacity(1 << 20, open_raw(path)?)))
}

/// The file `stem` of a BEIR folder in whichever layout is present: `stem.jsonl`,
/// `stem.jsonl.gz`, `stem.parquet` or `stem.csv`. When none exists, `stem.jsonl` (so the error
/// names it); when several exist, an error naming them (which one is meant is not guessed).
pub fn collection_file(folder: &Path, stem: &str) -> Result<PathBuf, FileError> {
    the_existing(folder, stem, &["jsonl", "jsonl.gz", "parquet", "csv"])
}

/// The qrels of `split` in a BEIR folder (`qrels/<split>.tsv`, `.tsv.gz`, `.jsonl`, `.jsonl.gz`,
/// `.parquet` or `.csv`, whichever is present). When none exists, `qrels/<split>.tsv`; when
/// several exist, an error naming them.
pub fn qrels_file(folder: &Path, split: &str) -> Result<PathBuf, FileError> {
    the_existing(
        &folder.join("qrels"),
        split,
        &["tsv", "tsv.gz", "jsonl", "jsonl.gz", "parquet", "csv"],
    )
}

fn the_existing(folder: &Path, stem: &str, extensions: &[&str]) -> Result<PathBuf, FileError> {
    let mut present: Vec<PathBuf> = extensions
        .iter()
        .map(|e| folder.join(format!("{stem}.{e}")))
        .filter(|p| p.is_file())
        .collect();
    match present.len() {
        0 => Ok(folder.join(format!("{stem}.{}", extensions[0]))),
        1 => Ok(present.remove(0)),
        _ => Err(FileError::Ambiguous {
            folder: folder.to_path_buf(),
            files: present
                .iter()
                .filter_map(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .collect(),
        }),
    }
}

/// `text` without a leading UTF-8 byte-order mark.
pub fn strip_bom(text: &str) -> &str {
    text.strip_prefix(BOM).unwrap_or(text)
}

/// Removes a leading UTF-8 byte-order mark from `text` in place.
pub fn remove_bom(text: &mut String) {
    if text.starts_with(BOM) {
        text.drain(..BOM.len());
    }
}

/// Bytes read per block by [`for_each_block`].
const BLOCK: usize = 4 << 20;

/// Calls `f(first_line_number, block)` for consecutive blocks of whole lines (about [`BLOCK`]
/// bytes each; a longer line makes a longer block). `f` returns how many lines the block held
/// (its `\n` count, plus one for an unterminated last line).
///
/// A second thread reads (and decompresses) the next blocks while `f` works on this one.
fn for_each_block(
    path: &Path,
    mut f: impl FnMut(usize, &str) -> Result<usize, FileError>,
) -> Result<(), FileError> {
    let reader = open_raw(path)?;
    std::thread::scope(|scope| {
        // Two blocks in flight: the one `f` works on and the one being read.
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        scope.spawn(move || read_blocks(reader, tx));
        let mut first_line = 1;
        // When `f` fails, `rx` is dropped and the reader stops at its next send.
        for block in rx {
            let mut text = match block {
                Block::Text(text) => text,
                Block::Failed(e) => {
                    return Err(FileError::parse(path, first_line, "line", e.to_string()));
                }
                Block::BadUtf8(bytes, valid_up_to) => {
                    let line =
                        first_line + bytes[..valid_up_to].iter().filter(|&&b| b == b'\n').count();
                    return Err(FileError::parse(
                        path,
                        line,
                        "line",
                        "stream did not contain valid UTF-8",
                    ));
                }
            };
            if first_line == 1 {
                remove_bom(&mut text);
            }
            first_line += f(first_line, &text)?;
        }
        Ok(())
    })
}

/// What the reader thread sends: a block of whole lines, checked to be UTF-8, or why not.
enum Block {
    Text(String),
    /// The bytes and the length of their valid UTF-8 prefix.
    BadUtf8(Vec<u8>, usize),
    Failed(std::io::Error),
}

/// The file's bytes, decompressed when it ends in `.gz`, for a reader thread.
fn open_raw(path: &Path) -> Result<Box<dyn Read + Send>, FileError> {
    let file = File::open(path).map_err(|e| FileError::io(path, e))?;
    Ok(if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    })
}

/// Sends blocks of whole lines (the last one may be unterminated) until the end of the stream,
/// a read error or invalid UTF-8 (sent, then stop), or a closed channel.
fn read_blocks(mut reader: Box<dyn Read + Send>, tx: std::sync::mpsc::SyncSender<Block>) {
    // The partial line after the last `\n` of the previous block.
    let mut pending: Vec<u8> = Vec::new();
    let send = |buf: Vec<u8>| match String::from_utf8(buf) {
        Ok(text) => tx.send(Block::Text(text)).is_ok(),
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let _ = tx.send(Block::BadUtf8(e.into_bytes(), valid));
            false
        }
    };
    loop {
        let mut buf = Vec::with_capacity(pending.len() + BLOCK);
        buf.append(&mut pending);
        let cut = loop {
            let start = buf.len();
            match (&mut reader).take(BLOCK as u64).read_to_end(&mut buf) {
                Ok(0) => break None,
                Ok(_) => {
                    // `pending` holds no `\n`, so only the new bytes are searched.
                    if let Some(i) = buf[start..].iter().rposition(|&b| b == b'\n') {
                        break Some(start + i + 1);
                    }
                }
                Err(e) => {
                    let _ = tx.send(Block::Failed(e));
                    return;
                }
            }
        };
        match cut {
            Some(c) => {
                pending.extend_from_slice(&buf[c..]);
                buf.truncate(c);
                if !send(buf) {
                    return;
                }
            }
            None => {
                if !buf.is_empty() {
                    send(buf);
                }
                return;
            }
        }
    }
}

/// The non-blank lines of a block from [`for_each_block`] with their 1-based numbers (`\r` of
/// CRLF endings removed), and how many lines the block held, blank ones included.
fn block_lines(first: usize, block: &str) -> (Vec<(usize, &str)>, usize) {
    let mut count = 0;
    let lines = block
        .split_terminator('\n')
        .enumerate()
        .inspect(|_| count += 1)
        .map(|(i, l)| (first + i, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    (lines, count)
}

/// Calls `f(line_number, line)` for every non-blank line (1-based numbers), in file order.
fn for_each_line(
    path: &Path,
    mut f: impl FnMut(usize, &str) -> Result<(), FileError>,
) -> Result<(), FileError> {
    for_each_block(path, |first, block| {
        let (lines, count) = block_lines(first, block);
        for (line, text) in lines {
            f(line, text)?;
        }
        Ok(count)
    })
}

fn id_field(path: &Path, line: usize, obj: &Value, field: &str) -> Result<String, FileError> {
    id_value(path, line, field, obj.get(field))
}

/// An id given as a non-empty JSON string or an integer, kept as a string; `field` names it in
/// errors.
fn id_value(
    path: &Path,
    line: usize,
    field: &str,
    value: Option<&Value>,
) -> Result<String, FileError> {
    match value {
        Some(Value::String(s)) => check_id(path, line, field, s).map(|()| s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(other) => Err(FileError::parse(
            path,
            line,
            field,
            format!("expected a string or integer id, got {}", kind(other)),
        )),
        None => Err(FileError::parse(path, line, field, "missing")),
    }
}

fn text_field<'a>(
    path: &Path,
    line: usize,
    obj: &'a Value,
    field: &str,
    required: bool,
) -> Result<&'a str, FileError> {
    match obj.get(field) {
        Some(Value::String(s)) => Ok(s),
        Some(Value::Null) | None if !required => Ok(""),
        None => Err(FileError::parse(path, line, field, "missing")),
        Some(other) => Err(FileError::parse(
            path,
            line,
            field,
            format!("expected a string, got {}", kind(other)),
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn parse_object(path: &Path, line: usize, text: &str) -> Result<Value, FileError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| FileError::parse(path, line, "json", e.to_string()))?;
    if !value.is_object() {
        return Err(FileError::parse(
            path,
            line,
            "json",
            format!("expected an object, got {}", kind(&value)),
        ));
    }
    Ok(value)
}

/// Reads a BEIR `corpus.jsonl`: passage text = `title + " " + text`, trimmed.
/// `_id` and `text` are required; `title` is optional.
pub fn read_corpus(path: &Path) -> Result<Collection, FileError> {
    read_collection(path, true)
}

/// Reads a BEIR `queries.jsonl` (`_id`, `text`).
pub fn read_queries(path: &Path) -> Result<Collection, FileError> {
    read_collection(path, false)
}

/// The polars-read format of a file, by its name.
#[cfg(feature = "polars")]
fn table(path: &Path) -> Option<crate::tabular::Table> {
    use crate::tabular::Table;
    match path.extension().and_then(|e| e.to_str()) {
        Some("parquet") => Some(Table::Parquet),
        Some("csv") => Some(Table::Csv),
        _ => None,
    }
}

/// Without polars, parquet and CSV files are an error rather than being read as JSONL/TSV.
#[cfg(not(feature = "polars"))]
fn reject_table(path: &Path) -> Result<(), FileError> {
    match path.extension().and_then(|e| e.to_str()) {
        Some(ext @ ("parquet" | "csv")) => Err(FileError::parse(
            path,
            0,
            "file",
            format!("reading .{ext} files needs rankwise-data's `polars` feature"),
        )),
        _ => Ok(()),
    }
}

#[cfg(feature = "polars")]
fn reject_table(_: &Path) -> Result<(), FileError> {
    Ok(())
}

fn read_collection(path: &Path, with_title: bool) -> Result<Collection, FileError> {
    #[cfg(feature = "polars")]
    if let Some(t) = table(path) {
        return crate::tabular::read_collection(path, t, with_title);
    }
    reject_table(path)?;
    let mut c = Collection::empty(path);
    // Block k is parsed (on the pool) while block k−1's records join the collection and its id
    // index (serial), so neither waits for the other.
    let mut pending = Vec::new();
    let mut adopt_failed = false;
    let read = for_each_block(path, |first, block| {
        let (lines, count) = block_lines(first, block);
        let previous = std::mem::take(&mut pending);
        let (adopted, parsed) = rayon::join(
            || adopt(&mut c, previous),
            || parse_lines(path, &lines, with_title),
        );
        adopt_failed = adopted.is_err();
        adopted?;
        pending = parsed;
        Ok(count)
    });
    match read {
        // An error in an earlier block than the one that failed to read comes first.
        Err(e) if adopt_failed => Err(e),
        Err(e) => adopt(&mut c, pending).and(Err(e)),
        Ok(()) => adopt(&mut c, pending).map(|()| c),
    }
}

/// Parses a block's lines on the pool, in runs; each run stops at its first error.
fn parse_lines(
    path: &Path,
    lines: &[(usize, &str)],
    with_title: bool,
) -> Vec<(Records, Option<FileError>)> {
    let run = lines
        .len()
        .div_ceil(4 * rayon::current_num_threads())
        .max(64);
    lines
        .par_chunks(run)
        .map(|chunk| {
            let mut r = Records::with_text_capacity(chunk.iter().map(|l| l.1.len()).sum());
            let mut error = None;
            for &(line, text) in chunk {
                if let Err(e) = parse_record(path, line, text, with_title, &mut r) {
                    error = Some(e);
                    break;
                }
            }
            r.shrink_to_fit();
            (r, error)
        })
        .collect()
}

/// Adds parsed runs to the collection in order; the first error (a parse error or a repeated
/// id) ends it.
fn adopt(c: &mut Collection, parsed: Vec<(Records, Option<FileError>)>) -> Result<(), FileError> {
    for (records, error) in parsed {
        c.append(records)?;
        if let Some(e) = error {
            return Err(e);
        }
    }
    Ok(())
}

/// A corpus/query line in its usual shape, read without building a JSON tree. Anything else
/// (escaped ids, float ids, wrong types, bad JSON) goes through the general path, which decides
/// and names the field.
#[derive(serde::Deserialize)]
struct Record<'a> {
    #[serde(rename = "_id", borrow)]
    id: RecordId<'a>,
    #[serde(borrow, default)]
    title: Option<Cow<'a, str>>,
    #[serde(borrow)]
    text: Cow<'a, str>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum RecordId<'a> {
    Str(&'a str),
    Int(i64),
}

/// Parses one line into `out` (id, and the text; with `with_title` the text is
/// [`passage_text`]). Nothing is added when the line is an error.
fn parse_record(
    path: &Path,
    line: usize,
    text: &str,
    with_title: bool,
    out: &mut Records,
) -> Result<(), FileError> {
    if let Ok(r) = serde_json::from_str::<Record>(text) {
        let id_ok = match r.id {
            RecordId::Str(s) if !s.is_empty() && id_flaw(s).is_none() => {
                out.ids.push(s);
                true
            }
            RecordId::Int(n) => {
                out.ids.push_with(|buf| {
                    use std::fmt::Write;
                    let _ = write!(buf, "{n}");
                });
                true
            }
            RecordId::Str(_) => false,
        };
        if id_ok {
            let title = if with_title { r.title.as_deref() } else { None };
            out.texts
                .push_with(|buf| push_passage_text(buf, title.unwrap_or(""), &r.text));
            out.commit(line);
            return Ok(());
        }
    }
    let obj = parse_object(path, line, text)?;
    let id = id_field(path, line, &obj, "_id")?;
    let body = text_field(path, line, &obj, "text", true)?;
    let title = if with_title {
        text_field(path, line, &obj, "title", false)?
    } else {
        ""
    };
    out.ids.push(&id);
    out.texts
        .push_with(|buf| push_passage_text(buf, title, body));
    out.commit(line);
    Ok(())
}

/// The column of each header name a qrels file may use (BEIR's and Trove's spellings).
const HEADER_NAMES: [(&str, usize); 8] = [
    ("query-id", 0),
    ("query_id", 0),
    ("qid", 0),
    ("corpus-id", 1),
    ("docid", 1),
    ("passage-id", 1),
    ("passage_id", 1),
    ("score", 2),
];

/// Reads the first line of a delimited qrels file as a header when it is one: three known
/// names (any order) give the position of query id, document id and score; no known name means
/// the line is data; a mix is an error, as the reference reads it.
fn header_columns(
    path: &Path,
    line: usize,
    fields: &[&str],
) -> Result<Option<[usize; 3]>, FileError> {
    let known: Vec<Option<usize>> = fields
        .iter()
        .map(|f| HEADER_NAMES.iter().find(|(n, _)| n == f).map(|(_, c)| *c))
        .collect();
    let named = known.iter().flatten().count();
    if named == 0 {
        return Ok(None);
    }
    let mut columns = [usize::MAX; 3];
    for (position, c) in known.iter().enumerate() {
        if let Some(c) = c {
            columns[*c] = position;
        }
    }
    if fields.len() != 3 || named != 3 || columns.contains(&usize::MAX) {
        return Err(FileError::parse(
            path,
            line,
            "header",
            format!(
                "a header names query id, document id and score once each (query-id/qid, corpus-id/docid, score); got {fields:?}"
            ),
        ));
    }
    Ok(Some(columns))
}

/// One JSONL qrels line: a flat row (`query-id`, `corpus-id`, `score`) or Trove's grouped form,
/// one line per query (`{"qid": .., "docid": [..], "score": [..]}`), which becomes one row per
/// document.
fn push_json_qrels(
    path: &Path,
    line: usize,
    text: &str,
    rows: &mut Vec<QrelRow>,
) -> Result<(), FileError> {
    let obj = parse_object(path, line, text)?;
    let number = |v: Option<&Value>, field: &str| match v {
        Some(Value::Number(n)) => Ok(n.as_f64().unwrap_or(f64::NAN)),
        Some(other) => Err(FileError::parse(
            path,
            line,
            field,
            format!("expected a number, got {}", kind(other)),
        )),
        None => Err(FileError::parse(path, line, field, "missing")),
    };
    // Trove spells the keys `qid`/`docid`, BEIR `query-id`/`corpus-id`.
    let trove = obj.get("qid").is_some();
    let (q_key, d_key) = if trove {
        ("qid", "docid")
    } else {
        ("query-id", "corpus-id")
    };
    let (docs, scores) = (obj.get(d_key), obj.get("score"));
    let grouped = [docs, scores].map(|v| matches!(v, Some(Value::Array(_))));
    if !trove || grouped == [false, false] {
        let score = number(scores, "score")?;
        rows.push(QrelRow {
            query_id: id_field(path, line, &obj, q_key)?,
            doc_id: id_field(path, line, &obj, d_key)?,
            score,
            line,
        });
        return Ok(());
    }
    let query_id = id_field(path, line, &obj, q_key)?;
    let (Some(Value::Array(docs)), Some(Value::Array(scores))) = (docs, scores) else {
        return Err(FileError::parse(
            path,
            line,
            if grouped[0] { "score" } else { "docid" },
            "grouped qrels need `docid` and `score` both as lists",
        ));
    };
    if docs.len() != scores.len() {
        return Err(FileError::parse(
            path,
            line,
            "score",
            format!("{} scores for {} docids", scores.len(), docs.len()),
        ));
    }
    for (k, (d, s)) in docs.iter().zip(scores).enumerate() {
        rows.push(QrelRow {
            query_id: query_id.clone(),
            doc_id: id_value(path, line, &format!("docid[{k}]"), Some(d))?,
            score: number(Some(s), &format!("score[{k}]"))?,
            line,
        });
    }
    Ok(())
}

/// Reads qrels in file order: delimited text (tab or whitespace: `query-id corpus-id score`,
/// with or without a header row of known names in any order, or TREC `qid iter docid score`),
/// or JSONL (flat rows `query-id`, `corpus-id`, `score`, or Trove's grouped lines
/// `{"qid": .., "docid": [..], "score": [..]}`).
pub fn read_qrels(path: &Path) -> Result<Vec<QrelRow>, FileError> {
    #[cfg(feature = "polars")]
    if let Some(t) = table(path) {
        return crate::tabular::read_qrels(path, t);
    }
    reject_table(path)?;
    let name = path.to_string_lossy();
    let jsonl = name.ends_with(".jsonl") || name.ends_with(".jsonl.gz");
    let mut rows = Vec::new();
    let mut first = true;
    let mut columns: Option<[usize; 3]> = None;
    for_each_line(path, |line, text| {
        if jsonl {
            return push_json_qrels(path, line, text, &mut rows);
        }
        let fields: Vec<&str> = if text.contains('\t') {
            text.split('\t').map(str::trim).collect()
        } else {
            text.split_whitespace().collect()
        };
        if first {
            first = false;
            if let Some(c) = header_columns(path, line, &fields)? {
                columns = Some(c);
                return Ok(());
            }
        }
        let (q, d, s) = match (fields.len(), columns) {
            (3, Some([q, d, s])) => (fields[q], fields[d], fields[s]),
            (3, None) => (fields[0], fields[1], fields[2]),
            (4, None) => (fields[0], fields[2], fields[3]),
            (n, _) => {
                let expected = if columns.is_some() {
                    "3 (as the header)"
                } else {
                    "3 (query-id corpus-id score) or 4 (TREC)"
                };
                return Err(FileError::parse(
                    path,
                    line,
                    "line",
                    format!("expected {expected} fields, got {n}"),
                ));
            }
        };
        for (field, value) in [("query-id", q), ("corpus-id", d)] {
            check_id(path, line, field, value)?;
        }
        let score: f64 = s
            .parse()
            .map_err(|_| FileError::parse(path, line, "score", format!("not a number: {s:?}")))?;
        rows.push(QrelRow {
            query_id: q.to_string(),
            doc_id: d.to_string(),
            score,
            line,
        });
        Ok(())
    })?;
    for r in &rows {
        if !r.score.is_finite() {
            return Err(FileError::parse(path, r.line, "score", "not finite"));
        }
    }
    Ok(rows)
}
