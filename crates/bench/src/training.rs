//! The workloads that train with the `nn` crate, as a user would: w1 (digits MLP), w3 (a big MLP step) and
//! w4 (XOR). Each follows its reference in `torch_ref.py` step for step.

use crate::data;
use crate::report::{J, base, stats};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::error::Error;
use std::time::Instant;
use tapegrad::{Tape, Tensor, argmax_rows};
use tapegrad_nn::data::{Batcher, Batching};
use tapegrad_nn::optim::{Adam, AdamConfig, Optimizer, Sgd, SgdConfig};
use tapegrad_nn::{Activation, Mlp, Module};

type R<T> = Result<T, Box<dyn Error>>;

/// One step of any classifier: forward, softmax cross-entropy, backward, then the update once the tape is
/// dropped. Returns the loss.
pub(crate) fn class_step<M: Module<f32>>(
    model: &mut M,
    opt: &mut impl Optimizer<f32>,
    x: &Tensor<f32>,
    labels: &[usize],
) -> R<f32> {
    let (loss, grads) = {
        let tape = Tape::new();
        let loss = model.forward(&tape, tape.input(x.clone()))?.softmax_cross_entropy(labels)?;
        (loss.item()?, loss.backward()?)
    };
    opt.step(&mut model.param_refs_mut(), &grads)?;
    Ok(loss)
}

/// The w1/c1 protocol for any digits classifier: Adam 1e-3, batch 32 (last partial batch kept), reshuffled
/// every epoch, 30 epochs, each timed (shuffle, batch gather, forward, backward, update); `input` turns a
/// batch's `[n, 64]` rows into what the model takes. Prints the workload's JSON keys.
pub(crate) fn digits_epochs<M: Module<f32>>(
    name: &'static str,
    threads: usize,
    model: &mut M,
    rng: &mut StdRng,
    input: impl Fn(&Tensor<f32>) -> R<Tensor<f32>>,
) -> R<Vec<(&'static str, J)>> {
    let (train, test) = data::digits()?;
    let mut opt = Adam::new(AdamConfig { lr: 1e-3, ..Default::default() })?;
    let mut batcher = Batcher::new(train.len(), Batching::MiniBatch { size: 32, drop_last: false })?;
    let mut times = Vec::new();
    let mut last_loss = f32::NAN;
    for _ in 0..30 {
        let t0 = Instant::now();
        for idx in batcher.epoch(rng) {
            let batch = train.gather(idx)?;
            let labels = batch.labels().ok_or("digits: no class labels")?;
            last_loss = class_step(model, &mut opt, &input(batch.features())?, labels)?;
        }
        times.push(t0.elapsed().as_secs_f64());
    }
    let pred = argmax_rows(&model.predict(&input(test.features())?)?)?;
    let truth = test.labels().ok_or("digits: no class labels")?;
    let acc = pred.iter().zip(truth).filter(|(p, t)| p == t).count() as f64 / truth.len() as f64;
    let (med, min, max) = stats(&times);
    let mut out = base(name, threads);
    out.extend([
        ("median_s", J::F(med)),
        ("min_s", J::F(min)),
        ("max_s", J::F(max)),
        ("test_acc", J::F(acc)),
        ("last_loss", J::F(f64::from(last_loss))),
    ]);
    Ok(out)
}

/// w1: digits MLP 64-128-64-10 ReLU, Adam 1e-3, batch 32 (last partial batch kept), reshuffled every
/// epoch, 30 epochs; the time of each epoch covers shuffle, batch gather, forward, backward and update.
pub fn w1(threads: usize) -> R<Vec<(&'static str, J)>> {
    let mut rng = StdRng::seed_from_u64(0);
    let mut model = Mlp::<f32>::new(&[64, 128, 64, 10], Activation::Relu, Activation::Identity, &mut rng)?;
    digits_epochs("w1", threads, &mut model, &mut rng, |x| Ok(x.clone()))
}

