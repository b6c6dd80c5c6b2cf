//! The precision of the projections' matrix products (a run setting).

use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

/// Precision of the projections' matrix products.
///
/// `F16`/`Bf16` cast each projection's input, weight and bias to half precision for the
/// product and the result back to `f32`; attention, GELU, LayerNorm, pooling and the loss stay
/// `f32`, and so do the weights the optimiser updates (their gradients come back through the
/// casts in `f32`). Only backends that run half precision take it: check with
/// [`Precision::supported`] (NdArray does not; wgpu and cuda do where the device does).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// Everything in `f32`.
    #[default]
    F32,
    /// IEEE half precision products.
    F16,
    /// bfloat16 products.
    Bf16,
}

impl Precision {
    /// The dtype the products are cast to (`None` for `f32`: no casts).
    pub fn compute_dtype(self) -> Option<burn::tensor::DType> {
        match self {
            Precision::F32 => None,
            Precision::F16 => Some(burn::tensor::DType::F16),
            Precision::Bf16 => Some(burn::tensor::DType::BF16),
        }
    }

    /// Whether backend `B` runs this precision on `device`.
    pub fn supported<B: Backend>(self, device: &B::Device) -> bool {
        self.compute_dtype()
            .is_none_or(|dtype| B::supports_dtype(device, dtype))
    }
}
