//! Training configuration (TOML). Defaults are the paper's recipe: AdamW lr 1e-5, betas
//! 0.9/0.999, eps 1e-8, no weight decay, DeepSpeed `WarmupDecayLR` with 5 % log warm-up then
//! linear decay to 0, gradient clipping at 1.0, a global batch of 64 queries embedded 16 at a
//! time, the model's own dropout, query/passage length 256, one epoch.

use std::path::{Path, PathBuf};

pub use rankwise_encoder::Precision;
use serde::{Deserialize, Serialize};

use crate::error::TrainError;

/// Which objective to train with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// 2-Wasserstein list-wise loss (SyCL).
    Ws2,
    /// InfoNCE on binarised labels.
    Infonce,
    /// ListNet (softmax cross-entropy).
    Listnet,
    /// RankNet (pairwise logistic).
    Ranknet,
}

/// Loss settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LossSettings {
    /// Objective.
    pub kind: LossKind,
    /// Softmax temperature τ of the scores. Unset: [`LossSettings::default_temperature`] for
    /// the model (the paper's τ = 1 for unnormalised embeddings; for unit-norm embeddings,
    /// whose scores are cosines in [−1, 1], a smaller τ chosen per loss).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// InfoNCE: levels at or above this are positives.
    pub positive_threshold: i64,
    /// Score every query against all passages of the batch (the paper's in-batch negatives).
    pub in_batch: bool,
}

impl Default for LossSettings {
    fn default() -> Self {
        Self {
            kind: LossKind::Ws2,
            temperature: None,
            positive_threshold: 1,
            in_batch: true,
        }
    }
}

impl LossSettings {
    /// τ for a model whose embeddings are unit-normalised (`normalized`) or not, when the config
    /// leaves it unset. Unnormalised (Contriever, as in the paper): 1. Unit-norm scores are
    /// cosines, so τ = 1 leaves every softmax nearly flat: InfoNCE takes 0.05 (the
    /// sentence-transformers default, scale 20); WS2 and ListNet take
    /// [`NORMALIZED_LISTWISE_TEMPERATURE`] (0.2): at 0.05 WS2 has collapsed a unit-norm model
    /// (every score squeezed into a narrow band), and on a dev split 0.05 and 0.2 came within
    /// 0.003 nDCG@10 of each other (RESULTS.md), so the default is the value that does not
    /// collapse.
    pub fn default_temperature(&self, normalized: bool) -> f64 {
        match (normalized, self.kind) {
            (false, _) => 1.0,
            (true, LossKind::Infonce | LossKind::Ranknet) => 0.05,
            (true, LossKind::Ws2 | LossKind::Listnet) => NORMALIZED_LISTWISE_TEMPERATURE,
        }
    }

    /// The temperature to train with: the configured one, else the default for the model.
    pub fn temperature_for(&self, normalized: bool) -> f64 {
        self.temperature
            .unwrap_or_else(|| self.default_temperature(normalized))
    }
}

/// Default τ of WS2 and ListNet for unit-norm embeddings (see [`LossSettings::default_temperature`]).
pub const NORMALIZED_LISTWISE_TEMPERATURE: f64 = 0.2;

/// Shape of the learning-rate warm-up (DeepSpeed's `warmup_type`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarmupShape {
    /// `it / W`.
    Linear,
    /// `ln(it + 1) / ln(W)` (DeepSpeed's default).
    #[default]
    #[serde(rename = "log", alias = "logarithmic")]
    Logarithmic,
}

/// Dropout while training (evaluation and inference never drop). Unset values come from the
/// model's `config.json` (`hidden_dropout_prob`, `attention_probs_dropout_prob`), as the
/// reference fine-tunes with the model's own dropout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DropoutSettings {
    /// Dropout on the embeddings and after each projection back to the hidden size.
    pub hidden: Option<f64>,
    /// Dropout on the attention probabilities.
    pub attention: Option<f64>,
}

