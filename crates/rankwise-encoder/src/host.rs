//! Fast CPU inference: the forward pass of [`crate::bert`] on host `f32` buffers.
//!
//! The Burn model is generic and differentiable; for embedding a corpus on the CPU that
//! generality costs most of the time (a separate pass and allocation per elementwise op,
//! padded batches). [`HostEncoder`] copies the weights once and runs each sequence on its own
//! thread over its real tokens only (no padding, no mask), with:
//!
//! * one `sgemm` (the `gemm` crate) per projection, Q/K/V fused into one `[h, 3h]` product,
//!   attention heads read in place through strides;
//! * fused epilogues: bias + residual + LayerNorm, bias + GELU, and a row softmax, with a
//!   vectorisable `exp` (AVX2/FMA selected at run time where the CPU has them).
//!
//! It computes what [`BiEncoder::forward`] computes (tested against the same Hugging Face
//! fixtures, 1e-4 absolute) and is what `experiments evaluate` uses on the CPU backend.

use std::sync::atomic::{AtomicUsize, Ordering};

use burn::module::Param;
use burn::nn::{LayerNorm, Linear};
use burn::tensor::{Tensor, backend::Backend};

use crate::bert::Bert;
use crate::biencoder::{BiEncoder, Side};
use crate::error::EncoderError;
use crate::kernels::{Norm, sgemm, simd};
use crate::pooling::Pooling;
use crate::tokenize::TokenBatch;

fn values<B: Backend, const D: usize>(t: &Tensor<B, D>) -> Vec<f32> {
    t.to_data()
        .convert::<f32>()
        .into_vec::<f32>()
        .expect("f32 weights")
}

fn param<B: Backend, const D: usize>(p: &Param<Tensor<B, D>>) -> Vec<f32> {
    values(&p.val())
}

/// A dense layer, `y = x·W + b` with `W` row-major `[inputs, outputs]` (Burn's layout).
#[derive(Debug, Clone)]
struct Dense {
    inputs: usize,
    outputs: usize,
    weight: Vec<f32>,
    bias: Vec<f32>,
}

impl Dense {
    fn from_linear<B: Backend>(l: &Linear<B>) -> Self {
        let [inputs, outputs] = l.weight.val().dims();
        let bias = match &l.bias {
            Some(b) => param(b),
            None => vec![0.0; outputs],
        };
        Self {
            inputs,
            outputs,
            weight: param(&l.weight),
            bias,
        }
    }

    /// Columns of several layers side by side (the fused Q/K/V projection).
    fn concat(parts: &[Dense]) -> Self {
        let inputs = parts[0].inputs;
        let outputs = parts.iter().map(|p| p.outputs).sum();
        let mut weight = Vec::with_capacity(inputs * outputs);
        for r in 0..inputs {
            for p in parts {
                weight.extend_from_slice(&p.weight[r * p.outputs..(r + 1) * p.outputs]);
            }
        }
        let bias = parts.iter().flat_map(|p| p.bias.iter().copied()).collect();
        Self {
            inputs,
            outputs,
            weight,
            bias,
        }
    }

    /// `out[rows, outputs] = x[rows, inputs]·W` (bias not added).
    fn matmul(&self, x: &[f32], rows: usize, out: &mut [f32]) {
        sgemm(
            rows,
            self.inputs,
            self.outputs,
            1.0,
            (x, self.inputs as isize, 1),
            (&self.weight, self.outputs as isize, 1),
            (out, self.outputs as isize, 1),
        );
    }
}

impl Norm {
    fn from_layer_norm<B: Backend>(n: &LayerNorm<B>, eps: f64) -> Self {
        Self {
            gamma: param(&n.gamma),
            beta: n.beta.as_ref().map(param).unwrap_or_default(),
            eps: eps as f32,
        }
    }
}

#[derive(Debug, Clone)]
struct Layer {
    qkv: Dense,
    attention_out: Dense,
    attention_norm: Norm,
    intermediate: Dense,
    output: Dense,
    output_norm: Norm,
}

/// One BERT tower on the host.
#[derive(Debug, Clone)]
struct HostBert {
    hidden: usize,
    heads: usize,
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    embedding_norm: Norm,
    layers: Vec<Layer>,
}

impl HostBert {
    fn from_bert<B: Backend>(bert: &Bert<B>, eps: f64) -> Self {
        let e = &bert.embeddings;
        let [_, hidden] = e.word.weight.val().dims();
        let layers = bert
            .layers
            .iter()
            .map(|l| {
                let a = &l.attention;
                Layer {
                    qkv: Dense::concat(&[
                        Dense::from_linear(&a.query),
                        Dense::from_linear(&a.key),
                        Dense::from_linear(&a.value),
                    ]),
                    attention_out: Dense::from_linear(&a.output),
                    attention_norm: Norm::from_layer_norm(&a.norm, eps),
                    intermediate: Dense::from_linear(&l.intermediate),
                    output: Dense::from_linear(&l.output),
                    output_norm: Norm::from_layer_norm(&l.norm, eps),
                }
            })
            .collect();
        Self {
            hidden,
            heads: bert.layers.first().map_or(1, |l| l.attention.heads),
            word: param(&e.word.weight),
            position: param(&e.position.weight),
            token_type: param(&e.token_type.weight),
            embedding_norm: Norm::from_layer_norm(&e.norm, eps),
            layers,
        }
    }

