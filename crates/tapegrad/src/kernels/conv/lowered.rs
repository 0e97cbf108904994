//! Convolution lowered to matrix products over chunks of a batch: the three products of a convolution and
//! its two derivatives, each through per-thread scratch buffers holding the patches of ONE chunk of images
//! (`[C kh kw, nb oh ow]`, the chunk's images side by side), so nothing of the size of a whole batch's
//! patches (`N C kh kw oh ow`) is ever allocated.
//!
//! With `x` `[N, C, H, W]`, `w` `[O, C, kh, kw]` read as the matrix `W` `[O, C kh kw]`, `g` `[N, O, oh, ow]`,
//! a chunk's patches `U = [unfold(x_i) ...]` `[C kh kw, nb oh ow]` and its output gradients
//! `G = [g_i ...]` `[O, nb oh ow]`:
//! - [`conv2d`]: `Y = W U (+ b)`, one GEMM per chunk, its columns copied to the images of `y`.
//! - [`conv_input_grad`] (a transposed convolution): `W^T G` into the scratch, then col2im of each image's
//!   columns added into `dx`.
//! - [`conv_weight_grad`]: `dW^T = sum over chunks of U G^T`, accumulated in place (`beta = 1`) within a
//!   group of chunks, the groups' partial sums then added in group order and transposed into `dW`.
//!
//! How a batch is cut ([`Plan`]) depends only on the sizes, never on the thread count: chunks of `nb` images
//! (as many as fit [`CHUNK`] patch elements, so that tiny images such as 8 x 8 digits still make products
//! of a useful size, but at most a quarter of the batch), and the chunks in at most [`GROUPS`] contiguous
//! groups. With more than one thread allowed ([`crate::num_threads`]) and enough work, the groups run on
//! that many threads ([`crate::parallel::for_each`]), each product single-threaded ([`crate::kernels::gemm::GemmSerial`]); since the cut is
//! the same, the results are bit-identical to one thread's, the weight gradient included (its groups' sums
//! are added in a fixed order).
//!
//! The scratch buffers are taken out of a thread-local pool for the call and put back after (a nested call
//! takes another), and only grow: the largest chunk seen on the thread stays allocated.

use super::{Window2d, WindowDims, fold_image, unfold_image};
use crate::error::Result;
use crate::float::Float;
use crate::kernels::gemm::{Gemm, MatRef, num_threads};
use crate::shape::Shape;
use crate::tensor::{checked_numel, try_filled, try_overwritten};
use std::any::Any;
use std::cell::RefCell;
use std::ops::Range;

