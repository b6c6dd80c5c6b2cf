//! One-sided (Hestenes) Jacobi SVD of a small square matrix.
//!
//! WS2 needs `Σ sqrt(σᵢ(A)² + ε)` and `G = U diag(σ/sqrt(σ²+ε)) Vᵀ` for the B×B matrix `A`, whose
//! singular values span many orders of magnitude and reach down to `sqrt(ε)`. One-sided Jacobi
//! works on `A` itself (never on `AAᵀ`, which squares the condition number) and computes small
//! singular values to high relative accuracy. The fused GPU kernel runs the same algorithm, so
//! this host version is its oracle: compiled for the tests, which check the algorithm (rotations,
//! sweeps, orthogonality) in f64 where the kernel's results can be compared with it.

use crate::eigh::dot;

/// Result of [`jacobi_svd`]: `A·V = W` where the columns of `W` are mutually orthogonal, so
/// `σⱼ = ‖W[:, j]‖` and `uⱼ = W[:, j] / σⱼ`.
#[derive(Debug, Clone)]
pub struct JacobiSvd {
    /// `A·V`, row-major `n×n`; its columns are orthogonal.
    pub w: Vec<f64>,
    /// The accumulated right rotations, row-major `n×n`, orthogonal.
    pub v: Vec<f64>,
    /// Singular values (column norms of `w`), in column order (not sorted).
    pub sigma: Vec<f64>,
    /// Sweeps used.
    pub sweeps: usize,
}

/// Most sweeps before giving up; quadratic convergence needs far fewer for n ≤ 256.
pub const MAX_SWEEPS: usize = 60;

/// One-sided Jacobi SVD of the row-major `n×n` matrix `a`.
///
/// The columns of `W` and `V` are kept contiguous while sweeping (the transposes are stored), so
/// the Gram sums and rotations run over unit-stride slices.
pub fn jacobi_svd(a: &[f64], n: usize) -> JacobiSvd {
    assert_eq!(a.len(), n * n, "jacobi_svd: matrix is not n×n");
    // wt[j·n + r] = W[r, j]: column j of W is wt[j·n..(j+1)·n].
    let mut wt = transpose(a, n);
    let mut vt = vec![0.0; n * n];
    for i in 0..n {
        vt[i * n + i] = 1.0;
    }
    let tol = f64::EPSILON;
    let mut sweeps = 0;
    for sweep in 0..MAX_SWEEPS {
        sweeps = sweep + 1;
        let mut rotated = false;
        for p in 0..n {
            for q in (p + 1)..n {
                let (wp, wq) = columns(&mut wt, n, p, q);
                let (alpha, beta, gamma) = gram(wp, wq);
                if gamma == 0.0 || gamma.abs() <= tol * (alpha * beta).sqrt() {
                    continue;
                }
                rotated = true;
                let (c, s) = rotation(alpha, beta, gamma);
                rotate(wp, wq, c, s);
                let (vp, vq) = columns(&mut vt, n, p, q);
                rotate(vp, vq, c, s);
            }
        }
        if !rotated {
            break;
        }
    }
    let sigma = wt
        .chunks_exact(n.max(1))
        .map(|col| dot(col, col).sqrt())
        .collect();
    JacobiSvd {
        w: transpose(&wt, n),
        v: transpose(&vt, n),
        sigma,
        sweeps,
    }
}

fn transpose(m: &[f64], n: usize) -> Vec<f64> {
    let mut t = vec![0.0; n * n];
    for r in 0..n {
        for c in 0..n {
            t[c * n + r] = m[r * n + c];
        }
    }
    t
}

/// The contiguous columns `p < q` of a transposed matrix, both mutable.
fn columns(mt: &mut [f64], n: usize, p: usize, q: usize) -> (&mut [f64], &mut [f64]) {
    let (head, tail) = mt.split_at_mut(q * n);
    (&mut head[p * n..(p + 1) * n], &mut tail[..n])
}

/// `(‖p‖², ‖q‖², p·q)` in one pass.
fn gram(p: &[f64], q: &[f64]) -> (f64, f64, f64) {
    let (mut a, mut b, mut g) = ([0.0; 4], [0.0; 4], [0.0; 4]);
    let (pc, qc) = (p.chunks_exact(4), q.chunks_exact(4));
    let (mut ta, mut tb, mut tg) = (0.0, 0.0, 0.0);
    for (x, y) in pc.remainder().iter().zip(qc.remainder()) {
        ta += x * x;
        tb += y * y;
        tg += x * y;
    }
    for (x, y) in pc.zip(qc) {
        for l in 0..4 {
            a[l] += x[l] * x[l];
            b[l] += y[l] * y[l];
            g[l] += x[l] * y[l];
        }
    }
    let sum = |v: [f64; 4], t: f64| (v[0] + v[1]) + (v[2] + v[3]) + t;
    (sum(a, ta), sum(b, tb), sum(g, tg))
}

fn rotate(p: &mut [f64], q: &mut [f64], c: f64, s: f64) {
    for (x, y) in p.iter_mut().zip(q.iter_mut()) {
        let (mp, mq) = (*x, *y);
        *x = c * mp - s * mq;
        *y = s * mp + c * mq;
    }
}

/// The Jacobi rotation `(c, s)` that makes columns with Gram entries `alpha = ‖p‖²`,
/// `beta = ‖q‖²`, `gamma = p·q` orthogonal.
pub fn rotation(alpha: f64, beta: f64, gamma: f64) -> (f64, f64) {
    let zeta = (beta - alpha) / (2.0 * gamma);
    let t = zeta.signum() / (zeta.abs() + (1.0 + zeta * zeta).sqrt());
    let t = if zeta == 0.0 { 1.0 } else { t };
    let c = 1.0 / (1.0 + t * t).sqrt();
    (c, c * t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matmul(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
        let mut c = vec![0.0; n * n];
        for i in 0..n {
            for k in 0..n {
                for j in 0..n {
                    c[i * n + j] += a[i * n + k] * b[k * n + j];
                }
            }
        }
        c
    }

    #[test]
    fn reconstructs_and_orthogonalises() {
        let n = 7;
        // A deterministic, badly scaled matrix.
        let a: Vec<f64> = (0..n * n)
            .map(|k| ((k * 37 % 11) as f64 - 5.0) * 10f64.powi(-((k % 5) as i32)))
            .collect();
        let svd = jacobi_svd(&a, n);
        assert!(
            svd.sweeps < MAX_SWEEPS,
            "converged in {} sweeps",
            svd.sweeps
        );
        // W = A·V
        let av = matmul(&a, &svd.v, n);
        for (x, y) in av.iter().zip(&svd.w) {
            assert!((x - y).abs() < 1e-12, "{x} vs {y}");
        }
        // columns of W orthogonal
        for p in 0..n {
            for q in (p + 1)..n {
                let dot: f64 = (0..n).map(|r| svd.w[r * n + p] * svd.w[r * n + q]).sum();
                assert!(dot.abs() <= 1e-12 * svd.sigma[p] * svd.sigma[q] + 1e-300);
            }
        }
        // Frobenius norm preserved: Σσ² = ‖A‖²
        let fro: f64 = a.iter().map(|x| x * x).sum();
        let s2: f64 = svd.sigma.iter().map(|s| s * s).sum();
        assert!((fro - s2).abs() < 1e-12 * fro);
    }

    #[test]
    fn zero_matrix_has_zero_singular_values() {
        let svd = jacobi_svd(&[0.0; 9], 3);
        assert_eq!(svd.sigma, vec![0.0; 3]);
    }
}
