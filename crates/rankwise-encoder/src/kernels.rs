//! CPU kernels shared by the host inference path ([`crate::host`]) and the CPU training ops
//! ([`crate::ops`]): a strided `sgemm` (the `gemm` crate; public, as the workspace's one matrix
//! product on the host — exact search uses it too) and vectorisable element-wise code.

/// A LayerNorm's parameters on the host (`gamma`, `beta`, `eps`), as the fused epilogues read
/// them.
#[derive(Debug, Clone)]
pub(crate) struct Norm {
    pub(crate) gamma: Vec<f32>,
    pub(crate) beta: Vec<f32>,
    pub(crate) eps: f32,
}

/// `C = alpha·A·B` (C overwritten) for strided row/column layouts `(slice, row stride, col
/// stride)`, on the calling thread. Panics when a stride reaches outside its slice.
pub fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: (&[f32], isize, isize),
    b: (&[f32], isize, isize),
    c: (&mut [f32], isize, isize),
) {
    gemm_strided(m, k, n, alpha, a, b, c, false, gemm::Parallelism::None);
}

/// `C = A·B`, or `C += A·B` when `accumulate`, for a row-major `[m, n]` C and strided A and B,
/// split over the rayon pool by output blocks (every element is summed by one thread, in one
/// order).
pub(crate) fn sgemm_par(
    m: usize,
    k: usize,
    n: usize,
    a: (&[f32], isize, isize),
    b: (&[f32], isize, isize),
    c: &mut [f32],
    accumulate: bool,
) {
    assert_eq!(c.len(), m * n, "sgemm: C size");
    let c = (c, n as isize, 1);
    gemm_strided(
        m,
        k,
        n,
        1.0,
        a,
        b,
        c,
        accumulate,
        gemm::Parallelism::Rayon(0),
    );
}

