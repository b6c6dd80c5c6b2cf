//! The encoder's backend extension: fused attention and GELU with their own backward.
//!
//! Following Burn's backend-extension pattern (as `rankwise-loss`'s `Ws2Backend`),
//! [`EncoderBackend`] adds the encoder's two element-heavy blocks to a backend:
//!
//! * **attention** — `softmax(Q_h K_hᵀ/√d + bias) V_h` for every head, taking `Q`, `K`, `V` as
//!   the projections' `[batch, len, heads·d]` outputs and returning the context in the same
//!   layout (no head split/merge copies);
//! * **GELU** — the exact (erf) form, with its exact derivative;
//! * **linear** — `x·w + b` on token rows, whose backward forms `xᵀ·dy` as one product read
//!   through strides (Burn's default copies the transposed activations first).
//!
//! Every method has a default body composed of Burn tensor ops ([`composed`]), so any backend
//! works; GPU backends (wgpu, cuda, with or without fusion) use them. NdArray overrides them
//! with multi-threaded `f32` host kernels ([`cpu`]), and `Autodiff<B>` wraps each block in one
//! custom backward that calls the inner backend's backward: one graph node per block instead of
//! a dozen, and the attention probabilities are the only saved activation.

pub mod composed;
#[cfg(feature = "ndarray")]
pub mod cpu;

mod autodiff;
#[cfg(feature = "cube")]
mod cube;
#[cfg(feature = "ndarray")]
mod ndarray;

use burn::tensor::{DType, Tensor, TensorPrimitive, backend::Backend, ops::FloatTensor};

/// Shape of one attention call: `batch` sequences of `len` tokens, `heads` heads of `dim`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttentionShape {
    /// Sequences.
    pub batch: usize,
    /// Tokens per sequence (padded length).
    pub len: usize,
    /// Attention heads.
    pub heads: usize,
    /// Width of one head.
    pub dim: usize,
}

impl AttentionShape {
    /// Reads the shape of `q` (`[batch, len, heads·dim]`).
    pub fn of<B: Backend>(q: &FloatTensor<B>, heads: usize) -> Self {
        let [batch, len, width] = float::<B, 3>(q.clone()).dims();
        assert!(
            heads > 0 && width % heads == 0,
            "attention: width {width} is not a multiple of {heads} heads"
        );
        Self {
            batch,
            len,
            heads,
            dim: width / heads,
        }
    }

    /// `heads · dim`.
    pub fn width(&self) -> usize {
        self.heads * self.dim
    }
}

/// A Burn backend with the encoder's fused blocks.
///
/// Shapes: `q`, `k`, `v` and the context are `[batch, len, heads·d]` (head `h` in columns
/// `h·d..(h+1)·d`); `key_bias` is `[batch, len]`, added to every score of that key (0 for real
/// tokens, a large negative value for padding) and not differentiated; `probs` is
/// `[batch, heads, len, len]`, and so is `drop`, the optional dropout mask of the probabilities
/// (0 or `1/(1 − p)`, not differentiated): the context is `(P ⊙ drop)·V`, and `probs` stays the
/// undropped `P`.
pub trait EncoderBackend: Backend {
    /// Attention context and the softmax probabilities (kept for the backward).
    fn fused_attention_forward(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        key_bias: FloatTensor<Self>,
        drop: Option<FloatTensor<Self>>,
        heads: usize,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        composed::attention_forward::<Self>(q, k, v, key_bias, drop, heads)
    }

    /// Gradients of `q`, `k`, `v` from the context's gradient and the saved probabilities.
    fn fused_attention_backward(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        probs: FloatTensor<Self>,
        drop: Option<FloatTensor<Self>>,
        grad: FloatTensor<Self>,
        heads: usize,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        composed::attention_backward::<Self>(q, k, v, probs, drop, grad, heads)
    }

