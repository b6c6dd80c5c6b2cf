//! Reference WS2 in f64 on the host: loss, its terms and the closed-form gradient.
//!
//! This is the portable path (used on CPU backends and as a fallback) and the oracle for the
//! fused kernel. It follows the maths of the SyCL reference exactly (see ARCHITECTURE.md):
//! `P = softmax(S/τ)`, `Q = softmax(Ŷ)` with block-diagonally widened labels, `f = 1/(B−1)`,
//! `L = ‖μP−μQ‖² + f‖P̃‖² + f‖Q̃‖² − 2 Σ sqrt(max(λᵢ(M), 0) + ε)`, `M = AAᵀ`, `A = f P̃ Q̃ᵀ`,
//! with the symmetric eigendecomposition of `M` in f64 ([`crate::eigh`]) and the closed-form
//! gradient of the fixtures' README (no eigenvector derivatives).
//!
//! Nothing of size `B×B×m` is formed. Every row of `Q` is a constant `c_k` except on the `n`
//! columns of its own block (all columns when `m = n`), and every row of `P̃` sums to (almost)
//! zero, so `A = f P̃ Q̃ᵀ` and the gradient's `G_A Q̃` reduce to `B×B×n` block products plus
//! `B×m` passes; the only `B×m` buffer besides the gradient is `P`. At the paper's `64×448` that
//! is about 60× fewer multiply-adds than the dense products.

use crate::eigh::dot;
use crate::eigh::symmetric_eigen_inline;

use super::Ws2Params;
use super::fast_exp::softmax_row;

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
#[cfg(test)]
#[derive(Debug, Clone)]
pub(crate) struct Ws2Output {
    /// The loss (a sum over the batch, not a mean).
    pub loss: f64,
    /// Its terms.
    pub terms: Ws2Terms,
    /// `dL/dS`, row-major `B×m`.
    pub grad: Vec<f64>,
}

/// A float type the host path reads scores from and writes the gradient to.
pub trait HostFloat: Copy + Send + Sync + 'static {
    /// Widens to f64.
    fn to_f64(self) -> f64;
    /// Narrows from f64 (rounding to nearest).
    fn from_f64(v: f64) -> Self;
}

impl HostFloat for f64 {
    fn to_f64(self) -> f64 {
        self
    }
    fn from_f64(v: f64) -> Self {
        v
    }
}

