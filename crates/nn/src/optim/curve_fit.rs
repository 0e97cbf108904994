//! `curve_fit`: least-squares fitting of a model's parameters to data, with their covariance and standard
//! errors, as SciPy's `scipy.optimize.curve_fit` gives them.
//!
//! ```
//! use tapegrad::Tensor;
//! use tapegrad_nn::optim::full_batch::curve_fit;
//!
//! // y = a exp(b x), data made with a = 2, b = -0.5.
//! let x = Tensor::<f64>::linspace(0.0, 4.0, 20)?;
//! let y = x.map(|x| 2.0 * (-0.5 * x).exp());
//! let fit = curve_fit(|_, x, p| Ok(p[0] * (p[1] * x).exp()), &x, &y, &[1.0, 0.0])?;
//! assert!((fit.params[0] - 2.0).abs() < 1e-8 && (fit.params[1] + 0.5).abs() < 1e-8);
//! println!("{fit}"); // parameters, standard errors, cost, how the run ended
//! # Ok::<(), tapegrad_nn::Error>(())
//! ```

use super::dense::{cholesky_solve, normal_equations};
use super::driver::{Summary, Tolerances, minimize};
use super::flat::{FnLeastSquares, LeastSquares};
use super::lm::{LevenbergMarquardt, LmConfig};
use crate::error::{Error, Result};
use std::fmt;
use tapegrad::{Shape, Tape, Tensor, Var};

/// The result of [`curve_fit`].
#[derive(Debug, Clone, PartialEq)]
pub struct CurveFit {
    /// The fitted parameters (SciPy's `popt`).
    pub params: Vec<f64>,
    /// Their covariance, row-major `n x n` (SciPy's `pcov` with `absolute_sigma=False`):
    /// `s^2 (J^T J)^-1` with `s^2 = sum r^2 / (m - n)`, `J` the residuals' Jacobian at the fit. Infinite when
    /// there are no more data points than parameters or `J^T J` is singular, as SciPy reports it.
    pub covariance: Vec<f64>,
    /// The standard errors: square roots of the covariance's diagonal.
    pub std_errors: Vec<f64>,
    /// `0.5 * sum r^2` at the fit.
    pub cost: f64,
    /// The Levenberg-Marquardt run (steps, evaluations, why it stopped).
    pub summary: Summary,
}

/// Fits `model(x; p)` to `y` by Levenberg-Marquardt from `p0`, minimising `0.5 * sum (model - y)^2`.
///
/// `model` gets the tape, `x` as a variable and one rank-0 variable per parameter, and returns the
/// predictions (same number of elements as `y`; scalars broadcast, so `p[0] * x` reads like the formula).
/// Derivatives are exact (the residuals' Jacobian comes from the tape). Tolerances as in SciPy's default
/// (`1.5e-8` on the relative loss change; gradient norm `1e-12`; at most 200 steps).
///
/// # Errors
/// [`Error::Optimizer`] when `y` and the predictions differ in size or `p0` is empty; any error of `model`.
pub fn curve_fit<F>(model: F, x: &Tensor<f64>, y: &Tensor<f64>, p0: &[f64]) -> Result<CurveFit>
where
    F: for<'t> Fn(&'t Tape<f64>, Var<'t, f64>, &[Var<'t, f64>]) -> tapegrad::Result<Var<'t, f64>>,
{
    if p0.is_empty() {
        return Err(Error::Optimizer { optimizer: "curve_fit", msg: "no parameters to fit (p0 is empty)".into() });
    }
    let n = p0.len();
    let m = y.numel();
    // `Var - Var` panics on a shape mismatch: check the size once up front for a typed error instead.
    let probe = Tape::new();
    let vars: Vec<_> = p0.iter().map(|&v| probe.input(Tensor::scalar(v))).collect();
    let pred = model(&probe, probe.input(x.clone()), &vars)?;
    if pred.shape().numel() != m {
        return Err(Error::Optimizer {
            optimizer: "curve_fit",
            msg: format!("the model gives {} predictions ({}) for {m} data points", pred.shape().numel(), pred.shape()),
        });
    }
    let y_flat = y.reshape([m])?;
    let mut problem = FnLeastSquares::new(vec![Shape::scalar(); n], |tape: &Tape<f64>, p: &[Var<'_, f64>]| {
        let pred = model(tape, tape.input(x.clone()), p)?;
        pred.reshape([m])?.sub(tape.input(y_flat.clone()))
    });
    let mut lm = LevenbergMarquardt::new(LmConfig::default())?;
    let tol = Tolerances { grad_norm: 1e-12, rel_loss_change: 1.5e-8, max_iters: 200 };
    let summary = minimize(&mut lm, &mut problem, p0.to_vec(), &tol)?;
    let params = summary.point.x.clone();
    let (r, j) = problem.residuals_jacobian(&params)?;
    let sum_sq: f64 = r.iter().map(|r| r * r).sum();
    let covariance = covariance(&j, m, n, sum_sq);
    let std_errors = (0..n).map(|k| covariance[k * n + k].sqrt()).collect();
    Ok(CurveFit { params, covariance, std_errors, cost: 0.5 * sum_sq, summary })
}

/// `s^2 (J^T J)^-1`, `s^2 = sum_sq / (m - n)`; infinite where SciPy reports it so.
fn covariance(j: &[f64], m: usize, n: usize, sum_sq: f64) -> Vec<f64> {
    let (jtj, _) = normal_equations(j, m, n, &vec![0.0; m]);
    let inv: Option<Vec<Vec<f64>>> = (0..n)
        .map(|k| {
            let e: Vec<f64> = (0..n).map(|i| if i == k { 1.0 } else { 0.0 }).collect();
            cholesky_solve(&jtj, n, &vec![0.0; n], &e)
        })
        .collect();
    match inv {
        Some(cols) if m > n => {
            let s2 = sum_sq / (m - n) as f64;
            (0..n * n).map(|k| s2 * cols[k % n][k / n]).collect()
        }
        _ => vec![f64::INFINITY; n * n],
    }
}

impl fmt::Display for CurveFit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:>5} {:>16} {:>12}", "param", "value", "std error")?;
        for (k, (p, s)) in self.params.iter().zip(&self.std_errors).enumerate() {
            writeln!(f, "{:>5} {:>16.9e} {:>12.3e}", format!("p{k}"), p, s)?;
        }
        write!(f, "cost {:.6e}; {}", self.cost, self.summary)
    }
}
