//! Plain loops behind the convolution and pooling ops, on `[N, C, H, W]` row-major buffers (PyTorch's
//! layout): the window geometry and its shape checks, `unfold` (im2col), `fold` (col2im, its adjoint) and the
//! argmax of max pooling.
//!
//! `unfold` writes, for every input channel `c` and kernel offset `(ki, kj)`, one row of the patch matrix:
//! row `c kh kw + ki kw + kj` holds, for each output position `(oy, ox)`, the input element
//! `x[c, oy sh + ki - top, ox sw + kj - left]` (zero in the padding). Each row is filled one output row at a
//! time, and at stride 1 that is one contiguous `copy_from_slice` of the input row: the loops are memory
//! copies, so a convolution built on them is bound by its GEMM.

use crate::error::{Error, Result};
use crate::float::Float;
use crate::shape::Shape;
use crate::tensor::{try_filled, try_overwritten};
use rows::Rows;

pub mod direct;
mod groups;
pub mod lowered;
mod rows;
pub mod winograd;

/// How a 2-D window op pads its input (per spatial axis; `p` below is the total of both sides).
///
/// Output size per axis: `o = floor((i + p - k) / s) + 1` ([`conv_output_size`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Padding {
    /// No padding (`p = 0`): the window stays inside the input, `o = floor((i - k) / s) + 1`.
    #[default]
    Valid,
    /// `p = k - 1`, so `o = i` at stride 1 (and `ceil(i / s)` at stride `s`). For an even kernel the
    /// padding is asymmetric: `floor((k - 1) / 2)` on the top/left and the extra one on the bottom/right, as
    /// TensorFlow's and PyTorch's `'same'` place it. (At stride > 1 TensorFlow pads less than `k - 1` for
    /// the same output size; this is the lecture's definition, always `k - 1`.)
    Same,
    /// `p = 2 (k - 1)`, `k - 1` on each side: every window overlapping the input at least once,
    /// `o = i + k - 1` at stride 1.
    Full,
    /// Zeros given per side.
    Explicit {
        /// Rows above.
        top: usize,
        /// Rows below.
        bottom: usize,
        /// Columns to the left.
        left: usize,
        /// Columns to the right.
        right: usize,
    },
}

impl Padding {
    /// `ph` rows above and below, `pw` columns left and right (PyTorch's `padding=(ph, pw)`).
    pub fn symmetric(ph: usize, pw: usize) -> Self {
        Padding::Explicit { top: ph, bottom: ph, left: pw, right: pw }
    }

    /// `(top, bottom, left, right)` for a `kh x kw` kernel.
    pub fn resolve(self, kh: usize, kw: usize) -> (usize, usize, usize, usize) {
        let same = |k: usize| {
            let p = k.saturating_sub(1);
            (p / 2, p - p / 2)
        };
        match self {
            Padding::Valid => (0, 0, 0, 0),
            Padding::Same => {
                let ((t, b), (l, r)) = (same(kh), same(kw));
                (t, b, l, r)
            }
            Padding::Full => {
                let (ph, pw) = (kh.saturating_sub(1), kw.saturating_sub(1));
                (ph, ph, pw, pw)
            }
            Padding::Explicit { top, bottom, left, right } => (top, bottom, left, right),
        }
    }
}

