//! Readers for BEIR-layout files: `corpus.jsonl` (`_id`, `title`, `text`), `queries.jsonl`
//! (`_id`, `text`) and qrels (TSV with a `query-id corpus-id score` header, headerless TREC
//! `qid 0 docid score`, or JSONL). Any of them may be gzipped (`.gz`). Ids may be JSON strings or
//! integers and are kept as strings. Nothing is skipped silently: a bad line is an error naming
//! the file, line and field.
//!
//! Files ending in `.parquet` or `.csv` are read through polars instead (feature `polars`, on by
//! default): a corpus has `_id`, `text` and optionally `title` columns, queries `_id` and `text`,
//! qrels `query-id`, `corpus-id` and `score`; CSV files have a header row.

use std::borrow::Cow;
use std::fs::File;
use std::hash::BuildHasher;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use foldhash::fast::FixedState;
use hashbrown::HashTable;
use rayon::prelude::*;
use serde_json::Value;

use crate::error::DataError;

/// Opens a file for buffered reading, decompressing it when the name ends in `.gz`.
pub fn open(path: &Path) -> Result<Box<dyn BufRead>, DataError> {
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let gz = path.extension().is_some_and(|e| e == "gz");
    let reader: Box<dyn Read> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    Ok(Box::new(BufReader::with_capacity(1 << 20, reader)))
}

/// The file `stem` of a BEIR folder in the first layout present: `stem.jsonl`, `stem.jsonl.gz`,
/// `stem.parquet`, `stem.csv`. When none exists, `stem.jsonl` (so the error names it).
pub fn collection_file(folder: &Path, stem: &str) -> PathBuf {
    first_existing(folder, stem, &["jsonl", "jsonl.gz", "parquet", "csv"])
}

/// The qrels of `split` in a BEIR folder (`qrels/<split>.tsv`, `.tsv.gz`, `.jsonl`, `.jsonl.gz`,
/// `.parquet` or `.csv`, the first present). When none exists, `qrels/<split>.tsv`.
pub fn qrels_file(folder: &Path, split: &str) -> PathBuf {
    first_existing(
        &folder.join("qrels"),
        split,
        &["tsv", "tsv.gz", "jsonl", "jsonl.gz", "parquet", "csv"],
    )
}

fn first_existing(folder: &Path, stem: &str, extensions: &[&str]) -> PathBuf {
    extensions
        .iter()
        .map(|e| folder.join(format!("{stem}.{e}")))
        .find(|p| p.is_file())
        .unwrap_or_else(|| folder.join(format!("{stem}.{}", extensions[0])))
}

/// Bytes read per block by [`for_each_block`].
const BLOCK: usize = 4 << 20;

