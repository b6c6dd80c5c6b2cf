//! [`EncoderBackend`] for NdArray: `f32` tensors run the host kernels of [`super::cpu`]; other
//! float types use the composed defaults.

use std::borrow::Cow;

use burn::backend::NdArray;
use burn::backend::ndarray::{
    FloatNdArrayElement, IntNdArrayElement, NdArrayTensor, QuantElement, SharedArray,
};
use burn::tensor::TensorData;

use super::{AttentionShape, EncoderBackend, composed, cpu};

/// The tensor's values in row-major order, borrowed when its storage already is.
fn values(t: &NdArrayTensor) -> Option<Cow<'_, [f32]>> {
    match t {
        NdArrayTensor::F32(storage) => {
            let view = storage.view();
            Some(match view.to_slice() {
                Some(slice) => Cow::Borrowed(slice),
                None => Cow::Owned(view.iter().copied().collect()),
            })
        }
        _ => None,
    }
}

fn tensor(values: Vec<f32>, shape: &[usize]) -> NdArrayTensor {
    NdArrayTensor::from_data(TensorData::new(values, shape.to_vec()))
}

impl<E, I, Q> EncoderBackend for NdArray<E, I, Q>
where
    E: FloatNdArrayElement,
    I: IntNdArrayElement,
    Q: QuantElement,
    NdArrayTensor: From<SharedArray<E>>,
    NdArrayTensor: From<SharedArray<I>>,
{
    fn fused_attention_forward(
        q: NdArrayTensor,
        k: NdArrayTensor,
        v: NdArrayTensor,
        key_bias: NdArrayTensor,
        drop: Option<NdArrayTensor>,
        heads: usize,
    ) -> (NdArrayTensor, NdArrayTensor) {
        let s = AttentionShape::of::<Self>(&q, heads);
        let ds = drop.as_ref().map(values);
        let (Some(qs), Some(ks), Some(vs), Some(bs), None | Some(Some(_))) =
            (values(&q), values(&k), values(&v), values(&key_bias), &ds)
        else {
            return composed::attention_forward::<Self>(q, k, v, key_bias, drop, heads);
        };
        let ds = ds.flatten();
        let mut ctx = vec![0.0; s.batch * s.len * s.width()];
        let mut probs = vec![0.0; s.batch * s.heads * s.len * s.len];
        cpu::attention_forward(&qs, &ks, &vs, &bs, ds.as_deref(), s, &mut ctx, &mut probs);
        (
            tensor(ctx, &[s.batch, s.len, s.width()]),
            tensor(probs, &[s.batch, s.heads, s.len, s.len]),
        )
    }

    fn fused_attention_backward(
        q: NdArrayTensor,
        k: NdArrayTensor,
        v: NdArrayTensor,
        probs: NdArrayTensor,
        drop: Option<NdArrayTensor>,
        grad: NdArrayTensor,
        heads: usize,
    ) -> (NdArrayTensor, NdArrayTensor, NdArrayTensor) {
        let s = AttentionShape::of::<Self>(&q, heads);
        let ds = drop.as_ref().map(values);
        let (Some(qs), Some(ks), Some(vs), Some(ps), Some(gs), None | Some(Some(_))) = (
            values(&q),
            values(&k),
            values(&v),
            values(&probs),
            values(&grad),
            &ds,
        ) else {
            return composed::attention_backward::<Self>(q, k, v, probs, drop, grad, heads);
        };
        let ds = ds.flatten();
        let n = s.batch * s.len * s.width();
        let (mut dq, mut dk, mut dv) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        cpu::attention_backward(
            &qs,
            &ks,
            &vs,
            &ps,
            ds.as_deref(),
            &gs,
            s,
            [&mut dq, &mut dk, &mut dv],
        );
        let shape = [s.batch, s.len, s.width()];
        (tensor(dq, &shape), tensor(dk, &shape), tensor(dv, &shape))
    }

    fn fused_linear(x: NdArrayTensor, w: NdArrayTensor, b: NdArrayTensor) -> NdArrayTensor {
        let (Some(xs), Some(ws), Some(bs)) = (values(&x), values(&w), values(&b)) else {
            return composed::linear::<Self>(x, w, b);
        };
        let rows = burn::tensor::TensorMetadata::shape(&x)[0];
        let mut y = vec![0.0; rows * bs.len()];
        cpu::linear(&xs, &ws, &bs, rows, &mut y);
        tensor(y, &[rows, bs.len()])
    }

    fn fused_linear_backward(
        x: NdArrayTensor,
        w: NdArrayTensor,
        grad: NdArrayTensor,
    ) -> (NdArrayTensor, NdArrayTensor, NdArrayTensor) {
        let (Some(xs), Some(ws), Some(gs)) = (values(&x), values(&w), values(&grad)) else {
            return composed::linear_backward::<Self>(x, w, grad);
        };
        let [inputs, outputs] = burn::tensor::TensorMetadata::shape(&w).dims::<2>();
        let rows = burn::tensor::TensorMetadata::shape(&x)[0];
        let (mut dx, mut dw, mut db) =
            (vec![0.0; xs.len()], vec![0.0; ws.len()], vec![0.0; outputs]);
        cpu::linear_backward(&xs, &ws, &gs, rows, outputs, &mut dx, &mut dw, &mut db);
        (
            tensor(dx, &[rows, inputs]),
            tensor(dw, &[inputs, outputs]),
            tensor(db, &[outputs]),
        )
    }

    fn exact_gelu(x: NdArrayTensor) -> NdArrayTensor {
        let Some(xs) = values(&x) else {
            return composed::gelu::<Self>(x);
        };
        let mut y = vec![0.0; xs.len()];
        cpu::gelu(&xs, &mut y);
        tensor(y, &burn::tensor::TensorMetadata::shape(&x))
    }

    fn exact_gelu_backward(x: NdArrayTensor, grad: NdArrayTensor) -> NdArrayTensor {
        let (Some(xs), Some(gs)) = (values(&x), values(&grad)) else {
            return composed::gelu_backward::<Self>(x, grad);
        };
        let mut dx = vec![0.0; xs.len()];
        cpu::gelu_backward(&xs, &gs, &mut dx);
        tensor(dx, &burn::tensor::TensorMetadata::shape(&x))
    }
}
