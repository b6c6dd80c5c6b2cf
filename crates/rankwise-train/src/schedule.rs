//! Learning rate: warm-up (linear or logarithmic) to the peak, then linear decay to 0.

use crate::config::WarmupShape;

/// The schedule of a run with `total` optimiser steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LrSchedule {
    /// Peak learning rate.
    pub peak: f64,
    /// Warm-up steps.
    pub warmup: u64,
    /// Total steps.
    pub total: u64,
    /// Warm-up shape.
    pub shape: WarmupShape,
}

impl LrSchedule {
    /// `warmup = ceil(ratio · total)` (as the transformers schedulers compute it).
    pub fn new(peak: f64, warmup_ratio: f64, total: u64, shape: WarmupShape) -> Self {
        Self {
            peak,
            warmup: (warmup_ratio * total as f64).ceil() as u64,
            total,
            shape,
        }
    }

    /// Learning rate of optimiser step `step` (0-based).
    pub fn lr(&self, step: u64) -> f64 {
        if step < self.warmup {
            let frac = match self.shape {
                WarmupShape::Linear => step as f64 / self.warmup as f64,
                WarmupShape::Logarithmic => {
                    (1.0 + step as f64).ln() / (1.0 + self.warmup as f64).ln()
                }
            };
            return self.peak * frac;
        }
        let rest = self.total.saturating_sub(self.warmup).max(1);
        self.peak * (self.total.saturating_sub(step) as f64 / rest as f64).max(0.0)
    }
}
