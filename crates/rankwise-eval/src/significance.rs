//! Significance of a difference between two systems on the same queries: the paired
//! (sign-flip) randomization test of Fisher, as used in IR evaluation (Smucker, Allan and
//! Carterette, CIKM 2007), and the mean ± sample standard deviation of repeated runs.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Queries up to which every sign assignment is enumerated (2^n of them) instead of sampled.
pub const EXACT_UP_TO: usize = 16;

/// Result of a paired randomization test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PairedTest {
    /// Mean of `a − b` over the queries.
    pub mean_difference: f64,
    /// Two-sided p-value: the share of sign assignments whose |mean difference| is at least the
    /// observed one (the observed assignment counted, so never 0).
    pub p_value: f64,
    /// Queries compared.
    pub queries: usize,
    /// Sign assignments evaluated (all `2^n` when exact).
    pub permutations: u64,
    /// Whether every assignment was enumerated.
    pub exact: bool,
}

/// Two-sided paired randomization test of `a` against `b` (the same queries in the same order):
/// under the null hypothesis each query's two scores are exchangeable, so the sign of each
/// difference is flipped at random. Exact for at most [`EXACT_UP_TO`] queries, otherwise
/// `samples` random assignments drawn from `seed` (p = (1 + hits) / (1 + samples)).
///
/// # Panics
/// If `a` and `b` differ in length.
pub fn paired_randomization(a: &[f64], b: &[f64], samples: u64, seed: u64) -> PairedTest {
    assert_eq!(a.len(), b.len(), "paired samples need equal lengths");
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let n = d.len();
    if n == 0 {
        return PairedTest {
            mean_difference: 0.0,
            p_value: 1.0,
            queries: 0,
            permutations: 0,
            exact: true,
        };
    }
    let total: f64 = d.iter().sum();
    // Compare sums (same n) with a relative tolerance, so ties in floating point count.
    let observed = total.abs() * (1.0 - 1e-12);
    let at_least = |sum: f64| sum.abs() >= observed;
    let (hits, permutations, exact) = if n <= EXACT_UP_TO {
        let count = 1u64 << n;
        let hits = (0..count)
            .filter(|mask| {
                let s: f64 = d
                    .iter()
                    .enumerate()
                    .map(|(i, x)| if mask >> i & 1 == 1 { -x } else { *x })
                    .sum();
                at_least(s)
            })
            .count() as u64;
        (hits, count, true)
    } else {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut hits = 0;
        for _ in 0..samples {
            let s: f64 = d
                .iter()
                .map(|x| if rng.random::<bool>() { -x } else { *x })
                .sum();
            hits += u64::from(at_least(s));
        }
        (hits, samples, false)
    };
    let p_value = if exact {
        hits as f64 / permutations as f64
    } else {
        (1 + hits) as f64 / (1 + permutations) as f64
    };
    PairedTest {
        mean_difference: total / n as f64,
        p_value,
        queries: n,
        permutations,
        exact,
    }
}

/// Mean and sample standard deviation (n − 1; 0 for a single value).
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return (mean, 0.0);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (mean, var.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_p_value_by_hand() {
        // d = (1, 1, 1): of the 8 sign assignments only (+++) and (−−−) reach |sum| = 3.
        let t = paired_randomization(&[1.0, 1.0, 1.0], &[0.0, 0.0, 0.0], 0, 0);
        assert!(t.exact);
        assert_eq!(t.permutations, 8);
        assert!((t.p_value - 0.25).abs() < 1e-15);
        assert!((t.mean_difference - 1.0).abs() < 1e-15);
        // d = (2, −1): sums ±1, ±3 → |sum| ≥ 1 always.
        let t = paired_randomization(&[2.0, 0.0], &[0.0, 1.0], 0, 0);
        assert_eq!(t.p_value, 1.0);
        // Identical systems: p = 1.
        let t = paired_randomization(&[0.3, 0.5, 0.9], &[0.3, 0.5, 0.9], 0, 0);
        assert_eq!(t.p_value, 1.0);
    }

    #[test]
    fn sampled_p_value_agrees_with_the_exact_one() {
        // 16 queries: exact enumeration (65 536 assignments) against 200 000 samples of the
        // same differences padded with a zero (a zero difference does not change any sum).
        let a: Vec<f64> = (0..16).map(|i| ((i * 37 % 11) as f64) / 10.0).collect();
        let b: Vec<f64> = (0..16).map(|i| ((i * 53 % 13) as f64) / 12.0).collect();
        let exact = paired_randomization(&a, &b, 0, 0);
        assert!(exact.exact);
        let (mut a2, mut b2) = (a.clone(), b.clone());
        a2.push(0.5);
        b2.push(0.5);
        let sampled = paired_randomization(&a2, &b2, 200_000, 7);
        assert!(!sampled.exact);
        assert!(
            (sampled.p_value - exact.p_value).abs() < 0.005,
            "{} vs {}",
            sampled.p_value,
            exact.p_value
        );
        assert!(exact.p_value > 0.0 && exact.p_value < 1.0);
    }

    #[test]
    fn a_consistent_gain_is_significant_and_noise_is_not() {
        let b: Vec<f64> = (0..300).map(|i| (i % 7) as f64 / 7.0).collect();
        let a: Vec<f64> = b.iter().map(|x| x + 0.05).collect();
        assert!(paired_randomization(&a, &b, 10_000, 1).p_value < 0.001);
        let noisy: Vec<f64> = b
            .iter()
            .enumerate()
            .map(|(i, x)| x + if i % 2 == 0 { 0.05 } else { -0.05 })
            .collect();
        assert!(paired_randomization(&noisy, &b, 10_000, 1).p_value > 0.5);
    }

    #[test]
    fn mean_and_sample_std() {
        let (m, s) = mean_std(&[1.0, 2.0, 3.0, 4.0]);
        assert!((m - 2.5).abs() < 1e-15);
        assert!((s - (5.0f64 / 3.0).sqrt()).abs() < 1e-15);
        assert_eq!(mean_std(&[0.7]), (0.7, 0.0));
    }
}