/// The output size of a window op along one axis: `o = floor((i + p - k) / s) + 1`, with `i` the input
/// size, `k` the kernel size, `s` the stride and `p` the total padding of that axis (both sides).
///
/// ```
/// use tapegrad::conv_output_size;
/// assert_eq!(conv_output_size(5, 3, 1, 0).unwrap(), 3); // valid
/// assert_eq!(conv_output_size(5, 3, 1, 2).unwrap(), 5); // same: p = k - 1
/// assert_eq!(conv_output_size(5, 3, 1, 4).unwrap(), 7); // full: p = 2 (k - 1)
/// assert_eq!(conv_output_size(5, 3, 2, 0).unwrap(), 2); // stride 2
/// assert!(conv_output_size(2, 3, 1, 0).is_err()); // the kernel does not fit
/// ```
///
/// # Errors
/// [`Error::InvalidArgument`] naming `conv_output_size` when the kernel or stride is zero, the kernel is
/// larger than the padded input, or `i + p` overflows.
pub fn conv_output_size(input: usize, kernel: usize, stride: usize, padding: usize) -> Result<usize> {
    let op = "conv_output_size";
    if kernel == 0 || stride == 0 {
        return Err(Error::InvalidArgument {
            op,
            msg: format!("kernel {kernel} and stride {stride} must be positive"),
        });
    }
    let padded = input
        .checked_add(padding)
        .ok_or_else(|| Error::InvalidArgument { op, msg: format!("input {input} + padding {padding} overflows") })?;
    if kernel > padded {
        return Err(Error::InvalidArgument {
            op,
            msg: format!("kernel {kernel} is larger than the padded input {padded} ({input} + padding {padding})"),
        });
    }
    Ok((padded - kernel) / stride + 1)
}

/// A resolved 2-D window: kernel, stride and per-side padding. What `unfold`, `fold` and the pooling ops
/// are parametrised by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window2d {
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Vertical stride.
    pub sh: usize,
    /// Horizontal stride.
    pub sw: usize,
    /// Zero rows above the input.
    pub top: usize,
    /// Zero rows below.
    pub bottom: usize,
    /// Zero columns to the left.
    pub left: usize,
    /// Zero columns to the right.
    pub right: usize,
}

/// The sizes of one window op: input `[n, c, h, w]`, output grid `oh x ow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowDims {
    /// Batch.
    pub n: usize,
    /// Channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
}

impl Window2d {
    /// A `kernel = (kh, kw)` window moved by `stride = (sh, sw)` over an input padded as `padding` says.
    pub fn new(kernel: (usize, usize), stride: (usize, usize), padding: Padding) -> Self {
        let (top, bottom, left, right) = padding.resolve(kernel.0, kernel.1);
        Window2d { kh: kernel.0, kw: kernel.1, sh: stride.0, sw: stride.1, top, bottom, left, right }
    }

    /// Checks an input shape `[N, C, H, W]` against this window and returns the sizes, with errors naming
    /// `op`: not 4-D, a zero kernel or stride, a kernel larger than the padded input, and any size (the
    /// padded input, the unfolded patches `N C kh kw oh ow`) overflowing `usize`.
    ///
    /// # Errors
    /// [`Error::BadShape`] or [`Error::InvalidArgument`] naming `op`.
    pub fn check(&self, op: &'static str, x: &Shape) -> Result<WindowDims> {
        let &[n, c, h, w] = x.dims() else {
            return Err(Error::BadShape { op, msg: "expected a 4-D input [N, C, H, W]".into(), shape: x.clone() });
        };
        if self.kh == 0 || self.kw == 0 || self.sh == 0 || self.sw == 0 {
            return Err(Error::InvalidArgument {
                op,
                msg: format!("kernel {}x{} and stride ({}, {}) must be positive", self.kh, self.kw, self.sh, self.sw),
            });
        }
        let axis = |name: &str, i: usize, k: usize, s: usize, a: usize, b: usize| -> Result<usize> {
            let padded = i.checked_add(a).and_then(|v| v.checked_add(b)).ok_or_else(|| Error::BadShape {
                op,
                msg: format!("the padded {name} {i} + {a} + {b} overflows"),
                shape: x.clone(),
            })?;
            if k > padded {
                return Err(Error::BadShape {
                    op,
                    msg: format!(
                        "kernel {}x{} is larger than the padded input ({name} {i} + padding {a} + {b} = {padded})",
                        self.kh, self.kw
                    ),
                    shape: x.clone(),
                });
            }
            Ok((padded - k) / s + 1)
        };
        let oh = axis("height", h, self.kh, self.sh, self.top, self.bottom)?;
        let ow = axis("width", w, self.kw, self.sw, self.left, self.right)?;
        let d = WindowDims { n, c, h, w, oh, ow };
        d.patches(self).ok_or_else(|| Error::BadShape {
            op,
            msg: format!("the unfolded size {n} x {c} x {} x {} x {oh} x {ow} overflows", self.kh, self.kw),
            shape: x.clone(),
        })?;
        Ok(d)
    }
}

