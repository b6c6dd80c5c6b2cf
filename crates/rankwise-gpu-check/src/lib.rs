//! The GPU check: proves the CubeCL path of rankwise on a real device in one short run.
//!
//! Five stages, each run on its own (`gpu-check stage …`, one process per stage so that a
//! failing or hanging stage cannot take the others with it) and each writing one JSON file:
//!
//! 1. [`Stage::Ws2Parity`]: the fused WS2 kernel (loss and gradient) against the f64 PyTorch
//!    fixtures (`reference/ws2`);
//! 2. [`Stage::EncoderParity`]: the encoder's blocks on the device against the Hugging Face
//!    fixtures of the tiny BERT (hidden states, pooled outputs, every parameter gradient), and
//!    f16/bf16 projections against f32 on the same device;
//! 3. [`Stage::Ws2Speed`]: WS2 forward + backward at the paper's batch shapes;
//! 4. [`Stage::TrainStep`]: one training step at the paper's shape (BERT-base, 64 queries ×
//!    group 4, length 256, WS2, AdamW, clipping), f32 and bf16;
//! 5. [`Stage::Encode`]: encoding 10,000 passages of length 256 with a MiniLM-shaped model.
//!
//! `scripts/gpu-check/torch_baselines.py` times the same work in PyTorch on the same device and
//! [`report`] joins both into `report.json` and `report.md` with the ratios.

pub mod encoder_parity;
pub mod report;
pub mod speed;
pub mod texts;
pub mod ws2_parity;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use rankwise_train::TrainingBackend;
use serde::{Deserialize, Serialize};

/// One stage of the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// The fused WS2 kernel against the f64 fixtures.
    Ws2Parity,
    /// The encoder against the Hugging Face fixtures; half precision against f32.
    EncoderParity,
    /// WS2 forward + backward timings.
    Ws2Speed,
    /// One training step at the paper's shape.
    TrainStep,
    /// Encoding throughput.
    Encode,
}

impl Stage {
    /// Every stage, in the order the check runs them.
    pub const ALL: [Stage; 5] = [
        Stage::Ws2Parity,
        Stage::EncoderParity,
        Stage::Ws2Speed,
        Stage::TrainStep,
        Stage::Encode,
    ];

    /// The stage's name in file names and reports.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Ws2Parity => "ws2-parity",
            Stage::EncoderParity => "encoder-parity",
            Stage::Ws2Speed => "ws2-speed",
            Stage::TrainStep => "train-step",
            Stage::Encode => "encode",
        }
    }
}

/// What the stages read.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The reference fixtures folder (holding `ws2/` and `encoder/tiny-bert/`).
    pub reference: PathBuf,
    /// Folder with the models and texts the speed stages use (`bert-base/`, `minilm/`,
    /// `texts.json`, written by the run script); `None` in smoke mode.
    pub work: Option<PathBuf>,
    /// Tiny shapes and the tiny BERT everywhere: exercises every code path in seconds (CI).
    pub smoke: bool,
}

impl Inputs {
    /// The tiny BERT fixture folder.
    pub fn tiny_bert(&self) -> PathBuf {
        self.reference.join("encoder/tiny-bert")
    }

    /// A model of the work folder, or the tiny BERT in smoke mode.
    pub fn model(&self, name: &str) -> anyhow::Result<PathBuf> {
        match (&self.work, self.smoke) {
            (_, true) => Ok(self.tiny_bert()),
            (Some(work), false) => {
                let dir = work.join(name);
                anyhow::ensure!(
                    dir.join("config.json").is_file(),
                    "no model in {} (the run script writes it with `torch_baselines.py models`)",
                    dir.display()
                );
                Ok(dir)
            }
            (None, false) => anyhow::bail!("this stage needs --work (or --smoke)"),
        }
    }
}

/// Outcome of a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every check within tolerance (timing stages: ran to the end).
    Passed,
    /// A check out of tolerance, or an error.
    Failed,
    /// Not run on this device (a reason is in `notes`).
    Skipped,
}

