//! Every optimizer in `nn`, first-order and classical, passes the same test: from the origin, reach the
//! minimum of `f(x) = 0.5 sum d_i (x_i - t_i)^2` (n = 10, curvatures 1..4) to 1e-4 in every coordinate.
//! Also: the strong Wolfe line search returns steps that satisfy both conditions.

use tapegrad::TapeFn;
use tapegrad::{Tape, Tensor, Var};
use tapegrad_nn::optim::bfgs::{Bfgs, BfgsConfig};
use tapegrad_nn::optim::cg::{CgBeta, CgConfig, ConjugateGradient};
use tapegrad_nn::optim::driver::{Counted, FullBatch, Tolerances, dot, minimize};
use tapegrad_nn::optim::first_order::FirstOrder;
use tapegrad_nn::optim::flat::{FnLeastSquares, FnProblem, Problem};
use tapegrad_nn::optim::lbfgs::{Lbfgs, LbfgsConfig};
use tapegrad_nn::optim::line_search::{WolfeConfig, strong_wolfe};
use tapegrad_nn::optim::lm::{LevenbergMarquardt, LmConfig};
use tapegrad_nn::optim::newton::{Newton, NewtonCg, NewtonCgConfig, NewtonConfig};
use tapegrad_nn::optim::quickprop::{Quickprop, QuickpropConfig};
use tapegrad_nn::optim::rprop::{Rprop, RpropConfig, RpropVariant};
use tapegrad_nn::optim::*;

const N: usize = 10;

fn curvatures() -> Vec<f64> {
    (0..N).map(|i| 1.0 + 3.0 * i as f64 / (N - 1) as f64).collect()
}

fn target() -> Vec<f64> {
    (0..N).map(|i| (i as f64).sin()).collect()
}

/// The residuals `sqrt(d_i) (x_i - t_i)`: half their squared norm is `f`.
fn residuals<'t>(tape: &'t Tape<f64>, v: &[Var<'t, f64>]) -> tapegrad::Result<Var<'t, f64>> {
    let sd = tape.constant(Tensor::from_vec(curvatures().iter().map(|d| d.sqrt()).collect(), [N])?);
    let t = tape.constant(Tensor::from_vec(target(), [N])?);
    Ok((v[0] - t) * sd)
}

fn problem() -> FnProblem<f64, impl TapeFn<f64>> {
    FnProblem::new(vec![[N].into()], |tape: &Tape<f64>, v: &[Var<'_, f64>]| {
        Ok(residuals(tape, v)?.square().sum().mul_scalar(0.5))
    })
}

fn boxed<M: FullBatch<dyn Problem> + 'static>(m: M) -> Box<dyn FullBatch<dyn Problem>> {
    Box::new(m)
}

fn all_methods() -> Vec<(Box<dyn FullBatch<dyn Problem>>, usize)> {
    let sgd = |lr, momentum, nesterov| Sgd::new(SgdConfig { lr, momentum, nesterov, ..Default::default() }).unwrap();
    let cg = |beta| ConjugateGradient::new(CgConfig { beta, ..Default::default() }).unwrap();
    vec![
        (boxed(FirstOrder::new("sgd", sgd(0.3, 0.0, false))), 200),
        (boxed(FirstOrder::new("momentum", sgd(0.1, 0.8, false))), 300),
        (boxed(FirstOrder::new("nesterov", sgd(0.1, 0.8, true))), 300),
        (
            boxed(FirstOrder::new("adagrad", AdaGrad::new(AdaGradConfig { lr: 0.5, ..Default::default() }).unwrap())),
            3000,
        ),
        (
            boxed(FirstOrder::new("rmsprop", RmsProp::new(RmsPropConfig { lr: 1e-3, ..Default::default() }).unwrap())),
            5000,
        ),
        (boxed(FirstOrder::new("adadelta", AdaDelta::new(AdaDeltaConfig::default()).unwrap())), 20000),
        (boxed(FirstOrder::new("adam", Adam::new(AdamConfig { lr: 0.01, ..Default::default() }).unwrap())), 5000),
        (
            boxed(FirstOrder::new(
                "adamw",
                AdamW::new(AdamWConfig { lr: 0.01, weight_decay: 0.0, ..Default::default() }).unwrap(),
            )),
            5000,
        ),
        (boxed(Rprop::new(RpropConfig::default()).unwrap()), 200),
        (boxed(Rprop::new(RpropConfig { variant: RpropVariant::IRpropMinus, ..Default::default() }).unwrap()), 200),
        (boxed(Quickprop::new(QuickpropConfig::default()).unwrap()), 200),
        (boxed(cg(CgBeta::FletcherReeves)), 50),
        (boxed(cg(CgBeta::PolakRibiere)), 50),
        (boxed(cg(CgBeta::PolakRibierePlus)), 50),
        (boxed(Bfgs::new(BfgsConfig::default()).unwrap()), 50),
        (boxed(Lbfgs::new(LbfgsConfig::default()).unwrap()), 50),
        (boxed(Newton::new(NewtonConfig::default()).unwrap()), 5),
        (boxed(NewtonCg::new(NewtonCgConfig::default()).unwrap()), 20),
    ]
}

