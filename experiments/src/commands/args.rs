//! Argument groups that several commands take: what to do with an existing run, which
//! collections to evaluate on and how, the lengths that override a model's own, the devices
//! and nodes a run trains on.

use std::path::PathBuf;

use rankwise_eval::EvalSettings;
use rankwise_train::config::Precision;
use rankwise_train::{Cluster, LossKind, OnExisting, TrainConfig};

/// What to do with a run already in the output folder (default: refuse, naming both flags).
#[derive(clap::Args, Clone, Copy, Debug, Default)]
pub struct ExistingArgs {
    /// Continue the run in the output folder from its latest checkpoint (the settings must be
    /// the same; only output, checkpoint and evaluation settings may change).
    #[arg(long, conflicts_with = "overwrite")]
    pub resume: bool,
    /// Replace the run in the output folder (its metrics, checkpoints and model are deleted).
    #[arg(long)]
    pub overwrite: bool,
}

impl ExistingArgs {
    /// The trainer's policy for these flags.
    pub fn policy(self) -> OnExisting {
        match (self.resume, self.overwrite) {
            (true, _) => OnExisting::Resume,
            (_, true) => OnExisting::Overwrite,
            _ => OnExisting::Refuse,
        }
    }
}

/// What every evaluating command (`evaluate`, `bm25`) takes: collections, split, depth,
/// cut-offs, relevance level, query limit, output and progress.
#[derive(clap::Args)]
pub struct CollectionArgs {
    /// BEIR folder(s) (`corpus.jsonl`, `queries.jsonl`, `qrels/<split>.tsv`; parquet/CSV too) or
    /// shared names.
    #[arg(long, required = true)]
    pub dataset: Vec<String>,
    /// Qrels split.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// JSON summary to write. With several datasets, one `<stem>.<collection>.json` per
    /// dataset is written too, and this file maps collection → summary.
    #[arg(long)]
    pub output: PathBuf,
    /// Documents retrieved per query.
    #[arg(long, default_value_t = 100)]
    pub k: usize,
    /// Extra cut-offs to report (e.g. `1,3,5`), besides nDCG@10, MRR@10 and Recall@100.
    #[arg(long, value_delimiter = ',')]
    pub cutoffs: Vec<usize>,
    /// Judged grade counted as relevant for MRR, recall, MAP and P (nDCG uses every grade).
    #[arg(long, default_value_t = 1)]
    pub relevance_level: i64,
    /// Evaluate only the first N judged queries (smoke runs).
    #[arg(long)]
    pub max_queries: Option<usize>,
    /// Replace output files that already exist (without it, existing files stop the command
    /// before any work).
    #[arg(long)]
    pub overwrite: bool,
    /// Hide progress bars.
    #[arg(long)]
    pub quiet: bool,
}

impl CollectionArgs {
    /// `base` with these arguments' split, depth, cut-offs, relevance level, limit and progress.
    pub fn settings(&self, base: EvalSettings) -> EvalSettings {
        EvalSettings {
            split: self.split.clone(),
            k: self.k,
            relevance_level: self.relevance_level,
            extra_cutoffs: self.cutoffs.clone(),
            max_queries: self.max_queries,
            progress: !self.quiet,
            ..base
        }
    }

    /// The collections, resolved (folders or shared names).
    pub fn datasets(&self) -> anyhow::Result<Vec<PathBuf>> {
        self.dataset
            .iter()
            .map(|d| super::resolve_dataset(d))
            .collect()
    }
}

/// Query and passage truncation lengths that override a model's own (`None`: keep it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lengths {
    /// Query tokens.
    pub query: Option<usize>,
    /// Passage tokens.
    pub passage: Option<usize>,
}

impl Lengths {
    /// Both lengths set.
    pub fn both(query: usize, passage: usize) -> Self {
        Self {
            query: Some(query),
            passage: Some(passage),
        }
    }
}