/// AdamW and schedule settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimizerSettings {
    /// Peak learning rate.
    pub lr: f64,
    /// AdamW β₁.
    pub beta1: f32,
    /// AdamW β₂.
    pub beta2: f32,
    /// AdamW ε.
    pub eps: f32,
    /// Decoupled weight decay.
    pub weight_decay: f32,
    /// Fraction of the steps used for warm-up.
    pub warmup_ratio: f64,
    /// Warm-up shape.
    pub warmup_shape: WarmupShape,
    /// Clip the global gradient L2 norm to this (`0` disables).
    pub max_grad_norm: f64,
}

impl Default for OptimizerSettings {
    fn default() -> Self {
        Self {
            lr: 1e-5,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            warmup_ratio: 0.05,
            warmup_shape: WarmupShape::Logarithmic,
            max_grad_norm: 1.0,
        }
    }
}

impl OptimizerSettings {
    /// Burn's AdamW with these β₁, β₂, ε and weight decay, for module `M` on backend `B` (the
    /// learning rate comes from the schedule at each step).
    pub fn adamw<B, M>(&self) -> impl burn::optim::Optimizer<M, B> + use<B, M>
    where
        B: burn::tensor::backend::AutodiffBackend,
        M: burn::module::AutodiffModule<B>,
    {
        burn::optim::AdamWConfig::new()
            .with_beta_1(self.beta1)
            .with_beta_2(self.beta2)
            .with_epsilon(self.eps)
            .with_weight_decay(self.weight_decay)
            .init::<B, M>()
    }
}

/// Periodic evaluation on a BEIR collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalDuringTraining {
    /// BEIR folder.
    pub dataset: PathBuf,
    /// Qrels split.
    #[serde(default = "test_split")]
    pub split: String,
    /// Evaluate every this many steps (and at the end).
    #[serde(default)]
    pub every_steps: u64,
    /// Evaluate only the first n judged queries.
    #[serde(default)]
    pub max_queries: Option<usize>,
}

fn test_split() -> String {
    "test".into()
}

/// A training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Hugging Face model folder to start from.
    pub model: PathBuf,
    /// Dataset config file (TOML, `kind = "multilevel" | "binary"`).
    pub data: PathBuf,
    /// Output folder: checkpoints, logs, plots, the final model.
    pub output_dir: PathBuf,
    /// Loss.
    #[serde(default)]
    pub loss: LossSettings,
    /// Optimiser and schedule.
    #[serde(default)]
    pub optimizer: OptimizerSettings,
    /// Queries whose scores the loss sees together in one micro-step, whatever the number of
    /// devices (the paper: 64, gathered over 4 GPUs). The last micro-batch of an epoch may be
    /// smaller (the reference keeps it).
    #[serde(default = "paper::global_batch")]
    pub global_batch: usize,
    /// Micro-batches whose gradients are averaged into one step.
    #[serde(default = "paper::grad_accumulation")]
    pub grad_accumulation: usize,
    /// GradCache chunk: embed at most this many queries (and their passages) with a graph at a
    /// time; the loss still sees the global batch; devices share the chunks (the paper: 16 per
    /// GPU). `0`: no chunking.
    #[serde(default = "paper::chunk_size")]
    pub chunk_size: usize,
    /// Dropout while training (default: the model's own).
    #[serde(default)]
    pub dropout: DropoutSettings,
    /// Query truncation length.
    #[serde(default = "paper::max_length")]
    pub query_max_length: usize,
    /// Passage truncation length.
    #[serde(default = "paper::max_length")]
    pub passage_max_length: usize,
    /// Epochs.
    #[serde(default = "paper::epochs")]
    pub epochs: usize,
    /// Stop after this many optimiser steps (`None`: the epochs decide).
    #[serde(default)]
    pub max_steps: Option<u64>,
    /// Seed of data order and sampling.
    #[serde(default)]
    pub seed: u64,
    /// Write a checkpoint every this many steps (`0`: only at the end).
    #[serde(default)]
    pub checkpoint_every: u64,
    /// Keep this many most recent checkpoints.
    #[serde(default = "paper::keep_checkpoints")]
    pub keep_checkpoints: usize,
    /// Precision of the encoder's projection products: `"f32"` (default), `"f16"` or
    /// `"bf16"` (mixed precision with `f32` master weights; GPU backends only, checked at
    /// start).
    #[serde(default)]
    pub precision: Precision,
    /// Optional periodic evaluation.
    #[serde(default)]
    pub eval: Option<EvalDuringTraining>,
}

