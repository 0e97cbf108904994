//! Line searches along a descent direction `d` from a point `x`: `phi(a) = f(x + a d)`.
//!
//! - [`strong_wolfe`]: Nocedal & Wright's algorithms 3.5 (bracketing) and 3.6 (zoom). It finds a step with
//!   sufficient decrease `phi(a) <= phi(0) + c1 a phi'(0)` and small slope `|phi'(a)| <= c2 |phi'(0)|`.
//!   Zoom picks the next trial by the cubic that matches both ends' values and slopes, falls back to the
//!   quadratic through `phi(lo)`, `phi'(lo)`, `phi(hi)`, and to bisection when the interpolant lands too
//!   close to an end (within a tenth of the interval), which guarantees the bracket shrinks.
//! - [`exact_quadratic`]: the minimiser of the quadratic model along `d`, `a = -g.d / d.Hd`, from one exact
//!   Hessian-vector product; exact when the loss is quadratic (linear CG's step).
//!
//! CG, BFGS, L-BFGS and the Newton methods all use these.

use super::driver::{Counted, Point, axpy, dot};
use super::flat::Problem;
use crate::error::{Error, Result};

/// Constants of the strong Wolfe conditions and the search's budget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WolfeConfig {
    /// Sufficient decrease constant, `0 < c1 < c2`.
    pub c1: f64,
    /// Curvature constant, `c2 < 1`: 0.9 for quasi-Newton methods, 0.1 for nonlinear CG.
    pub c2: f64,
    /// Most loss-and-gradient evaluations per search.
    pub max_evals: usize,
    /// Largest step tried while bracketing.
    pub alpha_max: f64,
}

impl Default for WolfeConfig {
    fn default() -> Self {
        WolfeConfig { c1: 1e-4, c2: 0.9, max_evals: 40, alpha_max: 1e10 }
    }
}

impl WolfeConfig {
    /// The config with `c2 = 0.1`, the usual choice for nonlinear conjugate gradients.
    pub fn for_cg() -> Self {
        WolfeConfig { c2: 0.1, ..Self::default() }
    }

    /// Checks `0 < c1 < c2 < 1` and a positive budget.
    ///
    /// # Errors
    /// [`Error::Config`] naming the constants.
    pub fn validate(&self) -> Result<()> {
        if !(0.0 < self.c1 && self.c1 < self.c2 && self.c2 < 1.0) || self.max_evals == 0 || self.alpha_max <= 0.0 {
            return Err(Error::Config {
                what: "strong wolfe line search",
                msg: format!(
                    "need 0 < c1 < c2 < 1, max_evals > 0, alpha_max > 0; got c1 = {}, c2 = {}, max_evals = {}, \
                     alpha_max = {}",
                    self.c1, self.c2, self.max_evals, self.alpha_max
                ),
            });
        }
        Ok(())
    }
}

/// The accepted step of a line search.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// The step `a`.
    pub alpha: f64,
    /// The new point `x + a d` with its loss and gradient.
    pub point: Point,
    /// Whether both strong Wolfe conditions hold (otherwise only sufficient decrease does: the budget ran
    /// out or the bracket collapsed).
    pub wolfe: bool,
}

/// A trial step with `phi` and `phi'`.
#[derive(Clone)]
struct Trial {
    a: f64,
    phi: f64,
    dphi: f64,
    point: Option<Point>,
}