#[test]
fn every_optimizer_reaches_the_minimum_of_the_same_quadratic() {
    let t = target();
    let mut table = Vec::new();
    for (mut m, cap) in all_methods() {
        let mut p = problem();
        let tol = Tolerances { grad_norm: 1e-9, rel_loss_change: 0.0, max_iters: cap };
        let s = minimize(m.as_mut(), &mut p as &mut dyn Problem, vec![0.0; N], &tol).unwrap();
        let err = s.point.x.iter().zip(&t).map(|(x, t)| (x - t).abs()).fold(0.0, f64::max);
        table.push(format!("{:>10}: {:5} steps, max error {err:.1e}, stop {:?}", m.name(), s.iters(), s.stop));
        assert!(err < 1e-4, "{} is {err:e} from the minimum after {} steps ({:?})", m.name(), s.iters(), s.stop);
    }
    let mut p = FnLeastSquares::new(vec![[N].into()], residuals);
    let mut lm = LevenbergMarquardt::new(LmConfig::default()).unwrap();
    let tol = Tolerances { grad_norm: 1e-9, rel_loss_change: 0.0, max_iters: 20 };
    let s = minimize(&mut lm, &mut p, vec![0.0; N], &tol).unwrap();
    let err = s.point.x.iter().zip(&t).map(|(x, t)| (x - t).abs()).fold(0.0, f64::max);
    table.push(format!("{:>10}: {:5} steps, max error {err:.1e}, stop {:?}", "lm", s.iters(), s.stop));
    assert!(err < 1e-4, "levenberg-marquardt is {err:e} from the minimum");
    println!("{}", table.join("\n"));
}

#[test]
fn strong_wolfe_steps_satisfy_both_conditions() {
    // Rosenbrock in 2-D from several points along the steepest descent direction.
    let mut p = FnProblem::new(vec![[2].into()], |_: &Tape<f64>, v: &[Var<'_, f64>]| {
        let (a, b) = (v[0].narrow(0, 0, 1)?, v[0].narrow(0, 1, 1)?);
        Ok((b - a.square()).square().sum().mul_scalar(100.0) + (1.0 - a).square().sum())
    });
    let cfg = WolfeConfig::default();
    for x0 in [[-1.2, 1.0], [0.0, 0.0], [2.0, 2.0], [-0.5, 0.8]] {
        let mut c = Counted::new(&mut p);
        let start = c.point(x0.to_vec()).unwrap();
        let d: Vec<f64> = start.g.iter().map(|g| -g).collect();
        for alpha0 in [1e-4, 1.0, 100.0] {
            let acc = strong_wolfe(&mut c, &start, &d, alpha0, &cfg).unwrap().expect("a step exists");
            let (phi0, dphi0) = (start.f, dot(&start.g, &d));
            assert!(acc.wolfe, "from {x0:?} with alpha0 {alpha0}");
            assert!(acc.point.f <= phi0 + cfg.c1 * acc.alpha * dphi0, "sufficient decrease from {x0:?}");
            assert!(dot(&acc.point.g, &d).abs() <= -cfg.c2 * dphi0, "curvature from {x0:?}");
        }
        let up: Vec<f64> = d.iter().map(|v| -v).collect();
        assert!(strong_wolfe(&mut c, &start, &up, 1.0, &cfg).unwrap().is_none(), "an ascent direction has no step");
    }
    assert!(WolfeConfig { c1: 0.5, c2: 0.1, ..cfg }.validate().is_err());
}

#[test]
fn an_f32_model_is_optimised_in_f64_and_reaches_f32_precision() {
    let mut p = FnProblem::new(vec![[N].into()], |tape: &Tape<f32>, v: &[Var<'_, f32>]| {
        let t = tape.constant(Tensor::from_vec(target().iter().map(|v| *v as f32).collect(), [N])?);
        Ok((v[0] - t).square().sum())
    });
    let mut bfgs = Bfgs::new(BfgsConfig::default()).unwrap();
    let tol = Tolerances { grad_norm: 1e-5, rel_loss_change: 0.0, max_iters: 50 };
    let s = minimize(&mut bfgs, &mut p, vec![0.0; N], &tol).unwrap();
    let err = s.point.x.iter().zip(target()).map(|(x, t)| (x - t).abs()).fold(0.0, f64::max);
    assert!(err < 1e-5, "f32 quadratic: {err:e} from the minimum ({:?})", s.stop);
}
