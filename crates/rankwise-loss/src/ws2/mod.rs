//! WS2: the squared 2-Wasserstein distance between the batch of predicted and target relevance
//! distributions, as in SyCL (Esfandiarpoor et al., 2025).

mod backend;
mod fast_exp;
pub mod host;

pub use backend::{Ws2Backend, Ws2Params, host_loss_and_grad};

use burn::config::Config;
use burn::tensor::{Int, Tensor, TensorPrimitive, backend::Backend};

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
    /// Reject NaN/±inf scores with an error. Done where the scores already live in host memory
    /// (the CPU backends, [`Ws2Backend::host_resident`]); on GPU backends reading them back would
    /// stall the device on every call, so it is skipped there: a non-finite score then gives a
    /// non-finite loss, which the trainer refuses.
    #[config(default = true)]
    pub check_finite: bool,
}

/// The WS2 list-wise loss. `forward` returns one scalar per call: a sum over the batch.
#[derive(Debug, Clone)]
pub struct WassersteinLoss {
    config: WassersteinLossConfig,
}

impl WassersteinLoss {
    /// A loss with the given settings.
    pub fn new(config: WassersteinLossConfig) -> Self {
        Self { config }
    }

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
        let params = self.validate(&scores, &labels, B::host_resident())?;
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
        // The host path reads the scores anyway: the finiteness check costs nothing more.
        let params = self.validate(&scores, &labels, true)?;
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
        scores_on_host: bool,
    ) -> Result<Ws2Params, LossError> {
        let c = &self.config;
        if !(c.temperature.is_finite() && c.temperature > 0.0) {
            return Err(config_error(
                "temperature",
                format!("must be finite and > 0, got {}", c.temperature),
            ));
        }
        if !(c.epsilon.is_finite() && c.epsilon >= 0.0) {
            return Err(config_error(
                "epsilon",
                format!("must be finite and >= 0, got {}", c.epsilon),
            ));
        }
        let [b, m] = scores.dims();
        let [bl, n] = labels.dims();
        check_shapes(b, m, bl, n, c.in_batch)?;
        if c.check_finite && scores_on_host {
            check_finite(
                scores
                    .to_data()
                    .convert::<f64>()
                    .as_slice::<f64>()
                    .unwrap_or(&[]),
                m,
            )?;
        }
        Ok(Ws2Params {
            n,
            temperature: c.temperature,
            eps: c.epsilon,
        })
    }
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
