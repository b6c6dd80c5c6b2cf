//! Batch tokenisation with the `tokenizers` crate: explicit truncation, right padding to a
//! multiple of 8, attention mask and token-type ids as Burn tensors.
//!
//! Many Hugging Face `tokenizer.json` files (MiniLM's included) carry their own truncation and
//! fixed padding; both are replaced here so that the encoder's settings decide.

use std::path::{Path, PathBuf};

use burn::tensor::{Int, Tensor, TensorData, backend::Backend};
use tokenizers::{Tokenizer, TruncationParams};

use crate::EncoderError;

/// Pad every batch to a multiple of this many tokens (good for matmul tiling).
pub const PAD_MULTIPLE: usize = 8;

/// A tokenizer with a fixed maximum length.
#[derive(Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
    path: PathBuf,
    pad_id: u32,
    max_length: usize,
}

/// A right-padded batch of token ids, row-major `[batch, len]`.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBatch {
    /// Rows.
    pub batch: usize,
    /// Padded length (a multiple of [`PAD_MULTIPLE`]).
    pub len: usize,
    /// Token ids.
    pub input_ids: Vec<i64>,
    /// Segment ids.
    pub token_type_ids: Vec<i64>,
    /// 1 for real tokens, 0 for padding.
    pub attention_mask: Vec<i64>,
    /// Real tokens per row.
    pub lengths: Vec<usize>,
}

impl TokenBatch {
    /// A batch of `rows` rows from padded row-major token ids, segment ids and attention mask
    /// (a batch tokenised elsewhere, e.g. by Hugging Face `tokenizers` in Python); each row's
    /// length is the sum of its mask, and the padded length need not be a multiple of
    /// [`PAD_MULTIPLE`].
    pub fn from_padded(
        rows: usize,
        input_ids: Vec<i64>,
        token_type_ids: Vec<i64>,
        attention_mask: Vec<i64>,
    ) -> Self {
        let len = input_ids.len() / rows.max(1);
        Self {
            batch: rows,
            len,
            lengths: attention_mask
                .chunks(len.max(1))
                .map(|r| r.iter().sum::<i64>() as usize)
                .collect(),
            input_ids,
            token_type_ids,
            attention_mask,
        }
    }
}

impl TextTokenizer {
    /// Loads `tokenizer.json`, truncating to `max_length` tokens (special tokens included).
    pub fn load(path: &Path, max_length: usize) -> Result<Self, EncoderError> {
        let err = |detail: String| EncoderError::Tokenizer {
            path: path.to_path_buf(),
            detail,
        };
        if !path.exists() {
            return Err(EncoderError::io(
                path,
                std::io::Error::new(std::io::ErrorKind::NotFound, "file not found"),
            ));
        }
        let text = std::fs::read_to_string(path).map_err(|e| EncoderError::io(path, e))?;
        let mut inner =
            Tokenizer::from_bytes(crate::strip_bom(&text)).map_err(|e| err(e.to_string()))?;
        let pad_id = match inner.get_padding() {
            Some(p) => p.pad_id,
            None => inner
                .token_to_id("[PAD]")
                .or_else(|| inner.token_to_id("<pad>"))
                .ok_or_else(|| {
                    err("no pad token: neither a padding section nor a [PAD]/<pad> token".into())
                })?,
        };
        inner.with_padding(None);
        inner
            .with_truncation(Some(TruncationParams {
                max_length,
                ..Default::default()
            }))
            .map_err(|e| err(e.to_string()))?;
        Ok(Self {
            inner,
            path: path.to_path_buf(),
            pad_id,
            max_length,
        })
    }

    /// The file this tokenizer was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The maximum length in tokens.
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// Tokenises single texts.
    pub fn encode(&self, texts: &[&str]) -> Result<TokenBatch, EncoderError> {
        Ok(self.pad(&self.encodings(texts)?))
    }

    /// The unpadded encodings of `texts`; [`Self::pad`] turns any subset into a batch, so texts
    /// sorted by length are tokenised once.
    pub fn encodings(&self, texts: &[&str]) -> Result<Vec<tokenizers::Encoding>, EncoderError> {
        self.inner
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| EncoderError::Tokenizer {
                path: self.path.clone(),
                detail: e.to_string(),
            })
    }

    /// Tokenises `(text, text_pair)` items (segment ids 0 and 1).
    pub fn encode_pairs(&self, pairs: &[(&str, &str)]) -> Result<TokenBatch, EncoderError> {
        let inputs: Vec<tokenizers::EncodeInput> =
            pairs.iter().map(|&(a, b)| (a, b).into()).collect();
        let encodings =
            self.inner
                .encode_batch(inputs, true)
                .map_err(|e| EncoderError::Tokenizer {
                    path: self.path.clone(),
                    detail: e.to_string(),
                })?;
        Ok(self.pad(&encodings))
    }

    /// Right-pads encodings into a batch whose length is a multiple of [`PAD_MULTIPLE`].
    pub fn pad<E: std::borrow::Borrow<tokenizers::Encoding>>(&self, encodings: &[E]) -> TokenBatch {
        let batch = encodings.len();
        let longest = encodings
            .iter()
            .map(|e| e.borrow().get_ids().len())
            .max()
            .unwrap_or(0);
        let len = longest.div_ceil(PAD_MULTIPLE).max(1) * PAD_MULTIPLE;
        let mut out = TokenBatch {
            batch,
            len,
            input_ids: vec![self.pad_id as i64; batch * len],
            token_type_ids: vec![0; batch * len],
            attention_mask: vec![0; batch * len],
            lengths: Vec::with_capacity(batch),
        };
        for (row, e) in encodings.iter().enumerate() {
            let e = e.borrow();
            let ids = e.get_ids();
            for (t, (&id, &ty)) in ids.iter().zip(e.get_type_ids()).enumerate() {
                out.input_ids[row * len + t] = id as i64;
                out.token_type_ids[row * len + t] = ty as i64;
                out.attention_mask[row * len + t] = 1;
            }
            out.lengths.push(ids.len());
        }
        out
    }
}

impl TokenBatch {
    /// `(input_ids, token_type_ids, attention_mask)` as `[batch, len]` int tensors.
    pub fn to_tensors<B: Backend>(
        &self,
        device: &B::Device,
    ) -> (Tensor<B, 2, Int>, Tensor<B, 2, Int>, Tensor<B, 2, Int>) {
        let shape = [self.batch, self.len];
        let t = |v: &Vec<i64>| Tensor::from_data(TensorData::new(v.clone(), shape), device);
        (
            t(&self.input_ids),
            t(&self.token_type_ids),
            t(&self.attention_mask),
        )
    }
}
