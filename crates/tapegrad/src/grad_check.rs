//! Checking derivatives against central finite differences in `f64`: the law of this repository, and public
//! API so users can check their own ops.
//!
//! The function's output is projected to a scalar with fixed random weights `w` (`loss = sum(w * f(x))`),
//! never a plain sum: a plain sum is blind to errors that add up to zero across outputs, such as a wrong
//! softmax derivative.

use crate::error::{Error, Result};
use crate::higher::TapeFn;
use crate::tape::{Tape, Var};
use crate::tensor::Tensor;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Step and tolerances for the checks (PyTorch's gradcheck defaults for double precision).
#[derive(Debug, Clone, Copy)]
pub struct GradCheckConfig {
    /// Finite-difference step.
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance (relative to the numeric value).
    pub rtol: f64,
    /// Seed of the projection weights and the second-order direction.
    pub seed: u64,
}

impl Default for GradCheckConfig {
    fn default() -> Self {
        GradCheckConfig { eps: 1e-6, atol: 1e-5, rtol: 1e-3, seed: 0x5eed }
    }
}

/// Projection weights for an output shape, fixed by the seed.
fn weights(out: &Tensor<f64>, seed: u64) -> Result<Tensor<f64>> {
    let mut rng = StdRng::seed_from_u64(seed);
    Tensor::rand_uniform(out.shape().clone(), 0.5, 1.5, &mut rng)
}

/// `sum(w * f(x))` on `tape` with `xs` as leaves; returns the scalar and the leaves.
fn projected<'t>(
    f: &impl TapeFn<f64>,
    tape: &'t Tape<f64>,
    xs: &[Tensor<f64>],
    seed: u64,
) -> Result<(Var<'t, f64>, Vec<Var<'t, f64>>)> {
    let leaves: Vec<_> = xs.iter().map(|x| tape.leaf(x.clone())).collect();
    let y = f(tape, &leaves)?;
    let w = tape.constant(weights(&y.value(), seed)?);
    Ok((y.mul(w)?.sum(), leaves))
}

fn projected_value(f: &impl TapeFn<f64>, xs: &[Tensor<f64>], seed: u64) -> Result<f64> {
    let tape = Tape::new();
    let (s, _) = tape.no_grad(|| projected(f, &tape, xs, seed))?;
    s.item()
}

/// Refuses a configuration the checks cannot use: a step that is not a finite positive number, tolerances
/// that are negative or not finite.
fn validate(op: &'static str, cfg: &GradCheckConfig) -> Result<()> {
    let ok = cfg.eps > 0.0 && cfg.eps.is_finite() && [cfg.atol, cfg.rtol].iter().all(|t| *t >= 0.0 && t.is_finite());
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            op,
            msg: format!(
                "eps {} must be finite and > 0, atol {} and rtol {} finite and >= 0",
                cfg.eps, cfg.atol, cfg.rtol
            ),
        })
    }
}

fn compare(input: usize, element: usize, analytic: f64, numeric: f64, cfg: &GradCheckConfig) -> Result<()> {
    let ok = (analytic - numeric).abs() <= cfg.atol + cfg.rtol * numeric.abs();
    if ok && analytic.is_finite() {
        Ok(())
    } else {
        Err(Error::GradientMismatch { input, element, analytic, numeric, atol: cfg.atol, rtol: cfg.rtol })
    }
}

/// Gradients of `sum(w * f(xs))` with respect to each input, by backward.
fn analytic_grads(f: &impl TapeFn<f64>, xs: &[Tensor<f64>], seed: u64) -> Result<Vec<Tensor<f64>>> {
    let tape = Tape::new();
    let (s, leaves) = projected(f, &tape, xs, seed)?;
    let g = s.backward()?;
    leaves.iter().zip(xs).map(|(l, x)| Ok(g.get(*l)?.cloned().unwrap_or_else(|| x.zeros_like()))).collect()
}

/// Compares backward against central finite differences for every element of every input.
///
/// ```
/// use tapegrad::{check_gradients, GradCheckConfig, Tensor};
/// let x = Tensor::from_vec(vec![0.3, -1.2, 2.0], [3]).unwrap();
/// check_gradients(|_t, v| Ok(v[0].tanh()), &[x], GradCheckConfig::default()).unwrap();
/// ```
///
/// # Errors
/// [`Error::GradientMismatch`] naming the input, the element, both values and the tolerance; any error `f`
/// returns; [`Error::InvalidArgument`] for a step or tolerance that is not finite and positive.
pub fn check_gradients(f: impl TapeFn<f64>, xs: &[Tensor<f64>], cfg: GradCheckConfig) -> Result<()> {
    validate("check_gradients", &cfg)?;
    let analytic = analytic_grads(&f, xs, cfg.seed)?;
    let mut work: Vec<Tensor<f64>> = xs.to_vec();
    for (i, x) in xs.iter().enumerate() {
        for e in 0..x.numel() {
            let orig = x.data()[e];
            work[i].data_mut()[e] = orig + cfg.eps;
            let plus = projected_value(&f, &work, cfg.seed)?;
            work[i].data_mut()[e] = orig - cfg.eps;
            let minus = projected_value(&f, &work, cfg.seed)?;
            work[i].data_mut()[e] = orig;
            compare(i, e, analytic[i].data()[e], (plus - minus) / (2.0 * cfg.eps), &cfg)?;
        }
    }
    Ok(())
}

/// Second-order check: the Hessian-vector product from differentiating the recorded gradient graph, against
/// central finite differences of first-order gradients along a fixed random direction.
///
/// # Errors
/// As [`check_gradients`].
pub fn check_second_order(f: impl TapeFn<f64>, xs: &[Tensor<f64>], cfg: GradCheckConfig) -> Result<()> {
    validate("check_second_order", &cfg)?;
    let mut rng = StdRng::seed_from_u64(cfg.seed ^ 0xd1ec);
    let dir: Vec<Tensor<f64>> =
        xs.iter().map(|x| Tensor::rand_uniform(x.shape().clone(), -1.0, 1.0, &mut rng)).collect::<Result<_>>()?;
    let hv = {
        let tape = Tape::new();
        let (s, leaves) = projected(&f, &tape, xs, cfg.seed)?;
        tape.hvp(s, &leaves, &dir)?
    };
    // Second differences need a larger step than first differences to stay above rounding noise.
    let eps = cfg.eps.sqrt() * 1e-2;
    let shifted = |sign: f64| -> Result<Vec<Tensor<f64>>> {
        let moved: Vec<Tensor<f64>> = xs
            .iter()
            .zip(&dir)
            .map(|(x, d)| crate::kernels::zip("check", x.clone(), d, |a, b| a + sign * eps * b))
            .collect::<Result<_>>()?;
        analytic_grads(&f, &moved, cfg.seed)
    };
    let (gp, gm) = (shifted(1.0)?, shifted(-1.0)?);
    for (i, h) in hv.iter().enumerate() {
        for e in 0..h.numel() {
            let numeric = (gp[i].data()[e] - gm[i].data()[e]) / (2.0 * eps);
            compare(i, e, h.data()[e], numeric, &cfg)?;
        }
    }
    Ok(())
}