impl WindowDims {
    /// Number of elements of the unfolded patches `[n, c kh kw, oh ow]`, `None` on overflow.
    pub fn patches(&self, win: &Window2d) -> Option<usize> {
        [self.c, win.kh, win.kw, self.oh, self.ow].iter().try_fold(self.n, |acc, &d| acc.checked_mul(d))
    }
}

/// For kernel column `kj`: the output columns `lo..hi` whose input column `ox sw + kj - left` lies inside
/// `0..w` (the rest read padding).
#[inline]
fn inside(k: usize, before: usize, s: usize, len: usize, out: usize) -> (usize, usize) {
    let lo = before.saturating_sub(k).div_ceil(s);
    let hi = (len + before).saturating_sub(k).div_ceil(s).min(out);
    (lo.min(hi), hi)
}

/// `dst.copy_from_slice(src)` for the short rows of small images, without a call: `memcpy` costs more than
/// copying a row of 4 or 8 elements (on 8 x 8 digits such calls were 17% of a training step). Two
/// overlapping fixed-size moves cover any length from `c` to `2c`; longer rows go to `copy_from_slice`.
#[inline(always)]
fn copy_short<T: Copy>(dst: &mut [T], src: &[T]) {
    let n = dst.len();
    let src = &src[..n];
    macro_rules! two {
        ($c:literal) => {{
            dst[..$c].copy_from_slice(&src[..$c]);
            dst[n - $c..].copy_from_slice(&src[n - $c..]);
        }};
    }
    match n {
        0 => {}
        1 => dst[0] = src[0],
        2..=3 => two!(2),
        4..=7 => two!(4),
        8..=15 => two!(8),
        16..=31 => two!(16),
        _ => dst.copy_from_slice(src),
    }
}

/// `dst.fill(v)` for short runs, without a call (as [`copy_short`]).
#[inline(always)]
fn fill_short<T: Copy>(dst: &mut [T], v: T) {
    let n = dst.len();
    macro_rules! two {
        ($c:literal) => {{
            dst[..$c].fill(v);
            dst[n - $c..].fill(v);
        }};
    }
    match n {
        0 => {}
        1 => dst[0] = v,
        2..=3 => two!(2),
        4..=7 => two!(4),
        8..=15 => two!(8),
        16..=31 => two!(16),
        _ => dst.fill(v),
    }
}

/// im2col: `x` `[n, c, h, w]` to patches `[n, c kh kw, oh ow]` (zeros where the window reads padding).
///
/// # Errors
/// [`Error::Allocation`] naming `unfold` when the patches cannot be allocated (their count was checked by
/// [`Window2d::check`]).
pub fn unfold<T: Float>(x: &[T], d: &WindowDims, win: &Window2d) -> Result<Vec<T>> {
    let mut out = try_filled("unfold", d.n * d.c * win.kh * win.kw * d.oh * d.ow, T::zero())?;
    unfold_into(x, d, win, &mut out);
    Ok(out)
}

