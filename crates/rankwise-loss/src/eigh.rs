//! Symmetric eigendecomposition in f64: Householder reduction to tridiagonal form, then the
//! implicit QL algorithm (the EISPACK `tred2`/`tql2` pair, as in JAMA).
//!
//! The host WS2 path needs `M = AAᵀ = U diag(λ) Uᵀ` for the B×B matrix `A`. This costs O(B³)
//! once (about 10·B³ flops with the vectors), where a one-sided Jacobi SVD of `A` costs several
//! sweeps of O(B³) each; the reference computes exactly these eigenvalues (of `M`, in f64).
// The loops keep the published algorithm's index form, so it can be checked line by line.
#![allow(clippy::needless_range_loop)]

/// `x·y` with four partial sums (unit-stride, vectorisable).
#[inline(always)]
pub(crate) fn dot(x: &[f64], y: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let (xc, yc) = (x.chunks_exact(4), y.chunks_exact(4));
    let tail: f64 = xc
        .remainder()
        .iter()
        .zip(yc.remainder())
        .map(|(a, b)| a * b)
        .sum();
    for (a, b) in xc.zip(yc) {
        for l in 0..4 {
            acc[l] += a[l] * b[l];
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// `M = U diag(values) Uᵀ`.
#[derive(Debug, Clone)]
pub(crate) struct SymmetricEigen {
    /// Eigenvalues (unsorted).
    pub values: Vec<f64>,
    /// Eigenvectors as columns, row-major `n×n`: `U[r, j]` is `vectors[r * n + j]`.
    pub vectors: Vec<f64>,
}

/// Eigendecomposition of the symmetric row-major `n×n` matrix `m` (only symmetric input is
/// meaningful; the lower triangle is read), dispatched on the CPU's features (the tests'
/// entry point; the host path inlines [`symmetric_eigen_inline`] into its own builds).
#[cfg(test)]
pub(crate) fn symmetric_eigen(m: &[f64], n: usize) -> SymmetricEigen {
    #[cfg(target_arch = "x86_64")]
    if crate::cpu::has_avx2_fma() {
        // SAFETY: the CPU supports the features the function is compiled for.
        return unsafe { symmetric_eigen_avx2(m, n) };
    }
    symmetric_eigen_inline(m, n)
}

#[cfg(all(test, target_arch = "x86_64"))]
#[target_feature(enable = "avx2,fma")]
fn symmetric_eigen_avx2(m: &[f64], n: usize) -> SymmetricEigen {
    symmetric_eigen_inline(m, n)
}

/// [`symmetric_eigen`] inlined into the caller, so it is compiled with the caller's target
/// features (the host WS2 path calls it from its AVX2 build).
#[inline(always)]
pub(crate) fn symmetric_eigen_inline(m: &[f64], n: usize) -> SymmetricEigen {
    assert_eq!(m.len(), n * n, "symmetric_eigen: matrix is not n×n");
    let mut v = m.to_vec();
    let mut d = vec![0.0; n];
    let mut e = vec![0.0; n];
    if n > 0 {
        tred2(&mut v, &mut d, &mut e, n);
        tql2(&mut v, &mut d, &mut e, n);
        transpose_in_place(&mut v, n);
    }
    SymmetricEigen {
        values: d,
        vectors: v,
    }
}

/// `sqrt(a² + b²)`, by the direct formula where the squares can neither overflow nor lose
/// precision to underflow, and by libm's careful `hypot` elsewhere.
#[inline(always)]
fn hypot(a: f64, b: f64) -> f64 {
    let big = a.abs().max(b.abs());
    if (1e-140..1e140).contains(&big) {
        (a * a + b * b).sqrt()
    } else {
        a.hypot(b)
    }
}

#[inline(always)]
fn transpose_in_place(v: &mut [f64], n: usize) {
    for r in 0..n {
        for c in 0..r {
            v.swap(r * n + c, c * n + r);
        }
    }
}

/// Householder tridiagonalisation; `v` becomes the accumulated orthogonal transform, `d` the
/// diagonal and `e` the sub-diagonal (in `e[1..]`).
#[inline(always)]
fn tred2(v: &mut [f64], d: &mut [f64], e: &mut [f64], n: usize) {
    let at = |r: usize, c: usize| c * n + r;
    for j in 0..n {
        d[j] = v[at(n - 1, j)];
    }
    for i in (1..n).rev() {
        let mut scale = 0.0;
        let mut h = 0.0;
        for k in 0..i {
            scale += d[k].abs();
        }
        if scale == 0.0 {
            e[i] = d[i - 1];
            for j in 0..i {
                d[j] = v[at(i - 1, j)];
                v[at(i, j)] = 0.0;
                v[at(j, i)] = 0.0;
            }
        } else {
            for k in 0..i {
                d[k] /= scale;
                h += d[k] * d[k];
            }
            let mut f = d[i - 1];
            let mut g = h.sqrt();
            if f > 0.0 {
                g = -g;
            }
            e[i] = scale * g;
            h -= f * g;
            d[i - 1] = f - g;
            for ej in e.iter_mut().take(i) {
                *ej = 0.0;
            }
            for j in 0..i {
                f = d[j];
                v[at(j, i)] = f;
                // Column j of V, rows j+1..i: contiguous in the column-major storage.
                let col = &v[at(j + 1, j)..at(i, j)];
                g = e[j] + v[at(j, j)] * f + dot(col, &d[j + 1..i]);
                for (ek, w) in e[j + 1..i].iter_mut().zip(col) {
                    *ek += w * f;
                }
                e[j] = g;
            }
            f = 0.0;
            for j in 0..i {
                e[j] /= h;
                f += e[j] * d[j];
            }
            let hh = f / (h + h);
            for j in 0..i {
                e[j] -= hh * d[j];
            }
            for j in 0..i {
                f = d[j];
                g = e[j];
                for ((w, ek), dk) in v[at(j, j)..at(i, j)].iter_mut().zip(&e[j..i]).zip(&d[j..i]) {
                    *w -= f * ek + g * dk;
                }
                d[j] = v[at(i - 1, j)];
                v[at(i, j)] = 0.0;
            }
        }
        d[i] = h;
    }
    // Accumulate the transformations.
    for i in 0..n.saturating_sub(1) {
        v[at(n - 1, i)] = v[at(i, i)];
        v[at(i, i)] = 1.0;
        let h = d[i + 1];
        if h != 0.0 {
            for k in 0..=i {
                d[k] = v[at(k, i + 1)] / h;
            }
            let (head, tail) = v.split_at_mut(at(0, i + 1));
            let pivot = &tail[..=i];
            for j in 0..=i {
                let col = &mut head[at(0, j)..=at(i, j)];
                let g = dot(pivot, col);
                for (w, dk) in col.iter_mut().zip(&d[..=i]) {
                    *w -= g * dk;
                }
            }
        }
        for k in 0..=i {
            v[at(k, i + 1)] = 0.0;
        }
    }
    for j in 0..n {
        d[j] = v[at(n - 1, j)];
        v[at(n - 1, j)] = 0.0;
    }
    v[at(n - 1, n - 1)] = 1.0;
    e[0] = 0.0;
}

/// Implicit QL iterations on the tridiagonal matrix, accumulating the rotations into `v`.
#[inline(always)]
fn tql2(v: &mut [f64], d: &mut [f64], e: &mut [f64], n: usize) {
    for i in 1..n {
        e[i - 1] = e[i];
    }
    e[n - 1] = 0.0;
    let mut f = 0.0;
    let mut tst1: f64 = 0.0;
    let eps = f64::EPSILON;
    for l in 0..n {
        tst1 = tst1.max(d[l].abs() + e[l].abs());
        let mut m = l;
        while m < n - 1 && e[m].abs() > eps * tst1 {
            m += 1;
        }
        if m > l {
            for _ in 0..64 {
                let mut g = d[l];
                let mut p = (d[l + 1] - g) / (2.0 * e[l]);
                let mut r = hypot(p, 1.0);
                if p < 0.0 {
                    r = -r;
                }
                d[l] = e[l] / (p + r);
                d[l + 1] = e[l] * (p + r);
                let dl1 = d[l + 1];
                let mut h = g - d[l];
                for di in d.iter_mut().take(n).skip(l + 2) {
                    *di -= h;
                }
                f += h;
                p = d[m];
                let mut c = 1.0;
                let mut c2 = c;
                let mut c3 = c;
                let el1 = e[l + 1];
                let mut s = 0.0;
                let mut s2 = 0.0;
                for i in (l..m).rev() {
                    c3 = c2;
                    c2 = c;
                    s2 = s;
                    g = c * e[i];
                    h = c * p;
                    r = hypot(p, e[i]);
                    e[i + 1] = s * r;
                    s = e[i] / r;
                    c = p / r;
                    p = c * d[i] - s * g;
                    d[i + 1] = h + s * (c * g + s * d[i]);
                    // Columns i and i+1 of V are rows of the column-major storage.
                    let (lo, hi) = v.split_at_mut((i + 1) * n);
                    for (a, b) in lo[i * n..].iter_mut().zip(&mut hi[..n]) {
                        let h = *b;
                        *b = s * *a + c * h;
                        *a = c * *a - s * h;
                    }
                }
                p = -s * s2 * c3 * el1 * e[l] / dl1;
                e[l] = s * p;
                d[l] = c * p;
                if e[l].abs() <= eps * tst1 {
                    break;
                }
            }
        }
        d[l] += f;
        e[l] = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(m: &[f64], n: usize) {
        let eig = symmetric_eigen(m, n);
        let u = &eig.vectors;
        let scale = m.iter().fold(0.0f64, |a, x| a.max(x.abs())).max(1e-300);
        for r in 0..n {
            for c in 0..n {
                let rebuilt: f64 = (0..n)
                    .map(|j| u[r * n + j] * eig.values[j] * u[c * n + j])
                    .sum();
                assert!(
                    (rebuilt - m[r * n + c]).abs() <= 1e-12 * scale,
                    "M[{r},{c}]: {rebuilt} vs {}",
                    m[r * n + c]
                );
                let gram: f64 = (0..n).map(|k| u[k * n + r] * u[k * n + c]).sum();
                let want = if r == c { 1.0 } else { 0.0 };
                assert!((gram - want).abs() <= 1e-12, "UᵀU[{r},{c}] = {gram}");
            }
        }
    }

    #[test]
    fn decomposes_gram_matrices_of_several_sizes() {
        for n in [1usize, 2, 3, 7, 16, 33] {
            // A badly scaled A, M = AAᵀ (PSD with tiny and zero eigenvalues).
            let a: Vec<f64> = (0..n * n)
                .map(|k| ((k * 37 % 11) as f64 - 5.0) * 10f64.powi(-((k % 5) as i32)))
                .collect();
            let mut m = vec![0.0; n * n];
            for i in 0..n {
                for j in 0..n {
                    m[i * n + j] = (0..n).map(|k| a[i * n + k] * a[j * n + k]).sum();
                }
            }
            check(&m, n);
        }
    }

    #[test]
    fn zero_and_diagonal_matrices() {
        check(&[0.0; 9], 3);
        let eig = symmetric_eigen(&[2.0, 0.0, 0.0, 5.0], 2);
        let mut values = eig.values.clone();
        values.sort_by(f64::total_cmp);
        assert_eq!(values, vec![2.0, 5.0]);
    }
}
