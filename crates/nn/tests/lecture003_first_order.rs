//! Lecture 003's forms of the first-order optimizers: their first steps against numbers computed without
//! tapegrad by `fixtures/lecture003_steps.py` (plain Python floats, gradients by hand; its output is
//! `fixtures/lecture003_steps.txt`). The problem is `E(w) = sum a (w - c)^2`, `w0 = [1, -2]`, `a = [0.5, 2]`,
//! `c = [3, 1]`, whose first gradient is `[-2, -12]`.

mod common;
use common::assert_steps;
use rand::SeedableRng;
use tapegrad::{Gradients, Param, Tape, Tensor};
use tapegrad_nn::optim::driver::{Tolerances, minimize};
use tapegrad_nn::optim::flat::FnProblem;
use tapegrad_nn::optim::{
    AdaDelta, AdaDeltaConfig, AdaGrad, AdaGradConfig, NagConfig, NesterovLookAhead, Optimizer, RmsProp, RmsPropConfig,
    Sgd, SgdConfig,
};
use tapegrad_nn::{Activation, Mlp, Module};

const W0: [f64; 2] = [1.0, -2.0];
const A: [f64; 2] = [0.5, 2.0];
const C: [f64; 2] = [3.0, 1.0];

fn grads(w: &Param<f64>) -> Gradients<f64> {
    let tape = Tape::new();
    let a = tape.constant(Tensor::from_slice(&A, [2]).unwrap());
    let c = tape.constant(Tensor::from_slice(&C, [2]).unwrap());
    (a * (tape.param(w) - c).square()).sum().backward().unwrap()
}

/// The parameter after each of `k` steps of `opt` from `w0`.
fn steps(opt: &mut dyn Optimizer<f64>, k: usize) -> Vec<Vec<f64>> {
    let mut w = Param::new(Tensor::from_slice(&W0, [2]).unwrap());
    (0..k)
        .map(|_| {
            let g = grads(&w);
            opt.step(&mut [&mut w], &g).unwrap();
            w.value().to_vec()
        })
        .collect()
}

#[test]
fn adagrad_with_momentum_follows_the_lecture_template() {
    // dW = 0.1 (g + 0.01 W) / (sqrt(G) + 1e-10) + 0.9 dW_prev.
    let cfg = AdaGradConfig { lr: 0.1, weight_decay: 0.01, momentum: 0.9, ..Default::default() };
    let got = steps(&mut AdaGrad::new(cfg).unwrap(), 3);
    assert_steps(
        &got,
        &[
            [1.0999999999949748, -1.900000000000832],
            [1.258846205541826, -1.7404988210567227],
            [1.4551109675268343, -1.5420527342364212],
        ],
    );
    // Without momentum the second step is AdaGrad's own, which is shorter.
    let plain = steps(&mut AdaGrad::new(AdaGradConfig { momentum: 0.0, ..cfg }).unwrap(), 2);
    assert!(plain[1][0] < got[1][0] - 0.05, "{plain:?} vs {got:?}");
}

#[test]
fn rmsprop_with_momentum_follows_the_lecture_template() {
    let cfg = RmsPropConfig { lr: 0.01, decay: 0.9, eps: 1e-8, momentum: 0.9, ..Default::default() };
    let got = steps(&mut RmsProp::new(cfg).unwrap(), 3);
    assert_steps(
        &got,
        &[
            [1.0316227761016838, -1.9683772234816495],
            [1.0828508610591532, -1.9170906588848124],
            [1.1477530551962065, -1.8519960145311671],
        ],
    );
}

#[test]
fn adadelta_with_two_decays_and_momentum_follows_the_slide() {
    // alpha = 0.9 for S, beta = 0.5 for D, momentum 0.5, weight decay 0.01.
    let cfg =
        AdaDeltaConfig { decay: 0.9, step_decay: Some(0.5), momentum: 0.5, weight_decay: 0.01, ..Default::default() };
    let mut opt = AdaDelta::new(cfg).unwrap();
    let mut w = Param::new(Tensor::from_slice(&W0, [2]).unwrap());
    let mut got = Vec::new();
    for _ in 0..3 {
        let g = grads(&w);
        opt.step(&mut [&mut w], &g).unwrap();
        got.push(w.value().to_vec());
    }
    assert_steps(
        &got,
        &[
            [1.0031622736675019, -1.996837722449268],
            [1.0103586380684157, -1.9896398796063526],
            [1.0243423387545356, -1.9756435628705487],
        ],
    );
    let (s, d) = opt.averages(&w).unwrap();
    assert_steps(
        &[s.to_vec(), d.to_vec()],
        &[[1.0678909448790057, 39.02706745429866], [0.00011196885443070298, 0.00011215067639578198]],
    );
}

