//! List-wise ranking losses for Burn.
//!
//! * [`WassersteinLoss`] — WS2, the squared 2-Wasserstein (Fréchet) distance between Gaussians
//!   fitted to the batch of predicted and target relevance distributions (SyCL). On CubeCL
//!   backends (wgpu, cuda) it runs one fused kernel for forward and backward (feature `kernel`);
//!   on CPU backends an f64 host path.
//! * Baselines with the same calling convention ([`baselines`]): InfoNCE on binary labels,
//!   ListNet (softmax cross-entropy) and RankNet (graded pairwise).
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
//! let config = WassersteinLossConfig::new().with_in_batch(false); // scores are [B, n]
//! let loss = WassersteinLoss::new(config).forward(scores.clone(), labels).unwrap();
//! let grads = loss.backward();
//! assert!(scores.grad(&grads).is_some());
//! ```

pub mod baselines;
mod cpu;
pub mod eigh;
pub mod error;
pub mod labels;
pub mod svd;
pub mod ws2;

#[cfg(feature = "kernel")]
pub mod kernel;

pub use baselines::{InfoNceConfig, ListNetConfig, RankNetConfig};
pub use error::LossError;
pub use ws2::{WassersteinLoss, WassersteinLossConfig, Ws2Backend, Ws2Params};
