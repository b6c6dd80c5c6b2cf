//! One micro-batch: embeddings, in-batch scores, the loss over the whole batch, and the
//! gradient for the model.
//!
//! With one device and no chunking the graph is built in one pass. Otherwise the step is
//! GradCache (Gao et al., 2021): pass 1 embeds every chunk without a graph (chunks may sit on
//! different devices), the loss and its gradient with respect to the gathered embeddings are
//! computed once over the global batch, and pass 2 re-embeds each chunk with a graph and
//! back-propagates `⟨embeddings, ∂loss/∂embeddings⟩`. The gradient is the same as the one-pass
//! gradient on the concatenated batch; memory is bounded by one chunk's graph. A peer of a
//! data-parallel run does the same for its share of the batch ([`peer_gradients`]), the
//! embeddings gathered from every peer through Burn's collective.
//!
//! Dropout masks are keyed by (seed, step, micro-batch, side, row of the global batch), so both
//! passes of a chunk, and any split of the batch into chunks or devices, use the same masks.

use std::ops::Range;

use crate::batch::TrainBatch;
use burn::module::AutodiffModule;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::{ElementConversion, Int, Tensor, TensorData};
use rankwise_encoder::dropout::derive;
use rankwise_encoder::{BiEncoder, BiEncoderModel, Dropout, EncoderOptions, Side, TokenBatch};

use crate::collective::Peer;
use crate::error::TrainError;
use crate::loss::Objective;

/// Loss value and model gradient of one micro-batch.
pub struct StepResult {
    /// The loss (a host value).
    pub loss: f64,
    /// Mean over queries of the standard deviation of each query's scores (before the
    /// temperature): how far apart the model still places passages ([`score_spread`]).
    pub score_spread: f64,
    /// Gradients on the first device.
    pub grads: GradientsParams,
}

/// The dropout of one micro-batch: its probabilities and its key.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepDropout {
    /// Hidden dropout probability.
    pub hidden: f32,
    /// Attention-probability dropout probability.
    pub attention: f32,
    /// Key of the micro-batch (every sequence's key derives from it).
    pub key: u64,
}

impl StepDropout {
    /// The dropout of micro-batch `micro` of optimiser step `step` in a run seeded with `seed`;
    /// `None` when both probabilities are 0.
    pub fn new(hidden: f64, attention: f64, seed: u64, step: u64, micro: usize) -> Option<Self> {
        (hidden > 0.0 || attention > 0.0).then(|| Self {
            hidden: hidden as f32,
            attention: attention as f32,
            key: derive(derive(derive(0x5EED_D209, seed), step), micro as u64),
        })
    }

    /// The masks of rows `rows` (of the global batch) on one side.
    pub fn rows(&self, side: Side, rows: Range<usize>) -> Dropout {
        let side_key = derive(
            self.key,
            match side {
                Side::Query => 1,
                Side::Passage => 2,
            },
        );
        Dropout {
            hidden: self.hidden,
            attention: self.attention,
            keys: rows.map(|r| derive(side_key, r as u64)).collect(),
        }
    }
}

/// Embeddings of rows `q_rows` of the queries and their passages, with their dropout (with or
/// without a graph: `E` is the autodiff backend or its inner one).
fn embed<E: rankwise_encoder::EncoderBackend>(
    model: &BiEncoderModel<E>,
    options: &EncoderOptions,
    batch: &TrainBatch,
    q_rows: Range<usize>,
    dropout: Option<&StepDropout>,
    device: &E::Device,
) -> (Tensor<E, 2>, Tensor<E, 2>) {
    let g = batch.group_size;
    let p_rows = q_rows.start * g..q_rows.end * g;
    let qt = slice_tokens(&batch.queries, q_rows.clone());
    let pt = slice_tokens(&batch.passages, p_rows.clone());
    let qd = dropout.map(|d| d.rows(Side::Query, q_rows));
    let pd = dropout.map(|d| d.rows(Side::Passage, p_rows));
    (
        BiEncoder::forward_dropout(model, options, Side::Query, &qt, device, qd.as_ref()),
        BiEncoder::forward_dropout(model, options, Side::Passage, &pt, device, pd.as_ref()),
    )
}

/// Rows `rows` of a token batch (padding length kept, so every chunking sees the same
/// inputs).
pub fn slice_tokens(t: &TokenBatch, rows: Range<usize>) -> TokenBatch {
    let r = rows.start * t.len..rows.end * t.len;
    TokenBatch {
        batch: rows.len(),
        len: t.len,
        input_ids: t.input_ids[r.clone()].to_vec(),
        token_type_ids: t.token_type_ids[r.clone()].to_vec(),
        attention_mask: t.attention_mask[r].to_vec(),
        lengths: t.lengths[rows].to_vec(),
    }
}

