//! Convolution on `[N, C, H, W]` tensors (PyTorch's layout), and the `unfold`/`fold` pair itself (im2col
//! and its adjoint as ops).
//!
//! - `unfold(x)`: `[N, C, H, W]` to patches `[N, C kh kw, L]`, `L = oh ow` (PyTorch's `nn.Unfold` layout):
//!   column `oy ow + ox` of image `n` holds the window under output position `(oy, ox)`. Linear; its
//!   derivative is `fold(g)`.
//! - `fold(p)`: the adjoint, patches summed back into `[N, C, H, W]` (PyTorch's `nn.Fold`). Its derivative
//!   is `unfold(g)`. So each is the other's derivative, to any order.
//! - `conv2d(x, w, b)`: `y_n = W unfold(x_n) + b` with `W = reshape(w, [O, C kh kw])`. It is one op whose
//!   derivatives are two other ops ([`Var::conv_input_grad`], [`Var::conv_weight_grad`] in `conv_grad.rs`):
//!   `dx = conv_input_grad(g, w)`, `dw = conv_weight_grad(x, g)`, `db = sum of g over n, y, x`. Their
//!   derivatives are again `conv2d` and each other, so every order stays exact.
//!
//! How the three are computed is the kernels' choice, invisible to the derivatives: im2col and one matrix
//! product per chunk of images, written straight into `[N, O, oh, ow]`
//! ([`crate::kernels::conv::lowered`]); or, for 3x3 kernels at stride 1 with at least 16 channels in and
//! out and outputs of at least 16 x 16, Winograd's F(2x2, 3x3) algorithm, 2.25x fewer multiplications,
//! results equal up to float rounding ([`crate::kernels::conv::winograd`]).
//!
//! The output size per axis is `o = floor((i + p - k) / s) + 1`, `p` the total padding ([`Padding`],
//! [`crate::conv_output_size`]).

use crate::error::{Error, Result};
use crate::float::Float;
use crate::kernels::conv::{self as k, lowered};
pub use crate::kernels::conv::{Padding, Window2d};
use crate::shape::Shape;
use crate::tape::{Op, OpGrads, Var};
use crate::tensor::Tensor;
use crate::val::{BackwardCx, Val};
use smallvec::smallvec;

// ---- unfold: im2col, [N, C, H, W] -> [N, C kh kw, oh ow];  dx = fold(g) ----

pub(crate) fn unfold_t<T: Float>(x: &Tensor<T>, win: &Window2d) -> Result<Tensor<T>> {
    let d = win.check("unfold", x.shape())?;
    let out = k::unfold(x.data(), &d, win)?;
    Ok(Tensor::from_parts(out, Shape::new(&[d.n, d.c * win.kh * win.kw, d.oh * d.ow])))
}

struct UnfoldOp(Window2d);
impl<T: Float> Op<T> for UnfoldOp {
    fn name(&self) -> &'static str {
        "unfold"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        let s = cx.input_shape(0);
        Ok(smallvec![Some(cx.fold(g, &self.0, (s.dims()[2], s.dims()[3]))?)])
    }
}

// ---- fold: col2im, [N, C kh kw, oh ow] -> [N, C, H, W] summing overlaps;  dp = unfold(g) ----

pub(crate) fn fold_t<T: Float>(p: &Tensor<T>, win: &Window2d, hw: (usize, usize)) -> Result<Tensor<T>> {
    let op = "fold";
    let kk = win.kh.checked_mul(win.kw).filter(|&v| v > 0);
    let (&[n, ck, l], Some(kk)) = (p.dims(), kk) else {
        return Err(Error::BadShape {
            op,
            msg: format!("expected patches [N, C {}x{}, L] and a positive kernel", win.kh, win.kw),
            shape: p.shape().clone(),
        });
    };
    if ck % kk != 0 {
        return Err(Error::BadShape {
            op,
            msg: format!("axis 1 ({ck}) is not a multiple of the kernel's {}x{} = {kk}", win.kh, win.kw),
            shape: p.shape().clone(),
        });
    }
    let c = ck / kk;
    let image = [n, c, hw.0, hw.1];
    if image.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).is_none() {
        return Err(Error::BadShape { op, msg: format!("the output {image:?} overflows"), shape: p.shape().clone() });
    }
    let d = win.check(op, &Shape::new(&image))?;
    if d.oh * d.ow != l {
        return Err(Error::BadShape {
            op,
            msg: format!(
                "axis 2 must be oh ow = {} x {} = {} for an output of {} x {}",
                d.oh,
                d.ow,
                d.oh * d.ow,
                hw.0,
                hw.1
            ),
            shape: p.shape().clone(),
        });
    }
    Ok(Tensor::from_parts(k::fold(p.data(), &d, win)?, Shape::new(&image)))
}