thread_local! {
    /// Scratch vectors of any element type, kept between calls on this thread.
    static SCRATCH: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on a scratch slice of `len` elements taken from this thread's pool (contents unspecified:
/// whatever a previous call left there). The Winograd kernels draw from the same pool.
pub(super) fn with_scratch<T: Float, R>(len: usize, f: impl FnOnce(&mut [T]) -> R) -> R {
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

/// A zeroed buffer for a result of these dimensions, its size checked and its allocation fallible.
pub(super) fn zeroed<T: Float>(op: &'static str, dims: &[usize]) -> Result<Vec<T>> {
    try_filled(op, checked_numel::<T>(op, &Shape::new(dims))?, T::zero())
}

/// A buffer for a result of these dimensions whose every element the caller writes ([`try_overwritten`]:
/// not zeroed first when recycled), its size checked and its allocation fallible.
pub(super) fn overwritten<T: Float>(op: &'static str, dims: &[usize]) -> Result<Vec<T>> {
    try_overwritten(op, checked_numel::<T>(op, &Shape::new(dims))?, T::zero())
}

/// Patch elements of one chunk at most (256 KiB of `f32`, so that the patches and the product stay in a
/// core's L2 cache between the unfold and the GEMM): one 32 x 32 image of 64 channels under a 3x3 kernel
/// already exceeds it (a chunk of one image), a batch of 8 x 8 digits under the same kernel with 16
/// channels makes chunks of 7 images, LeNet-5's 28 x 28 and 14 x 14 images chunks of 3 and 4 images.
/// Measured on c2 (task-clock of 10 runs, alternated, 3 rounds, load 7): 1 MiB chunks 257-296 ms, 256 KiB
/// 236-262 ms, 128 KiB 254-261 ms.
pub const CHUNK: usize = 1 << 16;

/// Groups of chunks at most: the units handed to threads, and the partial sums of the weight gradient.
pub const GROUPS: usize = 8;

/// Multiply-adds of a whole call below which it stays on the calling thread: handing out work costs a few
/// microseconds per task, and on two cores the pool's idle worker competes with the calling thread for the
/// rest of the step. c1's second convolution (2.4M multiply-adds) ran its epoch in 48 ms at 2 threads split
/// and 35-44 ms kept on one thread (paired runs, docs/performance.md); on a 2-core Intel Xeon its epoch at
/// 2 threads was again slower split (medians 17.0-21.2 against 15.8-16.9 ms). LeNet-5's convolutions (c2:
/// 7.5M and 15.4M multiply-adds forward) lost on two threads on a loaded AMD machine (c2 at 2 threads 7.4,
/// 6.8, 5.7 ms split against 6.1, 5.1, 5.0 ms) but gain on the Xeon: c2 at 2 threads, 6 alternated runs,
/// medians 2.30-3.32 ms split (2.3 whenever the second core was free) against 3.11-3.52 ms kept on one
/// thread. c3's (1.2G) stays split.
pub const PARALLEL_MIN: usize = 1 << 22;

/// How a batch of `n` images is cut into chunks (one product each) and groups of chunks (one task each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Images.
    pub n: usize,
    /// Images per chunk (the last chunk may hold fewer).
    pub nb: usize,
    /// Groups of chunks.
    pub groups: usize,
    /// Threads the groups run on (1: the calling thread, products free to use the pool themselves).
    pub threads: usize,
}

impl Plan {
    /// The cut for `n` images of `per_image` patch elements and `work` multiply-adds in all, run on at most
    /// [`num_threads`] threads.
    pub fn new(n: usize, per_image: usize, work: usize) -> Self {
        let nb = (CHUNK / per_image.max(1)).clamp(1, n.div_ceil(4).max(1));
        let groups = n.div_ceil(nb).min(GROUPS);
        let threads = if work >= PARALLEL_MIN { num_threads().min(groups).max(1) } else { 1 };
        Plan { n, nb, groups, threads }
    }

    /// The cut for a convolution `op` under `win` on sizes `d` with `o` output channels: one image's patch
    /// matrix `[c kh kw, oh ow]` (the scratch each chunk unfolds into) is checked to fit in memory first.
    ///
    /// # Errors
    /// [`crate::Error::TooLarge`] naming `op` when one image's patches do not fit.
    fn for_conv<T>(op: &'static str, d: &WindowDims, win: &Window2d, o: usize) -> Result<Self> {
        let per = checked_numel::<T>(op, &Shape::new(&[d.c, win.kh, win.kw, d.oh, d.ow]))?;
        Ok(Plan::new(d.n, per, per.saturating_mul(o).saturating_mul(d.n)))
    }

    /// The images of group `g`: its chunks split as evenly as the chunk count allows.
    fn group(&self, g: usize) -> Range<usize> {
        let chunks = self.n.div_ceil(self.nb);
        let (c0, c1) = (chunks * g / self.groups, chunks * (g + 1) / self.groups);
        (c0 * self.nb).min(self.n)..(c1 * self.nb).min(self.n)
    }

    /// The chunks inside the images `r` (of one group): `(first image, images)`.
    fn chunks(&self, r: Range<usize>) -> impl Iterator<Item = (usize, usize)> {
        let end = r.end;
        r.step_by(self.nb).map(move |i| (i, self.nb.min(end - i)))
    }

    /// Runs `f(group, part)` for every group with its part of the output, on `threads` threads (each taking a
    /// contiguous run of groups) or on the calling thread. `f` receives whether its products must stay on
    /// its thread.
    fn run<P: Send>(&self, parts: Vec<P>, f: impl Fn(usize, P, bool) + Sync) {
        super::groups::run(self.groups, self.threads, parts, f);
    }

    /// `buf` cut into the groups' parts, `per` elements per image.
    fn split<'a, T>(&self, mut buf: &'a mut [T], per: usize) -> Vec<&'a mut [T]> {
        let mut parts = Vec::with_capacity(self.groups);
        for g in 0..self.groups {
            let (part, rest) = buf.split_at_mut(self.group(g).len() * per);
            parts.push(part);
            buf = rest;
        }
        parts
    }
}

