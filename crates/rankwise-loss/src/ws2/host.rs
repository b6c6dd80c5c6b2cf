//! Reference WS2 in f64 on the host: loss, its terms and the closed-form gradient.
//!
//! This is the portable path (used on CPU backends and as a fallback) and the oracle for the
//! fused kernel. It follows the maths of the SyCL reference exactly (see ARCHITECTURE.md):
//! `P = softmax(S/τ)`, `Q = softmax(Ŷ)` with block-diagonally widened labels, `f = 1/(B−1)`,
//! `L = ‖μP−μQ‖² + f‖P̃‖² + f‖Q̃‖² − 2 Σ sqrt(max(λᵢ(M), 0) + ε)`, `M = AAᵀ`, `A = f P̃ Q̃ᵀ`,
//! with the symmetric eigendecomposition of `M` in f64 ([`crate::eigh`]) and the closed-form
//! gradient of the fixtures' README (no eigenvector derivatives).

use crate::eigh::symmetric_eigen;
use crate::svd::dot;

/// The four terms of the WS2 loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ws2Terms {
    /// `‖μP − μQ‖²`.
    pub mean_term: f64,
    /// `f‖P̃‖²_F`.
    pub trace_cov_p: f64,
    /// `f‖Q̃‖²_F`.
    pub trace_cov_q: f64,
    /// `Σ sqrt(σᵢ(A)² + ε)`.
    pub sqrt_trace_term: f64,
}

/// Loss, terms and gradient with respect to the scores.
#[derive(Debug, Clone)]
pub struct Ws2Output {
    /// The loss (a sum over the batch, not a mean).
    pub loss: f64,
    /// Its terms.
    pub terms: Ws2Terms,
    /// `dL/dS`, row-major `B×m`.
    pub grad: Vec<f64>,
}

/// Row-wise, max-subtracted softmax of `x·scale` (row-major `rows×cols`), in place.
pub fn softmax_rows(x: &mut [f64], cols: usize, scale: f64) {
    for row in x.chunks_mut(cols) {
        // max before scaling (scale > 0): see the kernel's softmax for why.
        let max = row.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        let mut sum = 0.0;
        for v in row.iter_mut() {
            *v = ((*v - max) * scale).exp();
            sum += *v;
        }
        for v in row.iter_mut() {
            *v /= sum;
        }
    }
}

/// Column means over the rows, and the centred matrix.
fn centre(x: &[f64], rows: usize, cols: usize) -> (Vec<f64>, Vec<f64>) {
    let mut mu = vec![0.0; cols];
    for row in x.chunks(cols) {
        for (m, v) in mu.iter_mut().zip(row) {
            *m += v;
        }
    }
    mu.iter_mut().for_each(|m| *m /= rows as f64);
    let mut centred = x.to_vec();
    for row in centred.chunks_mut(cols) {
        for (v, m) in row.iter_mut().zip(&mu) {
            *v -= m;
        }
    }
    (mu, centred)
}