/// Strong Wolfe line search from `start` along `d`, first trying `alpha0`.
///
/// Returns `None` when `d` is not a descent direction or no step with sufficient decrease was found
/// within the budget.
///
/// # Errors
/// Errors of the problem's evaluations; [`Error::Config`] for invalid constants.
pub fn strong_wolfe<P: Problem + ?Sized>(
    p: &mut Counted<'_, P>,
    start: &Point,
    d: &[f64],
    alpha0: f64,
    cfg: &WolfeConfig,
) -> Result<Option<Accepted>> {
    cfg.validate()?;
    let (phi0, dphi0) = (start.f, dot(&start.g, d));
    if dphi0.is_nan() || dphi0 >= 0.0 || !alpha0.is_finite() || alpha0 <= 0.0 {
        return Ok(None);
    }
    let mut eval = |p: &mut Counted<'_, P>, a: f64| -> Result<Trial> {
        let pt = p.point(axpy(&start.x, a, d))?;
        Ok(Trial { a, phi: pt.f, dphi: dot(&pt.g, d), point: Some(pt) })
    };
    let armijo = |t: &Trial| t.phi <= phi0 + cfg.c1 * t.a * dphi0;
    let curvature = |t: &Trial| t.dphi.abs() <= -cfg.c2 * dphi0;

    let mut prev = Trial { a: 0.0, phi: phi0, dphi: dphi0, point: None };
    let mut a = alpha0.min(cfg.alpha_max);
    for i in 0..cfg.max_evals {
        let cur = eval(p, a)?;
        if !cur.phi.is_finite() {
            // Overshot into a region where the model blows up: shrink toward the last good step.
            a = prev.a + 0.1 * (a - prev.a);
            continue;
        }
        if !armijo(&cur) || (i > 0 && cur.phi >= prev.phi) {
            return zoom(p, prev, cur, phi0, dphi0, cfg, cfg.max_evals - i - 1, &mut eval);
        }
        if curvature(&cur) {
            return Ok(Some(accept(cur, true)));
        }
        if cur.dphi >= 0.0 {
            return zoom(p, cur, prev, phi0, dphi0, cfg, cfg.max_evals - i - 1, &mut eval);
        }
        if a >= cfg.alpha_max {
            return Ok(Some(accept(cur, false)));
        }
        prev = cur;
        a = (2.0 * a).min(cfg.alpha_max);
    }
    Ok(if prev.a > 0.0 { Some(accept(prev, false)) } else { None })
}

fn accept(t: Trial, wolfe: bool) -> Accepted {
    Accepted { alpha: t.a, point: t.point.expect("invariant: accepted trials were evaluated"), wolfe }
}

/// Algorithm 3.6: `lo` satisfies sufficient decrease with the lowest value so far; the minimiser lies
/// between `lo` and `hi`.
#[allow(clippy::too_many_arguments)]
fn zoom<P: Problem + ?Sized>(
    p: &mut Counted<'_, P>,
    mut lo: Trial,
    mut hi: Trial,
    phi0: f64,
    dphi0: f64,
    cfg: &WolfeConfig,
    budget: usize,
    eval: &mut impl FnMut(&mut Counted<'_, P>, f64) -> Result<Trial>,
) -> Result<Option<Accepted>> {
    for _ in 0..budget {
        let (a_min, a_max) = if lo.a < hi.a { (lo.a, hi.a) } else { (hi.a, lo.a) };
        let width = a_max - a_min;
        if width <= 1e-14 * a_max.max(1e-300) {
            break;
        }
        let safe = |a: f64| a.is_finite() && a > a_min + 0.1 * width && a < a_max - 0.1 * width;
        let a = cubic_min(&lo, &hi)
            .filter(|&a| safe(a))
            .or_else(|| quadratic_min(&lo, &hi).filter(|&a| safe(a)))
            .unwrap_or(0.5 * (a_min + a_max));
        let cur = eval(p, a)?;
        if cur.phi.is_nan() || cur.phi > phi0 + cfg.c1 * a * dphi0 || cur.phi >= lo.phi {
            hi = cur;
        } else {
            if cur.dphi.abs() <= -cfg.c2 * dphi0 {
                return Ok(Some(accept(cur, true)));
            }
            if cur.dphi * (hi.a - lo.a) >= 0.0 {
                hi = lo;
            }
            lo = cur;
        }
    }
    Ok(if lo.a > 0.0 { Some(accept(lo, false)) } else { None })
}

/// Minimiser of the cubic matching values and slopes at both ends (Nocedal & Wright eq. 3.59).
fn cubic_min(a: &Trial, b: &Trial) -> Option<f64> {
    let d1 = a.dphi + b.dphi - 3.0 * (a.phi - b.phi) / (a.a - b.a);
    let disc = d1 * d1 - a.dphi * b.dphi;
    if disc.is_nan() || disc < 0.0 {
        return None;
    }
    let d2 = (b.a - a.a).signum() * disc.sqrt();
    let den = b.dphi - a.dphi + 2.0 * d2;
    if den == 0.0 {
        return None;
    }
    Some(b.a - (b.a - a.a) * (b.dphi + d2 - d1) / den)
}

/// Minimiser of the quadratic through `phi(a)`, `phi'(a)` and `phi(b)`.
fn quadratic_min(a: &Trial, b: &Trial) -> Option<f64> {
    let h = b.a - a.a;
    let curv = b.phi - a.phi - a.dphi * h;
    if curv.is_nan() || curv <= 0.0 {
        return None;
    }
    Some(a.a - a.dphi * h * h / (2.0 * curv))
}

/// The step `a = -g.d / d.Hd` that minimises the quadratic model along `d`, with `d.Hd` from one exact
/// HVP, and the point there. `None` when the curvature along `d` is not positive or `d` is not a descent
/// direction.
///
/// # Errors
/// Errors of the problem's evaluations.
pub fn exact_quadratic<P: Problem + ?Sized>(
    p: &mut Counted<'_, P>,
    start: &Point,
    d: &[f64],
) -> Result<Option<Accepted>> {
    let gd = dot(&start.g, d);
    if gd.is_nan() || gd >= 0.0 {
        return Ok(None);
    }
    let dhd = dot(d, &p.hvp(&start.x, d)?);
    if dhd.is_nan() || dhd <= 0.0 {
        return Ok(None);
    }
    let alpha = -gd / dhd;
    let point = p.point(axpy(&start.x, alpha, d))?;
    Ok(Some(Accepted { alpha, point, wolfe: true }))
}

/// Which line search a method uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LineSearchKind {
    /// [`strong_wolfe`] with these constants.
    StrongWolfe(WolfeConfig),
    /// [`exact_quadratic`] (one HVP per step); falls back to strong Wolfe with default constants when the
    /// curvature along the direction is not positive.
    ExactQuadratic,
}

