//! `Ws2Backend` for `Fusion<B>`: registers the fused kernel as one custom operation in the
//! fusion stream (burn 0.21's `Wgpu` and `Cuda` types wrap fusion).

use burn::tensor::{Element, ops::FloatTensor};
use burn_fusion::{
    Fusion, FusionBackend, FusionRuntime,
    stream::{Operation, OperationStreams},
};
use burn_ir::{CustomOpIr, HandleContainer, OperationIr, TensorIr};

use crate::ws2::{Ws2Backend, Ws2Params};

#[derive(Clone, Debug)]
struct Ws2Op<B> {
    desc: CustomOpIr,
    params: Ws2Params,
    _backend: core::marker::PhantomData<B>,
}

impl<B: FusionBackend + Ws2Backend> Operation<B::FusionRuntime> for Ws2Op<B> {
    fn execute(
        &self,
        handles: &mut HandleContainer<<B::FusionRuntime as FusionRuntime>::FusionHandle>,
    ) {
        let ([scores, labels], [loss, grad]) = self.desc.as_fixed();
        let scores = handles.get_float_tensor::<B>(scores);
        let labels = handles.get_float_tensor::<B>(labels);
        let (l, g) = B::ws2_loss_and_grad(scores, labels, self.params);
        handles.register_float_tensor::<B>(&loss.id, l);
        handles.register_float_tensor::<B>(&grad.id, g);
    }
}

impl<B: FusionBackend + Ws2Backend> Ws2Backend for Fusion<B> {
    fn ws2_loss_and_grad(
        scores: FloatTensor<Self>,
        labels: FloatTensor<Self>,
        params: Ws2Params,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let client = scores.client.clone();
        let dtype = B::FloatElem::dtype();
        let streams = OperationStreams::with_inputs([&scores, &labels]);
        let loss = TensorIr::uninit(client.create_empty_handle(), [1].into(), dtype);
        let grad = TensorIr::uninit(client.create_empty_handle(), scores.shape.clone(), dtype);
        let desc = CustomOpIr::new(
            "rankwise_ws2",
            &[scores.into_ir(), labels.into_ir()],
            &[loss, grad],
        );
        let op = Ws2Op::<B> {
            desc: desc.clone(),
            params,
            _backend: core::marker::PhantomData,
        };
        let [loss, grad] = client
            .register(streams, OperationIr::Custom(desc), op)
            .try_into()
            .expect("two outputs");
        (loss, grad)
    }
}
