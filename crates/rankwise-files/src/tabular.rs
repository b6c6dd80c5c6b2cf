//! Parquet and CSV input through polars (feature `polars`, on by default).
//!
//! The same records as the JSONL/TSV readers, from the layouts Hugging Face and MTEB publish:
//! a corpus with `_id`, `text` and optionally `title` columns, queries with `_id` and `text`,
//! qrels with `query-id` (or `query_id`), `corpus-id` (or `corpus_id`) and `score`. CSV files have
//! a header row and every column is read as text (ids keep leading zeros). Errors name the file,
//! the record and the column: for CSV the record's line (the header is line 1), for parquet its
//! 1-based row.

use std::fs::File;
use std::path::Path;

use polars::prelude::*;

use crate::collection::Collection;
use crate::error::FileError;
use crate::record::{QrelRow, check_id, passage_text};

/// A file format polars reads for us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    Parquet,
    Csv,
}

impl Table {
    /// The line or row number of the record at 0-based position `i`.
    fn record(self, i: usize) -> usize {
        match self {
            Table::Parquet => i + 1,
            Table::Csv => i + 2,
        }
    }
}

fn frame(path: &Path, table: Table) -> Result<DataFrame, FileError> {
    let file = File::open(path).map_err(|e| FileError::io(path, e))?;
    let result = match table {
        Table::Parquet => ParquetReader::new(file).finish(),
        Table::Csv => CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .into_reader_with_file_handle(file)
            .finish(),
    };
    result.map_err(|e| FileError::parse(path, 0, "file", e.to_string()))
}

/// The first of `names` that the frame has, or an error listing the columns it does have.
fn column<'a>(
    path: &Path,
    df: &'a DataFrame,
    names: &[&str],
    required: bool,
) -> Result<Option<&'a Column>, FileError> {
    for name in names {
        if let Ok(c) = df.column(name) {
            return Ok(Some(c));
        }
    }
    if !required {
        return Ok(None);
    }
    let have: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    Err(FileError::parse(
        path,
        0,
        names[0],
        format!("missing column (the file has: {})", have.join(", ")),
    ))
}

/// An id or text column as strings; integer ids are written in decimal.
fn as_strings(path: &Path, c: &Column, id: bool) -> Result<Column, FileError> {
    let dtype = c.dtype();
    if dtype.is_string() {
        return Ok(c.clone());
    }
    if id && dtype.is_integer() {
        return c
            .cast(&DataType::String)
            .map_err(|e| FileError::parse(path, 0, c.name().as_str(), e.to_string()));
    }
    let expected = if id {
        "a string or integer id"
    } else {
        "a string"
    };
    Err(FileError::parse(
        path,
        0,
        c.name().as_str(),
        format!("expected {expected} column, got {dtype}"),
    ))
}

/// A required id cell: not null, not empty.
fn id_value(path: &Path, line: usize, field: &str, v: Option<&str>) -> Result<String, FileError> {
    match v {
        Some(v) => check_id(path, line, field, v).map(|()| v.to_string()),
        None => Err(FileError::parse(path, line, field, "missing (null)")),
    }
}

fn strings<'a>(path: &Path, c: &'a Column) -> Result<&'a StringChunked, FileError> {
    c.str()
        .map_err(|e| FileError::parse(path, 0, c.name().as_str(), e.to_string()))
}

/// Reads a corpus (`with_title`) or query set from a parquet or CSV file.
pub(crate) fn read_collection(
    path: &Path,
    table: Table,
    with_title: bool,
) -> Result<Collection, FileError> {
    let df = frame(path, table)?;
    let ids = as_strings(path, column(path, &df, &["_id"], true)?.unwrap(), true)?;
    let texts = as_strings(path, column(path, &df, &["text"], true)?.unwrap(), false)?;
    let titles = match column(path, &df, &["title"], false)? {
        Some(c) if with_title => Some(as_strings(path, c, false)?),
        _ => None,
    };
    let ids = strings(path, &ids)?;
    let texts = strings(path, &texts)?;
    let titles = titles.as_ref().map(|t| strings(path, t)).transpose()?;
    let mut c = Collection::empty(path);
    let mut title_iter = titles.map(|t| t.iter());
    for (i, (id, text)) in ids.iter().zip(texts.iter()).enumerate() {
        let line = table.record(i);
        let id = id_value(path, line, "_id", id)?;
        let text = text.ok_or_else(|| FileError::parse(path, line, "text", "missing (null)"))?;
        let title = title_iter.as_mut().and_then(|t| t.next().flatten());
        c.push(line, &id, &passage_text(title.unwrap_or(""), text))?;
    }
    Ok(c)
}

/// Reads qrels from a parquet or CSV file, in file order.
pub(crate) fn read_qrels(path: &Path, table: Table) -> Result<Vec<QrelRow>, FileError> {
    let df = frame(path, table)?;
    let q = column(path, &df, &["query-id", "query_id"], true)?.unwrap();
    let d = column(path, &df, &["corpus-id", "corpus_id"], true)?.unwrap();
    let s = column(path, &df, &["score"], true)?.unwrap();
    let (q, d) = (as_strings(path, q, true)?, as_strings(path, d, true)?);
    let scores: Vec<Option<f64>> = if s.dtype().is_string() {
        let mut out = Vec::with_capacity(s.len());
        for (i, v) in strings(path, s)?.iter().enumerate() {
            out.push(match v {
                None => None,
                Some(v) => Some(v.trim().parse::<f64>().map_err(|_| {
                    FileError::parse(
                        path,
                        table.record(i),
                        "score",
                        format!("not a number: {v:?}"),
                    )
                })?),
            });
        }
        out
    } else if s.dtype().is_primitive_numeric() {
        let f = s
            .cast(&DataType::Float64)
            .map_err(|e| FileError::parse(path, 0, "score", e.to_string()))?;
        let f = f
            .f64()
            .map_err(|e| FileError::parse(path, 0, "score", e.to_string()))?;
        f.iter().collect()
    } else {
        return Err(FileError::parse(
            path,
            0,
            "score",
            format!("expected a numeric column, got {}", s.dtype()),
        ));
    };
    let mut rows = Vec::with_capacity(df.height());
    let columns = strings(path, &q)?
        .iter()
        .zip(strings(path, &d)?.iter())
        .zip(scores);
    for (i, ((q, d), score)) in columns.enumerate() {
        let line = table.record(i);
        let score = score.ok_or_else(|| FileError::parse(path, line, "score", "missing (null)"))?;
        if !score.is_finite() {
            return Err(FileError::parse(path, line, "score", "not finite"));
        }
        rows.push(QrelRow {
            query_id: id_value(path, line, "query-id", q)?,
            doc_id: id_value(path, line, "corpus-id", d)?,
            score,
            line,
        });
    }
    Ok(rows)
}
