//! The convolutional workloads: c1 (digits CNN epoch), c2 (LeNet-5 step) and c3 (one 64 -> 64 3x3
//! convolution, forward and backward). Each follows its reference in `torch_ref.py` step for step, with the
//! `nn` layers and the engine's `conv2d` as a user would write them.

use crate::report::{J, base, stats};
use crate::training::{class_step, digits_epochs};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::error::Error;
use std::time::Instant;
use tapegrad::{Padding, Tape, Tensor};
use tapegrad_nn::optim::{Sgd, SgdConfig};
use tapegrad_nn::{Activation, Conv2d, Flatten, Linear, MaxPool2d, Sequential};

type R<T> = Result<T, Box<dyn Error>>;

/// The digits CNN of c1: two 3x3 "same" convolutions (1 -> 16 -> 32) each with ReLU and 2x2 max pooling,
/// then 128 -> 64 -> 10.
pub fn digits_cnn(rng: &mut StdRng) -> R<Sequential<f32>> {
    Ok(Sequential::new()
        .with(Conv2d::new(1, 16, (3, 3), rng)?.padding(Padding::Same))
        .with(Activation::Relu)
        .with(MaxPool2d::new((2, 2)))
        .with(Conv2d::new(16, 32, (3, 3), rng)?.padding(Padding::Same))
        .with(Activation::Relu)
        .with(MaxPool2d::new((2, 2)))
        .with(Flatten::new())
        .with(Linear::new(128, 64, rng)?)
        .with(Activation::Relu)
        .with(Linear::new(64, 10, rng)?))
}

/// `[n, 64]` rows as `[n, 1, 8, 8]` images (a view: no copy).
fn images(x: &Tensor<f32>) -> R<Tensor<f32>> {
    Ok(x.reshape([x.dims()[0], 1, 8, 8])?)
}

/// c1: the digits CNN, Adam 1e-3, batch 32 (last partial batch kept), reshuffled every epoch, 30 epochs; the
/// time of each epoch covers shuffle, batch gather, forward, backward and update.
pub fn c1(threads: usize) -> R<Vec<(&'static str, J)>> {
    let mut rng = StdRng::seed_from_u64(0);
    let mut model = digits_cnn(&mut rng)?;
    digits_epochs("c1", threads, &mut model, &mut rng, images)
}

/// c2: LeNet-5 on a batch of 64 `[1, 28, 28]` inputs U(-1, 1) with random labels, SGD 0.01: one step
/// including reading the loss. 60 steps, the first 10 are warm-up.
pub fn c2(threads: usize) -> R<Vec<(&'static str, J)>> {
    let mut rng = StdRng::seed_from_u64(0);
    let x = Tensor::<f32>::rand_uniform([64, 1, 28, 28], -1.0, 1.0, &mut rng)?;
    let labels: Vec<usize> = (0..64).map(|_| rng.random_range(0..10)).collect();
    let mut model = Sequential::new()
        .with(Conv2d::new(1, 6, (5, 5), &mut rng)?.padding(Padding::symmetric(2, 2)))
        .with(Activation::Relu)
        .with(MaxPool2d::new((2, 2)))
        .with(Conv2d::new(6, 16, (5, 5), &mut rng)?)
        .with(Activation::Relu)
        .with(MaxPool2d::new((2, 2)))
        .with(Flatten::new())
        .with(Linear::new(400, 120, &mut rng)?)
        .with(Activation::Relu)
        .with(Linear::new(120, 84, &mut rng)?)
        .with(Activation::Relu)
        .with(Linear::new(84, 10, &mut rng)?);
    let mut opt = Sgd::new(SgdConfig { lr: 0.01, ..Default::default() })?;
    let mut times = Vec::new();
    let mut loss = f32::NAN;
    for round in 0..60 {
        let t0 = Instant::now();
        loss = class_step(&mut model, &mut opt, &x, &labels)?;
        if round >= 10 {
            times.push(t0.elapsed().as_secs_f64());
        }
    }
    let (med, min, max) = stats(&times);
    let mut out = base("c2", threads);
    out.extend([("median_s", J::F(med)), ("min_s", J::F(min)), ("max_s", J::F(max)), ("loss", J::F(f64::from(loss)))]);
    Ok(out)
}

/// Floating-point operations of c3: forward, input gradient and weight gradient, each `2 N O H W C 9`.
pub const C3_FLOPS: f64 = 3.0 * 2.0 * 32.0 * 64.0 * 32.0 * 32.0 * 64.0 * 9.0;

/// c3: one 3x3 convolution 64 -> 64, padding 1, on `x` `[32, 64, 32, 32]` U(-1, 1) and a weight U(-1, 1) / 24,
/// both leaves; backward of `sum(conv(x, w) * G)` for a fixed `G` U(0, 1) (so the output gradient is `G`, as
/// PyTorch's `y.backward(G)`), giving the input and weight gradients. 15 rounds, the first 3 are warm-up.
pub fn c3(threads: usize) -> R<Vec<(&'static str, J)>> {
    let mut rng = StdRng::seed_from_u64(0);
    let x0 = Tensor::<f32>::rand_uniform([32, 64, 32, 32], -1.0, 1.0, &mut rng)?;
    let w0 = Tensor::<f32>::rand_uniform([64, 64, 3, 3], -1.0 / 24.0, 1.0 / 24.0, &mut rng)?;
    let g0 = Tensor::<f32>::rand_uniform([32, 64, 32, 32], 0.0, 1.0, &mut rng)?;
    let mut times = Vec::new();
    let mut check = f64::NAN;
    for round in 0..15 {
        let t0 = Instant::now();
        {
            let tape = Tape::new();
            let (x, w) = (tape.leaf(x0.clone()), tape.leaf(w0.clone()));
            let y = x.conv2d(w, None, (1, 1), Padding::symmetric(1, 1))?;
            let grads = y.backward_with(g0.clone())?;
            let first = |v| grads.get(v).ok().flatten().map(|t| f64::from(t.data()[0])).unwrap_or(f64::NAN);
            check = first(x) + first(w);
        }
        if round >= 3 {
            times.push(t0.elapsed().as_secs_f64());
        }
    }
    let (med, min, max) = stats(&times);
    let mut out = base("c3", threads);
    out.extend([
        ("median_s", J::F(med)),
        ("min_s", J::F(min)),
        ("max_s", J::F(max)),
        ("gflops", J::F(C3_FLOPS / med / 1e9)),
        ("check", J::F(check)),
    ]);
    Ok(out)
}
