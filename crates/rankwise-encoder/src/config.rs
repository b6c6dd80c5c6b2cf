//! The Hugging Face `BertConfig` fields the encoder needs, read from `config.json`.

use std::path::Path;

use serde_json::{Map, Value};

use crate::EncoderError;

/// Architecture hyper-parameters of a BERT-family encoder.
#[derive(Debug, Clone, PartialEq)]
pub struct BertConfig {
    /// Vocabulary size (rows of the word-embedding table).
    pub vocab_size: usize,
    /// Hidden size.
    pub hidden_size: usize,
    /// Number of encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer (must divide `hidden_size`).
    pub num_attention_heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// Learned absolute positions.
    pub max_position_embeddings: usize,
    /// Token-type (segment) vocabulary.
    pub type_vocab_size: usize,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f64,
    /// Dropout on the embeddings and each block's output while training
    /// (`hidden_dropout_prob`, default 0.1 as in `transformers`).
    pub hidden_dropout_prob: f64,
    /// Dropout on the attention probabilities while training (`attention_probs_dropout_prob`,
    /// default 0.1).
    pub attention_probs_dropout_prob: f64,
    /// The `config.json` as read, so that saving writes back every field unchanged.
    pub raw: Map<String, Value>,
}

/// The `model_type` values of `config.json` that this encoder implements (BERT-family models
/// with absolute positions: BERT, MiniLM, Contriever, E5, BGE, …). A config without the key is
/// read as BERT.
pub const SUPPORTED_MODEL_TYPES: [&str; 1] = ["bert"];

impl BertConfig {
    /// An error when `length` tokens (`key`, e.g. `passage_max_length`) exceed the positions the
    /// model has (`max_position_embeddings`); `path` names the config in the message.
    pub fn check_length(&self, path: &Path, key: &str, length: usize) -> Result<(), EncoderError> {
        if length > self.max_position_embeddings {
            return Err(EncoderError::config(
                path,
                "max_position_embeddings",
                format!(
                    "{key} = {length} exceeds the model's {} positions; use at most {}",
                    self.max_position_embeddings, self.max_position_embeddings
                ),
            ));
        }
        if length < 2 {
            return Err(EncoderError::config(
                path,
                key,
                format!("{length} tokens leave no room for text ([CLS] and [SEP] take 2)"),
            ));
        }
        Ok(())
    }

    /// Reads and validates `config.json`.
    pub fn load(path: &Path) -> Result<Self, EncoderError> {
        let text = std::fs::read_to_string(path).map_err(|e| EncoderError::io(path, e))?;
        let value: Value = serde_json::from_str(crate::strip_bom(&text))
            .map_err(|e| EncoderError::config(path, "<document>", format!("invalid JSON: {e}")))?;
        let Value::Object(raw) = value else {
            return Err(EncoderError::config(
                path,
                "<document>",
                "expected a JSON object",
            ));
        };
        Self::from_map(raw, path)
    }

    /// Validates a parsed config; `path` is only used in error messages.
    pub fn from_map(raw: Map<String, Value>, path: &Path) -> Result<Self, EncoderError> {
        let usize_field = |key: &str, default: Option<usize>| -> Result<usize, EncoderError> {
            match raw.get(key) {
                Some(v) => v
                    .as_u64()
                    .filter(|&x| x > 0)
                    .map(|x| x as usize)
                    .ok_or_else(|| {
                        EncoderError::config(
                            path,
                            key,
                            format!("expected a positive integer, got {v}"),
                        )
                    }),
                None => default.ok_or_else(|| EncoderError::config(path, key, "missing")),
            }
        };
        if let Some(kind) = raw.get("model_type") {
            let known = kind
                .as_str()
                .is_some_and(|k| SUPPORTED_MODEL_TYPES.contains(&k));
            if !known {
                return Err(EncoderError::config(
                    path,
                    "model_type",
                    format!(
                        "unsupported model type {kind} (supported: {})",
                        SUPPORTED_MODEL_TYPES.join(", ")
                    ),
                ));
            }
        }
        let hidden_act = raw
            .get("hidden_act")
            .and_then(Value::as_str)
            .unwrap_or("gelu");
        if hidden_act != "gelu" {
            return Err(EncoderError::config(
                path,
                "hidden_act",
                format!(
                    "unsupported activation `{hidden_act}` (supported: gelu, the exact erf form)"
                ),
            ));
        }
        if let Some(kind) = raw.get("position_embedding_type").and_then(Value::as_str)
            && kind != "absolute"
        {
            return Err(EncoderError::config(
                path,
                "position_embedding_type",
                format!("unsupported `{kind}` (supported: absolute)"),
            ));
        }
        let layer_norm_eps = match raw.get("layer_norm_eps") {
            Some(v) => v.as_f64().filter(|x| *x > 0.0).ok_or_else(|| {
                EncoderError::config(
                    path,
                    "layer_norm_eps",
                    format!("expected a positive number, got {v}"),
                )
            })?,
            None => 1e-12,
        };
        let probability = |key: &str| -> Result<f64, EncoderError> {
            match raw.get(key) {
                Some(v) => v
                    .as_f64()
                    .filter(|x| (0.0..1.0).contains(x))
                    .ok_or_else(|| {
                        EncoderError::config(
                            path,
                            key,
                            format!("expected a number in [0, 1), got {v}"),
                        )
                    }),
                None => Ok(0.1),
            }
        };
        let config = Self {
            vocab_size: usize_field("vocab_size", None)?,
            hidden_size: usize_field("hidden_size", None)?,
            num_hidden_layers: usize_field("num_hidden_layers", None)?,
            num_attention_heads: usize_field("num_attention_heads", None)?,
            intermediate_size: usize_field("intermediate_size", None)?,
            max_position_embeddings: usize_field("max_position_embeddings", Some(512))?,
            type_vocab_size: usize_field("type_vocab_size", Some(2))?,
            layer_norm_eps,
            hidden_dropout_prob: probability("hidden_dropout_prob")?,
            attention_probs_dropout_prob: probability("attention_probs_dropout_prob")?,
            raw: raw.clone(),
        };
        if !config
            .hidden_size
            .is_multiple_of(config.num_attention_heads)
        {
            return Err(EncoderError::config(
                path,
                "num_attention_heads",
                format!(
                    "{} heads do not divide hidden_size {}",
                    config.num_attention_heads, config.hidden_size
                ),
            ));
        }
        Ok(config)
    }

    /// Per-head width.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }
}
