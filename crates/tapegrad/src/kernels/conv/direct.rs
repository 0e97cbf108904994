//! Direct convolution of single-channel `f32` images at stride 1 (the first layer of an image CNN, such as
//! LeNet-5's on 28 x 28 digits), forward and weight gradient, with AVX-512.
//!
//! Lowered to a product, such a layer unfolds every image into `kh kw` shifted copies (25 for a 5x5 kernel)
//! before a product with only `O` rows: on LeNet-5 (c2) the unfold's stores cost more than the product.
//! Here each image is copied once into a zero-bordered plane, and each output row of four output channels
//! at a time is summed in vector registers from the `kh kw` shifted rows of that plane:
//! `y[o, r, :] = b[o] + sum over (ki, kj) of w[o, ki, kj] plane[r + ki, kj..]`, one or two 16-lane vectors
//! per row (rows of 9 to 32 outputs; the last vector's lanes past the row are never stored). The weight
//! gradient walks the same rows: `dw[o, ki, kj] = sum over r, x < ow of g[o, r, x] plane[r + ki, kj + x]`,
//! both operands loaded with the lanes past the row zeroed (so an infinite input there cannot make a NaN),
//! summed lane-wise over a group's images and across lanes once at the end.
//!
//! Which calls take it: [`applies`] (`f32`, one input channel, stride 1, rows of 9 to 32 outputs, a padded
//! plane of at most [`MAX_PLANE`] elements, AVX-512F at run time); every other convolution is lowered. A batch
//! is cut into at most [`super::groups::GROUPS`] groups of whole images (threads, and the weight gradient's partial sums,
//! added in group order), the cut depending only on the batch size: the results are bit-identical at any
//! thread count. Measured in docs/performance.md ("Intel measurements, sixth round").

use super::groups::{group_images as group, plan_groups as plan, run};
use super::lowered::{overwritten, zeroed};
use super::{Window2d, WindowDims};
use crate::error::Result;
use crate::float::Float;

/// Padded planes of at most this many elements take this path (the plane is staged per image).
pub const MAX_PLANE: usize = 4096;

/// Output channels summed together.
const BLOCK: usize = 4;

/// The invariant behind every `as_f32` here: [`applies`] takes only `f32`.
const F32: &str = "invariant: the direct path takes only f32 (`applies`)";

/// Whether a convolution of `T` under `win` on sizes `d` takes this path.
pub fn applies<T: Float>(d: &WindowDims, win: &Window2d) -> bool {
    let plane = (d.h + win.top + win.bottom).saturating_mul(d.w + win.left + win.right);
    T::as_f32(&[]).is_some()
        && d.c == 1
        && (win.sh, win.sw) == (1, 1)
        && (9..=32).contains(&d.ow)
        && plane <= MAX_PLANE
        && avx512()
}

