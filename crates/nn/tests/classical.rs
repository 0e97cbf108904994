//! The classical full-batch methods on problems with known answers: Rosenbrock (2-D and 10-D), a convex
//! quadratic, a SciPy-checked curve fit, and their errors.

use tapegrad::TapeFn;
use tapegrad::{Tape, Tensor, Var, concat};
use tapegrad_nn::optim::bfgs::{Bfgs, BfgsConfig};
use tapegrad_nn::optim::cg::{CgBeta, CgConfig, ConjugateGradient};
use tapegrad_nn::optim::dense::cholesky_solve;
use tapegrad_nn::optim::driver::{FullBatch, StopReason, Summary, Tolerances, minimize};
use tapegrad_nn::optim::flat::{FnLeastSquares, FnProblem, Problem};
use tapegrad_nn::optim::lbfgs::{Lbfgs, LbfgsConfig};
use tapegrad_nn::optim::line_search::LineSearchKind;
use tapegrad_nn::optim::lm::{LevenbergMarquardt, LmConfig, LmDamping};
use tapegrad_nn::optim::newton::{Newton, NewtonCg, NewtonCgConfig, NewtonConfig};

type R<'t> = tapegrad::Result<Var<'t, f64>>;

/// Rosenbrock's function `sum 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2`.
fn rosenbrock<'t>(_: &'t Tape<f64>, v: &[Var<'t, f64>]) -> R<'t> {
    let n = v[0].shape().numel();
    let a = v[0].narrow(0, 0, n - 1)?;
    let b = v[0].narrow(0, 1, n - 1)?;
    let valley = (b - a.square()).square().sum().mul_scalar(100.0);
    Ok(valley + (1.0 - a).square().sum())
}

/// Rosenbrock's residuals `10 (x_{i+1} - x_i^2)` and `1 - x_i`: half their squared norm is `f / 2`.
fn rosenbrock_residuals<'t>(_: &'t Tape<f64>, v: &[Var<'t, f64>]) -> R<'t> {
    let n = v[0].shape().numel();
    let a = v[0].narrow(0, 0, n - 1)?;
    let b = v[0].narrow(0, 1, n - 1)?;
    concat(&[(b - a.square()).mul_scalar(10.0), 1.0 - a], 0)
}

/// The classical start `(-1.2, 1)` in 2-D; the origin in 10-D, because from `(-1.2, 1, -1.2, ...)` Newton's
/// method (and SciPy's BFGS) converge to the local minimum near `(-1, 1, ..., 1)` with `f = 3.98658`.
fn start(n: usize) -> Vec<f64> {
    if n == 2 { vec![-1.2, 1.0] } else { vec![0.0; n] }
}

fn tight(max_iters: usize) -> Tolerances {
    Tolerances { grad_norm: 1e-10, rel_loss_change: 0.0, max_iters }
}

fn assert_at_ones(name: &str, n: usize, s: &Summary) {
    let err = s.point.x.iter().map(|v| (v - 1.0).abs()).fold(0.0, f64::max);
    println!("{name} n={n}: {} iterations, stop {:?}, evals {:?}, max |x - 1| = {err:.2e}", s.iters(), s.stop, s.evals);
    assert!(err < 1e-6, "{name} on {n}-D Rosenbrock stopped at {err:e} from the minimum ({:?})", s.stop);
}

fn run_rosenbrock(name: &str, method: &mut dyn FullBatch<dyn Problem>, n: usize, max_iters: usize) {
    let mut p = FnProblem::new(vec![[n].into()], rosenbrock);
    let s = minimize(method, &mut p as &mut dyn Problem, start(n), &tight(max_iters)).unwrap();
    assert_at_ones(name, n, &s);
}

#[test]
fn bfgs_finds_the_rosenbrock_minimum_in_2_and_10_dimensions() {
    run_rosenbrock("bfgs", &mut Bfgs::new(BfgsConfig::default()).unwrap(), 2, 60);
    run_rosenbrock("bfgs", &mut Bfgs::new(BfgsConfig::default()).unwrap(), 10, 120);
}

#[test]
fn lbfgs_finds_the_rosenbrock_minimum_in_2_and_10_dimensions() {
    run_rosenbrock("l-bfgs", &mut Lbfgs::new(LbfgsConfig::default()).unwrap(), 2, 60);
    run_rosenbrock("l-bfgs", &mut Lbfgs::new(LbfgsConfig::default()).unwrap(), 10, 120);
}

#[test]
fn newton_finds_the_rosenbrock_minimum_in_2_and_10_dimensions() {
    run_rosenbrock("newton", &mut Newton::new(NewtonConfig::default()).unwrap(), 2, 40);
    run_rosenbrock("newton", &mut Newton::new(NewtonConfig::default()).unwrap(), 10, 60);
}

#[test]
fn newton_cg_finds_the_rosenbrock_minimum_in_2_and_10_dimensions() {
    run_rosenbrock("newton-cg", &mut NewtonCg::new(NewtonCgConfig::default()).unwrap(), 2, 120);
    run_rosenbrock("newton-cg", &mut NewtonCg::new(NewtonCgConfig::default()).unwrap(), 10, 120);
}

#[test]
fn conjugate_gradients_find_the_rosenbrock_minimum_in_2_and_10_dimensions() {
    for beta in [CgBeta::PolakRibierePlus, CgBeta::PolakRibiere, CgBeta::FletcherReeves] {
        for n in [2, 10] {
            let cfg = CgConfig { beta, ..Default::default() };
            let mut cg = ConjugateGradient::new(cfg).unwrap();
            run_rosenbrock(FullBatch::<dyn Problem>::name(&cg), &mut cg, n, 2000);
        }
    }
}

#[test]
fn levenberg_marquardt_finds_the_rosenbrock_minimum_as_least_squares() {
    for n in [2, 10] {
        let mut p = FnLeastSquares::new(vec![[n].into()], rosenbrock_residuals);
        let mut lm = LevenbergMarquardt::new(LmConfig::default()).unwrap();
        let s = minimize(&mut lm, &mut p, start(n), &tight(60)).unwrap();
        assert_at_ones("levenberg-marquardt", n, &s);
    }
}

/// `0.5 x^T A x - b^T x` with `A = M^T M / n + diag(1..=n)`: SPD with spread-out eigenvalues.
fn quadratic(n: usize) -> (Vec<f64>, Vec<f64>) {
    let m: Vec<f64> = (0..n * n).map(|k| ((k * 7919 % 101) as f64 / 101.0) - 0.5).collect();
    let mut a = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            a[i * n + j] = (0..n).map(|k| m[k * n + i] * m[k * n + j]).sum::<f64>() / n as f64;
        }
        a[i * n + i] += (i + 1) as f64;
    }
    let b = (0..n).map(|i| (i as f64 * 0.7).sin()).collect();
    (a, b)
}

