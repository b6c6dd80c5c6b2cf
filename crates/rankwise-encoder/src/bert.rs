//! The BERT encoder (post-LayerNorm), as in Hugging Face `BertModel`.

use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::{Bool, DType, Int, Tensor, backend::Backend};

use crate::BertConfig;
use crate::dropout::{Dropout, Site};
use crate::ops::{self, EncoderBackend};
use crate::precision::Precision;

/// Additive attention bias for padded keys: finite so that half precision stays finite.
const MASKED: f32 = -1.0e4;

/// Word + position + token-type embeddings, then LayerNorm.
#[derive(Module, Debug)]
pub struct BertEmbeddings<B: Backend> {
    /// `embeddings.word_embeddings`.
    pub word: Embedding<B>,
    /// `embeddings.position_embeddings`.
    pub position: Embedding<B>,
    /// `embeddings.token_type_embeddings`.
    pub token_type: Embedding<B>,
    /// `embeddings.LayerNorm`.
    pub norm: LayerNorm<B>,
}

/// Multi-head self-attention with its output projection and LayerNorm.
#[derive(Module, Debug)]
pub struct BertAttention<B: Backend> {
    /// `attention.self.query`.
    pub query: Linear<B>,
    /// `attention.self.key`.
    pub key: Linear<B>,
    /// `attention.self.value`.
    pub value: Linear<B>,
    /// `attention.output.dense`.
    pub output: Linear<B>,
    /// `attention.output.LayerNorm`.
    pub norm: LayerNorm<B>,
    /// Number of heads.
    #[module(skip)]
    pub heads: usize,
}

/// One encoder layer: attention, then the GELU feed-forward block.
#[derive(Module, Debug)]
pub struct BertLayer<B: Backend> {
    /// Self-attention block.
    pub attention: BertAttention<B>,
    /// `intermediate.dense`.
    pub intermediate: Linear<B>,
    /// `output.dense`.
    pub output: Linear<B>,
    /// `output.LayerNorm`.
    pub norm: LayerNorm<B>,
}

/// A BERT encoder: embeddings, layers and the (unused by pooling, kept for saving) pooler.
#[derive(Module, Debug)]
pub struct Bert<B: Backend> {
    /// Embeddings.
    pub embeddings: BertEmbeddings<B>,
    /// Encoder layers.
    pub layers: Vec<BertLayer<B>>,
    /// `pooler.dense`, when the checkpoint has one.
    pub pooler: Option<Linear<B>>,
}

impl<B: Backend> Bert<B> {
    /// A randomly initialised encoder with the given architecture.
    pub fn init(config: &BertConfig, device: &B::Device) -> Self {
        let h = config.hidden_size;
        let norm = || {
            LayerNormConfig::new(h)
                .with_epsilon(config.layer_norm_eps)
                .init(device)
        };
        let linear = |i, o| LinearConfig::new(i, o).init(device);
        let embeddings = BertEmbeddings {
            word: EmbeddingConfig::new(config.vocab_size, h).init(device),
            position: EmbeddingConfig::new(config.max_position_embeddings, h).init(device),
            token_type: EmbeddingConfig::new(config.type_vocab_size, h).init(device),
            norm: norm(),
        };
        let layers = (0..config.num_hidden_layers)
            .map(|_| BertLayer {
                attention: BertAttention {
                    query: linear(h, h),
                    key: linear(h, h),
                    value: linear(h, h),
                    output: linear(h, h),
                    norm: norm(),
                    heads: config.num_attention_heads,
                },
                intermediate: linear(h, config.intermediate_size),
                output: linear(config.intermediate_size, h),
                norm: norm(),
            })
            .collect();
        Self {
            embeddings,
            layers,
            pooler: Some(linear(h, h)),
        }
    }
}

