//! The `#[cube]` kernel body.

use cubecl::prelude::*;

/// Barrier that also makes global-memory writes of the cube visible to all its units.
#[cube]
fn barrier() {
    sync_storage();
    sync_cube();
}

/// Sum of one value per unit over the cube. Every unit gets the total.
#[cube]
fn cube_sum<F: Float>(red: &mut SharedMemory<F>, value: F) -> F {
    let tid = UNIT_POS_X as usize;
    let units = CUBE_DIM_X as usize;
    red[tid] = value;
    sync_cube();
    let mut total = F::new(0.0);
    for k in 0..units {
        total += red[k];
    }
    sync_cube();
    total
}

/// Row-wise max-subtracted softmax of `src·scale` written to `dst` (rows × cols), one unit per row.
/// With `labels`, the source is the block-diagonally widened label matrix instead of `src`.
#[cube]
fn softmax_rows<F: Float>(
    values: &Tensor<F>,
    work: &mut Tensor<F>,
    dst: usize,
    rows: usize,
    cols: usize,
    n: usize,
    scale: F,
    #[comptime] widen: bool,
) {
    let mut i = UNIT_POS_X as usize;
    while i < rows {
        // Subtract the row max before scaling (scale > 0): `(v − max)·scale` keeps the
        // exponent exact where it matters, while `v·scale − max·scale` loses ~|v·scale|·2⁻²⁴.
        let mut max = load::<F>(values, i, 0, cols, n, widen);
        for j in 1..cols {
            max = F::max(max, load::<F>(values, i, j, cols, n, widen));
        }
        let mut sum = F::new(0.0);
        for j in 0..cols {
            let e = F::exp((load::<F>(values, i, j, cols, n, widen) - max) * scale);
            work[dst + i * cols + j] = e;
            sum += e;
        }
        let inv = F::new(1.0) / sum;
        for j in 0..cols {
            work[dst + i * cols + j] = work[dst + i * cols + j] * inv;
        }
        i += CUBE_DIM_X as usize;
    }
}

/// Scores (`widen = false`, `[rows, cols]`) or widened labels (`widen = true`, `[rows, n]`).
#[cube]
fn load<F: Float>(
    values: &Tensor<F>,
    i: usize,
    j: usize,
    cols: usize,
    n: usize,
    #[comptime] widen: bool,
) -> F {
    let mut v = F::new(0.0);
    if widen {
        if cols == n {
            v = values[i * n + j];
        } else if j / n == i {
            v = values[i * n + j % n];
        }
    } else {
        v = values[i * cols + j];
    }
    v
}

