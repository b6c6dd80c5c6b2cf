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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deepspeed_warmup_decay_by_hand() {
        // T = 10, W = max(2, ceil(0.3 · 10)) = 3; step k runs γ(k − 1), the first step 0.
        let log = LrSchedule::new(2.0, 0.3, 10, WarmupShape::Logarithmic);
        assert_eq!(log.warmup, 3);
        let want_log = [
            0.0,
            0.0,
            2.0 * 2f64.ln() / 3f64.ln(),
            2.0 * 3f64.ln() / 3f64.ln(),
            2.0 * 7.0 / 7.0,
            2.0 * 6.0 / 7.0,
        ];
        let lin = LrSchedule::new(2.0, 0.3, 10, WarmupShape::Linear);
        let want_lin = [0.0, 0.0, 2.0 / 3.0, 4.0 / 3.0, 2.0, 2.0 * 6.0 / 7.0];
        for k in 0..6 {
            assert!(
                (log.lr(k) - want_log[k as usize]).abs() < 1e-15,
                "log step {k}"
            );
            assert!(
                (lin.lr(k) - want_lin[k as usize]).abs() < 1e-15,
                "linear step {k}"
            );
        }
        // Decay reaches 0 at iteration T and stays there.
        assert_eq!(log.lr(11), 0.0);
        assert_eq!(log.lr(20), 0.0);
        // At least two warm-up steps, as DeepSpeed (ln 1 would divide by zero).
        assert_eq!(
            LrSchedule::new(1.0, 0.05, 4, WarmupShape::Logarithmic).warmup,
            2
        );
    }
}