struct FoldOp(Window2d);
impl<T: Float> Op<T> for FoldOp {
    fn name(&self) -> &'static str {
        "fold"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        Ok(smallvec![Some(cx.unfold(g, &self.0)?)])
    }
}

/// Checks a convolution weight against the input: `[O, C, kh, kw]` with the input's `C`, errors naming `op`.
pub(crate) fn conv_dims(op: &'static str, x: &Shape, w: &Shape) -> Result<(usize, usize, usize, usize)> {
    let &[o, c, kh, kw] = w.dims() else {
        return Err(Error::BadShape { op, msg: "expected a 4-D weight [O, C, kh, kw]".into(), shape: w.clone() });
    };
    let &[_, xc, _, _] = x.dims() else {
        return Err(Error::BadShape { op, msg: "expected a 4-D input [N, C, H, W]".into(), shape: x.clone() });
    };
    if xc != c {
        return Err(Error::ShapeMismatch {
            op,
            msg: format!("input channels differ: the input has {xc}, the weight [O, C, kh, kw] expects {c}"),
            lhs: x.clone(),
            rhs: w.clone(),
        });
    }
    Ok((o, c, kh, kw))
}

/// Checks that the window's kernel is the weight's (`[O, C, kh, kw]`), errors naming `op`.
pub(crate) fn check_kernel(op: &'static str, win: &Window2d, w: &Shape) -> Result<()> {
    match w.dims() {
        &[_, _, kh, kw] if (kh, kw) == (win.kh, win.kw) => Ok(()),
        _ => Err(Error::BadShape {
            op,
            msg: format!("expected a weight [O, C, {}, {}] for a {}x{} window", win.kh, win.kw, win.kh, win.kw),
            shape: w.clone(),
        }),
    }
}

/// The element count of `dims`, or a [`Error::BadShape`] naming `op` when it overflows.
pub(crate) fn checked_numel(op: &'static str, dims: &[usize], of: &Shape) -> Result<Shape> {
    match dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d)) {
        Some(_) => Ok(Shape::new(dims)),
        None => Err(Error::BadShape { op, msg: format!("the output {dims:?} overflows"), shape: of.clone() }),
    }
}

// ---- conv2d: y_n = W unfold(x_n) + b;  dx = conv_input_grad(g, w), dw = conv_weight_grad(x, g) ----

pub(crate) fn conv2d_t<T: Float>(
    x: &Tensor<T>,
    w: &Tensor<T>,
    b: Option<&Tensor<T>>,
    win: &Window2d,
) -> Result<Tensor<T>> {
    let op = "conv2d";
    let (o, ..) = conv_dims(op, x.shape(), w.shape())?;
    check_kernel(op, win, w.shape())?;
    let d = win.check(op, x.shape())?;
    if let Some(b) = b
        && b.dims() != [o]
    {
        return Err(Error::ShapeMismatch {
            op,
            msg: "the bias must be [O] for a weight [O, C, kh, kw]".into(),
            lhs: w.shape().clone(),
            rhs: b.shape().clone(),
        });
    }
    let shape = checked_numel(op, &[d.n, o, d.oh, d.ow], x.shape())?;
    let y = lowered::conv2d(x.data(), w.data(), b.map(|b| b.data()), &d, win, o)?;
    Ok(Tensor::from_parts(y, shape))
}

struct Conv2dOp(Window2d);
impl<T: Float> Op<T> for Conv2dOp {
    fn name(&self) -> &'static str {
        "conv2d"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        let win = &self.0;
        let xs = cx.input_shape(0);
        let hw = (xs.dims()[2], xs.dims()[3]);
        let dx = if cx.needs(0) { Some(cx.conv_input_grad(g.clone(), cx.input(1), win, hw)?) } else { None };
        let dw = if cx.needs(1) { Some(cx.conv_weight_grad(cx.input(0), g.clone(), win)?) } else { None };
        let mut out: OpGrads<T> = smallvec![dx, dw];
        if cx.num_inputs() == 3 {
            out.push(if cx.needs(2) {
                let o = cx.input_shape(2).dims()[0];
                let per_channel = cx.sum_to(g, &Shape::new(&[o, 1, 1]))?;
                Some(cx.reshape(per_channel, &Shape::new(&[o]))?)
            } else {
                None
            });
        }
        Ok(out)
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// im2col: `[N, C, H, W]` to the patches `[N, C kh kw, oh ow]` under `win` (PyTorch's `F.unfold`
    /// layout; padding reads as zeros). Its derivative is [`Var::fold`].
    ///
    /// # Errors
    /// [`Error::BadShape`] naming `unfold` for a non-4-D input, a kernel larger than the padded input or
    /// sizes that overflow; [`Error::InvalidArgument`] for a zero kernel or stride.
    pub fn unfold(self, win: Window2d) -> Result<Self> {
        let v = unfold_t(&self.value(), &win)?;
        self.tape.record(UnfoldOp(win), &[self], v)
    }

