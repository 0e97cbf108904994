//! A network's training errors as a least-squares problem, for Levenberg-Marquardt (lecture 003).
//!
//! Lecture 003 trains a network by Levenberg-Marquardt on the errors `e = d - o` (desired minus actual
//! output), one per output of each example, stacked into one vector: `e = (e_11, ..., e_1K, e_21, ..., e_NK)`
//! for `N` examples with `K` outputs (example by example, the row-major order of the `[N, K]` output).
//! The error is `E = 1/2 sum e^2` and `J = de/dW` is the Jacobian of the stacked errors with respect to every
//! weight, one row per error, taken from the tape: one forward pass and one backward pass per error.
//! [`super::lm::LevenbergMarquardt`] then solves `(J^T J + lambda D) dW = -J^T e`. (The slide writes
//! `J = do/dW`, the Jacobian of the outputs, and `+J^T e`; as `de/dW = -do/dW` it is the same step.)
//!
//! ```
//! use rand::SeedableRng;
//! use tapegrad::Tensor;
//! use tapegrad_nn::optim::full_batch::{minimize, LevenbergMarquardt, LmConfig, NetLeastSquares, Tolerances};
//! use tapegrad_nn::{Activation, Mlp};
//!
//! let mut rng = rand::rngs::StdRng::seed_from_u64(1);
//! let mut net = Mlp::<f64>::new(&[1, 4, 1], Activation::Tanh, Activation::Identity, &mut rng)?;
//! let x = Tensor::linspace(-1.0, 1.0, 12)?.reshape([12, 1])?;
//! let d = x.map(|v| v * v);
//! let mut problem = NetLeastSquares::new(&mut net, x, d)?;
//! let x0 = problem.initial();
//! let tol = Tolerances { grad_norm: 1e-10, rel_loss_change: 0.0, max_iters: 100 };
//! let run = minimize(&mut LevenbergMarquardt::new(LmConfig::default())?, &mut problem, x0, &tol)?;
//! problem.write(&run.point.x)?;
//! assert!(run.point.f < 1e-3);
//! # Ok::<(), tapegrad_nn::Error>(())
//! ```

use super::flat::{LeastSquares, Problem, flatten, unflatten_into};
use crate::error::{Error, Result};
use crate::module::Module;
use tapegrad::{Float, Shape, Tape, Tensor, Var};

/// A [`Module`] and its training set `(x, d)` as the least-squares problem `E = 1/2 sum (d - o)^2`, with the
/// errors stacked over outputs and examples; see the module docs.
///
/// Every evaluation writes the flat vector into the module's parameters in place (in [`Module::params`]
/// order), so after a run the module holds the last point evaluated; call [`NetLeastSquares::write`] with the
/// optimizer's final point to be sure.
pub struct NetLeastSquares<'m, T: Float, M> {
    module: &'m mut M,
    x: Tensor<T>,
    d: Tensor<T>,
    dim: usize,
}

impl<'m, T: Float, M: Module<T>> NetLeastSquares<'m, T, M> {
    /// The problem of fitting `module(x)` to the desired outputs `d`.
    ///
    /// # Errors
    /// [`Error::Optimizer`] when the module's output for `x` has another shape than `d`; any error of the
    /// forward pass.
    pub fn new(module: &'m mut M, x: Tensor<T>, d: Tensor<T>) -> Result<Self> {
        let o = module.predict(&x)?;
        if o.dims() != d.dims() {
            return Err(Error::Optimizer {
                optimizer: "net least squares",
                msg: format!(
                    "the network maps x {} to {}, but the desired outputs d are {}",
                    x.shape(),
                    o.shape(),
                    d.shape()
                ),
            });
        }
        let dim = module.num_params();
        Ok(NetLeastSquares { module, x, d, dim })
    }

    /// The current parameters as one vector (the starting point of a run).
    pub fn initial(&self) -> Vec<f64> {
        let ps: Vec<_> = self.module.params().into_iter().map(|(_, p)| p).collect();
        flatten(&ps)
    }

