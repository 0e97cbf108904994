//! Lecture 001, building a network: growing a hidden layer one unit at a time whenever the running loss
//! estimate `Q = (1 - eta) Q + eta loss` stabilises, and pruning the smallest weights of a trained digits
//! MLP, each with its measured effect.

use super::Opts;
use super::util::{column, line, say};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::io::Write;
use tapegrad::{Tape, Tensor};
use tapegrad_examples::digits::{default_data_path, load_split};
use tapegrad_examples::error::Result;
use tapegrad_nn::Module;
use tapegrad_nn::data::Batching;
use tapegrad_nn::layers::{Activation, Linear, Mlp, Sequential};
use tapegrad_nn::optim::{Adam, AdamConfig, Optimizer};
use tapegrad_nn::train::{FitConfig, Loss, evaluate, fit};

/// The numbers the demonstration prints.
#[derive(Debug, Clone)]
pub struct ConstructReport {
    /// `(step, new width, loss just before, loss just after the unit was added)` per growth.
    pub growths: Vec<(usize, usize, f64, f64)>,
    /// The loss at the first plateau (width 1) and at the end.
    pub grow_loss: (f64, f64),
    /// `(fraction of weights pruned, test accuracy)`.
    pub pruning: Vec<(f64, f64)>,
    /// Test accuracy before training and after each epoch of a `[64, 10, 10]` sigmoid net: `(Xavier init,
    /// hidden units initialised as ten separately trained one-vs-rest linear classifiers and output c
    /// reading unit c)`.
    pub linear_init: Vec<(f64, f64)>,
}

/// A `[1, h, 1]` tanh network from its tensors.
fn net(w1: &Tensor<f64>, b1: &Tensor<f64>, w2: &Tensor<f64>, b2: &Tensor<f64>) -> Result<Sequential<f64>> {
    Ok(Sequential::new()
        .with(Linear::from_tensors(w1.clone(), Some(b1.clone()))?)
        .with(Activation::Tanh)
        .with(Linear::from_tensors(w2.clone(), Some(b2.clone()))?))
}

fn loss_of(model: &Sequential<f64>, x: &Tensor<f64>, y: &Tensor<f64>) -> Result<f64> {
    Ok(model.predict(x)?.sub(y)?.map(|v| v * v).mean())
}

