//! Convolution lowered to matrix products one image at a time: the three products of a convolution and its
//! two derivatives, each through a per-thread scratch buffer holding the patches of ONE image
//! (`[C kh kw, oh ow]`), so nothing of the size of a whole batch's patches (`N C kh kw oh ow`) is ever
//! allocated.
//!
//! With `x` `[N, C, H, W]`, `w` `[O, C, kh, kw]` read as the matrix `W` `[O, C kh kw]`, `g` `[N, O, oh, ow]`
//! and `U_n = unfold(x_n)` `[C kh kw, oh ow]`:
//! - [`conv2d`]: `y_n = W U_n (+ b)`, one GEMM per image written straight into `y`.
//! - [`conv_input_grad`] (a transposed convolution): `dx_n = fold(W^T g_n)`, the product into the scratch
//!   buffer, then col2im added into `dx`.
//! - [`conv_weight_grad`]: `dW = sum_n g_n U_n^T`, the images' products accumulated in place (`beta = 1`).
//!
//! The scratch buffer is taken out of a thread-local pool for the call and put back after (a nested call
//! takes another), and only grows: the largest single-image patch matrix seen on the thread stays allocated.

use super::{Window2d, WindowDims, fold_into, unfold_into};
use crate::error::Result;
use crate::float::Float;
use crate::kernels::gemm::MatRef;
use crate::shape::Shape;
use crate::tensor::{checked_numel, try_filled};
use std::any::Any;
use std::cell::RefCell;

