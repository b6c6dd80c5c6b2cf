//! Multi-threaded `f32` host kernels of the encoder blocks, on contiguous row-major buffers.
//!
//! Attention runs one sequence per task on the rayon pool (every task owns its rows of the
//! outputs, so results do not depend on the thread count); inside a task each head is two
//! strided `sgemm`s around a fused bias + softmax pass, reading `Q`, `K`, `V` in place from the
//! `[len, heads·d]` projection layout and writing the context into the same layout.

use rayon::prelude::*;

use super::AttentionShape;
use crate::kernels::{sgemm, sgemm_par, simd};

/// Elements per task of the element-wise kernels.
const CHUNK: usize = 1 << 14;

fn scale(s: AttentionShape) -> f32 {
    1.0 / (s.dim as f32).sqrt()
}

/// Forward attention: writes `ctx` (`[batch, len, heads·d]`) and `probs`
/// (`[batch, heads, len, len]`, before dropout). `drop` (same shape as `probs`) multiplies the
/// probabilities that weight the values.
#[allow(clippy::too_many_arguments)]
pub fn attention_forward(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    key_bias: &[f32],
    drop: Option<&[f32]>,
    s: AttentionShape,
    ctx: &mut [f32],
    probs: &mut [f32],
) {
    let (l, w, d) = (s.len, s.width(), s.dim);
    let seq = l * w;
    assert_eq!(key_bias.len(), s.batch * l, "attention: key bias length");
    if !check(s, &[q, k, v, &*ctx], probs.len(), drop) {
        return;
    }
    let alpha = scale(s);
    ctx.par_chunks_mut(seq)
        .zip(probs.par_chunks_mut(s.heads * l * l))
        .enumerate()
        .for_each(|(i, (ctx, probs))| {
            let rows = i * seq..(i + 1) * seq;
            let (q, k, v) = (&q[rows.clone()], &k[rows.clone()], &v[rows]);
            let bias = &key_bias[i * l..(i + 1) * l];
            let heads_drop = drop.map(|m| &m[i * s.heads * l * l..(i + 1) * s.heads * l * l]);
            let mut kept = vec![0.0f32; if drop.is_some() { l * l } else { 0 }];
            for (h, p) in probs.chunks_exact_mut(l * l).enumerate() {
                let o = h * d;
                // S = Q_h · K_hᵀ / √d
                sgemm(
                    l,
                    d,
                    l,
                    alpha,
                    (&q[o..], w as isize, 1),
                    (&k[o..], 1, w as isize),
                    (&mut *p, l as isize, 1),
                );
                for row in p.chunks_exact_mut(l) {
                    simd::bias_softmax(row, bias);
                }
                let mask = heads_drop.map(|m| &m[h * l * l..(h + 1) * l * l]);
                let weights = dropped(p, mask, &mut kept);
                // ctx_h = (P ⊙ D) · V_h
                sgemm(
                    l,
                    l,
                    d,
                    1.0,
                    (weights, l as isize, 1),
                    (&v[o..], w as isize, 1),
                    (&mut ctx[o..], w as isize, 1),
                );
            }
        });
}

/// Backward attention: writes `[dq, dk, dv]` (each `[batch, len, heads·d]`) from the
/// context's gradient `grad`, the saved `probs` and the dropout mask `drop` of the forward.
#[allow(clippy::too_many_arguments)]
pub fn attention_backward(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    probs: &[f32],
    drop: Option<&[f32]>,
    grad: &[f32],
    s: AttentionShape,
    [dq, dk, dv]: [&mut [f32]; 3],
) {
    let (l, w, d) = (s.len, s.width(), s.dim);
    let seq = l * w;
    if !check(s, &[q, k, v, grad, &*dq, &*dk, &*dv], probs.len(), drop) {
        return;
    }
    let alpha = scale(s);
    dq.par_chunks_mut(seq)
        .zip(dk.par_chunks_mut(seq))
        .zip(dv.par_chunks_mut(seq))
        .enumerate()
        .for_each(|(i, ((dq, dk), dv))| {
            let rows = i * seq..(i + 1) * seq;
            let (q, k, v, g) = (
                &q[rows.clone()],
                &k[rows.clone()],
                &v[rows.clone()],
                &grad[rows],
            );
            let heads = i * s.heads * l * l..(i + 1) * s.heads * l * l;
            let heads_drop = drop.map(|m| &m[heads.clone()]);
            let probs = &probs[heads];
            let mut ds = vec![0.0f32; l * l];
            let mut kept = vec![0.0f32; if drop.is_some() { l * l } else { 0 }];
            for (h, p) in probs.chunks_exact(l * l).enumerate() {
                let o = h * d;
                let mask = heads_drop.map(|m| &m[h * l * l..(h + 1) * l * l]);
                let weights = dropped(p, mask, &mut kept);
                // dV_h = (P ⊙ D)ᵀ · dO_h
                sgemm(
                    l,
                    l,
                    d,
                    1.0,
                    (weights, 1, l as isize),
                    (&g[o..], w as isize, 1),
                    (&mut dv[o..], w as isize, 1),
                );
                // dP = dO_h · V_hᵀ, then dS = P ⊙ (dP − ⟨dP, P⟩) row by row
                sgemm(
                    l,
                    d,
                    l,
                    1.0,
                    (&g[o..], w as isize, 1),
                    (&v[o..], 1, w as isize),
                    (&mut ds, l as isize, 1),
                );
                if let Some(m) = mask {
                    ds.iter_mut().zip(m).for_each(|(g, m)| *g *= m);
                }
                for (dp, p) in ds.chunks_exact_mut(l).zip(p.chunks_exact(l)) {
                    simd::softmax_backward(p, dp);
                }
                // dQ_h = dS · K_h / √d
                sgemm(
                    l,
                    l,
                    d,
                    alpha,
                    (&ds, l as isize, 1),
                    (&k[o..], w as isize, 1),
                    (&mut dq[o..], w as isize, 1),
                );
                // dK_h = dSᵀ · Q_h / √d
                sgemm(
                    l,
                    l,
                    d,
                    alpha,
                    (&ds, 1, l as isize),
                    (&q[o..], w as isize, 1),
                    (&mut dk[o..], w as isize, 1),
                );
            }
        });
}

