//! List-wise ranking losses for Burn.
//!
//! * [`WassersteinLoss`] — WS2, the squared 2-Wasserstein (Fréchet) distance between Gaussians
//!   fitted to the batch of predicted and target relevance distributions (SyCL). On CubeCL
//!   backends (wgpu, cuda) it runs one fused kernel for forward and backward (feature `kernel`);
//!   on CPU backends an f64 host path.
//! * Baselines with the same calling convention ([`baselines`]): InfoNCE on binary labels,
//!   ListNet (softmax cross-entropy) and RankNet (graded pairwise), each a mean.
//!
//! Every loss follows Burn's `nn::loss` shape: `XConfig::new()` (with `with_*` setters) →
//! `init()` → `X`, then `forward(scores [B, m], labels [B, n]) → Tensor<B, 1>`, where `m = n`, or
//! `m = B·n` with in-batch negatives. Errors come only from invalid settings (`init`) or invalid
//! input (`forward`: shapes, non-finite scores, a row without a positive).
//!
//! Backends: the crate has no default backend feature. `ndarray` implements [`Ws2Backend`] for
//! Burn's CPU backend (the f64 host path), `wgpu`/`cuda` for CubeCL's (the fused kernel); any
//! other backend can use [`WassersteinLoss::forward_any`] or implement [`Ws2Backend`] with its
//! default body.
//!
//! The crate depends only on Burn (and CubeCL for the kernel), so it can be imported into any
//! Burn model:
//!
//! ```
//! use burn::backend::{Autodiff, NdArray};
//! use burn::tensor::{Int, Tensor};
//! use rankwise_loss::{WassersteinLoss, WassersteinLossConfig};
//!
//! type B = Autodiff<NdArray>;
//! let device = Default::default();
//! let scores = Tensor::<B, 2>::from_floats([[2.0, 1.0, 0.5, 0.1], [0.3, 1.5, 0.2, 0.9]], &device)
//!     .require_grad();
//! let labels = Tensor::<B, 2, Int>::from_ints([[3, 2, 1, 0], [0, 3, 1, 2]], &device);
//! let ws2 = WassersteinLossConfig::new().with_in_batch(false).init().unwrap(); // scores [B, n]
//! let loss = ws2.forward(scores.clone(), labels).unwrap(); // [1]: the batch's WS2 (a sum)
//! let grads = loss.backward();
//! assert!(scores.grad(&grads).is_some());
//! ```

pub mod baselines;
mod cpu;
mod eigh;
pub mod error;
mod labels;
#[cfg(test)]
mod svd;
pub mod ws2;

#[cfg(feature = "kernel")]
mod kernel;

pub use baselines::{InfoNce, InfoNceConfig, ListNet, ListNetConfig, RankNet, RankNetConfig};
pub use error::LossError;
pub use ws2::{WassersteinLoss, WassersteinLossConfig, Ws2Backend, Ws2Params};
