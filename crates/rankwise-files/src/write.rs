//! Writing files without ever leaving a half-written one: write to `<name>.tmp`, then rename.

use std::io::{BufWriter, Write};
use std::path::Path;

use crate::error::FileError;

/// Writes `bytes` to `path` atomically (temporary file in the same directory, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Writes `path` atomically through `write`, which streams into a buffered temporary file
/// (`<name>.tmp` in the same folder, created with its parents); the file is synced, then renamed
/// over `path`. On an error the temporary file is removed and `path` is left as it was.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), FileError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| FileError::io(dir, e))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let written = (|| {
        let mut out = BufWriter::new(std::fs::File::create(&tmp)?);
        write(&mut out)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(FileError::io(&tmp, e));
    }
    std::fs::rename(&tmp, path).map_err(|e| FileError::io(path, e))
}

/// Writes BEIR qrels TSV (`query-id corpus-id score` header) atomically. An id that would break
/// the format (empty, whitespace, control characters) is an error naming the line it would have
/// been written at, and nothing is written.
pub fn write_qrels(path: &Path, rows: &[(String, String, i64)]) -> Result<(), FileError> {
    let mut text = String::from("query-id\tcorpus-id\tscore\n");
    for (i, (q, d, s)) in rows.iter().enumerate() {
        crate::record::check_id(path, i + 2, "query-id", q)?;
        crate::record::check_id(path, i + 2, "corpus-id", d)?;
        text.push_str(&format!("{q}\t{d}\t{s}\n"));
    }
    write_atomic(path, text.as_bytes())
}
