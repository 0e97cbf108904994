//! What every classical full-batch method shares: evaluation counting, the per-step report, the stopping
//! tolerances and the reason a run stopped, and the loop that runs a method to a stop.
//!
//! A method implements [`FullBatch`]: one `step` moves a [`Point`] (where `x`, its loss and gradient are
//! always in agreement) to a new point. [`minimize`] evaluates the starting point, calls `step` until a
//! tolerance holds, and returns a [`Summary`] with every step's [`StepReport`].

use super::flat::{LeastSquares, Problem};
use crate::error::Result;

/// A problem with counters of the evaluations the optimizer asked for.
pub struct Counted<'p, P: ?Sized> {
    problem: &'p mut P,
    /// Counts so far.
    pub counts: EvalCounts,
}

/// Numbers of evaluations of each kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvalCounts {
    /// Loss-only evaluations (a forward pass).
    pub loss: usize,
    /// Loss-and-gradient evaluations (a forward and a backward pass).
    pub grad: usize,
    /// Hessian-vector products (a forward, a recorded backward and another backward).
    pub hvp: usize,
    /// Dense Hessians (Newton).
    pub hessian: usize,
    /// Residual Jacobians (Levenberg-Marquardt).
    pub jacobian: usize,
}

impl<'p, P: Problem + ?Sized> Counted<'p, P> {
    /// Wraps `problem` with zero counts.
    pub fn new(problem: &'p mut P) -> Self {
        Counted { problem, counts: EvalCounts::default() }
    }

    /// The wrapped problem, for calls the counters do not cover (they count nothing).
    pub fn inner(&mut self) -> &mut P {
        self.problem
    }

    /// Number of parameters.
    pub fn dim(&self) -> usize {
        self.problem.dim()
    }

    /// Counted [`Problem::loss`].
    ///
    /// # Errors
    /// As the problem's.
    pub fn loss(&mut self, x: &[f64]) -> Result<f64> {
        self.counts.loss += 1;
        self.problem.loss(x)
    }

    /// Counted [`Problem::loss_grad`].
    ///
    /// # Errors
    /// As the problem's.
    pub fn loss_grad(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>)> {
        self.counts.grad += 1;
        self.problem.loss_grad(x)
    }

    /// Counted [`Problem::hvp`].
    ///
    /// # Errors
    /// As the problem's.
    pub fn hvp(&mut self, x: &[f64], v: &[f64]) -> Result<Vec<f64>> {
        self.counts.hvp += 1;
        self.problem.hvp(x, v)
    }

    /// Counted [`Problem::hessian`].
    ///
    /// # Errors
    /// As the problem's.
    pub fn hessian(&mut self, x: &[f64]) -> Result<Vec<f64>> {
        self.counts.hessian += 1;
        self.problem.hessian(x)
    }

    /// The current point evaluated at `x` (one gradient evaluation).
    ///
    /// # Errors
    /// As the problem's.
    pub fn point(&mut self, x: Vec<f64>) -> Result<Point> {
        let (f, g) = self.loss_grad(&x)?;
        Ok(Point { x, f, g })
    }
}

impl<P: LeastSquares + ?Sized> Counted<'_, P> {
    /// [`LeastSquares::residuals`], counted as a loss evaluation.
    ///
    /// # Errors
    /// As the problem's.
    pub fn residuals(&mut self, x: &[f64]) -> Result<Vec<f64>> {
        self.counts.loss += 1;
        self.problem.residuals(x)
    }

    /// [`LeastSquares::residuals_jacobian`], counted as a Jacobian evaluation.
    ///
    /// # Errors
    /// As the problem's.
    pub fn residuals_jacobian(&mut self, x: &[f64]) -> Result<(Vec<f64>, Vec<f64>)> {
        self.counts.jacobian += 1;
        self.problem.residuals_jacobian(x)
    }
}

/// A point with its loss and gradient.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The parameters.
    pub x: Vec<f64>,
    /// The loss at `x`.
    pub f: f64,
    /// The gradient at `x`.
    pub g: Vec<f64>,
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepReport {
    /// 1-based step number.
    pub iter: usize,
    /// Loss after the step.
    pub loss: f64,
    /// Euclidean norm of the gradient after the step.
    pub grad_norm: f64,
    /// Euclidean length of the change in parameters.
    pub step_len: f64,
    /// Evaluations so far, the starting point's included.
    pub evals: EvalCounts,
}

/// Why a run stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The gradient norm fell to `Tolerances::grad_norm`.
    GradientNorm,
    /// The relative loss change of a step fell to `Tolerances::rel_loss_change`.
    LossChange,
    /// `Tolerances::max_iters` steps were taken.
    MaxIterations,
    /// The method could not make progress (no acceptable step: line search or damping exhausted).
    NoProgress,
}

/// When to stop. A tolerance of 0 disables that test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerances {
    /// Stop when `|g| <= grad_norm`.
    pub grad_norm: f64,
    /// Stop when `|f_old - f_new| <= rel_loss_change * max(|f_old|, |f_new|, 1e-300)` after a step that
    /// moved.
    pub rel_loss_change: f64,
    /// Stop after this many steps.
    pub max_iters: usize,
}

impl Default for Tolerances {
    fn default() -> Self {
        Tolerances { grad_norm: 1e-8, rel_loss_change: 0.0, max_iters: 1000 }
    }
}

