//! Lecture 003's forms of the full-batch methods: RProp's plain rule, QuickProp as on the slide, BFGS from
//! `V0 = I`, and Levenberg-Marquardt on a network's stacked errors. Step numbers come from
//! `fixtures/lecture003_steps.py` (plain Python, no tapegrad; output in `fixtures/lecture003_steps.txt`).

mod common;
use common::assert_steps;
use rand::SeedableRng;
use tapegrad::{Tape, TapeFn, Tensor, Var};
use tapegrad_nn::optim::driver::{FullBatch, Tolerances, minimize};
use tapegrad_nn::optim::flat::{FnProblem, LeastSquares, Problem};
use tapegrad_nn::optim::full_batch::{
    Bfgs, BfgsConfig, BfgsInit, LevenbergMarquardt, LineSearchKind, LmConfig, LmDamping, NetLeastSquares, Quickprop,
    QuickpropConfig, QuickpropVariant, Rprop, RpropConfig, RpropVariant,
};
use tapegrad_nn::{Activation, Mlp, Module};

/// `k` single steps of `method` from `x0`, the point after each.
fn steps(
    method: &mut dyn FullBatch<dyn Problem>,
    p: &mut (dyn Problem + 'static),
    x0: &[f64],
    k: usize,
) -> Vec<Vec<f64>> {
    let mut x = x0.to_vec();
    (0..k)
        .map(|_| {
            let tol = Tolerances { grad_norm: 0.0, rel_loss_change: 0.0, max_iters: 1 };
            x = minimize(method, p, x.clone(), &tol).unwrap().point.x;
            x.clone()
        })
        .collect()
}

/// `(w0 - 1)^2 + (w1 + 0.15)^2`.
fn rprop_problem() -> FnProblem<f64, impl TapeFn<f64>> {
    FnProblem::new(vec![[2].into()], |tape: &Tape<f64>, v: &[Var<'_, f64>]| {
        Ok((v[0] - tape.constant(Tensor::from_vec(vec![1.0, -0.15], [2])?)).square().sum())
    })
}

#[test]
fn rprop_plain_rule_steps_with_the_shrunk_step_after_a_sign_flip() {
    // w1: -0.1 (g = 0.3), -0.22 (g = 0.1, step 0.12); g = -0.14 flips the sign: the step halves to 0.06 and the
    // weight moves 0.06 against the new gradient (-0.16, no backtracking); g = -0.02 keeps the sign: 0.072.
    let mut p = rprop_problem();
    let mut rprop = Rprop::new(RpropConfig { variant: RpropVariant::Plain, ..Default::default() }).unwrap();
    assert_eq!(FullBatch::<dyn Problem>::name(&rprop), "rprop-plain");
    let xs = steps(&mut rprop, &mut p, &[0.0, 0.0], 4);
    assert_steps(&xs, &[[0.1, -0.1], [0.22, -0.22], [0.364, -0.16], [0.5367999999999999, -0.08800000000000001]]);
    assert!((rprop.step_sizes()[0] - 0.17279999999999998).abs() < 1e-15);
    assert!((rprop.step_sizes()[1] - 0.072).abs() < 1e-15);
    // Rprop+ (backtracking) undoes the -0.12 at step 3 instead: a different third point.
    let xs = steps(&mut Rprop::new(RpropConfig::default()).unwrap(), &mut p, &[0.0, 0.0], 3);
    assert!((xs[2][1] + 0.1).abs() < 1e-12, "{xs:?}");
}

#[test]
fn rprop_weight_decay_uses_the_sign_of_the_decayed_gradient() {
    // rho = 0.5: the sign of g + 0.5 w; the minimum moves from (1, -0.15) to (0.8, -0.12). The first five steps
    // are those without decay (no sign differs yet); at step 6 w1 = -0.124 is past -0.12 and turns, at step 7
    // w0 = 0.993 is past 0.8 and turns.
    let mut p = rprop_problem();
    let cfg = RpropConfig { variant: RpropVariant::Plain, weight_decay: 0.5, ..Default::default() };
    let mut rprop = Rprop::new(cfg).unwrap();
    let xs = steps(&mut rprop, &mut p, &[0.0, 0.0], 7);
    assert_steps(
        &xs,
        &[
            [0.1, -0.1],
            [0.22, -0.22],
            [0.364, -0.16],
            [0.5367999999999999, -0.08800000000000001],
            [0.7441599999999999, -0.124],
            [0.9929919999999999, -0.106],
            [0.8685759999999999, -0.11499999999999999],
        ],
    );
    assert!(
        (rprop.step_sizes()[0] - 0.12441599999999997).abs() < 1e-15 && (rprop.step_sizes()[1] - 0.009).abs() < 1e-15
    );
    let err = Rprop::new(RpropConfig { weight_decay: -1.0, ..Default::default() }).unwrap_err().to_string();
    assert!(err.contains("weight_decay >= 0"), "{err}");
}

/// `(w0 - 2)^2 + (w1^2 - 1)^2`: a parabola for w0, a double well for w1.
fn quickprop_problem() -> FnProblem<f64, impl TapeFn<f64>> {
    FnProblem::new(vec![[2].into()], |_: &Tape<f64>, v: &[Var<'_, f64>]| {
        let w0 = v[0].narrow(0, 0, 1)?;
        let w1 = v[0].narrow(0, 1, 1)?;
        Ok((w0.add_scalar(-2.0).square() + w1.square().add_scalar(-1.0).square()).sum())
    })
}

#[test]
fn quickprop_lecture_rule_reproduces_the_slide() {
    // w0 (a parabola): gradient step 0.4; ratio 4 capped at 1.75 plus 0.32; secant 0.57 with the gradient term;
    // after crossing the minimum the slope changed sign: eta = 0 and the negative ratio -1/6 steps back onto 2.
    // w1 (double well, slope steepening): the ratio -4.02 is capped at -1.75 in size: a step back.
    let mut p = quickprop_problem();
    let cfg = QuickpropConfig { epsilon: 0.1, mu: 1.75, variant: QuickpropVariant::Lecture, ..Default::default() };
    let mut qp = Quickprop::new(cfg).unwrap();
    assert_eq!(FullBatch::<dyn Problem>::name(&qp), "quickprop-lecture");
    let xs = steps(&mut qp, &mut p, &[0.0, 0.2], 4);
    assert_steps(
        &xs,
        &[
            [0.4, 0.27680000000000005],
            [1.42, 0.24463682846720003],
            [2.116, 0.18835127828480003],
            [2.0, 0.08985156546560003],
        ],
    );
    // Fahlman's rule takes the maximum step forward on the steepening slope instead.
    let mut fahlman = Quickprop::new(QuickpropConfig { variant: QuickpropVariant::Fahlman, ..cfg }).unwrap();
    let xs = steps(&mut fahlman, &mut p, &[0.0, 0.2], 2);
    assert!((xs[1][1] - 0.5134368284672001).abs() < 1e-12, "{xs:?}");
    assert!((xs[1][0] - 1.42).abs() < 1e-12, "{xs:?}");
}

/// `0.5 x^T A x - b^T x` with `A = [[3, 1], [1, 2]]`, `b = [1, 1]`; the minimum is `A^-1 b = (0.2, 0.4)`.
fn bfgs_problem() -> FnProblem<f64, impl TapeFn<f64>> {
    FnProblem::new(vec![[2].into()], |_: &Tape<f64>, v: &[Var<'_, f64>]| {
        let (x0, x1) = (v[0].narrow(0, 0, 1)?, v[0].narrow(0, 1, 1)?);
        Ok((x0.square() * 1.5 + x0 * x1 + x1.square() - x0 - x1).sum())
    })
}

#[test]
fn bfgs_from_the_identity_updates_v_as_the_slide() {
    let cfg =
        BfgsConfig { line_search: LineSearchKind::ExactQuadratic, initial: BfgsInit::Identity, ..Default::default() };
    let mut bfgs = Bfgs::new(cfg).unwrap();
    let mut p = bfgs_problem();
    let xs = steps(&mut bfgs, &mut p, &[0.0, 0.0], 1);
    // Step 1: d = -g = (1, 1), alpha = 2/7; V1 by the expanded formula (denominators s^T y).
    assert_steps(&xs, &[[0.2857142857142857, 0.2857142857142857]]);
    let v1 = bfgs.inverse_hessian().unwrap();
    let want = [0.510204081632653, -0.34693877551020413, -0.34693877551020413, 0.7959183673469387];
    for (g, w) in v1.iter().zip(want) {
        assert!((g - w).abs() < 1e-12, "V1 = {v1:?}, by hand {want:?}");
    }
    // Step 2 lands on the minimum and V2 = A^-1 = [[0.4, -0.2], [-0.2, 0.6]] (quadratic termination).
    let xs = steps(&mut bfgs, &mut p, &xs[0], 1);
    assert_steps(&xs, &[[0.2, 0.39999999999999997]]);
    let v2 = bfgs.inverse_hessian().unwrap();
    for (g, w) in v2.iter().zip([0.4, -0.2, -0.2, 0.6]) {
        assert!((g - w).abs() < 1e-12, "V2 = {v2:?}");
    }
    // The standard form rescales V0 to (y.s / y.y) I before its first update: another V1.
    let cfg = BfgsConfig { initial: BfgsInit::ScaledIdentity, ..cfg };
    let mut scaled = Bfgs::new(cfg).unwrap();
    steps(&mut scaled, &mut p, &[0.0, 0.0], 1);
    let h1 = scaled.inverse_hessian().unwrap();
    assert!((h1[0] - want[0]).abs() > 1e-3, "{h1:?}");
}

/// `x` on `[-2, 2]` (25 points) and `d = sin(x)`, the regression set of the LM tests.
fn sine_data() -> (Tensor<f64>, Tensor<f64>) {
    let x = Tensor::linspace(-2.0, 2.0, 25).unwrap().reshape([25, 1]).unwrap();
    let d = x.map(f64::sin);
    (x, d)
}

#[test]
fn levenberg_marquardt_trains_a_regression_net_on_its_stacked_errors() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut net = Mlp::<f64>::new(&[1, 6, 1], Activation::Tanh, Activation::Identity, &mut rng).unwrap();
    let (x, d) = sine_data();
    let mut problem = NetLeastSquares::new(&mut net, x.clone(), d.clone()).unwrap();
    let x0 = problem.initial();
    let start = problem.loss(&x0).unwrap();
    // The slide's damping is lambda I (Levenberg's), not Marquardt's diag(J^T J).
    let lm_cfg = LmConfig { damping: LmDamping::Identity, ..Default::default() };
    let tol = Tolerances { grad_norm: 1e-12, rel_loss_change: 0.0, max_iters: 300 };
    let run = minimize(&mut LevenbergMarquardt::new(lm_cfg).unwrap(), &mut problem, x0, &tol).unwrap();
    problem.write(&run.point.x).unwrap();
    let at = |k: usize| run.history[k - 1].loss;
    println!(
        "LM on a 1-6-1 tanh net, sin on [-2, 2]: E = 1/2 sum e^2 = {start:.3e} at the start, {:.3e} after 1 step, \
         {:.3e} after 25, {:.3e} after 300",
        at(1),
        at(25),
        at(300)
    );
    // Measured (this seed, 2026-12-03): 2.575e0, 7.908e-2, 1.815e-3, 1.977e-5.
    assert!(start > 2.5, "start {start}");
    assert!(at(25) < 2e-3 && run.point.f < 3e-5, "E = {}", run.point.f);
    assert!(run.history.windows(2).all(|w| w[1].loss <= w[0].loss), "LM accepted a step that raised E");
    // The module holds the fit: its own prediction has the same error.
    let o = net.predict(&x).unwrap();
    let e: f64 = 0.5 * o.data().iter().zip(d.data()).map(|(o, d)| (d - o) * (d - o)).sum::<f64>();
    assert!((e - run.point.f).abs() < 1e-12, "{e} vs {}", run.point.f);
}