#[test]
fn adadelta_with_two_decays_alone_differs_from_one_decay() {
    let two = AdaDeltaConfig { decay: 0.9, step_decay: Some(0.5), ..Default::default() };
    let got = steps(&mut AdaDelta::new(two).unwrap(), 2);
    assert_steps(&got, &[[1.0031622737073287, -1.996837722449633], [1.0087775649795305, -1.9912210160447468]]);
    let one = steps(&mut AdaDelta::new(AdaDeltaConfig::default()).unwrap(), 2);
    assert!((one[1][0] - got[1][0]).abs() > 1e-4, "beta had no effect: {one:?}");
    let err = AdaDelta::<f64>::new(AdaDeltaConfig { step_decay: Some(1.0), ..Default::default() }).unwrap_err();
    assert_eq!(err.to_string(), "adadelta: step_decay = 1 is outside [0, 1)");
}

/// `k` steps of the literal NAG with the tape's gradients at the look-ahead point.
fn nag_steps(opt: &mut NesterovLookAhead<f64>, k: usize) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let mut w = Param::new(Tensor::from_slice(&W0, [2]).unwrap());
    let (mut ws, mut dws) = (Vec::new(), Vec::new());
    for _ in 0..k {
        opt.look_ahead(&mut [&mut w]).unwrap();
        let g = grads(&w);
        Optimizer::step(opt, &mut [&mut w], &g).unwrap();
        ws.push(w.value().to_vec());
        dws.push(opt.velocity(&w).unwrap().to_vec());
    }
    (ws, dws)
}

#[test]
fn nesterov_with_the_gradient_at_the_shifted_weights_follows_the_slide() {
    let cfg = NagConfig { lr: 0.1, momentum: 0.9, weight_decay: 0.01, ..Default::default() };
    let (ws, _) = nag_steps(&mut NesterovLookAhead::new(cfg).unwrap(), 3);
    assert_steps(&ws, &[[1.199, -0.798], [1.5389119, 0.5699962000000001], [1.9585045163900001, 1.47891447522]]);
}

#[test]
fn the_literal_and_the_reparametrised_nesterov_visit_the_same_look_ahead_points() {
    // Sgd's reparametrised form stores V_t = W_t - mu dW_t, the literal form's next look-ahead point.
    let (eta, mu, rho) = (0.1, 0.9, 0.01);
    let (ws, dws) = nag_steps(
        &mut NesterovLookAhead::new(NagConfig { lr: eta, momentum: mu, weight_decay: rho, ..Default::default() })
            .unwrap(),
        6,
    );
    let cfg = SgdConfig { lr: eta, momentum: mu, weight_decay: rho, nesterov: true, ..Default::default() };
    let vs = steps(&mut Sgd::new(cfg).unwrap(), 6);
    for (t, ((w, dw), v)) in ws.iter().zip(&dws).zip(&vs).enumerate() {
        for i in 0..2 {
            let ahead = w[i] - mu * dw[i];
            assert!((ahead - v[i]).abs() < 1e-12 * (1.0 + v[i].abs()), "step {t}: W - mu dW = {ahead}, V = {}", v[i]);
        }
        // The parameters themselves differ: the two forms hold different points.
        assert!((w[0] - v[0]).abs() > 1e-6);
    }
}

#[test]
fn nesterov_look_ahead_refuses_a_step_without_look_ahead_and_a_double_look_ahead() {
    let mut opt = NesterovLookAhead::new(NagConfig::default()).unwrap();
    let mut w = Param::new(Tensor::from_slice(&W0, [2]).unwrap());
    let g = grads(&w);
    let err = Optimizer::step(&mut opt, &mut [&mut w], &g).unwrap_err().to_string();
    assert!(err.contains("call look_ahead before step"), "{err}");
    assert_eq!(w.value().to_vec(), W0.to_vec());
    opt.look_ahead(&mut [&mut w]).unwrap();
    let err = opt.look_ahead(&mut [&mut w]).unwrap_err().to_string();
    assert!(err.contains("already at its look-ahead point"), "{err}");
}

