//! The flat-vector view of parameters that the classical full-batch methods work on.
//!
//! RProp, QuickProp, CG, BFGS, L-BFGS, Levenberg-Marquardt and Newton all see the parameters as one vector
//! `x` (in `f64`, whatever the model's element type: line searches and curvature pairs need the precision)
//! and re-evaluate the loss at points of their choosing. A [`Problem`] answers those questions, each on a
//! fresh tape: loss, gradient, Hessian-vector product, Hessian. A [`LeastSquares`] problem also gives
//! its residual vector and Jacobian.
//!
//! Two adapters:
//! - [`FnProblem`] / [`FnLeastSquares`]: a closure over one variable per parameter tensor (the shape of
//!   [`tapegrad::jacobian`]'s functions).
//! - [`ModuleProblem`]: a [`Module`] and a loss closure. The vector is written into the module's
//!   parameters in place (no tape holds them between evaluations, so `data_mut` does not copy) and the
//!   gradient is read back from the module's own parameter nodes.

use crate::error::{Error, Result};
use crate::module::Module;
use tapegrad::{Float, Param, Shape, Tape, TapeFn, Tensor, Var};

/// A differentiable objective seen through a flat `f64` vector of length [`Problem::dim`].
pub trait Problem {
    /// Number of scalar parameters.
    fn dim(&self) -> usize;

    /// The loss at `x`.
    ///
    /// # Errors
    /// When `x.len() != dim()`, and any error of the model.
    fn loss(&mut self, x: &[f64]) -> Result<f64>;

    /// The loss and its gradient at `x`.
    ///
    /// # Errors
    /// As [`Problem::loss`].
    fn loss_grad(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>)>;

    /// The exact Hessian-vector product `H(x) v`, from the tape (a gradient of the recorded gradient).
    ///
    /// # Errors
    /// As [`Problem::loss`]; `v` must have length `dim()`.
    fn hvp(&mut self, x: &[f64], v: &[f64]) -> Result<Vec<f64>>;

    /// The dense Hessian at `x`, row-major `dim x dim`. The default takes one HVP per unit vector.
    ///
    /// # Errors
    /// As [`Problem::hvp`].
    fn hessian(&mut self, x: &[f64]) -> Result<Vec<f64>> {
        let n = self.dim();
        let mut h = vec![0.0; n * n];
        let mut e = vec![0.0; n];
        for j in 0..n {
            e[j] = 1.0;
            let col = self.hvp(x, &e)?;
            e[j] = 0.0;
            for (i, c) in col.iter().enumerate() {
                h[i * n + j] = *c;
            }
        }
        Ok(h)
    }
}

/// A least-squares objective `0.5 * sum r_i(x)^2` that exposes its residuals and their Jacobian.
pub trait LeastSquares: Problem {
    /// The residual vector `r(x)`.
    ///
    /// # Errors
    /// As [`Problem::loss`].
    fn residuals(&mut self, x: &[f64]) -> Result<Vec<f64>>;

    /// The residuals and their Jacobian `J` (row-major, one row per residual, `dim()` columns).
    ///
    /// # Errors
    /// As [`Problem::loss`].
    fn residuals_jacobian(&mut self, x: &[f64]) -> Result<(Vec<f64>, Vec<f64>)>;
}

/// Concatenates parameter values into one `f64` vector, in order.
pub fn flatten<T: Float>(params: &[&Param<T>]) -> Vec<f64> {
    params.iter().flat_map(|p| p.value().data().iter().map(|v| v.f64())).collect()
}

/// Writes a flat vector back into parameters, in order and in place.
///
/// # Errors
/// [`Error::Optimizer`] when the lengths differ.
pub fn unflatten_into<T: Float>(x: &[f64], params: &mut [&mut Param<T>]) -> Result<()> {
    let n: usize = params.iter().map(|p| p.value().numel()).sum();
    check_len("unflatten", x.len(), n)?;
    let mut off = 0;
    for p in params.iter_mut() {
        let data = p.value_mut().data_mut();
        for (d, v) in data.iter_mut().zip(&x[off..]) {
            *d = T::of(*v);
        }
        off += data.len();
    }
    Ok(())
}

fn check_len(what: &'static str, got: usize, want: usize) -> Result<()> {
    if got == want {
        Ok(())
    } else {
        Err(Error::Optimizer { optimizer: what, msg: format!("vector of length {got} for {want} parameters") })
    }
}