fn quadratic_problem(a: &[f64], b: &[f64]) -> FnProblem<f64, impl TapeFn<f64>> {
    let n = b.len();
    let at = Tensor::from_vec(a.to_vec(), [n, n]).unwrap();
    let bt = Tensor::from_vec(b.to_vec(), [n, 1]).unwrap();
    FnProblem::new(vec![[n].into()], move |tape: &Tape<f64>, v: &[Var<'_, f64>]| {
        let x = v[0].reshape([n, 1])?;
        let ax = tape.constant(at.clone()).matmul(x)?;
        let quad = x.t()?.matmul(ax)?.sum().mul_scalar(0.5);
        Ok(quad - x.t()?.matmul(tape.constant(bt.clone()))?.sum())
    })
}

fn inverse(a: &[f64], n: usize) -> Vec<f64> {
    let mut inv = vec![0.0; n * n];
    for j in 0..n {
        let e: Vec<f64> = (0..n).map(|i| if i == j { 1.0 } else { 0.0 }).collect();
        let col = cholesky_solve(a, n, &vec![0.0; n], &e).unwrap();
        for i in 0..n {
            inv[i * n + j] = col[i];
        }
    }
    inv
}

fn rel_frobenius(a: &[f64], b: &[f64]) -> f64 {
    let diff: f64 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
    (diff / b.iter().map(|y| y * y).sum::<f64>()).sqrt()
}

