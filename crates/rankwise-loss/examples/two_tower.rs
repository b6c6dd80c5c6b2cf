//! WS2 in your own Burn model: two linear towers learn to rank graded passages.
//! `cargo run -p rankwise-loss --features ndarray --example two_tower`
use burn::backend::{Autodiff, NdArray};
use burn::nn::LinearConfig;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::Distribution::Normal;
use rankwise_loss::WassersteinLossConfig;

fn main() {
    type B = Autodiff<NdArray>;
    let (dev, n, d) = (Default::default(), 8, 16); // 8 queries, 4 passages each at levels 3..0
    let tower = || LinearConfig::new(d, d).init::<B>(&dev);
    let (mut model, mut optim) = ((tower(), tower()), AdamConfig::new().init()); // query, passage
    let ws2 = WassersteinLossConfig::new().init().unwrap(); // in-batch negatives: scores [n, 4n]
    let labels = Tensor::<B, 2, Int>::from_ints([[3, 2, 1, 0]], &dev).repeat_dim(0, n);
    let share = labels.clone().float().reshape([n * 4, 1]) / 3.0; // of its query in a passage
    let mut losses = Vec::new();
    for _ in 0..200 {
        let q = Tensor::<B, 2>::random([n, d], Normal(0.0, 1.0), &dev);
        let noise =
            Tensor::random([n * 4, d], Normal(0.0, 1.0), &dev) * (share.clone().neg() + 1.0);
        let p = q.clone().repeat_dim(1, 4).reshape([n * 4, d]) * share.clone() + noise;
        let scores = model.0.forward(q).matmul(model.1.forward(p).transpose());
        let loss = ws2.forward(scores, labels.clone()).unwrap(); // [1]: the batch's WS2, a sum
        losses.push(loss.clone().into_scalar());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-2, model, grads);
    }
    let mean = |s: &[f32]| s.iter().sum::<f32>() / s.len() as f32;
    let (first, last) = (mean(&losses[..20]), mean(&losses[180..]));
    println!("WS2 loss: first 20 steps {first:.4}, last 20 steps {last:.4}");
    assert!(last < 0.8 * first, "the loss did not fall");
}
