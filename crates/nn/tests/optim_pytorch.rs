//! The first-order optimizers against `torch.optim` on one fixed problem, in f64.
//!
//! The reference trajectories come from `fixtures/optim_reference.py` (run once, output stored in
//! `fixtures/optim_reference.csv`): one tanh layer, `loss = mean((tanh(x W^T + b) - y)^2)`, 12 full-batch steps.
//! Both sides evaluate the same formulas in a slightly different order (PyTorch's Adam uses `lerp` for the first
//! moment, its SGD keeps `v / eta`), so agreement is to rounding: 1e-12 relative after 12 steps.

use tapegrad::{Float, Param, Tape, Tensor};
use tapegrad_nn::optim::{
    AdaDelta, AdaDeltaConfig, AdaGrad, AdaGradConfig, Adam, AdamConfig, AdamW, AdamWConfig, Optimizer, RmsProp,
    RmsPropConfig, Sgd, SgdConfig,
};

const X: [f64; 12] = [0.5, -1.0, 2.0, 1.5, 0.25, -0.5, -1.0, 0.75, 0.3, 0.1, -0.2, -1.2];
const Y: [f64; 8] = [0.2, -0.4, 0.9, 0.1, -0.5, 0.6, 0.0, -0.8];
const W0: [f64; 6] = [0.3, -0.2, 0.1, -0.4, 0.5, 0.25];
const B0: [f64; 2] = [0.05, -0.1];
const TOL: f64 = 1e-12;

/// One fixture row: the loss before step `step` and the parameters `[W (row-major), b]` after it.
struct Row {
    name: String,
    step: usize,
    loss: f64,
    params: Vec<f64>,
}

fn reference() -> Vec<Row> {
    let text = include_str!("fixtures/optim_reference.csv");
    let rows: Vec<Row> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 11, "fixture row has 11 fields: {l}");
            let num = |s: &str| s.parse::<f64>().unwrap_or_else(|e| panic!("fixture number {s:?}: {e}"));
            Row {
                name: f[0].to_string(),
                step: f[1].parse().expect("fixture step is an integer"),
                loss: num(f[2]),
                params: f[3..].iter().map(|s| num(s)).collect(),
            }
        })
        .collect();
    assert_eq!(rows.len(), 9 * 12, "fixture has 12 steps of 9 optimizers");
    rows
}

fn optimizer(name: &str) -> Box<dyn Optimizer<f64>> {
    match name {
        "adam" => Box::new(Adam::new(AdamConfig { lr: 0.05, ..Default::default() }).unwrap()),
        "adam_l2" => Box::new(Adam::new(AdamConfig { lr: 0.05, weight_decay: 0.1, ..Default::default() }).unwrap()),
        "adam_betas" => Box::new(
            Adam::new(AdamConfig { lr: 0.02, beta1: 0.8, beta2: 0.99, eps: 1e-6, ..Default::default() }).unwrap(),
        ),
        "adamw" => Box::new(AdamW::new(AdamWConfig { lr: 0.05, weight_decay: 0.1, ..Default::default() }).unwrap()),
        "sgd_momentum" | "sgd_nesterov" => Box::new(
            Sgd::new(SgdConfig {
                lr: 0.1,
                momentum: 0.9,
                weight_decay: 0.01,
                nesterov: name == "sgd_nesterov",
                ..Default::default()
            })
            .unwrap(),
        ),
        "adagrad" => Box::new(AdaGrad::new(AdaGradConfig { lr: 0.1, ..Default::default() }).unwrap()),
        "rmsprop" => {
            Box::new(RmsProp::new(RmsPropConfig { lr: 0.01, decay: 0.9, eps: 1e-8, ..Default::default() }).unwrap())
        }
        "adadelta" => {
            Box::new(AdaDelta::new(AdaDeltaConfig { lr: 1.0, decay: 0.9, eps: 1e-6, ..Default::default() }).unwrap())
        }
        other => panic!("fixture names an unknown optimizer {other}"),
    }
}

/// Runs `steps` steps and returns `(loss before the step, parameters after it)` per step.
fn trajectory(opt: &mut dyn Optimizer<f64>, steps: usize) -> Vec<(f64, Vec<f64>)> {
    trajectory_in::<f64>(opt, steps)
}