/// `c = alpha a b + beta c`, on this thread only when `serial`.
#[allow(clippy::too_many_arguments)]
pub(super) fn mm<T: Float>(serial: bool, a: &[T], av: MatRef, b: &[T], bv: MatRef, beta: T, c: &mut [T], c_off: usize) {
    if serial {
        T::gemm_serial(T::one(), a, av, b, bv, beta, c, c_off);
    } else {
        <T as Gemm>::gemm(T::one(), a, av, b, bv, beta, c, c_off);
    }
}

/// The output gradients of images `i0..i0 + nb` of `g` (`[n, o, l]`) side by side: `[o, nb l]`.
fn gather_columns<T: Float>(g: &[T], i0: usize, nb: usize, o: usize, l: usize, out: &mut [T]) {
    for j in 0..nb {
        for oo in 0..o {
            out[oo * nb * l + j * l..][..l].copy_from_slice(&g[((i0 + j) * o + oo) * l..][..l]);
        }
    }
}

/// `y = conv2d(x, w) + b`: `x` `[n, c, h, w]` (sizes in `d`), `w` `[o, c kh kw]`, optional `b` `[o]`;
/// returns `y` `[n, o, oh, ow]`.
///
/// # Errors
/// [`crate::Error::TooLarge`] or [`crate::Error::Allocation`] naming `conv2d` when `y` cannot be allocated.
pub fn conv2d<T: Float>(x: &[T], w: &[T], b: Option<&[T]>, d: &WindowDims, win: &Window2d, o: usize) -> Result<Vec<T>> {
    if super::winograd::applies(d, win, o) {
        return super::winograd::conv2d(x, w, b, d, win, o);
    }
    if super::direct::applies::<T>(d, win) {
        return super::direct::conv2d(x, w, b, d, win, o);
    }
    conv2d_planned(x, w, b, d, win, o, Plan::for_conv::<T>("conv2d", d, win, o)?)
}

#[allow(clippy::too_many_arguments)]
fn conv2d_planned<T: Float>(
    x: &[T],
    w: &[T],
    b: Option<&[T]>,
    d: &WindowDims,
    win: &Window2d,
    o: usize,
    plan: Plan,
) -> Result<Vec<T>> {
    let (ck, l, img) = (d.c * win.kh * win.kw, d.oh * d.ow, d.c * d.h * d.w);
    // Every element is written: by the bias rows or a product with `beta = 0`, or by a chunk's copy-out.
    let mut y = overwritten("conv2d", &[d.n, o, l])?;
    if y.is_empty() {
        return Ok(y);
    }
    // A product straight into `y` (chunks of one image) adds to the bias placed there first; a chunk of
    // several images is copied out of its product with the bias added on the way.
    if let (Some(b), 1) = (b, plan.nb) {
        for (row, &bv) in y.chunks_mut(l).zip(b.iter().cycle()) {
            row.fill(bv);
        }
    }
    let wv = MatRef::row_major(o, ck, 0, false);
    plan.run(plan.split(&mut y, o * l), |g, part, serial| {
        let first = plan.group(g).start;
        with_scratch(ck * plan.nb * l, |cols: &mut [T]| {
            for (i0, nb) in plan.chunks(plan.group(g)) {
                let cols = &mut cols[..ck * nb * l];
                for j in 0..nb {
                    let xi = &x[(i0 + j) * img..(i0 + j + 1) * img];
                    unfold_image(xi, d, win, &mut cols[j * l..], nb * l);
                }
                let uv = MatRef::row_major(ck, nb * l, 0, false);
                let beta = if b.is_some() { T::one() } else { T::zero() };
                if plan.nb == 1 {
                    mm(serial, w, wv, cols, uv, beta, part, (i0 - first) * o * l);
                    continue;
                }
                with_scratch(o * nb * l, |prod: &mut [T]| {
                    mm(serial, w, wv, cols, uv, T::zero(), prod, 0);
                    for j in 0..nb {
                        for oo in 0..o {
                            let dst = &mut part[((i0 - first + j) * o + oo) * l..][..l];
                            let src = &prod[oo * nb * l + j * l..][..l];
                            match b {
                                Some(b) => dst.iter_mut().zip(src).for_each(|(a, &v)| *a = v + b[oo]),
                                None => dst.copy_from_slice(src),
                            }
                        }
                    }
                });
            }
        });
    });
    Ok(y)
}