/// WS2 loss and gradient for `scores [b, m]`, `labels [b, n]` in one cube.
///
/// `work` is global scratch of `4·b·m + 3·b·b + 2·b + m` elements:
/// `P | P̃ | Q̃ | R | W | V | G | s | colnorm | μP−μQ`.
/// Shared memory: `3·CUBE_DIM + 1` floats for reductions and the convergence flag.
#[cube(launch)]
pub fn ws2_fused_kernel<F: Float>(
    scores: &Tensor<F>,
    labels: &Tensor<F>,
    loss: &mut Tensor<F>,
    grad: &mut Tensor<F>,
    work: &mut Tensor<F>,
    b: u32,
    m: u32,
    n: u32,
    inv_tau: f32,
    eps: f32,
    max_sweeps: u32,
    #[comptime] units: usize,
    #[define(F)] _dtype: StorageType,
) {
    let b = b as usize;
    let m = m as usize;
    let n = n as usize;
    let tid = UNIT_POS_X as usize;
    let nu = CUBE_DIM_X as usize;
    let zero = F::new(0.0);
    let one = F::new(1.0);
    let two = F::new(2.0);
    let inv_tau = F::cast_from(inv_tau);
    let eps = F::cast_from(eps);
    let mut f = one;
    if b >= 2 {
        f = one / F::cast_from(b as u32 - 1);
    }

    let bm = b * m;
    let bb = b * b;
    let o_p = 0;
    let o_pc = bm;
    let o_qc = 2 * bm;
    let o_r = 3 * bm;
    let o_w = 4 * bm;
    let o_v = o_w + bb;
    let o_g = o_v + bb;
    let o_s = o_g + bb;
    let o_md = o_s + 2 * b;

    let mut red = SharedMemory::<F>::new(3 * units + 1);

    // 1. P = softmax(S/τ) into P, Q = softmax(Ŷ) into Q̃ (centred in step 2).
    softmax_rows::<F>(scores, work, o_p, b, m, m, inv_tau, false);
    softmax_rows::<F>(labels, work, o_qc, b, m, n, one, true);
    barrier();

    // 2. Column means, centring and the three Frobenius terms.
    let inv_b = one / F::cast_from(b as u32);
    let mut part_mean = zero;
    let mut part_p = zero;
    let mut part_q = zero;
    let mut j = tid;
    while j < m {
        let mut mu_p = zero;
        let mut mu_q = zero;
        for i in 0..b {
            mu_p += work[o_p + i * m + j];
            mu_q += work[o_qc + i * m + j];
        }
        mu_p *= inv_b;
        mu_q *= inv_b;
        let d = mu_p - mu_q;
        work[o_md + j] = d;
        part_mean += d * d;
        for i in 0..b {
            let pc = work[o_p + i * m + j] - mu_p;
            let qc = work[o_qc + i * m + j] - mu_q;
            work[o_pc + i * m + j] = pc;
            work[o_qc + i * m + j] = qc;
            part_p += pc * pc;
            part_q += qc * qc;
        }
        j += nu;
    }
    let mean_term = cube_sum::<F>(&mut red, part_mean);
    let trace_p = f * cube_sum::<F>(&mut red, part_p);
    let trace_q = f * cube_sum::<F>(&mut red, part_q);
    barrier();

    // 3. W = A = f P̃ Q̃ᵀ, V = I.
    let mut e = tid;
    while e < bb {
        let i = e / b;
        let k = e % b;
        let mut acc = zero;
        for c in 0..m {
            acc += work[o_pc + i * m + c] * work[o_qc + k * m + c];
        }
        work[o_w + e] = f * acc;
        let mut ident = zero;
        if i == k {
            ident = one;
        }
        work[o_v + e] = ident;
        e += nu;
    }
    barrier();

    // 4. Parallel one-sided Jacobi: round-robin pairs, `group` units per pair.
    let bp = b + b % 2;
    let pairs = bp / 2;
    let group = nu / pairs;
    let pair = tid / group;
    let lane = tid % group;
    let active = pair < pairs;
    let tol = F::new(4.0e-7);
    let flag = 3 * units;
    let mut sweep = 0u32;
    let mut converged = false;
    while !converged && sweep < max_sweeps {
        if tid == 0 {
            red[flag] = zero;
        }
        sync_cube();
        for round in 0..(bp - 1) {
            // Positions `pair` and `bp-1-pair` of the round-robin list; 0 stays fixed.
            let mut p = 0;
            if pair > 0 {
                p = (pair - 1 + round) % (bp - 1) + 1;
            }
            let mut q = 0;
            if active {
                q = (bp - 2 - pair + round) % (bp - 1) + 1;
            }
            let valid = active && p < b && q < b;
            let mut alpha = zero;
            let mut beta = zero;
            let mut gamma = zero;
            if valid {
                let mut r = lane;
                while r < b {
                    let wp = work[o_w + r * b + p];
                    let wq = work[o_w + r * b + q];
                    alpha += wp * wp;
                    beta += wq * wq;
                    gamma += wp * wq;
                    r += group;
                }
            }
            red[tid] = alpha;
            red[units + tid] = beta;
            red[2 * units + tid] = gamma;
            sync_cube();
            if valid {
                let base = pair * group;
                alpha = zero;
                beta = zero;
                gamma = zero;
                for l in 0..group {
                    alpha += red[base + l];
                    beta += red[units + base + l];
                    gamma += red[2 * units + base + l];
                }
                let norm = F::sqrt(alpha) * F::sqrt(beta);
                if gamma != zero && F::abs(gamma) > tol * norm {
                    if lane == 0 {
                        red[flag] = one;
                    }
                    let zeta = (beta - alpha) / (two * gamma);
                    let mut t = one / (F::abs(zeta) + F::sqrt(one + zeta * zeta));
                    if F::abs(zeta) > F::new(1.0e18) {
                        t = one / (two * F::abs(zeta));
                    }
                    if zeta < zero {
                        t = zero - t;
                    }
                    let c = one / F::sqrt(one + t * t);
                    let s = c * t;
                    let mut r = lane;
                    while r < b {
                        let wp = work[o_w + r * b + p];
                        let wq = work[o_w + r * b + q];
                        work[o_w + r * b + p] = c * wp - s * wq;
                        work[o_w + r * b + q] = s * wp + c * wq;
                        let vp = work[o_v + r * b + p];
                        let vq = work[o_v + r * b + q];
                        work[o_v + r * b + p] = c * vp - s * vq;
                        work[o_v + r * b + q] = s * vp + c * vq;
                        r += group;
                    }
                }
            }
            barrier();
        }
        converged = red[flag] == zero;
        sweep += 1;
        sync_cube();
    }

    // 5. s_j = sqrt(σ_j² + ε), σ_j = ‖W[:, j]‖; the trace term Σ s_j.
    let mut part_s = zero;
    let mut jj = tid;
    while jj < b {
        let mut sq = zero;
        for r in 0..b {
            let w = work[o_w + r * b + jj];
            sq += w * w;
        }
        let s = F::sqrt(sq + eps);
        work[o_s + jj] = one / s;
        part_s += s;
        jj += nu;
    }
    let sqrt_trace = cube_sum::<F>(&mut red, part_s);
    barrier();

    // 6. G_A = W diag(1/s) Vᵀ.
    let mut e2 = tid;
    while e2 < bb {
        let i = e2 / b;
        let k = e2 % b;
        let mut acc = zero;
        for c in 0..b {
            acc += work[o_w + i * b + c] * work[o_s + c] * work[o_v + k * b + c];
        }
        work[o_g + e2] = acc;
        e2 += nu;
    }
    barrier();

    // 7. R = G_A Q̃, centred over rows; G_P = (2/b)(μP−μQ) + 2f P̃ − 2f R̃, stored in R.
    let two_over_b = two * inv_b;
    let two_f = two * f;
    let mut jc = tid;
    while jc < m {
        let mut mean_r = zero;
        for i in 0..b {
            let mut acc = zero;
            for k in 0..b {
                acc += work[o_g + i * b + k] * work[o_qc + k * m + jc];
            }
            work[o_r + i * m + jc] = acc;
            mean_r += acc;
        }
        mean_r *= inv_b;
        let md = two_over_b * work[o_md + jc];
        for i in 0..b {
            let idx = i * m + jc;
            work[o_r + idx] = md + two_f * (work[o_pc + idx] - (work[o_r + idx] - mean_r));
        }
        jc += nu;
    }
    barrier();

    // 8. Softmax backward, one unit per row: dS = (1/τ) P ⊙ (G_P − rowsum(P ⊙ G_P)).
    let mut i = tid;
    while i < b {
        let mut dot = zero;
        for c in 0..m {
            dot += work[o_p + i * m + c] * work[o_r + i * m + c];
        }
        for c in 0..m {
            let idx = i * m + c;
            grad[idx] = inv_tau * work[o_p + idx] * (work[o_r + idx] - dot);
        }
        i += nu;
    }

    if tid == 0 {
        loss[0] = mean_term + trace_p + trace_q - two * sqrt_trace;
    }
}
