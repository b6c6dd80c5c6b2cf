//! What one record of a collection or qrels file is: ids and their rules, a passage's text, a
//! judgement row. Shared by the line readers (`read`) and the table readers (`tabular`).

use std::path::Path;

use crate::error::FileError;

/// The UTF-8 byte-order mark, which some editors put at the start of a text file.
pub const BOM: &str = "\u{feff}";

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

/// Why `id` cannot be an id, if it cannot: whitespace or control characters would split or
/// inject rows in the TSV and TREC files written from it.
pub fn id_flaw(id: &str) -> Option<String> {
    let c = id.chars().find(|c| c.is_whitespace() || c.is_control())?;
    Some(format!(
        "id {id:?} holds {}; ids may not contain whitespace or control characters",
        match c {
            ' ' => "a space".to_string(),
            '\t' => "a tab".to_string(),
            '\n' | '\r' => "a line break".to_string(),
            c => format!("the character U+{:04X}", c as u32),
        }
    ))
}

/// `id` when it is non-empty and has no [`id_flaw`]; else an error naming file, line and field.
pub(crate) fn check_id(path: &Path, line: usize, field: &str, id: &str) -> Result<(), FileError> {
    if id.is_empty() {
        return Err(FileError::parse(path, line, field, "empty id"));
    }
    match id_flaw(id) {
        Some(flaw) => Err(FileError::parse(path, line, field, flaw)),
        None => Ok(()),
    }
}

/// A passage's text: `title + " " + text`, trimmed (just the text when the title is empty).
#[cfg(any(feature = "polars", test))]
pub(crate) fn passage_text(title: &str, body: &str) -> String {
    let mut out = String::with_capacity(title.len() + 1 + body.len());
    push_passage_text(&mut out, title, body);
    out
}

/// Appends [`passage_text`] to `out` without an intermediate string; trimming is rare and done
/// in place.
pub(crate) fn push_passage_text(out: &mut String, title: &str, body: &str) {
    if title.is_empty() {
        out.push_str(body.trim());
        return;
    }
    let base = out.len();
    out.push_str(title);
    out.push(' ');
    out.push_str(body);
    let end = base + out[base..].trim_end().len();
    out.truncate(end);
    let start = end - out[base..].trim_start().len();
    if start > base {
        out.drain(base..start);
    }
}

#[cfg(test)]
mod tests {
    use super::passage_text;

    #[test]
    fn passage_text_joins_and_trims_the_whole() {
        assert_eq!(passage_text("Title", "body"), "Title body");
        assert_eq!(passage_text("", "  body \n"), "body");
        assert_eq!(passage_text("  T ", " body  "), "T   body");
        assert_eq!(passage_text(" ", "\tbody"), "body");
        assert_eq!(passage_text("Title", ""), "Title");
        assert_eq!(passage_text("  ", " "), "");
        assert_eq!(passage_text("é ", " ü"), "é   ü");
    }
}
