//! The one entry point for inference (search, evaluation, evaluation during training, `embed`):
//! [`Inference::embed_texts`], whose implementation is picked by the backend type.
//!
//! * Burn's CPU backend (NdArray) runs the host path ([`HostEncoder`]: the same weights on host
//!   `f32` buffers, one sequence per core over its real tokens only), several times faster there
//!   than the Burn model, whose single matrix products leave cores idle.
//! * Every other backend (CubeCL's wgpu and CUDA, Flex, `Autodiff<B>`) runs the Burn model in
//!   length-sorted batches on its device ([`BiEncoder::embed_sorted`]).

use crate::biencoder::{BiEncoder, Side};
use crate::error::EncoderError;
use crate::ops::EncoderBackend;

/// How a backend embeds many texts for inference. Implemented for every backend with
/// [`EncoderBackend`]; the default body is the Burn model in batches.
pub trait Inference: EncoderBackend {
    /// Embeddings of `texts` on `side`, row-major `[texts.len(), hidden]` in input order;
    /// `batch_size` bounds the texts run at once by batched implementations; `progress` gets the
    /// number of texts finished since its last call.
    fn embed_texts(
        encoder: &BiEncoder<Self>,
        side: Side,
        texts: &[&str],
        batch_size: usize,
        device: &Self::Device,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Vec<f32>, EncoderError> {
        encoder.embed_sorted(side, texts, batch_size, device, progress)
    }
}

impl<B: Inference> BiEncoder<B> {
    /// Embeddings of many texts for inference, by this backend's [`Inference`] path.
    pub fn embed_many(
        &self,
        side: Side,
        texts: &[&str],
        batch_size: usize,
        device: &B::Device,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Vec<f32>, EncoderError> {
        B::embed_texts(self, side, texts, batch_size, device, progress)
    }
}

#[cfg(feature = "ndarray")]
mod ndarray {
    use burn::backend::NdArray;
    use burn::backend::ndarray::{
        FloatNdArrayElement, IntNdArrayElement, NdArrayTensor, QuantElement, SharedArray,
    };

    use super::Inference;
    use crate::biencoder::{BiEncoder, Side};
    use crate::error::EncoderError;
    use crate::host::HostEncoder;

    impl<E, I, Q> Inference for NdArray<E, I, Q>
    where
        E: FloatNdArrayElement,
        I: IntNdArrayElement,
        Q: QuantElement,
        NdArrayTensor: From<SharedArray<E>>,
        NdArrayTensor: From<SharedArray<I>>,
    {
        /// The host path on every core (`batch_size` and `device` do not apply).
        fn embed_texts(
            encoder: &BiEncoder<Self>,
            side: Side,
            texts: &[&str],
            _batch_size: usize,
            _device: &Self::Device,
            progress: &mut dyn FnMut(usize),
        ) -> Result<Vec<f32>, EncoderError> {
            HostEncoder::new(encoder).embed_texts(side, texts, 0, progress)
        }
    }
}

#[cfg(feature = "cube")]
mod cube {
    use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime, FloatElement, IntElement};
    use burn_fusion::{Fusion, FusionBackend};

    use super::Inference;
    use crate::ops::EncoderBackend;

    impl<R, F, I, BT> Inference for CubeBackend<R, F, I, BT>
    where
        R: CubeRuntime,
        F: FloatElement,
        I: IntElement,
        BT: BoolElement,
    {
    }

    impl<B: FusionBackend + EncoderBackend> Inference for Fusion<B> {}
}

#[cfg(feature = "flex")]
impl Inference for burn::backend::Flex {}

impl<B, C> Inference for burn::backend::Autodiff<B, C>
where
    B: Inference,
    C: burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy,
{
}
