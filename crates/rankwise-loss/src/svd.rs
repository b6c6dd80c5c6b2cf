//! One-sided (Hestenes) Jacobi SVD of a small square matrix.
//!
//! WS2 needs `Σ sqrt(σᵢ(A)² + ε)` and `G = U diag(σ/sqrt(σ²+ε)) Vᵀ` for the B×B matrix `A`, whose
//! singular values span many orders of magnitude and reach down to `sqrt(ε)`. One-sided Jacobi
//! works on `A` itself (never on `AAᵀ`, which squares the condition number) and computes small
//! singular values to high relative accuracy. The fused GPU kernel runs the same algorithm, so
//! this host version is also its oracle.

/// Result of [`jacobi_svd`]: `A·V = W` where the columns of `W` are mutually orthogonal, so
/// `σⱼ = ‖W[:, j]‖` and `uⱼ = W[:, j] / σⱼ`.
#[derive(Debug, Clone)]
pub struct JacobiSvd {
    /// Matrix size.
    pub n: usize,
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
pub fn jacobi_svd(a: &[f64], n: usize) -> JacobiSvd {
    assert_eq!(a.len(), n * n, "jacobi_svd: matrix is not n×n");
    let mut w = a.to_vec();
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    let tol = f64::EPSILON;
    let mut sweeps = 0;
    for sweep in 0..MAX_SWEEPS {
        sweeps = sweep + 1;
        let mut rotated = false;
        for p in 0..n {
            for q in (p + 1)..n {
                let (mut alpha, mut beta, mut gamma) = (0.0, 0.0, 0.0);
                for r in 0..n {
                    let wp = w[r * n + p];
                    let wq = w[r * n + q];
                    alpha += wp * wp;
                    beta += wq * wq;
                    gamma += wp * wq;
                }
                if gamma == 0.0 || gamma.abs() <= tol * (alpha * beta).sqrt() {
                    continue;
                }
                rotated = true;
                let (c, s) = rotation(alpha, beta, gamma);
                rotate_columns(&mut w, n, p, q, c, s);
                rotate_columns(&mut v, n, p, q, c, s);
            }
        }
        if !rotated {
            break;
        }
    }
    let sigma = (0..n)
        .map(|j| (0..n).map(|r| w[r * n + j].powi(2)).sum::<f64>().sqrt())
        .collect();
    JacobiSvd {
        n,
        w,
        v,
        sigma,
        sweeps,
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

fn rotate_columns(m: &mut [f64], n: usize, p: usize, q: usize, c: f64, s: f64) {
    for r in 0..n {
        let mp = m[r * n + p];
        let mq = m[r * n + q];
        m[r * n + p] = c * mp - s * mq;
        m[r * n + q] = s * mp + c * mq;
    }
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