thread_local! {
    /// Scratch vectors of any element type, kept between calls on this thread.
    static SCRATCH: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on a scratch slice of `len` elements taken from this thread's pool (contents unspecified:
/// whatever a previous call left there).
fn with_scratch<T: Float, R>(len: usize, f: impl FnOnce(&mut [T]) -> R) -> R {
    let taken = SCRATCH.with(|pool| {
        let mut pool = pool.borrow_mut();
        let i = pool.iter().position(|b| b.is::<Vec<T>>())?;
        pool.swap_remove(i).downcast::<Vec<T>>().ok()
    });
    let mut buf = taken.map_or_else(Vec::new, |b| *b);
    if buf.len() < len {
        buf.resize(len, T::zero());
    }
    let r = f(&mut buf[..len]);
    SCRATCH.with(|pool| pool.borrow_mut().push(Box::new(buf)));
    r
}

/// The sizes of one image: its window dims with `n = 1`.
/// A zeroed buffer for a result of these dimensions, its size checked and its allocation fallible.
fn zeroed<T: Float>(op: &'static str, dims: &[usize]) -> Result<Vec<T>> {
    try_filled(op, checked_numel::<T>(op, &Shape::new(dims))?, T::zero())
}

fn one(d: &WindowDims) -> WindowDims {
    WindowDims { n: 1, ..*d }
}

/// `y = conv2d(x, w) + b`: `x` `[n, c, h, w]` (sizes in `d`), `w` `[o, c kh kw]`, optional `b` `[o]`;
/// returns `y` `[n, o, oh, ow]`.
///
/// # Errors
/// [`crate::Error::TooLarge`] or [`crate::Error::Allocation`] naming `conv2d` when `y` cannot be allocated.
pub fn conv2d<T: Float>(x: &[T], w: &[T], b: Option<&[T]>, d: &WindowDims, win: &Window2d, o: usize) -> Result<Vec<T>> {
    let (ck, l, img) = (d.c * win.kh * win.kw, d.oh * d.ow, d.c * d.h * d.w);
    let mut y = zeroed("conv2d", &[d.n, o, l])?;
    if y.is_empty() {
        return Ok(y);
    }
    let beta = match b {
        Some(b) => {
            for (row, &bv) in y.chunks_mut(l).zip(b.iter().cycle()) {
                row.fill(bv);
            }
            T::one()
        }
        None => T::zero(),
    };
    with_scratch(ck * l, |cols: &mut [T]| {
        for i in 0..d.n {
            unfold_into(&x[i * img..(i + 1) * img], &one(d), win, cols);
            let (wv, uv) = (MatRef::row_major(o, ck, 0, false), MatRef::row_major(ck, l, 0, false));
            T::gemm(T::one(), w, wv, cols, uv, beta, &mut y, i * o * l);
        }
    });
    Ok(y)
}

/// The input gradient of a convolution (a transposed convolution): `g` `[n, o, oh, ow]`, `w`
/// `[o, c kh kw]`; returns `dx` `[n, c, h, w]` (sizes in `d`), `dx_n = fold(W^T g_n)`.
///
/// # Errors
/// As [`conv2d`], naming `conv_input_grad`.
pub fn conv_input_grad<T: Float>(g: &[T], w: &[T], d: &WindowDims, win: &Window2d, o: usize) -> Result<Vec<T>> {
    let (ck, l, img) = (d.c * win.kh * win.kw, d.oh * d.ow, d.c * d.h * d.w);
    let mut dx = zeroed("conv_input_grad", &[d.n, d.c, d.h, d.w])?;
    if dx.is_empty() || l == 0 {
        return Ok(dx);
    }
    with_scratch(ck * l, |cols: &mut [T]| {
        for i in 0..d.n {
            let (wv, gv) = (MatRef::row_major(o, ck, 0, true), MatRef::row_major(o, l, i * o * l, false));
            T::gemm(T::one(), w, wv, g, gv, T::zero(), cols, 0);
            fold_into(cols, &one(d), win, &mut dx[i * img..(i + 1) * img]);
        }
    });
    Ok(dx)
}

/// The weight gradient of a convolution: `x` `[n, c, h, w]` (sizes in `d`), `g` `[n, o, oh, ow]`; returns
/// `dw` `[o, c kh kw]`, `sum_n g_n unfold(x_n)^T`.
///
/// # Errors
/// As [`conv2d`], naming `conv_weight_grad`.
pub fn conv_weight_grad<T: Float>(x: &[T], g: &[T], d: &WindowDims, win: &Window2d, o: usize) -> Result<Vec<T>> {
    let (ck, l, img) = (d.c * win.kh * win.kw, d.oh * d.ow, d.c * d.h * d.w);
    let mut dw = zeroed("conv_weight_grad", &[o, d.c, win.kh, win.kw])?;
    if dw.is_empty() {
        return Ok(dw);
    }
    with_scratch(ck * l, |cols: &mut [T]| {
        for i in 0..d.n {
            unfold_into(&x[i * img..(i + 1) * img], &one(d), win, cols);
            let (gv, uv) = (MatRef::row_major(o, l, i * o * l, false), MatRef::row_major(ck, l, 0, true));
            let beta = if i == 0 { T::zero() } else { T::one() };
            T::gemm(T::one(), g, gv, cols, uv, beta, &mut dw, 0);
        }
    });
    Ok(dw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::conv::{Padding, fold, unfold};
    use crate::shape::Shape;

    fn values(len: usize, seed: usize) -> Vec<f64> {
        (0..len).map(|i| ((i * 37 + seed * 11) % 23) as f64 / 7.0 - 1.5).collect()
    }

    /// `op(a) op(b)` by the triple loop on row-major matrices.
    fn mm(a: &[f64], b: &[f64], (m, k, n): (usize, usize, usize), ta: bool, tb: bool) -> Vec<f64> {
        let at = |i: usize, j: usize| if ta { a[j * m + i] } else { a[i * k + j] };
        let bt = |i: usize, j: usize| if tb { b[j * k + i] } else { b[i * n + j] };
        (0..m * n).map(|ij| (0..k).map(|l| at(ij / n, l) * bt(l, ij % n)).sum()).collect()
    }

    #[test]
    fn per_image_products_match_the_whole_batch_formulation_and_reuse_dirty_scratch() {
        for (shape, o, kernel, stride, padding) in [
            ([3, 2, 5, 4], 3, (3, 2), (1, 1), Padding::Same),
            ([2, 3, 6, 6], 4, (3, 3), (2, 1), Padding::Full),
            ([1, 1, 4, 4], 2, (1, 1), (1, 1), Padding::Valid),
            ([2, 2, 5, 5], 1, (2, 2), (3, 3), Padding::symmetric(1, 0)),
        ] {
            let win = Window2d::new(kernel, stride, padding);
            let d = win.check("t", &Shape::new(&shape)).unwrap();
            let (ck, l) = (d.c * win.kh * win.kw, d.oh * d.ow);
            let x = values(d.n * d.c * d.h * d.w, 1);
            let w = values(o * ck, 2);
            let b = values(o, 3);
            let g = values(d.n * o * l, 4);
            // Leave NaN in this thread's scratch: every product must overwrite what it reads.
            with_scratch(4096, |s: &mut [f64]| s.fill(f64::NAN));
            let cols = unfold(&x, &d, &win).unwrap();
            let (y, dx, dw) = (
                conv2d(&x, &w, Some(&b), &d, &win, o).unwrap(),
                conv_input_grad(&g, &w, &d, &win, o).unwrap(),
                conv_weight_grad(&x, &g, &d, &win, o).unwrap(),
            );
            let (mut want_y, mut want_wg, mut want_dw) = (Vec::new(), Vec::new(), vec![0.0; o * ck]);
            for i in 0..d.n {
                let (u, gi) = (&cols[i * ck * l..(i + 1) * ck * l], &g[i * o * l..(i + 1) * o * l]);
                let yi = mm(&w, u, (o, ck, l), false, false);
                want_y.extend(yi.iter().enumerate().map(|(j, v)| v + b[j / l]));
                want_wg.extend(mm(&w, gi, (ck, o, l), true, false));
                for (a, v) in want_dw.iter_mut().zip(mm(gi, u, (o, l, ck), false, true)) {
                    *a += v;
                }
            }
            let want_dx = fold(&want_wg, &d, &win).unwrap();
            for (got, want) in [(&y, &want_y), (&dx, &want_dx), (&dw, &want_dw)] {
                assert_eq!(got.len(), want.len());
                let worst = got.iter().zip(want.iter()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
                assert!(worst < 1e-12, "{shape:?} {win:?}: {worst}");
            }
        }
    }

    #[test]
    fn scratch_is_reused_and_nested_calls_get_their_own() {
        let outer = with_scratch(8, |a: &mut [f32]| {
            a.fill(1.0);
            let inner = with_scratch(8, |b: &mut [f32]| {
                b.fill(2.0);
                b.as_ptr() as usize
            });
            assert!(a.iter().all(|&v| v == 1.0));
            (a.as_ptr() as usize, inner)
        });
        assert_ne!(outer.0, outer.1);
        // Both are back in the pool; a later call of either size gets one of them.
        let again = with_scratch(8, |a: &mut [f32]| a.as_ptr() as usize);
        assert!(again == outer.0 || again == outer.1);
    }
}