/// The input gradient of a convolution (a transposed convolution): `g` `[n, o, oh, ow]`, `w`
/// `[o, c kh kw]`; returns `dx` `[n, c, h, w]` (sizes in `d`), `dx_n = fold(W^T g_n)`.
///
/// # Errors
/// As [`conv2d`], naming `conv_input_grad`.
pub fn conv_input_grad<T: Float>(g: &[T], w: &[T], d: &WindowDims, win: &Window2d, o: usize) -> Result<Vec<T>> {
    if super::winograd::applies(d, win, o) {
        return super::winograd::conv_input_grad(g, w, d, win, o);
    }
    conv_input_grad_planned(g, w, d, win, o, Plan::for_conv::<T>("conv_input_grad", d, win, o)?)
}

fn conv_input_grad_planned<T: Float>(
    g: &[T],
    w: &[T],
    d: &WindowDims,
    win: &Window2d,
    o: usize,
    plan: Plan,
) -> Result<Vec<T>> {
    let (ck, l, img) = (d.c * win.kh * win.kw, d.oh * d.ow, d.c * d.h * d.w);
    let mut dx = zeroed("conv_input_grad", &[d.n, d.c, d.h, d.w])?;
    if dx.is_empty() || l == 0 {
        return Ok(dx);
    }
    let wv = MatRef::row_major(o, ck, 0, true);
    plan.run(plan.split(&mut dx, img), |grp, part, serial| {
        let first = plan.group(grp).start;
        with_scratch(ck * plan.nb * l, |cols: &mut [T]| {
            for (i0, nb) in plan.chunks(plan.group(grp)) {
                let cols = &mut cols[..ck * nb * l];
                if nb == 1 {
                    mm(serial, w, wv, g, MatRef::row_major(o, l, i0 * o * l, false), T::zero(), cols, 0);
                } else {
                    with_scratch(o * nb * l, |gs: &mut [T]| {
                        gather_columns(g, i0, nb, o, l, gs);
                        mm(serial, w, wv, gs, MatRef::row_major(o, nb * l, 0, false), T::zero(), cols, 0);
                    });
                }
                for j in 0..nb {
                    fold_image(&cols[j * l..], nb * l, d, win, &mut part[(i0 - first + j) * img..][..img]);
                }
            }
        });
    });
    Ok(dx)
}

/// The weight gradient of a convolution: `x` `[n, c, h, w]` (sizes in `d`), `g` `[n, o, oh, ow]`; returns
/// `dw` `[o, c kh kw]`, `sum_n g_n unfold(x_n)^T`.
///
/// # Errors
/// As [`conv2d`], naming `conv_weight_grad`.
pub fn conv_weight_grad<T: Float>(x: &[T], g: &[T], d: &WindowDims, win: &Window2d, o: usize) -> Result<Vec<T>> {
    if super::winograd::applies(d, win, o) {
        return super::winograd::conv_weight_grad(x, g, d, win, o);
    }
    if super::direct::applies::<T>(d, win) {
        return super::direct::conv_weight_grad(x, g, d, win, o);
    }
    conv_weight_grad_planned(x, g, d, win, o, Plan::for_conv::<T>("conv_weight_grad", d, win, o)?)
}