/// The paper's recipe for the settings of a run outside its sections: the one place these
/// defaults are written (the TOML reader and [`TrainConfig::new`] both take them from here; the
/// sections' defaults are their `Default` impls).
mod paper {
    /// 64 queries per loss (4 GPUs × 16).
    pub(super) fn global_batch() -> usize {
        64
    }
    /// No accumulation.
    pub(super) fn grad_accumulation() -> usize {
        1
    }
    /// 16 queries embedded with a graph at a time (one GPU's share).
    pub(super) fn chunk_size() -> usize {
        16
    }
    /// 256 tokens, queries and passages.
    pub(super) fn max_length() -> usize {
        256
    }
    /// One epoch.
    pub(super) fn epochs() -> usize {
        1
    }
    /// The two newest checkpoints are kept.
    pub(super) fn keep_checkpoints() -> usize {
        2
    }
}

impl TrainConfig {
    /// A config with the paper's defaults.
    pub fn new(
        model: impl Into<PathBuf>,
        data: impl Into<PathBuf>,
        output_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            model: model.into(),
            data: data.into(),
            output_dir: output_dir.into(),
            loss: LossSettings::default(),
            optimizer: OptimizerSettings::default(),
            global_batch: paper::global_batch(),
            grad_accumulation: paper::grad_accumulation(),
            chunk_size: paper::chunk_size(),
            dropout: DropoutSettings::default(),
            query_max_length: paper::max_length(),
            passage_max_length: paper::max_length(),
            epochs: paper::epochs(),
            max_steps: None,
            seed: 0,
            checkpoint_every: 0,
            keep_checkpoints: paper::keep_checkpoints(),
            precision: Precision::F32,
            eval: None,
        }
    }

    /// Parses TOML (errors name the key, its line, and the allowed values) and validates it.
    /// Relative paths are resolved against `base`.
    pub fn from_toml(text: &str, origin: &Path, base: &Path) -> Result<Self, TrainError> {
        let mut c: Self = toml::from_str(text)
            .map_err(|e| TrainError::config(origin.display().to_string(), e.to_string()))?;
        for p in [&mut c.model, &mut c.data, &mut c.output_dir] {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        if let Some(e) = &mut c.eval
            && e.dataset.is_relative()
        {
            e.dataset = base.join(&e.dataset);
        }
        c.validate()?;
        Ok(c)
    }

    /// Reads a TOML file; relative paths are resolved against the file's directory.
    pub fn read(path: &Path) -> Result<Self, TrainError> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
        Self::from_toml(&text, path, path.parent().unwrap_or(Path::new("")))
    }

    /// Checks every value's range.
    pub fn validate(&self) -> Result<(), TrainError> {
        let o = &self.optimizer;
        let d = &self.dropout;
        let checks: [(bool, &str, String); 11] = [
            (
                o.lr > 0.0 && o.lr.is_finite(),
                "optimizer.lr",
                format!("must be > 0, got {}", o.lr),
            ),
            (
                (0.0..1.0).contains(&o.beta1),
                "optimizer.beta1",
                format!("must be in [0, 1), got {}", o.beta1),
            ),
            (
                (0.0..1.0).contains(&o.beta2),
                "optimizer.beta2",
                format!("must be in [0, 1), got {}", o.beta2),
            ),
            (
                (0.0..1.0).contains(&o.warmup_ratio),
                "optimizer.warmup_ratio",
                format!("must be in [0, 1), got {}", o.warmup_ratio),
            ),
            (
                o.max_grad_norm >= 0.0,
                "optimizer.max_grad_norm",
                format!("must be >= 0 (0 disables), got {}", o.max_grad_norm),
            ),
            (
                self.global_batch >= 1,
                "global_batch",
                "must be at least 1".into(),
            ),
            (
                d.hidden.is_none_or(|p| (0.0..1.0).contains(&p)),
                "dropout.hidden",
                format!("must be in [0, 1), got {:?}", d.hidden),
            ),
            (
                d.attention.is_none_or(|p| (0.0..1.0).contains(&p)),
                "dropout.attention",
                format!("must be in [0, 1), got {:?}", d.attention),
            ),
            (
                self.grad_accumulation >= 1,
                "grad_accumulation",
                "must be at least 1".into(),
            ),
            (self.epochs >= 1, "epochs", "must be at least 1".into()),
            (
                self.loss
                    .temperature
                    .is_none_or(|t| t > 0.0 && t.is_finite()),
                "loss.temperature",
                format!("must be > 0, got {:?}", self.loss.temperature),
            ),
        ];
        for (ok, key, detail) in checks {
            if !ok {
                return Err(TrainError::config(key, detail));
            }
        }
        for (key, v) in [
            ("query_max_length", self.query_max_length),
            ("passage_max_length", self.passage_max_length),
        ] {
            if !(2..=8192).contains(&v) {
                return Err(TrainError::config(
                    key,
                    format!("must be in 2..=8192, got {v}"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{LossKind, LossSettings, NORMALIZED_LISTWISE_TEMPERATURE, TrainConfig};

    #[test]
    fn the_paper_run_configs_read_as_the_paper_recipe() {
        let configs =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/configs");
        for (name, kind) in [
            ("synth_multilevel", LossKind::Ws2),
            ("synth_plus_real", LossKind::Ws2),
            ("synth_binary", LossKind::Infonce),
            ("real_binary", LossKind::Infonce),
        ] {
            let c = TrainConfig::read(&configs.join(format!("{name}.toml"))).unwrap();
            let mut paper = TrainConfig::new(&c.model, &c.data, &c.output_dir);
            paper.seed = 42;
            paper.checkpoint_every = 500;
            paper.loss.kind = kind;
            paper.loss.temperature = Some(1.0);
            assert_eq!(c, paper, "{name}");
            let o = &c.optimizer;
            assert_eq!(
                (o.lr, o.beta1, o.beta2, o.eps, o.weight_decay),
                (1e-5, 0.9, 0.999, 1e-8, 0.0)
            );
            assert_eq!((o.warmup_ratio, o.max_grad_norm), (0.05, 1.0));
            assert_eq!(
                (c.global_batch, c.chunk_size, c.query_max_length, c.epochs),
                (64, 16, 256, 1)
            );
        }
    }

    #[test]
    fn an_unset_temperature_follows_the_model_and_a_set_one_wins() {
        let loss = |kind, temperature| LossSettings {
            kind,
            temperature,
            ..LossSettings::default()
        };
        for kind in [LossKind::Ws2, LossKind::Infonce, LossKind::Listnet] {
            assert_eq!(loss(kind, None).temperature_for(false), 1.0);
            assert_eq!(loss(kind, Some(0.3)).temperature_for(true), 0.3);
        }
        assert_eq!(loss(LossKind::Infonce, None).temperature_for(true), 0.05);
        assert_eq!(
            loss(LossKind::Ws2, None).temperature_for(true),
            NORMALIZED_LISTWISE_TEMPERATURE
        );
        // Unset stays unset in a written config, and a written τ reads back.
        let text = toml::to_string(&loss(LossKind::Ws2, None)).unwrap();
        assert!(!text.contains("temperature"), "{text}");
        let back: LossSettings = toml::from_str("kind = \"ws2\"\ntemperature = 0.5").unwrap();
        assert_eq!(back.temperature, Some(0.5));
    }
}
