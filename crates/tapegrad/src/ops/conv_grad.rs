//! The two derivatives of `conv2d`, each an op of its own, so that their derivatives can again be written
//! with convolutions and every order stays exact (PyTorch's `torch.nn.grad.conv2d_input` / `conv2d_weight`).
//!
//! With `x` `[N, C, H, W]`, `w` `[O, C, kh, kw]`, `g` `[N, O, oh, ow]` and one window (kernel, stride,
//! padding):
//! - `conv_input_grad(g, w) = fold(W^T g_n)` per image, `[N, C, H, W]`: the transposed convolution, the
//!   adjoint of `x -> conv2d(x, w)`. Bilinear; with `u` the gradient of its output:
//!   `dg = conv2d(u, w)`, `dw = conv_weight_grad(u, g)`.
//! - `conv_weight_grad(x, g) = sum_n g_n unfold(x_n)^T`, `[O, C, kh, kw]`: the adjoint of
//!   `w -> conv2d(x, w)`. Bilinear; with `v` the gradient of its output:
//!   `dx = conv_input_grad(g, v)`, `dg = conv2d(x, v)`.
//!
//! Both follow from `<u, conv_input_grad(g, w)> = <conv2d(u, w), g> = <conv_weight_grad(u, g), w>`.
//! Both are computed image by image through a reused scratch buffer ([`crate::kernels::conv::lowered`]).

use super::conv::{check_kernel, checked_numel};
use crate::error::{Error, Result};
use crate::float::Float;
use crate::kernels::conv::{Window2d, lowered};
use crate::shape::Shape;
use crate::tape::{Op, OpGrads, Var};
use crate::tensor::Tensor;
use crate::val::{BackwardCx, Val};
use smallvec::smallvec;

/// The four sizes of a 4-D shape, or a [`Error::BadShape`] naming `op` and what was expected.
fn dims4(op: &'static str, what: &str, s: &Shape) -> Result<[usize; 4]> {
    match *s.dims() {
        [a, b, c, d] => Ok([a, b, c, d]),
        _ => Err(Error::BadShape { op, msg: format!("expected a 4-D {what}"), shape: s.clone() }),
    }
}

/// Checks that the output gradient `g` is what a convolution of `x` (sizes from `win.check`) would give.
fn check_grad_output(op: &'static str, x: &Shape, win: &Window2d, g: &Shape) -> Result<[usize; 4]> {
    let d = win.check(op, x)?;
    let [n, o, oh, ow] = dims4(op, "output gradient [N, O, oh, ow]", g)?;
    if (n, oh, ow) != (d.n, d.oh, d.ow) {
        return Err(Error::ShapeMismatch {
            op,
            msg: format!(
                "the output gradient must be [{}, O, {}, {}] for this input and a {}x{} window at stride ({}, {})",
                d.n, d.oh, d.ow, win.kh, win.kw, win.sh, win.sw
            ),
            lhs: x.clone(),
            rhs: g.clone(),
        });
    }
    Ok([d.n, o, d.oh, d.ow])
}

// ---- conv_input_grad: dx_n = fold(W^T g_n);  dg = conv2d(u, w), dw = conv_weight_grad(u, g) ----

pub(crate) fn conv_input_grad_t<T: Float>(
    g: &Tensor<T>,
    w: &Tensor<T>,
    win: &Window2d,
    hw: (usize, usize),
) -> Result<Tensor<T>> {
    let op = "conv_input_grad";
    let [n, ..] = dims4(op, "output gradient [N, O, oh, ow]", g.shape())?;
    let [o, c, ..] = dims4(op, "weight [O, C, kh, kw]", w.shape())?;
    check_kernel(op, win, w.shape())?;
    let image = checked_numel(op, &[n, c, hw.0, hw.1], g.shape())?;
    let [_, go, ..] = check_grad_output(op, &image, win, g.shape())?;
    if go != o {
        return Err(Error::ShapeMismatch {
            op,
            msg: format!("output channels differ: the gradient has {go}, the weight [O, C, kh, kw] has {o}"),
            lhs: g.shape().clone(),
            rhs: w.shape().clone(),
        });
    }
    let d = win.check(op, &image)?;
    Ok(Tensor::from_parts(lowered::conv_input_grad(g.data(), w.data(), &d, win, o)?, image))
}

struct ConvInputGradOp {
    win: Window2d,
}
impl<T: Float> Op<T> for ConvInputGradOp {
    fn name(&self) -> &'static str {
        "conv_input_grad"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, u: Val<T>) -> Result<OpGrads<T>> {
        let win = &self.win;
        let dg = if cx.needs(0) { Some(cx.conv2d(u.clone(), cx.input(1), win)?) } else { None };
        let dw = if cx.needs(1) { Some(cx.conv_weight_grad(u, cx.input(0), win)?) } else { None };
        Ok(smallvec![dg, dw])
    }
}