/// [`unfold`] into a caller's buffer of `n c kh kw oh ow` elements, every one of which is overwritten
/// (zeros where the window reads padding), so a reused buffer needs no clearing: a reused buffer skips the
/// page faults of a fresh allocation, most of `unfold`'s time at large sizes (see `benches/conv.rs`).
///
/// # Panics
/// When `out` has the wrong length (a broken caller invariant).
pub fn unfold_into<T: Float>(x: &[T], d: &WindowDims, win: &Window2d, out: &mut [T]) {
    let WindowDims { n, c, h, w, oh, ow } = *d;
    let (k, l) = (win.kh * win.kw, oh * ow);
    assert_eq!(out.len(), n * c * k * l, "invariant: unfold_into's buffer fits the patches");
    for i in 0..n {
        unfold_image(&x[i * c * h * w..(i + 1) * c * h * w], d, win, &mut out[i * c * k * l..], l);
    }
}

/// Unfolds ONE image `x` `[c, h, w]` (sizes in `d`, whose `n` is ignored) into the patch rows
/// `out[r rs..r rs + oh ow]`, `r = ch kh kw + ki kw + kj`: `rs = oh ow` gives that image's `[c kh kw, oh ow]`
/// matrix, and `rs = nb oh ow` with `out` starting at column `i oh ow` places it as image `i` of `nb` side by
/// side (`[c kh kw, nb oh ow]`, the layout of one product over several images). Every element of those rows
/// is written. The loops run kernel offset by kernel offset, so the clipping of each offset against the
/// padding is computed once, not once per channel.
///
/// # Panics
/// When `out` is too short for the rows (a broken caller invariant).
pub fn unfold_image<T: Float>(x: &[T], d: &WindowDims, win: &Window2d, out: &mut [T], rs: usize) {
    let WindowDims { c, h, w, oh, ow, .. } = *d;
    let (k, l) = (win.kh * win.kw, oh * ow);
    assert!(x.len() == c * h * w && (c * k == 0 || out.len() >= (c * k - 1) * rs + l), "invariant: unfold rows");
    if unfold_image_staged(x, d, win, out, rs) {
        return;
    }
    let zero = T::zero();
    for ki in 0..win.kh {
        let (ylo, yhi) = inside(ki, win.top, win.sh, h, oh);
        for kj in 0..win.kw {
            let (xlo, xhi) = inside(kj, win.left, win.sw, w, ow);
            for ch in 0..c {
                let src = &x[ch * h * w..(ch + 1) * h * w];
                let row = &mut out[(ch * k + ki * win.kw + kj) * rs..][..l];
                if xlo == xhi || ylo == yhi {
                    row.fill(zero); // this kernel offset reads only padding
                    continue;
                }
                fill_short(&mut row[..ylo * ow], zero);
                fill_short(&mut row[yhi * ow..], zero);
                for oy in ylo..yhi {
                    let srow = &src[(oy * win.sh + ki - win.top) * w..][..w];
                    let drow = &mut row[oy * ow..(oy + 1) * ow];
                    fill_short(&mut drow[..xlo], zero);
                    fill_short(&mut drow[xhi..], zero);
                    if win.sw == 1 {
                        let s0 = xlo + kj - win.left;
                        copy_short(&mut drow[xlo..xhi], &srow[s0..s0 + xhi - xlo]);
                    } else {
                        for (ox, dv) in drow.iter_mut().enumerate().take(xhi).skip(xlo) {
                            *dv = srow[ox * win.sw + kj - win.left];
                        }
                    }
                }
            }
        }
    }
}

/// Padded planes of at most this many elements are unfolded through a zero-bordered copy on the stack.
const STAGE: usize = 1024;

