//! WS2: the squared 2-Wasserstein distance between the batch of predicted and target relevance
//! distributions, as in SyCL (Esfandiarpoor et al., 2025).

mod backend;
mod fast_exp;
pub(crate) mod host;

pub(crate) use backend::host_loss_and_grad;
pub use backend::{Ws2Backend, Ws2Params};

use burn::config::Config;
use burn::tensor::{ElementConversion, Int, Tensor, TensorPrimitive, backend::Backend};

use crate::LossError;

const NAME: &str = "WS2";

/// Settings of [`WassersteinLoss`].
#[derive(Config, Debug, PartialEq)]
pub struct WassersteinLossConfig {
    /// Softmax temperature τ for the scores (the labels are not divided by it).
    #[config(default = 1.0)]
    pub temperature: f64,
    /// In-batch negatives: scores are `[B, B·n]` and labels are widened block-diagonally.
    /// When false, scores are `[B, n]` and labels are used as they are.
    #[config(default = true)]
    pub in_batch: bool,
    /// ε added to every eigenvalue of `AAᵀ` under the square root (the reference uses 1e-15).
    #[config(default = 1e-15)]
    pub epsilon: f64,
    /// Reject NaN/±inf scores with an error naming the first one. The check runs on the device
    /// (`Σ (s − s)` is NaN exactly when a score is not finite) and reads one number back, so on a
    /// GPU it waits for the scores; a training loop that checks its loss anyway can turn it off
    /// (a non-finite score then gives a non-finite loss).
    #[config(default = true)]
    pub check_finite: bool,
}

impl WassersteinLossConfig {
    /// The loss with these settings; an error when τ is not finite and positive, or ε not
    /// finite and non-negative.
    pub fn init(&self) -> Result<WassersteinLoss, LossError> {
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(config_error(
                "temperature",
                format!("must be finite and > 0, got {}", self.temperature),
            ));
        }
        if !(self.epsilon.is_finite() && self.epsilon >= 0.0) {
            return Err(config_error(
                "epsilon",
                format!("must be finite and >= 0, got {}", self.epsilon),
            ));
        }
        Ok(WassersteinLoss {
            config: self.clone(),
        })
    }
}

/// The WS2 list-wise loss (build it with [`WassersteinLossConfig::init`]).
///
/// **Reduction: sum.** `forward` returns the WS2 distance of the whole batch, one scalar: the
/// batch is one pair of Gaussians, so there is no per-query term to average, and the paper's
/// loss is this value as it is (a batch of twice the queries does not halve it).
#[derive(Debug, Clone)]
pub struct WassersteinLoss {
    config: WassersteinLossConfig,
}

impl WassersteinLoss {
    /// The settings.
    pub fn config(&self) -> &WassersteinLossConfig {
        &self.config
    }

    /// WS2 of `scores` `[B, m]` against integer relevance `labels` `[B, n]`.
    ///
    /// Uses the backend's fused implementation ([`Ws2Backend`]): the CubeCL kernel on wgpu/cuda,
    /// the f64 host path on CPU backends. Differentiable on `Autodiff` backends.
    pub fn forward<B: Ws2Backend>(
        &self,
        scores: Tensor<B, 2>,
        labels: Tensor<B, 2, Int>,
    ) -> Result<Tensor<B, 1>, LossError> {
        let params = self.validate(&scores, &labels)?;
        if self.config.check_finite {
            check_finite_on_device(&scores)?;
        }
        let out = B::ws2_loss(
            scores.into_primitive().tensor(),
            labels.float().into_primitive().tensor(),
            params,
        );
        Ok(Tensor::from_primitive(TensorPrimitive::Float(out)))
    }

    /// WS2 on any Burn backend, without the backend extension: the loss and gradient are
    /// computed on the host in f64 and attached to the graph through a linear surrogate
    /// (`L + ⟨S, G⟩ − ⟨sg(S), G⟩`), whose value is `L` and whose gradient is `G`.
    pub fn forward_any<B: Backend>(
        &self,
        scores: Tensor<B, 2>,
        labels: Tensor<B, 2, Int>,
    ) -> Result<Tensor<B, 1>, LossError> {
        let params = self.validate(&scores, &labels)?;
        // The host path reads the scores anyway: the finiteness check costs nothing more.
        if self.config.check_finite {
            check_finite(&backend::to_f64(scores.to_data()), scores.dims()[1])?;
        }
        let (loss, grad) = host_loss_and_grad::<B>(
            scores.clone().detach().into_primitive().tensor(),
            labels.float().into_primitive().tensor(),
            params,
        );
        let loss = Tensor::<B, 1>::from_primitive(TensorPrimitive::Float(loss));
        let grad = Tensor::<B, 2>::from_primitive(TensorPrimitive::Float(grad));
        let surrogate = (scores.clone() * grad.clone()).sum() - (scores.detach() * grad).sum();
        Ok(surrogate + loss)
    }

    fn validate<B: Backend>(
        &self,
        scores: &Tensor<B, 2>,
        labels: &Tensor<B, 2, Int>,
    ) -> Result<Ws2Params, LossError> {
        let [b, m] = scores.dims();
        let [bl, n] = labels.dims();
        check_shapes(b, m, bl, n, self.config.in_batch)?;
        Ok(Ws2Params {
            n,
            temperature: self.config.temperature,
            eps: self.config.epsilon,
        })
    }
}

/// An error naming the first non-finite score, found without reading the scores back unless
/// there is one: `Σ (s − s)` is 0 when every score is finite and NaN otherwise.
fn check_finite_on_device<B: Backend>(scores: &Tensor<B, 2>) -> Result<(), LossError> {
    let probe = scores.clone().detach();
    let total: f64 = (probe.clone() - probe).sum().into_scalar().elem();
    if total.is_finite() {
        return Ok(());
    }
    check_finite(&backend::to_f64(scores.to_data()), scores.dims()[1])
}

fn config_error(field: &'static str, detail: String) -> LossError {
    LossError::Config {
        loss: NAME,
        field,
        detail,
    }
}

/// Checks `scores [b, m]` against `labels [bl, n]`.
pub(crate) fn check_shapes(
    b: usize,
    m: usize,
    bl: usize,
    n: usize,
    in_batch: bool,
) -> Result<(), LossError> {
    let err = |detail: String| Err(LossError::Shape { loss: NAME, detail });
    if b == 0 || m == 0 || n == 0 {
        return err(format!(
            "empty input: scores [{b}, {m}], labels [{bl}, {n}]"
        ));
    }
    crate::labels::check_rows(b, bl, NAME)?;
    let expected = if in_batch { b * n } else { n };
    if m != expected {
        let rule = if in_batch {
            "B·n (in-batch negatives)"
        } else {
            "n (no in-batch negatives)"
        };
        return err(format!(
            "scores [{b}, {m}] need {expected} columns = {rule} for labels [{bl}, {n}]"
        ));
    }
    Ok(())
}

fn check_finite(values: &[f64], cols: usize) -> Result<(), LossError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(k) => Err(LossError::NonFinite {
            loss: NAME,
            input: "scores",
            row: k / cols,
            col: k % cols,
        }),
        None => Ok(()),
    }
}
