//! The fused WS2 CubeCL kernel: one launch computes the loss and `dL/dscores`.
//!
//! One cube (workgroup) does the whole batch — B ≤ [`launch::MAX_BATCH`] rows (larger batches take the host path), so the B×B spectral step
//! fits one cube. f32 throughout: instead of eigen-decomposing `M = AAᵀ` (which squares the
//! condition number and loses the tiny eigenvalues in f32), the kernel runs a parallel one-sided
//! Jacobi SVD of `A` itself, as the tests' host twin (`svd.rs`) does in f64.
//!
//! [`launch`] implements [`crate::Ws2Backend`] for `CubeBackend` (wgpu, cuda without fusion) and
//! [`fusion`] for `Fusion<CubeBackend>` (the default `Wgpu` and `Cuda` types of burn 0.21).

mod fusion;
mod launch;
mod ws2;