/// Runs the demonstration.
///
/// # Errors
/// Data, engine and training errors.
pub fn run(o: &Opts, out: &mut dyn Write) -> Result<ConstructReport> {
    let mut rng = StdRng::seed_from_u64(o.seed);
    let steps = o.epochs.unwrap_or(6000);
    line(out, "# growing: [1, h, 1] tanh net fitting sin(2x); a unit is added (outgoing weight 0, so the")?;
    line(out, "#   function is unchanged) when Q = 0.99 Q + 0.01 loss changed by < 1% over 200 steps; h <= 8")?;
    let xs: Vec<f64> = (0..64).map(|i| -3.0 + 6.0 * i as f64 / 63.0).collect();
    let (x, y) = (column(&xs)?, column(&xs.iter().map(|x| (2.0 * x).sin()).collect::<Vec<_>>())?);
    let mut t = [
        Tensor::<f64>::randn([1, 1], 0.0, 1.0, &mut rng)?,
        Tensor::<f64>::zeros([1])?,
        Tensor::<f64>::randn([1, 1], 0.0, 1.0, &mut rng)?,
        Tensor::<f64>::zeros([1])?,
    ];
    let mut model = net(&t[0], &t[1], &t[2], &t[3])?;
    let mut opt = Adam::new(AdamConfig { lr: 0.02, ..Default::default() })?;
    let (mut q, mut q_then, mut since) = (f64::NAN, f64::NAN, 0);
    let (mut growths, mut first_plateau) = (Vec::new(), f64::NAN);
    let mut last = f64::NAN;
    for step in 0..steps {
        let tape = Tape::new();
        let loss = model.forward(&tape, tape.input(x.clone()))?.mse(tape.input(y.clone()))?;
        last = loss.item()?;
        q = if q.is_nan() { last } else { 0.99 * q + 0.01 * last };
        let grads = loss.backward()?;
        drop(tape);
        opt.step(&mut model.param_refs_mut(), &grads)?;
        since += 1;
        if since == 200 {
            let stable = (q_then - q).abs() < 0.01 * q_then;
            q_then = q;
            since = 0;
            let h = t[0].dims()[0];
            if stable && h < 8 {
                if first_plateau.is_nan() {
                    first_plateau = q;
                }
                let p: Vec<Tensor<f64>> = model.params().iter().map(|(_, p)| p.value().clone()).collect();
                let before = loss_of(&model, &x, &y)?;
                let new_in = Tensor::<f64>::randn([1, 1], 0.0, 1.0, &mut rng)?;
                let w1 = Tensor::from_vec([p[0].data(), new_in.data()].concat(), [h + 1, 1])?;
                let b1 = Tensor::from_vec([p[1].data(), &[0.0]].concat(), [h + 1])?;
                let w2 = Tensor::from_vec([p[2].data(), &[0.0]].concat(), [1, h + 1])?;
                t = [w1, b1, w2, p[3].clone()];
                model = net(&t[0], &t[1], &t[2], &t[3])?;
                opt = Adam::new(AdamConfig { lr: 0.02, ..Default::default() })?;
                let after = loss_of(&model, &x, &y)?;
                say(out, &format!("step {step}: grew to h"), format!("{} (mse {before:.5} -> {after:.5})", h + 1))?;
                growths.push((step, h + 1, before, after));
            }
        }
    }
    say(out, "first plateau mse", format!("{first_plateau:.5}"))?;
    say(out, "final mse", format!("{last:.5}"))?;

    line(out, "# pruning: the smallest |w| of a trained [64, 64, 10] digits MLP set to 0, no retraining")?;
    let (train, test) = load_split(&default_data_path(), o.seed)?;
    let mut rng = StdRng::seed_from_u64(o.seed);
    let mut mlp = Mlp::<f32>::new(&[64, 64, 10], Activation::Relu, Activation::Identity, &mut rng)?;
    let mut adam = Adam::new(AdamConfig { lr: 2e-3, ..Default::default() })?;
    let cfg = FitConfig {
        epochs: 30,
        batching: Batching::MiniBatch { size: 32, drop_last: false },
        loss: Loss::SoftmaxCrossEntropy,
        rng: Some(&mut rng),
        ..Default::default()
    };
    fit(&mut mlp, &mut adam, &train, cfg)?;
    let trained: Vec<Tensor<f32>> = mlp.params().iter().map(|(_, p)| p.value().clone()).collect();
    let mut mags: Vec<f32> = mlp
        .params()
        .iter()
        .filter(|(n, _)| n.ends_with("weight"))
        .flat_map(|(_, p)| p.value().data().iter().map(|w| w.abs()).collect::<Vec<_>>())
        .collect();
    mags.sort_by(f32::total_cmp);
    let mut pruning = Vec::new();
    for frac in [0.0, 0.5, 0.8, 0.9, 0.95, 0.99] {
        let k = ((frac * mags.len() as f64) as usize).min(mags.len() - 1);
        let cut = if frac == 0.0 { -1.0 } else { mags[k] };
        for ((name, p), w) in mlp.params_mut().into_iter().zip(&trained) {
            *p.value_mut() =
                if name.ends_with("weight") { w.map(|v| if v.abs() < cut { 0.0 } else { v }) } else { w.clone() };
        }
        let acc = evaluate(&mut mlp, &test, Loss::SoftmaxCrossEntropy)?.accuracy.unwrap_or(f64::NAN);
        say(out, &format!("pruned {:.0}%: test accuracy", 100.0 * frac), format!("{acc:.4}"))?;
        pruning.push((frac, acc));
    }

    line(out, "# hidden units initialised as separately trained linear models: unit c is a one-vs-rest")?;
    line(out, "#   logistic classifier for digit c (200 gradient steps), output c reads unit c (weight 5);")?;
    line(out, "#   then the whole [64, 10, 10] net trains (Adam 2e-3), against Xavier init")?;
    let labels = train.labels().map(<[usize]>::to_vec).unwrap_or_default();
    let (mut w0, mut b0) = (Vec::new(), Vec::new());
    for c in 0..10 {
        let y: Vec<f32> = labels.iter().map(|&l| if l == c { 1.0 } else { -1.0 }).collect();
        let y = Tensor::from_vec(y, [labels.len(), 1])?;
        let mut unit = Linear::<f32>::new(64, 1, &mut rng)?;
        for _ in 0..200 {
            let tape = Tape::new();
            let loss =
                unit.forward(&tape, tape.input(train.features().clone()))?.logistic_loss(tape.input(y.clone()))?;
            let grads = loss.backward()?;
            drop(tape);
            for p in unit.param_refs_mut() {
                let g = grads.param(p).cloned().unwrap_or_else(|| p.value().zeros_like());
                for (w, g) in p.value_mut().data_mut().iter_mut().zip(g.data()) {
                    *w -= 2.0 * g;
                }
            }
        }
        w0.extend_from_slice(unit.weight().value().data());
        b0.extend(unit.bias().map(|b| b.value().data()[0]));
    }
    let epochs = 3;
    let mut curves = [Vec::new(), Vec::new()];
    for (k, curve) in curves.iter_mut().enumerate() {
        let mut rng = StdRng::seed_from_u64(o.seed);
        let mut net = Mlp::<f32>::new(&[64, 10, 10], Activation::Sigmoid, Activation::Identity, &mut rng)?;
        if k == 1 {
            for (name, p) in net.params_mut() {
                if name == "layers.0.weight" {
                    *p.value_mut() = Tensor::from_vec(w0.clone(), [10, 64])?;
                } else if name == "layers.0.bias" {
                    *p.value_mut() = Tensor::from_vec(b0.clone(), [10])?;
                } else if name == "layers.2.weight" {
                    // Output c reads hidden unit c: the net starts as the ten linear models' vote.
                    *p.value_mut() =
                        Tensor::from_vec((0..100).map(|i| if i % 11 == 0 { 5.0 } else { 0.0 }).collect(), [10, 10])?;
                }
            }
        }
        let mut adam = Adam::new(AdamConfig { lr: 2e-3, ..Default::default() })?;
        curve.push(evaluate(&mut net, &test, Loss::SoftmaxCrossEntropy)?.accuracy.unwrap_or(f64::NAN));
        for _ in 0..epochs {
            let one_epoch = FitConfig {
                epochs: 1,
                batching: Batching::MiniBatch { size: 32, drop_last: false },
                loss: Loss::SoftmaxCrossEntropy,
                rng: Some(&mut rng),
                ..Default::default()
            };
            fit(&mut net, &mut adam, &train, one_epoch)?;
            curve.push(evaluate(&mut net, &test, Loss::SoftmaxCrossEntropy)?.accuracy.unwrap_or(f64::NAN));
        }
    }
    let linear_init: Vec<(f64, f64)> = curves[0].iter().copied().zip(curves[1].iter().copied()).collect();
    for (e, (r, l)) in linear_init.iter().enumerate() {
        say(out, &format!("epoch {e}: test accuracy Xavier / linear-model init"), format!("{r:.4} / {l:.4}"))?;
    }
    Ok(ConstructReport { growths, grow_loss: (first_plateau, last), pruning, linear_init })
}
