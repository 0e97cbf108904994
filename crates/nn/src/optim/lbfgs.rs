//! L-BFGS: BFGS without the matrix. The last `m` pairs `s_i = x_{i+1} - x_i`, `y_i = g_{i+1} - g_i`
//! (default `m = 10`) define `H` implicitly, and `d = -H g` comes from the two-loop recursion (Nocedal &
//! Wright algorithm 7.4) in `O(m n)`:
//!
//! ```text
//! q = g;  for i = newest..oldest: a_i = ρ_i s_i.q;  q -= a_i y_i
//! r = γ q with γ = s.y / y.y of the newest pair
//! for i = oldest..newest: b = ρ_i y_i.r;  r += (a_i - b) s_i
//! d = -r
//! ```
//!
//! Pairs failing the curvature condition (`y.s <= 1e-10 |s| |y|`) are not stored. Strong Wolfe line search
//! (`c2 = 0.9`), first trial `α = 1`.

use super::driver::{Counted, FullBatch, Point, StepOutcome, dot, norm};
use super::flat::Problem;
use super::line_search::{LineSearchKind, WolfeConfig};
use crate::error::{Error, Result};
use std::collections::VecDeque;

/// L-BFGS's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LbfgsConfig {
    /// Number of curvature pairs kept.
    pub history: usize,
    /// The line search.
    pub line_search: LineSearchKind,
}

impl Default for LbfgsConfig {
    fn default() -> Self {
        LbfgsConfig { history: 10, line_search: LineSearchKind::StrongWolfe(WolfeConfig::default()) }
    }
}

/// The L-BFGS optimizer.
#[derive(Debug, Clone)]
pub struct Lbfgs {
    cfg: LbfgsConfig,
    pairs: VecDeque<(Vec<f64>, Vec<f64>, f64)>,
}

impl Lbfgs {
    /// A fresh optimizer.
    ///
    /// # Errors
    /// [`Error::Config`] for `history = 0` or invalid line search constants.
    pub fn new(cfg: LbfgsConfig) -> Result<Self> {
        if cfg.history == 0 {
            return Err(Error::Config { what: "l-bfgs", msg: "history must be at least 1".into() });
        }
        if let LineSearchKind::StrongWolfe(w) = cfg.line_search {
            w.validate()?;
        }
        Ok(Lbfgs { cfg, pairs: VecDeque::new() })
    }

    /// Number of curvature pairs stored.
    pub fn stored_pairs(&self) -> usize {
        self.pairs.len()
    }

    /// `-H g` by the two-loop recursion.
    fn direction(&self, g: &[f64]) -> Vec<f64> {
        let mut q = g.to_vec();
        let mut a = vec![0.0; self.pairs.len()];
        for (i, (s, y, rho)) in self.pairs.iter().enumerate().rev() {
            a[i] = rho * dot(s, &q);
            q.iter_mut().zip(y).for_each(|(qk, yk)| *qk -= a[i] * yk);
        }
        let gamma = self.pairs.back().map_or(1.0, |(s, y, _)| dot(s, y) / dot(y, y));
        let mut r: Vec<f64> = q.iter().map(|v| gamma * v).collect();
        for (i, (s, y, rho)) in self.pairs.iter().enumerate() {
            let b = rho * dot(y, &r);
            r.iter_mut().zip(s).for_each(|(rk, sk)| *rk += (a[i] - b) * sk);
        }
        r.iter().map(|v| -v).collect()
    }
}

impl<P: Problem + ?Sized> FullBatch<P> for Lbfgs {
    fn name(&self) -> &'static str {
        "l-bfgs"
    }

    fn step(&mut self, problem: &mut Counted<'_, P>, pt: &mut Point) -> Result<StepOutcome> {
        if self.pairs.front().is_some_and(|(s, _, _)| s.len() != pt.x.len()) {
            self.pairs.clear();
        }
        let mut d = self.direction(&pt.g);
        if dot(&pt.g, &d) >= 0.0 {
            self.pairs.clear();
            d = pt.g.iter().map(|v| -v).collect();
        }
        let alpha0 = if self.pairs.is_empty() { (1.0 / norm(&pt.g)).min(1.0) } else { 1.0 };
        let Some(acc) = self.cfg.line_search.search(problem, pt, &d, alpha0)? else {
            return Ok(StepOutcome::Stuck);
        };
        let s: Vec<f64> = acc.point.x.iter().zip(&pt.x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = acc.point.g.iter().zip(&pt.g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-10 * norm(&s) * norm(&y) {
            if self.pairs.len() == self.cfg.history {
                self.pairs.pop_front();
            }
            self.pairs.push_back((s, y, 1.0 / sy));
        }
        *pt = acc.point;
        Ok(StepOutcome::Moved)
    }
}
