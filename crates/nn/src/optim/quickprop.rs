//! QuickProp (Fahlman 1988): each weight's error curve is taken as a parabola through the current and
//! the previous slope, and the weight jumps to its minimum.
//!
//! With slope `S(t) = dE/dw + λ w` (λ the optional weight decay) and the previous change `Δw(t-1)`:
//!
//! - secant step: `Δw(t) = S(t) / (S(t-1) - S(t)) Δw(t-1)`;
//! - maximum growth: when `S(t)` is not smaller than `μ/(1+μ) S(t-1)` in the direction of travel, the
//!   parabola's minimum is more than `μ` times the last step away (or behind a maximum): take `μ Δw(t-1)`;
//! - linear term: while the slope keeps the sign that caused the last step, `-ε S(t)` is added;
//! - gradient-descent fallback: a weight whose last change was 0 (the first step, or a stalled weight)
//!   takes `Δw(t) = -ε S(t)`.
//!
//! Defaults: `μ = 1.75` (Fahlman's), `ε = 0.1`, no decay. A full-batch method.
//!
//! ## Lecture 003 form ([`QuickpropVariant::Lecture`])
//!
//! The slide writes QuickProp in the shared template of lecture 003, `Δw(t) = -η S(t) + μ(t) Δw(t-1)`
//! (`Δw` the signed change, `w(t+1) = w(t) + Δw(t)`), with
//!
//! ```text
//! η    = ε   if Δw(t-1) = 0 or -Δw(t-1) S(t) > 0   (first step, or the slope keeps the sign that caused the last step)
//!        0   otherwise
//! μ(t) = S(t) / (S(t-1) - S(t)),  capped at μ_max = 1.75 in size, also when it is negative: clamp(ratio, -μ_max, μ_max)
//! ```
//!
//! Our reading where the slide is silent or ambiguous:
//! - "capped also when negative" is read as a cap on the size, `|μ| <= μ_max`. A negative ratio is the normal
//!   secant step back after the slope changed sign (then `|μ| < 1`), or, when the slope kept its sign and grew,
//!   a step back of up to `μ_max Δw(t-1)`. (Replacing every negative ratio by `+μ_max` would send each weight
//!   further past the minimum it just crossed.)
//! - `S(t-1) = S(t) != 0` (a straight line, no parabola) gives `μ = +μ_max`: keep going the way it went.
//! - `S(t) = 0` gives `μ = 0`: the weight sits at a stationary point.
//!
//! Fahlman's rule ([`QuickpropVariant::Fahlman`], the default) decides by the direction of the last step rather
//! than by the ratio. When the last step went downhill (`S(t-1)` opposite in sign to `Δw(t-1)`, the usual case)
//! the two agree except in that last case of the first item: when the slope kept its sign and grew (the parabola
//! through the two slopes opens downward), Fahlman takes the maximum step `μ Δw(t-1)` forward, the lecture form
//! steps back. After a step that went uphill (which a capped or backward step can produce) they differ in
//! general (`crates/nn/tests/fixtures/lecture003_steps.py` counts the cases on 200 000 random states).

use super::driver::{Counted, FullBatch, Point, StepOutcome};
use super::flat::Problem;
use crate::error::{Error, Result};

/// QuickProp's constants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuickpropConfig {
    /// Learning rate `ε` of the gradient term and of the fallback.
    pub epsilon: f64,
    /// Maximum growth factor `μ`.
    pub mu: f64,
    /// Weight decay `λ` added to the slope.
    pub weight_decay: f64,
    /// Fahlman's published rule (default) or the slide's.
    pub variant: QuickpropVariant,
}

impl Default for QuickpropConfig {
    fn default() -> Self {
        QuickpropConfig { epsilon: 0.1, mu: 1.75, weight_decay: 0.0, variant: QuickpropVariant::Fahlman }
    }
}

