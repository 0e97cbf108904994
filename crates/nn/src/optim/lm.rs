//! Levenberg-Marquardt for least-squares losses `f(x) = 0.5 |r(x)|^2`.
//!
//! With the residuals `r` and their Jacobian `J` from the tape, each step solves
//!
//! `(J^T J + λ D) δ = -J^T r`
//!
//! by Cholesky, with `D = I` ([`LmDamping::Identity`], Levenberg) or `D = diag(J^T J)`
//! ([`LmDamping::JtJDiagonal`], Marquardt: scale-invariant; the diagonal is floored at `1e-12` times its
//! largest entry so a parameter the residuals ignore still gets damped). A trial `x + δ` that lowers `f` is
//! accepted and `λ` divided by `factor` (10): the step moves toward Gauss-Newton. Otherwise `λ` is multiplied
//! by `factor` and the system solved again from the same `J`: the step turns toward a short gradient-descent
//! step. The dense `n x n` system limits the size: more than `max_params` parameters is an error naming
//! the sizes.

use super::dense::{cholesky_solve, normal_equations};
use super::driver::{Counted, FullBatch, Point, StepOutcome, axpy};
use super::flat::LeastSquares;
use crate::error::{Error, Result};

/// The damping matrix `D`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LmDamping {
    /// `D = I`.
    Identity,
    /// `D = diag(J^T J)`.
    JtJDiagonal,
}

/// Levenberg-Marquardt's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LmConfig {
    /// Initial `λ`.
    pub lambda_init: f64,
    /// Factor by which `λ` is raised on a rejected and lowered on an accepted step.
    pub factor: f64,
    /// The damping matrix.
    pub damping: LmDamping,
    /// Most parameters accepted (the dense system is `n x n`).
    pub max_params: usize,
    /// Most rejected trials in one step before giving up.
    pub max_rejections: usize,
}

impl Default for LmConfig {
    fn default() -> Self {
        LmConfig {
            lambda_init: 1e-3,
            factor: 10.0,
            damping: LmDamping::JtJDiagonal,
            max_params: 2000,
            max_rejections: 40,
        }
    }
}

/// The Levenberg-Marquardt optimizer.
#[derive(Debug, Clone)]
pub struct LevenbergMarquardt {
    cfg: LmConfig,
    lambda: f64,
    /// `(x, r, J)` at the current point, kept from the accepted trial for the next step.
    cache: Option<(Vec<f64>, Vec<f64>, Vec<f64>)>,
    rejected: usize,
}

impl LevenbergMarquardt {
    /// A fresh optimizer.
    ///
    /// # Errors
    /// [`Error::Config`] unless `lambda_init > 0` and `factor > 1`.
    pub fn new(cfg: LmConfig) -> Result<Self> {
        if !(cfg.lambda_init > 0.0 && cfg.factor > 1.0 && cfg.max_rejections > 0) {
            return Err(Error::Config {
                what: "levenberg-marquardt",
                msg: format!("need lambda_init > 0, factor > 1, max_rejections > 0; got {cfg:?}"),
            });
        }
        Ok(LevenbergMarquardt { cfg, lambda: cfg.lambda_init, cache: None, rejected: 0 })
    }

    /// The current damping `λ`.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// Rejected trial steps so far.
    pub fn rejected_steps(&self) -> usize {
        self.rejected
    }
}

impl<P: LeastSquares + ?Sized> FullBatch<P> for LevenbergMarquardt {
    fn name(&self) -> &'static str {
        "levenberg-marquardt"
    }

    fn step(&mut self, problem: &mut Counted<'_, P>, pt: &mut Point) -> Result<StepOutcome> {
        let n = pt.x.len();
        if n > self.cfg.max_params {
            return Err(Error::Optimizer {
                optimizer: "levenberg-marquardt",
                msg: format!(
                    "{n} parameters need a dense {n} x {n} system J^T J ({:.1} MB); the limit is max_params = {}",
                    (n * n * 8) as f64 / 1e6,
                    self.cfg.max_params
                ),
            });
        }
        let (r, j) = match self.cache.take() {
            Some((x, r, j)) if x == pt.x => (r, j),
            _ => problem.residuals_jacobian(&pt.x)?,
        };
        let m = r.len();
        let (jtj, jtr) = normal_equations(&j, m, n, &r);
        let diag: Vec<f64> = match self.cfg.damping {
            LmDamping::Identity => vec![1.0; n],
            LmDamping::JtJDiagonal => {
                let big = (0..n).map(|i| jtj[i * n + i]).fold(0.0, f64::max);
                let floor = (1e-12 * big).max(f64::MIN_POSITIVE);
                (0..n).map(|i| jtj[i * n + i].max(floor)).collect()
            }
        };
        let rhs: Vec<f64> = jtr.iter().map(|v| -v).collect();
        for _ in 0..self.cfg.max_rejections {
            let shift: Vec<f64> = diag.iter().map(|d| self.lambda * d).collect();
            if let Some(delta) = cholesky_solve(&jtj, n, &shift, &rhs) {
                let x_new = axpy(&pt.x, 1.0, &delta);
                let r_new = problem.residuals(&x_new)?;
                let f_new = 0.5 * r_new.iter().map(|v| v * v).sum::<f64>();
                if f_new < pt.f {
                    self.lambda = (self.lambda / self.cfg.factor).max(1e-300);
                    let (r_new, j_new) = problem.residuals_jacobian(&x_new)?;
                    let (_, g_new) = normal_equations(&j_new, m, n, &r_new);
                    self.cache = Some((x_new.clone(), r_new, j_new));
                    *pt = Point { x: x_new, f: f_new, g: g_new };
                    return Ok(StepOutcome::Moved);
                }
            }
            self.rejected += 1;
            self.lambda *= self.cfg.factor;
            if !self.lambda.is_finite() {
                break;
            }
        }
        Ok(StepOutcome::Stuck)
    }
}