/// The result of [`minimize`].
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The final point with its loss and gradient.
    pub point: Point,
    /// Why it stopped.
    pub stop: StopReason,
    /// One report per step taken.
    pub history: Vec<StepReport>,
    /// Evaluations in total.
    pub evals: EvalCounts,
}

impl Summary {
    /// Number of steps taken.
    pub fn iters(&self) -> usize {
        self.history.len()
    }
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StopReason::GradientNorm => "gradient norm below tolerance",
            StopReason::LossChange => "relative loss change below tolerance",
            StopReason::MaxIterations => "maximum number of steps reached",
            StopReason::NoProgress => "no further progress possible",
        })
    }
}

/// One line: steps, final loss and gradient norm, why it stopped, and the evaluations used.
///
/// ```text
/// 24 steps, loss 4.672044e-3, |g| 3.1e-13: gradient norm below tolerance (25 losses, 25 gradients, 24 Jacobians)
/// ```
impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} steps, loss {:.6e}, |g| {:.1e}: {} (",
            self.iters(),
            self.point.f,
            norm(&self.point.g),
            self.stop
        )?;
        let e = &self.evals;
        let parts: Vec<String> = [
            (e.loss, "losses"),
            (e.grad, "gradients"),
            (e.hvp, "Hessian-vector products"),
            (e.hessian, "Hessians"),
            (e.jacobian, "Jacobians"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        write!(f, "{})", parts.join(", "))
    }
}

/// What a step returns to the driver besides the moved point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    /// The point moved (or was deliberately kept, e.g. a rejected damped step that will be retried).
    Moved,
    /// No acceptable step was found; the point is unchanged.
    Stuck,
}

/// A full-batch method over a problem of type `P`.
pub trait FullBatch<P: Problem + ?Sized> {
    /// A short name for messages and tables, e.g. `"bfgs"`.
    fn name(&self) -> &'static str;

    /// Moves `pt` to a better point, keeping `pt.f` and `pt.g` in agreement with `pt.x`.
    ///
    /// # Errors
    /// Errors of the problem's evaluations, or of the method's linear algebra on bad input.
    fn step(&mut self, problem: &mut Counted<'_, P>, pt: &mut Point) -> Result<StepOutcome>;
}

/// Runs `method` from `x0` until a tolerance holds.
///
/// ```
/// use tapegrad::{Tape, Var};
/// use tapegrad_nn::optim::bfgs::{Bfgs, BfgsConfig};
/// use tapegrad_nn::optim::driver::{StopReason, Tolerances, minimize};
/// use tapegrad_nn::optim::flat::FnProblem;
///
/// // Rosenbrock's banana, f(a, b) = 100 (b - a^2)^2 + (1 - a)^2, from (-1.2, 1).
/// let mut p = FnProblem::new(vec![[2].into()], |_: &Tape<f64>, v: &[Var<'_, f64>]| {
///     let (a, b) = (v[0].narrow(0, 0, 1)?, v[0].narrow(0, 1, 1)?);
///     Ok((b - a.square()).square().sum().mul_scalar(100.0) + (1.0 - a).square().sum())
/// });
/// let mut bfgs = Bfgs::new(BfgsConfig::default())?;
/// let tol = Tolerances { grad_norm: 1e-10, ..Default::default() };
/// let s = minimize(&mut bfgs, &mut p, vec![-1.2, 1.0], &tol)?;
/// assert_eq!(s.stop, StopReason::GradientNorm);
/// assert!((s.point.x[0] - 1.0).abs() < 1e-8 && (s.point.x[1] - 1.0).abs() < 1e-8);
/// println!("{} iterations, {} gradient evaluations", s.iters(), s.evals.grad);
/// # Ok::<(), tapegrad_nn::Error>(())
/// ```
///
/// # Errors
/// Any error of a step.
pub fn minimize<P, M>(method: &mut M, problem: &mut P, x0: Vec<f64>, tol: &Tolerances) -> Result<Summary>
where
    P: Problem + ?Sized,
    M: FullBatch<P> + ?Sized,
{
    let mut counted = Counted::new(problem);
    let mut pt = counted.point(x0)?;
    let mut history = Vec::new();
    let stop = loop {
        if norm(&pt.g) <= tol.grad_norm {
            break StopReason::GradientNorm;
        }
        if history.len() >= tol.max_iters {
            break StopReason::MaxIterations;
        }
        let (x_old, f_old) = (pt.x.clone(), pt.f);
        let outcome = method.step(&mut counted, &mut pt)?;
        if outcome == StepOutcome::Stuck {
            break StopReason::NoProgress;
        }
        let step_len = dist(&x_old, &pt.x);
        history.push(StepReport {
            iter: history.len() + 1,
            loss: pt.f,
            grad_norm: norm(&pt.g),
            step_len,
            evals: counted.counts,
        });
        let scale = f_old.abs().max(pt.f.abs()).max(1e-300);
        if step_len > 0.0 && (f_old - pt.f).abs() <= tol.rel_loss_change * scale {
            break StopReason::LossChange;
        }
    };
    Ok(Summary { point: pt, stop, history, evals: counted.counts })
}

/// Dot product.
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Euclidean norm.
pub fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// Euclidean distance.
pub fn dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt()
}

/// `x + alpha * d`.
pub fn axpy(x: &[f64], alpha: f64, d: &[f64]) -> Vec<f64> {
    x.iter().zip(d).map(|(a, b)| a + alpha * b).collect()
}
