//! BERT-family bi-encoder for Burn: loads and saves Hugging Face checkpoints (Contriever, E5,
//! BGE, MiniLM / sentence-transformers), tokenises with the `tokenizers` crate, pools, and
//! trains on any Burn backend.
//!
//! One file per concern: [`config`] (`config.json`), [`weights`] (safetensors ⇄ modules),
//! [`bert`] (the model), [`dropout`] (keyed training masks), [`tokenize`], [`pooling`], [`biencoder`] (towers, options, folders),
//! [`host`] (fast f32 CPU inference with the same weights), [`inference`] (the one inference
//! entry point, picked by backend type), [`ops`] (the fused attention and
//! GELU blocks as a backend extension, with multi-threaded CPU kernels and their backward).

pub mod bert;
pub mod biencoder;
pub mod config;
pub mod dropout;
pub mod error;
pub mod host;
pub mod inference;
pub mod kernels;
pub mod ops;
pub mod pooling;
pub mod precision;
pub mod tokenize;
pub mod weights;

pub use bert::Bert;
pub use biencoder::{BiEncoder, BiEncoderModel, EncoderOptions, Side};
pub use config::{BertConfig, SUPPORTED_MODEL_TYPES};
pub use dropout::Dropout;
pub use error::EncoderError;
pub use host::HostEncoder;
pub use inference::Inference;
pub use ops::EncoderBackend;
pub use pooling::{Pooling, pool};
pub use precision::Precision;
pub use tokenize::{TextTokenizer, TokenBatch};

/// `text` without a leading UTF-8 byte-order mark (some editors write one into JSON files).
pub(crate) fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}
