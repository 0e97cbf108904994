//! Derivatives of derivatives: Hessian-vector products, Jacobians and Hessians, all from the tape.
//!
//! A gradient recorded with [`Tape::grad_graph`] is an ordinary part of the graph, so differentiating it
//! again needs nothing new: the HVP is the gradient of `<grad f, v>`.

use crate::error::{Error, Result};
use crate::float::Float;
use crate::shape::Shape;
use crate::tape::{Tape, Var};
use crate::tensor::{Tensor, checked_numel, try_buffer};
use crate::val::Val;

impl<T: Float> Tape<T> {
    /// First-order gradients of `loss` with respect to any nodes of this tape (leaves or intermediate);
    /// zeros where `loss` does not depend on one.
    ///
    /// # Errors
    /// [`Error::NonScalarLoss`] unless `loss` has one element; [`Error::ForeignVar`] when `loss` or any of
    /// `wrt` belongs to another tape.
    pub fn grad<'t>(&'t self, loss: Var<'t, T>, wrt: &[Var<'t, T>]) -> Result<Vec<Tensor<T>>> {
        self.owns("grad", loss)?;
        for &w in wrt {
            self.owns("grad", w)?;
        }
        let kept = self.with_retained("grad", wrt, || self.run_backward(loss.id, false))??;
        Ok(kept_or_zeros(&kept, wrt))
    }

    /// The Hessian-vector product `H v` of a scalar `loss` with respect to `wrt`, with `v` given per
    /// variable. Exact: the gradient graph is recorded, then walked back once with `v` as the incoming gradient
    /// of each gradient (the gradient of `<grad, v>`, without recording the dot product).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `v` and `wrt` differ in count, [`Error::ShapeMismatch`] when a direction's
    /// shape differs from its variable's; as [`Tape::grad`].
    pub fn hvp<'t>(&'t self, loss: Var<'t, T>, wrt: &[Var<'t, T>], v: &[Tensor<T>]) -> Result<Vec<Tensor<T>>> {
        if v.len() != wrt.len() {
            return Err(Error::InvalidArgument {
                op: "hvp",
                msg: format!("{} directions for {} variables", v.len(), wrt.len()),
            });
        }
        let gs = self.grad_graph(loss, wrt)?;
        let mut seeds = Vec::with_capacity(gs.len());
        for (g, d) in gs.iter().zip(v) {
            if g.shape() != *d.shape() {
                return Err(Error::ShapeMismatch {
                    op: "hvp",
                    msg: "direction and variable shapes differ".into(),
                    lhs: g.shape(),
                    rhs: d.shape().clone(),
                });
            }
            seeds.push((g.id, d.clone()));
        }
        // The gradient of `<grad, v>` is the reverse walk through the gradient graph seeded with `v` at each
        // gradient: the same numbers as recording the dot product and walking back from it, without its
        // 3 nodes per variable (and their derivatives) on the tape.
        let kept = self.with_retained("hvp", wrt, || self.run_backward_seeded(seeds))??;
        Ok(kept_or_zeros(&kept, wrt))
    }
}