/// [`trajectory`] in the element type `T`, reported in f64.
fn trajectory_in<T: Float>(opt: &mut dyn Optimizer<T>, steps: usize) -> Vec<(f64, Vec<f64>)> {
    let t = |v: &[f64], shape: &[usize]| Tensor::from_slice(v, shape).unwrap().cast::<T>();
    let mut w = Param::new(t(&W0, &[2, 3]));
    let mut b = Param::new(t(&B0, &[2]));
    let mut out = Vec::new();
    for _ in 0..steps {
        let (loss, grads) = {
            let tape = Tape::new();
            let x = tape.input(t(&X, &[4, 3]));
            let y = tape.input(t(&Y, &[4, 2]));
            let h = x.linear(tape.param(&w), Some(tape.param(&b))).unwrap().tanh();
            let loss = (h - y).square().mean();
            (loss.item().unwrap().f64(), loss.backward().unwrap())
        };
        opt.step(&mut [&mut w, &mut b], &grads).unwrap();
        out.push((loss, [w.value().to_vec(), b.value().to_vec()].concat().into_iter().map(T::f64).collect()));
    }
    out
}

fn check(name: &str) {
    let rows: Vec<Row> = reference().into_iter().filter(|r| r.name == name).collect();
    assert_eq!(rows.len(), 12, "{name}: fixture rows");
    let got = trajectory(optimizer(name).as_mut(), rows.len());
    let mut worst = 0.0f64;
    for (row, (loss, params)) in rows.iter().zip(&got) {
        let pairs = std::iter::once((loss, &row.loss)).chain(params.iter().zip(&row.params));
        for (i, (g, want)) in pairs.enumerate() {
            let err = (g - want).abs() / (1.0 + want.abs());
            worst = worst.max(err);
            assert!(err <= TOL, "{name} step {}: value {i} is {g}, PyTorch has {want} (rel. error {err:e})", row.step);
        }
    }
    // The trajectory must go somewhere: a stuck optimizer would match a stuck reference only by accident.
    let moved = got.last().unwrap().1.iter().zip(W0.iter().chain(&B0)).any(|(a, b)| (a - b).abs() > 1e-3);
    assert!(moved, "{name}: parameters barely moved");
    eprintln!("{name}: worst relative deviation from PyTorch {worst:e}");
}

#[test]
fn adam_matches_pytorch_for_twelve_steps() {
    check("adam");
}

#[test]
fn adam_with_l2_decay_matches_pytorch() {
    check("adam_l2");
}

#[test]
fn adam_with_other_betas_and_eps_matches_pytorch() {
    check("adam_betas");
}

#[test]
fn adamw_matches_pytorch() {
    check("adamw");
}

#[test]
fn sgd_heavy_ball_with_weight_decay_matches_pytorch() {
    check("sgd_momentum");
}

#[test]
fn sgd_nesterov_matches_pytorch() {
    check("sgd_nesterov");
}

#[test]
fn adagrad_matches_pytorch() {
    check("adagrad");
}

#[test]
fn rmsprop_matches_pytorch() {
    check("rmsprop");
}

#[test]
fn adadelta_matches_pytorch() {
    check("adadelta");
}

#[test]
fn adam_in_f32_follows_the_f64_reference_to_single_precision() {
    // f32 rounding of the inputs and of every operation (about 6e-8 relative) accumulates over 12 steps, and
    // Adam's m / sqrt(v) is sensitive where a gradient is small; measured 3.5e-6, the bound is 1e-5 (about
    // 170 ulps at the weights' magnitude). A wrong formula would miss by far more: one step is 0.05.
    let rows: Vec<Row> = reference().into_iter().filter(|r| r.name == "adam").collect();
    let mut opt = Adam::<f32>::new(AdamConfig { lr: 0.05, ..Default::default() }).unwrap();
    let got = trajectory_in::<f32>(&mut opt, rows.len());
    let mut worst = 0.0f64;
    for (row, (_, params)) in rows.iter().zip(&got) {
        for (i, (g, want)) in params.iter().zip(&row.params).enumerate() {
            worst = worst.max((g - want).abs());
            assert!((g - want).abs() <= 1e-5, "f32 adam step {}: value {i} is {g}, PyTorch f64 has {want}", row.step);
        }
    }
    eprintln!("adam f32: worst absolute deviation from PyTorch f64 {worst:e}");
}