impl HostFloat for f32 {
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

/// Row-wise, max-subtracted softmax of `x·scale` (row-major `rows×cols`), in place.
#[inline(always)]
pub fn softmax_rows(x: &mut [f64], cols: usize, scale: f64) {
    for row in x.chunks_mut(cols) {
        softmax_row(row, scale);
    }
}

/// WS2 loss and gradient in f64.
///
/// `scores` is row-major `b×m`; `labels` is row-major `b×n` with `m == n` or `m == b·n`.
/// Shapes are the caller's responsibility (checked by [`crate::WassersteinLoss`]). The tests'
/// entry point to [`ws2_into`].
#[cfg(test)]
pub(crate) fn ws2_f64(
    scores: &[f64],
    labels: &[f64],
    b: usize,
    n: usize,
    m: usize,
    temperature: f64,
    eps: f64,
) -> Ws2Output {
    let mut grad = vec![0.0; b * m];
    let params = Ws2Params {
        n,
        temperature,
        eps,
    };
    let (loss, terms) = ws2_into(scores, labels, b, m, params, &mut grad);
    Ws2Output { loss, terms, grad }
}

/// Targets of one WS2 call: `Q = softmax(Ŷ)` stored as a per-row constant plus a block.
struct Targets {
    /// `c_k`: the value of row `k` outside its block (0 when `m = n`).
    outside: Vec<f64>,
    /// `d_kt = Q[k, off_k + t] − c_k`, row-major `b×n`.
    block: Vec<f64>,
    /// Columns of each row's block start at `k·stride` (`stride` = n with in-batch negatives,
    /// 0 without).
    stride: usize,
}

impl Targets {
    fn new(labels: &[f64], b: usize, n: usize, m: usize) -> Self {
        let widened = m != n;
        let mut outside = vec![0.0; b];
        let mut block = vec![0.0; b * n];
        for k in 0..b {
            let y = &labels[k * n..(k + 1) * n];
            let zeros = (m - n) as f64;
            let mut max = y.iter().fold(f64::NEG_INFINITY, |a, &v| a.max(v));
            if widened {
                max = max.max(0.0);
            }
            let e0 = (-max).exp();
            let d = &mut block[k * n..(k + 1) * n];
            let mut sum = if widened { zeros * e0 } else { 0.0 };
            for (dv, &yv) in d.iter_mut().zip(y) {
                *dv = (yv - max).exp();
                sum += *dv;
            }
            let c = if widened { e0 / sum } else { 0.0 };
            for dv in d.iter_mut() {
                *dv = *dv / sum - c;
            }
            outside[k] = c;
        }
        Targets {
            outside,
            block,
            stride: if widened { n } else { 0 },
        }
    }
}

/// [`ws2_f64`] reading scores of any [`HostFloat`] and writing `dL/dS` into `grad` (`b×m`).
/// `labels` are `b×n` (`n = params.n`) and `m` is `n` or `b·n`. Returns the loss and its terms.
///
/// On x86-64 CPUs with AVX2 and FMA the same code runs compiled for them (4-wide vectors);
/// sums keep a fixed association, so both builds give the same bits.
pub fn ws2_into<S: HostFloat, G: HostFloat>(
    scores: &[S],
    labels: &[f64],
    b: usize,
    m: usize,
    params: Ws2Params,
    grad: &mut [G],
) -> (f64, Ws2Terms) {
    #[cfg(target_arch = "x86_64")]
    if crate::cpu::has_avx2_fma() {
        // SAFETY: the CPU supports the features the function is compiled for.
        return unsafe { ws2_into_avx2(scores, labels, b, m, params, grad) };
    }
    ws2_into_impl(scores, labels, b, m, params, grad)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn ws2_into_avx2<S: HostFloat, G: HostFloat>(
    scores: &[S],
    labels: &[f64],
    b: usize,
    m: usize,
    params: Ws2Params,
    grad: &mut [G],
) -> (f64, Ws2Terms) {
    ws2_into_impl(scores, labels, b, m, params, grad)
}

#[inline(always)]
fn ws2_into_impl<S: HostFloat, G: HostFloat>(
    scores: &[S],
    labels: &[f64],
    b: usize,
    m: usize,
    params: Ws2Params,
    grad: &mut [G],
) -> (f64, Ws2Terms) {
    let Ws2Params {
        n,
        temperature,
        eps,
    } = params;
    assert_eq!(scores.len(), b * m, "ws2: scores are not b×m");
    assert_eq!(labels.len(), b * n, "ws2: labels are not b×n");
    assert_eq!(grad.len(), b * m, "ws2: gradient buffer is not b×m");
    assert!(m == n || m == b * n, "ws2: m must be n or b·n");
    let bf = b as f64;
    let f = if b >= 2 { 1.0 / (bf - 1.0) } else { 1.0 };

    // P = softmax(S/τ), its column means and row sums.
    let mut p: Vec<f64> = scores.iter().map(|v| v.to_f64()).collect();
    softmax_rows(&mut p, m, 1.0 / temperature);
    let mut mu_p = vec![0.0; m];
    for row in p.chunks_exact(m) {
        for (mu, v) in mu_p.iter_mut().zip(row) {
            *mu += v;
        }
    }
    mu_p.iter_mut().for_each(|v| *v /= bf);

    // Q = c_k + block, its column means.
    let q = Targets::new(labels, b, n, m);
    let off = |k: usize| k * q.stride;
    let c_mean = q.outside.iter().sum::<f64>() / bf;
    let mut mu_q = vec![c_mean; m];
    for k in 0..b {
        for (mu, d) in mu_q[off(k)..off(k) + n]
            .iter_mut()
            .zip(&q.block[k * n..(k + 1) * n])
        {
            *mu += d / bf;
        }
    }

    let mean_diff: Vec<f64> = mu_p.iter().zip(&mu_q).map(|(a, c)| a - c).collect();
    let mean_term: f64 = mean_diff.iter().map(|d| d * d).sum();
    let sum_mu_p: f64 = mu_p.iter().sum();

    // Per row of P̃: its sum, ⟨P̃ᵢ, μQ⟩ and ‖P̃ᵢ‖².
    let mut row_sum = vec![0.0; b];
    let mut dot_mu_q = vec![0.0; b];
    let mut ss_p = 0.0;
    for (i, row) in p.chunks_exact(m).enumerate() {
        let mut s = 0.0;
        let mut d = 0.0;
        let mut sq = 0.0;
        for ((v, mp), mq) in row.iter().zip(&mu_p).zip(&mu_q) {
            let c = v - mp;
            s += v;
            d += c * mq;
            sq += c * c;
        }
        row_sum[i] = s - sum_mu_p;
        dot_mu_q[i] = d;
        ss_p += sq;
    }
    let trace_cov_p = f * ss_p;

    // ‖Q̃‖², one row at a time in a scratch row.
    let mut scratch = vec![0.0; m];
    let mut ss_q = 0.0;
    for k in 0..b {
        let c = q.outside[k];
        for (t, mq) in scratch.iter_mut().zip(&mu_q) {
            *t = c - mq;
        }
        for (t, d) in scratch[off(k)..off(k) + n]
            .iter_mut()
            .zip(&q.block[k * n..(k + 1) * n])
        {
            *t += d;
        }
        ss_q += scratch.iter().map(|t| t * t).sum::<f64>();
    }
    let trace_cov_q = f * ss_q;

    // A = f P̃ Q̃ᵀ: A_ik = f (c_k·ΣP̃ᵢ + ⟨P̃ᵢ[block k], d_k⟩ − ⟨P̃ᵢ, μQ⟩).
    let mut a = vec![0.0; b * b];
    for i in 0..b {
        let row = &p[i * m..(i + 1) * m];
        for k in 0..b {
            let cols = off(k)..off(k) + n;
            let blk: f64 = row[cols.clone()]
                .iter()
                .zip(&mu_p[cols])
                .zip(&q.block[k * n..(k + 1) * n])
                .map(|((v, mp), d)| (v - mp) * d)
                .sum();
            a[i * b + k] = f * (q.outside[k] * row_sum[i] + blk - dot_mu_q[i]);
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
    let eig = symmetric_eigen_inline(&mm, b);
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
            let uij = u[i * b + j] / s[j];
            for (t, x) in uta[j * b..(j + 1) * b].iter_mut().zip(a_row) {
                *t += uij * x;
            }
        }
    }
    let mut g_a = vec![0.0; b * b];
    for i in 0..b {
        let g_row = &mut g_a[i * b..(i + 1) * b];
        for j in 0..b {
            let w = u[i * b + j];
            for (g, t) in g_row.iter_mut().zip(&uta[j * b..(j + 1) * b]) {
                *g += w * t;
            }
        }
    }

    // R = G_A Q̃ = α 1ᵀ − β μQᵀ + blocks (α = G_A c, β = G_A 1), centred over rows:
    // R̃_ij = (αᵢ − ᾱ) − (βᵢ − β̄) μQ_j + Σ_k (G_ik − Ḡ_k) d_k[j − off_k].
    // In exact arithmetic β = 0 and Ḡ = 0 (Q̃ and P̃ are centred, so A1 = 0 and 1ᵀA = 0), and
    // α only shifts row i by a constant, which the softmax backward removes; they are kept so
    // the code follows the closed form term by term and carries the same rounding.
    let alpha: Vec<f64> = g_a.chunks_exact(b).map(|g| dot(g, &q.outside)).collect();
    let beta: Vec<f64> = g_a.chunks_exact(b).map(|g| g.iter().sum()).collect();
    let alpha_mean = alpha.iter().sum::<f64>() / bf;
    let beta_mean = beta.iter().sum::<f64>() / bf;
    let mut g_mean = vec![0.0; b];
    for g in g_a.chunks_exact(b) {
        for (gm, v) in g_mean.iter_mut().zip(g) {
            *gm += v / bf;
        }
    }

    // G_P = (2/b)(μP−μQ) + 2f P̃ − 2f R̃ ; dS = (1/τ) P ⊙ (G_P − rowsum(P ⊙ G_P))
    let two_f = 2.0 * f;
    let base: Vec<f64> = mean_diff
        .iter()
        .zip(&mu_p)
        .map(|(d, mp)| 2.0 / bf * d - two_f * mp)
        .collect();
    let inv_tau = 1.0 / temperature;
    let gp = &mut scratch;
    for i in 0..b {
        let row = &p[i * m..(i + 1) * m];
        let shift = two_f * (alpha[i] - alpha_mean);
        let slope = two_f * (beta[i] - beta_mean);
        for (((g, base), v), mq) in gp.iter_mut().zip(&base).zip(row).zip(&mu_q) {
            *g = base + two_f * v + slope * mq - shift;
        }
        for k in 0..b {
            let w = two_f * (g_a[i * b + k] - g_mean[k]);
            for (g, d) in gp[off(k)..off(k) + n]
                .iter_mut()
                .zip(&q.block[k * n..(k + 1) * n])
            {
                *g -= w * d;
            }
        }
        let dot_pg = dot(row, gp);
        for ((out, v), g) in grad[i * m..(i + 1) * m].iter_mut().zip(row).zip(gp.iter()) {
            *out = G::from_f64(v * (g - dot_pg) * inv_tau);
        }
    }

    let terms = Ws2Terms {
        mean_term,
        trace_cov_p,
        trace_cov_q,
        sqrt_trace_term,
    };
    (
        mean_term + trace_cov_p + trace_cov_q - 2.0 * sqrt_trace_term,
        terms,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The formula written out densely: `Q` widened to `b×m`, `A = f P̃ Q̃ᵀ` and `G_A Q̃` as
    /// full products (the form of the reference).
    fn dense(
        s: &[f64],
        y: &[f64],
        b: usize,
        n: usize,
        m: usize,
        tau: f64,
        eps: f64,
    ) -> (Ws2Output, Vec<f64>) {
        let f = if b >= 2 { 1.0 / (b as f64 - 1.0) } else { 1.0 };
        let softmax = |x: &mut [f64], scale: f64| {
            for row in x.chunks_mut(m) {
                let max = row.iter().fold(f64::NEG_INFINITY, |a, &v| a.max(v));
                row.iter_mut().for_each(|v| *v = ((*v - max) * scale).exp());
                let z: f64 = row.iter().sum();
                row.iter_mut().for_each(|v| *v /= z);
            }
        };
        let centre = |x: &[f64]| {
            let mut mu = vec![0.0; m];
            for row in x.chunks(m) {
                mu.iter_mut().zip(row).for_each(|(a, v)| *a += v / b as f64);
            }
            let c: Vec<f64> = x.iter().enumerate().map(|(k, v)| v - mu[k % m]).collect();
            (mu, c)
        };
        let mut p = s.to_vec();
        softmax(&mut p, 1.0 / tau);
        let mut q = vec![0.0; b * m];
        for i in 0..b {
            let o = if m == n { 0 } else { i * n };
            q[i * m + o..i * m + o + n].copy_from_slice(&y[i * n..(i + 1) * n]);
        }
        softmax(&mut q, 1.0);
        let (mp, pc) = centre(&p);
        let (mq, qc) = centre(&q);
        let mut a = vec![0.0; b * b];
        for i in 0..b {
            for k in 0..b {
                a[i * b + k] = f * (0..m).map(|j| pc[i * m + j] * qc[k * m + j]).sum::<f64>();
            }
        }
        let mut mm = vec![0.0; b * b];
        for i in 0..b {
            for k in 0..b {
                mm[i * b + k] = (0..b).map(|j| a[i * b + j] * a[k * b + j]).sum();
            }
        }
        let eig = crate::eigh::symmetric_eigen(&mm, b);
        let sv: Vec<f64> = eig
            .values
            .iter()
            .map(|l| (l.max(0.0) + eps).sqrt())
            .collect();
        let u = &eig.vectors;
        let mut g = vec![0.0; b * b];
        for i in 0..b {
            for k in 0..b {
                g[i * b + k] = (0..b)
                    .map(|j| {
                        u[i * b + j] / sv[j]
                            * (0..b).map(|t| u[t * b + j] * a[t * b + k]).sum::<f64>()
                    })
                    .sum();
            }
        }
        let r: Vec<f64> = (0..b * m)
            .map(|ij| (0..b).map(|k| g[ij / m * b + k] * qc[k * m + ij % m]).sum())
            .collect();
        let (_, rc) = centre(&r);
        let mut grad = vec![0.0; b * m];
        for i in 0..b {
            let gp: Vec<f64> = (0..m)
                .map(|j| {
                    2.0 / b as f64 * (mp[j] - mq[j]) + 2.0 * f * (pc[i * m + j] - rc[i * m + j])
                })
                .collect();
            let d: f64 = (0..m).map(|j| p[i * m + j] * gp[j]).sum();
            for j in 0..m {
                grad[i * m + j] = p[i * m + j] * (gp[j] - d) / tau;
            }
        }
        let terms = Ws2Terms {
            mean_term: mp.iter().zip(&mq).map(|(a, c)| (a - c) * (a - c)).sum(),
            trace_cov_p: f * pc.iter().map(|v| v * v).sum::<f64>(),
            trace_cov_q: f * qc.iter().map(|v| v * v).sum::<f64>(),
            sqrt_trace_term: sv.iter().sum(),
        };
        let loss =
            terms.mean_term + terms.trace_cov_p + terms.trace_cov_q - 2.0 * terms.sqrt_trace_term;
        (Ws2Output { loss, terms, grad }, eig.values)
    }

    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (*seed >> 11) as f64 / (1u64 << 53) as f64
    }

    #[test]
    fn block_form_matches_the_dense_formula() {
        let mut seed = 7u64;
        // (b, n, in-batch, τ): both label layouts, B = 1, odd sizes, small τ.
        for &(b, n, wide, tau) in &[
            (1, 4, false, 1.0),
            (1, 4, true, 1.0),
            (2, 3, true, 0.5),
            (5, 4, false, 0.2),
            (9, 7, false, 1.0),
            (6, 3, true, 0.02),
            (13, 5, true, 0.1),
            (24, 4, true, 1.0),
        ] {
            let m = if wide { b * n } else { n };
            let s: Vec<f64> = (0..b * m).map(|_| 4.0 * lcg(&mut seed) - 2.0).collect();
            // Integer levels, some negative, so a row's maximum can be below the widened zeros.
            let y: Vec<f64> = (0..b * n)
                .map(|_| (lcg(&mut seed) * 6.0).floor() - 2.0)
                .collect();
            let (want, eigenvalues) = dense(&s, &y, b, n, m, tau, 1e-15);
            // Forming M = AAᵀ leaves each eigenvalue an absolute rounding of order ε‖A‖²; one
            // within a few decades of that (and of the 1e-15 under the root) makes the gradient
            // depend on the rounding of A itself, so the cases are chosen to avoid that regime:
            // every eigenvalue is either rounding-level zero or far above it.
            let top = eigenvalues.iter().fold(0.0f64, |a, &l| a.max(l));
            assert!(
                eigenvalues
                    .iter()
                    .all(|&l| l.abs() <= 1e-14 * top || l > 1e-9 * top),
                "{b}×{m}: ill-conditioned test case, eigenvalues {eigenvalues:?}"
            );
            let got = ws2_f64(&s, &y, b, n, m, tau, 1e-15);
            let rel = |g: f64, w: f64| (g - w).abs() / w.abs().max(1e-12);
            assert!(
                rel(got.loss, want.loss) < 1e-10,
                "{b}×{m}: loss {} vs {}",
                got.loss,
                want.loss
            );
            // The square-root term inherits the conditioning of forming M = AAᵀ (eigenvalues
            // near zero carry rounding of order ε‖A‖², their roots √ε‖A‖), so it gets the
            // fixtures' loss tolerance; the other terms are plain sums.
            for (g, w, tol) in [
                (got.terms.mean_term, want.terms.mean_term, 1e-12),
                (got.terms.trace_cov_p, want.terms.trace_cov_p, 1e-12),
                (got.terms.trace_cov_q, want.terms.trace_cov_q, 1e-12),
                (got.terms.sqrt_trace_term, want.terms.sqrt_trace_term, 1e-9),
            ] {
                assert!(rel(g, w) < tol, "{b}×{m}: term {g} vs {w}");
            }
            // Algebra mistakes show as O(1) errors; 1e-8 leaves room for the M = AAᵀ rounding.
            let norm = want
                .grad
                .iter()
                .map(|v| v * v)
                .sum::<f64>()
                .sqrt()
                .max(1e-300);
            let err = got
                .grad
                .iter()
                .zip(&want.grad)
                .map(|(g, w)| (g - w) * (g - w))
                .sum::<f64>()
                .sqrt();
            assert!(
                err / norm < 1e-8,
                "{b}×{m}: gradient error {:e}",
                err / norm
            );
        }
    }

    #[test]
    fn f32_io_and_every_cpu_build_agree() {
        let (b, n) = (16, 7);
        let m = b * n;
        let mut seed = 11u64;
        let s: Vec<f64> = (0..b * m).map(|_| 3.0 * lcg(&mut seed)).collect();
        let y: Vec<f64> = (0..b * n)
            .map(|k| (3 - (k * 5 + k / n) % 4) as f64)
            .collect();
        let reference = ws2_f64(&s, &y, b, n, m, 0.05, 1e-15);
        // The portable build (no AVX2) gives the same bits as the dispatched one.
        let mut g = vec![0.0f64; b * m];
        let params = Ws2Params {
            n,
            temperature: 0.05,
            eps: 1e-15,
        };
        let (loss, _) = ws2_into_impl(&s, &y, b, m, params, &mut g);
        assert_eq!(loss.to_bits(), reference.loss.to_bits());
        assert!(
            g.iter()
                .zip(&reference.grad)
                .all(|(a, c)| a.to_bits() == c.to_bits())
        );
        // f32 scores in, f32 gradient out: the same up to f32 rounding.
        let s32: Vec<f32> = s.iter().map(|&v| v as f32).collect();
        let s_back: Vec<f64> = s32.iter().map(|&v| v as f64).collect();
        let want = ws2_f64(&s_back, &y, b, n, m, 0.05, 1e-15);
        let mut g32 = vec![0.0f32; b * m];
        let (loss32, _) = ws2_into(&s32, &y, b, m, params, &mut g32);
        assert_eq!(loss32, want.loss);
        for (a, c) in g32.iter().zip(&want.grad) {
            assert_eq!(*a, *c as f32);
        }
    }
}
