//! The collective operations a data-parallel step needs, on Burn's `burn::collective`: joining
//! the run, all-gathering embeddings and all-reducing gradients, each bounded by a timeout so
//! that a stopped peer or node ends the run with an error instead of a hang.
//!
//! Burn 0.21's collective offers all-reduce, reduce and broadcast (the last two on one machine
//! only). The all-gather is an all-reduce (sum) of zero-padded slices: `x + 0 = x` exactly, so
//! every peer receives the exact rows of every other. Gradients travel as one flat vector per
//! step (one synchronisation instead of one per parameter tensor), in the order the model
//! visits its parameters, which is the same in every process (parameter ids are not: each
//! process draws its own).

use std::ops::Range;
use std::sync::mpsc::{RecvTimeoutError, sync_channel};
use std::time::Duration;

use burn::collective::{CollectiveConfig, CollectiveError, PeerId, ReduceOperation};
use burn::module::{AutodiffModule, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorPrimitive};

use crate::error::TrainError;

/// Where this process's peers sit in a data-parallel run: how many nodes (processes, usually
/// one per machine) take part and which one this is, and how they find each other.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    /// Nodes in the run (1: every peer is a device of this process).
    pub nodes: u32,
    /// This node's rank, `0..nodes`; rank 0 writes the run's files.
    pub node_rank: u32,
    /// Address of Burn's global orchestrator (`ws://host:port`), needed when `nodes > 1`.
    pub orchestrator: Option<String>,
    /// Address at which the other nodes reach this one (`ws://host:port`; the port is where
    /// this node serves its tensors), needed when `nodes > 1`.
    pub node_address: Option<String>,
    /// How long one collective operation may wait for the other peers before the run stops
    /// with [`TrainError::Collective`].
    pub timeout: Duration,
}

impl Default for Cluster {
    fn default() -> Self {
        Self::local()
    }
}

impl Cluster {
    /// Every peer in this process (one node), with a 10-minute timeout.
    pub fn local() -> Self {
        Self {
            nodes: 1,
            node_rank: 0,
            orchestrator: None,
            node_address: None,
            timeout: Duration::from_secs(600),
        }
    }

    /// Whether this process writes the run's files (node rank 0).
    pub fn writes(&self) -> bool {
        self.node_rank == 0
    }

