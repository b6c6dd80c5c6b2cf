//! One optimiser step: the gradient of every micro-batch over its whole batch (on one device, in
//! chunks over several in turn, or as one peer's share summed over all peers), divided by the
//! accumulation, clipped by global norm, and applied by the optimiser.

use burn::module::Module;
use burn::optim::{GradientsAccumulator, GradientsParams, Optimizer};
use burn::tensor::ElementConversion;
use rankwise_encoder::{BiEncoderModel, EncoderOptions};

use crate::batch::TrainBatch;
use crate::clip::{clip_grad_norm_on_device, scale_grads};
use crate::collective::Peer;
use crate::error::TrainError;
use crate::loss::Objective;
use crate::step::{StepDropout, StepResult, batch_gradients, peer_gradients};

/// Everything one optimiser step needs besides the model, the optimiser and the data.
#[derive(Debug, Clone)]
pub struct StepSettings<'a, B: crate::TrainingBackend> {
    /// Encoder options (pooling, normalisation, precision).
    pub options: &'a EncoderOptions,
    /// The objective.
    pub objective: &'a Objective,
    /// Score every query against all passages of the batch.
    pub in_batch: bool,
    /// Devices; the first holds the master weights.
    pub devices: &'a [B::Device],
    /// GradCache chunk (queries embedded with a graph at a time; `0`: whole parts).
    pub chunk_size: usize,
    /// Micro-batches per step: every micro-batch's gradient is divided by it (also in a last
    /// step that has fewer, as the reference does).
    pub grad_accumulation: usize,
    /// Global-norm clipping threshold (`0`: off).
    pub max_grad_norm: f64,
    /// Hidden and attention dropout probabilities.
    pub dropout: (f64, f64),
    /// Seed of the dropout masks.
    pub seed: u64,
}

/// What one optimiser step measured.
#[derive(Debug, Clone, PartialEq)]
pub struct StepStats {
    /// Mean loss over the step's micro-batches.
    pub loss: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// Mean score spread of the micro-batches ([`crate::step::score_spread`]).
    pub score_spread: f64,
    /// Real tokens embedded.
    pub tokens: usize,
}

impl<B: crate::TrainingBackend> StepSettings<'_, B> {
    /// One optimiser step (0-based index `step`) on `micro_batches` at learning rate `lr`:
    /// the gradient of every micro-batch over its whole batch, their sum divided by
    /// `grad_accumulation`, global-norm clipping, and the optimiser's update.
    pub fn step<O: Optimizer<BiEncoderModel<B>, B>>(
        &self,
        model: BiEncoderModel<B>,
        optim: &mut O,
        step: u64,
        micro_batches: &[TrainBatch],
        lr: f64,
    ) -> Result<(BiEncoderModel<B>, StepStats), TrainError> {
        let replicas: Vec<BiEncoderModel<B>> = self
            .devices
            .iter()
            .enumerate()
            .map(|(i, d)| {
                if i == 0 {
                    model.clone()
                } else {
                    model.clone().fork(d)
                }
            })
            .collect();
        let gradients =
            |_: &BiEncoderModel<B>, batch: &TrainBatch, dropout: Option<&StepDropout>| {
                batch_gradients(
                    &replicas,
                    self.options,
                    batch,
                    self.objective,
                    self.in_batch,
                    self.devices,
                    self.chunk_size,
                    dropout,
                )
            };
        self.apply(model, optim, step, micro_batches, lr, gradients, |_, g| {
            Ok(g)
        })
    }

    /// [`StepSettings::step`] for one peer of a data-parallel run, on its device
    /// (`devices[0]`): its share of every micro-batch ([`peer_gradients`]), the gradients
    /// summed over all peers, then the same clipping and update as every other peer.
    pub fn peer_step<O: Optimizer<BiEncoderModel<B>, B>>(
        &self,
        peer: &Peer,
        model: BiEncoderModel<B>,
        optim: &mut O,
        step: u64,
        micro_batches: &[TrainBatch],
        lr: f64,
    ) -> Result<(BiEncoderModel<B>, StepStats), TrainError> {
        let gradients =
            |model: &BiEncoderModel<B>, batch: &TrainBatch, dropout: Option<&StepDropout>| {
                peer_gradients(
                    model,
                    self.options,
                    batch,
                    self.objective,
                    self.in_batch,
                    &self.devices[0],
                    peer,
                    self.chunk_size,
                    dropout,
                )
            };
        let sum = |model: &BiEncoderModel<B>, grads| peer.sum_gradients::<B, _>(model, grads);
        self.apply(model, optim, step, micro_batches, lr, gradients, sum)
    }

    /// The step around the gradients: every micro-batch's gradient (`gradients`), their sum
    /// (`reduce` adds other peers' when there are any) divided by `grad_accumulation`,
    /// global-norm clipping, and the optimiser's update.
    #[allow(clippy::too_many_arguments)]
    fn apply<O: Optimizer<BiEncoderModel<B>, B>>(
        &self,
        model: BiEncoderModel<B>,
        optim: &mut O,
        step: u64,
        micro_batches: &[TrainBatch],
        lr: f64,
        mut gradients: impl FnMut(
            &BiEncoderModel<B>,
            &TrainBatch,
            Option<&StepDropout>,
        ) -> Result<StepResult, TrainError>,
        reduce: impl FnOnce(&BiEncoderModel<B>, GradientsParams) -> Result<GradientsParams, TrainError>,
    ) -> Result<(BiEncoderModel<B>, StepStats), TrainError> {
        let mut accumulator = GradientsAccumulator::<BiEncoderModel<B>>::new();
        let mut loss_sum = 0.0;
        let mut spread_sum = 0.0;
        let mut tokens = 0;
        for (micro, batch) in micro_batches.iter().enumerate() {
            tokens += batch.tokens();
            let dropout = StepDropout::new(self.dropout.0, self.dropout.1, self.seed, step, micro);
            let r = gradients(&model, batch, dropout.as_ref())?;
            if !r.loss.is_finite() {
                return Err(TrainError::NonFinite {
                    step: step + 1,
                    loss: r.loss,
                    last_checkpoint: None,
                });
            }
            loss_sum += r.loss;
            spread_sum += r.score_spread;
            accumulator.accumulate(&model, r.grads);
        }
        let mut grads = reduce(&model, accumulator.grads())?;
        if self.grad_accumulation > 1 {
            scale_grads::<B, _>(&model, &mut grads, 1.0 / self.grad_accumulation as f64);
        }
        let norm = clip_grad_norm_on_device::<B, _>(&model, &mut grads, self.max_grad_norm);
        let model = optim.step(lr, model, grads);
        // Read once the whole step is queued: the device is not stalled mid-step.
        let grad_norm = norm.map_or(0.0, |n| n.into_scalar().elem::<f64>());
        Ok((
            model,
            StepStats {
                loss: loss_sum / micro_batches.len().max(1) as f64,
                grad_norm,
                score_spread: spread_sum / micro_batches.len().max(1) as f64,
                tokens,
            },
        ))
    }
}
