//! `experiments orchestrator`: Burn's global orchestrator, which the nodes of a training run
//! over several machines join (`experiments train --nodes N --orchestrator ws://host:port`).

/// Arguments of `orchestrator`.
#[derive(clap::Args)]
#[command(
    after_help = "Example (then start `experiments train --nodes 2 ...` on each machine):\n  \
    experiments orchestrator --port 29500"
)]
pub struct Args {
    /// Port to listen on (every interface).
    #[arg(long, default_value_t = 29500)]
    pub port: u16,
}

/// Runs `orchestrator` until it is stopped (Ctrl+C or SIGTERM).
pub fn run(args: Args) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    tracing::info!(
        "orchestrator on port {} (nodes join it as ws://<this host>:{}); Ctrl+C stops it",
        args.port,
        args.port
    );
    runtime.block_on(burn_collective::start_global_orchestrator(args.port));
    Ok(())
}
