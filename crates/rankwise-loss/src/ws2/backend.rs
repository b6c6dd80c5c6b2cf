//! The WS2 backend extension: one fused operation that returns the loss and its gradient.
//!
//! Following Burn's backend-extension pattern, [`Ws2Backend`] adds `ws2_loss_and_grad` to a
//! backend. CPU backends use the default body (the f64 host path of [`super::host`]); CubeCL
//! backends (wgpu, cuda, with or without fusion) override it with the fused kernel (feature
//! `kernel`); `Autodiff<B>` wraps either in a custom backward that scales the saved gradient.

use burn::backend::autodiff::{
    Autodiff,
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
};
use burn::tensor::{
    DType, Element, Shape, Tensor, TensorData, TensorPrimitive, backend::Backend, ops::FloatTensor,
};

use super::host::{HostFloat, ws2_into};

/// Shape-independent settings of one WS2 call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ws2Params {
    /// Labels per query (`n`); the scores have `m = n` or `m = B·n` columns.
    pub n: usize,
    /// Softmax temperature τ applied to the scores (not to the labels).
    pub temperature: f64,
    /// ε added to every eigenvalue of `AAᵀ` under the square root.
    pub eps: f64,
}

/// A Burn backend that can compute WS2 and its gradient in one operation.
pub trait Ws2Backend: Backend {
    /// Loss `[1]` and `dL/dscores` `[B, m]` for `scores` `[B, m]` and float `labels` `[B, n]`.
    ///
    /// The default body runs the f64 host path; CubeCL backends launch the fused kernel.
    fn ws2_loss_and_grad(
        scores: FloatTensor<Self>,
        labels: FloatTensor<Self>,
        params: Ws2Params,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        host_loss_and_grad::<Self>(scores, labels, params)
    }

    /// The loss alone, differentiable on autodiff backends.
    fn ws2_loss(
        scores: FloatTensor<Self>,
        labels: FloatTensor<Self>,
        params: Ws2Params,
    ) -> FloatTensor<Self> {
        Self::ws2_loss_and_grad(scores, labels, params).0
    }
}

/// Reads both tensors to the host, runs the f64 host path ([`ws2_into`]) and uploads loss and
/// gradient in the scores' dtype (f32 and f64 scores are read and written without conversion
/// passes).
pub(crate) fn host_loss_and_grad<B: Backend>(
    scores: FloatTensor<B>,
    labels: FloatTensor<B>,
    params: Ws2Params,
) -> (FloatTensor<B>, FloatTensor<B>) {
    let scores = Tensor::<B, 2>::from_primitive(TensorPrimitive::Float(scores));
    let labels = Tensor::<B, 2>::from_primitive(TensorPrimitive::Float(labels));
    let device = scores.device();
    let dtype = scores.dtype();
    let [b, m] = scores.dims();
    let y = to_f64(labels.into_data());
    // A fresh tensor: reading back a tensor whose storage is still shared with the caller makes
    // some CPU backends (NdArray) copy it element by element through dynamic-rank iterators,
    // which cost more than the whole loss at B = 64; a new tensor is read without a copy.
    let data = scores.mul_scalar(1.0).into_data();
    let (loss, grad) = match data.dtype {
        DType::F64 => run::<_, f64>(data.as_slice::<f64>().expect("f64 data"), &y, b, m, params),
        DType::F32 => run::<_, f32>(data.as_slice::<f32>().expect("f32 data"), &y, b, m, params),
        // Half precision and others: computed from f64 values, returned as f32 (converted to
        // the scores' dtype on upload).
        _ => run::<_, f32>(&to_f64(data), &y, b, m, params),
    };
    // Outputs keep the scores' dtype (not the device default), so f64 backends stay exact.
    let loss = Tensor::<B, 1>::from_data(TensorData::new(vec![loss], [1]), (&device, dtype));
    let grad = Tensor::<B, 2>::from_data(grad, (&device, dtype));
    (
        loss.into_primitive().tensor(),
        grad.into_primitive().tensor(),
    )
}

/// The host path on `b×m` scores: the loss and `dL/dscores` as `[b, m]` data of `G`.
fn run<S: HostFloat, G: HostFloat + Element>(
    scores: &[S],
    labels: &[f64],
    b: usize,
    m: usize,
    params: Ws2Params,
) -> (f64, TensorData) {
    let mut grad = vec![G::from_f64(0.0); b * m];
    let (loss, _) = ws2_into(scores, labels, b, m, params, &mut grad);
    (loss, TensorData::new(grad, [b, m]))
}

/// Any float tensor data as f64 values.
pub(crate) fn to_f64(data: TensorData) -> Vec<f64> {
    data.convert::<f64>()
        .into_vec::<f64>()
        .expect("converted to f64")
}

#[cfg(feature = "ndarray")]
impl<E, I, Q> Ws2Backend for burn::backend::NdArray<E, I, Q>
where
    E: burn::backend::ndarray::FloatNdArrayElement,
    I: burn::backend::ndarray::IntNdArrayElement,
    Q: burn::backend::ndarray::QuantElement,
    burn::backend::ndarray::NdArrayTensor: From<burn::backend::ndarray::SharedArray<E>>,
    burn::backend::ndarray::NdArrayTensor: From<burn::backend::ndarray::SharedArray<I>>,
{
}

#[derive(Debug)]
struct Ws2Backward;

impl<B: Backend> Backward<B, 1> for Ws2Backward {
    /// `dL/dscores` computed by the fused forward.
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [scores] = ops.parents;
        let upstream = grads.consume::<B>(&ops.node);
        if let Some(node) = scores {
            let upstream = B::float_reshape(upstream, Shape::new([1, 1]));
            grads.register::<B>(node.id, B::float_mul(ops.state, upstream));
        }
    }
}

impl<B: Ws2Backend, C: CheckpointStrategy> Ws2Backend for Autodiff<B, C> {
    fn ws2_loss(
        scores: FloatTensor<Self>,
        labels: FloatTensor<Self>,
        params: Ws2Params,
    ) -> FloatTensor<Self> {
        match Ws2Backward
            .prepare::<C>([scores.node.clone()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (loss, grad) = B::ws2_loss_and_grad(scores.primitive, labels.primitive, params);
                prep.finish(grad, loss)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::ws2_loss(scores.primitive, labels.primitive, params))
            }
        }
    }
}
