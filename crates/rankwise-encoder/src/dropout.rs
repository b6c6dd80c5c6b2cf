//! Training-time dropout with masks that are a function of their key, not of a generator's
//! state.
//!
//! BERT drops (with `hidden_dropout_prob`) the embeddings and the output of every attention and
//! feed-forward block before its residual sum, and (with `attention_probs_dropout_prob`) the
//! attention probabilities. Each mask element here is a hash of (sequence key, site, element):
//! the caller gives every sequence a key (the trainer: seed, step, micro-batch, side and the
//! sequence's row in the global batch), so a sequence gets the same masks whichever chunk,
//! device or pass embeds it. GradCache's two passes, a one-pass step and a resumed run all see
//! the same masks without saving or restoring any generator.
//!
//! Kept elements are scaled by `1/(1 − p)` (inverted dropout, as PyTorch).

use burn::tensor::{Tensor, TensorData, backend::Backend};
use rayon::prelude::*;

/// The dropout of one forward pass over a batch of sequences.
#[derive(Debug, Clone, PartialEq)]
pub struct Dropout {
    /// Probability of dropping an element of the embeddings and block outputs.
    pub hidden: f32,
    /// Probability of dropping an attention probability.
    pub attention: f32,
    /// One key per sequence of the batch, in row order.
    pub keys: Vec<u64>,
}

/// Where in the network a mask is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Site {
    /// After the embeddings' LayerNorm.
    Embeddings,
    /// Attention probabilities of a layer.
    AttentionProbs(usize),
    /// The attention block's output projection of a layer.
    AttentionOutput(usize),
    /// The feed-forward block's output projection of a layer.
    FeedForwardOutput(usize),
}

impl Site {
    fn id(self) -> u64 {
        match self {
            Site::Embeddings => 0,
            Site::AttentionProbs(l) => 1 + 3 * l as u64,
            Site::AttentionOutput(l) => 2 + 3 * l as u64,
            Site::FeedForwardOutput(l) => 3 + 3 * l as u64,
        }
    }
}

/// SplitMix64's finaliser: a bijective 64-bit mix.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A key derived from a parent key and a value (for seeds, steps, rows, …).
pub fn derive(key: u64, value: u64) -> u64 {
    mix(mix(key) ^ value)
}

/// `1/(1 − p)` for kept elements and 0 for dropped ones, `per_sequence` elements for each key.
pub fn mask_values(keys: &[u64], site: Site, per_sequence: usize, p: f32) -> Vec<f32> {
    let mut out = vec![0.0f32; keys.len() * per_sequence];
    if per_sequence == 0 {
        return out;
    }
    let keep = 1.0 / (1.0 - p);
    // Drop when the element's 24-bit uniform falls below p.
    let threshold = (f64::from(p) * f64::from(1u32 << 24)).round() as u64;
    out.par_chunks_mut(per_sequence)
        .zip(keys.par_iter())
        .for_each(|(row, &key)| {
            let base = derive(key, site.id());
            for (j, v) in row.iter_mut().enumerate() {
                let u = mix(base.wrapping_add(j as u64)) >> 40;
                *v = if u < threshold { 0.0 } else { keep };
            }
        });
    out
}

impl Dropout {
    /// The hidden-state mask of `site` for token rows `[batch·len, width]`, or `None` when
    /// nothing is dropped.
    pub fn hidden_mask<B: Backend>(
        &self,
        site: Site,
        len: usize,
        width: usize,
        device: &B::Device,
    ) -> Option<Tensor<B, 2>> {
        self.mask(site, self.hidden, [self.keys.len() * len, width], device)
    }

    /// The attention-probability mask of `layer` (`[batch, heads, len, len]`), or `None`.
    pub fn attention_mask<B: Backend>(
        &self,
        layer: usize,
        heads: usize,
        len: usize,
        device: &B::Device,
    ) -> Option<Tensor<B, 4>> {
        let shape = [self.keys.len(), heads, len, len];
        self.mask(Site::AttentionProbs(layer), self.attention, shape, device)
    }

    /// The mask of `site` at probability `p` as a tensor of `shape` (sequences first), or
    /// `None` when `p` is 0.
    fn mask<B: Backend, const D: usize>(
        &self,
        site: Site,
        p: f32,
        shape: [usize; D],
        device: &B::Device,
    ) -> Option<Tensor<B, D>> {
        (p > 0.0).then(|| {
            let per_sequence = shape.iter().product::<usize>() / self.keys.len().max(1);
            let values = mask_values(&self.keys, site, per_sequence, p);
            Tensor::from_data(TensorData::new(values, shape), device)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_drop_at_the_rate_and_scale_the_rest() {
        let keys: Vec<u64> = (0..8).collect();
        let m = mask_values(&keys, Site::AttentionOutput(1), 10_000, 0.1);
        let dropped = m.iter().filter(|v| **v == 0.0).count() as f64 / m.len() as f64;
        assert!((dropped - 0.1).abs() < 0.005, "dropped {dropped}");
        assert!(m.iter().all(|v| *v == 0.0 || (*v - 1.0 / 0.9).abs() < 1e-6));
    }

    #[test]
    fn masks_depend_on_key_and_site_only() {
        let a = mask_values(&[5, 9], Site::Embeddings, 64, 0.5);
        let b = mask_values(&[9], Site::Embeddings, 64, 0.5);
        assert_eq!(
            a[64..],
            b[..],
            "a sequence's mask does not depend on its batch"
        );
        let c = mask_values(&[9], Site::FeedForwardOutput(0), 64, 0.5);
        assert_ne!(b, c, "sites differ");
        assert!(
            mask_values(&[9], Site::Embeddings, 64, 0.0)
                .iter()
                .all(|v| *v == 1.0)
        );
    }
}