/// [`unfold_image`] at stride 1 for small planes (the padded plane at most [`STAGE`] elements): each channel
/// is copied once into a zero-bordered plane (when there is padding), after which every output row of every
/// kernel offset is one short copy, with no clipping against the padding. Returns whether it applied.
fn unfold_image_staged<T: Float>(x: &[T], d: &WindowDims, win: &Window2d, out: &mut [T], rs: usize) -> bool {
    let WindowDims { c, h, w, oh, ow, .. } = *d;
    let (hp, wp) = (h + win.top + win.bottom, w + win.left + win.right);
    if win.sh != 1 || win.sw != 1 || hp * wp > STAGE {
        return false;
    }
    let (k, l) = (win.kh * win.kw, oh * ow);
    let padded = (win.top, win.bottom, win.left, win.right) != (0, 0, 0, 0);
    let mut stage = [T::zero(); STAGE];
    for ch in 0..c {
        let src = &x[ch * h * w..(ch + 1) * h * w];
        let plane: &[T] = if padded {
            for iy in 0..h {
                copy_short(&mut stage[(iy + win.top) * wp + win.left..][..w], &src[iy * w..][..w]);
            }
            &stage[..hp * wp]
        } else {
            src
        };
        for ki in 0..win.kh {
            for kj in 0..win.kw {
                let row = &mut out[(ch * k + ki * win.kw + kj) * rs..][..l];
                Rows { len: ow, count: oh, dstride: ow, sstride: wp }.copy(row, &plane[ki * wp + kj..]);
            }
        }
    }
    true
}

/// col2im, the adjoint of [`unfold`]: patches `[n, c kh kw, oh ow]` summed back into `[n, c, h, w]`
/// (contributions that fall in the padding are dropped).
///
/// # Errors
/// [`Error::Allocation`] naming `fold` when the image cannot be allocated.
pub fn fold<T: Float>(cols: &[T], d: &WindowDims, win: &Window2d) -> Result<Vec<T>> {
    let mut out = try_filled("fold", d.n * d.c * d.h * d.w, T::zero())?;
    fold_into(cols, d, win, &mut out);
    Ok(out)
}

/// [`fold`] added into a caller's `[n, c, h, w]` buffer (`out += fold(cols)`).
///
/// # Panics
/// When `cols` or `out` has the wrong length (a broken caller invariant).
pub fn fold_into<T: Float>(cols: &[T], d: &WindowDims, win: &Window2d, out: &mut [T]) {
    let WindowDims { n, c, h, w, oh, ow } = *d;
    let (k, l) = (win.kh * win.kw, oh * ow);
    assert_eq!(cols.len(), n * c * k * l, "invariant: fold_into reads whole patches");
    assert_eq!(out.len(), n * c * h * w, "invariant: fold_into's buffer fits the image");
    for i in 0..n {
        fold_image(&cols[i * c * k * l..], l, d, win, &mut out[i * c * h * w..(i + 1) * c * h * w]);
    }
}

/// The adjoint of [`unfold_image`]: the patch rows `cols[r rs..r rs + oh ow]` of ONE image added into
/// `out` `[c, h, w]` (sizes in `d`, whose `n` is ignored).
///
/// # Panics
/// When `cols` is too short for the rows or `out` is not one image (a broken caller invariant).
pub fn fold_image<T: Float>(cols: &[T], rs: usize, d: &WindowDims, win: &Window2d, out: &mut [T]) {
    let WindowDims { c, h, w, oh, ow, .. } = *d;
    let (k, l) = (win.kh * win.kw, oh * ow);
    assert!(out.len() == c * h * w && (c * k == 0 || cols.len() >= (c * k - 1) * rs + l), "invariant: fold rows");
    if !fold_image_staged(cols, rs, d, win, out) {
        fold_image_clipped(cols, rs, d, win, out);
    }
}

