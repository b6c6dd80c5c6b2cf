//! The files floor of rankwise: reading and writing the files every other crate works on, with no
//! Burn and no model.
//!
//! * [`read`]: BEIR-layout readers (`corpus.jsonl`, `queries.jsonl`, qrels TSV/TREC/JSONL, gzip;
//!   parquet and CSV through polars with the default `polars` feature), and where a folder keeps
//!   them ([`collection_file`], [`qrels_file`]).
//! * [`Collection`]: ids and texts as string columns, with an index of ids.
//! * [`write`]: files written atomically (temporary file, then rename), BEIR qrels.
//! * [`FileError`]: every error names the file, and the line and field when there is one.

mod collection;
pub mod error;
pub mod read;
mod record;
#[cfg(feature = "polars")]
mod tabular;
pub mod write;

pub use collection::Collection;
pub use error::FileError;
pub use read::{
    collection_file, open, qrels_file, read_corpus, read_qrels, read_queries, remove_bom, strip_bom,
};
pub use record::{BOM, QrelRow, id_flaw};
pub use write::{write_atomic, write_atomic_with, write_qrels};
