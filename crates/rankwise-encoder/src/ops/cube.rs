//! [`EncoderBackend`] for the CubeCL backends (wgpu, cuda), with and without fusion: the
//! composed defaults, which these backends fuse and run on the device.

use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime, FloatElement, IntElement};
use burn_fusion::{Fusion, FusionBackend};

use super::EncoderBackend;

impl<R, F, I, BT> EncoderBackend for CubeBackend<R, F, I, BT>
where
    R: CubeRuntime,
    F: FloatElement,
    I: IntElement,
    BT: BoolElement,
{
}

impl<B: FusionBackend + EncoderBackend> EncoderBackend for Fusion<B> {}