/// Settings of a run config that a command line may override (`train`, `reproduce`).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct TrainOverrides {
    /// Override `output_dir`.
    #[arg(long)]
    pub output_dir: Option<PathBuf>,
    /// Override `model`.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Override `loss.kind`.
    #[arg(long, value_enum)]
    pub loss: Option<LossKind>,
    /// Override `optimizer.lr`.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Override `global_batch` (queries the loss sees per micro-step).
    #[arg(long)]
    pub global_batch: Option<usize>,
    /// Override `chunk_size` (queries embedded with a graph at a time; 0: no chunking).
    #[arg(long)]
    pub chunk_size: Option<usize>,
    /// Override `max_steps`.
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// Override `precision` of the projection products (f16/bf16: GPU backends only).
    #[arg(long, value_enum)]
    pub precision: Option<Precision>,
}

impl TrainOverrides {
    /// `config` with the overrides that are set, validated.
    pub fn apply(&self, mut c: TrainConfig) -> anyhow::Result<TrainConfig> {
        if let Some(o) = &self.output_dir {
            c.output_dir = o.clone();
        }
        if let Some(m) = &self.model {
            c.model = m.clone();
        }
        if let Some(l) = self.loss {
            c.loss.kind = l;
        }
        if let Some(lr) = self.lr {
            c.optimizer.lr = lr;
        }
        if let Some(b) = self.global_batch {
            c.global_batch = b;
        }
        if let Some(b) = self.chunk_size {
            c.chunk_size = b;
        }
        if self.max_steps.is_some() {
            c.max_steps = self.max_steps;
        }
        if let Some(p) = self.precision {
            c.precision = p;
        }
        c.validate()?;
        Ok(c)
    }
}

/// The devices a run trains on, and for a run over several machines, where this node sits
/// (`train`, `reproduce`).
#[derive(clap::Args, Clone, Debug)]
pub struct DeviceArgs {
    /// Devices of this node (GPUs, or CPU replicas) that share each step; the loss sees
    /// `global_batch` queries whatever this is. With more than one, each device runs on a
    /// thread of its own, concurrently (unless --sequential).
    #[arg(long, default_value_t = 1)]
    pub devices: usize,
    /// Run the devices' chunks in turn on one thread (more memory, no more speed) instead of
    /// concurrently.
    #[arg(long, conflicts_with = "nodes")]
    pub sequential: bool,
    /// Nodes (processes, usually one per machine) in the run; each runs this command with its
    /// own --node-rank, the same --devices and a shared output folder.
    #[arg(long, default_value_t = 1)]
    pub nodes: u32,
    /// This node's rank, 0..nodes; rank 0 writes the run's files.
    #[arg(long, default_value_t = 0)]
    pub node_rank: u32,
    /// Address of the orchestrator (`experiments orchestrator`), ws://host:port.
    #[arg(long)]
    pub orchestrator: Option<String>,
    /// Address at which the other nodes reach this one, ws://host:port (the port is opened
    /// here for the tensors the nodes exchange).
    #[arg(long)]
    pub node_address: Option<String>,
    /// Seconds a step may wait for the other devices or nodes before the run stops with an
    /// error (a stopped node ends the others' runs this long after).
    #[arg(long, default_value_t = Cluster::local().timeout.as_secs())]
    pub peer_timeout: u64,
}

impl Default for DeviceArgs {
    fn default() -> Self {
        Self {
            devices: 1,
            sequential: false,
            nodes: 1,
            node_rank: 0,
            orchestrator: None,
            node_address: None,
            peer_timeout: Cluster::local().timeout.as_secs(),
        }
    }
}

impl DeviceArgs {
    /// How the devices share a step: `None` for one device of one node, or with
    /// `--sequential`; else the cluster of concurrent peers.
    pub fn parallel(&self) -> Option<Cluster> {
        (!self.sequential && (self.devices > 1 || self.nodes > 1)).then(|| Cluster {
            nodes: self.nodes,
            node_rank: self.node_rank,
            orchestrator: self.orchestrator.clone(),
            node_address: self.node_address.clone(),
            timeout: std::time::Duration::from_secs(self.peer_timeout),
        })
    }

    /// Whether this node writes the run's files: the trainer's rule ([`Cluster::writes`]).
    pub fn writes(&self) -> bool {
        self.parallel().is_none_or(|c| c.writes())
    }
}