/// `C = alpha·A·B (+ C when accumulate)` with every stride checked against its slice.
#[allow(clippy::too_many_arguments)]
fn gemm_strided(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: (&[f32], isize, isize),
    b: (&[f32], isize, isize),
    c: (&mut [f32], isize, isize),
    accumulate: bool,
    parallelism: gemm::Parallelism,
) {
    if m == 0 || n == 0 {
        return;
    }
    let last = |rows: usize, cols: usize, rs: isize, cs: isize| {
        (rows.max(1) - 1) as isize * rs + (cols.max(1) - 1) as isize * cs
    };
    assert!(
        last(m, k, a.1, a.2) < a.0.len() as isize,
        "sgemm: A out of bounds"
    );
    assert!(
        last(k, n, b.1, b.2) < b.0.len() as isize,
        "sgemm: B out of bounds"
    );
    assert!(
        last(m, n, c.1, c.2) < c.0.len() as isize,
        "sgemm: C out of bounds"
    );
    // SAFETY: the asserts keep every element the strides reach inside its slice, and C is a
    // distinct mutable slice (read only when `accumulate`).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.0.as_mut_ptr(),
            c.2,
            c.1,
            accumulate,
            a.0.as_ptr(),
            a.2,
            a.1,
            b.0.as_ptr(),
            b.2,
            b.1,
            if accumulate { 1.0 } else { 0.0 },
            alpha,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// Elementwise kernels, compiled twice: for the baseline target and with AVX2 + FMA (chosen at
/// run time), so the loops vectorise on CPUs that have them.
pub(crate) mod simd {
    use super::Norm;

    macro_rules! dispatch {
        ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) $body:block) => {
            $(#[$doc])*
            pub(crate) fn $name($($arg: $ty),*) {
                #[inline(always)]
                fn imp($($arg: $ty),*) $body
                #[cfg(target_arch = "x86_64")]
                {
                    #[target_feature(enable = "avx2,fma")]
                    unsafe fn avx2($($arg: $ty),*) {
                        imp($($arg),*)
                    }
                    if std::is_x86_feature_detected!("avx2")
                        && std::is_x86_feature_detected!("fma")
                    {
                        // SAFETY: the CPU has the features `avx2` was compiled for.
                        return unsafe { avx2($($arg),*) };
                    }
                }
                imp($($arg),*)
            }
        };
    }

    /// `e^x` to ~2e-7 relative for x ≥ -87 (0 below), branch-free so it vectorises.
    #[inline(always)]
    pub(crate) fn exp(x: f32) -> f32 {
        const LOG2E: f32 = std::f32::consts::LOG2_E;
        const LN2_HI: f32 = 0.693_145_75;
        const LN2_LO: f32 = 1.428_606_8e-6;
        const ROUND: f32 = 12_582_912.0; // 1.5·2²³: adding it rounds to an integer
        let xc = x.clamp(-87.0, 88.0);
        let shifted = xc * LOG2E + ROUND;
        let n = shifted - ROUND;
        let r = (xc - n * LN2_HI) - n * LN2_LO;
        let p = 1.0
            + r * (1.0
                + r * (0.5
                    + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
        let k = (shifted.to_bits() as i32).wrapping_sub(0x4B40_0000);
        let scale = f32::from_bits((k.wrapping_add(127) << 23) as u32);
        let y = p * scale;
        if x < -87.0 { 0.0 } else { y }
    }

    /// Exact-form GELU `x·(1 + erf(x/√2))/2`, erf by Abramowitz–Stegun 7.1.26 (|error| ≤ 1.5e-7,
    /// the formula PyTorch's vectorised CPU erf uses).
    #[inline(always)]
    pub(crate) fn gelu(x: f32) -> f32 {
        let (erf, _) = erf_and_gauss(x * std::f32::consts::FRAC_1_SQRT_2);
        0.5 * x * (1.0 + erf)
    }

    /// Derivative of [`gelu`]: `Φ(x) + x·φ(x)`, with the same erf approximation.
    #[inline(always)]
    pub(crate) fn gelu_grad(x: f32) -> f32 {
        const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;
        let (erf, gauss) = erf_and_gauss(x * std::f32::consts::FRAC_1_SQRT_2);
        0.5 * (1.0 + erf) + x * FRAC_1_SQRT_2PI * gauss
    }

    /// `erf(z)` by Abramowitz–Stegun 7.1.26 and the `e^{-z²}` it uses.
    #[inline(always)]
    fn erf_and_gauss(z: f32) -> (f32, f32) {
        let a = z.abs();
        let t = 1.0 / (1.0 + 0.327_591_1 * a);
        let poly = t
            * (0.254_829_6
                + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152 + t * 1.061_405_4))));
        let gauss = exp(-a * a);
        ((1.0 - poly * gauss).copysign(z), gauss)
    }

    dispatch! {
        /// `y = gelu(x)` element by element.
        fn gelu_slice(x: &[f32], y: &mut [f32]) {
            for (y, x) in y.iter_mut().zip(x) {
                *y = gelu(*x);
            }
        }
    }

    dispatch! {
        /// `dx = dy · gelu'(x)` element by element.
        fn gelu_backward_slice(x: &[f32], dy: &[f32], dx: &mut [f32]) {
            for ((dx, x), dy) in dx.iter_mut().zip(x).zip(dy) {
                *dx = dy * gelu_grad(*x);
            }
        }
    }

    /// `row = exp(row − max) / Σ exp(row − max)`: the tail of both softmaxes.
    #[inline(always)]
    fn normalise_exp(row: &mut [f32], max: f32) {
        let mut sum = 0.0;
        for v in row.iter_mut() {
            *v = exp(*v - max);
            sum += *v;
        }
        let inv = 1.0 / sum;
        for v in row.iter_mut() {
            *v *= inv;
        }
    }

    dispatch! {
        /// `row = softmax(row + bias)` in place (`bias` has one value per column).
        fn bias_softmax(row: &mut [f32], bias: &[f32]) {
            let mut max = f32::NEG_INFINITY;
            for (v, b) in row.iter_mut().zip(bias) {
                *v += b;
                max = max.max(*v);
            }
            normalise_exp(row, max);
        }
    }

    dispatch! {
        /// The softmax backward of one row, in place: `dp = p ⊙ (dp − ⟨dp, p⟩)`.
        fn softmax_backward(p: &[f32], dp: &mut [f32]) {
            let dot: f32 = p.iter().zip(dp.iter()).map(|(p, d)| p * d).sum();
            for (d, p) in dp.iter_mut().zip(p) {
                *d = p * (*d - dot);
            }
        }
    }

    dispatch! {
        /// `x[r, :] += bias` for every row.
        fn add_bias(x: &mut [f32], bias: &[f32]) {
            for row in x.chunks_exact_mut(bias.len()) {
                for (v, b) in row.iter_mut().zip(bias) {
                    *v += b;
                }
            }
        }
    }

    dispatch! {
        /// `x = gelu(x + bias)` row by row.
        fn bias_gelu(x: &mut [f32], bias: &[f32]) {
            for row in x.chunks_exact_mut(bias.len()) {
                for (v, b) in row.iter_mut().zip(bias) {
                    *v = gelu(*v + b);
                }
            }
        }
    }

    dispatch! {
        /// A softmax over one row, in place.
        fn softmax(row: &mut [f32]) {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            normalise_exp(row, max);
        }
    }

    dispatch! {
        /// `x = LayerNorm(x + bias + residual)` over rows of width `h`.
        fn bias_residual_norm(x: &mut [f32], bias: &[f32], residual: Option<&[f32]>, norm: &Norm, h: usize) {
            for (r, row) in x.chunks_exact_mut(h).enumerate() {
                match residual {
                    Some(res) => {
                        for ((v, b), s) in row.iter_mut().zip(bias).zip(&res[r * h..(r + 1) * h]) {
                            *v += b + s;
                        }
                    }
                    None => {
                        for (v, b) in row.iter_mut().zip(bias) {
                            *v += b;
                        }
                    }
                }
                let mean = row.iter().sum::<f32>() / h as f32;
                let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / h as f32;
                let inv = 1.0 / (var + norm.eps).sqrt();
                if norm.beta.is_empty() {
                    for (v, g) in row.iter_mut().zip(&norm.gamma) {
                        *v = (*v - mean) * inv * g;
                    }
                } else {
                    for ((v, g), b) in row.iter_mut().zip(&norm.gamma).zip(&norm.beta) {
                        *v = (*v - mean) * inv * g + b;
                    }
                }
            }
        }
    }
}
