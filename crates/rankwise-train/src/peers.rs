//! Concurrent data-parallel training: one thread per device of this process, each holding a
//! replica of the model and of the optimiser, all stepping together through Burn's collective
//! ([`crate::collective`]). Per step every peer embeds its share of the global batch, the
//! embeddings are all-gathered, each peer computes the loss over the whole batch and
//! back-propagates its own share, the gradients are all-reduced, and every peer applies the
//! same AdamW step, so the replicas stay equal without copying weights. Across machines, each
//! node (process) runs the same with its own devices, the nodes joined by Burn's global
//! orchestrator.
//!
//! The calling thread is this node's first peer: it drives the run (data, logs, checkpoints)
//! and hands each step's micro-batches to the other peers' threads.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::Scope;

use burn::module::Module;
use burn::optim::Optimizer;
use rankwise_encoder::BiEncoderModel;

use crate::batch::TrainBatch;
use crate::collective::{Cluster, Peer};
use crate::error::TrainError;
use crate::update::{StepSettings, StepStats};

/// Burn's collective has one session per process and backend: one data-parallel run at a time.
static SESSION: Mutex<()> = Mutex::new(());

/// One optimiser step for a peer thread.
struct Work {
    step: u64,
    batches: Arc<Vec<TrainBatch>>,
    lr: f64,
}

/// The peers of this node, driven from the calling thread (peer 0 of the node).
pub(crate) struct Peers {
    main: Peer,
    work: Vec<SyncSender<Work>>,
    done: Vec<Receiver<Result<(), TrainError>>>,
    _session: MutexGuard<'static, ()>,
}

impl Peers {
    /// Starts one thread per device after the first (each with a copy of `model` and `optim` on
    /// its device), joins the run from every peer, and checks that all peers of all nodes start
    /// at step `start_step` of a run with the same peer count.
    pub(crate) fn start<'scope, 'env, B, O>(
        scope: &'scope Scope<'scope, 'env>,
        cluster: &Cluster,
        settings: &'env StepSettings<'env, B>,
        model: &BiEncoderModel<B>,
        optim: &O,
        start_step: u64,
    ) -> Result<Self, TrainError>
    where
        B: crate::TrainingBackend,
        O: Optimizer<BiEncoderModel<B>, B> + 'scope,
    {
        cluster.validate()?;
        let session = SESSION.lock().unwrap_or_else(|e| e.into_inner());
        burn::collective::reset_collective::<B::InnerBackend>();
        let local = settings.devices.len();
        let count = local * cluster.nodes as usize;
        let config = cluster.collective_config(local);
        let peer = |k: usize| Peer {
            rank: cluster.node_rank as usize * local + k,
            count,
            local: k,
            timeout: cluster.timeout,
        };
        let mut work = Vec::new();
        let mut done = Vec::new();
        for k in 1..local {
            let (work_tx, work_rx) = sync_channel::<Work>(1);
            let (done_tx, done_rx) = sync_channel(1);
            let device = &settings.devices[k];
            let own = StepSettings {
                devices: std::slice::from_ref(device),
                ..settings.clone()
            };
            let (model, optim, peer, config) = (
                model.clone().fork(device),
                optim.clone(),
                peer(k),
                config.clone(),
            );
            scope.spawn(move || {
                let joined = peer
                    .register::<B::InnerBackend>(device, config)
                    .and_then(|()| agree::<B>(&peer, start_step, device));
                let failed = joined.is_err();
                if done_tx.send(joined).is_err() || failed {
                    return;
                }
                serve(&own, &peer, model, optim, work_rx, done_tx);
            });
            work.push(work_tx);
            done.push(done_rx);
        }
        let main = peer(0);
        let device = &settings.devices[0];
        let joined = main
            .register::<B::InnerBackend>(device, config)
            .and_then(|()| agree::<B>(&main, start_step, device));
        let peers = Self {
            main,
            work,
            done,
            _session: session,
        };
        joined?;
        peers.collect()?;
        Ok(peers)
    }

    /// One optimiser step on every peer of this node (this thread being the first); returns the
    /// first peer's model and what it measured (the same on every peer).
    pub(crate) fn step<B, O>(
        &self,
        settings: &StepSettings<'_, B>,
        model: BiEncoderModel<B>,
        optim: &mut O,
        step: u64,
        batches: &Arc<Vec<TrainBatch>>,
        lr: f64,
    ) -> Result<(BiEncoderModel<B>, StepStats), TrainError>
    where
        B: crate::TrainingBackend,
        O: Optimizer<BiEncoderModel<B>, B>,
    {
        for (k, tx) in self.work.iter().enumerate() {
            tx.send(Work {
                step,
                batches: batches.clone(),
                lr,
            })
            .map_err(|_| stopped(k + 1))?;
        }
        // This thread's peer runs on the first device, which `peer_step` takes.
        let mine = settings.peer_step(&self.main, model, optim, step, batches, lr);
        let others = self.collect();
        let out = mine?;
        others?;
        Ok(out)
    }

