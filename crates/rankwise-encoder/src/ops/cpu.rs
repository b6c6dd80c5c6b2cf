//! Multi-threaded `f32` host kernels of the encoder blocks, on contiguous row-major buffers.
//!
//! Attention runs one sequence per task on the rayon pool (every task owns its rows of the
//! outputs, so results do not depend on the thread count); inside a task each head is two
//! strided `sgemm`s around a fused bias + softmax pass, reading `Q`, `K`, `V` in place from the
//! `[len, heads·d]` projection layout and writing the context into the same layout.

use rayon::prelude::*;

use super::AttentionShape;
use crate::kernels::{sgemm, simd};

/// Elements per task of the element-wise kernels.
const CHUNK: usize = 1 << 14;

fn scale(s: AttentionShape) -> f32 {
    1.0 / (s.dim as f32).sqrt()
}

/// Forward attention: writes `ctx` (`[batch, len, heads·d]`) and `probs`
/// (`[batch, heads, len, len]`).
pub fn attention_forward(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    key_bias: &[f32],
    s: AttentionShape,
    ctx: &mut [f32],
    probs: &mut [f32],
) {
    let (l, w, d) = (s.len, s.width(), s.dim);
    let seq = l * w;
    check(&[q, k, v, &*ctx], s.batch * seq);
    assert_eq!(key_bias.len(), s.batch * l, "attention: key bias length");
    assert_eq!(
        probs.len(),
        s.batch * s.heads * l * l,
        "attention: probs length"
    );
    if seq == 0 || l == 0 {
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
                // ctx_h = P · V_h
                sgemm(
                    l,
                    l,
                    d,
                    1.0,
                    (&*p, l as isize, 1),
                    (&v[o..], w as isize, 1),
                    (&mut ctx[o..], w as isize, 1),
                );
            }
        });
}

/// Backward attention: writes `dq`, `dk`, `dv` (each `[batch, len, heads·d]`) from the context's
/// gradient `grad` and the saved `probs`.
#[allow(clippy::too_many_arguments)]
pub fn attention_backward(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    probs: &[f32],
    grad: &[f32],
    s: AttentionShape,
    dq: &mut [f32],
    dk: &mut [f32],
    dv: &mut [f32],
) {
    let (l, w, d) = (s.len, s.width(), s.dim);
    let seq = l * w;
    check(&[q, k, v, grad, &*dq, &*dk, &*dv], s.batch * seq);
    assert_eq!(
        probs.len(),
        s.batch * s.heads * l * l,
        "attention: probs length"
    );
    if seq == 0 || l == 0 {
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
            let probs = &probs[i * s.heads * l * l..(i + 1) * s.heads * l * l];
            let mut ds = vec![0.0f32; l * l];
            for (h, p) in probs.chunks_exact(l * l).enumerate() {
                let o = h * d;
                // dV_h = Pᵀ · dO_h
                sgemm(
                    l,
                    l,
                    d,
                    1.0,
                    (p, 1, l as isize),
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

fn check(buffers: &[&[f32]], len: usize) {
    for b in buffers {
        assert_eq!(b.len(), len, "attention: buffer length");
    }
}