/// [`fold_image`] by rows clipped against the padding (any stride and size).
fn fold_image_clipped<T: Float>(cols: &[T], rs: usize, d: &WindowDims, win: &Window2d, out: &mut [T]) {
    let WindowDims { c, h, w, oh, ow, .. } = *d;
    let (k, l) = (win.kh * win.kw, oh * ow);
    for ki in 0..win.kh {
        let (ylo, yhi) = inside(ki, win.top, win.sh, h, oh);
        for kj in 0..win.kw {
            let (xlo, xhi) = inside(kj, win.left, win.sw, w, ow);
            if xlo == xhi {
                continue; // this kernel column reads only padding
            }
            for ch in 0..c {
                let dst = &mut out[ch * h * w..(ch + 1) * h * w];
                let row = &cols[(ch * k + ki * win.kw + kj) * rs..][..l];
                if win.sw == 1 && ylo < yhi {
                    // One run of equal rows: `yhi - ylo` additions of `xhi - xlo` elements, strides `sh w`, `ow`.
                    let d0 = (ylo * win.sh + ki - win.top) * w + xlo + kj - win.left;
                    let rows = Rows { len: xhi - xlo, count: yhi - ylo, dstride: win.sh * w, sstride: ow };
                    rows.add(&mut dst[d0..], &row[ylo * ow + xlo..]);
                    continue;
                }
                for oy in ylo..yhi {
                    let drow = &mut dst[(oy * win.sh + ki - win.top) * w..][..w];
                    let srow = &row[oy * ow..(oy + 1) * ow];
                    if win.sw == 1 {
                        let d0 = xlo + kj - win.left;
                        for (dv, &sv) in drow[d0..d0 + xhi - xlo].iter_mut().zip(&srow[xlo..xhi]) {
                            *dv += sv;
                        }
                    } else {
                        for (ox, &sv) in srow.iter().enumerate().take(xhi).skip(xlo) {
                            drow[ox * win.sw + kj - win.left] += sv;
                        }
                    }
                }
            }
        }
    }
}

/// Output rows of at most this many elements are folded through [`fold_image_staged`]: measured per call
/// (1 thread, minimum of 200) on c1's second convolution (4 x 4 images, 16 channels, 3x3 "same") 74 -> 59 us,
/// on its first (8 x 8, one channel) 18.5 -> 17 us; on LeNet-5's (rows of 10 and 28) the clipped loops were
/// faster (445 against 530 us, 380 against 395 us).
const FOLD_STAGE_ROW: usize = 8;

/// [`fold_image`] at stride 1 for small planes (the padded plane at most [`STAGE`] elements, output rows at
/// most [`FOLD_STAGE_ROW`]), the adjoint of
/// [`unfold_image_staged`]: each channel's contributions are summed into a zero-bordered plane on the stack,
/// every output row of every kernel offset one short addition with no clipping against the padding, and the
/// plane's interior is then added into `out`. Each element of the plane receives its contributions in the
/// same order as the clipped loops give them to `out`, so into a zeroed `out` the result is bit-identical.
/// Returns whether it applied.
fn fold_image_staged<T: Float>(cols: &[T], rs: usize, d: &WindowDims, win: &Window2d, out: &mut [T]) -> bool {
    let WindowDims { c, h, w, oh, ow, .. } = *d;
    let (hp, wp) = (h + win.top + win.bottom, w + win.left + win.right);
    if win.sh != 1 || win.sw != 1 || hp * wp > STAGE || ow == 0 || ow > FOLD_STAGE_ROW {
        return false;
    }
    let (k, l, pl) = (win.kh * win.kw, oh * ow, hp * wp);
    let mut stage = [T::zero(); STAGE];
    // Several channels at a time, the kernel offsets outermost: a plane row is revisited (by the next offset)
    // only after the rows of the other channels, so the overlapping loads do not wait on recent stores.
    let per = STAGE / pl;
    for c0 in (0..c).step_by(per) {
        let planes = per.min(c - c0);
        stage[..planes * pl].fill(T::zero());
        for ki in 0..win.kh {
            for kj in 0..win.kw {
                for (p, plane) in stage[..planes * pl].chunks_exact_mut(pl).enumerate() {
                    let row = &cols[((c0 + p) * k + ki * win.kw + kj) * rs..][..l];
                    for (oy, srow) in row.chunks_exact(ow).enumerate() {
                        add_short(&mut plane[(oy + ki) * wp + kj..][..ow], srow);
                    }
                }
            }
        }
        for (p, plane) in stage[..planes * pl].chunks_exact(pl).enumerate() {
            let dst = &mut out[(c0 + p) * h * w..(c0 + p + 1) * h * w];
            for (iy, drow) in dst.chunks_exact_mut(w).enumerate() {
                add_short(drow, &plane[(iy + win.top) * wp + win.left..][..w]);
            }
        }
    }
    true
}