    /// Checks the settings; the error names the option.
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |key: &str, detail: String| Err(TrainError::config(key, detail));
        if self.nodes == 0 {
            return bad("nodes", "at least 1".into());
        }
        if self.node_rank >= self.nodes {
            return bad(
                "node-rank",
                format!(
                    "{} is not below the node count {}",
                    self.node_rank, self.nodes
                ),
            );
        }
        if self.timeout.is_zero() {
            return bad("peer-timeout", "must be positive".into());
        }
        if self.nodes > 1 {
            for (key, value) in [
                ("orchestrator", &self.orchestrator),
                ("node-address", &self.node_address),
            ] {
                match value {
                    None => {
                        return bad(
                            key,
                            format!("needed with {} nodes (ws://host:port)", self.nodes),
                        );
                    }
                    Some(a) if ws_port(a).is_none() => {
                        return bad(key, format!("`{a}` is not of the form ws://host:port"));
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(())
    }

    /// Burn's collective configuration for `local_peers` devices on this node.
    pub(crate) fn collective_config(&self, local_peers: usize) -> CollectiveConfig {
        let config = CollectiveConfig::default().with_num_devices(local_peers);
        match (self.nodes > 1, &self.orchestrator, &self.node_address) {
            (true, Some(orchestrator), Some(node)) => config
                .with_num_nodes(self.nodes)
                .with_global_address(orchestrator.parse().expect("any string is an address"))
                .with_node_address(node.parse().expect("any string is an address"))
                .with_data_service_port(ws_port(node).expect("validated")),
            _ => config,
        }
    }
}

/// The port of a `ws://host:port` address.
pub fn ws_port(address: &str) -> Option<u16> {
    let rest = address.strip_prefix("ws://")?;
    let host_port = rest.split('/').next()?;
    let (host, port) = host_port.rsplit_once(':')?;
    (!host.is_empty()).then_some(())?;
    port.parse().ok()
}

/// One peer of a run: its rank among all peers, its id among this node's peers, and the
/// timeout of its collective operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// Rank among all peers of the run (`node_rank × local peers + local`).
    pub rank: usize,
    /// Peers in the run.
    pub count: usize,
    /// Index among this node's peers (Burn's `PeerId`).
    pub local: usize,
    /// Limit of one collective operation.
    pub timeout: Duration,
}

impl Peer {
    fn id(&self) -> PeerId {
        PeerId::from(self.local as u32)
    }

    /// Joins the run (Burn's `register`), on the inner backend `B` and `device`.
    pub fn register<B: Backend>(
        &self,
        device: &B::Device,
        config: CollectiveConfig,
    ) -> Result<(), TrainError> {
        let (id, device) = (self.id(), device.clone());
        timed("joining the run", self.timeout, move || {
            burn::collective::register::<B>(id, device, config)
        })
    }

    /// Leaves the run (Burn's `finish_collective`).
    pub fn finish<B: Backend>(&self) -> Result<(), TrainError> {
        let id = self.id();
        timed("leaving the run", self.timeout, move || {
            burn::collective::finish_collective::<B>(id)
        })
    }

    /// The element-wise sum of `values` over every peer of the run.
    pub fn sum<B: Backend>(
        &self,
        values: Tensor<B, 1>,
        what: &str,
    ) -> Result<Tensor<B, 1>, TrainError> {
        let id = self.id();
        let primitive = values.into_primitive().tensor();
        let summed = timed(what, self.timeout, move || {
            burn::collective::all_reduce::<B>(id, primitive, ReduceOperation::Sum)
        })?;
        Ok(Tensor::from_primitive(TensorPrimitive::Float(summed)))
    }

    /// Every peer's rows of two matrices, gathered: this peer holds rows `rows.0` of the first
    /// (`[total.0, h]` in all) and rows `rows.1` of the second (`[total.1, h]`); `None` when it
    /// holds none. Returns both whole matrices, the same on every peer.
    pub fn gather_rows<B: Backend>(
        &self,
        own: Option<(Tensor<B, 2>, Tensor<B, 2>)>,
        rows: (Range<usize>, Range<usize>),
        total: (usize, usize),
        width: usize,
        device: &B::Device,
    ) -> Result<(Tensor<B, 2>, Tensor<B, 2>), TrainError> {
        let (a, b) = match own {
            Some((a, b)) => (Some(a), Some(b)),
            None => (None, None),
        };
        let flat = Tensor::cat(
            vec![
                padded(a, rows.0, total.0, width, device),
                padded(b, rows.1, total.1, width, device),
            ],
            0,
        );
        let all = self.sum(flat, "gathering the embeddings")?;
        let n0 = total.0 * width;
        Ok((
            all.clone().slice(0..n0).reshape([total.0, width]),
            all.slice(n0..n0 + total.1 * width)
                .reshape([total.1, width]),
        ))
    }

    /// `grads` summed over every peer. Every float parameter of `model` takes part, in the
    /// order the model visits them (a peer without a gradient for one sends zeros); a
    /// parameter no peer has a gradient for stays without one.
    pub fn sum_gradients<B: AutodiffBackend, M: AutodiffModule<B>>(
        &self,
        model: &M,
        grads: GradientsParams,
    ) -> Result<GradientsParams, TrainError> {
        let Some(device) = model.devices().into_iter().next() else {
            return Ok(grads);
        };
        let mut flatten = Flatten::<B> {
            grads,
            parts: Vec::new(),
            layout: Vec::new(),
            present: Vec::new(),
            device: device.clone(),
        };
        model.visit(&mut flatten);
        let Flatten {
            mut parts,
            layout,
            present,
            ..
        } = flatten;
        if layout.is_empty() {
            return Ok(GradientsParams::new());
        }
        let count = present.len();
        parts.push(Tensor::from_floats(present.as_slice(), &device));
        let summed = self.sum(Tensor::cat(parts, 0), "summing the gradients")?;
        let total: usize = layout.iter().map(|l| l.size).sum();
        let present = summed
            .clone()
            .slice(total..total + count)
            .into_data()
            .convert::<f32>()
            .into_vec::<f32>()
            .expect("float values");
        let mut unflatten = Unflatten::<B> {
            summed,
            layout: layout.into_iter(),
            present: present.into_iter(),
            offset: 0,
            out: GradientsParams::new(),
        };
        model.visit(&mut unflatten);
        Ok(unflatten.out)
    }
}

/// `rows` of a `[total, width]` matrix whose other rows are zero, flattened.
fn padded<B: Backend>(
    own: Option<Tensor<B, 2>>,
    rows: Range<usize>,
    total: usize,
    width: usize,
    device: &B::Device,
) -> Tensor<B, 1> {
    let mut parts = Vec::new();
    let zeros = |n: usize| Tensor::<B, 1>::zeros([n * width], device);
    let (start, end) = match &own {
        Some(_) => (rows.start, rows.end),
        None => (total, total),
    };
    if start > 0 {
        parts.push(zeros(start));
    }
    if let Some(own) = own {
        parts.push(own.reshape([(end - start) * width]));
    }
    if end < total {
        parts.push(zeros(total - end));
    }
    Tensor::cat(parts, 0)
}

/// Size of one parameter's slice of the flat gradient.
struct Slot {
    id: ParamId,
    size: usize,
}

struct Flatten<B: AutodiffBackend> {
    grads: GradientsParams,
    parts: Vec<Tensor<B::InnerBackend, 1>>,
    layout: Vec<Slot>,
    present: Vec<f32>,
    device: B::Device,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Flatten<B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let shape = param.shape();
        let size = shape.num_elements();
        let grad = self.grads.remove::<B::InnerBackend, D>(param.id);
        self.present.push(if grad.is_some() { 1.0 } else { 0.0 });
        self.parts.push(match grad {
            Some(g) => g.reshape([size]),
            None => Tensor::zeros([size], &self.device),
        });
        self.layout.push(Slot { id: param.id, size });
    }
}

struct Unflatten<B: AutodiffBackend> {
    summed: Tensor<B::InnerBackend, 1>,
    layout: std::vec::IntoIter<Slot>,
    present: std::vec::IntoIter<f32>,
    offset: usize,
    out: GradientsParams,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Unflatten<B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let slot = self
            .layout
            .next()
            .expect("the same parameters as flattened");
        debug_assert_eq!(slot.id, param.id);
        let range = self.offset..self.offset + slot.size;
        self.offset = range.end;
        if self.present.next().expect("one flag per parameter") > 0.0 {
            let g = self.summed.clone().slice(range).reshape(param.shape());
            self.out.register::<B::InnerBackend, D>(slot.id, g);
        }
    }
}

