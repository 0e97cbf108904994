//! Newton's method with exact second derivatives from the tape.
//!
//! - [`Newton`]: the full Hessian `H` (one HVP per parameter, so for small problems), the step
//!   `(H + τ I) d = -g` by Cholesky, `τ = 0` when `H` is positive definite and otherwise raised from
//!   `max(β, -min H_ii + β)` by doubling until Cholesky succeeds (Nocedal & Wright algorithm 3.3, "Cholesky
//!   with added multiple of the identity"), then a strong Wolfe line search from `α = 1`.
//! - [`NewtonCg`]: truncated Newton (Nocedal & Wright algorithm 7.1). `H d = -g` is solved approximately by
//!   linear CG using only exact Hessian-vector products, stopped when the residual falls below
//!   `min(0.5, sqrt|g|) |g|` (superlinear convergence) or on negative curvature (then the last iterate, or
//!   `-g` at the first inner step); no matrix is ever formed, so it scales to MLPs.

use super::dense::cholesky_solve;
use super::driver::{Counted, FullBatch, Point, StepOutcome, axpy, dot, norm};
use super::flat::Problem;
use super::line_search::{WolfeConfig, strong_wolfe};
use crate::error::{Error, Result};

/// Settings of the full Newton method.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NewtonConfig {
    /// The line search (first trial `α = 1`).
    pub line_search: WolfeConfig,
    /// The smallest shift `β` tried when the Hessian is not positive definite.
    pub min_shift: f64,
    /// Most parameters accepted (the Hessian has `n^2` entries and costs `n` HVPs).
    pub max_dim: usize,
}

impl Default for NewtonConfig {
    fn default() -> Self {
        NewtonConfig { line_search: WolfeConfig::default(), min_shift: 1e-3, max_dim: 2000 }
    }
}

/// Damped Newton with the full Hessian.
#[derive(Debug, Clone)]
pub struct Newton {
    cfg: NewtonConfig,
    shifted: usize,
}

impl Newton {
    /// A fresh optimizer.
    ///
    /// # Errors
    /// [`Error::Config`] for invalid line search constants or a non-positive `min_shift`.
    pub fn new(cfg: NewtonConfig) -> Result<Self> {
        cfg.line_search.validate()?;
        if cfg.min_shift.is_nan() || cfg.min_shift <= 0.0 {
            return Err(Error::Config { what: "newton", msg: format!("min_shift = {} must be > 0", cfg.min_shift) });
        }
        Ok(Newton { cfg, shifted: 0 })
    }

    /// Number of steps whose Hessian needed a shift to be positive definite.
    pub fn shifted_steps(&self) -> usize {
        self.shifted
    }
}

impl<P: Problem + ?Sized> FullBatch<P> for Newton {
    fn name(&self) -> &'static str {
        "newton"
    }

    fn step(&mut self, problem: &mut Counted<'_, P>, pt: &mut Point) -> Result<StepOutcome> {
        let n = pt.x.len();
        if n > self.cfg.max_dim {
            return Err(Error::Optimizer {
                optimizer: "newton",
                msg: format!(
                    "{n} parameters need a dense {n} x {n} Hessian; the limit is max_dim = {} (use Newton-CG)",
                    self.cfg.max_dim
                ),
            });
        }
        let h = problem.hessian(&pt.x)?;
        let rhs: Vec<f64> = pt.g.iter().map(|v| -v).collect();
        let beta = self.cfg.min_shift;
        let mut tau = 0.0;
        let d = loop {
            if let Some(d) = cholesky_solve(&h, n, &vec![tau; n], &rhs) {
                break d;
            }
            if tau == 0.0 {
                let min_diag = (0..n).map(|i| h[i * n + i]).fold(f64::INFINITY, f64::min);
                tau = if min_diag > 0.0 { beta } else { beta - min_diag };
            } else {
                tau = (2.0 * tau).max(beta);
            }
            if !tau.is_finite() || tau > 1e300 {
                return Ok(StepOutcome::Stuck);
            }
        };
        if tau > 0.0 {
            self.shifted += 1;
        }
        match strong_wolfe(problem, pt, &d, 1.0, &self.cfg.line_search)? {
            Some(acc) => {
                *pt = acc.point;
                Ok(StepOutcome::Moved)
            }
            None => Ok(StepOutcome::Stuck),
        }
    }
}

/// Settings of truncated Newton.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct NewtonCgConfig {
    /// The line search (first trial `α = 1`).
    pub line_search: WolfeConfig,
    /// Most inner CG iterations (HVPs) per step; `None` means `n`.
    pub max_inner: Option<usize>,
}

/// Newton-CG (truncated Newton) with exact Hessian-vector products.
#[derive(Debug, Clone)]
pub struct NewtonCg {
    cfg: NewtonCgConfig,
    inner: usize,
}

impl NewtonCg {
    /// A fresh optimizer.
    ///
    /// # Errors
    /// [`Error::Config`] for invalid line search constants or `max_inner = Some(0)`.
    pub fn new(cfg: NewtonCgConfig) -> Result<Self> {
        cfg.line_search.validate()?;
        if cfg.max_inner == Some(0) {
            return Err(Error::Config { what: "newton-cg", msg: "max_inner must be at least 1".into() });
        }
        Ok(NewtonCg { cfg, inner: 0 })
    }

    /// Inner CG iterations so far.
    pub fn inner_iterations(&self) -> usize {
        self.inner
    }

    /// Approximately solves `H z = -g` by CG on HVPs.
    fn solve<P: Problem + ?Sized>(&mut self, problem: &mut Counted<'_, P>, pt: &Point) -> Result<Vec<f64>> {
        let n = pt.x.len();
        let gnorm = norm(&pt.g);
        let tol = gnorm.sqrt().min(0.5) * gnorm;
        let mut z = vec![0.0; n];
        let mut r = pt.g.clone();
        let mut d: Vec<f64> = r.iter().map(|v| -v).collect();
        let mut rr = dot(&r, &r);
        for j in 0..self.cfg.max_inner.unwrap_or(n) {
            let bd = problem.hvp(&pt.x, &d)?;
            self.inner += 1;
            let curv = dot(&d, &bd);
            if curv <= 0.0 {
                return Ok(if j == 0 { pt.g.iter().map(|v| -v).collect() } else { z });
            }
            let alpha = rr / curv;
            z = axpy(&z, alpha, &d);
            r = axpy(&r, alpha, &bd);
            let rr_new = dot(&r, &r);
            if rr_new.sqrt() < tol {
                break;
            }
            let beta = rr_new / rr;
            d = d.iter().zip(&r).map(|(dk, rk)| -rk + beta * dk).collect();
            rr = rr_new;
        }
        Ok(z)
    }
}

impl<P: Problem + ?Sized> FullBatch<P> for NewtonCg {
    fn name(&self) -> &'static str {
        "newton-cg"
    }

    fn step(&mut self, problem: &mut Counted<'_, P>, pt: &mut Point) -> Result<StepOutcome> {
        let mut d = self.solve(problem, pt)?;
        let slope = dot(&d, &pt.g);
        if slope.is_nan() || slope >= 0.0 {
            d = pt.g.iter().map(|v| -v).collect();
        }
        match strong_wolfe(problem, pt, &d, 1.0, &self.cfg.line_search)? {
            Some(acc) => {
                *pt = acc.point;
                Ok(StepOutcome::Moved)
            }
            None => Ok(StepOutcome::Stuck),
        }
    }
}