/// WS2 loss and gradient in f64.
///
/// `scores` is row-major `b×m`; `labels` is row-major `b×n` with `m == n` or `m == b·n`.
/// Shapes are the caller's responsibility (checked by [`crate::WassersteinLoss`]).
pub fn ws2_f64(
    scores: &[f64],
    labels: &[f64],
    b: usize,
    n: usize,
    m: usize,
    temperature: f64,
    eps: f64,
) -> Ws2Output {
    debug_assert_eq!(scores.len(), b * m);
    debug_assert_eq!(labels.len(), b * n);
    let f = if b >= 2 { 1.0 / (b as f64 - 1.0) } else { 1.0 };

    let mut p = scores.to_vec();
    softmax_rows(&mut p, m, 1.0 / temperature);
    let mut q = vec![0.0; b * m];
    for (i, row) in q.chunks_mut(m).enumerate() {
        let own = if m == n { 0 } else { i * n };
        row[own..own + n].copy_from_slice(&labels[i * n..(i + 1) * n]);
    }
    softmax_rows(&mut q, m, 1.0);

    let (mu_p, pc) = centre(&p, b, m);
    let (mu_q, qc) = centre(&q, b, m);
    let mean_diff: Vec<f64> = mu_p.iter().zip(&mu_q).map(|(a, c)| a - c).collect();
    let mean_term: f64 = mean_diff.iter().map(|d| d * d).sum();
    let trace_cov_p = f * pc.iter().map(|v| v * v).sum::<f64>();
    let trace_cov_q = f * qc.iter().map(|v| v * v).sum::<f64>();

    // A = f P̃ Q̃ᵀ (b×b)
    let mut a = vec![0.0; b * b];
    for i in 0..b {
        for k in 0..b {
            a[i * b + k] = f * dot(&pc[i * m..(i + 1) * m], &qc[k * m..(k + 1) * m]);
        }
    }
    // M = AAᵀ = U diag(λ) Uᵀ (symmetric, f64), as the reference computes it.
    let mut mm = vec![0.0; b * b];
    for i in 0..b {
        for k in 0..=i {
            let v = dot(&a[i * b..(i + 1) * b], &a[k * b..(k + 1) * b]);
            mm[i * b + k] = v;
            mm[k * b + i] = v;
        }
    }
    let eig = symmetric_eigen(&mm, b);
    let u = &eig.vectors;
    let s: Vec<f64> = eig
        .values
        .iter()
        .map(|l| (l.max(0.0) + eps).sqrt())
        .collect();
    let sqrt_trace_term: f64 = s.iter().sum();

    // G_A = (AAᵀ + εI)^(-1/2) A = U diag(1/s) (Uᵀ A)
    let mut uta = vec![0.0; b * b];
    for i in 0..b {
        let a_row = &a[i * b..(i + 1) * b];
        for j in 0..b {
            let uij = u[i * b + j];
            for (t, x) in uta[j * b..(j + 1) * b].iter_mut().zip(a_row) {
                *t += uij * x;
            }
        }
    }
    let mut g_a = vec![0.0; b * b];
    for i in 0..b {
        for j in 0..b {
            let w = u[i * b + j] / s[j];
            for (g, t) in g_a[i * b..(i + 1) * b]
                .iter_mut()
                .zip(&uta[j * b..(j + 1) * b])
            {
                *g += w * t;
            }
        }
    }
    // R = G_A Q̃ (b×m), then centred over rows.
    let mut r = vec![0.0; b * m];
    for i in 0..b {
        for k in 0..b {
            let g = g_a[i * b + k];
            if g != 0.0 {
                for (rv, qv) in r[i * m..(i + 1) * m]
                    .iter_mut()
                    .zip(&qc[k * m..(k + 1) * m])
                {
                    *rv += g * qv;
                }
            }
        }
    }
    let (_, rc) = centre(&r, b, m);

    // G_P = (2/b)(μP−μQ) + 2f P̃ − 2f R̃ ; dS = (1/τ) P ⊙ (G_P − rowsum(P ⊙ G_P))
    let mut grad = vec![0.0; b * m];
    for i in 0..b {
        let row = i * m..(i + 1) * m;
        let gp: Vec<f64> = (0..m)
            .map(|j| {
                2.0 / b as f64 * mean_diff[j] + 2.0 * f * pc[i * m + j] - 2.0 * f * rc[i * m + j]
            })
            .collect();
        let dot: f64 = p[row.clone()].iter().zip(&gp).map(|(x, y)| x * y).sum();
        for j in 0..m {
            grad[i * m + j] = p[i * m + j] * (gp[j] - dot) / temperature;
        }
    }

    let terms = Ws2Terms {
        mean_term,
        trace_cov_p,
        trace_cov_q,
        sqrt_trace_term,
    };
    Ws2Output {
        loss: mean_term + trace_cov_p + trace_cov_q - 2.0 * sqrt_trace_term,
        terms,
        grad,
    }
}