#[test]
fn the_stacked_errors_jacobian_agrees_with_central_differences() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    // Two outputs, so the stacking over outputs and examples is exercised.
    let mut net = Mlp::<f64>::new(&[1, 3, 2], Activation::Sigmoid, Activation::Tanh, &mut rng).unwrap();
    let x = Tensor::from_vec(vec![-1.0, 0.3, 1.5], [3, 1]).unwrap();
    let d = Tensor::from_vec(vec![0.1, -0.2, 0.3, 0.4, -0.5, 0.6], [3, 2]).unwrap();
    let o = net.predict(&x).unwrap();
    let mut problem = NetLeastSquares::new(&mut net, x, d.clone()).unwrap();
    let w = problem.initial();
    let n = w.len();
    let (e, j) = problem.residuals_jacobian(&w).unwrap();
    // e = d - o, example by example, outputs within an example.
    assert_eq!(e.len(), 6);
    for (k, (e, (d, o))) in e.iter().zip(d.data().iter().zip(o.data())).enumerate() {
        assert!((e - (d - o)).abs() < 1e-15, "e[{k}] = {e}, d - o = {}", d - o);
    }
    let h = 1e-6;
    for c in 0..n {
        let (mut wp, mut wm) = (w.clone(), w.clone());
        wp[c] += h;
        wm[c] -= h;
        let (ep, em) = (problem.residuals(&wp).unwrap(), problem.residuals(&wm).unwrap());
        for r in 0..6 {
            let fd = (ep[r] - em[r]) / (2.0 * h);
            assert!((j[r * n + c] - fd).abs() < 1e-8, "J[{r}, {c}] = {}, central difference {fd}", j[r * n + c]);
        }
    }
    // The gradient of 1/2 |e|^2 is J^T e.
    let (_, g) = problem.loss_grad(&w).unwrap();
    for c in 0..n {
        let jte: f64 = (0..6).map(|r| j[r * n + c] * e[r]).sum();
        assert!((g[c] - jte).abs() < 1e-12, "g[{c}] = {}, J^T e = {jte}", g[c]);
    }
}

#[test]
fn net_least_squares_names_both_shapes_when_d_does_not_fit() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let mut net = Mlp::<f64>::new(&[1, 3, 2], Activation::Tanh, Activation::Identity, &mut rng).unwrap();
    let x = Tensor::from_vec(vec![0.0, 1.0], [2, 1]).unwrap();
    let d = Tensor::from_vec(vec![0.0, 1.0], [2, 1]).unwrap();
    let err = NetLeastSquares::new(&mut net, x, d).err().unwrap().to_string();
    assert!(err.contains("[2, 2]") && err.contains("[2, 1]"), "{err}");
}
