//! Every classical full-batch method in one place: the methods, [`minimize`], the problem types, the
//! stopping [`Tolerances`] and [`curve_fit`]. Import from here; the modules beside it (`lm`, `lbfgs`,
//! `driver`, `flat`, ...) hold the implementations, one method each.
//!
//! A curve fit `y = a exp(b x)` from a first guess, with SciPy's standard errors:
//!
//! ```
//! use tapegrad::Tensor;
//! use tapegrad_nn::optim::full_batch::curve_fit;
//!
//! let x = Tensor::<f64>::linspace(0.0, 2.0, 11)?;
//! let y = x.map(|x| 3.0 * (0.7 * x).exp() + 0.01 * (7.0 * x).sin());
//! let fit = curve_fit(|_, x, p| Ok(p[0] * (p[1] * x).exp()), &x, &y, &[1.0, 1.0])?;
//! assert!((fit.params[0] - 3.0).abs() < 0.01 && (fit.params[1] - 0.7).abs() < 0.01);
//! assert!(fit.std_errors.iter().all(|s| *s > 0.0 && *s < 0.01));
//! # Ok::<(), tapegrad_nn::Error>(())
//! ```
//!
//! Any objective, any method, through [`minimize`]:
//!
//! ```
//! use tapegrad_nn::optim::full_batch::{minimize, FnProblem, Lbfgs, LbfgsConfig, Tolerances};
//!
//! // Rosenbrock from (-1.2, 1).
//! let mut p = FnProblem::<f64, _>::new(vec![[2].into()], |_, v| {
//!     let (x, y) = (v[0].narrow(0, 0, 1)?, v[0].narrow(0, 1, 1)?);
//!     Ok(((y - x.square()).square() * 100.0 + (1.0 - x).square()).sum())
//! });
//! let s = minimize(&mut Lbfgs::new(LbfgsConfig::default())?, &mut p, vec![-1.2, 1.0], &Tolerances::default())?;
//! assert!((s.point.x[0] - 1.0).abs() < 1e-6);
//! println!("{s}"); // steps, loss, gradient norm, why it stopped, evaluations
//! # Ok::<(), tapegrad_nn::Error>(())
//! ```

pub use super::bfgs::{Bfgs, BfgsConfig, BfgsInit};
pub use super::cg::{CgBeta, CgConfig, ConjugateGradient};
pub use super::curve_fit::{CurveFit, curve_fit};
pub use super::driver::{
    EvalCounts, FullBatch, Point, StepOutcome, StepReport, StopReason, Summary, Tolerances, minimize,
};
pub use super::first_order::FirstOrder;
pub use super::flat::{FnLeastSquares, FnProblem, LeastSquares, ModuleProblem, Problem};
pub use super::lbfgs::{Lbfgs, LbfgsConfig};
pub use super::line_search::{LineSearchKind, WolfeConfig};
pub use super::lm::{LevenbergMarquardt, LmConfig, LmDamping};
pub use super::nag::{NagConfig, NesterovLookAhead};
pub use super::net_lsq::NetLeastSquares;
pub use super::newton::{Newton, NewtonCg, NewtonCgConfig, NewtonConfig};
pub use super::quickprop::{Quickprop, QuickpropConfig, QuickpropVariant};
pub use super::rprop::{Rprop, RpropConfig, RpropVariant};
