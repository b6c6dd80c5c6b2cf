//! The one place that maps the enabled cargo feature to a Burn backend.
//!
//! Precedence when several backend features are enabled (the CPU default stays on unless
//! `--no-default-features` is given): `cuda` > `wgpu` > `ndarray`.

/// Inference backend selected at compile time.
#[cfg(feature = "cuda")]
pub type Backend = burn::backend::Cuda;
/// Inference backend selected at compile time.
#[cfg(all(feature = "wgpu", not(feature = "cuda")))]
pub type Backend = burn::backend::Wgpu;
/// Inference backend selected at compile time.
#[cfg(all(feature = "ndarray", not(any(feature = "wgpu", feature = "cuda"))))]
pub type Backend = burn::backend::NdArray;

#[cfg(not(any(feature = "ndarray", feature = "wgpu", feature = "cuda")))]
compile_error!("enable one backend feature: `ndarray` (default, CPU), `wgpu` or `cuda`");

/// Device type of the selected backend.
pub type Device = burn::tensor::Device<Backend>;

/// Name of the selected backend, for logs and result files.
pub const NAME: &str = if cfg!(feature = "cuda") {
    "cuda"
} else if cfg!(feature = "wgpu") {
    "wgpu"
} else {
    "ndarray"
};

/// The default device of the selected backend.
pub fn device() -> Device {
    Device::default()
}

/// Training backend: the selected backend with automatic differentiation.
pub type TrainBackend = burn::backend::Autodiff<Backend>;

/// `n` devices of the selected backend. CPU: `n` replicas on the host (the global batch is
/// split between them exactly as between GPUs); CUDA: GPUs `0..n`; wgpu: discrete GPUs `0..n`.
pub fn devices(n: usize) -> Vec<Device> {
    (0..n.max(1)).map(nth_device).collect()
}

#[cfg(feature = "cuda")]
fn nth_device(i: usize) -> Device {
    burn::backend::cuda::CudaDevice { index: i }
}

#[cfg(all(feature = "wgpu", not(feature = "cuda")))]
fn nth_device(i: usize) -> Device {
    if i == 0 {
        Device::default()
    } else {
        burn::backend::wgpu::WgpuDevice::DiscreteGpu(i)
    }
}

#[cfg(not(any(feature = "wgpu", feature = "cuda")))]
fn nth_device(_: usize) -> Device {
    Device::default()
}