    /// Last hidden states `[len, hidden]` of one unpadded sequence, into `scratch.x`.
    fn forward(&self, ids: &[i64], types: &[i64], s: &mut Scratch) {
        let (h, len) = (self.hidden, ids.len());
        s.reserve(
            len,
            h,
            self.layers.first().map_or(h, |l| l.intermediate.outputs),
        );
        let x = &mut s.x[..len * h];
        for (t, (&id, &ty)) in ids.iter().zip(types).enumerate() {
            let row = &mut x[t * h..(t + 1) * h];
            let (w, p, y) = (id as usize * h, t * h, ty as usize * h);
            for (k, v) in row.iter_mut().enumerate() {
                *v = self.word[w + k] + self.position[p + k] + self.token_type[y + k];
            }
        }
        let zero = vec![0.0; h];
        simd::bias_residual_norm(x, &zero, None, &self.embedding_norm, h);
        let heads = self.heads;
        let d = h / heads;
        let scale = 1.0 / (d as f32).sqrt();
        for layer in &self.layers {
            let three = 3 * h;
            layer
                .qkv
                .matmul(&s.x[..len * h], len, &mut s.qkv[..len * three]);
            simd::add_bias(&mut s.qkv[..len * three], &layer.qkv.bias);
            let qkv = &s.qkv[..len * three];
            let scores = &mut s.scores[..len * len];
            for head in 0..heads {
                let q = &qkv[head * d..];
                let k = &qkv[h + head * d..];
                let v = &qkv[2 * h + head * d..];
                // scores[len, len] = Q_h · K_hᵀ · scale
                sgemm(
                    len,
                    d,
                    len,
                    scale,
                    (q, three as isize, 1),
                    (k, 1, three as isize),
                    (&mut *scores, len as isize, 1),
                );
                for row in scores.chunks_exact_mut(len) {
                    simd::softmax(row);
                }
                // ctx[:, head] = P · V_h
                sgemm(
                    len,
                    len,
                    d,
                    1.0,
                    (&*scores, len as isize, 1),
                    (v, three as isize, 1),
                    (&mut s.ctx[head * d..len * h], h as isize, 1),
                );
            }
            let tmp = &mut s.tmp[..len * h];
            layer.attention_out.matmul(&s.ctx[..len * h], len, tmp);
            simd::bias_residual_norm(
                tmp,
                &layer.attention_out.bias,
                Some(&s.x[..len * h]),
                &layer.attention_norm,
                h,
            );
            let inter = &mut s.inter[..len * layer.intermediate.outputs];
            layer.intermediate.matmul(tmp, len, inter);
            simd::bias_gelu(inter, &layer.intermediate.bias);
            let x = &mut s.x[..len * h];
            layer.output.matmul(inter, len, x);
            simd::bias_residual_norm(x, &layer.output.bias, Some(tmp), &layer.output_norm, h);
        }
    }
}

/// Per-thread work buffers, grown to the longest sequence seen.
#[derive(Default)]
struct Scratch {
    x: Vec<f32>,
    qkv: Vec<f32>,
    scores: Vec<f32>,
    ctx: Vec<f32>,
    tmp: Vec<f32>,
    inter: Vec<f32>,
}

impl Scratch {
    fn reserve(&mut self, len: usize, h: usize, width: usize) {
        let grow = |v: &mut Vec<f32>, n: usize| {
            if v.len() < n {
                v.resize(n, 0.0);
            }
        };
        grow(&mut self.x, len * h);
        grow(&mut self.qkv, len * 3 * h);
        grow(&mut self.scores, len * len);
        grow(&mut self.ctx, len * h);
        grow(&mut self.tmp, len * h);
        grow(&mut self.inter, len * width);
    }
}

/// A [`BiEncoder`]'s towers copied to host memory for fast CPU inference; tokenisation,
/// prefixes, pooling and normalisation come from the encoder it was made from.
pub struct HostEncoder<'a, B: Backend> {
    encoder: &'a BiEncoder<B>,
    query: HostBert,
    passage: Option<HostBert>,
}

impl<B: Backend> std::fmt::Debug for HostEncoder<'_, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostEncoder")
            .field("layers", &self.query.layers.len())
            .field("hidden", &self.query.hidden)
            .field("separate_passage_tower", &self.passage.is_some())
            .finish()
    }
}

impl<'a, B: Backend> HostEncoder<'a, B> {
    /// Copies the encoder's current weights (any backend) to host memory.
    pub fn new(encoder: &'a BiEncoder<B>) -> Self {
        let eps = encoder.config.layer_norm_eps;
        Self {
            encoder,
            query: HostBert::from_bert(&encoder.model.query, eps),
            passage: encoder
                .model
                .passage
                .as_ref()
                .map(|p| HostBert::from_bert(p, eps)),
        }
    }

