//! The selected objective applied to in-batch scores.

use burn::tensor::{Int, Tensor};
use rankwise_loss::{
    InfoNce, InfoNceConfig, ListNet, ListNetConfig, LossError, RankNet, RankNetConfig,
    WassersteinLoss, WassersteinLossConfig, Ws2Backend,
};

use crate::config::{LossKind, LossSettings};

/// A ready-to-use objective.
#[derive(Debug, Clone)]
pub enum Objective {
    /// WS2.
    Ws2(WassersteinLoss),
    /// InfoNCE.
    InfoNce(InfoNce),
    /// ListNet.
    ListNet(ListNet),
    /// RankNet.
    RankNet(RankNet),
}

impl Objective {
    /// Builds the objective of `settings` at temperature `t` (see
    /// [`LossSettings::temperature_for`]); an error when `t` is not finite and positive.
    pub fn new(settings: &LossSettings, t: f64) -> Result<Self, LossError> {
        Ok(match settings.kind {
            LossKind::Ws2 => Self::Ws2(
                WassersteinLossConfig::new()
                    .with_temperature(t)
                    .with_in_batch(settings.in_batch)
                    .init()?,
            ),
            LossKind::Infonce => Self::InfoNce(
                InfoNceConfig::new()
                    .with_temperature(t)
                    .with_positive_threshold(settings.positive_threshold)
                    .init()?,
            ),
            LossKind::Listnet => Self::ListNet(ListNetConfig::new().with_temperature(t).init()?),
            LossKind::Ranknet => Self::RankNet(RankNetConfig::new().with_temperature(t).init()?),
        })
    }

    /// Loss of `scores [B, m]` (m = B·g with in-batch negatives, else g) against `labels [B, g]`.
    pub fn forward<B: Ws2Backend>(
        &self,
        scores: Tensor<B, 2>,
        labels: Tensor<B, 2, Int>,
    ) -> Result<Tensor<B, 1>, LossError> {
        match self {
            Self::Ws2(l) => l.forward(scores, labels),
            Self::InfoNce(l) => l.forward(scores, labels),
            Self::ListNet(l) => l.forward(scores, labels),
            Self::RankNet(l) => l.forward(scores, labels),
        }
    }
}
