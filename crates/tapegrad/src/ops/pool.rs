//! Pooling (the lecture's subsampling) on `[N, C, H, W]` tensors, and the flat gather / scatter-add pair max
//! pooling routes its gradient through.
//!
//! - `gather(index, shape)`: `y.flat[i] = x.flat[index[i]]` (NumPy's `take` on the flattened tensor).
//!   Linear; its derivative is `scatter_add(g, index, shape(x))`.
//! - `scatter_add(index, shape)`: zeros of `shape`, then `y.flat[index[i]] += x.flat[i]`. Its derivative is
//!   `gather(g, index, shape(x))`. Each is the other's adjoint, so any order works.
//! - `max_pool2d = gather(x, argmax of each window)`: the indices are data (zero derivative), so the
//!   gradient flows to the one winning element per window. Padding is minus infinity (never wins), the
//!   first maximum wins a tie, and a NaN in the window is the maximum, as in PyTorch.
//! - `avg_pool2d = mean over the kernel axis of unfold(x)`: composite, the padding counts as zeros in the
//!   mean (PyTorch's default `count_include_pad=True`): every window divides by `kh kw`.

use crate::error::{Error, Result};
use crate::float::Float;
use crate::kernels::conv::{self as k, Padding, Window2d};
use crate::shape::Shape;
use crate::tape::{Op, OpGrads, Var};
use crate::tensor::Tensor;
use crate::val::{BackwardCx, Val};
use smallvec::smallvec;
use std::sync::Arc;

fn check_index(op: &'static str, index: &Index, bound: usize) -> Result<()> {
    if let Index::Made(_) = index {
        return Ok(()); // in range by construction
    }
    match index.iter().find(|&&i| i >= bound) {
        Some(&i) => Err(Error::IndexOutOfRange { op, index: i, bound }),
        None => Ok(()),
    }
}

/// The flat indices of a gather or scatter-add: a caller's (`Shared`, checked against the tensor at every
/// use), or made by max pooling (`Made`: the argmax of each window, in range of the pooled input by
/// construction; their buffer goes back to the thread's pool when the last op holding them is dropped, so a
/// training step does not fault in fresh index pages every time).
#[derive(Clone)]
pub(crate) enum Index {
    Shared(Arc<[usize]>),
    Made(Arc<MadeIndex>),
}

/// An index buffer made by the engine, returned to [`crate::tensor_pool`] when dropped.
pub(crate) struct MadeIndex(Vec<usize>);

impl Drop for MadeIndex {
    fn drop(&mut self) {
        crate::tensor_pool::give(std::mem::take(&mut self.0));
    }
}

impl std::ops::Deref for Index {
    type Target = [usize];
    fn deref(&self) -> &[usize] {
        match self {
            Index::Shared(a) => a,
            Index::Made(m) => &m.0,
        }
    }
}

// ---- gather: y.flat[i] = x.flat[index[i]];  dx = scatter_add(g, index, shape(x)) ----

pub(crate) fn gather_t<T: Float>(x: &Tensor<T>, index: &Index, shape: &Shape) -> Result<Tensor<T>> {
    if shape.numel() != index.len() {
        return Err(Error::LengthMismatch {
            op: "gather",
            len: index.len(),
            expected: shape.numel(),
            shape: shape.clone(),
        });
    }
    check_index("gather", index, x.numel())?;
    let xd = x.data();
    Ok(Tensor::from_iter_exact(shape.clone(), index.iter().map(|&i| xd[i])))
}

struct GatherOp(Index);
impl<T: Float> Op<T> for GatherOp {
    fn name(&self) -> &'static str {
        "gather"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        Ok(smallvec![Some(cx.scatter_add_index(g, &self.0, &cx.input_shape(0))?)])
    }
}

// ---- scatter_add: zeros(shape), y.flat[index[i]] += x.flat[i];  dx = gather(g, index, shape(x)) ----

pub(crate) fn scatter_add_t<T: Float>(x: &Tensor<T>, index: &Index, shape: &Shape) -> Result<Tensor<T>> {
    if x.numel() != index.len() {
        return Err(Error::LengthMismatch {
            op: "scatter_add",
            len: index.len(),
            expected: x.numel(),
            shape: x.shape().clone(),
        });
    }
    check_index("scatter_add", index, shape.numel())?;
    let mut out =
        crate::tensor::try_filled("scatter_add", crate::tensor::checked_numel::<T>("scatter_add", shape)?, T::zero())?;
    for (&i, &v) in index.iter().zip(x.data()) {
        out[i] += v;
    }
    Ok(Tensor::from_parts(out, shape.clone()))
}

struct ScatterAddOp(Index);
impl<T: Float> Op<T> for ScatterAddOp {
    fn name(&self) -> &'static str {
        "scatter_add"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        Ok(smallvec![Some(cx.gather_index(g, &self.0, &cx.input_shape(0))?)])
    }
}

