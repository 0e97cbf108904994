//! Convolution on `[N, C, H, W]` tensors (PyTorch's layout), built from `unfold` (im2col) and one batched
//! matrix product, and the `unfold`/`fold` pair itself.
//!
//! - `unfold(x)`: `[N, C, H, W]` to patches `[N, C kh kw, L]`, `L = oh ow` (PyTorch's `nn.Unfold` layout):
//!   column `oy ow + ox` of image `n` holds the window under output position `(oy, ox)`. Linear; its
//!   derivative is `fold(g)`.
//! - `fold(p)`: the adjoint, patches summed back into `[N, C, H, W]` (PyTorch's `nn.Fold`). Its derivative
//!   is `unfold(g)`. So each is the other's derivative, to any order.
//! - `conv2d(x, w, b) = reshape(w, [O, C kh kw]) @ unfold(x) + b`, one GEMM per image over the patches
//!   (`[O, C kh kw] · [C kh kw, L]`), written straight into `[N, O, oh, ow]`. Its derivatives come from the
//!   ops it is made of: `dW = sum_n G_n unfold(x)_n^T`, `dx = fold(W^T G)`, `db = sum of G over n, y, x`.
//!
//! The output size per axis is `o = floor((i + p - k) / s) + 1`, `p` the total padding ([`Padding`],
//! [`crate::conv_output_size`]).

use crate::error::{Error, Result};
use crate::float::Float;
use crate::kernels::conv::{self as k, WindowDims};
pub use crate::kernels::conv::{Padding, Window2d};
use crate::shape::Shape;
use crate::tape::{Grads, Op, Var};
use crate::tensor::Tensor;
use crate::val::{BackwardCx, Val};
use smallvec::smallvec;

// ---- unfold: im2col, [N, C, H, W] -> [N, C kh kw, oh ow];  dx = fold(g) ----

pub(crate) fn unfold_t<T: Float>(x: &Tensor<T>, win: &Window2d) -> Result<Tensor<T>> {
    let d = win.check("unfold", x.shape())?;
    let out = k::unfold(x.data(), &d, win);
    Ok(Tensor::from_parts(out, Shape::new(&[d.n, d.c * win.kh * win.kw, d.oh * d.ow])))
}

struct UnfoldOp(Window2d);
impl<T: Float> Op<T> for UnfoldOp {
    fn name(&self) -> &'static str {
        "unfold"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<Grads<T>> {
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
    Ok(Tensor::from_parts(k::fold(p.data(), &d, win), Shape::new(&image)))
}

struct FoldOp(Window2d);
impl<T: Float> Op<T> for FoldOp {
    fn name(&self) -> &'static str {
        "fold"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<Grads<T>> {
        Ok(smallvec![Some(cx.unfold(g, &self.0)?)])
    }
}

/// Checks `conv2d`'s weight against the input: `[O, C, kh, kw]` with the input's `C`.
fn conv_dims(x: &Shape, w: &Shape) -> Result<(usize, usize, usize, usize)> {
    let op = "conv2d";
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
    /// Computed as one GEMM per image over the unfolded patches; the derivatives are those of `unfold`
    /// (`fold`) and of the product, so Hessian-vector products through it work.
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
        let (o, c, kh, kw) = conv_dims(&self.shape(), &weight.shape())?;
        let win = Window2d::new((kh, kw), stride, padding);
        let WindowDims { n, oh, ow, .. } = win.check("conv2d", &self.shape())?;
        if let Some(b) = bias {
            self.tape.owns("conv2d", b)?;
            if b.shape().dims() != [o] {
                return Err(Error::ShapeMismatch {
                    op: "conv2d",
                    msg: "the bias must be [O] for a weight [O, C, kh, kw]".into(),
                    lhs: weight.shape(),
                    rhs: b.shape(),
                });
            }
        }
        let ck = c * kh * kw;
        let cols = self.unfold(win)?;
        // The weight is shared by the images of the batch: broadcast it to [N, O, C kh kw] so the product
        // is one batched GEMM whose output is already [N, O, oh ow]; its derivative sums over the batch.
        let w = weight.reshape([o, ck])?.broadcast_to(&Shape::new(&[n, o, ck]))?;
        let y = w.matmul(cols)?.reshape([n, o, oh, ow])?;
        match bias {
            Some(b) => y.add(b.reshape([1, o, 1, 1])?),
            None => Ok(y),
        }
    }
}

#[cfg(test)]
#[path = "conv_tests.rs"]
mod tests;