/// One compared quantity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Check {
    /// What was compared.
    pub name: String,
    /// The measured error (its meaning is in the name: max |Δ|, relative, …).
    pub error: f64,
    /// The largest error accepted.
    pub tolerance: f64,
    /// `error ≤ tolerance` (and finite).
    pub passed: bool,
}

impl Check {
    /// A check of `error` against `tolerance`.
    pub fn new(name: impl Into<String>, error: f64, tolerance: f64) -> Self {
        Self {
            name: name.into(),
            error,
            tolerance,
            passed: error.is_finite() && error <= tolerance,
        }
    }
}

/// One measured speed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Timing {
    /// Key shared with the PyTorch baseline (`ws2 64x448`, `train f32`, `encode`).
    pub name: String,
    /// The value.
    pub value: f64,
    /// Its unit (`ms`, `queries/s`, `passages/s`).
    pub unit: String,
    /// True for times (the ratio is then baseline / ours), false for throughputs.
    pub lower_is_better: bool,
    /// Further numbers of the same measurement (tokens/s, steps timed, …).
    #[serde(default)]
    pub extra: BTreeMap<String, f64>,
}

/// What a stage found.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Compared quantities.
    pub checks: Vec<Check>,
    /// Measured speeds.
    pub timings: Vec<Timing>,
    /// Remarks (skipped parts and why).
    pub notes: Vec<String>,
    /// Set when the stage did not run on this device, with the reason.
    pub skipped: Option<String>,
}

/// One stage's report, as written to `stages/<stage>.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageReport {
    /// [`Stage::name`].
    pub stage: String,
    /// Backend name (`cuda`, `wgpu`).
    pub backend: String,
    /// Outcome.
    pub status: Status,
    /// Wall time of the stage.
    pub seconds: f64,
    /// Compared quantities.
    pub checks: Vec<Check>,
    /// Measured speeds.
    pub timings: Vec<Timing>,
    /// Remarks.
    pub notes: Vec<String>,
    /// The error or panic message of a failed stage.
    pub error: Option<String>,
}

/// Runs one stage on `device`, turning errors and panics into a failed report.
pub fn run_stage<B: TrainingBackend>(
    stage: Stage,
    backend: &str,
    device: &B::Device,
    inputs: &Inputs,
) -> StageReport {
    let start = Instant::now();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match stage {
        Stage::Ws2Parity => ws2_parity::run::<B>(device, inputs),
        Stage::EncoderParity => encoder_parity::run::<B>(device, inputs),
        Stage::Ws2Speed => speed::ws2::<B>(device, inputs),
        Stage::TrainStep => speed::train_step::<B>(device, inputs),
        Stage::Encode => speed::encode::<B::InnerBackend>(device, inputs),
    }));
    let (outcome, error) = match result {
        Ok(Ok(outcome)) => (outcome, None),
        Ok(Err(e)) => (Outcome::default(), Some(format!("{e:#}"))),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic without a message".into());
            (Outcome::default(), Some(format!("panicked: {message}")))
        }
    };
    let mut notes = outcome.notes;
    let status = if error.is_some() || outcome.checks.iter().any(|c| !c.passed) {
        Status::Failed
    } else if let Some(reason) = outcome.skipped {
        notes.push(reason);
        Status::Skipped
    } else {
        Status::Passed
    };
    StageReport {
        stage: stage.name().into(),
        backend: backend.into(),
        status,
        seconds: start.elapsed().as_secs_f64(),
        checks: outcome.checks,
        timings: outcome.timings,
        notes,
        error,
    }
}

/// `max |a − b|` (NaN when the lengths differ or a value is not finite).
pub fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    if a.len() != b.len() {
        return f64::NAN;
    }
    a.iter().zip(b).fold(0.0, |m, (x, y)| {
        let d = (x - y).abs();
        if d.is_nan() || m.is_nan() {
            f64::NAN
        } else {
            m.max(d)
        }
    })
}