impl LineSearchKind {
    /// Runs this search from `start` along `d`, first trying `alpha0` (strong Wolfe only).
    ///
    /// # Errors
    /// As [`strong_wolfe`] and [`exact_quadratic`].
    pub fn search<P: Problem + ?Sized>(
        &self,
        p: &mut Counted<'_, P>,
        start: &Point,
        d: &[f64],
        alpha0: f64,
    ) -> Result<Option<Accepted>> {
        match self {
            LineSearchKind::StrongWolfe(cfg) => strong_wolfe(p, start, d, alpha0, cfg),
            LineSearchKind::ExactQuadratic => match exact_quadratic(p, start, d)? {
                Some(a) => Ok(Some(a)),
                None => strong_wolfe(p, start, d, alpha0, &WolfeConfig::default()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(a: f64, f: impl Fn(f64) -> (f64, f64)) -> Trial {
        let (phi, dphi) = f(a);
        Trial { a, phi, dphi, point: None }
    }

    #[test]
    fn cubic_interpolation_finds_the_minimum_of_a_cubic_exactly() {
        // phi(a) = (a - 1)^3 - 3 (a - 1) has its local minimum at a = 2.
        let f = |a: f64| ((a - 1.0).powi(3) - 3.0 * (a - 1.0), 3.0 * (a - 1.0).powi(2) - 3.0);
        for (lo, hi) in [(1.5, 3.0), (3.0, 1.2), (0.5, 2.5)] {
            let m = cubic_min(&trial(lo, f), &trial(hi, f)).expect("a minimum");
            assert!((m - 2.0).abs() < 1e-12, "from {lo} and {hi}: {m}");
        }
    }

    #[test]
    fn quadratic_interpolation_finds_the_minimum_of_a_parabola_exactly() {
        let f = |a: f64| (3.0 * (a - 0.7).powi(2) + 1.0, 6.0 * (a - 0.7));
        let m = quadratic_min(&trial(0.0, f), &trial(2.0, f)).expect("a minimum");
        assert!((m - 0.7).abs() < 1e-12);
        let concave = |a: f64| (-a * a, -2.0 * a);
        assert!(quadratic_min(&trial(0.5, concave), &trial(1.0, concave)).is_none());
    }
}
