//! Baseline objectives with the same calling convention as WS2: `scores [B, m]` (`m = n` or
//! `m = B·n` with in-batch negatives) against integer `labels [B, n]`. Built from Burn tensor
//! ops, so they are differentiable on every autodiff backend. Each returns the mean over queries.

use burn::config::Config;
use burn::tensor::{Int, Tensor, activation, backend::Backend};

use crate::LossError;
use crate::labels::{check_rows, own_block, widen};

/// InfoNCE on binary labels: a passage is positive when its level ≥ `positive_threshold`.
/// With several positives per row: `−log(Σ_pos e^{s/τ} / Σ_all e^{s/τ})`.
#[derive(Config, Debug, PartialEq)]
pub struct InfoNceConfig {
    /// Softmax temperature τ.
    #[config(default = 1.0)]
    pub temperature: f64,
    /// Levels at or above this are positives.
    #[config(default = 1)]
    pub positive_threshold: i64,
}

/// ListNet: cross-entropy between `softmax(labels)` and `softmax(scores/τ)` (equal to
/// `KL(Q‖P)` up to a constant in the scores).
#[derive(Config, Debug, PartialEq)]
pub struct ListNetConfig {
    /// Softmax temperature τ for the scores.
    #[config(default = 1.0)]
    pub temperature: f64,
}

/// RankNet on graded labels: `log(1 + e^{−(s_j − s_k)/τ})` over the pairs of a query's own
/// passages with `y_j > y_k`, averaged over pairs.
#[derive(Config, Debug, PartialEq)]
pub struct RankNetConfig {
    /// Scale τ of the score differences.
    #[config(default = 1.0)]
    pub temperature: f64,
}

fn check_temperature(t: f64, loss: &'static str) -> Result<(), LossError> {
    if t.is_finite() && t > 0.0 {
        Ok(())
    } else {
        Err(LossError::Config {
            loss,
            field: "temperature",
            detail: format!("must be finite and > 0, got {t}"),
        })
    }
}

impl InfoNceConfig {
    /// Mean InfoNCE over the rows; a row without a positive is an error.
    pub fn forward<B: Backend>(
        &self,
        scores: Tensor<B, 2>,
        labels: Tensor<B, 2, Int>,
    ) -> Result<Tensor<B, 1>, LossError> {
        const NAME: &str = "InfoNCE";
        check_temperature(self.temperature, NAME)?;
        let [b, m] = scores.dims();
        check_rows(b, labels.dims()[0], NAME)?;
        let positive = labels.greater_equal_elem(self.positive_threshold).int();
        let positive = widen(positive, m, NAME)?;
        let pos_per_row: Vec<f32> = positive
            .clone()
            .sum_dim(1)
            .into_data()
            .convert::<f32>()
            .into_vec()
            .unwrap_or_default();
        if let Some(row) = pos_per_row.iter().position(|&c| c == 0.0) {
            return Err(LossError::Shape {
                loss: NAME,
                detail: format!(
                    "row {row} has no positive (no label >= {})",
                    self.positive_threshold
                ),
            });
        }
        let logits = scores.div_scalar(self.temperature);
        let log_all = logits.clone().exp().sum_dim(1).log();
        let log_pos = (logits.exp() * positive).sum_dim(1).log();
        Ok((log_all - log_pos).mean())
    }
}

impl ListNetConfig {
    /// Mean over rows of `−Σ_j softmax(y)_j log softmax(s/τ)_j`.
    pub fn forward<B: Backend>(
        &self,
        scores: Tensor<B, 2>,
        labels: Tensor<B, 2, Int>,
    ) -> Result<Tensor<B, 1>, LossError> {
        const NAME: &str = "ListNet";
        check_temperature(self.temperature, NAME)?;
        let [b, m] = scores.dims();
        check_rows(b, labels.dims()[0], NAME)?;
        let target = activation::softmax(widen(labels, m, NAME)?, 1);
        let log_p = activation::log_softmax(scores.div_scalar(self.temperature), 1);
        Ok((target * log_p).sum_dim(1).mean().neg())
    }
}

impl RankNetConfig {
    /// Mean over ordered pairs (`y_j > y_k`, same query) of `softplus(−(s_j − s_k)/τ)`;
    /// 0 when no query has two different levels.
    pub fn forward<B: Backend>(
        &self,
        scores: Tensor<B, 2>,
        labels: Tensor<B, 2, Int>,
    ) -> Result<Tensor<B, 1>, LossError> {
        const NAME: &str = "RankNet";
        check_temperature(self.temperature, NAME)?;
        let [b, m] = scores.dims();
        let [bl, n] = labels.dims();
        check_rows(b, bl, NAME)?;
        if m != n && m != b * n {
            return Err(LossError::Shape {
                loss: NAME,
                detail: format!(
                    "scores have {m} columns; labels [{bl}, {n}] need {n} or {}",
                    b * n
                ),
            });
        }
        let s = own_block(scores, n).div_scalar(self.temperature);
        let y = labels.float();
        let ds = s.clone().reshape([b, n, 1]) - s.reshape([b, 1, n]);
        let better = (y.clone().reshape([b, n, 1]) - y.reshape([b, 1, n]))
            .greater_elem(0.0)
            .float();
        let pairs = better.clone().sum();
        let total = (activation::softplus(ds.neg(), 1.0) * better).sum();
        Ok(total / pairs.clamp_min(1.0))
    }
}