/// `max |v|`.
pub fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// Tensor values as f64.
pub fn values<B: burn::tensor::backend::Backend, const D: usize>(
    t: burn::tensor::Tensor<B, D>,
) -> Vec<f64> {
    t.into_data()
        .convert::<f64>()
        .into_vec::<f64>()
        .expect("float tensor")
}

/// The devices the check runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendKind {
    /// NVIDIA GPUs through CUDA (feature `cuda`).
    Cuda,
    /// wgpu: Vulkan, Metal, DX12 (feature `wgpu`; lavapipe in CI).
    Wgpu,
}

impl BackendKind {
    /// Name in reports.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Cuda => "cuda",
            BackendKind::Wgpu => "wgpu",
        }
    }
}

/// Runs `stages` on the first device of `backend`, each stage's report passed to `done` as
/// soon as it is finished. Fails at once, naming the cause, when the backend was not compiled
/// in or no device answers.
pub fn run_stages(
    backend: BackendKind,
    stages: &[Stage],
    inputs: &Inputs,
    mut done: impl FnMut(&StageReport) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    match backend {
        BackendKind::Cuda => {
            #[cfg(feature = "cuda")]
            {
                use burn::backend::Cuda;
                let driver = [
                    "/dev/nvidiactl",
                    "/dev/nvidia0",
                    "/proc/driver/nvidia/version",
                ];
                if !driver.iter().any(|p| std::path::Path::new(p).exists()) {
                    anyhow::bail!(
                        "no NVIDIA GPU on this machine (none of {} exists): run the check where a GPU and its driver are installed",
                        driver.join(", ")
                    );
                }
                run_on::<Cuda>("cuda", stages, inputs, &mut done)
            }
            #[cfg(not(feature = "cuda"))]
            {
                let _ = (stages, inputs, &mut done);
                anyhow::bail!(
                    "this gpu-check was built without the `cuda` feature (build it with scripts/gpu-check/build.sh)"
                )
            }
        }
        BackendKind::Wgpu => {
            #[cfg(feature = "wgpu")]
            {
                run_on::<burn::backend::Wgpu>("wgpu", stages, inputs, &mut done)
            }
            #[cfg(not(feature = "wgpu"))]
            {
                let _ = (stages, inputs, &mut done);
                anyhow::bail!("this gpu-check was built without the `wgpu` feature")
            }
        }
    }
}

/// Opens the default device of `B` (failing at once when it does not answer) and runs
/// `stages` on it with automatic differentiation.
#[cfg(any(feature = "cuda", feature = "wgpu"))]
fn run_on<B: burn::tensor::backend::Backend>(
    name: &str,
    stages: &[Stage],
    inputs: &Inputs,
    done: &mut impl FnMut(&StageReport) -> anyhow::Result<()>,
) -> anyhow::Result<()>
where
    burn::backend::Autodiff<B>: TrainingBackend,
{
    type Ad<B> = burn::backend::Autodiff<B>;
    let device = Default::default();
    probe::<Ad<B>>(&device, name)?;
    for &stage in stages {
        done(&run_stage::<Ad<B>>(stage, name, &device, inputs))?;
    }
    Ok(())
}

/// A sum of two numbers on the device: the first touch, where a missing driver shows.
#[cfg(any(feature = "cuda", feature = "wgpu"))]
fn probe<B: burn::tensor::backend::Backend>(device: &B::Device, name: &str) -> anyhow::Result<()> {
    let sum = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        burn::tensor::Tensor::<B, 1>::from_floats([1.0, 2.0], device)
            .sum()
            .into_scalar()
    }));
    match sum {
        Ok(v) if burn::tensor::ElementConversion::elem::<f64>(v) == 3.0 => Ok(()),
        Ok(v) => anyhow::bail!(
            "the {name} device computes 1 + 2 = {}",
            burn::tensor::ElementConversion::elem::<f64>(v)
        ),
        Err(_) => anyhow::bail!(
            "no {name} device could be opened (driver or runtime library missing; the panic above names it)"
        ),
    }
}