    /// Waits for every other peer's answer; the first error wins.
    fn collect(&self) -> Result<(), TrainError> {
        let mut first = Ok(());
        for (k, rx) in self.done.iter().enumerate() {
            let answer = rx.recv().unwrap_or_else(|_| Err(stopped(k + 1)));
            if first.is_ok() {
                first = answer;
            }
        }
        first
    }

    /// Leaves the run: the other peers' threads leave the collective and end, then this one
    /// leaves for peer 0; the first error any peer met.
    pub(crate) fn finish<B: crate::TrainingBackend>(mut self) -> Result<(), TrainError> {
        let others = self.stop_threads();
        let mine = self.main.finish::<B::InnerBackend>();
        others.and(mine)
    }

    /// Ends the other peers' threads and waits until each has ended (after leaving the
    /// collective), returning the first error any reported.
    fn stop_threads(&mut self) -> Result<(), TrainError> {
        self.work.clear();
        let mut first = Ok(());
        for rx in self.done.drain(..) {
            // Answers until the thread ends and its sender with it.
            while let Ok(answer) = rx.recv() {
                if first.is_ok() {
                    first = answer;
                }
            }
        }
        first
    }
}

impl Drop for Peers {
    /// The session is released only once every peer thread has ended: a thread still leaving the
    /// collective must not meet the next run's reset.
    fn drop(&mut self) {
        let _ = self.stop_threads();
    }
}

/// A peer thread's loop: one step per [`Work`], its outcome sent back, until the driver stops;
/// then it leaves the collective and sends how that went.
fn serve<B, O>(
    settings: &StepSettings<'_, B>,
    peer: &Peer,
    mut model: BiEncoderModel<B>,
    mut optim: O,
    work: Receiver<Work>,
    done: SyncSender<Result<(), TrainError>>,
) where
    B: crate::TrainingBackend,
    O: Optimizer<BiEncoderModel<B>, B>,
{
    while let Ok(w) = work.recv() {
        match settings.peer_step(peer, model, &mut optim, w.step, &w.batches, w.lr) {
            Ok((next, _)) => model = next,
            Err(e) => {
                let _ = done.send(Err(e));
                return;
            }
        }
        if done.send(Ok(())).is_err() {
            return;
        }
    }
    let _ = done.send(peer.finish::<B::InnerBackend>());
}

/// Checks that every peer of the run starts at the same step and that the run has the peer
/// count this node expects (every node runs the same number of devices).
fn agree<B: crate::TrainingBackend>(
    peer: &Peer,
    start_step: u64,
    device: &B::Device,
) -> Result<(), TrainError> {
    let wrapped = (start_step % 4096) as f32;
    let mine = [1.0, start_step as f32, wrapped * wrapped];
    let values = burn::tensor::Tensor::<B::InnerBackend, 1>::from_floats(mine, device);
    let sums = peer
        .sum(values, "checking that every peer starts together")?
        .into_data()
        .convert::<f64>()
        .into_vec::<f64>()
        .expect("float values");
    let n = peer.count as f64;
    if (sums[0] - n).abs() > 0.5 {
        return Err(TrainError::Collective {
            detail: format!(
                "the run has {} peers but this node expects {} (every node must run the same \
                 number of devices, and --nodes must be the same everywhere)",
                sums[0], peer.count
            ),
        });
    }
    let same =
        |sum: f64, own: f32| (sum - n * own as f64).abs() <= 1e-6 * (n * own as f64).abs().max(1.0);
    if !same(sums[1], mine[1]) || !same(sums[2], mine[2]) {
        return Err(TrainError::Collective {
            detail: format!(
                "peers start from different steps (this one from step {start_step}, the mean is \
                 {:.1}); every node must see the same checkpoints (a shared output folder) and \
                 be given the same --resume/--overwrite",
                sums[1] / n
            ),
        });
    }
    Ok(())
}

fn stopped(k: usize) -> TrainError {
    TrainError::Collective {
        detail: format!("the thread of this node's peer {k} stopped"),
    }
}