/// The window of a pooling op, with its checks: padding must leave an input element in every window.
fn pool_window(
    op: &'static str,
    x: &Shape,
    kernel: (usize, usize),
    stride: (usize, usize),
    padding: Padding,
) -> Result<(Window2d, k::WindowDims)> {
    let win = Window2d::new(kernel, stride, padding);
    let d = win.check(op, x)?;
    if win.top >= win.kh || win.bottom >= win.kh || win.left >= win.kw || win.right >= win.kw {
        return Err(Error::InvalidArgument {
            op,
            msg: format!(
                "padding (top {}, bottom {}, left {}, right {}) must be smaller than the kernel {}x{} on each side, so every window holds an input element",
                win.top, win.bottom, win.left, win.right, win.kh, win.kw
            ),
        });
    }
    Ok((win, d))
}

impl<'t, T: Float> Var<'t, T> {
    /// Elements at flat positions `index`, laid out as `shape` (`shape` has `index.len()` elements): NumPy's
    /// `take` on the flattened tensor. Its derivative is [`Var::scatter_add`].
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when `shape` does not have one element per index;
    /// [`Error::IndexOutOfRange`] for an index past the last element.
    pub fn gather(self, index: impl Into<Arc<[usize]>>, shape: impl Into<Shape>) -> Result<Self> {
        self.gather_index(Index::Shared(index.into()), shape.into())
    }

    /// [`Var::gather`] with the engine's index type.
    pub(crate) fn gather_index(self, index: Index, shape: Shape) -> Result<Self> {
        let v = gather_t(&self.value(), &index, &shape)?;
        self.tape.record(GatherOp(index), &[self], v)
    }

    /// Zeros of `shape`, then element `i` of this variable (flat) added at flat position `index[i]`
    /// (repeats add up). The adjoint of [`Var::gather`], and its derivative.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] when this variable does not have one element per index;
    /// [`Error::IndexOutOfRange`] for an index outside `shape`.
    pub fn scatter_add(self, index: impl Into<Arc<[usize]>>, shape: impl Into<Shape>) -> Result<Self> {
        self.scatter_add_index(Index::Shared(index.into()), shape.into())
    }

    /// [`Var::scatter_add`] with the engine's index type.
    pub(crate) fn scatter_add_index(self, index: Index, shape: Shape) -> Result<Self> {
        let v = scatter_add_t(&self.value(), &index, &shape)?;
        self.tape.record(ScatterAddOp(index), &[self], v)
    }

    /// Max pooling (max-subsampling) over `kernel = (kh, kw)` windows moved by `stride`: `[N, C, H, W]` to
    /// `[N, C, oh, ow]`. Padding is minus infinity; the gradient goes to the first maximum of each window;
    /// a NaN in a window is its maximum (as in PyTorch).
    ///
    /// ```
    /// use tapegrad::{Padding, Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::from_vec((0..16).map(f64::from).collect(), [1, 1, 4, 4]).unwrap());
    /// let y = x.max_pool2d((2, 2), (2, 2), Padding::Valid).unwrap();
    /// assert_eq!(y.value().to_vec(), vec![5.0, 7.0, 13.0, 15.0]);
    /// ```
    ///
    /// # Errors
    /// As [`Var::unfold`], naming `max_pool2d`, and [`Error::InvalidArgument`] when a side's padding is not
    /// smaller than the kernel (a window could then hold only padding).
    pub fn max_pool2d(self, kernel: (usize, usize), stride: (usize, usize), padding: Padding) -> Result<Self> {
        let s = self.shape();
        let (win, d) = pool_window("max_pool2d", &s, kernel, stride, padding)?;
        // The gather, its values taken in the argmax's pass (the indices are in range by construction).
        let (index, vals) = k::window_max_and_argmax(self.value().data(), &d, &win)?;
        let v = Tensor::from_parts(vals, Shape::new(&[d.n, d.c, d.oh, d.ow]));
        self.tape.record(GatherOp(Index::Made(Arc::new(MadeIndex(index)))), &[self], v)
    }

    /// Average pooling over `kernel = (kh, kw)` windows moved by `stride`: `[N, C, H, W]` to
    /// `[N, C, oh, ow]`. Padding counts as zeros and every window divides by `kh kw` (PyTorch's default
    /// `count_include_pad=True`). Composite: the mean over the kernel axis of [`Var::unfold`].
    ///
    /// # Errors
    /// As [`Var::max_pool2d`], naming `avg_pool2d`.
    pub fn avg_pool2d(self, kernel: (usize, usize), stride: (usize, usize), padding: Padding) -> Result<Self> {
        let s = self.shape();
        let (win, d) = pool_window("avg_pool2d", &s, kernel, stride, padding)?;
        let kk = win.kh * win.kw;
        self.unfold(win)?.reshape([d.n, d.c, kk, d.oh * d.ow])?.mean_axis(2, false)?.reshape([d.n, d.c, d.oh, d.ow])
    }
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