// ---- conv_weight_grad: dW = sum_n g_n unfold(x_n)^T;  dx = conv_input_grad(g, v), dg = conv2d(x, v) ----

pub(crate) fn conv_weight_grad_t<T: Float>(x: &Tensor<T>, g: &Tensor<T>, win: &Window2d) -> Result<Tensor<T>> {
    let op = "conv_weight_grad";
    let [_, c, ..] = dims4(op, "input [N, C, H, W]", x.shape())?;
    let [_, o, ..] = check_grad_output(op, x.shape(), win, g.shape())?;
    let shape = checked_numel(op, &[o, c, win.kh, win.kw], x.shape())?;
    let d = win.check(op, x.shape())?;
    Ok(Tensor::from_parts(lowered::conv_weight_grad(x.data(), g.data(), &d, win, o)?, shape))
}

struct ConvWeightGradOp {
    win: Window2d,
}
impl<T: Float> Op<T> for ConvWeightGradOp {
    fn name(&self) -> &'static str {
        "conv_weight_grad"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, v: Val<T>) -> Result<OpGrads<T>> {
        let win = &self.win;
        let xs = cx.input_shape(0);
        let hw = (xs.dims()[2], xs.dims()[3]);
        let dx = if cx.needs(0) { Some(cx.conv_input_grad(cx.input(1), v.clone(), win, hw)?) } else { None };
        let dg = if cx.needs(1) { Some(cx.conv2d(cx.input(0), v, win)?) } else { None };
        Ok(smallvec![dx, dg])
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// The input gradient of a convolution (a transposed convolution): `self` is the gradient `g`
    /// `[N, O, oh, ow]` of `conv2d(x, weight)` under `win`, and the result is the gradient of `x`,
    /// `[N, C, H, W]` with `(H, W) = input_hw` (needed because a stride can map several input sizes to the
    /// same output size). This is what `conv2d`'s backward records; its own derivatives are `conv2d` and
    /// [`Var::conv_weight_grad`].
    ///
    /// ```
    /// use tapegrad::{Padding, Tape, Tensor, Window2d};
    /// let tape = Tape::<f64>::new();
    /// // A 1x1 output gradient spreads the 2x2 kernel over the window it came from.
    /// let g = tape.input(Tensor::from_vec(vec![1.0], [1, 1, 1, 1]).unwrap());
    /// let w = tape.input(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], [1, 1, 2, 2]).unwrap());
    /// let win = Window2d::new((2, 2), (1, 1), Padding::Valid);
    /// let dx = g.conv_input_grad(w, win, (2, 2)).unwrap();
    /// assert_eq!(dx.value().to_vec(), vec![1.0, 2.0, 3.0, 4.0]);
    /// ```
    ///
    /// # Errors
    /// [`Error::BadShape`] naming `conv_input_grad` for a gradient or weight that is not 4-D, a weight whose
    /// kernel is not the window's, an input size that overflows or does not fit the kernel;
    /// [`Error::ShapeMismatch`] when the gradient's size is not the convolution's output size or its channels
    /// are not the weight's `O`; [`Error::InvalidArgument`] for a zero stride; [`Error::ForeignVar`].
    pub fn conv_input_grad(self, weight: Var<'t, T>, win: Window2d, input_hw: (usize, usize)) -> Result<Self> {
        self.tape.owns("conv_input_grad", weight)?;
        let v = conv_input_grad_t(&self.value(), &weight.value(), &win, input_hw)?;
        self.tape.record(ConvInputGradOp { win }, &[self, weight], v)
    }

    /// The weight gradient of a convolution: `self` is the input `x` `[N, C, H, W]` of `conv2d(x, w)` under
    /// `win`, `grad_output` its output gradient `g` `[N, O, oh, ow]`, and the result is the gradient of `w`,
    /// `[O, C, kh, kw]` (`sum_n g_n unfold(x_n)^T`). This is what `conv2d`'s backward records; its own
    /// derivatives are [`Var::conv_input_grad`] and `conv2d`.
    ///
    /// # Errors
    /// [`Error::BadShape`] naming `conv_weight_grad` for an input or gradient that is not 4-D or a kernel
    /// that does not fit the padded input; [`Error::ShapeMismatch`] when the gradient's batch or size is not
    /// the convolution's output's; [`Error::InvalidArgument`] for a zero kernel or stride;
    /// [`Error::ForeignVar`].
    pub fn conv_weight_grad(self, grad_output: Var<'t, T>, win: Window2d) -> Result<Self> {
        self.tape.owns("conv_weight_grad", grad_output)?;
        let v = conv_weight_grad_t(&self.value(), &grad_output.value(), &win)?;
        self.tape.record(ConvWeightGradOp { win }, &[self, grad_output], v)
    }
}

#[cfg(test)]
#[path = "conv_grad_tests.rs"]
mod tests;