    /// col2im, the adjoint of [`Var::unfold`]: patches `[N, C kh kw, oh ow]` summed into an
    /// `[N, C, H, W]` image with `(H, W) = output` (contributions falling in the padding are dropped).
    ///
    /// # Errors
    /// [`Error::BadShape`] naming `fold` when the patches do not match the window and output size; as
    /// [`Var::unfold`] otherwise.
    pub fn fold(self, output: (usize, usize), win: Window2d) -> Result<Self> {
        let v = fold_t(&self.value(), &win, output)?;
        self.tape.record(FoldOp(win), &[self], v)
    }

    /// 2-D convolution (cross-correlation, as in PyTorch): input `[N, C, H, W]`, weight `[O, C, kh, kw]`,
    /// optional bias `[O]`, output `[N, O, oh, ow]` with `o = floor((i + p - k) / s) + 1` per axis.
    /// Computed as one GEMM per image over that image's unfolded patches, in a reused scratch buffer; the
    /// derivatives are [`Var::conv_input_grad`] and [`Var::conv_weight_grad`], ops whose own derivatives are
    /// `conv2d` and each other, so Hessian-vector products through it work.
    ///
    /// ```
    /// use tapegrad::{Padding, Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// // The simplest convolution: a 3x3 image, one 2x2 kernel, no padding, stride 1.
    /// let x = tape.input(Tensor::from_vec((1..=9).map(f64::from).collect(), [1, 1, 3, 3]).unwrap());
    /// let w = tape.leaf(Tensor::from_vec(vec![1.0, 0.0, 0.0, -1.0], [1, 1, 2, 2]).unwrap());
    /// let y = x.conv2d(w, None, (1, 1), Padding::Valid).unwrap();
    /// // Each output is x[i, j] - x[i + 1, j + 1] = -4.
    /// assert_eq!(y.value().to_vec(), vec![-4.0; 4]);
    /// assert_eq!(x.conv2d(w, None, (1, 1), Padding::Same).unwrap().value().dims(), &[1, 1, 3, 3]);
    /// ```
    ///
    /// # Errors
    /// [`Error::BadShape`] naming `conv2d` when the input or weight is not 4-D, the kernel is larger than
    /// the padded input or a size overflows; [`Error::ShapeMismatch`] for a channel count or bias that does
    /// not match the weight; [`Error::InvalidArgument`] for a zero stride; [`Error::ForeignVar`].
    pub fn conv2d(
        self,
        weight: Var<'t, T>,
        bias: Option<Var<'t, T>>,
        stride: (usize, usize),
        padding: Padding,
    ) -> Result<Self> {
        self.tape.owns("conv2d", weight)?;
        let (.., kh, kw) = conv_dims("conv2d", &self.shape(), &weight.shape())?;
        self.conv2d_win(weight, bias, Window2d::new((kh, kw), stride, padding))
    }

    /// [`Var::conv2d`] under a resolved window (whose kernel must be the weight's).
    pub(crate) fn conv2d_win(self, weight: Var<'t, T>, bias: Option<Var<'t, T>>, win: Window2d) -> Result<Self> {
        self.tape.owns("conv2d", weight)?;
        let v = match bias {
            Some(b) => {
                self.tape.owns("conv2d", b)?;
                conv2d_t(&self.value(), &weight.value(), Some(&b.value()), &win)?
            }
            None => conv2d_t(&self.value(), &weight.value(), None, &win)?,
        };
        match bias {
            Some(b) => self.tape.record(Conv2dOp(win), &[self, weight, b], v),
            None => self.tape.record(Conv2dOp(win), &[self, weight], v),
        }
    }
}

#[cfg(test)]
#[path = "conv_tests.rs"]
pub(crate) mod tests;
