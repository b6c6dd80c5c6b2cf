//! WS2 in your own Burn model: two linear towers learn to rank graded passages.
//! `cargo run -p rankwise-loss --features ndarray --example two_tower`
use burn::backend::{Autodiff, NdArray};
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::{Distribution::Normal, Int, Tensor, backend::Backend};
use rankwise_loss::WassersteinLossConfig;

#[derive(Module, Debug)]
struct TwoTower<B: Backend> {
    query: Linear<B>,
    passage: Linear<B>,
}

fn main() {
    type B = Autodiff<NdArray>;
    let (dev, queries, levels, dim) = (Default::default(), 8, 4, 16);
    B::seed(&dev, 0);
    let init = || LinearConfig::new(dim, dim).init::<B>(&dev);
    let mut model = TwoTower {
        query: init(),
        passage: init(),
    };
    let mut optim = AdamConfig::new().init();
    // In-batch negatives: every query is scored against all passages of the batch.
    let ws2 = WassersteinLossConfig::new().init().expect("valid settings");
    // Query i's passage at level l is l/3 of the query plus noise; labels [queries, levels].
    let labels = Tensor::<B, 1, Int>::from_ints([3, 2, 1, 0], &dev)
        .unsqueeze::<2>()
        .repeat_dim(0, queries);
    let weight = labels
        .clone()
        .float()
        .div_scalar(3.0)
        .reshape([queries * levels, 1]);
    let mut losses = Vec::new();
    for _ in 0..200 {
        let q = Tensor::<B, 2>::random([queries, dim], Normal(0.0, 1.0), &dev);
        let noise = Tensor::<B, 2>::random([queries * levels, dim], Normal(0.0, 1.0), &dev);
        let p = q
            .clone()
            .repeat_dim(1, levels)
            .reshape([queries * levels, dim])
            * weight.clone()
            + noise * (weight.clone().neg() + 1.0);
        let scores = model
            .query
            .forward(q)
            .matmul(model.passage.forward(p).transpose());
        let loss = ws2.forward(scores, labels.clone()).expect("valid input"); // [1], a sum
        losses.push(loss.clone().into_scalar());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-2, model, grads);
    }
    let mean = |s: &[f32]| s.iter().sum::<f32>() / s.len() as f32;
    let (first, last) = (mean(&losses[..20]), mean(&losses[180..]));
    println!("WS2 loss: first 20 steps {first:.4}, last 20 steps {last:.4}");
    assert!(last < 0.8 * first, "the loss did not fall");
}
