//! The GPU check itself: its parity stages pass on correct code and fail on a wrong reference
//! (CPU), every stage runs end to end on wgpu (lavapipe in CI: everything but meaningful
//! timings), the report joins stages and baselines, and a build without a backend says so.

use std::path::{Path, PathBuf};
use std::process::Command;

use burn::backend::{Autodiff, NdArray};
use rankwise_gpu_check::{Inputs, Stage, StageReport, Status, Timing, report, run_stage};

type Cpu = Autodiff<NdArray>;

fn reference() -> PathBuf {
    rankwise_assets::reference("").expect("reference fixtures")
}

fn smoke(reference: PathBuf) -> Inputs {
    Inputs {
        reference,
        work: None,
        smoke: true,
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn parity_stages_pass_on_the_cpu_backend() {
    let inputs = smoke(reference());
    for stage in [Stage::Ws2Parity, Stage::EncoderParity] {
        let r = run_stage::<Cpu>(stage, "ndarray", &Default::default(), &inputs);
        assert_eq!(r.status, Status::Passed, "{r:#?}");
        assert!(r.checks.len() >= 4, "{}: too few checks", r.stage);
    }
}

#[test]
fn parity_stages_fail_on_a_wrong_reference() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&reference().join("ws2"), &dir.path().join("ws2"));
    copy_dir(
        &reference().join("encoder/tiny-bert"),
        &dir.path().join("encoder/tiny-bert"),
    );
    // One WS2 case's loss off by 1 %, and the contrastive fixture's loss off by 1 %.
    let case = dir.path().join("ws2/c_b4_n4_inbatch.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&case).unwrap()).unwrap();
    v["loss"] = (v["loss"].as_f64().unwrap() * 1.01).into();
    std::fs::write(&case, v.to_string()).unwrap();
    let grad = dir.path().join("encoder/tiny-bert/grad_expected.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&grad).unwrap()).unwrap();
    v["loss"] = (v["loss"].as_f64().unwrap() * 1.01).into();
    std::fs::write(&grad, v.to_string()).unwrap();

    let inputs = smoke(dir.path().to_path_buf());
    for (stage, failing) in [
        (Stage::Ws2Parity, "c_b4_n4_inbatch loss"),
        (Stage::EncoderParity, "contrastive loss"),
    ] {
        let r = run_stage::<Cpu>(stage, "ndarray", &Default::default(), &inputs);
        assert_eq!(r.status, Status::Failed, "{}", r.stage);
        let bad: Vec<&str> = r
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name.as_str())
            .collect();
        assert!(
            bad.len() == 1 && bad[0].starts_with(failing),
            "{}: failed checks {bad:?}",
            r.stage
        );
    }
}

#[test]
fn a_missing_fixture_fails_the_stage_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let r = run_stage::<Cpu>(
        Stage::Ws2Parity,
        "ndarray",
        &Default::default(),
        &smoke(dir.path().to_path_buf()),
    );
    assert_eq!(r.status, Status::Failed);
    let e = r.error.unwrap();
    assert!(e.contains("ws2"), "{e}");
}

fn timing(name: &str, value: f64, lower_is_better: bool) -> Timing {
    Timing {
        name: name.into(),
        value,
        unit: if lower_is_better { "ms" } else { "queries/s" }.into(),
        lower_is_better,
        extra: Default::default(),
    }
}

#[test]
fn report_joins_stages_baselines_and_goals() {
    let dir = tempfile::tempdir().unwrap();
    let stage = |name: &str, timings: Vec<Timing>| StageReport {
        stage: name.into(),
        backend: "cuda".into(),
        status: Status::Passed,
        seconds: 1.0,
        checks: vec![],
        timings,
        notes: vec![],
        error: None,
    };
    report::write_stage(
        dir.path(),
        &stage("ws2-speed", vec![timing("ws2 64x448", 0.5, true)]),
    )
    .unwrap();
    report::write_stage(
        dir.path(),
        &stage("train-step", vec![timing("train f32", 30.0, false)]),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("torch")).unwrap();
    std::fs::write(
        dir.path().join("torch/ws2-speed.json"),
        serde_json::json!({"timings": [timing("ws2 64x448", 20.0, true)], "notes": []}).to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("torch/train-step.json"),
        serde_json::json!({"timings": [timing("train f32", 40.0, false)]}).to_string(),
    )
    .unwrap();
    let r = report::write(dir.path()).unwrap();
    let speedup = |name: &str| {
        r.comparisons
            .iter()
            .find(|c| c.rankwise.name == name)
            .and_then(|c| c.speedup)
            .unwrap()
    };
    assert!((speedup("ws2 64x448") - 40.0).abs() < 1e-12, "time ratio");
    assert!(
        (speedup("train f32") - 0.75).abs() < 1e-12,
        "throughput ratio"
    );
    // Three stages never reported: the run is failed and says why.
    assert!(!r.passed);
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("≥ 20×: met"), "{md}");
    assert!(md.contains("≥ 1×: **not met**"), "{md}");
    assert!(md.contains("did not finish"), "{md}");
    // A stage with timings and no PyTorch file: the baseline's absence is named.
    report::write_stage(
        dir.path(),
        &stage("encode", vec![timing("encode", 100.0, false)]),
    )
    .unwrap();
    let md = report::markdown(&report::build(dir.path()).unwrap());
    assert!(md.contains("PyTorch encode: no baseline"), "{md}");
    assert!(dir.path().join("report.json").is_file());
}

#[test]
fn a_build_without_the_backend_fails_at_once_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let start = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_gpu-check"))
        .args(["stage", "ws2-parity", "--backend", "cuda", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(start.elapsed().as_secs() < 5, "took {:?}", start.elapsed());
    if cfg!(feature = "cuda") {
        // Built for CUDA on a machine without a GPU: the driver's absence is named.
        assert!(
            stderr.contains("no NVIDIA GPU") || stderr.contains("no cuda device"),
            "{stderr}"
        );
    } else {
        assert!(stderr.contains("without the `cuda` feature"), "{stderr}");
    }
}

/// Every stage on wgpu with tiny shapes: the kernels, the encoder, a training step and
/// encoding run on the device and match the references (lavapipe in CI).
#[cfg(feature = "wgpu")]
#[test]
fn every_stage_runs_on_wgpu() {
    use rankwise_gpu_check::{BackendKind, run_stages};
    let required = std::env::var("RANKWISE_REQUIRE_WGPU").is_ok_and(|v| v == "1");
    let mut reports = Vec::new();
    let result = run_stages(BackendKind::Wgpu, &Stage::ALL, &smoke(reference()), |r| {
        reports.push(r.clone());
        Ok(())
    });
    if let Err(e) = result {
        assert!(!required, "RANKWISE_REQUIRE_WGPU=1 but: {e:#}");
        eprintln!("SKIPPED: {e:#}");
        return;
    }
    assert_eq!(reports.len(), Stage::ALL.len());
    for r in &reports {
        assert_eq!(r.status, Status::Passed, "{r:#?}");
    }
    assert!(
        reports[0].checks.len() >= 20,
        "every WS2 case, loss and gradient"
    );
    for r in &reports[2..] {
        assert!(
            r.timings
                .iter()
                .all(|t| t.value.is_finite() && t.value > 0.0)
                && !r.timings.is_empty(),
            "{r:#?}"
        );
    }
}
