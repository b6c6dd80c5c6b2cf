//! Global gradient-norm clipping (PyTorch's `clip_grad_norm_`): one L2 norm over every
//! parameter's gradient, and one scale for all. Burn's optimizer-level clipping works per
//! parameter tensor, which is a different rule.

use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{ElementConversion, Tensor};

struct SquaredNorm<'a, B: AutodiffBackend> {
    grads: &'a GradientsParams,
    sum: Option<Tensor<B::InnerBackend, 1>>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for SquaredNorm<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
            let part = g.powi_scalar(2).sum();
            self.sum = Some(match self.sum.take() {
                Some(sum) => sum + part,
                None => part,
            });
        }
    }
}

struct Scale<'a, B: AutodiffBackend> {
    grads: &'a mut GradientsParams,
    factor: Tensor<B::InnerBackend, 1>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Scale<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.remove::<B::InnerBackend, D>(param.id) {
            let factor = self.factor.clone().unsqueeze::<D>();
            self.grads.register(param.id, g.mul(factor));
        }
    }
}

/// Global L2 norm of the gradients of `model`'s parameters, as a `[1]` tensor on the device
/// (nothing is read back; `None` when no parameter has a gradient).
pub fn grad_norm_tensor<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    grads: &GradientsParams,
) -> Option<Tensor<B::InnerBackend, 1>> {
    let mut v = SquaredNorm::<B> { grads, sum: None };
    model.visit(&mut v);
    v.sum.map(Tensor::sqrt)
}

/// Global L2 norm of the gradients of `model`'s parameters (one read from the device).
pub fn grad_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    grads: &GradientsParams,
) -> f64 {
    grad_norm_tensor::<B, M>(model, grads).map_or(0.0, |n| n.into_scalar().elem::<f64>())
}

/// Multiplies every gradient by `factor`.
pub fn scale_grads<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    grads: &mut GradientsParams,
    factor: f64,
) {
    let Some(device) = first_device::<B, M>(model) else {
        return;
    };
    let factor = Tensor::<B::InnerBackend, 1>::from_floats([factor as f32], &device);
    model.visit(&mut Scale::<B> { grads, factor });
}

fn first_device<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
) -> Option<burn::tensor::Device<B>> {
    model.devices().into_iter().next()
}

/// Clips to `max_norm` as PyTorch's `clip_grad_norm_` does, on the device: every gradient is
/// multiplied by `min(1, max_norm / (norm + 1e-6))` (`max_norm` 0: no clipping). Returns the
/// norm before clipping as a `[1]` device tensor, so a training step needs no read-back for it.
pub fn clip_grad_norm_on_device<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    grads: &mut GradientsParams,
    max_norm: f64,
) -> Option<Tensor<B::InnerBackend, 1>> {
    let norm = grad_norm_tensor::<B, M>(model, grads)?;
    if max_norm > 0.0 {
        let factor = norm
            .clone()
            .add_scalar(1e-6)
            .recip()
            .mul_scalar(max_norm)
            .clamp_max(1.0);
        model.visit(&mut Scale::<B> { grads, factor });
    }
    Some(norm)
}

/// [`clip_grad_norm_on_device`], returning the norm before clipping (one read from the device).
pub fn clip_grad_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    grads: &mut GradientsParams,
    max_norm: f64,
) -> f64 {
    clip_grad_norm_on_device::<B, M>(model, grads, max_norm)
        .map_or(0.0, |n| n.into_scalar().elem::<f64>())
}