/// Splits `x` into tensors of the given shapes.
fn split<T: Float>(x: &[f64], shapes: &[Shape]) -> Result<Vec<Tensor<T>>> {
    let n: usize = shapes.iter().map(Shape::numel).sum();
    check_len("flat", x.len(), n)?;
    let mut off = 0;
    let mut out = Vec::with_capacity(shapes.len());
    for s in shapes {
        let len = s.numel();
        let data = x[off..off + len].iter().map(|v| T::of(*v)).collect();
        out.push(Tensor::from_vec(data, s.clone())?);
        off += len;
    }
    Ok(out)
}

fn concat<T: Float>(ts: &[Tensor<T>]) -> Vec<f64> {
    ts.iter().flat_map(|t| t.data().iter().map(|v| v.f64())).collect()
}

/// A [`Problem`] from a closure over one variable per parameter tensor.
///
/// ```
/// use tapegrad_nn::optim::flat::{FnProblem, Problem};
/// // f(x) = (x0 - 1)^2 + 3 x1^2, one variable of shape [2].
/// let mut p = FnProblem::<f64, _>::new(vec![[2].into()], |tape, v| {
///     let shift = tape.constant(tapegrad::Tensor::from_vec(vec![1.0, 0.0], [2])?);
///     let w = tape.constant(tapegrad::Tensor::from_vec(vec![1.0, 3.0], [2])?);
///     Ok(((v[0] - shift).square() * w).sum())
/// });
/// let (f, g) = p.loss_grad(&[2.0, 1.0]).unwrap();
/// assert_eq!(f, 4.0);
/// assert_eq!(g, vec![2.0, 6.0]);
/// ```
pub struct FnProblem<T: Float, F> {
    shapes: Vec<Shape>,
    f: F,
    _t: std::marker::PhantomData<T>,
}

impl<T: Float, F> FnProblem<T, F>
where
    F: TapeFn<T>,
{
    /// The objective `f` of variables with these shapes, flattened and concatenated in order.
    pub fn new(shapes: Vec<Shape>, f: F) -> Self {
        FnProblem { shapes, f, _t: std::marker::PhantomData }
    }

    /// The shapes of the variables.
    pub fn shapes(&self) -> &[Shape] {
        &self.shapes
    }

    /// Splits a flat vector into the variables' tensors.
    ///
    /// # Errors
    /// When the length is not [`Problem::dim`].
    pub fn tensors(&self, x: &[f64]) -> Result<Vec<Tensor<T>>> {
        split(x, &self.shapes)
    }
}

impl<T: Float, F> Problem for FnProblem<T, F>
where
    F: TapeFn<T>,
{
    fn dim(&self) -> usize {
        self.shapes.iter().map(Shape::numel).sum()
    }

    fn loss(&mut self, x: &[f64]) -> Result<f64> {
        let xs = self.tensors(x)?;
        let tape = Tape::new();
        let vars: Vec<_> = xs.into_iter().map(|t| tape.input(t)).collect();
        Ok((self.f)(&tape, &vars)?.item()?.f64())
    }

    fn loss_grad(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>)> {
        let xs = self.tensors(x)?;
        let tape = Tape::new();
        let vars: Vec<_> = xs.into_iter().map(|t| tape.leaf(t)).collect();
        let y = (self.f)(&tape, &vars)?;
        let g = tape.grad(y, &vars)?;
        Ok((y.item()?.f64(), concat(&g)))
    }

    fn hvp(&mut self, x: &[f64], v: &[f64]) -> Result<Vec<f64>> {
        let xs = self.tensors(x)?;
        let vs = self.tensors(v)?;
        let (_, hv) = tapegrad::hvp(&self.f, &xs, &vs)?;
        Ok(concat(&hv))
    }

    fn hessian(&mut self, x: &[f64]) -> Result<Vec<f64>> {
        let xs = self.tensors(x)?;
        Ok(concat(&[tapegrad::hessian(&self.f, &xs)?]))
    }
}

/// A [`LeastSquares`] problem from a closure returning the residual vector (any shape; flattened).
pub struct FnLeastSquares<T: Float, F> {
    shapes: Vec<Shape>,
    r: F,
    _t: std::marker::PhantomData<T>,
}