fn avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The geometry of one call: the padded plane (rows `wp` apart; the stage has `32 + kw` zeros after it for
/// the lanes past the last row), the output grid, the kernel, the vectors per output row.
#[derive(Debug, Clone, Copy)]
struct Geom {
    h: usize,
    w: usize,
    hp: usize,
    wp: usize,
    top: usize,
    left: usize,
    oh: usize,
    ow: usize,
    kh: usize,
    kw: usize,
}

impl Geom {
    fn new(d: &WindowDims, win: &Window2d) -> Self {
        Geom {
            h: d.h,
            w: d.w,
            hp: d.h + win.top + win.bottom,
            wp: d.w + win.left + win.right,
            top: win.top,
            left: win.left,
            oh: d.oh,
            ow: d.ow,
            kh: win.kh,
            kw: win.kw,
        }
    }

    fn stage_len(&self) -> usize {
        self.hp * self.wp + 32 + self.kw
    }

    /// Copies image `x` (`h x w`) into the interior of the zero-bordered `stage`.
    fn stage_image(&self, x: &[f32], stage: &mut [f32]) {
        for (r, row) in x.chunks_exact(self.w).enumerate() {
            stage[(r + self.top) * self.wp + self.left..][..self.w].copy_from_slice(row);
        }
    }
}

/// Multiply-adds of a convolution on these sizes.
fn work(d: &WindowDims, win: &Window2d, o: usize) -> usize {
    [o, d.oh, d.ow, win.kh, win.kw].iter().fold(d.n, |a, &v| a.saturating_mul(v))
}

/// `y = conv2d(x, w) + b` (callers check [`applies`]): `x` `[n, 1, h, w]` (sizes in `d`), `w` `[o, 1, kh,
/// kw]`, optional `b` `[o]`; returns `y` `[n, o, oh, ow]`.
///
/// # Errors
/// [`crate::Error::TooLarge`] or [`crate::Error::Allocation`] naming `conv2d` when `y` cannot be allocated.
///
/// # Panics
/// When called for a convolution [`applies`] refuses (a broken caller invariant).
pub fn conv2d<T: Float>(x: &[T], w: &[T], b: Option<&[T]>, d: &WindowDims, win: &Window2d, o: usize) -> Result<Vec<T>> {
    conv2d_planned(x, w, b, d, win, o, plan(d.n, work(d, win, o)))
}

#[allow(clippy::too_many_arguments)]
fn conv2d_planned<T: Float>(
    x: &[T],
    w: &[T],
    b: Option<&[T]>,
    d: &WindowDims,
    win: &Window2d,
    o: usize,
    (groups, threads): (usize, usize),
) -> Result<Vec<T>> {
    assert!(applies::<T>(d, win), "invariant: direct::conv2d on a convolution it does not take");
    let g = Geom::new(d, win);
    let (l, img, k) = (g.oh * g.ow, g.h * g.w, g.kh * g.kw);
    let mut y = overwritten::<T>("conv2d", &[d.n, o, g.oh, g.ow])?; // every row of every plane is written
    let (x, w) = (T::as_f32(x).expect(F32), T::as_f32(w).expect(F32));
    let b = b.map(|b| T::as_f32(b).expect(F32));
    assert!(x.len() == d.n * img && w.len() == o * k && b.is_none_or(|b| b.len() == o), "invariant: conv2d operands");
    let yf = T::as_f32_mut(&mut y).expect(F32);
    if yf.is_empty() {
        return Ok(y);
    }
    let mut parts = Vec::with_capacity(groups);
    let mut rest = &mut yf[..];
    for gi in 0..groups {
        let (part, r) = rest.split_at_mut(group(d.n, gi, groups).len() * o * l);
        parts.push(part);
        rest = r;
    }
    run(groups, threads, parts, |gi, part: &mut [f32], _| {
        let mut stage = vec![0.0; g.stage_len()];
        for (j, i) in group(d.n, gi, groups).enumerate() {
            g.stage_image(&x[i * img..(i + 1) * img], &mut stage);
            for ob in (0..o).step_by(BLOCK) {
                let q = BLOCK.min(o - ob);
                let mut bias = [0.0; BLOCK];
                if let Some(b) = b {
                    bias[..q].copy_from_slice(&b[ob..ob + q]);
                }
                let planes = &mut part[(j * o + ob) * l..(j * o + ob + q) * l];
                forward_block(&g, &stage, &w[ob * k..(ob + q) * k], bias, planes);
            }
        }
    });
    Ok(y)
}

/// The weight gradient (callers check [`applies`]): `x` `[n, 1, h, w]` (sizes in `d`), `g` `[n, o, oh, ow]`;
/// returns `dw` `[o, 1, kh, kw]`.
///
/// # Errors
/// As [`conv2d`], naming `conv_weight_grad`.
///
/// # Panics
/// As [`conv2d`].
pub fn conv_weight_grad<T: Float>(x: &[T], gr: &[T], d: &WindowDims, win: &Window2d, o: usize) -> Result<Vec<T>> {
    weight_grad_planned(x, gr, d, win, o, plan(d.n, work(d, win, o)))
}

fn weight_grad_planned<T: Float>(
    x: &[T],
    gr: &[T],
    d: &WindowDims,
    win: &Window2d,
    o: usize,
    (groups, threads): (usize, usize),
) -> Result<Vec<T>> {
    assert!(applies::<T>(d, win), "invariant: direct::conv_weight_grad on a convolution it does not take");
    let op = "conv_weight_grad";
    let g = Geom::new(d, win);
    let (l, img, k) = (g.oh * g.ow, g.h * g.w, g.kh * g.kw);
    let mut dw = zeroed::<T>(op, &[o, 1, g.kh, g.kw])?;
    let (x, gr) = (T::as_f32(x).expect(F32), T::as_f32(gr).expect(F32));
    assert!(x.len() == d.n * img && gr.len() == d.n * o * l, "invariant: conv_weight_grad operands");
    if dw.is_empty() || d.n == 0 {
        return Ok(dw);
    }
    let mut partials = zeroed::<f32>(op, &[groups, o * k])?;
    // Each group's lane-wise sums `[o, kh kw, 32]` over its images, added across lanes at the end.
    let mut lanes = zeroed::<f32>(op, &[groups, o * k, 32])?;
    let parts: Vec<(&mut [f32], &mut [f32])> = partials.chunks_mut(o * k).zip(lanes.chunks_mut(o * k * 32)).collect();
    run(groups, threads, parts, |gi, (part, sums): (&mut [f32], &mut [f32]), _| {
        let mut stage = vec![0.0; g.stage_len()];
        for i in group(d.n, gi, groups) {
            g.stage_image(&x[i * img..(i + 1) * img], &mut stage);
            for ob in (0..o).step_by(BLOCK) {
                let q = BLOCK.min(o - ob);
                let planes = &gr[(i * o + ob) * l..(i * o + ob + q) * l];
                weight_grad_block(&g, &stage, planes, &mut sums[ob * k * 32..(ob + q) * k * 32]);
            }
        }
        for (p, lanes) in part.iter_mut().zip(sums.chunks_exact(32)) {
            *p = lanes.iter().sum();
        }
    });
    let dwf = T::as_f32_mut(&mut dw).expect(F32);
    for p in partials.chunks(o * k) {
        dwf.iter_mut().zip(p).for_each(|(a, &v)| *a += v);
    }
    Ok(dw)
}

/// `q = planes.len() / (oh ow)` output planes (at most [`BLOCK`]) from their kernels `w` (`[q, kh kw]`) and
/// biases over the staged plane.
fn forward_block(g: &Geom, stage: &[f32], w: &[f32], bias: [f32; BLOCK], planes: &mut [f32]) {
    let (k, l) = (g.kh * g.kw, g.oh * g.ow);
    let q = planes.len() / l;
    // Every read below stays inside these bounds: the last output row's last kernel row and column read
    // `(oh - 1 + kh - 1) wp + kw - 1 + 31 < stage_len`.
    assert!(stage.len() >= g.stage_len() && (1..=BLOCK).contains(&q) && w.len() == q * k && planes.len() == q * l);
    assert!(g.oh + g.kh - 1 <= g.hp && (9..=32).contains(&g.ow));
    #[cfg(target_arch = "x86_64")]
    // SAFETY: AVX-512F is present (`applies`, checked by the callers), and the asserts above bound every read
    // of `stage` and `w` and every write into `planes` the kernel makes.
    unsafe {
        match (g.ow > 16, q) {
            (false, 1) => avx512::forward::<1, 1>(g, stage, w, bias, planes),
            (false, 2) => avx512::forward::<1, 2>(g, stage, w, bias, planes),
            (false, 3) => avx512::forward::<1, 3>(g, stage, w, bias, planes),
            (false, _) => avx512::forward::<1, 4>(g, stage, w, bias, planes),
            (true, 1) => avx512::forward::<2, 1>(g, stage, w, bias, planes),
            (true, 2) => avx512::forward::<2, 2>(g, stage, w, bias, planes),
            (true, 3) => avx512::forward::<2, 3>(g, stage, w, bias, planes),
            (true, _) => avx512::forward::<2, 4>(g, stage, w, bias, planes),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("`applies` is false off x86-64: {g:?} {bias:?} {w:?} {planes:?}")
}

/// Adds `q = planes.len() / (oh ow)` output-gradient planes' contributions to the lane-wise sums `sums`
/// (`[q, kh kw, 32]`).
fn weight_grad_block(g: &Geom, stage: &[f32], planes: &[f32], sums: &mut [f32]) {
    let (k, l) = (g.kh * g.kw, g.oh * g.ow);
    let q = planes.len() / l;
    assert!(stage.len() >= g.stage_len() && (1..=BLOCK).contains(&q) && planes.len() == q * l);
    assert!(sums.len() == q * k * 32 && g.oh + g.kh - 1 <= g.hp && (9..=32).contains(&g.ow));
    #[cfg(target_arch = "x86_64")]
    // SAFETY: as in `forward_block`; the gradient rows are read with masked loads of exactly `ow` lanes.
    unsafe {
        match (g.ow > 16, q) {
            (false, 1) => avx512::weight_grad::<1, 1>(g, stage, planes, sums),
            (false, 2) => avx512::weight_grad::<1, 2>(g, stage, planes, sums),
            (false, 3) => avx512::weight_grad::<1, 3>(g, stage, planes, sums),
            (false, _) => avx512::weight_grad::<1, 4>(g, stage, planes, sums),
            (true, 1) => avx512::weight_grad::<2, 1>(g, stage, planes, sums),
            (true, 2) => avx512::weight_grad::<2, 2>(g, stage, planes, sums),
            (true, 3) => avx512::weight_grad::<2, 3>(g, stage, planes, sums),
            (true, _) => avx512::weight_grad::<2, 4>(g, stage, planes, sums),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("`applies` is false off x86-64: {g:?} {planes:?} {sums:?}")
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::Geom;
    use std::arch::x86_64::*;

    /// Lanes of the last of `V` vectors holding a row of `ow` elements.
    fn last_mask<const V: usize>(ow: usize) -> __mmask16 {
        let n = ow - 16 * (V - 1);
        if n >= 16 { 0xffff } else { (1u16 << n) - 1 }
    }

    /// See `forward_block`: `V` vectors per row, `Q` channels.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn forward<const V: usize, const Q: usize>(
        g: &Geom,
        stage: &[f32],
        w: &[f32],
        bias: [f32; 4],
        planes: &mut [f32],
    ) {
        let (k, l, wp) = (g.kh * g.kw, g.oh * g.ow, g.wp);
        let (sp, wptr, yp) = (stage.as_ptr(), w.as_ptr(), planes.as_mut_ptr());
        let mask = last_mask::<V>(g.ow);
        for r in 0..g.oh {
            let mut acc = [[_mm512_setzero_ps(); V]; Q];
            for ki in 0..g.kh {
                // SAFETY (all pointer arithmetic): bounded by the caller's asserts.
                let row = unsafe { sp.add((r + ki) * wp) };
                for kj in 0..g.kw {
                    let mut s = [_mm512_setzero_ps(); V];
                    for (v, sv) in s.iter_mut().enumerate() {
                        *sv = unsafe { _mm512_loadu_ps(row.add(kj + 16 * v)) };
                    }
                    for (q, a) in acc.iter_mut().enumerate() {
                        let wv = _mm512_set1_ps(unsafe { *wptr.add(q * k + ki * g.kw + kj) });
                        for v in 0..V {
                            a[v] = _mm512_fmadd_ps(wv, s[v], a[v]);
                        }
                    }
                }
            }
            for (q, a) in acc.iter().enumerate() {
                let b = _mm512_set1_ps(bias[q]);
                for (v, &av) in a.iter().enumerate() {
                    let out = unsafe { yp.add(q * l + r * g.ow + 16 * v) };
                    let val = _mm512_add_ps(av, b);
                    if v + 1 < V {
                        unsafe { _mm512_storeu_ps(out, val) };
                    } else {
                        unsafe { _mm512_mask_storeu_ps(out, mask, val) };
                    }
                }
            }
        }
    }

    /// See `weight_grad_block`: `V` vectors per row, `Q` channels.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn weight_grad<const V: usize, const Q: usize>(
        g: &Geom,
        stage: &[f32],
        planes: &[f32],
        sums: &mut [f32],
    ) {
        let (k, l, wp) = (g.kh * g.kw, g.oh * g.ow, g.wp);
        let (sp, gp, dp) = (stage.as_ptr(), planes.as_ptr(), sums.as_mut_ptr());
        let mask = last_mask::<V>(g.ow);
        let m = |v: usize| if v + 1 < V { 0xffff } else { mask };
        for ki in 0..g.kh {
            for kj in 0..g.kw {
                let mut acc = [[_mm512_setzero_ps(); V]; Q];
                for r in 0..g.oh {
                    // SAFETY (all pointer arithmetic): bounded by the caller's asserts; the masked loads
                    // read only the row's `ow` lanes.
                    let row = unsafe { sp.add((r + ki) * wp + kj) };
                    let mut s = [_mm512_setzero_ps(); V];
                    for (v, sv) in s.iter_mut().enumerate() {
                        *sv = unsafe { _mm512_maskz_loadu_ps(m(v), row.add(16 * v)) };
                    }
                    for (q, a) in acc.iter_mut().enumerate() {
                        for v in 0..V {
                            let gv = unsafe { _mm512_maskz_loadu_ps(m(v), gp.add(q * l + r * g.ow + 16 * v)) };
                            a[v] = _mm512_fmadd_ps(gv, s[v], a[v]);
                        }
                    }
                }
                for (q, a) in acc.iter().enumerate() {
                    for (v, &av) in a.iter().enumerate() {
                        let d = unsafe { dp.add((q * k + ki * g.kw + kj) * 32 + 16 * v) };
                        unsafe { _mm512_storeu_ps(d, _mm512_add_ps(_mm512_loadu_ps(d), av)) };
                    }
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "direct_tests.rs"]
mod tests;
