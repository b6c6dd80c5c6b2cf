//! Learning rate: DeepSpeed's `WarmupDecayLR`, the schedule the paper ran.
//!
//! With `W = max(2, ceil(warmup_ratio · T))` warm-up steps out of `T`, DeepSpeed's factor of
//! scheduler iteration `it` is
//!
//! * `ln(it + 1) / ln(W)` (log warm-up, DeepSpeed's default) or `it / W` (linear) for `it < W`,
//! * `max(0, (T − it) / max(1, T − W))` afterwards.
//!
//! DeepSpeed sets the minimum learning rate (0) when the scheduler is built and steps the
//! scheduler after every optimiser step, so optimiser step `k` (0-based) runs with the factor of
//! iteration `k − 1`, and the first step with 0.

use crate::config::WarmupShape;

/// The schedule of a run with `total` optimiser steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LrSchedule {
    /// Peak learning rate.
    pub peak: f64,
    /// Warm-up steps (`W`, at least 2 as in DeepSpeed).
    pub warmup: u64,
    /// Total steps (`T`).
    pub total: u64,
    /// Warm-up shape.
    pub shape: WarmupShape,
}

impl LrSchedule {
    /// `warmup = max(2, ceil(ratio · total))`.
    pub fn new(peak: f64, warmup_ratio: f64, total: u64, shape: WarmupShape) -> Self {
        Self {
            peak,
            warmup: ((warmup_ratio * total as f64).ceil() as u64).max(2),
            total,
            shape,
        }
    }

    /// DeepSpeed's factor `γ(it)` of scheduler iteration `it`.
    pub fn factor(&self, it: u64) -> f64 {
        if it < self.warmup {
            return match self.shape {
                WarmupShape::Linear => it as f64 / self.warmup as f64,
                WarmupShape::Logarithmic => (it as f64 + 1.0).ln() / (self.warmup as f64).ln(),
            };
        }
        let rest = (self.total as f64 - self.warmup as f64).max(1.0);
        ((self.total as f64 - it as f64) / rest).max(0.0)
    }

    /// Learning rate of optimiser step `step` (0-based): `peak · γ(step − 1)`, 0 for the first.
    pub fn lr(&self, step: u64) -> f64 {
        match step.checked_sub(1) {
            None => 0.0,
            Some(it) => self.peak * self.factor(it),
        }
    }
}
