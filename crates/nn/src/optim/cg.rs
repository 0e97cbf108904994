//! Nonlinear conjugate gradients: `d_0 = -g_0`, `d_k = -g_k + β_k d_{k-1}`, `x_{k+1} = x_k + α_k d_k` with
//! `α_k` from a strong Wolfe line search (`c2 = 0.1` by default, so that the directions stay descent
//! directions for Fletcher-Reeves).
//!
//! | [`CgBeta`] | `β_k` |
//! |---|---|
//! | `FletcherReeves` | `g_k.g_k / g_{k-1}.g_{k-1}` |
//! | `PolakRibiere` | `g_k.(g_k - g_{k-1}) / g_{k-1}.g_{k-1}` |
//! | `PolakRibierePlus` | `max(0, PR)` |
//!
//! Restarts (`d_k = -g_k`) every `restart_every` steps (the dimension `n` by default) and whenever `d_k` is
//! not a descent direction (`g_k.d_k >= 0`). With [`LineSearchKind::ExactQuadratic`] on a convex quadratic
//! this is linear CG: it converges in at most `n` steps in exact arithmetic.

use super::driver::{Counted, FullBatch, Point, StepOutcome, dot, norm};
use super::flat::Problem;
use super::line_search::{LineSearchKind, WolfeConfig};
use crate::error::{Error, Result};

/// The choice of `β`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgBeta {
    /// Fletcher-Reeves.
    FletcherReeves,
    /// Polak-Ribière.
    PolakRibiere,
    /// Polak-Ribière clipped at 0 (PR+), an automatic restart when `β` would be negative.
    PolakRibierePlus,
}

/// Conjugate gradients' settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CgConfig {
    /// The `β` formula.
    pub beta: CgBeta,
    /// Restart every this many steps; `None` means every `n` (the number of parameters).
    pub restart_every: Option<usize>,
    /// The line search.
    pub line_search: LineSearchKind,
}

impl Default for CgConfig {
    fn default() -> Self {
        CgConfig {
            beta: CgBeta::PolakRibierePlus,
            restart_every: None,
            line_search: LineSearchKind::StrongWolfe(WolfeConfig::for_cg()),
        }
    }
}

/// The conjugate gradient optimizer.
#[derive(Debug, Clone)]
pub struct ConjugateGradient {
    cfg: CgConfig,
    d: Vec<f64>,
    g_prev: Vec<f64>,
    since_restart: usize,
    slope_prev: f64,
    alpha_prev: f64,
    restarts: usize,
}

impl ConjugateGradient {
    /// A fresh optimizer.
    ///
    /// # Errors
    /// [`Error::Config`] for `restart_every = Some(0)` or invalid line search constants.
    pub fn new(cfg: CgConfig) -> Result<Self> {
        if cfg.restart_every == Some(0) {
            return Err(Error::Config { what: "conjugate gradient", msg: "restart_every must be at least 1".into() });
        }
        if let LineSearchKind::StrongWolfe(w) = cfg.line_search {
            w.validate()?;
        }
        Ok(ConjugateGradient {
            cfg,
            d: Vec::new(),
            g_prev: Vec::new(),
            since_restart: 0,
            slope_prev: 0.0,
            alpha_prev: 0.0,
            restarts: 0,
        })
    }

    /// Number of restarts so far (the first step not counted).
    pub fn restarts(&self) -> usize {
        self.restarts
    }

    fn beta(&self, g: &[f64]) -> f64 {
        let gg_prev = dot(&self.g_prev, &self.g_prev);
        if gg_prev == 0.0 {
            return 0.0;
        }
        match self.cfg.beta {
            CgBeta::FletcherReeves => dot(g, g) / gg_prev,
            CgBeta::PolakRibiere | CgBeta::PolakRibierePlus => {
                let pr = g.iter().zip(&self.g_prev).map(|(a, b)| a * (a - b)).sum::<f64>() / gg_prev;
                if self.cfg.beta == CgBeta::PolakRibierePlus { pr.max(0.0) } else { pr }
            }
        }
    }
}

impl<P: Problem + ?Sized> FullBatch<P> for ConjugateGradient {
    fn name(&self) -> &'static str {
        match self.cfg.beta {
            CgBeta::FletcherReeves => "cg-fr",
            CgBeta::PolakRibiere => "cg-pr",
            CgBeta::PolakRibierePlus => "cg-pr+",
        }
    }

    fn step(&mut self, problem: &mut Counted<'_, P>, pt: &mut Point) -> Result<StepOutcome> {
        let n = pt.x.len();
        let every = self.cfg.restart_every.unwrap_or(n).max(1);
        let steepest: Vec<f64> = pt.g.iter().map(|v| -v).collect();
        let fresh = self.d.len() != n;
        let mut restart = fresh || self.since_restart >= every;
        let mut d = if restart {
            steepest.clone()
        } else {
            let beta = self.beta(&pt.g);
            steepest.iter().zip(&self.d).map(|(s, dp)| s + beta * dp).collect()
        };
        if !restart && dot(&pt.g, &d) >= 0.0 {
            d = steepest.clone();
            restart = true;
        }
        if restart && !fresh {
            self.restarts += 1;
        }
        let slope = dot(&pt.g, &d);
        // Nocedal & Wright (3.60): expect the same first-order change as the last step.
        let alpha0 = if fresh { (1.0 / norm(&pt.g)).min(1.0) } else { self.alpha_prev * self.slope_prev / slope };
        let mut found = self.cfg.line_search.search(problem, pt, &d, alpha0)?;
        if found.is_none() && !restart {
            d = steepest;
            self.restarts += 1;
            restart = true;
            found = self.cfg.line_search.search(problem, pt, &d, (1.0 / norm(&pt.g)).min(1.0))?;
        }
        let Some(acc) = found else {
            return Ok(StepOutcome::Stuck);
        };
        self.since_restart = if restart { 1 } else { self.since_restart + 1 };
        self.slope_prev = dot(&pt.g, &d);
        self.alpha_prev = acc.alpha;
        self.g_prev = std::mem::take(&mut pt.g);
        self.d = d;
        *pt = acc.point;
        Ok(StepOutcome::Moved)
    }
}
