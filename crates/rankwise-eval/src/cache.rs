//! On-disk embedding cache keyed by a SHA-256 of everything that determines the vectors:
//! model files (weights, config, tokenizer), encoder options, the side and the text file.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::search::Embeddings;
use crate::trec::EvalError;

const MAGIC: &[u8; 8] = b"RWEMB001";

fn io(path: &Path, source: std::io::Error) -> EvalError {
    rankwise_files::FileError::io(path, source).into()
}

/// Hashes files and labelled values into a cache key.
#[derive(Default)]
pub struct CacheKey(Sha256);

impl CacheKey {
    /// Adds a labelled value.
    pub fn value(mut self, label: &str, value: &str) -> Self {
        self.0.update((label.len() as u64).to_le_bytes());
        self.0.update(label.as_bytes());
        self.0.update((value.len() as u64).to_le_bytes());
        self.0.update(value.as_bytes());
        self
    }

    /// Adds a file's bytes (a missing file adds its absence, so adding one changes the key).
    pub fn file(mut self, path: &Path) -> Result<Self, EvalError> {
        let label = path.file_name().map(|n| n.to_string_lossy().to_string());
        self = self.value("file", &label.unwrap_or_default());
        if !path.exists() {
            return Ok(self.value("absent", ""));
        }
        let mut f = std::fs::File::open(path).map_err(|e| io(path, e))?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f.read(&mut buf).map_err(|e| io(path, e))?;
            if n == 0 {
                break;
            }
            self.0.update(&buf[..n]);
        }
        Ok(self)
    }

    /// The hex digest.
    pub fn finish(self) -> String {
        self.0
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// A folder of cached embedding matrices.
#[derive(Debug, Clone)]
pub struct EmbeddingCache {
    dir: PathBuf,
}

impl EmbeddingCache {
    /// A cache in `dir` (created on first store).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// File of a key.
    pub fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.emb"))
    }

    /// Cached embeddings for `key`, if present. A corrupt file is an error naming it
    /// (delete it to recompute).
    pub fn load(&self, key: &str) -> Result<Option<Embeddings>, EvalError> {
        let path = self.path(key);
        if !path.exists() {
            return Ok(None);
        }
        let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
        let corrupt = |detail: &str| EvalError::Parse {
            path: path.clone(),
            line: 0,
            field: "header",
            detail: format!("{detail}; delete the file to recompute it"),
        };
        if bytes.len() < 24 || &bytes[..8] != MAGIC {
            return Err(corrupt("not a rankwise embedding file"));
        }
        let rows = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")) as usize;
        let dim = u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes")) as usize;
        let body = &bytes[24..];
        if body.len() != rows * dim * 4 {
            return Err(corrupt(&format!(
                "{} bytes of values for {rows} x {dim} (truncated?)",
                body.len()
            )));
        }
        let data = body
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        Ok(Some(Embeddings { rows, dim, data }))
    }

    /// Stores embeddings atomically (temporary file, then rename).
    pub fn store(&self, key: &str, emb: &Embeddings) -> Result<(), EvalError> {
        Ok(rankwise_files::write_atomic_with(&self.path(key), |f| {
            f.write_all(MAGIC)?;
            f.write_all(&(emb.rows as u64).to_le_bytes())?;
            f.write_all(&(emb.dim as u64).to_le_bytes())?;
            for x in &emb.data {
                f.write_all(&x.to_le_bytes())?;
            }
            Ok(())
        })?)
    }
}
