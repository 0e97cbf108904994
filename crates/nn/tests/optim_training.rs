//! Every first-order optimizer converges on a convex quadratic and trains XOR to 100%.
//!
//! The quadratic is `E(w) = sum(a (w - c)^2)` with curvatures from 0.5 to 5, built with engine ops. The
//! adaptive methods with a constant rate hover at a distance of about the rate around the minimum (their
//! effective step grows as the gradient shrinks), so they run with an exponentially decaying rate, the usual
//! practice; SGD and AdaGrad run with a constant one.
//!
//! XOR is the 2-4-1 tanh/sigmoid MLP with mean squared error, full batch, from the bundled initial weights
//! `examples/data/xor_init.txt` (the benchmark's w4 workload).

use tapegrad::{Param, Tape, Tensor};
use tapegrad_nn::optim::{
    AdaDelta, AdaDeltaConfig, AdaGrad, AdaGradConfig, Adam, AdamConfig, AdamW, AdamWConfig, ExponentialLr, LrSchedule,
    Optimizer, RmsProp, RmsPropConfig, Sgd, SgdConfig,
};

const A: [f64; 5] = [0.5, 1.0, 2.0, 3.0, 5.0];
const C: [f64; 5] = [1.0, -2.0, 0.5, 3.0, -1.0];

/// Minimises the quadratic from `w = 0` for `steps` steps, multiplying the rate by `decay` each step, and
/// returns the largest distance `|w_i - c_i|` at the end.
fn minimise(opt: &mut dyn Optimizer<f64>, steps: usize, decay: f64) -> f64 {
    let mut w = Param::new(Tensor::<f64>::zeros([5]).unwrap());
    let schedule = ExponentialLr::new(opt.lr(), decay).unwrap();
    for step in 0..steps {
        schedule.apply(opt, step);
        let grads = {
            let tape = Tape::new();
            let a = tape.constant(Tensor::from_slice(&A, [5]).unwrap());
            let c = tape.constant(Tensor::from_slice(&C, [5]).unwrap());
            let loss = (a * (tape.param(&w) - c).square()).sum();
            loss.backward().unwrap()
        };
        opt.step(&mut [&mut w], &grads).unwrap();
    }
    w.value().data().iter().zip(&C).map(|(w, c)| (w - c).abs()).fold(0.0, f64::max)
}

fn assert_converges(name: &str, opt: &mut dyn Optimizer<f64>, steps: usize, decay: f64) {
    let dist = minimise(opt, steps, decay);
    eprintln!("{name}: max |w - c| = {dist:e} after {steps} steps");
    assert!(dist < 1e-6, "{name}: max |w - c| = {dist:e} after {steps} steps");
}

#[test]
fn sgd_converges_on_a_convex_quadratic() {
    assert_converges("sgd", &mut Sgd::new(SgdConfig { lr: 0.05, ..Default::default() }).unwrap(), 300, 1.0);
}

#[test]
fn sgd_with_heavy_ball_momentum_converges_on_a_convex_quadratic() {
    let mut opt = Sgd::new(SgdConfig { lr: 0.02, momentum: 0.9, ..Default::default() }).unwrap();
    assert_converges("heavy ball", &mut opt, 300, 1.0);
}

#[test]
fn sgd_with_nesterov_momentum_converges_on_a_convex_quadratic() {
    let mut opt = Sgd::new(SgdConfig { lr: 0.02, momentum: 0.9, nesterov: true, ..Default::default() }).unwrap();
    assert_converges("nesterov", &mut opt, 300, 1.0);
}

#[test]
fn adagrad_converges_on_a_convex_quadratic() {
    assert_converges("adagrad", &mut AdaGrad::new(AdaGradConfig { lr: 1.0, ..Default::default() }).unwrap(), 300, 1.0);
}

#[test]
fn rmsprop_converges_on_a_convex_quadratic_with_a_decaying_rate() {
    let mut opt = RmsProp::new(RmsPropConfig { lr: 0.1, ..Default::default() }).unwrap();
    assert_converges("rmsprop", &mut opt, 1000, 0.98);
}

#[test]
fn adadelta_converges_on_a_convex_quadratic() {
    let mut opt = AdaDelta::new(AdaDeltaConfig { eps: 1e-4, ..Default::default() }).unwrap();
    assert_converges("adadelta", &mut opt, 2000, 1.0);
}

#[test]
fn adam_converges_on_a_convex_quadratic_with_a_decaying_rate() {
    assert_converges("adam", &mut Adam::new(AdamConfig { lr: 0.1, ..Default::default() }).unwrap(), 2000, 0.995);
}

#[test]
fn adamw_without_decay_converges_on_a_convex_quadratic_with_a_decaying_rate() {
    let mut opt = AdamW::new(AdamWConfig { lr: 0.1, weight_decay: 0.0, ..Default::default() }).unwrap();
    assert_converges("adamw", &mut opt, 2000, 0.995);
}