/// Runs collective operation `op` on a thread of its own and waits at most `timeout` for it.
/// A peer that stopped never answers; the thread left waiting ends with the process.
fn timed<T: Send + 'static>(
    what: &str,
    timeout: Duration,
    op: impl FnOnce() -> Result<T, CollectiveError> + Send + 'static,
) -> Result<T, TrainError> {
    let (tx, rx) = sync_channel(1);
    std::thread::Builder::new()
        .name("collective".into())
        .spawn(move || {
            let _ = tx.send(op());
        })
        .map_err(|e| TrainError::Collective {
            detail: format!("{what}: cannot start a thread: {e}"),
        })?;
    const WAY_ON: &str = "a node or device has stopped or cannot be reached (start every node \
                          again with --resume to continue from the last checkpoint)";
    let detail = match rx.recv_timeout(timeout) {
        Ok(Ok(value)) => return Ok(value),
        Ok(Err(e)) => format!("{what}: Burn's collective failed ({e:?}); {WAY_ON}"),
        Err(RecvTimeoutError::Timeout) => format!(
            "{what}: no answer from the other peers within {} s; {WAY_ON}",
            timeout.as_secs_f64()
        ),
        Err(RecvTimeoutError::Disconnected) => {
            format!("{what}: Burn's collective stopped (see the log above); {WAY_ON}")
        }
    };
    Err(TrainError::Collective { detail })
}

#[cfg(test)]
mod tests {
    use super::{Cluster, ws_port};

    #[test]
    fn addresses_and_node_settings_are_checked() {
        assert_eq!(ws_port("ws://10.0.0.2:29601"), Some(29601));
        assert_eq!(ws_port("ws://host:1/path"), Some(1));
        assert_eq!(ws_port("http://host:1"), None);
        assert_eq!(ws_port("ws://:1"), None);
        assert_eq!(ws_port("ws://host"), None);
        assert!(Cluster::local().validate().is_ok());
        let two = Cluster {
            nodes: 2,
            ..Cluster::local()
        };
        let e = two.validate().unwrap_err().to_string();
        assert!(
            e.contains("orchestrator") && e.contains("ws://host:port"),
            "{e}"
        );
        let e = Cluster {
            node_rank: 2,
            ..two.clone()
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(e.contains("node-rank"), "{e}");
        let ok = Cluster {
            orchestrator: Some("ws://127.0.0.1:29500".into()),
            node_address: Some("ws://127.0.0.1:29601".into()),
            ..two
        };
        assert!(ok.validate().is_ok());
    }
}