/// Calls `f(first_line_number, block)` for consecutive blocks of whole lines (about [`BLOCK`]
/// bytes each; a longer line makes a longer block). `f` returns how many lines the block held
/// (its `\n` count, plus one for an unterminated last line).
fn for_each_block(
    path: &Path,
    mut f: impl FnMut(usize, &str) -> Result<usize, DataError>,
) -> Result<(), DataError> {
    let mut reader = open(path)?;
    let mut buf: Vec<u8> = Vec::with_capacity(BLOCK + (1 << 16));
    let mut first_line = 1;
    loop {
        let read = (&mut reader)
            .take(BLOCK as u64)
            .read_to_end(&mut buf)
            .map_err(|e| DataError::parse(path, first_line, "line", e.to_string()))?;
        let eof = read == 0;
        let cut = match buf.iter().rposition(|&b| b == b'\n') {
            Some(i) => i + 1,
            None if eof => buf.len(),
            None => continue, // one line longer than a block: read on
        };
        if cut == 0 {
            return Ok(());
        }
        let block = std::str::from_utf8(&buf[..cut]).map_err(|e| {
            let line = first_line
                + buf[..e.valid_up_to()]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count();
            DataError::parse(path, line, "line", "stream did not contain valid UTF-8")
        })?;
        first_line += f(first_line, block)?;
        buf.drain(..cut);
        if eof && buf.is_empty() {
            return Ok(());
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
    mut f: impl FnMut(usize, &str) -> Result<(), DataError>,
) -> Result<(), DataError> {
    for_each_block(path, |first, block| {
        let (lines, count) = block_lines(first, block);
        for (line, text) in lines {
            f(line, text)?;
        }
        Ok(count)
    })
}

/// Texts keyed by id, in file order (a corpus or a query set).
#[derive(Debug, Clone, Default)]
pub struct Collection {
    path: PathBuf,
    ids: Vec<String>,
    texts: Vec<String>,
    /// `(hash of the id, position)`: the ids are stored once, in `ids`, and growing the table
    /// never re-reads them.
    index: HashTable<(u64, usize)>,
    hasher: FixedState,
}

impl Collection {
    /// Builds a collection from `(id, text)` pairs; a repeated id is an error.
    pub fn from_pairs(
        name: &str,
        pairs: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, DataError> {
        let mut c = Collection {
            path: PathBuf::from(name),
            ..Default::default()
        };
        for (i, (id, text)) in pairs.into_iter().enumerate() {
            c.push(i + 1, id, text)?;
        }
        Ok(c)
    }

    /// An empty collection labelled with the file it is read from.
    pub(crate) fn empty(path: &Path) -> Self {
        Collection {
            path: path.to_path_buf(),
            ..Default::default()
        }
    }

    pub(crate) fn push(&mut self, line: usize, id: String, text: String) -> Result<(), DataError> {
        let hash = self.hasher.hash_one(id.as_str());
        if let Some(&(_, first)) = self.index.find(hash, |&(_, i)| self.ids[i] == id) {
            return Err(DataError::parse(
                &self.path,
                line,
                "_id",
                format!("duplicate id {id:?} (first seen as record {})", first + 1),
            ));
        }
        self.index
            .insert_unique(hash, (hash, self.ids.len()), |&(h, _)| h);
        self.ids.push(id);
        self.texts.push(text);
        Ok(())
    }

    /// The file this collection was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// Number of records.
    pub fn len(&self) -> usize {
        self.ids.len()
    }
    /// True when there are no records.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
    /// Position of an id.
    pub fn position(&self, id: &str) -> Option<usize> {
        let hash = self.hasher.hash_one(id);
        self.index
            .find(hash, |&(_, i)| self.ids[i] == id)
            .map(|&(_, i)| i)
    }
    /// Text of an id.
    pub fn get(&self, id: &str) -> Option<&str> {
        self.position(id).map(|i| self.texts[i].as_str())
    }
    /// Id at a position.
    pub fn id(&self, i: usize) -> &str {
        &self.ids[i]
    }
    /// Text at a position.
    pub fn text(&self, i: usize) -> &str {
        &self.texts[i]
    }
    /// All ids, in file order.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }
    /// All texts, in file order.
    pub fn texts(&self) -> &[String] {
        &self.texts
    }
}

fn id_field(path: &Path, line: usize, obj: &Value, field: &str) -> Result<String, DataError> {
    match obj.get(field) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(DataError::parse(path, line, field, "empty id")),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(other) => Err(DataError::parse(
            path,
            line,
            field,
            format!("expected a string or integer id, got {}", kind(other)),
        )),
        None => Err(DataError::parse(path, line, field, "missing")),
    }
}

fn text_field<'a>(
    path: &Path,
    line: usize,
    obj: &'a Value,
    field: &str,
    required: bool,
) -> Result<&'a str, DataError> {
    match obj.get(field) {
        Some(Value::String(s)) => Ok(s),
        Some(Value::Null) | None if !required => Ok(""),
        None => Err(DataError::parse(path, line, field, "missing")),
        Some(other) => Err(DataError::parse(
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

fn parse_object(path: &Path, line: usize, text: &str) -> Result<Value, DataError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| DataError::parse(path, line, "json", e.to_string()))?;
    if !value.is_object() {
        return Err(DataError::parse(
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
pub fn read_corpus(path: &Path) -> Result<Collection, DataError> {
    read_collection(path, true)
}

/// Reads a BEIR `queries.jsonl` (`_id`, `text`).
pub fn read_queries(path: &Path) -> Result<Collection, DataError> {
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
fn reject_table(path: &Path) -> Result<(), DataError> {
    match path.extension().and_then(|e| e.to_str()) {
        Some(ext @ ("parquet" | "csv")) => Err(DataError::parse(
            path,
            0,
            "file",
            format!("reading .{ext} files needs rankwise-data's `polars` feature"),
        )),
        _ => Ok(()),
    }
}

#[cfg(feature = "polars")]
fn reject_table(_: &Path) -> Result<(), DataError> {
    Ok(())
}

fn read_collection(path: &Path, with_title: bool) -> Result<Collection, DataError> {
    #[cfg(feature = "polars")]
    if let Some(t) = table(path) {
        return crate::tabular::read_collection(path, t, with_title);
    }
    reject_table(path)?;
    let mut c = Collection::empty(path);
    for_each_block(path, |first, block| {
        let (lines, count) = block_lines(first, block);
        let parsed: Vec<Result<(String, String), DataError>> = lines
            .par_iter()
            .map(|&(line, text)| parse_record(path, line, text, with_title))
            .collect();
        for ((line, _), record) in lines.iter().zip(parsed) {
            let (id, text) = record?;
            c.push(*line, id, text)?;
        }
        Ok(count)
    })?;
    Ok(c)
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

/// A passage's text: `title + " " + text`, trimmed (just the text when the title is empty).
pub(crate) fn passage_text(title: &str, body: &str) -> String {
    if title.is_empty() {
        return body.trim().to_string();
    }
    let full = format!("{title} {body}");
    let trimmed = full.trim();
    if trimmed.len() == full.len() {
        full
    } else {
        trimmed.to_string()
    }
}

/// `(id, text)` of one line; with `with_title` the text is [`passage_text`].
fn parse_record(
    path: &Path,
    line: usize,
    text: &str,
    with_title: bool,
) -> Result<(String, String), DataError> {
    let joined = |title: &str, body: &str| passage_text(if with_title { title } else { "" }, body);
    if let Ok(r) = serde_json::from_str::<Record>(text) {
        let id = match r.id {
            RecordId::Str(s) if !s.is_empty() => Some(s.to_string()),
            RecordId::Int(n) => Some(n.to_string()),
            RecordId::Str(_) => None,
        };
        if let Some(id) = id {
            let title = r.title.as_deref().unwrap_or("");
            return Ok((id, joined(title, &r.text)));
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
    Ok((id, joined(title, body)))
}

/// One judgement row of a qrels file.
#[derive(Debug, Clone, PartialEq)]
pub struct QrelRow {
    /// Query id.
    pub query_id: String,
    /// Document id.
    pub doc_id: String,
    /// Raw score as written in the file.
    pub score: f64,
    /// 1-based line in the file (for error messages).
    pub line: usize,
}

/// Reads qrels in file order: BEIR TSV with a header (`query-id corpus-id score`), TREC
/// (`qid iter docid score`, whitespace separated) or JSONL (`query-id`, `corpus-id`, `score`).
pub fn read_qrels(path: &Path) -> Result<Vec<QrelRow>, DataError> {
    #[cfg(feature = "polars")]
    if let Some(t) = table(path) {
        return crate::tabular::read_qrels(path, t);
    }
    reject_table(path)?;
    let name = path.to_string_lossy();
    let jsonl = name.ends_with(".jsonl") || name.ends_with(".jsonl.gz");
    let mut rows = Vec::new();
    let mut first = true;
    for_each_line(path, |line, text| {
        if jsonl {
            let obj = parse_object(path, line, text)?;
            let score = match obj.get("score") {
                Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
                Some(other) => {
                    return Err(DataError::parse(
                        path,
                        line,
                        "score",
                        format!("expected a number, got {}", kind(other)),
                    ));
                }
                None => return Err(DataError::parse(path, line, "score", "missing")),
            };
            rows.push(QrelRow {
                query_id: id_field(path, line, &obj, "query-id")?,
                doc_id: id_field(path, line, &obj, "corpus-id")?,
                score,
                line,
            });
            return Ok(());
        }
        let fields: Vec<&str> = if text.contains('\t') {
            text.split('\t').map(str::trim).collect()
        } else {
            text.split_whitespace().collect()
        };
        let is_first = std::mem::replace(&mut first, false);
        if is_first
            && fields
                .first()
                .is_some_and(|f| *f == "query-id" || *f == "query_id")
        {
            return Ok(());
        }
        let (q, d, s) = match fields.len() {
            3 => (fields[0], fields[1], fields[2]),
            4 => (fields[0], fields[2], fields[3]),
            n => {
                return Err(DataError::parse(
                    path,
                    line,
                    "line",
                    format!("expected 3 (query-id corpus-id score) or 4 (TREC) fields, got {n}"),
                ));
            }
        };
        for (field, value) in [("query-id", q), ("corpus-id", d)] {
            if value.is_empty() {
                return Err(DataError::parse(path, line, field, "empty id"));
            }
        }
        let score: f64 = s
            .parse()
            .map_err(|_| DataError::parse(path, line, "score", format!("not a number: {s:?}")))?;
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
            return Err(DataError::parse(path, r.line, "score", "not finite"));
        }
    }
    Ok(rows)
}
