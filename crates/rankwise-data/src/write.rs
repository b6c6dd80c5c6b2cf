//! Writing files without ever leaving a half-written one: write to `<name>.tmp`, then rename.

use std::io::Write;
use std::path::Path;

use crate::error::DataError;

/// Writes `bytes` to `path` atomically (temporary file in the same directory, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let mut file = std::fs::File::create(&tmp).map_err(|e| DataError::io(&tmp, e))?;
    file.write_all(bytes).map_err(|e| DataError::io(&tmp, e))?;
    file.sync_all().map_err(|e| DataError::io(&tmp, e))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(|e| DataError::io(path, e))
}

/// Writes BEIR qrels TSV (`query-id corpus-id score` header) atomically. An id that would break
/// the format (empty, whitespace, control characters) is an error naming the line it would have
/// been written at, and nothing is written.
pub fn write_qrels(path: &Path, rows: &[(String, String, i64)]) -> Result<(), DataError> {
    let mut text = String::from("query-id\tcorpus-id\tscore\n");
    for (i, (q, d, s)) in rows.iter().enumerate() {
        crate::read::check_id(path, i + 2, "query-id", q)?;
        crate::read::check_id(path, i + 2, "corpus-id", d)?;
        text.push_str(&format!("{q}\t{d}\t{s}\n"));
    }
    write_atomic(path, text.as_bytes())
}
