//! RProp (resilient backpropagation, Riedmiller & Braun 1993): every weight has its own step size
//! `Δ_i`, and only the sign of its gradient is used.
//!
//! With `g_i(t)` the current and `g_i(t-1)` the remembered gradient:
//!
//! | `g_i(t) g_i(t-1)` | step size | weight change, [`RpropVariant::Backtracking`] (Rprop+, the default) | [`RpropVariant::IRpropMinus`] | [`RpropVariant::Plain`] (lecture 003) |
//! |---|---|---|---|---|
//! | `> 0` | `Δ_i = min(a Δ_i, Δ_max)` | `Δw_i = -sign(g_i) Δ_i` | same | same |
//! | `< 0` | `Δ_i = max(b Δ_i, Δ_min)` | `Δw_i = -Δw_i(t-1)` (step back), then forget `g_i` | `Δw_i = 0`, forget `g_i` | `Δw_i = -sign(g_i) Δ_i` with the shrunk `Δ_i`, remember `g_i` |
//! | `= 0` | unchanged | `Δw_i = -sign(g_i) Δ_i` | same | same |
//!
//! "Forget" stores `g_i(t-1) = 0`, so the step after a sign change is never a second shrink. The plain rule is
//! the one lecture 003 writes (the step size adapts, the weight always moves against the sign of its current
//! gradient, nothing is undone); Riedmiller and Braun's published rule with weight backtracking stays the
//! default, under its own name. Default constants `a = 1.2`, `b = 0.5`, `Δ_min = 1e-6`, `Δ_max = 50`,
//! `Δ_0 = 0.1` are Riedmiller and Braun's. RProp is a full-batch method: the signs of minibatch gradients are
//! too noisy for it.

use super::driver::{Counted, FullBatch, Point, StepOutcome};
use super::flat::Problem;
use crate::error::{Error, Result};

/// What RProp does to a weight whose gradient changed sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpropVariant {
    /// Rprop+ with weight backtracking (Riedmiller & Braun 1993): undo the weight's previous change.
    Backtracking,
    /// iRProp- (Igel & Hüsken 2000): leave the weight where it is.
    IRpropMinus,
    /// The lecture's rule (lecture 003): step with the shrunk step size against the current gradient's sign,
    /// no backtracking, and remember the gradient.
    Plain,
}

/// RProp's constants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RpropConfig {
    /// Growth factor `a` when the sign is kept.
    pub eta_plus: f64,
    /// Shrink factor `b` on a sign change.
    pub eta_minus: f64,
    /// Smallest step size.
    pub step_min: f64,
    /// Largest step size.
    pub step_max: f64,
    /// Initial step size of every weight.
    pub step_init: f64,
    /// Behaviour on a sign change.
    pub variant: RpropVariant,
    /// Weight decay `ρ >= 0`: the sign of `g + ρ w` is used, lecture 003's template (default 0).
    pub weight_decay: f64,
}

impl Default for RpropConfig {
    fn default() -> Self {
        RpropConfig {
            eta_plus: 1.2,
            eta_minus: 0.5,
            step_min: 1e-6,
            step_max: 50.0,
            step_init: 0.1,
            variant: RpropVariant::Backtracking,
            weight_decay: 0.0,
        }
    }
}

/// The RProp optimizer; state is one step size, one remembered gradient and one last change per weight.
#[derive(Debug, Clone)]
pub struct Rprop {
    cfg: RpropConfig,
    steps: Vec<f64>,
    prev_g: Vec<f64>,
    prev_dw: Vec<f64>,
}

impl Rprop {
    /// A fresh optimizer.
    ///
    /// # Errors
    /// [`Error::Config`] unless `0 < b < 1 < a`, `0 < Δ_min <= Δ_0 <= Δ_max` and `ρ >= 0` is finite.
    pub fn new(cfg: RpropConfig) -> Result<Self> {
        let ok = 0.0 < cfg.eta_minus
            && cfg.eta_minus < 1.0
            && cfg.eta_plus > 1.0
            && 0.0 < cfg.step_min
            && cfg.step_min <= cfg.step_init
            && cfg.step_init <= cfg.step_max
            && cfg.weight_decay >= 0.0
            && cfg.weight_decay.is_finite();
        if !ok {
            return Err(Error::Config {
                what: "rprop",
                msg: format!(
                    "need 0 < eta_minus < 1 < eta_plus, 0 < step_min <= step_init <= step_max and a finite \
                     weight_decay >= 0; got {cfg:?}"
                ),
            });
        }
        Ok(Rprop { cfg, steps: Vec::new(), prev_g: Vec::new(), prev_dw: Vec::new() })
    }

    /// The current per-weight step sizes (empty before the first step).
    pub fn step_sizes(&self) -> &[f64] {
        &self.steps
    }

    /// The weight changes of the last step.
    pub fn last_change(&self) -> &[f64] {
        &self.prev_dw
    }

    /// Applies the rule to `x` given its gradient `g`, in place.
    fn update(&mut self, x: &mut [f64], g_loss: &[f64]) {
        let n = x.len();
        if self.steps.len() != n {
            self.steps = vec![self.cfg.step_init; n];
            self.prev_g = vec![0.0; n];
            self.prev_dw = vec![0.0; n];
        }
        let c = self.cfg;
        let g: Vec<f64> = g_loss.iter().zip(x.iter()).map(|(g, w)| g + c.weight_decay * w).collect();
        for i in 0..n {
            let prod = g[i] * self.prev_g[i];
            let dw = if prod > 0.0 {
                self.steps[i] = (self.steps[i] * c.eta_plus).min(c.step_max);
                self.prev_g[i] = g[i];
                -sign(g[i]) * self.steps[i]
            } else if prod < 0.0 {
                self.steps[i] = (self.steps[i] * c.eta_minus).max(c.step_min);
                match c.variant {
                    RpropVariant::Backtracking => {
                        self.prev_g[i] = 0.0;
                        -self.prev_dw[i]
                    }
                    RpropVariant::IRpropMinus => {
                        self.prev_g[i] = 0.0;
                        0.0
                    }
                    RpropVariant::Plain => {
                        self.prev_g[i] = g[i];
                        -sign(g[i]) * self.steps[i]
                    }
                }
            } else {
                self.prev_g[i] = g[i];
                -sign(g[i]) * self.steps[i]
            };
            x[i] += dw;
            self.prev_dw[i] = dw;
        }
    }
}

/// `sign(0) = 0`, unlike `f64::signum`.
fn sign(v: f64) -> f64 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

impl<P: Problem + ?Sized> FullBatch<P> for Rprop {
    fn name(&self) -> &'static str {
        match self.cfg.variant {
            RpropVariant::Backtracking => "rprop",
            RpropVariant::IRpropMinus => "irprop-",
            RpropVariant::Plain => "rprop-plain",
        }
    }

    fn step(&mut self, problem: &mut Counted<'_, P>, pt: &mut Point) -> Result<StepOutcome> {
        let mut x = pt.x.clone();
        self.update(&mut x, &pt.g);
        *pt = problem.point(x)?;
        Ok(StepOutcome::Moved)
    }
}