/// Scores of queries `[B, h]` against passages `[B·g, h]`: all of them (`[B, B·g]`, in-batch
/// negatives) or each query's own group (`[B, g]`).
pub fn scores<B: burn::tensor::backend::Backend>(
    q: Tensor<B, 2>,
    p: Tensor<B, 2>,
    group: usize,
    in_batch: bool,
) -> Tensor<B, 2> {
    if in_batch {
        return q.matmul(p.transpose());
    }
    let [b, h] = q.dims();
    let p = p.reshape([b, group, h]);
    (q.reshape([b, 1, h]) * p).sum_dim(2).reshape([b, group])
}

/// Mean over rows of the standard deviation of each row of `scores` (no gradient). A list-wise
/// loss whose target is nearly flat over the in-batch passages (WS2 with `softmax(labels)` at a
/// low temperature on unit-norm embeddings) can be met by squeezing every score into a narrow
/// band; this number falling far below its starting value is the sign.
pub fn score_spread<B: burn::tensor::backend::AutodiffBackend>(scores: &Tensor<B, 2>) -> f64 {
    score_spread_tensor(scores).into_scalar().elem::<f64>()
}

/// [`score_spread`] as a `[1]` tensor on the scores' device (nothing read back).
pub fn score_spread_tensor<B: burn::tensor::backend::AutodiffBackend>(
    scores: &Tensor<B, 2>,
) -> Tensor<B::InnerBackend, 1> {
    scores.clone().inner().var(1).sqrt().mean()
}

/// Loss and score spread in one read from the device (a single synchronisation per step).
fn read_loss_and_spread<B: burn::tensor::backend::AutodiffBackend>(
    loss: &Tensor<B, 1>,
    spread: Tensor<B::InnerBackend, 1>,
) -> (f64, f64) {
    let both = Tensor::cat(vec![loss.clone().inner().reshape([1]), spread], 0);
    let values = both
        .into_data()
        .convert::<f64>()
        .into_vec::<f64>()
        .expect("float values");
    (values[0], values[1])
}

fn labels<B: burn::tensor::backend::Backend>(
    batch: &TrainBatch,
    device: &B::Device,
) -> Tensor<B, 2, Int> {
    Tensor::from_data(
        TensorData::new(batch.labels.clone(), [batch.len(), batch.group_size]),
        device,
    )
}

/// Splits `n` queries over `devices` contiguous parts, each cut into chunks of `chunk` queries
/// (`0`: whole parts). Returns (device index, query rows).
pub fn plan(n: usize, devices: usize, chunk: usize) -> Vec<(usize, Range<usize>)> {
    let devices = devices.max(1).min(n.max(1));
    let mut out = Vec::new();
    let mut start = 0;
    for d in 0..devices {
        let size = n / devices + usize::from(d < n % devices);
        let end = start + size;
        let step = if chunk == 0 { size.max(1) } else { chunk };
        let mut a = start;
        while a < end {
            let b = (a + step).min(end);
            out.push((d, a..b));
            a = b;
        }
        start = end;
    }
    out
}

/// Computes the loss of `batch` over the whole batch and the gradient of the model.
/// `replicas[d]` is the model on `devices[d]` (`replicas[0]` is the master).
#[allow(clippy::too_many_arguments)]
pub fn batch_gradients<B: crate::TrainingBackend>(
    replicas: &[BiEncoderModel<B>],
    options: &EncoderOptions,
    batch: &TrainBatch,
    objective: &Objective,
    in_batch: bool,
    devices: &[B::Device],
    chunk: usize,
    dropout: Option<&StepDropout>,
) -> Result<StepResult, TrainError> {
    let g = batch.group_size;
    let parts = plan(batch.len(), devices.len(), chunk);
    let main = &devices[0];
    if parts.len() == 1 {
        let model = &replicas[0];
        let (q, p) = embed(model, options, batch, 0..batch.len(), dropout, main);
        let s = scores(q, p, g, in_batch);
        let spread = score_spread_tensor(&s);
        let loss = objective.forward(s, labels(batch, main))?;
        let backward = loss.backward();
        let (value, score_spread) = read_loss_and_spread(&loss, spread);
        let grads = GradientsParams::from_grads(backward, model);
        return Ok(StepResult {
            loss: value,
            score_spread,
            grads,
        });
    }
    // Pass 1: embeddings without a graph, gathered on the first device.
    let mut q_parts = Vec::new();
    let mut p_parts = Vec::new();
    for (d, rows) in &parts {
        let inner = replicas[*d].valid();
        let dev = &devices[*d];
        let (q, p) = embed(&inner, options, batch, rows.clone(), dropout, dev);
        q_parts.push(q.to_device(main));
        p_parts.push(p.to_device(main));
    }
    let cached = embedding_gradients::<B>(
        Tensor::cat(q_parts, 0),
        Tensor::cat(p_parts, 0),
        batch,
        objective,
        in_batch,
        main,
    )?;
    // Pass 2: per chunk, back-propagate the cached embedding gradients.
    let mut acc = GradientsAccumulator::<BiEncoderModel<B>>::new();
    for (d, rows) in &parts {
        let model = &replicas[*d];
        let dev = &devices[*d];
        let chunk_grads = backpropagate(model, options, batch, rows.clone(), dropout, &cached, dev);
        acc.accumulate(&replicas[0], chunk_grads.to_device(main, model));
    }
    Ok(StepResult {
        loss: cached.loss,
        score_spread: cached.score_spread,
        grads: acc.grads(),
    })
}