/// `dst[i] += src[i]` for short rows (as [`copy_short`]): fixed blocks of 8 and 4 elements, then single
/// ones; each element gets exactly one addition.
#[inline(always)]
fn add_short<T: Float>(dst: &mut [T], src: &[T]) {
    let n = dst.len();
    let src = &src[..n];
    let mut i = 0;
    while i + 8 <= n {
        let (d, s): (&mut [T; 8], &[T; 8]) =
            ((&mut dst[i..i + 8]).try_into().unwrap(), (&src[i..i + 8]).try_into().unwrap());
        for j in 0..8 {
            d[j] += s[j];
        }
        i += 8;
    }
    if i + 4 <= n {
        let (d, s): (&mut [T; 4], &[T; 4]) =
            ((&mut dst[i..i + 4]).try_into().unwrap(), (&src[i..i + 4]).try_into().unwrap());
        for j in 0..4 {
            d[j] += s[j];
        }
        i += 4;
    }
    for j in i..n {
        dst[j] += src[j];
    }
}

/// For max pooling: the flat index into `x` of the maximum of every window, `[n, c, oh, ow]` of them.
/// Padding never wins (it is minus infinity, as in PyTorch); the first maximum wins ties; a NaN in the
/// window is the maximum (the first NaN), so NaN propagates. Every window must hold an input element
/// (callers check that the padding is smaller than the kernel).
///
/// # Errors
/// [`Error::Allocation`] naming `max_pool2d` when the indices cannot be allocated.
pub fn window_argmax<T: Float>(x: &[T], d: &WindowDims, win: &Window2d) -> Result<Vec<usize>> {
    Ok(window_max_and_argmax(x, d, win)?.0)
}

/// [`window_argmax`] and the maxima themselves (`x` at those indices), found in one pass.
///
/// # Errors
/// [`Error::Allocation`] naming `max_pool2d` when the indices or values cannot be allocated.
pub fn window_max_and_argmax<T: Float>(x: &[T], d: &WindowDims, win: &Window2d) -> Result<(Vec<usize>, Vec<T>)> {
    let WindowDims { n, c, h, w, oh, ow } = *d;
    let (hw, l) = (h * w, oh * ow);
    // Every window's index and value is written below.
    let mut out = try_overwritten("max_pool2d", n * c * l, 0)?;
    let mut vals = try_overwritten("max_pool2d", n * c * l, T::zero())?;
    let span = |o: usize, s: usize, before: usize, k: usize, len: usize| {
        ((o * s).saturating_sub(before), (o * s + k).saturating_sub(before).min(len))
    };
    // 2 x 2 windows that all lie inside the input (no padding reached): the four elements read directly.
    let inside2 = (win.kh, win.kw, win.top, win.left) == (2, 2, 0, 0)
        && oh.checked_sub(1).is_none_or(|o| o * win.sh + 2 <= h)
        && ow.checked_sub(1).is_none_or(|o| o * win.sw + 2 <= w);
    let planes = out.chunks_exact_mut(l.max(1)).zip(vals.chunks_exact_mut(l.max(1)));
    for (plane, (out, vals)) in planes.enumerate().take(n * c) {
        let (base, src) = (plane * hw, &x[plane * hw..(plane + 1) * hw]);
        // A plane without NaN (checked in one vectorised pass) takes the select-only 2 x 2 scan.
        if inside2 && !src.iter().fold(false, |acc, v| acc | v.is_nan()) {
            for oy in 0..oh {
                let (orow, vrow) = (&mut out[oy * ow..][..ow], &mut vals[oy * ow..][..ow]);
                if (win.sh, win.sw) == (2, 2) {
                    // Stride 2: the window's two rows read pairwise, no index arithmetic per window.
                    let top = 2 * oy * w;
                    let (r0, r1) = (&src[top..top + 2 * ow], &src[top + w..top + w + 2 * ow]);
                    let pairs = r0.chunks_exact(2).zip(r1.chunks_exact(2));
                    for (ox, ((o, v), (p, q))) in orow.iter_mut().zip(vrow.iter_mut()).zip(pairs).enumerate() {
                        let (j, m) = max4(p[0], p[1], q[0], q[1], w);
                        (*o, *v) = (base + top + 2 * ox + j, m);
                    }
                    continue;
                }
                for (ox, (o, v)) in orow.iter_mut().zip(vrow.iter_mut()).enumerate() {
                    let i = oy * win.sh * w + ox * win.sw;
                    let (j, m) = max2x2(src, w, i);
                    (*o, *v) = (base + j, m);
                }
            }
            continue;
        }
        for oy in 0..oh {
            let rows = span(oy, win.sh, win.top, win.kh, h);
            for ox in 0..ow {
                let i = window_max(src, w, rows, span(ox, win.sw, win.left, win.kw, w));
                (out[oy * ow + ox], vals[oy * ow + ox]) = (base + i, src[i]);
            }
        }
    }
    Ok((out, vals))
}