/// Floating-point operations of one w3 step: forward and two backward GEMMs per layer.
pub const W3_FLOPS: f64 = 6.0 * 256.0 * (784.0 * 1024.0 + 1024.0 * 1024.0 + 1024.0 * 10.0);

/// w3: MLP 784-1024-1024-10 ReLU, batch 256 of U(-1, 1) inputs with random labels, SGD 0.01: one step
/// including reading the loss. 25 steps, the first 5 are warm-up.
pub fn w3(threads: usize) -> R<Vec<(&'static str, J)>> {
    let mut rng = StdRng::seed_from_u64(0);
    let x = Tensor::<f32>::rand_uniform([256, 784], -1.0, 1.0, &mut rng)?;
    let labels: Vec<usize> = (0..256).map(|_| rng.random_range(0..10)).collect();
    let mut model = Mlp::<f32>::new(&[784, 1024, 1024, 10], Activation::Relu, Activation::Identity, &mut rng)?;
    let mut opt = Sgd::new(SgdConfig { lr: 0.01, ..Default::default() })?;
    let mut times = Vec::new();
    let mut loss = f32::NAN;
    for round in 0..25 {
        let t0 = Instant::now();
        loss = class_step(&mut model, &mut opt, &x, &labels)?;
        if round >= 5 {
            times.push(t0.elapsed().as_secs_f64());
        }
    }
    let (med, min, max) = stats(&times);
    let mut out = base("w3", threads);
    out.extend([
        ("median_s", J::F(med)),
        ("min_s", J::F(min)),
        ("max_s", J::F(max)),
        ("gflops", J::F(W3_FLOPS / med / 1e9)),
        ("loss", J::F(f64::from(loss))),
    ]);
    Ok(out)
}

/// w4: XOR 2-4-1, tanh hidden, sigmoid output, MSE (mean), full-batch gradient descent lr 0.5 for 2000
/// steps from `xor_init.txt`. Five runs, each from the same initial weights; the time is the 2000 steps.
pub fn w4(threads: usize) -> R<Vec<(&'static str, J)>> {
    let init = data::xor_init()?;
    let x = Tensor::<f32>::from_vec(vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], [4, 2])?;
    let y = Tensor::<f32>::from_vec(vec![0.0, 1.0, 1.0, 0.0], [4, 1])?;
    let mut times = Vec::new();
    let (mut final_loss, mut acc) = (f32::NAN, f64::NAN);
    for _ in 0..5 {
        let mut rng = StdRng::seed_from_u64(0);
        let mut model = Mlp::<f32>::new(&[2, 4, 1], Activation::Tanh, Activation::Sigmoid, &mut rng)?;
        for ((_, p), t) in model.params_mut().into_iter().zip(&init) {
            p.set(t.clone());
        }
        let mut opt = Sgd::new(SgdConfig { lr: 0.5, ..Default::default() })?;
        let mut pred = Tensor::zeros([4, 1])?;
        let t0 = Instant::now();
        for _ in 0..2000 {
            let grads = {
                let tape = Tape::new();
                let p = model.forward(&tape, tape.input(x.clone()))?;
                let loss = p.mse(tape.input(y.clone()))?;
                final_loss = loss.item()?;
                pred = p.value();
                loss.backward()?
            };
            opt.step(&mut model.param_refs_mut(), &grads)?;
        }
        times.push(t0.elapsed().as_secs_f64());
        let right = pred.data().iter().zip(y.data()).filter(|(p, t)| f32::from(**p > 0.5) == **t).count();
        acc = right as f64 / 4.0;
    }
    let (med, min, max) = stats(&times);
    let mut out = base("w4", threads);
    out.extend([
        ("median_s", J::F(med)),
        ("min_s", J::F(min)),
        ("max_s", J::F(max)),
        ("final_loss", J::F(f64::from(final_loss))),
        ("acc", J::F(acc)),
    ]);
    Ok(out)
}