/// The loss over the whole batch and its gradient with respect to every embedding (GradCache's
/// cache), computed on `device` from the gathered embeddings.
struct EmbeddingGradients<B: burn::tensor::backend::AutodiffBackend> {
    loss: f64,
    score_spread: f64,
    queries: Tensor<B::InnerBackend, 2>,
    passages: Tensor<B::InnerBackend, 2>,
}

fn embedding_gradients<B: crate::TrainingBackend>(
    q_all: Tensor<B::InnerBackend, 2>,
    p_all: Tensor<B::InnerBackend, 2>,
    batch: &TrainBatch,
    objective: &Objective,
    in_batch: bool,
    device: &B::Device,
) -> Result<EmbeddingGradients<B>, TrainError> {
    let q_all = Tensor::<B, 2>::from_inner(q_all).require_grad();
    let p_all = Tensor::<B, 2>::from_inner(p_all).require_grad();
    let s = scores(q_all.clone(), p_all.clone(), batch.group_size, in_batch);
    let spread = score_spread_tensor(&s);
    let loss = objective.forward(s, labels(batch, device))?;
    let grads = loss.backward();
    let (loss, score_spread) = read_loss_and_spread(&loss, spread);
    Ok(EmbeddingGradients {
        loss,
        score_spread,
        queries: q_all.grad(&grads).expect("queries take part in the loss"),
        passages: p_all.grad(&grads).expect("passages take part in the loss"),
    })
}

/// GradCache's pass 2 for query rows `rows`: re-embeds them (and their passages) with a graph on
/// `device` and back-propagates `⟨embeddings, ∂loss/∂embeddings⟩`.
fn backpropagate<B: crate::TrainingBackend>(
    model: &BiEncoderModel<B>,
    options: &EncoderOptions,
    batch: &TrainBatch,
    rows: Range<usize>,
    dropout: Option<&StepDropout>,
    cached: &EmbeddingGradients<B>,
    device: &B::Device,
) -> GradientsParams {
    let g = batch.group_size;
    let (q, p) = embed(model, options, batch, rows.clone(), dropout, device);
    let gq =
        Tensor::<B, 2>::from_inner(cached.queries.clone().slice(rows.clone()).to_device(device));
    let gp = Tensor::<B, 2>::from_inner(
        cached
            .passages
            .clone()
            .slice(rows.start * g..rows.end * g)
            .to_device(device),
    );
    let surrogate = (q * gq).sum() + (p * gp).sum();
    GradientsParams::from_grads(surrogate.backward(), model)
}

/// [`batch_gradients`] for one peer of a data-parallel run ([`Peer`]): this peer embeds its
/// share of the batch (rows `plan(n, peers, chunk)` gives its rank) without a graph, the
/// embeddings of all peers are gathered, every peer computes the loss over the whole batch and
/// its embedding gradients (the same everywhere), and back-propagates its own chunks. The
/// gradients returned are this peer's share; their sum over the peers is the batch's gradient.
#[allow(clippy::too_many_arguments)]
pub fn peer_gradients<B: crate::TrainingBackend>(
    model: &BiEncoderModel<B>,
    options: &EncoderOptions,
    batch: &TrainBatch,
    objective: &Objective,
    in_batch: bool,
    device: &B::Device,
    peer: &Peer,
    chunk: usize,
    dropout: Option<&StepDropout>,
) -> Result<StepResult, TrainError> {
    let (n, g) = (batch.len(), batch.group_size);
    let own: Vec<Range<usize>> = plan(n, peer.count, chunk)
        .into_iter()
        .filter(|(d, _)| *d == peer.rank)
        .map(|(_, rows)| rows)
        .collect();
    let width = model.query.embeddings.word.weight.val().dims()[1];
    let inner = model.valid();
    let embedded = (!own.is_empty()).then(|| {
        let (q, p): (Vec<_>, Vec<_>) = own
            .iter()
            .map(|rows| embed(&inner, options, batch, rows.clone(), dropout, device))
            .unzip();
        (Tensor::cat(q, 0), Tensor::cat(p, 0))
    });
    let span = match (own.first(), own.last()) {
        (Some(a), Some(b)) => a.start..b.end,
        _ => 0..0,
    };
    let (q_all, p_all) = peer.gather_rows(
        embedded,
        (span.clone(), span.start * g..span.end * g),
        (n, n * g),
        width,
        device,
    )?;
    let cached = embedding_gradients::<B>(q_all, p_all, batch, objective, in_batch, device)?;
    let mut acc = GradientsAccumulator::<BiEncoderModel<B>>::new();
    for rows in own {
        acc.accumulate(
            model,
            backpropagate(model, options, batch, rows, dropout, &cached, device),
        );
    }
    Ok(StepResult {
        loss: cached.loss,
        score_spread: cached.score_spread,
        grads: acc.grads(),
    })
}