/// Which QuickProp rule to apply; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuickpropVariant {
    /// Fahlman's (1988) published code: maximum-growth test against `μ/(1+μ) S(t-1)`, linear term while the
    /// slope keeps its sign.
    Fahlman,
    /// Lecture 003's slide: `Δw(t) = -η S(t) + μ(t) Δw(t-1)` with `μ(t)` the secant ratio capped at `μ` in
    /// size (also when negative) and `η = ε` only on the first step or while the slope keeps its sign.
    Lecture,
}

/// The QuickProp optimizer; state is the previous slope and change per weight.
#[derive(Debug, Clone)]
pub struct Quickprop {
    cfg: QuickpropConfig,
    prev_slope: Vec<f64>,
    prev_dw: Vec<f64>,
}

impl Quickprop {
    /// A fresh optimizer.
    ///
    /// # Errors
    /// [`Error::Config`] unless `ε > 0`, `μ > 0` and `λ >= 0`.
    pub fn new(cfg: QuickpropConfig) -> Result<Self> {
        if !(cfg.epsilon > 0.0 && cfg.mu > 0.0 && cfg.weight_decay >= 0.0) {
            return Err(Error::Config {
                what: "quickprop",
                msg: format!("need epsilon > 0, mu > 0, weight_decay >= 0; got {cfg:?}"),
            });
        }
        Ok(Quickprop { cfg, prev_slope: Vec::new(), prev_dw: Vec::new() })
    }

    /// The weight changes of the last step.
    pub fn last_change(&self) -> &[f64] {
        &self.prev_dw
    }

    fn update(&mut self, x: &mut [f64], g: &[f64]) {
        let n = x.len();
        if self.prev_dw.len() != n {
            self.prev_slope = vec![0.0; n];
            self.prev_dw = vec![0.0; n];
        }
        let QuickpropConfig { epsilon: eps, mu, weight_decay, variant } = self.cfg;
        let shrink = mu / (1.0 + mu);
        for i in 0..n {
            let s = g[i] + weight_decay * x[i];
            let (p, d) = (self.prev_slope[i], self.prev_dw[i]);
            let mut dw = 0.0;
            if variant == QuickpropVariant::Lecture {
                dw = lecture_step(s, p, d, eps, mu);
            } else if d > 0.0 {
                // Last move was up because the slope was negative.
                if s < 0.0 {
                    dw -= eps * s;
                }
                if s <= shrink * p { dw += mu * d } else { dw += d * s / (p - s) }
            } else if d < 0.0 {
                if s > 0.0 {
                    dw -= eps * s;
                }
                if s >= shrink * p { dw += mu * d } else { dw += d * s / (p - s) }
            } else {
                dw = -eps * s;
            }
            x[i] += dw;
            self.prev_dw[i] = dw;
            self.prev_slope[i] = s;
        }
    }
}

/// One weight's change by the slide's rule: `-η S(t) + μ(t) Δw(t-1)`; see the module docs.
fn lecture_step(s: f64, s_prev: f64, dw_prev: f64, eps: f64, mu_max: f64) -> f64 {
    let eta = if dw_prev == 0.0 || -dw_prev * s > 0.0 { eps } else { 0.0 };
    let mu = if dw_prev == 0.0 || s == 0.0 {
        0.0
    } else if s_prev == s {
        mu_max
    } else {
        (s / (s_prev - s)).clamp(-mu_max, mu_max)
    };
    -eta * s + mu * dw_prev
}

impl<P: Problem + ?Sized> FullBatch<P> for Quickprop {
    fn name(&self) -> &'static str {
        match self.cfg.variant {
            QuickpropVariant::Fahlman => "quickprop",
            QuickpropVariant::Lecture => "quickprop-lecture",
        }
    }

    fn step(&mut self, problem: &mut Counted<'_, P>, pt: &mut Point) -> Result<StepOutcome> {
        let mut x = pt.x.clone();
        self.update(&mut x, &pt.g);
        *pt = problem.point(x)?;
        Ok(StepOutcome::Moved)
    }
}
