//! The selected objective applied to in-batch scores.

use burn::tensor::{Int, Tensor};
use rankwise_loss::{
    InfoNceConfig, ListNetConfig, LossError, RankNetConfig, WassersteinLoss, WassersteinLossConfig,
    Ws2Backend,
};

use crate::config::{LossKind, LossSettings};

/// A ready-to-use objective.
#[derive(Debug, Clone)]
pub enum Objective {
    /// WS2.
    Ws2(WassersteinLoss),
    /// InfoNCE.
    InfoNce(InfoNceConfig),
    /// ListNet.
    ListNet(ListNetConfig),
    /// RankNet.
    RankNet(RankNetConfig),
}

impl Objective {
    /// Builds the objective of `settings` at temperature `t` (see
    /// [`LossSettings::temperature_for`]).
    pub fn new(settings: &LossSettings, t: f64) -> Self {
        match settings.kind {
            LossKind::Ws2 => Self::Ws2(WassersteinLoss::new(
                WassersteinLossConfig::new()
                    .with_temperature(t)
                    .with_in_batch(settings.in_batch),
            )),
            LossKind::Infonce => Self::InfoNce(
                InfoNceConfig::new()
                    .with_temperature(t)
                    .with_positive_threshold(settings.positive_threshold),
            ),
            LossKind::Listnet => Self::ListNet(ListNetConfig::new().with_temperature(t)),
            LossKind::Ranknet => Self::RankNet(RankNetConfig::new().with_temperature(t)),
        }
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