#[test]
fn linear_cg_with_exact_line_search_solves_a_20_dimensional_quadratic_in_at_most_n_steps() {
    let n = 20;
    let (a, b) = quadratic(n);
    let mut p = quadratic_problem(&a, &b);
    let cfg =
        CgConfig { beta: CgBeta::FletcherReeves, restart_every: None, line_search: LineSearchKind::ExactQuadratic };
    let mut cg = ConjugateGradient::new(cfg).unwrap();
    let tol = Tolerances { grad_norm: 1e-9, rel_loss_change: 0.0, max_iters: n };
    let s = minimize(&mut cg, &mut p, vec![0.0; n], &tol).unwrap();
    println!("linear cg: {} steps, |g| = {:e}", s.iters(), s.history.last().unwrap().grad_norm);
    assert_eq!(s.stop, StopReason::GradientNorm, "not converged in n = {n} steps");
    assert!(s.iters() <= n);
    let solution = cholesky_solve(&a, n, &vec![0.0; n], &b).unwrap();
    let err = s.point.x.iter().zip(&solution).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    assert!(err < 1e-9, "cg solution differs from A^-1 b by {err:e}");
}

#[test]
fn bfgs_inverse_hessian_becomes_the_true_inverse_on_a_quadratic() {
    let n = 20;
    let (a, b) = quadratic(n);
    let truth = inverse(&a, n);
    // Exact line search: quadratic termination, H_n = A^-1 up to rounding.
    let mut p = quadratic_problem(&a, &b);
    let mut bfgs = Bfgs::new(BfgsConfig { line_search: LineSearchKind::ExactQuadratic, ..Default::default() }).unwrap();
    let tol = Tolerances { grad_norm: 0.0, rel_loss_change: 0.0, max_iters: n };
    minimize(&mut bfgs, &mut p, vec![0.0; n], &tol).unwrap();
    let exact_err = rel_frobenius(&bfgs.inverse_hessian().unwrap(), &truth);
    assert!(exact_err < 1e-8, "exact line search: relative error {exact_err:e}");
    // Strong Wolfe line search: the pairs are no longer conjugate, so H_n is not exact, but it moves toward the
    // inverse as pairs accumulate (0.82 after 2 steps, 0.11 at convergence when this was written).
    let mut errs = Vec::new();
    for iters in [2, 3 * n] {
        let mut p = quadratic_problem(&a, &b);
        let mut w = Bfgs::new(BfgsConfig::default()).unwrap();
        let tol = Tolerances { grad_norm: 1e-12, rel_loss_change: 0.0, max_iters: iters };
        minimize(&mut w, &mut p, vec![0.0; n], &tol).unwrap();
        assert_eq!(w.skipped_updates(), 0);
        errs.push(rel_frobenius(&w.inverse_hessian().unwrap(), &truth));
    }
    println!("bfgs |H - A^-1| / |A^-1|: exact line search {exact_err:e}; wolfe {errs:?}");
    assert!(errs[1] < 0.5 * errs[0], "wolfe: error {:e} after 2 steps, {:e} at the end", errs[0], errs[1]);
}

/// The fixture written once by `fixtures/lm_curve_fit.py`: data, true parameters, SciPy's fit.
struct CurveFit {
    true_params: Vec<f64>,
    start: Vec<f64>,
    scipy_fit: Vec<f64>,
    scipy_stderr: Vec<f64>,
    scipy_cost: f64,
    x: Vec<f64>,
    y: Vec<f64>,
}

fn curve_fit_fixture() -> CurveFit {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/lm_curve_fit.txt");
    let text = std::fs::read_to_string(path).unwrap();
    let mut c = CurveFit {
        true_params: vec![],
        start: vec![],
        scipy_fit: vec![],
        scipy_stderr: vec![],
        scipy_cost: 0.0,
        x: vec![],
        y: vec![],
    };
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let mut it = line.split_whitespace();
        let key = it.next().unwrap();
        let nums: Vec<f64> = it.map(|t| t.parse().unwrap()).collect();
        match key {
            "true" => c.true_params = nums,
            "start" => c.start = nums,
            "fit" => c.scipy_fit = nums,
            "stderr" => c.scipy_stderr = nums,
            "cost" => c.scipy_cost = nums[0],
            "pcov" => {}
            "data" => {
                c.x.push(nums[0]);
                c.y.push(nums[1]);
            }
            other => panic!("{path}: unknown key {other}"),
        }
    }
    c
}

