//! Importing only `rankwise-loss` (and Burn), train a toy bi-encoder with WS2: the loss falls and
//! the ranking of each query's graded passages improves.

use burn::backend::{Autodiff, NdArray};
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::{Distribution, Int, Tensor, TensorData, backend::Backend};
use rankwise_loss::WassersteinLossConfig;

type B = Autodiff<NdArray>;

#[derive(Module, Debug)]
struct Towers<B: Backend> {
    query: Linear<B>,
    passage: Linear<B>,
}

impl<B: Backend> Towers<B> {
    fn scores(&self, q: Tensor<B, 2>, p: Tensor<B, 2>) -> Tensor<B, 2> {
        self.query
            .forward(q)
            .matmul(self.passage.forward(p).transpose())
    }
}

const BQ: usize = 8;
const N: usize = 4;
const D: usize = 16;

/// Queries and passages whose relevance level sets how much of the (mixed by a fixed random
/// matrix `mix`) query they contain: an untrained model ranks them at chance.
fn batch(
    mix: &Tensor<B, 2>,
    device: &burn::tensor::Device<B>,
) -> (Tensor<B, 2>, Tensor<B, 2>, Tensor<B, 2, Int>) {
    let q = Tensor::<B, 2>::random([BQ, D], Distribution::Normal(0.0, 1.0), device);
    let noise = Tensor::<B, 3>::random([BQ, N, D], Distribution::Normal(0.0, 1.0), device);
    let levels: Vec<i64> = (0..BQ * N).map(|k| [3, 2, 1, 0][(k + k / N) % N]).collect();
    let weights: Vec<f32> = levels.iter().map(|&l| l as f32 / 3.0).collect();
    let w = Tensor::<B, 3>::from_data(TensorData::new(weights, [BQ, N, 1]), device);
    let p = q.clone().matmul(mix.clone()).reshape([BQ, 1, D]) * w.clone() * 0.4
        + noise * (w.neg() + 1.0);
    let labels = Tensor::<B, 2, Int>::from_data(TensorData::new(levels, [BQ, N]), device);
    (q, p.reshape([BQ * N, D]), labels)
}

/// Fraction of correctly ordered (higher level, lower level) pairs of own passages.
fn pair_accuracy(scores: &Tensor<B, 2>, labels: &Tensor<B, 2, Int>) -> f64 {
    let s: Vec<f32> = scores.clone().into_data().to_vec().unwrap();
    let y: Vec<i64> = labels.clone().into_data().to_vec().unwrap();
    let (mut good, mut all) = (0, 0);
    for i in 0..BQ {
        for j in 0..N {
            for k in 0..N {
                if y[i * N + j] > y[i * N + k] {
                    all += 1;
                    good += (s[i * BQ * N + i * N + j] > s[i * BQ * N + i * N + k]) as usize;
                }
            }
        }
    }
    good as f64 / all as f64
}

#[test]
fn ws2_trains_a_toy_bi_encoder() {
    let device = Default::default();
    B::seed(&device, 7);
    let mut towers = Towers {
        query: LinearConfig::new(D, D).init::<B>(&device),
        passage: LinearConfig::new(D, D).init::<B>(&device),
    };
    let mix = Tensor::<B, 2>::random([D, D], Distribution::Normal(0.0, 0.5), &device);
    let mut optim = AdamConfig::new().init();
    let loss_fn = WassersteinLossConfig::new()
        .with_temperature(1.0)
        .init()
        .unwrap();
    let (eval_q, eval_p, eval_y) = batch(&mix, &device);
    let eval = |t: &Towers<B>| pair_accuracy(&t.scores(eval_q.clone(), eval_p.clone()), &eval_y);
    let before = eval(&towers);
    let mut losses = Vec::new();
    for _ in 0..150 {
        let (q, p, y) = batch(&mix, &device);
        let loss = loss_fn.forward(towers.scores(q, p), y).unwrap();
        losses.push(loss.clone().into_scalar());
        let grads = GradientsParams::from_grads(loss.backward(), &towers);
        towers = optim.step(3e-2, towers, grads);
    }
    let first: f32 = losses[..10].iter().sum::<f32>() / 10.0;
    let last: f32 = losses[losses.len() - 10..].iter().sum::<f32>() / 10.0;
    let after = eval(&towers);
    eprintln!("loss {first} → {last}, pair accuracy {before} → {after}");
    assert!(last < 0.8 * first, "loss did not fall: {first} → {last}");
    assert!(
        after > before + 0.1,
        "pair accuracy did not rise: {before} → {after}"
    );
}

/// The example a user would copy (`examples/two_tower.rs`, on `rankwise-loss` and `burn` alone)
/// runs to the end and its loss falls (it asserts so itself). Cargo builds a package's examples
/// before running its tests; the binary sits in `examples/` beside this test's `deps/`.
#[test]
fn the_two_tower_example_runs_and_its_loss_falls() {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let example = profile_dir
        .join("examples")
        .join(format!("two_tower{}", std::env::consts::EXE_SUFFIX));
    let out = std::process::Command::new(&example)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (built with --features ndarray?)",
                example.display()
            )
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("WS2 loss: first 20 steps"), "{stdout}");
}