    /// The attention context (differentiable with respect to `q`, `k`, `v` on autodiff
    /// backends).
    fn fused_attention(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        key_bias: FloatTensor<Self>,
        drop: Option<FloatTensor<Self>>,
        heads: usize,
    ) -> FloatTensor<Self> {
        Self::fused_attention_forward(q, k, v, key_bias, drop, heads).0
    }

    /// A dense layer on token rows: `x·w + b` for `x` `[rows, in]`, `w` `[in, out]`, `b` `[out]`.
    fn fused_linear(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        composed::linear::<Self>(x, w, b)
    }

    /// Gradients of `x`, `w` and `b` of [`EncoderBackend::fused_linear`] from the output's
    /// gradient `grad` `[rows, out]`.
    fn fused_linear_backward(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        composed::linear_backward::<Self>(x, w, grad)
    }

    /// Exact GELU, `x·Φ(x)`.
    fn exact_gelu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        composed::gelu::<Self>(x)
    }

    /// `grad · (Φ(x) + x·φ(x))`, the gradient of [`EncoderBackend::exact_gelu`].
    fn exact_gelu_backward(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        composed::gelu_backward::<Self>(x, grad)
    }
}

#[cfg(feature = "flex")]
impl EncoderBackend for burn::backend::Flex {}

/// Multi-head attention on tensors (see [`EncoderBackend::fused_attention`]).
pub fn attention<B: EncoderBackend>(
    q: Tensor<B, 3>,
    k: Tensor<B, 3>,
    v: Tensor<B, 3>,
    key_bias: Tensor<B, 2>,
    heads: usize,
) -> Tensor<B, 3> {
    attention_with_dropout(q, k, v, key_bias, None, heads)
}

/// [`attention`] with the attention probabilities multiplied by `drop`
/// (`[batch, heads, len, len]`, a dropout mask) before they weight the values.
pub fn attention_with_dropout<B: EncoderBackend>(
    q: Tensor<B, 3>,
    k: Tensor<B, 3>,
    v: Tensor<B, 3>,
    key_bias: Tensor<B, 2>,
    drop: Option<Tensor<B, 4>>,
    heads: usize,
) -> Tensor<B, 3> {
    float(B::fused_attention(
        q.into_primitive().tensor(),
        k.into_primitive().tensor(),
        v.into_primitive().tensor(),
        key_bias.into_primitive().tensor(),
        drop.map(|d| d.into_primitive().tensor()),
        heads,
    ))
}

/// A Burn `Linear` applied to token rows `[rows, in]` (see [`EncoderBackend::fused_linear`]);
/// layers without a bias use Burn's own. With `compute = Some(dtype)` the input, weight and
/// bias are cast to `dtype` for the product and the result is cast back (differentiably: the
/// weights' gradients arrive in their own dtype).
pub fn linear<B: EncoderBackend>(
    layer: &burn::nn::Linear<B>,
    x: Tensor<B, 2>,
    compute: Option<DType>,
) -> Tensor<B, 2> {
    let dtype = x.dtype();
    let y = match &layer.bias {
        None => cast(x, compute).matmul(cast(layer.weight.val(), compute)),
        Some(bias) => float(B::fused_linear(
            cast(x, compute).into_primitive().tensor(),
            cast(layer.weight.val(), compute).into_primitive().tensor(),
            cast(bias.val(), compute).into_primitive().tensor(),
        )),
    };
    cast(y, Some(dtype))
}

/// `t` in `dtype` (unchanged when it already is, or when `dtype` is `None`).
fn cast<B: Backend, const D: usize>(t: Tensor<B, D>, dtype: Option<DType>) -> Tensor<B, D> {
    match dtype {
        Some(d) if d != t.dtype() => t.cast(d),
        _ => t,
    }
}

/// Exact (erf) GELU with its exact gradient (see [`EncoderBackend::exact_gelu`]).
pub fn gelu<B: EncoderBackend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    float(B::exact_gelu(x.into_primitive().tensor()))
}

/// A float primitive as a tensor of rank `D`.
pub(crate) fn float<B: Backend, const D: usize>(t: FloatTensor<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(t))
}