fn conv_weight_grad_planned<T: Float>(
    x: &[T],
    g: &[T],
    d: &WindowDims,
    win: &Window2d,
    o: usize,
    plan: Plan,
) -> Result<Vec<T>> {
    let (ck, l, img) = (d.c * win.kh * win.kw, d.oh * d.ow, d.c * d.h * d.w);
    let op = "conv_weight_grad";
    let mut dw = zeroed(op, &[o, d.c, win.kh, win.kw])?;
    if dw.is_empty() || plan.groups == 0 {
        return Ok(dw);
    }
    // Every group sums `dW^T` `[C kh kw, O]` into its own partial sum: with the patches as the left operand
    // and the output gradients transposed as the right one, the GEMM packs only the small `G` (its
    // transposed problem reads the patches in place), not the patches a second time after the unfold.
    let mut partials = zeroed::<T>(op, &[plan.groups, ck * o])?;
    let parts: Vec<&mut [T]> = partials.chunks_mut(ck * o).collect();
    plan.run(parts, |grp, part, serial| {
        with_scratch(ck * plan.nb * l, |cols: &mut [T]| {
            for (k, (i0, nb)) in plan.chunks(plan.group(grp)).enumerate() {
                let cols = &mut cols[..ck * nb * l];
                for j in 0..nb {
                    let xi = &x[(i0 + j) * img..(i0 + j + 1) * img];
                    unfold_image(xi, d, win, &mut cols[j * l..], nb * l);
                }
                let uv = MatRef::row_major(ck, nb * l, 0, false);
                let beta = if k == 0 { T::zero() } else { T::one() };
                if nb == 1 {
                    mm(serial, cols, uv, g, MatRef::row_major(o, l, i0 * o * l, true), beta, part, 0);
                } else {
                    with_scratch(o * nb * l, |gs: &mut [T]| {
                        gather_columns(g, i0, nb, o, l, gs);
                        mm(serial, cols, uv, gs, MatRef::row_major(o, nb * l, 0, true), beta, part, 0);
                    });
                }
            }
        });
    });
    // dw = the groups' sums in group order, transposed.
    for (r, col) in partials[..ck * o].chunks(o).enumerate() {
        for (oo, &v) in col.iter().enumerate() {
            dw[oo * ck + r] = v;
        }
    }
    for p in partials.chunks(ck * o).skip(1) {
        for (r, col) in p.chunks(o).enumerate() {
            for (oo, &v) in col.iter().enumerate() {
                dw[oo * ck + r] += v;
            }
        }
    }
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
    fn chunked_plans_match_one_image_at_a_time_and_threads_change_no_bit() {
        let win = Window2d::new((3, 2), (1, 2), Padding::Same);
        let (n, o) = (11, 4);
        let d = win.check("t", &Shape::new(&[n, 3, 6, 5])).unwrap();
        let (ck, l) = (d.c * win.kh * win.kw, d.oh * d.ow);
        let (x, w, b) = (values(n * 3 * 30, 1), values(o * ck, 2), values(o, 3));
        let g = values(n * o * l, 4);
        let run = |plan: Plan| {
            (
                conv2d_planned(&x, &w, Some(&b), &d, &win, o, plan).unwrap(),
                conv2d_planned(&x, &w, None, &d, &win, o, plan).unwrap(),
                conv_input_grad_planned(&g, &w, &d, &win, o, plan).unwrap(),
                conv_weight_grad_planned(&x, &g, &d, &win, o, plan).unwrap(),
            )
        };
        let one_by_one = run(Plan { n, nb: 1, groups: 1, threads: 1 });
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(u, v)| (u - v).abs() < 1e-12) && a.len() == b.len();
        assert!(one_by_one.1.iter().zip(&one_by_one.0).any(|(u, v)| u != v), "the bias is added");
        // Chunks of 3 images in 4 groups, of 2 in 3 groups, one chunk, and the plan the sizes choose.
        for (nb, groups) in [(3, 4), (2, 3), (11, 1), (1, 8)] {
            let serial = run(Plan { n, nb, groups, threads: 1 });
            assert!(close(&serial.0, &one_by_one.0) && close(&serial.1, &one_by_one.1), "y, chunks of {nb}");
            assert!(close(&serial.2, &one_by_one.2) && close(&serial.3, &one_by_one.3), "grads, chunks of {nb}");
            for threads in 2..=groups.min(3) {
                assert_eq!(run(Plan { n, nb, groups, threads }), serial, "{threads} threads, chunks of {nb}");
            }
        }
        let chosen = Plan::new(n, ck * l, 0);
        assert_eq!((chosen.nb, chosen.groups, chosen.threads), (3, 4, 1));
        // Every image lands in exactly one chunk of one group.
        for plan in [chosen, Plan { n, nb: 2, groups: 3, threads: 1 }, Plan::new(1000, 100, 0)] {
            let mut seen = Vec::new();
            for grp in 0..plan.groups {
                for (i0, nb) in plan.chunks(plan.group(grp)) {
                    assert!((1..=plan.nb).contains(&nb));
                    seen.extend(i0..i0 + nb);
                }
            }
            assert_eq!(seen, (0..plan.n).collect::<Vec<_>>(), "{plan:?}");
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