/// A function of several variables recorded on a tape, returning one variable: what [`grad`],
/// [`value_and_grad`], [`jacobian`], [`hessian`], [`hvp`], [`crate::check_gradients`] and the nn crate's
/// full-batch problems take. Any closure or `fn` of the shape `(tape, vars) -> Result<var>` is one.
///
/// A closure written inline where one of those functions is called works as it is. A closure stored in a
/// `let` first must go through [`tape_fn`], which tells the compiler that it works for every tape lifetime
/// (Rust does not infer that for a closure that is not passed straight to such a function); it can then be
/// passed by reference as often as needed:
///
/// ```
/// use tapegrad::{grad, hessian, hvp, tape_fn, Tensor};
/// // f(x, y) = x^2 y + sin(xy)
/// let f = tape_fn(|_, v| Ok(v[0].square() * v[1] + (v[0] * v[1]).sin()));
/// let at = [Tensor::scalar(1.0_f64), Tensor::scalar(2.0)];
/// let g = grad(&f, &at).unwrap();
/// // df/dx = 2xy + y cos(xy), df/dy = x^2 + x cos(xy)
/// assert!((g[0].item().unwrap() - (4.0 + 2.0 * 2f64.cos())).abs() < 1e-12);
/// assert!((g[1].item().unwrap() - (1.0 + 2f64.cos())).abs() < 1e-12);
/// let h = hessian(&f, &at).unwrap();
/// assert_eq!(h.get(&[0, 1]).unwrap(), h.get(&[1, 0]).unwrap()); // exactly symmetric
/// let (_, hv) = hvp(&f, &at, &[Tensor::scalar(1.0), Tensor::scalar(0.0)]).unwrap();
/// assert!((hv[1].item().unwrap() - h.get(&[1, 0]).unwrap()).abs() < 1e-12);
/// ```
pub trait TapeFn<T: Float>: for<'t> Fn(&'t Tape<T>, &[Var<'t, T>]) -> Result<Var<'t, T>> {}
impl<T: Float, F> TapeFn<T> for F where F: for<'t> Fn(&'t Tape<T>, &[Var<'t, T>]) -> Result<Var<'t, T>> {}

/// Returns `f` unchanged, typed as a [`TapeFn`]: lets a closure be stored in a `let` and passed to
/// [`grad`], [`hessian`], [`hvp`], ... afterwards (see [`TapeFn`]).
pub fn tape_fn<T: Float, F>(f: F) -> F
where
    F: for<'t> Fn(&'t Tape<T>, &[Var<'t, T>]) -> Result<Var<'t, T>>,
{
    f
}

/// The leaves for `xs` on `tape` and `f` of them.
fn eval<'t, T: Float>(
    f: &impl TapeFn<T>,
    tape: &'t Tape<T>,
    xs: &[Tensor<T>],
) -> Result<(Var<'t, T>, Vec<Var<'t, T>>)> {
    let leaves: Vec<_> = xs.iter().map(|x| tape.leaf(x.clone())).collect();
    let y = f(tape, &leaves)?;
    Ok((y, leaves))
}

/// The gradient of a scalar `f` at `xs`, one tensor per input (zeros where `f` does not depend on one).
///
/// # Errors
/// [`Error::NonScalarLoss`] unless `f` returns one element; any error of `f`.
pub fn grad<T: Float>(f: impl TapeFn<T>, xs: &[Tensor<T>]) -> Result<Vec<Tensor<T>>> {
    Ok(value_and_grad(f, xs)?.1)
}

/// The value of a scalar `f` at `xs` and its gradient (JAX's `value_and_grad`).
///
/// # Errors
/// As [`grad`].
pub fn value_and_grad<T: Float>(f: impl TapeFn<T>, xs: &[Tensor<T>]) -> Result<(T, Vec<Tensor<T>>)> {
    let tape = Tape::new();
    let (y, leaves) = eval(&f, &tape, xs)?;
    let g = tape.grad(y, &leaves)?;
    Ok((y.item()?, g))
}

/// The number of elements of all `xs` together.
fn flat_len<T: Float>(op: &'static str, xs: &[Tensor<T>]) -> Result<usize> {
    xs.iter().try_fold(0usize, |a, x| a.checked_add(x.numel())).ok_or_else(|| Error::TooLarge {
        op,
        msg: "the inputs have more elements together than usize::MAX".into(),
        shape: Shape::scalar(),
    })
}

/// An empty buffer for the `[rows, cols]` result of `op`, its size checked and allocated fallibly.
fn result_buffer<T: Float>(op: &'static str, rows: usize, cols: usize) -> Result<Vec<T>> {
    let shape = Shape::new(&[rows, cols]);
    try_buffer(op, checked_numel::<T>(op, &shape)?)
}

fn concat_flat<T: Float>(gs: &[Tensor<T>]) -> Vec<T> {
    gs.iter().flat_map(|g| g.data().iter().copied()).collect()
}

/// The Jacobian of `f` at `xs`: rows are the output's elements (row-major), columns the inputs' elements
/// flattened and concatenated in order. One backward pass per output element: for small problems
/// (Levenberg-Marquardt's residuals, Newton's method).
///
/// # Errors
/// Any error of `f` or of the backward passes; [`Error::TooLarge`] or [`Error::Allocation`] when the
/// Jacobian does not fit in memory.
pub fn jacobian<T: Float>(f: impl TapeFn<T>, xs: &[Tensor<T>]) -> Result<Tensor<T>> {
    let tape = Tape::new();
    let (y, leaves) = eval(&f, &tape, xs)?;
    let m = y.shape().numel();
    let n = flat_len("jacobian", xs)?;
    let flat = y.reshape([m])?;
    let mut out = result_buffer("jacobian", m, n)?;
    for i in 0..m {
        let yi = flat.narrow(0, i, 1)?.sum();
        out.extend(concat_flat(&tape.grad(yi, &leaves)?));
    }
    Tensor::from_vec(out, [m, n])
}

/// The Hessian of a scalar `f` at `xs`, inputs flattened and concatenated: one backward pass through the
/// recorded gradient graph per input element. Exactly symmetric: the two computed halves are averaged (they
/// differ only by rounding, as the order of the sums differs).
///
/// # Errors
/// [`Error::NonScalarLoss`] unless `f` returns one element; any error of `f`; [`Error::TooLarge`] or
/// [`Error::Allocation`] when the Hessian does not fit in memory.
pub fn hessian<T: Float>(f: impl TapeFn<T>, xs: &[Tensor<T>]) -> Result<Tensor<T>> {
    let n = flat_len("hessian", xs)?;
    let mut out = result_buffer("hessian", n, n)?;
    let tape = Tape::new();
    let (y, leaves) = eval(&f, &tape, xs)?;
    let gs = tape.grad_graph(y, &leaves)?;
    for g in &gs {
        let len = g.shape().numel();
        let flat = g.reshape([len])?;
        for j in 0..len {
            let gj = flat.narrow(0, j, 1)?.sum();
            out.extend(concat_flat(&tape.grad(gj, &leaves)?));
        }
    }
    let two = T::of(2.0);
    for i in 0..n {
        for j in 0..i {
            let m = (out[i * n + j] + out[j * n + i]) / two;
            out[i * n + j] = m;
            out[j * n + i] = m;
        }
    }
    Tensor::from_vec(out, [n, n])
}

/// The value of a scalar `f` at `xs` and its Hessian-vector product along `v` (one tensor per input), on a
/// fresh tape. [`Tape::hvp`] does the same for variables already on a tape; [`value_and_grad`] gives the
/// gradient.
///
/// # Errors
/// As [`Tape::hvp`].
pub fn hvp<T: Float>(f: impl TapeFn<T>, xs: &[Tensor<T>], v: &[Tensor<T>]) -> Result<(T, Vec<Tensor<T>>)> {
    let tape = Tape::new();
    let (y, leaves) = eval(&f, &tape, xs)?;
    let hv = tape.hvp(y, &leaves, v)?;
    Ok((y.item()?, hv))
}

/// The gradient each of `wrt` kept from a walk, or zeros of its shape where none flowed (JAX's convention,
/// shared by [`Tape::grad`] and [`Tape::hvp`]).
fn kept_or_zeros<T: Float>(kept: &[Option<Val<T>>], wrt: &[Var<'_, T>]) -> Vec<Tensor<T>> {
    wrt.iter()
        .map(|w| match kept.get(w.id) {
            Some(Some(Val::Tensor(t))) => t.clone(),
            _ => w.value().zeros_like(),
        })
        .collect()
}