/// The 2-4-1 XOR network's parameters, from `examples/data/xor_init.txt`.
fn xor_params() -> Vec<Param<f64>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/data/xor_init.txt");
    let text = std::fs::read_to_string(path).expect("examples/data/xor_init.txt is bundled");
    let rows: Vec<Vec<f64>> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split_whitespace().map(|v| v.parse().expect("xor_init.txt holds numbers")).collect())
        .collect();
    let shapes: [&[usize]; 4] = [&[4, 2], &[4], &[1, 4], &[1]];
    assert_eq!(rows.len(), 4, "xor_init.txt has W1, b1, W2, b2");
    rows.iter().zip(shapes).map(|(r, s)| Param::new(Tensor::from_slice(r, s).unwrap())).collect()
}

/// Trains XOR full batch for `steps` steps (forward, backward, update, as PyTorch's loop does); returns the
/// loss and the number of correctly classified points (output above 0.5 means 1) of the last forward pass.
fn train_xor(opt: &mut dyn Optimizer<f64>, steps: usize) -> (f64, usize) {
    let mut params = xor_params();
    let x = Tensor::from_vec(vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], [4, 2]).unwrap();
    let y = Tensor::from_vec(vec![0.0, 1.0, 1.0, 0.0], [4, 1]).unwrap();
    let mut last = (f64::NAN, 0);
    for _ in 0..steps {
        let (loss, out, grads) = {
            let tape = Tape::new();
            let p: Vec<_> = params.iter().map(|p| tape.param(p)).collect();
            let h = tape.input(x.clone()).linear(p[0], Some(p[1])).unwrap().tanh();
            let out = h.linear(p[2], Some(p[3])).unwrap().sigmoid();
            let loss = out.mse(tape.input(y.clone())).unwrap();
            (loss.item().unwrap(), out.value(), loss.backward().unwrap())
        };
        let correct = out.data().iter().zip(y.data()).filter(|&(o, t)| (*o > 0.5) == (*t > 0.5)).count();
        last = (loss, correct);
        if last.0.is_nan() {
            break;
        }
        let mut refs: Vec<&mut Param<f64>> = params.iter_mut().collect();
        opt.step(&mut refs, &grads).unwrap();
    }
    last
}

fn assert_trains_xor(name: &str, opt: &mut dyn Optimizer<f64>, steps: usize, max_loss: f64) {
    let (loss, correct) = train_xor(opt, steps);
    eprintln!("{name}: XOR loss {loss:.6} after {steps} steps, {correct}/4 correct");
    assert_eq!(correct, 4, "{name}: {correct}/4 correct after {steps} steps (loss {loss})");
    assert!(loss < max_loss, "{name}: loss {loss} after {steps} steps, want < {max_loss}");
}

#[test]
fn plain_gradient_descent_trains_xor_to_pytorchs_loss() {
    // PyTorch, same loop in f64 (fixtures/xor_reference.py): the benchmark's w4, lr 0.5, 2000 steps.
    let text = include_str!("fixtures/xor_reference.txt");
    let want: f64 = text.lines().find(|l| !l.starts_with('#')).and_then(|l| l.trim().parse().ok()).unwrap();
    let mut opt = Sgd::new(SgdConfig { lr: 0.5, ..Default::default() }).unwrap();
    let (loss, correct) = train_xor(&mut opt, 2000);
    assert_eq!(correct, 4);
    // Same formulas, different summation order in the matmuls: agreement to rounding.
    assert!((loss - want).abs() <= 1e-12 * want, "loss {loss}, PyTorch reaches {want}");
}

#[test]
fn sgd_with_momentum_trains_xor() {
    let mut opt = Sgd::new(SgdConfig { lr: 0.1, momentum: 0.9, ..Default::default() }).unwrap();
    assert_trains_xor("heavy ball", &mut opt, 1000, 0.01);
}

#[test]
fn sgd_with_nesterov_momentum_trains_xor() {
    let mut opt = Sgd::new(SgdConfig { lr: 0.1, momentum: 0.9, nesterov: true, ..Default::default() }).unwrap();
    assert_trains_xor("nesterov", &mut opt, 1000, 0.01);
}

#[test]
fn adagrad_trains_xor() {
    assert_trains_xor(
        "adagrad",
        &mut AdaGrad::new(AdaGradConfig { lr: 0.3, ..Default::default() }).unwrap(),
        1000,
        0.01,
    );
}

#[test]
fn rmsprop_trains_xor() {
    assert_trains_xor(
        "rmsprop",
        &mut RmsProp::new(RmsPropConfig { lr: 0.01, ..Default::default() }).unwrap(),
        1000,
        0.01,
    );
}

#[test]
fn adadelta_trains_xor() {
    assert_trains_xor("adadelta", &mut AdaDelta::new(AdaDeltaConfig::default()).unwrap(), 1000, 0.01);
}

#[test]
fn adam_trains_xor() {
    assert_trains_xor("adam", &mut Adam::new(AdamConfig { lr: 0.05, ..Default::default() }).unwrap(), 1000, 0.01);
}

#[test]
fn adamw_trains_xor() {
    assert_trains_xor("adamw", &mut AdamW::new(AdamWConfig { lr: 0.05, ..Default::default() }).unwrap(), 1000, 0.01);
}