#[test]
fn nesterov_look_ahead_steps_a_module_and_moves_it_back_when_the_gradient_fails() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let mut net = Mlp::<f64>::new(&[2, 4, 1], Activation::Tanh, Activation::Identity, &mut rng).unwrap();
    let x = Tensor::from_vec(vec![0., 0., 0., 1., 1., 0., 1., 1.], [4, 2]).unwrap();
    let y = Tensor::from_vec(vec![0., 1., 1., 0.], [4, 1]).unwrap();
    let loss_of = |m: &Mlp<f64>| {
        let o = m.predict(&x).unwrap();
        o.data().iter().zip(y.data()).map(|(o, y)| (o - y) * (o - y)).sum::<f64>() / 4.0
    };
    let mut opt = NesterovLookAhead::new(NagConfig { lr: 0.2, momentum: 0.9, ..Default::default() }).unwrap();
    let first = loss_of(&net);
    for _ in 0..200 {
        opt.step_module(&mut net, |m| {
            let tape = Tape::new();
            let o = m.forward(&tape, tape.input(x.clone()))?;
            Ok(o.mse(tape.input(y.clone()))?.backward()?)
        })
        .unwrap();
    }
    let last = loss_of(&net);
    assert!(last < first / 4.0, "loss {first} -> {last}");
    // A failing gradient leaves the module at W, not at the look-ahead point.
    let before: Vec<Vec<f64>> = net.params().iter().map(|(_, p)| p.value().to_vec()).collect();
    let err = opt.step_module(&mut net, |_| Err(tapegrad_nn::Error::Config { what: "test", msg: "no".into() }));
    assert!(err.is_err());
    let after: Vec<Vec<f64>> = net.params().iter().map(|(_, p)| p.value().to_vec()).collect();
    for (b, a) in before.iter().zip(&after) {
        for (b, a) in b.iter().zip(a) {
            assert!((b - a).abs() < 1e-12, "{b} != {a}");
        }
    }
}

#[test]
fn nesterov_look_ahead_as_a_full_batch_method_matches_the_hand_numbers() {
    let mut p = FnProblem::<f64, _>::new(vec![[2].into()], |tape: &Tape<f64>, v: &[tapegrad::Var<'_, f64>]| {
        let a = tape.constant(Tensor::from_slice(&A, [2])?);
        let c = tape.constant(Tensor::from_slice(&C, [2])?);
        Ok((a * (v[0] - c).square()).sum())
    });
    let mut opt =
        NesterovLookAhead::new(NagConfig { lr: 0.1, momentum: 0.9, weight_decay: 0.01, ..Default::default() }).unwrap();
    let tol = Tolerances { grad_norm: 0.0, rel_loss_change: 0.0, max_iters: 3 };
    let s = minimize(&mut opt, &mut p, W0.to_vec(), &tol).unwrap();
    assert_eq!(s.iters(), 3);
    assert_steps(std::slice::from_ref(&s.point.x), &[[1.9585045163900001, 1.47891447522]]);
    // One gradient at each look-ahead point and one at each new point, plus the start.
    assert_eq!(s.evals.grad, 7);
}

#[test]
fn the_template_optimizers_reject_a_momentum_of_one() {
    let e1 = AdaGrad::<f64>::new(AdaGradConfig { momentum: 1.0, ..Default::default() }).unwrap_err();
    assert_eq!(e1.to_string(), "adagrad: momentum = 1 is outside [0, 1)");
    let e2 = RmsProp::<f64>::new(RmsPropConfig { momentum: 1.0, ..Default::default() }).unwrap_err();
    assert_eq!(e2.to_string(), "rmsprop: momentum = 1 is outside [0, 1)");
    let e3 = AdaDelta::<f64>::new(AdaDeltaConfig { momentum: -0.1, ..Default::default() }).unwrap_err();
    assert_eq!(e3.to_string(), "adadelta: momentum = -0.1 is outside [0, 1)");
    let e4 = NesterovLookAhead::<f64>::new(NagConfig { momentum: 1.0, ..Default::default() }).unwrap_err();
    assert_eq!(e4.to_string(), "nesterov look-ahead: momentum = 1 is outside [0, 1)");
}
