//! Baseline objectives with the same calling convention as WS2: `scores [B, m]` (`m = n` or
//! `m = B·n` with in-batch negatives) against integer `labels [B, n]`. Built from Burn tensor
//! ops, so they are differentiable on every autodiff backend. Build each from its config with
//! `init()` (an error for an invalid temperature), as Burn's `nn::loss` does.
//!
//! **Reduction: mean** — over queries (InfoNCE, ListNet) or over ordered pairs (RankNet), as
//! each is usually defined; WS2's is a sum over the batch (see [`crate::WassersteinLoss`]).

use burn::config::Config;
use burn::tensor::{Int, Tensor, activation, backend::Backend};

use crate::LossError;
use crate::labels::{check_columns, check_rows, own_block, widen};

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

/// InfoNCE (build it with [`InfoNceConfig::init`]).
#[derive(Debug, Clone, PartialEq)]
pub struct InfoNce {
    config: InfoNceConfig,
}

/// ListNet (build it with [`ListNetConfig::init`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ListNet {
    config: ListNetConfig,
}

/// RankNet (build it with [`RankNetConfig::init`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RankNet {
    config: RankNetConfig,
}

/// The temperature every baseline checks at `init`.
fn check_temperature(loss: &'static str, temperature: f64) -> Result<(), LossError> {
    if !(temperature.is_finite() && temperature > 0.0) {
        return Err(LossError::Config {
            loss,
            field: "temperature",
            detail: format!("must be finite and > 0, got {temperature}"),
        });
    }
    Ok(())
}

/// `scores [b, m]` against `labels [bl, n]`, as every baseline checks them.
fn check_inputs(
    loss: &'static str,
    [b, m]: [usize; 2],
    [bl, n]: [usize; 2],
) -> Result<(), LossError> {
    check_rows(b, bl, loss)?;
    check_columns(b, m, n, loss)
}

impl InfoNceConfig {
    /// The loss; an error when the temperature is not finite and positive.
    pub fn init(&self) -> Result<InfoNce, LossError> {
        check_temperature("InfoNCE", self.temperature)?;
        Ok(InfoNce {
            config: self.clone(),
        })
    }
}

impl ListNetConfig {
    /// The loss; an error when the temperature is not finite and positive.
    pub fn init(&self) -> Result<ListNet, LossError> {
        check_temperature("ListNet", self.temperature)?;
        Ok(ListNet {
            config: self.clone(),
        })
    }
}

impl RankNetConfig {
    /// The loss; an error when the temperature is not finite and positive.
    pub fn init(&self) -> Result<RankNet, LossError> {
        check_temperature("RankNet", self.temperature)?;
        Ok(RankNet {
            config: self.clone(),
        })
    }
}

/// Row-wise `log Σ exp(x)`, shifted by the (detached) row max so it neither overflows nor
/// underflows; each row needs one finite entry.
fn log_sum_exp<B: Backend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    let max = x.clone().detach().max_dim(1);
    (x - max.clone()).exp().sum_dim(1).log() + max
}

impl InfoNce {
    /// The settings.
    pub fn config(&self) -> &InfoNceConfig {
        &self.config
    }

    /// Mean InfoNCE over the rows; a row without a positive is an error.
    pub fn forward<B: Backend>(
        &self,
        scores: Tensor<B, 2>,
        labels: Tensor<B, 2, Int>,
    ) -> Result<Tensor<B, 1>, LossError> {
        const NAME: &str = "InfoNCE";
        check_inputs(NAME, scores.dims(), labels.dims())?;
        let c = &self.config;
        let [_, m] = scores.dims();
        let positive = labels.greater_equal_elem(c.positive_threshold).int();
        let positive = widen(positive, m, NAME)?;
        let pos_per_row: Vec<f32> = positive
            .clone()
            .sum_dim(1)
            .into_data()
            .convert::<f32>()
            .into_vec()
            .expect("converted to f32");
        if let Some(row) = pos_per_row.iter().position(|&c| c == 0.0) {
            return Err(LossError::Shape {
                loss: NAME,
                detail: format!(
                    "row {row} has no positive (no label >= {})",
                    c.positive_threshold
                ),
            });
        }
        let logits = scores.div_scalar(c.temperature);
        let log_all = log_sum_exp(logits.clone());
        // Non-positives get −∞, so they add nothing (and receive no gradient).
        let log_pos = log_sum_exp(logits.mask_fill(positive.equal_elem(0.0), f64::NEG_INFINITY));
        Ok((log_all - log_pos).mean())
    }
}

impl ListNet {
    /// The settings.
    pub fn config(&self) -> &ListNetConfig {
        &self.config
    }

    /// Mean over rows of `−Σ_j softmax(y)_j log softmax(s/τ)_j`.
    pub fn forward<B: Backend>(
        &self,
        scores: Tensor<B, 2>,
        labels: Tensor<B, 2, Int>,
    ) -> Result<Tensor<B, 1>, LossError> {
        const NAME: &str = "ListNet";
        check_inputs(NAME, scores.dims(), labels.dims())?;
        let [_, m] = scores.dims();
        let target = activation::softmax(widen(labels, m, NAME)?, 1);
        let log_p = activation::log_softmax(scores.div_scalar(self.config.temperature), 1);
        Ok((target * log_p).sum_dim(1).mean().neg())
    }
}

impl RankNet {
    /// The settings.
    pub fn config(&self) -> &RankNetConfig {
        &self.config
    }

    /// Mean over ordered pairs (`y_j > y_k`, same query) of `softplus(−(s_j − s_k)/τ)`;
    /// 0 when no query has two different levels.
    pub fn forward<B: Backend>(
        &self,
        scores: Tensor<B, 2>,
        labels: Tensor<B, 2, Int>,
    ) -> Result<Tensor<B, 1>, LossError> {
        const NAME: &str = "RankNet";
        check_inputs(NAME, scores.dims(), labels.dims())?;
        let [b, n] = labels.dims();
        let s = own_block(scores, n).div_scalar(self.config.temperature);
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
