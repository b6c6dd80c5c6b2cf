//! Sentence pooling over the last hidden states.

use burn::tensor::{Int, Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

/// How token states become one vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// Mask-aware mean over real tokens (Contriever, E5, MiniLM).
    #[default]
    Mean,
    /// The `[CLS]` (first) token (BGE).
    Cls,
    /// The last real token.
    Last,
}

impl std::str::FromStr for Pooling {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "mean" => Ok(Self::Mean),
            "cls" => Ok(Self::Cls),
            "last" => Ok(Self::Last),
            other => Err(format!(
                "unknown pooling `{other}` (allowed: mean, cls, last)"
            )),
        }
    }
}

/// Pools `hidden [batch, len, h]` with `attention_mask [batch, len]` into `[batch, h]`,
/// L2-normalising when `normalize` (`x / max(‖x‖, 1e-12)`).
pub fn pool<B: Backend>(
    hidden: Tensor<B, 3>,
    attention_mask: Tensor<B, 2, Int>,
    pooling: Pooling,
    normalize: bool,
) -> Tensor<B, 2> {
    let [batch, len, h] = hidden.dims();
    let pooled = match pooling {
        Pooling::Mean => {
            let mask = attention_mask.float().reshape([batch, len, 1]);
            let summed = (hidden * mask.clone()).sum_dim(1).reshape([batch, h]);
            let counts = mask.sum_dim(1).reshape([batch, 1]).clamp_min(1e-9);
            summed / counts
        }
        Pooling::Cls => hidden.slice([0..batch, 0..1, 0..h]).reshape([batch, h]),
        Pooling::Last => {
            let last = (attention_mask.sum_dim(1) - 1)
                .clamp_min(0)
                .reshape([batch, 1, 1]);
            hidden
                .gather(1, last.expand([batch, 1, h]))
                .reshape([batch, h])
        }
    };
    if normalize {
        let norm = pooled
            .clone()
            .powi_scalar(2)
            .sum_dim(1)
            .sqrt()
            .clamp_min(1e-12);
        pooled / norm
    } else {
        pooled
    }
}
