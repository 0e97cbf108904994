//! BFGS with a dense inverse-Hessian approximation `H ≈ ∇²f^{-1}`:
//!
//! `d = -H g`, `x+ = x + α d` (strong Wolfe, `c2 = 0.9`, first trial `α = 1`), then with `s = x+ - x`,
//! `y = g+ - g`, `ρ = 1 / y.s`:
//!
//! `H+ = (I - ρ s y^T) H (I - ρ y s^T) + ρ s s^T`
//!
//! applied as two rank-one and one rank-two update (`O(n^2)`, no `n^3` product). Before the first update
//! `H` is rescaled to `(y.s / y.y) I` (Nocedal & Wright eq. 6.20, [`BfgsInit::ScaledIdentity`], the default).
//! The update is skipped when
//! `y.s <= 1e-10 |s| |y|` (the curvature condition fails, which a Wolfe step rules out except by
//! rounding). `H` has `n^2` entries: the method refuses more than `max_dim` parameters (default 4000,
//! 128 MB).
//!
//! ## Lecture 003 form ([`BfgsInit::Identity`])
//!
//! The slide updates `V` (our `H`) from `V_0 = I`, with no rescaling, in the expanded form
//!
//! ```text
//! V+ = V + (1 + y^T V y / s^T y) (s s^T) / (s^T y) - (s y^T V + V y s^T) / (s^T y)
//! ```
//!
//! Every denominator is `s^T y`: that is what the secant condition `V+ y = s` requires (multiply out: the
//! terms in `V y` cancel only with `s^T y` below them), and so we read the slide's denominator that way.
//! Multiplied out, this is exactly the product form above, so both initialisations share one update; they
//! differ in `V_0` and therefore in every step after the first. With the exact line search on a quadratic both
//! end with `V = A^-1` after `n` steps.

use super::dense::DenseSym;
use super::driver::{Counted, FullBatch, Point, StepOutcome, dot, norm};
use super::flat::Problem;
use super::line_search::{LineSearchKind, WolfeConfig};
use crate::error::{Error, Result};

/// BFGS's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BfgsConfig {
    /// The line search.
    pub line_search: LineSearchKind,
    /// Most parameters accepted (the dense matrix has `n^2` entries).
    pub max_dim: usize,
    /// The starting inverse Hessian (default: Nocedal & Wright's rescaled identity).
    pub initial: BfgsInit,
}

impl Default for BfgsConfig {
    fn default() -> Self {
        BfgsConfig {
            line_search: LineSearchKind::StrongWolfe(WolfeConfig::default()),
            max_dim: 4000,
            initial: BfgsInit::ScaledIdentity,
        }
    }
}

/// The inverse-Hessian approximation BFGS starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BfgsInit {
    /// `I` for the first step, rescaled to `(y.s / y.y) I` just before the first update (Nocedal & Wright
    /// eq. 6.20; SciPy's BFGS does not rescale, its `H_0 = I`).
    ScaledIdentity,
    /// `V_0 = I` and no rescaling: lecture 003's form.
    Identity,
}

/// The BFGS optimizer.
#[derive(Debug, Clone)]
pub struct Bfgs {
    cfg: BfgsConfig,
    h: Option<DenseSym>,
    updated: bool,
    skipped: usize,
}

impl Bfgs {
    /// A fresh optimizer.
    ///
    /// # Errors
    /// [`Error::Config`] for invalid line search constants.
    pub fn new(cfg: BfgsConfig) -> Result<Self> {
        if let LineSearchKind::StrongWolfe(w) = cfg.line_search {
            w.validate()?;
        }
        Ok(Bfgs { cfg, h: None, updated: false, skipped: 0 })
    }

    /// The current inverse-Hessian approximation, row-major `n x n` (`None` before the first step).
    pub fn inverse_hessian(&self) -> Option<Vec<f64>> {
        self.h.as_ref().map(DenseSym::to_row_major)
    }

    /// Number of updates skipped because the curvature condition failed.
    pub fn skipped_updates(&self) -> usize {
        self.skipped
    }

    fn update(&mut self, s: &[f64], y: &[f64]) {
        let sy = dot(s, y);
        if sy.is_nan() || sy <= 1e-10 * norm(s) * norm(y) {
            self.skipped += 1;
            return;
        }
        let n = s.len();
        if !self.updated {
            if self.cfg.initial == BfgsInit::ScaledIdentity {
                self.h = Some(DenseSym::scaled_identity(n, sy / dot(y, y)));
            }
            self.updated = true;
        }
        let h = self.h.as_mut().expect("invariant: H exists after the first step");
        let rho = 1.0 / sy;
        let hy = h.mul_vec(y);
        let yhy = dot(y, &hy);
        h.add_sym_rank2(-rho, s, &hy);
        h.add_rank1(rho * rho * yhy + rho, s);
    }
}

impl<P: Problem + ?Sized> FullBatch<P> for Bfgs {
    fn name(&self) -> &'static str {
        "bfgs"
    }

    fn step(&mut self, problem: &mut Counted<'_, P>, pt: &mut Point) -> Result<StepOutcome> {
        let n = pt.x.len();
        if n > self.cfg.max_dim {
            return Err(Error::Optimizer {
                optimizer: "bfgs",
                msg: format!(
                    "{n} parameters need a dense {n} x {n} inverse Hessian; the limit is max_dim = {} (use L-BFGS)",
                    self.cfg.max_dim
                ),
            });
        }
        if self.h.as_ref().is_none_or(|h| h.dim() != n) {
            self.h = Some(DenseSym::scaled_identity(n, 1.0));
            self.updated = false;
        }
        let h = self.h.as_ref().expect("invariant: H was just set");
        let mut d: Vec<f64> = h.mul_vec(&pt.g).iter().map(|v| -v).collect();
        let mut alpha0 = if self.updated { 1.0 } else { (1.0 / norm(&pt.g)).min(1.0) };
        if dot(&pt.g, &d) >= 0.0 {
            // H lost positive definiteness to rounding: start over from the identity.
            self.h = Some(DenseSym::scaled_identity(n, 1.0));
            self.updated = false;
            d = pt.g.iter().map(|v| -v).collect();
            alpha0 = (1.0 / norm(&pt.g)).min(1.0);
        }
        let Some(acc) = self.cfg.line_search.search(problem, pt, &d, alpha0)? else {
            return Ok(StepOutcome::Stuck);
        };
        let s: Vec<f64> = acc.point.x.iter().zip(&pt.x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = acc.point.g.iter().zip(&pt.g).map(|(a, b)| a - b).collect();
        self.update(&s, &y);
        *pt = acc.point;
        Ok(StepOutcome::Moved)
    }
}