/// The first maximum of a 2 x 2 window `a b / c e` (rows `w` apart, no NaN) and its offset from `a`, by
/// selects only (as [`max2x2`]).
#[inline]
fn max4<T: Float>(a: T, b: T, c: T, e: T, w: usize) -> (usize, T) {
    let (mut best, mut bv) = (0, a);
    for (j, v) in [(1, b), (w, c), (w + 1, e)] {
        let gt = v > bv;
        best = if gt { j } else { best };
        bv = if gt { v } else { bv };
    }
    (best, bv)
}

/// The first maximum of the 2 x 2 window whose top-left element is `plane[i]` (rows of `w`), and its
/// index, by selects only (the plane holds no NaN).
#[inline]
fn max2x2<T: Float>(plane: &[T], w: usize, i: usize) -> (usize, T) {
    let (a, b) = (plane[i], plane[i + 1]);
    let (c, e) = (plane[i + w], plane[i + w + 1]);
    let (mut best, mut bv) = (i, a);
    for (j, v) in [(i + 1, b), (i + w, c), (i + w + 1, e)] {
        let gt = v > bv;
        best = if gt { j } else { best };
        bv = if gt { v } else { bv };
    }
    (best, bv)
}

/// The index in `plane` (rows of `w`) of the first maximum of rows `y0..y1`, columns `x0..x1`, or of the
/// first NaN (a NaN is the maximum). The scan selects without branching on the data (which element wins is
/// unpredictable, and mispredicted branches took most of the time); a NaN, rare, sends it to a second scan.
#[inline]
fn window_max<T: Float>(plane: &[T], w: usize, (y0, y1): (usize, usize), (x0, x1): (usize, usize)) -> usize {
    let mut best = y0 * w + x0;
    let mut bv = plane[best];
    let mut nan = false;
    for iy in y0..y1 {
        for (i, &v) in plane.iter().enumerate().take(iy * w + x1).skip(iy * w + x0) {
            let gt = v > bv;
            best = if gt { i } else { best };
            bv = if gt { v } else { bv };
            nan |= v.is_nan();
        }
    }
    if nan {
        let mut nans = (y0..y1).flat_map(|iy| iy * w + x0..iy * w + x1).filter(|&i| plane[i].is_nan());
        return nans.next().unwrap_or(best);
    }
    best
}

#[cfg(test)]
mod tests;