impl<T: Float, F> FnLeastSquares<T, F>
where
    F: TapeFn<T>,
{
    /// Residuals `r` of variables with these shapes; the loss is `0.5 * sum r^2`.
    pub fn new(shapes: Vec<Shape>, r: F) -> Self {
        FnLeastSquares { shapes, r, _t: std::marker::PhantomData }
    }

    fn half_sq<'t>(&self, tape: &'t Tape<T>, vars: &[Var<'t, T>]) -> tapegrad::Result<Var<'t, T>> {
        Ok((self.r)(tape, vars)?.square().sum().mul_scalar(T::of(0.5)))
    }
}

impl<T: Float, F> Problem for FnLeastSquares<T, F>
where
    F: TapeFn<T>,
{
    fn dim(&self) -> usize {
        self.shapes.iter().map(Shape::numel).sum()
    }

    fn loss(&mut self, x: &[f64]) -> Result<f64> {
        Ok(0.5 * self.residuals(x)?.iter().map(|r| r * r).sum::<f64>())
    }

    fn loss_grad(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>)> {
        let xs = split::<T>(x, &self.shapes)?;
        let tape = Tape::new();
        let vars: Vec<_> = xs.into_iter().map(|t| tape.leaf(t)).collect();
        let y = self.half_sq(&tape, &vars)?;
        let g = tape.grad(y, &vars)?;
        Ok((y.item()?.f64(), concat(&g)))
    }

    fn hvp(&mut self, x: &[f64], v: &[f64]) -> Result<Vec<f64>> {
        let xs = split::<T>(x, &self.shapes)?;
        let vs = split::<T>(v, &self.shapes)?;
        let tape = Tape::new();
        let vars: Vec<_> = xs.into_iter().map(|t| tape.leaf(t)).collect();
        let y = self.half_sq(&tape, &vars)?;
        Ok(concat(&tape.hvp(y, &vars, &vs)?))
    }
}

impl<T: Float, F> LeastSquares for FnLeastSquares<T, F>
where
    F: TapeFn<T>,
{
    fn residuals(&mut self, x: &[f64]) -> Result<Vec<f64>> {
        let xs = split::<T>(x, &self.shapes)?;
        let tape = Tape::new();
        let vars: Vec<_> = xs.into_iter().map(|t| tape.input(t)).collect();
        Ok((self.r)(&tape, &vars)?.value().data().iter().map(|v| v.f64()).collect())
    }

    fn residuals_jacobian(&mut self, x: &[f64]) -> Result<(Vec<f64>, Vec<f64>)> {
        let r = self.residuals(x)?;
        let xs = split::<T>(x, &self.shapes)?;
        let j = tapegrad::jacobian(&self.r, &xs)?;
        Ok((r, concat(&[j])))
    }
}

/// A [`Problem`] over a [`Module`]'s parameters (in [`Module::params`] order) with a loss closure that
/// runs the module on its data.
///
/// Every evaluation writes `x` into the parameters in place, so after a run the module holds the last
/// point evaluated; call [`ModuleProblem::write`] with the optimizer's final `x` to be sure.
pub struct ModuleProblem<'m, T: Float, M, F> {
    module: &'m mut M,
    loss: F,
    dim: usize,
    _t: std::marker::PhantomData<T>,
}

impl<'m, T: Float, M: Module<T>, F> ModuleProblem<'m, T, M, F>
where
    F: for<'t> Fn(&M, &'t Tape<T>) -> Result<Var<'t, T>>,
{
    /// Wraps `module`; `loss` records the forward pass and the scalar loss on the tape it is given.
    pub fn new(module: &'m mut M, loss: F) -> Self {
        let dim = module.num_params();
        ModuleProblem { module, loss, dim, _t: std::marker::PhantomData }
    }

    /// The current parameters as one vector (the starting point of a run).
    pub fn initial(&self) -> Vec<f64> {
        let ps: Vec<_> = self.module.params().into_iter().map(|(_, p)| p).collect();
        flatten(&ps)
    }

    /// Writes `x` into the module's parameters, in place.
    ///
    /// # Errors
    /// When `x.len()` is not the number of parameters.
    pub fn write(&mut self, x: &[f64]) -> Result<()> {
        let mut ps: Vec<_> = self.module.params_mut().into_iter().map(|(_, p)| p).collect();
        unflatten_into(x, &mut ps)
    }

    /// Loss and the module's parameter nodes on `tape`, after writing `x`.
    fn record<'t>(&mut self, tape: &'t Tape<T>, x: &[f64]) -> Result<(Var<'t, T>, Vec<Var<'t, T>>)> {
        self.write(x)?;
        let y = (self.loss)(self.module, tape)?;
        let mut vars = Vec::new();
        for (name, p) in self.module.params() {
            let before = tape.len();
            vars.push(tape.param(p));
            if tape.len() != before {
                return Err(Error::Optimizer {
                    optimizer: "module problem",
                    msg: format!("parameter {name} {} is not used by the loss (cut graph)", p.value().shape()),
                });
            }
        }
        Ok((y, vars))
    }
}