    /// Writes `w` into the module's parameters, in place.
    ///
    /// # Errors
    /// When `w.len()` is not the number of parameters.
    pub fn write(&mut self, w: &[f64]) -> Result<()> {
        let mut ps: Vec<_> = self.module.params_mut().into_iter().map(|(_, p)| p).collect();
        unflatten_into(w, &mut ps)
    }

    /// The stacked errors `e = d - o` as a rank-1 variable, and the parameter nodes, after writing `w`.
    fn record<'t>(&mut self, tape: &'t Tape<T>, w: &[f64]) -> Result<(Var<'t, T>, Vec<Var<'t, T>>)> {
        self.write(w)?;
        let o = self.module.forward(tape, tape.input(self.x.clone()))?;
        let m = o.shape().numel();
        let e = (tape.input(self.d.clone()) - o).reshape([m])?;
        let vars = self.module.params().into_iter().map(|(_, p)| tape.param(p)).collect();
        Ok((e, vars))
    }

    fn half_sq<'t>(e: Var<'t, T>) -> Var<'t, T> {
        e.square().sum().mul_scalar(T::of(0.5))
    }
}

fn concat<T: Float>(ts: &[Tensor<T>]) -> Vec<f64> {
    ts.iter().flat_map(|t| t.data().iter().map(|v| v.f64())).collect()
}

impl<T: Float, M: Module<T>> Problem for NetLeastSquares<'_, T, M> {
    fn dim(&self) -> usize {
        self.dim
    }

    fn loss(&mut self, w: &[f64]) -> Result<f64> {
        Ok(0.5 * self.residuals(w)?.iter().map(|e| e * e).sum::<f64>())
    }

    fn loss_grad(&mut self, w: &[f64]) -> Result<(f64, Vec<f64>)> {
        let tape = Tape::new();
        let (e, vars) = self.record(&tape, w)?;
        let y = Self::half_sq(e);
        let g = tape.grad(y, &vars)?;
        Ok((y.item()?.f64(), concat(&g)))
    }

    fn hvp(&mut self, w: &[f64], v: &[f64]) -> Result<Vec<f64>> {
        if v.len() != self.dim {
            return Err(Error::Optimizer {
                optimizer: "net least squares",
                msg: format!("direction of length {} for {} parameters", v.len(), self.dim),
            });
        }
        let tape = Tape::new();
        let (e, vars) = self.record(&tape, w)?;
        let mut vs = Vec::with_capacity(vars.len());
        let mut off = 0;
        for var in &vars {
            let shape: Shape = var.shape();
            let len = shape.numel();
            vs.push(Tensor::from_vec(v[off..off + len].iter().map(|x| T::of(*x)).collect(), shape)?);
            off += len;
        }
        Ok(concat(&tape.hvp(Self::half_sq(e), &vars, &vs)?))
    }
}

impl<T: Float, M: Module<T>> LeastSquares for NetLeastSquares<'_, T, M> {
    fn residuals(&mut self, w: &[f64]) -> Result<Vec<f64>> {
        self.write(w)?;
        let o = self.module.predict(&self.x)?;
        Ok(self.d.data().iter().zip(o.data()).map(|(d, o)| (*d - *o).f64()).collect())
    }

    fn residuals_jacobian(&mut self, w: &[f64]) -> Result<(Vec<f64>, Vec<f64>)> {
        let tape = Tape::new();
        let (e, vars) = self.record(&tape, w)?;
        let m = e.shape().numel();
        let r: Vec<f64> = e.value().data().iter().map(|v| v.f64()).collect();
        let mut j = Vec::with_capacity(m * self.dim);
        for i in 0..m {
            let ei = e.narrow(0, i, 1)?.sum();
            j.extend(concat(&tape.grad(ei, &vars)?));
        }
        Ok((r, j))
    }
}
