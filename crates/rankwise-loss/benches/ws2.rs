//! WS2 forward + backward at the paper's shapes.
//!
//! Prints the median time per call of the f64 host path on the CPU backend and, with feature
//! `wgpu`, of the fused kernel on wgpu, with the ratio against the host path measured in the
//! same run. When Python with torch is installed, `scripts/bench_ws2_torch.py` times the
//! paper's PyTorch formulation on the same machine and the ratio is printed too.
//!
//! `cargo bench -p rankwise-loss --features wgpu --bench ws2`

use std::process::Command;
use std::time::{Duration, Instant};

use burn::backend::{Autodiff, NdArray};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Distribution, Int, Tensor, TensorData};
use rankwise_loss::{WassersteinLossConfig, Ws2Backend};

const SHAPES: [(usize, usize); 4] = [(16, 4), (16, 7), (64, 4), (64, 7)];

fn median_micros<B: AutodiffBackend + Ws2Backend>(b: usize, n: usize, device: &B::Device) -> f64 {
    let m = b * n;
    let scores = Tensor::<B, 2>::random([b, m], Distribution::Normal(1.0, 0.5), device);
    let labels: Vec<i64> = (0..b * n)
        .map(|k| (3 - (k * 5 + k / n) % 4) as i64)
        .collect();
    let labels = Tensor::<B, 2, Int>::from_data(TensorData::new(labels, [b, n]), device);
    let loss = WassersteinLossConfig::new()
        .with_check_finite(false)
        .init()
        .expect("valid settings");
    let run = || {
        let s = scores.clone().require_grad();
        let l = loss.forward(s.clone(), labels.clone()).unwrap();
        let mut g = l.backward();
        // Read the gradient back: the time includes the device round trip a training step pays.
        // (Taken out of the container, as a training step would: NdArray copies a tensor that is
        // still shared element by element.)
        let _ = s.grad_remove(&mut g).unwrap().into_data();
    };
    for _ in 0..3 {
        run();
    }
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 200 && (times.len() < 10 || start.elapsed() < Duration::from_secs(2)) {
        let t = Instant::now();
        run();
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn torch_micros() -> Option<Vec<f64>> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/bench_ws2_torch.py"
    );
    let python = std::env::var("RANKWISE_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(python).arg(script).output().ok()?;
    if !out.status.success() {
        eprintln!(
            "PyTorch baseline unavailable: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Some(
        text.split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect(),
    )
}

fn main() {
    let torch = torch_micros();
    println!("WS2 forward+backward, median µs per call (B×m)");
    println!(
        "{:>8}  {:>12}  {:>12}  {:>12}  {:>10}  {:>10}",
        "shape", "cpu host f64", "wgpu kernel", "torch cpu", "kernel/cpu", "torch/cpu"
    );
    for (k, &(b, n)) in SHAPES.iter().enumerate() {
        let cpu = median_micros::<Autodiff<NdArray>>(b, n, &Default::default());
        #[cfg(feature = "wgpu")]
        let gpu = Some(median_micros::<Autodiff<burn::backend::Wgpu>>(
            b,
            n,
            &Default::default(),
        ));
        #[cfg(not(feature = "wgpu"))]
        let gpu: Option<f64> = None;
        let t = torch.as_ref().and_then(|t| t.get(k).copied());
        let fmt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
        let ratio = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.2}x", v / cpu));
        println!(
            "{:>8}  {:>12.1}  {:>12}  {:>12}  {:>10}  {:>10}",
            format!("{b}×{}", b * n),
            cpu,
            fmt(gpu),
            fmt(t),
            ratio(gpu),
            ratio(t)
        );
    }
    println!(
        "(ratios are time / cpu-host time: torch/cpu > 1 means rankwise is faster than PyTorch)"
    );
}
