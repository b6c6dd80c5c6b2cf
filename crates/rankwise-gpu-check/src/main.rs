//! `gpu-check`: the CUDA (or wgpu) path of rankwise against the reference fixtures and
//! PyTorch on the same device. `scripts/gpu-check/run.sh` runs it stage by stage; see
//! BENCHMARKS.md, "Running the GPU check".

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use rankwise_gpu_check::texts::Texts;
use rankwise_gpu_check::{BackendKind, Inputs, Stage, Status, report, run_stages};

#[derive(Parser)]
#[command(about = "The GPU check: fused kernels, parity and speed of rankwise on a device")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Device backend.
    #[arg(long, value_enum, default_value = "cuda")]
    backend: BackendKind,
    /// Run folder: stage reports go to `<out>/stages/`.
    #[arg(long)]
    out: PathBuf,
    /// Reference fixtures (holding `ws2/` and `encoder/tiny-bert/`); default: the shared
    /// folder's `reference/`.
    #[arg(long)]
    reference: Option<PathBuf>,
    /// Models and texts of the speed stages (`bert-base/`, `minilm/`, `texts.json`).
    #[arg(long)]
    work: Option<PathBuf>,
    /// Tiny shapes and the tiny BERT everywhere (seconds; checks every code path).
    #[arg(long)]
    smoke: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Runs one stage and writes `<out>/stages/<stage>.json`.
    Stage {
        /// The stage.
        #[arg(value_enum)]
        stage: Stage,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Runs every stage in this process, then writes the report.
    All {
        #[command(flatten)]
        run: RunArgs,
    },
    /// Writes the texts of the speed stages (read by rankwise and the PyTorch baseline).
    Texts {
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        /// Queries.
        #[arg(long, default_value_t = 64)]
        queries: usize,
        /// Passages.
        #[arg(long, default_value_t = 10_000)]
        passages: usize,
    },
    /// Joins a run folder's stage reports, PyTorch baselines and device description into
    /// `report.json` and `report.md`; exits 1 when a stage failed.
    Report {
        /// Run folder.
        #[arg(long)]
        out: PathBuf,
    },
}

fn inputs(run: &RunArgs) -> anyhow::Result<Inputs> {
    let reference = match &run.reference {
        Some(dir) => dir.clone(),
        None => rankwise_assets::reference("").context(
            "no reference fixtures: pass --reference (the run script passes the carried copy)",
        )?,
    };
    anyhow::ensure!(
        reference.join("ws2").is_dir() && reference.join("encoder/tiny-bert").is_dir(),
        "{} does not hold ws2/ and encoder/tiny-bert/",
        reference.display()
    );
    Ok(Inputs {
        reference,
        work: run.work.clone(),
        smoke: run.smoke,
    })
}

fn stages(run: &RunArgs, stages: &[Stage]) -> anyhow::Result<bool> {
    let inputs = inputs(run)?;
    let mut all_passed = true;
    run_stages(run.backend, stages, &inputs, |r| {
        all_passed &= r.status != Status::Failed;
        eprintln!(
            "{}: {:?} in {:.1} s{}",
            r.stage,
            r.status,
            r.seconds,
            r.error
                .as_ref()
                .map_or(String::new(), |e| format!(" ({e})"))
        );
        report::write_stage(&run.out, r)
    })?;
    Ok(all_passed)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let ok = match cli.command {
        Command::Stage { stage, run } => stages(&run, &[stage])?,
        Command::All { run } => {
            let ok = stages(&run, &Stage::ALL)?;
            let r = report::write(&run.out)?;
            println!("{}", report::markdown(&r));
            ok
        }
        Command::Texts {
            out,
            queries,
            passages,
        } => {
            Texts::generate(queries, passages).write(&out)?;
            true
        }
        Command::Report { out } => {
            let r = report::write(&out)?;
            println!("{}", report::markdown(&r));
            r.passed
        }
    };
    if !ok {
        std::process::exit(1);
    }
    Ok(())
}