/// Residuals `a exp(-b x) + c - y` of the parameters `[a, b, c]`.
fn exp_decay<'t>(tape: &'t Tape<f64>, v: &[Var<'t, f64>], x: &Tensor<f64>, y: &Tensor<f64>) -> R<'t> {
    let m: tapegrad::Shape = x.shape().clone();
    let (a, b, c) = (v[0].narrow(0, 0, 1)?, v[0].narrow(0, 1, 1)?, v[0].narrow(0, 2, 1)?);
    let x = tape.input(x.clone());
    let model = (a.broadcast_to(&m)? * (-(b.broadcast_to(&m)? * x)).exp()) + c.broadcast_to(&m)?;
    Ok(model - tape.input(y.clone()))
}

fn curve_problem(x: &[f64], y: &[f64]) -> FnLeastSquares<f64, impl TapeFn<f64>> {
    let xt = Tensor::from_vec(x.to_vec(), [x.len()]).unwrap();
    let yt = Tensor::from_vec(y.to_vec(), [y.len()]).unwrap();
    FnLeastSquares::new(vec![[3].into()], move |tape: &Tape<f64>, v: &[Var<'_, f64>]| exp_decay(tape, v, &xt, &yt))
}

#[test]
fn levenberg_marquardt_fits_an_exponential_decay_like_scipy() {
    let fx = curve_fit_fixture();
    for damping in [LmDamping::JtJDiagonal, LmDamping::Identity] {
        let mut p = curve_problem(&fx.x, &fx.y);
        let mut lm = LevenbergMarquardt::new(LmConfig { damping, ..Default::default() }).unwrap();
        let tol = Tolerances { grad_norm: 1e-12, rel_loss_change: 0.0, max_iters: 100 };
        let s = minimize(&mut lm, &mut p, fx.start.clone(), &tol).unwrap();
        println!(
            "lm {damping:?}: {} iterations, stop {:?}, fit {:?}, cost {:e}",
            s.iters(),
            s.stop,
            s.point.x,
            s.point.f
        );
        for k in 0..3 {
            let (ours, scipy) = (s.point.x[k], fx.scipy_fit[k]);
            assert!((ours - scipy).abs() <= 1e-7 * scipy.abs(), "parameter {k}: ours {ours}, scipy {scipy}");
            let off = (ours - fx.true_params[k]).abs();
            assert!(off <= 3.0 * fx.scipy_stderr[k], "parameter {k} is {off} from the truth");
        }
        assert!((s.point.f - fx.scipy_cost).abs() <= 1e-9 * fx.scipy_cost);
    }
}

#[test]
fn levenberg_marquardt_refuses_a_system_too_large_and_names_the_sizes() {
    let mut p = FnLeastSquares::new(vec![[3000].into()], |_: &Tape<f64>, v: &[Var<'_, f64>]| Ok(v[0].add_scalar(-1.0)));
    let mut lm = LevenbergMarquardt::new(LmConfig::default()).unwrap();
    let err = minimize(&mut lm, &mut p, vec![0.0; 3000], &Tolerances::default()).unwrap_err().to_string();
    assert!(err.contains("3000 x 3000") && err.contains("max_params = 2000"), "{err}");
}

#[test]
fn bfgs_refuses_more_parameters_than_max_dim() {
    let mut p = FnProblem::new(vec![[50].into()], |_: &Tape<f64>, v: &[Var<'_, f64>]| Ok(v[0].square().sum()));
    let mut bfgs = Bfgs::new(BfgsConfig { max_dim: 10, ..Default::default() }).unwrap();
    let err = minimize(&mut bfgs, &mut p, vec![1.0; 50], &Tolerances::default()).unwrap_err().to_string();
    assert!(err.contains("bfgs") && err.contains("50 x 50") && err.contains("max_dim = 10"), "{err}");
}

#[test]
fn a_flat_vector_of_the_wrong_length_is_an_error() {
    let mut p = FnProblem::new(vec![[2, 3].into(), [4].into()], |_: &Tape<f64>, v: &[Var<'_, f64>]| Ok(v[0].sum()));
    assert_eq!(p.dim(), 10);
    let err = p.loss(&[0.0; 9]).unwrap_err().to_string();
    assert!(err.contains("length 9") && err.contains("10 parameters"), "{err}");
}

#[test]
fn every_method_reports_counts_and_stops_on_each_tolerance() {
    let mut p = FnProblem::new(vec![[2].into()], rosenbrock);
    let mut bfgs = Bfgs::new(BfgsConfig::default()).unwrap();
    let s = minimize(&mut bfgs, &mut p, start(2), &Tolerances { grad_norm: 0.0, rel_loss_change: 0.0, max_iters: 3 })
        .unwrap();
    assert_eq!(s.stop, StopReason::MaxIterations);
    assert_eq!(s.iters(), 3);
    let last = s.history.last().unwrap();
    assert!(last.evals.grad >= 4 && last.evals.hvp == 0 && last.step_len > 0.0);
    assert!(s.history.windows(2).all(|w| w[1].loss <= w[0].loss), "a Wolfe step never raises the loss");
    let mut bfgs = Bfgs::new(BfgsConfig::default()).unwrap();
    let loose = Tolerances { grad_norm: 0.0, rel_loss_change: 1e-2, max_iters: 1000 };
    let s = minimize(&mut bfgs, &mut p, start(2), &loose).unwrap();
    assert_eq!(s.stop, StopReason::LossChange);
    let mut newton_cg = NewtonCg::new(NewtonCgConfig::default()).unwrap();
    let s = minimize(&mut newton_cg, &mut p, start(2), &tight(100)).unwrap();
    assert_eq!(s.stop, StopReason::GradientNorm);
    assert!(s.evals.hvp > 0 && s.evals.hvp == newton_cg.inner_iterations());
}

#[test]
fn newton_from_the_alternating_10_d_start_stops_at_the_known_local_minimum() {
    // 10-D Rosenbrock has a second, local minimum near (-1, 1, ..., 1) with f = 3.98658; SciPy's BFGS lands there
    // from this start too.
    let x0: Vec<f64> = (0..10).map(|i| if i % 2 == 0 { -1.2 } else { 1.0 }).collect();
    let mut p = FnProblem::new(vec![[10].into()], rosenbrock);
    let mut newton = Newton::new(NewtonConfig::default()).unwrap();
    let s = minimize(&mut newton, &mut p, x0, &tight(60)).unwrap();
    let g = s.history.last().unwrap().grad_norm;
    assert!((s.point.f - 3.98658).abs() < 1e-5 && g < 1e-6, "f = {}, |g| = {g:e}", s.point.f);
    assert!((s.point.x[0] + 0.99326).abs() < 1e-4 && s.point.x[1..].iter().all(|v| (v - 1.0).abs() < 0.02));
}

#[test]
fn curve_fit_matches_scipy_parameters_covariance_and_standard_errors() {
    let fx = curve_fit_fixture();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/lm_curve_fit.txt");
    let pcov: Vec<f64> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("pcov "))
        .flat_map(|l| l.split_whitespace().map(|t| t.parse::<f64>().unwrap()).collect::<Vec<_>>())
        .collect();
    assert_eq!(pcov.len(), 9);
    let x = Tensor::from_vec(fx.x.clone(), [fx.x.len()]).unwrap();
    let y = Tensor::from_vec(fx.y.clone(), [fx.y.len()]).unwrap();
    // y = a exp(-b x) + c, written as the formula.
    let fit =
        tapegrad_nn::optim::full_batch::curve_fit(|_, x, p| Ok(p[0] * (-(p[1] * x)).exp() + p[2]), &x, &y, &fx.start)
            .unwrap();
    println!("{fit}");
    for k in 0..3 {
        let (ours, scipy) = (fit.params[k], fx.scipy_fit[k]);
        assert!((ours - scipy).abs() <= 1e-7 * scipy.abs(), "parameter {k}: ours {ours}, scipy {scipy}");
        let (se, scipy_se) = (fit.std_errors[k], fx.scipy_stderr[k]);
        assert!((se - scipy_se).abs() <= 1e-5 * scipy_se, "std error {k}: ours {se}, scipy {scipy_se}");
    }
    for (k, (ours, scipy)) in fit.covariance.iter().zip(&pcov).enumerate() {
        assert!((ours - scipy).abs() <= 1e-5 * scipy.abs(), "pcov[{k}]: ours {ours}, scipy {scipy}");
    }
    assert!((fit.cost - fx.scipy_cost).abs() <= 1e-9 * fx.scipy_cost);
    let shown = fit.to_string();
    assert!(shown.contains("std error") && shown.contains("steps") && shown.contains("Jacobians"), "{shown}");
}

#[test]
fn curve_fit_refuses_a_model_of_the_wrong_size() {
    let x = Tensor::from_vec(vec![0.0, 1.0, 2.0], [3]).unwrap();
    let y = Tensor::from_vec(vec![1.0, 2.0], [2]).unwrap();
    let e = tapegrad_nn::optim::full_batch::curve_fit(|_, x, p| Ok(p[0] * x), &x, &y, &[1.0]).unwrap_err();
    assert!(e.to_string().contains("3 predictions") && e.to_string().contains("2 data points"), "{e}");
}