impl<T: Float, M: Module<T>, F> Problem for ModuleProblem<'_, T, M, F>
where
    F: for<'t> Fn(&M, &'t Tape<T>) -> Result<Var<'t, T>>,
{
    fn dim(&self) -> usize {
        self.dim
    }

    fn loss(&mut self, x: &[f64]) -> Result<f64> {
        self.write(x)?;
        let tape = Tape::new();
        let y = tape.no_grad(|| (self.loss)(self.module, &tape))?;
        Ok(y.item()?.f64())
    }

    fn loss_grad(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>)> {
        let tape = Tape::new();
        let (y, vars) = self.record(&tape, x)?;
        let g = tape.grad(y, &vars)?;
        Ok((y.item()?.f64(), concat(&g)))
    }

    fn hvp(&mut self, x: &[f64], v: &[f64]) -> Result<Vec<f64>> {
        check_len("module problem", v.len(), self.dim)?;
        let tape = Tape::new();
        let (y, vars) = self.record(&tape, x)?;
        let shapes: Vec<Shape> = vars.iter().map(Var::shape).collect();
        let vs = split::<T>(v, &shapes)?;
        Ok(concat(&tape.hvp(y, &vars, &vs)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flatten_and_unflatten_round_trip_in_parameter_order() {
        let a = Param::new(Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3]).unwrap());
        let b = Param::new(Tensor::<f32>::from_vec(vec![7.0], [1]).unwrap());
        let x = flatten(&[&a, &b]);
        assert_eq!(x, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
        let (mut a2, mut b2) = (a.clone(), b.clone());
        let y: Vec<f64> = x.iter().map(|v| -v).collect();
        unflatten_into(&y, &mut [&mut a2, &mut b2]).unwrap();
        assert_eq!(a2.value().to_vec(), vec![-1.0, -2.0, -3.0, -4.0, -5.0, -6.0]);
        assert_eq!(b2.value().to_vec(), vec![-7.0]);
        assert_eq!(a2.value().dims(), &[2, 3]);
        let err = unflatten_into(&y[..6], &mut [&mut a2, &mut b2]).unwrap_err().to_string();
        assert!(err.contains("length 6") && err.contains("7 parameters"), "{err}");
    }

    #[test]
    fn the_engine_hessian_equals_hvps_column_by_column() {
        let mut p = FnProblem::<f64, _>::new(vec![[3].into()], |_, v| Ok((v[0].square() * v[0]).sum()));
        let x = [1.0, -2.0, 0.5];
        let direct = p.hessian(&x).unwrap();
        let mut by_hvp = vec![0.0; 9];
        for j in 0..3 {
            let mut e = [0.0; 3];
            e[j] = 1.0;
            let col = p.hvp(&x, &e).unwrap();
            (0..3).for_each(|i| by_hvp[i * 3 + j] = col[i]);
        }
        assert_eq!(direct, by_hvp);
        assert_eq!(direct, vec![6.0, 0.0, 0.0, 0.0, -12.0, 0.0, 0.0, 0.0, 3.0]);
    }

    #[test]
    fn the_default_hessian_is_built_from_hvps() {
        // 0.5 sum (x^2)^2: H = diag(6 x^2), through Problem::hessian's default (one HVP per column).
        let mut p = FnLeastSquares::<f64, _>::new(vec![[3].into()], |_, v| Ok(v[0].square()));
        assert_eq!(p.hessian(&[1.0, -2.0, 0.5]).unwrap(), vec![6.0, 0.0, 0.0, 0.0, 24.0, 0.0, 0.0, 0.0, 1.5]);
    }
}