impl<B: EncoderBackend> Bert<B> {
    /// Last hidden states `[batch, len, hidden]` for right-padded `input_ids`,
    /// `token_type_ids` and `attention_mask` (1 = real token), all `[batch, len]`.
    pub fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        token_type_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
    ) -> Tensor<B, 3> {
        self.forward_with(
            input_ids,
            token_type_ids,
            attention_mask,
            Precision::F32,
            None,
        )
    }

    /// [`Bert::forward`] with the projections' products in `precision`, and training-time
    /// `dropout` (one key per sequence; `None`: no dropout, as in evaluation).
    pub fn forward_with(
        &self,
        input_ids: Tensor<B, 2, Int>,
        token_type_ids: Tensor<B, 2, Int>,
        attention_mask: Tensor<B, 2, Int>,
        precision: Precision,
        dropout: Option<&Dropout>,
    ) -> Tensor<B, 3> {
        let p = precision.compute_dtype();
        let [batch, len] = input_ids.dims();
        let device = input_ids.device();
        let positions = Tensor::<B, 1, Int>::arange(0..len as i64, &device)
            .reshape([1, len])
            .expand([batch, len]);
        let e = &self.embeddings;
        let x = e.word.forward(input_ids)
            + e.position.forward(positions)
            + e.token_type.forward(token_type_ids);
        let hidden = x.dims()[2];
        if let Some(d) = dropout {
            assert_eq!(d.keys.len(), batch, "dropout: one key per sequence");
        }
        let drop = Masks {
            dropout,
            len,
            width: hidden,
            device: &device,
        };
        let mut x = drop.hidden(
            e.norm.forward(x).reshape([batch * len, hidden]),
            Site::Embeddings,
        );
        // [batch, len]: 0 for real keys, MASKED for padding.
        let padding: Tensor<B, 2, Bool> = attention_mask.equal_elem(0);
        let bias = Tensor::<B, 2>::zeros([batch, len], &device).mask_fill(padding, MASKED);
        for (l, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x, bias.clone(), p, &drop, l);
        }
        x.reshape([batch, len, hidden])
    }
}

/// The dropout of one forward pass, applied site by site.
struct Masks<'a, B: Backend> {
    dropout: Option<&'a Dropout>,
    len: usize,
    width: usize,
    device: &'a B::Device,
}

impl<B: Backend> Masks<'_, B> {
    /// Token rows `[batch·len, width]` with the hidden dropout of `site`.
    fn hidden(&self, x: Tensor<B, 2>, site: Site) -> Tensor<B, 2> {
        match self
            .dropout
            .and_then(|d| d.hidden_mask::<B>(site, self.len, self.width, self.device))
        {
            Some(mask) => x * mask,
            None => x,
        }
    }

    /// The attention-probability mask of `layer`.
    fn attention(&self, layer: usize, heads: usize) -> Option<Tensor<B, 4>> {
        self.dropout
            .and_then(|d| d.attention_mask::<B>(layer, heads, self.len, self.device))
    }
}

impl<B: EncoderBackend> BertLayer<B> {
    fn forward(
        &self,
        x: Tensor<B, 2>,
        bias: Tensor<B, 2>,
        p: Option<DType>,
        drop: &Masks<'_, B>,
        layer: usize,
    ) -> Tensor<B, 2> {
        let x = self.attention.forward(x, bias, p, drop, layer);
        // Burn 0.21's own `gelu` differentiates the tanh approximation; ops::gelu is exact.
        let h = ops::gelu(ops::linear(&self.intermediate, x.clone(), p));
        let out = drop.hidden(
            ops::linear(&self.output, h, p),
            Site::FeedForwardOutput(layer),
        );
        self.norm.forward(x + out)
    }
}

impl<B: EncoderBackend> BertAttention<B> {
    /// `x` is `[batch·len, hidden]`: token rows, so every projection is one matrix product
    /// (and its weight gradient one product, not a batch of them summed).
    fn forward(
        &self,
        x: Tensor<B, 2>,
        bias: Tensor<B, 2>,
        p: Option<DType>,
        drop: &Masks<'_, B>,
        layer: usize,
    ) -> Tensor<B, 2> {
        let [rows, hidden] = x.dims();
        let len = drop.len;
        let seq = |t: Tensor<B, 2>| t.reshape([rows / len, len, hidden]);
        let ctx = ops::attention_with_dropout(
            seq(ops::linear(&self.query, x.clone(), p)),
            seq(ops::linear(&self.key, x.clone(), p)),
            seq(ops::linear(&self.value, x.clone(), p)),
            bias,
            drop.attention(layer, self.heads),
            self.heads,
        );
        let out = drop.hidden(
            ops::linear(&self.output, ctx.reshape([rows, hidden]), p),
            Site::AttentionOutput(layer),
        );
        self.norm.forward(x + out)
    }
}