/// `y = gelu(x)`.
pub fn gelu(x: &[f32], y: &mut [f32]) {
    assert_eq!(x.len(), y.len(), "gelu: lengths");
    y.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .for_each(|(y, x)| simd::gelu_slice(x, y));
}

/// `dx = grad · gelu'(x)`.
pub fn gelu_backward(x: &[f32], grad: &[f32], dx: &mut [f32]) {
    assert!(
        x.len() == grad.len() && x.len() == dx.len(),
        "gelu backward: lengths"
    );
    dx.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK).zip(grad.par_chunks(CHUNK)))
        .for_each(|(dx, (x, g))| simd::gelu_backward_slice(x, g, dx));
}

/// Checks the sizes of the `[batch, len, heads·d]` buffers, of the probabilities and of the
/// dropout mask; returns whether there is anything to compute.
fn check(s: AttentionShape, buffers: &[&[f32]], probs: usize, drop: Option<&[f32]>) -> bool {
    let len = s.batch * s.len * s.width();
    for b in buffers {
        assert_eq!(b.len(), len, "attention: buffer length");
    }
    let p = s.batch * s.heads * s.len * s.len;
    assert_eq!(probs, p, "attention: probs length");
    assert!(
        drop.is_none_or(|m| m.len() == p),
        "attention: dropout mask length"
    );
    len > 0
}

/// The probabilities that weight the values: `p ⊙ mask` written into `buf`, or `p` itself
/// without a mask.
fn dropped<'a>(p: &'a [f32], mask: Option<&[f32]>, buf: &'a mut [f32]) -> &'a [f32] {
    match mask {
        Some(m) => {
            for ((o, p), m) in buf.iter_mut().zip(p).zip(m) {
                *o = p * m;
            }
            buf
        }
        None => p,
    }
}

/// `y = x·w + b` for `x` `[rows, inputs]`, `w` `[inputs, outputs]`.
pub fn linear(x: &[f32], w: &[f32], b: &[f32], rows: usize, y: &mut [f32]) {
    let outputs = b.len();
    let inputs = w.len().checked_div(outputs).unwrap_or(0);
    assert_eq!(w.len(), inputs * outputs, "linear: weight size");
    assert_eq!(x.len(), rows * inputs, "linear: input size");
    assert_eq!(y.len(), rows * outputs, "linear: output size");
    if outputs == 0 {
        return;
    }
    y.par_chunks_mut(outputs * 64).for_each(|block| {
        block
            .chunks_exact_mut(outputs)
            .for_each(|r| r.copy_from_slice(b))
    });
    sgemm_par(
        rows,
        inputs,
        outputs,
        (x, inputs as isize, 1),
        (w, outputs as isize, 1),
        y,
        true,
    );
}

/// Gradients of [`linear`]: `dx = dy·wᵀ`, `dw = xᵀ·dy`, `db = Σ_rows dy` (summed in blocks of
/// a fixed number of rows, then over the blocks in order).
#[allow(clippy::too_many_arguments)]
pub fn linear_backward(
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    rows: usize,
    outputs: usize,
    dx: &mut [f32],
    dw: &mut [f32],
    db: &mut [f32],
) {
    let inputs = w.len().checked_div(outputs).unwrap_or(0);
    assert_eq!(dy.len(), rows * outputs, "linear backward: gradient size");
    assert_eq!(x.len(), rows * inputs, "linear backward: input size");
    assert!(dx.len() == x.len() && dw.len() == w.len() && db.len() == outputs);
    if outputs == 0 || inputs == 0 {
        return;
    }
    // dx[rows, in] = dy[rows, out] · wᵀ
    sgemm_par(
        rows,
        outputs,
        inputs,
        (dy, outputs as isize, 1),
        (w, 1, outputs as isize),
        dx,
        false,
    );
    // dw[in, out] = xᵀ[in, rows] · dy[rows, out]
    sgemm_par(
        inputs,
        rows,
        outputs,
        (x, 1, inputs as isize),
        (dy, outputs as isize, 1),
        dw,
        false,
    );
    const BLOCK: usize = 256;
    let partial: Vec<Vec<f32>> = dy
        .par_chunks(BLOCK * outputs)
        .map(|block| {
            let mut s = vec![0.0f32; outputs];
            for row in block.chunks_exact(outputs) {
                for (s, v) in s.iter_mut().zip(row) {
                    *s += v;
                }
            }
            s
        })
        .collect();
    db.fill(0.0);
    for p in &partial {
        for (d, v) in db.iter_mut().zip(p) {
            *d += v;
        }
    }
}
