//! The encoder blocks composed of Burn tensor ops: the default bodies of
//! [`super::EncoderBackend`], for any backend, and the reference the fused kernels are tested
//! against.

use burn::tensor::{activation, backend::Backend, ops::FloatTensor};

use super::{AttentionShape, float};

/// `[batch, len, heads·d]` → `[batch, heads, len, d]`.
fn split<B: Backend>(t: FloatTensor<B>, s: AttentionShape) -> burn::tensor::Tensor<B, 4> {
    float::<B, 3>(t)
        .reshape([s.batch, s.len, s.heads, s.dim])
        .swap_dims(1, 2)
}

/// `[batch, heads, len, d]` → `[batch, len, heads·d]`.
fn merge<B: Backend>(t: burn::tensor::Tensor<B, 4>, s: AttentionShape) -> FloatTensor<B> {
    t.swap_dims(1, 2)
        .reshape([s.batch, s.len, s.width()])
        .into_primitive()
        .tensor()
}

fn scale(s: AttentionShape) -> f64 {
    1.0 / (s.dim as f64).sqrt()
}

/// Context and probabilities of [`super::EncoderBackend::fused_attention_forward`].
pub fn attention_forward<B: Backend>(
    q: FloatTensor<B>,
    k: FloatTensor<B>,
    v: FloatTensor<B>,
    key_bias: FloatTensor<B>,
    drop: Option<FloatTensor<B>>,
    heads: usize,
) -> (FloatTensor<B>, FloatTensor<B>) {
    let s = AttentionShape::of::<B>(&q, heads);
    let (q, k, v) = (split::<B>(q, s), split::<B>(k, s), split::<B>(v, s));
    let bias = float::<B, 2>(key_bias).reshape([s.batch, 1, 1, s.len]);
    let scores = q.matmul(k.swap_dims(2, 3)).mul_scalar(scale(s)) + bias;
    let probs = activation::softmax(scores, 3);
    let ctx = dropped(probs.clone(), drop).matmul(v);
    (merge(ctx, s), probs.into_primitive().tensor())
}

/// `P ⊙ drop` (or `P` without a mask).
fn dropped<B: Backend>(
    p: burn::tensor::Tensor<B, 4>,
    drop: Option<FloatTensor<B>>,
) -> burn::tensor::Tensor<B, 4> {
    match drop {
        Some(m) => p * float::<B, 4>(m),
        None => p,
    }
}

/// Gradients of [`super::EncoderBackend::fused_attention_backward`], with `D` the dropout mask
/// (all ones without one): `dV = (P⊙D)ᵀ·dO`, `dP = (dO·Vᵀ) ⊙ D`,
/// `dS = P ⊙ (dP − rowsum(P ⊙ dP))`, `dQ = dS·K/√d`, `dK = dSᵀ·Q/√d`.
pub fn attention_backward<B: Backend>(
    q: FloatTensor<B>,
    k: FloatTensor<B>,
    v: FloatTensor<B>,
    probs: FloatTensor<B>,
    drop: Option<FloatTensor<B>>,
    grad: FloatTensor<B>,
    heads: usize,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let s = AttentionShape::of::<B>(&q, heads);
    let (q, k, v) = (split::<B>(q, s), split::<B>(k, s), split::<B>(v, s));
    let p = float::<B, 4>(probs);
    let d_out = split::<B>(grad, s);
    let dv = dropped(p.clone(), drop.clone())
        .swap_dims(2, 3)
        .matmul(d_out.clone());
    let dp = dropped(d_out.matmul(v.swap_dims(2, 3)), drop);
    let dot = (dp.clone() * p.clone()).sum_dim(3);
    let ds = p * (dp - dot);
    let dq = ds.clone().matmul(k).mul_scalar(scale(s));
    let dk = ds.swap_dims(2, 3).matmul(q).mul_scalar(scale(s));
    (merge(dq, s), merge(dk, s), merge(dv, s))
}

/// Exact GELU (Burn's `gelu` computes the erf form).
pub fn gelu<B: Backend>(x: FloatTensor<B>) -> FloatTensor<B> {
    B::gelu(x)
}

/// `grad · (Φ(x) + x·φ(x))`.
pub fn gelu_backward<B: Backend>(x: FloatTensor<B>, grad: FloatTensor<B>) -> FloatTensor<B> {
    let x = float::<B, 1>(B::float_reshape(x.clone(), [num::<B>(&x)].into()));
    let shape = burn::tensor::TensorMetadata::shape(&grad);
    let cdf = x
        .clone()
        .div_scalar(core::f64::consts::SQRT_2)
        .erf()
        .add_scalar(1.0)
        .mul_scalar(0.5);
    let pdf = (x.clone() * x.clone())
        .mul_scalar(-0.5)
        .exp()
        .mul_scalar(1.0 / (2.0 * core::f64::consts::PI).sqrt());
    let local = cdf + x * pdf;
    B::float_mul(
        B::float_reshape(local.into_primitive().tensor(), shape),
        grad,
    )
}

fn num<B: Backend>(t: &FloatTensor<B>) -> usize {
    burn::tensor::TensorMetadata::shape(t).num_elements()
}

/// `x·w + b`.
pub fn linear<B: Backend>(
    x: FloatTensor<B>,
    w: FloatTensor<B>,
    b: FloatTensor<B>,
) -> FloatTensor<B> {
    let out = float::<B, 2>(w.clone()).dims()[1];
    B::float_add(B::float_matmul(x, w), B::float_reshape(b, [1, out].into()))
}

/// `dx = dy·wᵀ`, `dw = xᵀ·dy`, `db = Σ_rows dy`.
pub fn linear_backward<B: Backend>(
    x: FloatTensor<B>,
    w: FloatTensor<B>,
    grad: FloatTensor<B>,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let out = float::<B, 2>(w.clone()).dims()[1];
    let dx = B::float_matmul(grad.clone(), B::float_swap_dims(w, 0, 1));
    let dw = B::float_matmul(B::float_swap_dims(x, 0, 1), grad.clone());
    let db = B::float_reshape(B::float_sum_dim(grad, 0), [out].into());
    (dx, dw, db)
}