    fn tower(&self, side: Side) -> &HostBert {
        match (side, &self.passage) {
            (Side::Passage, Some(p)) => p,
            _ => &self.query,
        }
    }

    /// Last hidden states `[ids.len(), hidden]` of one unpadded sequence.
    pub fn last_hidden_state(&self, side: Side, ids: &[i64], token_types: &[i64]) -> Vec<f32> {
        let tower = self.tower(side);
        let mut scratch = Scratch::default();
        tower.forward(ids, token_types, &mut scratch);
        scratch.x[..ids.len() * tower.hidden].to_vec()
    }

    /// Pooled (and, when the encoder normalises, unit-length) embeddings of a tokenised batch,
    /// row-major `[batch.batch, hidden]`, using up to `workers` threads.
    pub fn embed_batch(&self, side: Side, batch: &TokenBatch, workers: usize) -> Vec<f32> {
        let rows: Vec<(&[i64], &[i64])> = (0..batch.batch)
            .map(|r| {
                let start = r * batch.len;
                let end = start + batch.lengths[r];
                (
                    &batch.input_ids[start..end],
                    &batch.token_type_ids[start..end],
                )
            })
            .collect();
        self.embed_rows(side, &rows, workers, &mut |_| {})
    }

    /// Embeddings of many texts in input order (`[texts.len(), hidden]`), one sequence per
    /// thread at a time on `workers` threads (0 = all cores); `progress` gets the number of
    /// texts finished since its last call.
    pub fn embed_texts(
        &self,
        side: Side,
        texts: &[&str],
        workers: usize,
        mut progress: impl FnMut(usize),
    ) -> Result<Vec<f32>, EncoderError> {
        let prefixed = self.encoder.with_prefix(side, texts);
        let refs: Vec<&str> = prefixed.iter().map(String::as_str).collect();
        let encodings = self.encoder.tokenizer(side).encodings(&refs)?;
        let ids: Vec<(Vec<i64>, Vec<i64>)> = encodings
            .iter()
            .map(|e| {
                (
                    e.get_ids().iter().map(|&i| i as i64).collect(),
                    e.get_type_ids().iter().map(|&i| i as i64).collect(),
                )
            })
            .collect();
        let rows: Vec<(&[i64], &[i64])> = ids
            .iter()
            .map(|(i, t)| (i.as_slice(), t.as_slice()))
            .collect();
        Ok(self.embed_rows(side, &rows, workers, &mut progress))
    }

    fn embed_rows(
        &self,
        side: Side,
        rows: &[(&[i64], &[i64])],
        workers: usize,
        progress: &mut dyn FnMut(usize),
    ) -> Vec<f32> {
        let tower = self.tower(side);
        let h = tower.hidden;
        let options = &self.encoder.options;
        let workers = match workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            w => w,
        }
        .min(rows.len())
        .max(1);
        // Longest first, so the slowest sequences do not end up last on one thread.
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(rows[i].0.len()));
        let mut out = vec![0f32; rows.len() * h];
        let next = AtomicUsize::new(0);
        let (tx, rx) = std::sync::mpsc::channel::<(usize, Vec<f32>)>();
        std::thread::scope(|scope| {
            for _ in 0..workers {
                let tx = tx.clone();
                let (next, order) = (&next, &order);
                scope.spawn(move || {
                    let mut scratch = Scratch::default();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= order.len() {
                            break;
                        }
                        let (ids, types) = rows[order[i]];
                        tower.forward(ids, types, &mut scratch);
                        let pooled = pool(
                            &scratch.x[..ids.len() * h],
                            h,
                            options.pooling,
                            options.normalize,
                        );
                        if tx.send((order[i], pooled)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(tx);
            for (i, v) in rx {
                out[i * h..(i + 1) * h].copy_from_slice(&v);
                progress(1);
            }
        });
        out
    }
}

/// Pools the hidden states `[len, h]` of one sequence as [`crate::pool`] does.
fn pool(hidden: &[f32], h: usize, pooling: Pooling, normalize: bool) -> Vec<f32> {
    let len = hidden.len() / h;
    let mut v = match pooling {
        Pooling::Mean => {
            let mut sum = vec![0f32; h];
            for row in hidden.chunks_exact(h) {
                for (s, x) in sum.iter_mut().zip(row) {
                    *s += x;
                }
            }
            let n = (len as f32).max(1e-9);
            sum.iter().map(|s| s / n).collect()
        }
        Pooling::Cls => hidden[..h].to_vec(),
        Pooling::Last => hidden[len.saturating_sub(1) * h..len.max(1) * h].to_vec(),
    };
    if normalize {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::simd;

    #[test]
    fn fast_exp_is_accurate() {
        let mut worst = 0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let got = simd::exp(x) as f64;
            let want = (x as f64).exp();
            worst = worst.max(((got - want) / want).abs());
            x += 0.0137;
        }
        assert!(worst < 5e-7, "worst relative error {worst}");
        assert_eq!(simd::exp(-100.0), 0.0);
        assert_eq!(simd::exp(f32::NEG_INFINITY), 0.0);
    }
}
