//! `Ws2Backend` for `CubeBackend`: allocate outputs and scratch, launch one cube.

use burn::tensor::{Shape, TensorMetadata, ops::FloatTensor};
use burn_cubecl::{
    BoolElement, CubeBackend, CubeRuntime, FloatElement, IntElement, kernel::into_contiguous,
    ops::numeric::empty_device_dtype, tensor::CubeTensor,
};
use cubecl::prelude::*;

use super::ws2::ws2_fused_kernel;
use crate::ws2::{Ws2Backend, Ws2Params, host_loss_and_grad};

/// Units in the cube. Also bounds the batch: the Jacobi step needs one unit per column pair.
const UNITS: usize = 256;
/// Largest batch the kernel takes; larger batches fall back to the host path.
pub const MAX_BATCH: usize = 2 * UNITS;
/// Jacobi sweeps before giving up (f32 converges in ~6–10 for B ≤ 64).
const MAX_SWEEPS: u32 = 30;

/// Launches the fused WS2 kernel on `scores [b, m]` and float `labels [b, n]`.
/// Returns `(loss [1], grad [b, m])`.
pub fn ws2_cube<R: CubeRuntime>(
    scores: CubeTensor<R>,
    labels: CubeTensor<R>,
    params: Ws2Params,
) -> (CubeTensor<R>, CubeTensor<R>) {
    let scores = into_contiguous(scores);
    let labels = into_contiguous(labels);
    let [b, m] = scores.shape().dims::<2>();
    let dtype = scores.dtype;
    let client = scores.client.clone();
    let device = scores.device.clone();
    let loss = empty_device_dtype::<R>(client.clone(), device.clone(), Shape::new([1]), dtype);
    let grad = empty_device_dtype::<R>(client.clone(), device.clone(), Shape::new([b, m]), dtype);
    let work_len = 4 * b * m + 3 * b * b + 2 * b + m;
    let work = empty_device_dtype::<R>(client.clone(), device, Shape::new([work_len]), dtype);
    ws2_fused_kernel::launch::<R>(
        &client,
        CubeCount::Static(1, 1, 1),
        CubeDim::new_1d(UNITS as u32),
        scores.into_tensor_arg(),
        labels.into_tensor_arg(),
        loss.clone().into_tensor_arg(),
        grad.clone().into_tensor_arg(),
        work.into_tensor_arg(),
        b as u32,
        m as u32,
        params.n as u32,
        (1.0 / params.temperature) as f32,
        params.eps as f32,
        MAX_SWEEPS,
        UNITS,
        dtype.into(),
    );
    (loss, grad)
}

impl<R, F, I, BT> Ws2Backend for CubeBackend<R, F, I, BT>
where
    R: CubeRuntime,
    F: FloatElement,
    I: IntElement,
    BT: BoolElement,
{
    fn ws2_loss_and_grad(
        scores: FloatTensor<Self>,
        labels: FloatTensor<Self>,
        params: Ws2Params,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        if scores.shape().dims::<2>()[0] > MAX_BATCH {
            return host_loss_and_grad::<Self>(scores, labels, params);
        }
        ws2_cube(scores, labels, params)
    }
}
