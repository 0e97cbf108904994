//! Winograd convolution F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks",
//! 2015) for 3x3 kernels at stride 1: every 2 x 2 block of outputs from a 4 x 4 block of inputs with 16
//! multiplications per input channel instead of 36, 2.25x fewer than the direct convolution or im2col + GEMM.
//!
//! One output tile `y = A^T [(G w G^T) ⊙ (B^T d B)] A` with the input tile `d` (4 x 4, tiles overlapping by
//! two rows and columns), the kernel `w` (3 x 3) and
//!
//! ```text
//!       | 1  0 -1  0 |        | 1    0    0  |
//! B^T = | 0  1  1  0 |    G = | 1/2  1/2  1/2 |    A^T = | 1  1  1  0 |
//!       | 0 -1  1  0 |        | 1/2 -1/2  1/2 |          | 0  1 -1 -1 |
//!       | 0  1  0 -1 |        | 0    0    1  |
//! ```
//!
//! Summed over input channels, the 16 elementwise products become 16 matrix products: with
//! `U[ξ]` `[O, C]` the transformed kernels and `V[ξ]` `[C, tiles]` the transformed input tiles of a chunk,
//! `M[ξ] = U[ξ] V[ξ]` `[O, tiles]` (`ξ` the 16 positions of a 4 x 4 tile), and `A^T M A` per output channel
//! and tile gives the outputs. The three convolution kernels:
//! - [`conv2d`]: as above, the bias added by the output transform.
//! - [`conv_input_grad`]: at stride 1 the input gradient is itself a 3x3 convolution, of the output gradient
//!   with the kernel flipped in both axes and its channels transposed (`[C, O, 3, 3]`), with `2 - top` rows
//!   and `2 - left` columns of padding (negative: rows cropped; the kernel reads zeros outside its input).
//! - [`conv_weight_grad`]: the adjoint of the forward in `w`: `dU[ξ] = sum over tiles of (A g A^T)[ξ] V[ξ]^T`
//!   (16 products `[O, tiles] · [tiles, C]` accumulated over chunks), then `dw = G^T dU G`.
//!
//! Only the rounding differs from the direct sum (the transforms add and subtract; `G`'s halves are exact).
//! How a batch is cut depends only on the sizes: at most [`GROUPS`] groups of whole images (the units
//! handed to threads, and the weight gradient's partial sums, added in group order), each cut into chunks
//! of at most [`TILES`] tiles (one set of 16 products each), so the results are bit-identical at any
//! thread count. Which calls take this path: [`applies`].

pub use super::groups::GROUPS;
use super::groups::{group_images, plan_groups, run};
use super::lowered::{mm, overwritten, with_scratch, zeroed};
use super::{Window2d, WindowDims};
use crate::error::Result;
use crate::float::Float;
use crate::kernels::gemm::MatRef;
use std::cell::Cell;
use std::ops::Range;

/// Tiles per chunk at most: the transformed input of a chunk (`16 C TILES` elements) and its products
/// (`16 O TILES`) stay within the core's 1 MiB L2 cache for 64 channels of `f32` at 128 tiles.
pub const TILES: usize = 128;

/// Input and output channels from which [`Policy::Auto`] takes the Winograd path: below them the transforms
/// (linear in `C + O`) cost more than the products save (`C O`).
pub const MIN_CHANNELS: usize = 16;

/// Output rows and columns from which [`Policy::Auto`] takes the Winograd path. Measured: 2x faster than
/// im2col + GEMM on c3's 32 x 32 images (64 channels), 1.4x slower on c1's second convolution (16 -> 32
/// channels on 4 x 4 images: two tiles per tile row, so the per-row work of the transforms dominates).
/// Sizes in between were not measured; 16 (eight tiles per tile row) is a conservative guess.
pub const MIN_SIZE: usize = 16;

/// Which 3x3, stride-1 convolutions run through this kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// When both channel counts reach [`MIN_CHANNELS`] and the output both [`MIN_SIZE`] rows and columns
    /// (the default).
    #[default]
    Auto,
    /// Every 3x3, stride-1 convolution (for tests and benchmarks).
    Always,
    /// Never: im2col + GEMM for every convolution.
    Never,
}

thread_local! {
    static POLICY: Cell<Policy> = const { Cell::new(Policy::Auto) };
}

/// Sets the [`Policy`] of the convolutions called from this thread (the decision is taken on the calling
/// thread, so it holds for the work the call hands to other threads too). For tests and benchmarks; results
/// differ only in rounding.
///
/// ```
/// use tapegrad::kernels::conv::winograd::{Policy, policy, set_policy};
/// set_policy(Policy::Never);
/// assert_eq!(policy(), Policy::Never);
/// set_policy(Policy::Auto);
/// ```
pub fn set_policy(p: Policy) {
    POLICY.with(|c| c.set(p));
}

/// The [`Policy`] of this thread.
pub fn policy() -> Policy {
    POLICY.with(Cell::get)
}

/// Whether a convolution under `win` on sizes `d` with `o` output channels (and its two derivatives) takes
/// the Winograd path: a 3x3 kernel at stride 1, and the policy's thresholds.
pub fn applies(d: &WindowDims, win: &Window2d, o: usize) -> bool {
    let shape = (win.kh, win.kw, win.sh, win.sw) == (3, 3, 1, 1);
    shape
        && match policy() {
            Policy::Auto => d.c.min(o) >= MIN_CHANNELS && d.oh.min(d.ow) >= MIN_SIZE,
            Policy::Always => true,
            Policy::Never => false,
        }
}

/// The input transform of a chunk's tiles: images `x` (`img` elements each, numbered from the group's
/// first), tiles `r` of the group, into `v`.
struct InputPass<'a, T> {
    x: &'a [T],
    img: usize,
    g: &'a Geom,
    r: Range<usize>,
    v: &'a mut [T],
    rows: &'a mut [T],
}

impl<T: Float> InputPass<'_, T> {
    fn run(self) {
        let (th, tw) = self.g.tiles();
        let tc = self.r.len();
        // Channel by channel, so that each channel's input rows are read in order (a pass over all channels
        // per tile row would jump between as many pages as there are channels).
        for ch in 0..self.g.c {
            for seg in segments(self.r.clone(), tw) {
                let (i, ty) = split_row(seg.row, th);
                let xi = &self.x[i * self.img..(i + 1) * self.img];
                transform_input(xi, self.g, ch, ty, &seg, self.v, tc, self.rows);
            }
        }
    }
}

/// The output transform of a chunk's tiles `r`: the products `m` (`cout` channels) into the group's images
/// `y`, plus the bias.
struct OutputPass<'a, T> {
    m: &'a [T],
    cout: usize,
    g: &'a Geom,
    r: Range<usize>,
    y: &'a mut [T],
    bias: Option<&'a [T]>,
}

impl<T: Float> OutputPass<'_, T> {
    fn run(self) {
        let (th, tw) = self.g.tiles();
        let (tc, oimg) = (self.r.len(), self.cout * self.g.oh * self.g.ow);
        for oc in 0..self.cout {
            for seg in segments(self.r.clone(), tw) {
                let (i, ty) = split_row(seg.row, th);
                let yi = &mut self.y[i * oimg..(i + 1) * oimg];
                transform_output(self.m, (self.cout, oc), tc, ty, &seg, yi, (self.g.oh, self.g.ow), self.bias);
            }
        }
    }
}

/// The weight gradient's two transforms of a chunk's tiles `r`: the inputs `x` into `v` and the output
/// gradients `gs` (`o` channels) into `t`, images numbered from the group's first.
struct GradPass<'a, T> {
    x: &'a [T],
    gs: &'a [T],
    o: usize,
    g: &'a Geom,
    r: Range<usize>,
    v: &'a mut [T],
    t: &'a mut [T],
    rows: &'a mut [T],
}

impl<T: Float> GradPass<'_, T> {
    fn run(self) {
        let g = self.g;
        let (th, tw) = g.tiles();
        let (tc, img, gimg) = (self.r.len(), g.c * g.h * g.w, self.o * g.oh * g.ow);
        for ch in 0..g.c {
            for seg in segments(self.r.clone(), tw) {
                let (i, ty) = split_row(seg.row, th);
                transform_input(&self.x[i * img..(i + 1) * img], g, ch, ty, &seg, self.v, tc, self.rows);
            }
        }
        for oc in 0..self.o {
            for seg in segments(self.r.clone(), tw) {
                let (i, ty) = split_row(seg.row, th);
                let gi = &self.gs[i * gimg..(i + 1) * gimg];
                transform_grad(gi, (self.o, oc), (g.oh, g.ow), ty, &seg, self.t, tc, self.rows);
            }
        }
    }
}

/// The geometry of one stride-1 3x3 correlation: `out[oy, ox] = sum x[oy + ki - top, ox + kj - left] k[ki, kj]`
/// over `n` images of `c` channels `h x w`, zero outside the input, `oh x ow` outputs.
#[derive(Debug, Clone, Copy)]
struct Geom {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    top: isize,
    left: isize,
}

impl Geom {
    /// Tile rows, tile columns.
    fn tiles(&self) -> (usize, usize) {
        (self.oh.div_ceil(2), self.ow.div_ceil(2))
    }

    /// The images of group `g` of `groups`.
    fn group(&self, g: usize, groups: usize) -> Range<usize> {
        group_images(self.n, g, groups)
    }

    /// Groups for this batch, and the threads they run on (1: the calling thread).
    fn plan(&self, cout: usize) -> (usize, usize) {
        plan_groups(self.n, [self.c, cout, 9, self.oh, self.ow].iter().fold(self.n, |a, &v| a.saturating_mul(v)))
    }
}

/// A run of tiles of one tile row: global tile row `row` of the chunk's group (image `row / th`, tile row
/// `row % th`, [`split_row`]), tile columns `tx0..tx1`, at column `col` of the chunk's matrices.
#[derive(Debug, Clone, Copy)]
struct Segment {
    row: usize,
    tx0: usize,
    tx1: usize,
    col: usize,
}

/// The chunks (tile ranges) of a group of `imgs` images of `tpi` tiles each.
fn chunks(imgs: usize, tpi: usize) -> impl Iterator<Item = Range<usize>> {
    let total = imgs * tpi;
    (0..total).step_by(TILES).map(move |t| t..(t + TILES).min(total))
}

/// The segments of the tile range `r` (tiles numbered image by image, row by row, `tw` per row).
fn segments(r: Range<usize>, tw: usize) -> impl Iterator<Item = Segment> {
    let mut t = r.start;
    std::iter::from_fn(move || {
        if t >= r.end {
            return None;
        }
        let (row, tx0) = (t / tw, t % tw);
        let tx1 = tw.min(tx0 + r.end - t);
        let seg = Segment { row, tx0, tx1, col: t - r.start };
        t += tx1 - tx0;
        Some(seg)
    })
}

/// `(image, tile row)` of the global tile row `row` with `th` tile rows per image.
fn split_row(row: usize, th: usize) -> (usize, usize) {
    (row / th, row % th)
}

/// The 16 transformed kernels `U[ξ] = G k G^T` `[16, rows, cols]` of `w` `[O, C, 3, 3]`: for the forward
/// `U[ξ][o][c]` from `w[o][c]`; `flip`: `U[ξ][c][o]` from `w[o][c]` flipped in both axes (the input
/// gradient's kernel).
fn transform_kernels<T: Float>(w: &[T], o: usize, c: usize, flip: bool) -> Vec<T> {
    let (rows, cols) = if flip { (c, o) } else { (o, c) };
    let mut u = vec![T::zero(); 16 * rows * cols];
    let half = T::of(0.5);
    for oo in 0..o {
        for cc in 0..c {
            let k = &w[(oo * c + cc) * 9..][..9];
            let at = |i: usize, j: usize| if flip { k[(2 - i) * 3 + (2 - j)] } else { k[i * 3 + j] };
            // G k: rows k0, (k0 + k1 + k2) / 2, (k0 - k1 + k2) / 2, k2 (per column j); then the same on the
            // columns of each of those rows.
            let g = |a: T, b: T, cv: T| [a, (a + b + cv) * half, (a - b + cv) * half, cv];
            let (c0, c1, c2) =
                (g(at(0, 0), at(1, 0), at(2, 0)), g(at(0, 1), at(1, 1), at(2, 1)), g(at(0, 2), at(1, 2), at(2, 2)));
            let (r, col) = if flip { (cc, oo) } else { (oo, cc) };
            for (i, ((a, b), cv)) in c0.into_iter().zip(c1).zip(c2).enumerate() {
                for (j, v) in g(a, b, cv).into_iter().enumerate() {
                    u[((i * 4 + j) * rows + r) * cols + col] = v;
                }
            }
        }
    }
    u
}

/// Columns `x0, x0 + 2, ...` of `src` into `even` and `x0 + 1, x0 + 3, ...` into `odd` (as many as `even`
/// holds), zero outside `src`.
#[inline(always)]
fn deinterleave<T: Float>(src: &[T], x0: isize, even: &mut [T], odd: &mut [T]) {
    let (m, w) = (even.len() as isize, src.len() as isize);
    // Pairs k with both columns inside: x0 + 2k >= 0 and x0 + 2k + 1 < w.
    let lo = ((-x0).max(0) + 1).div_euclid(2).clamp(0, m);
    let hi = (w - x0).div_euclid(2).clamp(lo, m);
    let get = |c: isize| if (0..w).contains(&c) { src[c as usize] } else { T::zero() };
    for k in 0..lo {
        even[k as usize] = get(x0 + 2 * k);
        odd[k as usize] = get(x0 + 2 * k + 1);
    }
    for k in hi..m {
        even[k as usize] = get(x0 + 2 * k);
        odd[k as usize] = get(x0 + 2 * k + 1);
    }
    let (lo, hi) = (lo as usize, hi as usize);
    let s0 = (x0 + 2 * lo as isize) as usize;
    split_pairs(&src[s0..s0 + 2 * (hi - lo)], &mut even[lo..hi], &mut odd[lo..hi]);
}

/// `e[k] = s[2k]` and `o[k] = s[2k + 1]` (`s` holds `2 e.len()` elements): blocks of four pairs, written so
/// that they compile to vector shuffles, then the rest one pair at a time.
#[inline(always)]
fn split_pairs<T: Float>(s: &[T], e: &mut [T], o: &mut [T]) {
    let n = e.len();
    let (s, o) = (&s[..2 * n], &mut o[..n]);
    let (mut sc, mut ec, mut oc) = (s.chunks_exact(8), e.chunks_exact_mut(4), o.chunks_exact_mut(4));
    for ((p, e4), o4) in (&mut sc).zip(&mut ec).zip(&mut oc) {
        e4.copy_from_slice(&[p[0], p[2], p[4], p[6]]);
        o4.copy_from_slice(&[p[1], p[3], p[5], p[7]]);
    }
    for ((p, e), o) in sc.remainder().chunks_exact(2).zip(ec.into_remainder()).zip(oc.into_remainder()) {
        *e = p[0];
        *o = p[1];
    }
}

/// `d[2j] = a[j]` and `d[2j + 1] = b[j]` (`d` holds `2 a.len()` elements), the inverse of [`split_pairs`].
#[inline(always)]
fn join_pairs<T: Float>(a: &[T], b: &[T], d: &mut [T]) {
    let n = a.len();
    let (b, d) = (&b[..n], &mut d[..2 * n]);
    let (mut ac, mut bc, mut dc) = (a.chunks_exact(4), b.chunks_exact(4), d.chunks_exact_mut(8));
    for ((a4, b4), p) in (&mut ac).zip(&mut bc).zip(&mut dc) {
        p.copy_from_slice(&[a4[0], b4[0], a4[1], b4[1], a4[2], b4[2], a4[3], b4[3]]);
    }
    for ((a, b), p) in ac.remainder().iter().zip(bc.remainder()).zip(dc.into_remainder().chunks_exact_mut(2)) {
        p[0] = *a;
        p[1] = *b;
    }
}

/// Input transform `B^T d B` of the tiles of `seg` for channel `ch` of the image `xi` (`[c, h, w]`), into
/// `v[(ξ c + ch) tc + seg.col + j]`. `rows` holds `8 (tx1 - tx0 + 1)` elements of scratch. Each of a tile
/// row's four input rows is split into its even and odd columns, so that every step below reads and writes
/// contiguous runs (and vectorises): tile `j` reads columns `2j .. 2j + 3`, i.e. `e[j], o[j], e[j + 1],
/// o[j + 1]`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn transform_input<T: Float>(
    xi: &[T],
    g: &Geom,
    ch: usize,
    ty: usize,
    seg: &Segment,
    v: &mut [T],
    tc: usize,
    rows: &mut [T],
) {
    let nt = seg.tx1 - seg.tx0;
    let m = nt + 1;
    let x0 = 2 * seg.tx0 as isize - g.left;
    let plane = g.h * g.w;
    let stride = g.c * tc;
    let (ev, od) = rows[..8 * m].split_at_mut(4 * m);
    for r in 0..4 {
        let (e, o) = (&mut ev[r * m..(r + 1) * m], &mut od[r * m..(r + 1) * m]);
        let iy = 2 * ty as isize - g.top + r as isize;
        if iy < 0 || iy >= g.h as isize {
            e.fill(T::zero());
            o.fill(T::zero());
        } else {
            deinterleave(&xi[ch * plane + iy as usize * g.w..][..g.w], x0, e, o);
        }
    }
    // B^T d: rows d0 - d2, d1 + d2, d2 - d1, d1 - d3, on the even and the odd columns alike.
    for half in [&mut *ev, &mut *od] {
        let (d0, rest) = half.split_at_mut(m);
        let (d1, rest) = rest.split_at_mut(m);
        let (d2, d3) = rest.split_at_mut(m);
        for k in 0..m {
            let (a, b, c, e) = (d0[k], d1[k], d2[k], d3[k]);
            d0[k] = a - c;
            d1[k] = b + c;
            d2[k] = c - b;
            d3[k] = b - e;
        }
    }
    // (B^T d) B: per tile, columns p0 - p2, p1 + p2, p2 - p1, p1 - p3 with p = (e[j], o[j], e[j+1], o[j+1]).
    let base = ch * tc + seg.col;
    for i in 0..4 {
        let (e, o) = (&ev[i * m..(i + 1) * m], &od[i * m..(i + 1) * m]);
        let at = |q: usize| (4 * i + q) * stride + base;
        for ((out, e), e1) in v[at(0)..][..nt].iter_mut().zip(e).zip(&e[1..]) {
            *out = *e - *e1;
        }
        for ((out, o), e1) in v[at(1)..][..nt].iter_mut().zip(o).zip(&e[1..]) {
            *out = *o + *e1;
        }
        for ((out, o), e1) in v[at(2)..][..nt].iter_mut().zip(o).zip(&e[1..]) {
            *out = *e1 - *o;
        }
        for ((out, o), o1) in v[at(3)..][..nt].iter_mut().zip(o).zip(&o[1..]) {
            *out = *o - *o1;
        }
    }
}

/// Tiles the output transform handles at once (its four results per tile go through stack buffers).
const RUN: usize = 32;

/// Output transform `A^T M A` of channel `oc` (of `o`) of the tiles of `seg`: `m[(ξ o + oc) tc + seg.col + j]` to the image `yi`
/// (`[o, oh, ow]`), plus `bias[oc]`. The 16 inputs of each tile are read from 16 contiguous runs and its
/// four outputs computed for `RUN` tiles at a time (vectorised), then interleaved into the two output rows.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn transform_output<T: Float>(
    m: &[T],
    (o, oc): (usize, usize),
    tc: usize,
    ty: usize,
    seg: &Segment,
    yi: &mut [T],
    (oh, ow): (usize, usize),
    bias: Option<&[T]>,
) {
    let stride = o * tc;
    let nt = seg.tx1 - seg.tx0;
    let (y0, two_rows) = (2 * ty, 2 * ty + 1 < oh);
    let mut out = [[T::zero(); RUN]; 4];
    let bv = bias.map_or(T::zero(), |b| b[oc]);
    let plane = &mut yi[oc * oh * ow..(oc + 1) * oh * ow];
    let (r0, r1) = plane[y0 * ow..].split_at_mut(ow);
    for j0 in (0..nt).step_by(RUN) {
        let n = RUN.min(nt - j0);
        let mut a: [&[T]; 16] = [&[]; 16];
        for (xi, run) in a.iter_mut().enumerate() {
            *run = &m[xi * stride + oc * tc + seg.col + j0..][..n];
        }
        let [o0, o1, o2, o3] = &mut out;
        for j in 0..n {
            // A^T M: rows s = m0 + m1 + m2 and t = m1 - m2 - m3 (per column k), then the same on columns.
            let s = |k: usize| a[k][j] + a[4 + k][j] + a[8 + k][j];
            let t = |k: usize| a[4 + k][j] - a[8 + k][j] - a[12 + k][j];
            let (s0, s1, s2, s3) = (s(0), s(1), s(2), s(3));
            let (t0, t1, t2, t3) = (t(0), t(1), t(2), t(3));
            o0[j] = s0 + s1 + s2 + bv;
            o1[j] = s1 - s2 - s3 + bv;
            o2[j] = t0 + t1 + t2 + bv;
            o3[j] = t1 - t2 - t3 + bv;
        }
        let x = 2 * (seg.tx0 + j0);
        let full = n.min((ow - x) / 2); // tiles whose two columns are inside
        join_pairs(&o0[..full], &o1[..full], &mut r0[x..x + 2 * full]);
        if full < n {
            r0[x + 2 * full] = o0[full];
        }
        if two_rows {
            join_pairs(&o2[..full], &o3[..full], &mut r1[x..x + 2 * full]);
            if full < n {
                r1[x + 2 * full] = o2[full];
            }
        }
    }
}

/// The stride-1 3x3 correlation of `x` (geometry `g`) with the transformed kernels `u` `[16, cout, g.c]`,
/// plus `bias`: `[g.n, cout, g.oh, g.ow]`.
fn correlate<T: Float>(
    op: &'static str,
    x: &[T],
    g: &Geom,
    u: &[T],
    cout: usize,
    bias: Option<&[T]>,
) -> Result<Vec<T>> {
    correlate_planned(op, x, g, u, cout, bias, g.plan(cout))
}

/// [`correlate`] cut into `groups` groups run on `threads` threads.
fn correlate_planned<T: Float>(
    op: &'static str,
    x: &[T],
    g: &Geom,
    u: &[T],
    cout: usize,
    bias: Option<&[T]>,
    (groups, threads): (usize, usize),
) -> Result<Vec<T>> {
    let (oimg, img) = (cout * g.oh * g.ow, g.c * g.h * g.w);
    let mut y = overwritten(op, &[g.n, cout, g.oh, g.ow])?; // the output transform writes every element
    if y.is_empty() {
        return Ok(y);
    }
    let (th, tw) = g.tiles();
    let mut parts = Vec::with_capacity(groups);
    let mut rest = &mut y[..];
    for gi in 0..groups {
        let (part, r) = rest.split_at_mut(g.group(gi, groups).len() * oimg);
        parts.push(part);
        rest = r;
    }
    run(groups, threads, parts, |gi, part: &mut [T], serial| {
        let images = g.group(gi, groups);
        let xs = &x[images.start * img..images.end * img];
        let buf = 16 * (g.c + cout) * TILES + 8 * (tw + 1);
        with_scratch(buf, |s: &mut [T]| {
            for r in chunks(images.len(), th * tw) {
                let tc = r.len();
                let (v, s) = s.split_at_mut(16 * g.c * tc);
                let (m, rows) = s.split_at_mut(16 * cout * tc);
                InputPass { x: xs, img, g, r: r.clone(), v: &mut *v, rows }.run();
                for xi in 0..16 {
                    let uv = MatRef::row_major(cout, g.c, xi * cout * g.c, false);
                    let vv = MatRef::row_major(g.c, tc, xi * g.c * tc, false);
                    mm(serial, u, uv, v, vv, T::zero(), m, xi * cout * tc);
                }
                OutputPass { m, cout, g, r, y: &mut *part, bias }.run();
            }
        });
    });
    Ok(y)
}

/// The correlation geometry of a forward convolution under `win` (3x3, stride 1) on sizes `d`.
fn forward_geom(d: &WindowDims, win: &Window2d) -> Geom {
    Geom { n: d.n, c: d.c, h: d.h, w: d.w, oh: d.oh, ow: d.ow, top: win.top as isize, left: win.left as isize }
}

/// `y = conv2d(x, w) + b` for a 3x3 kernel at stride 1 (callers check [`applies`]): `x` `[n, c, h, w]` (sizes
/// in `d`), `w` `[o, c, 3, 3]`, optional `b` `[o]`; returns `y` `[n, o, oh, ow]`.
///
/// # Errors
/// [`crate::Error::TooLarge`] or [`crate::Error::Allocation`] naming `conv2d` when `y` cannot be allocated.
pub fn conv2d<T: Float>(x: &[T], w: &[T], b: Option<&[T]>, d: &WindowDims, win: &Window2d, o: usize) -> Result<Vec<T>> {
    let u = transform_kernels(w, o, d.c, false);
    correlate("conv2d", x, &forward_geom(d, win), &u, o, b)
}

/// The input gradient of a 3x3, stride-1 convolution: `g` `[n, o, oh, ow]`, `w` `[o, c, 3, 3]`; returns `dx`
/// `[n, c, h, w]` (sizes in `d`): the correlation of `g` with the flipped, channel-transposed kernel.
///
/// # Errors
/// As [`conv2d`], naming `conv_input_grad`.
pub fn conv_input_grad<T: Float>(g: &[T], w: &[T], d: &WindowDims, win: &Window2d, o: usize) -> Result<Vec<T>> {
    let u = transform_kernels(w, o, d.c, true);
    // dx[iy, ix] = sum g[oy, ox] w[iy - oy + top, ix - ox + left]: a correlation of g (o channels, oh x ow)
    // with the flipped kernel, reading g at iy + ki - (2 - top).
    let geom = Geom {
        n: d.n,
        c: o,
        h: d.oh,
        w: d.ow,
        oh: d.h,
        ow: d.w,
        top: 2 - win.top as isize,
        left: 2 - win.left as isize,
    };
    correlate("conv_input_grad", g, &geom, &u, d.c, None)
}

/// Output-gradient transform `A g A^T` of the tiles of `seg` for channel `oc` (of `o`) of the gradient image `gi`
/// (`[o, oh, ow]`, zero past its edge), into `t[(ξ o + oc) tc + seg.col + j]`. `rows` holds `4 (tx1 - tx0)`
/// elements of scratch: the tile row's two gradient rows split into even and odd columns, as in
/// [`transform_input`], so every step runs over contiguous runs.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn transform_grad<T: Float>(
    gi: &[T],
    (o, oc): (usize, usize),
    (oh, ow): (usize, usize),
    ty: usize,
    seg: &Segment,
    t: &mut [T],
    tc: usize,
    rows: &mut [T],
) {
    let stride = o * tc;
    let nt = seg.tx1 - seg.tx0;
    let (y0, two_rows) = (2 * ty, 2 * ty + 1 < oh);
    let x0 = 2 * seg.tx0 as isize;
    let plane = &gi[oc * oh * ow..(oc + 1) * oh * ow];
    let (a, b) = rows[..4 * nt].split_at_mut(2 * nt);
    let ((a0, a1), (b0, b1)) = (a.split_at_mut(nt), b.split_at_mut(nt));
    deinterleave(&plane[y0 * ow..(y0 + 1) * ow], x0, a0, a1);
    if two_rows {
        deinterleave(&plane[(y0 + 1) * ow..(y0 + 2) * ow], x0, b0, b1);
    } else {
        b0.fill(T::zero());
        b1.fill(T::zero());
    }
    let (a0, a1, b0, b1) = (&*a0, &*a1, &*b0, &*b1);
    // A g: rows (p, q) = (g0, g0 + g1, g0 - g1, -g1) of the tile's two columns; then per row the
    // columns p, p + q, p - q, -q.
    let base = oc * tc + seg.col;
    for i in 0..4 {
        let at = |q: usize| (4 * i + q) * stride + base;
        for j in 0..nt {
            let (p, q) = match i {
                0 => (a0[j], a1[j]),
                1 => (a0[j] + b0[j], a1[j] + b1[j]),
                2 => (a0[j] - b0[j], a1[j] - b1[j]),
                _ => (-b0[j], -b1[j]),
            };
            t[at(0) + j] = p;
            t[at(1) + j] = p + q;
            t[at(2) + j] = p - q;
            t[at(3) + j] = -q;
        }
    }
}

/// The weight gradient of a 3x3, stride-1 convolution: `x` `[n, c, h, w]` (sizes in `d`), `g`
/// `[n, o, oh, ow]`; returns `dw` `[o, c, 3, 3]`, `G^T (sum over tiles of (A g A^T) ⊙ (B^T x B)) G`.
///
/// # Errors
/// As [`conv2d`], naming `conv_weight_grad`.
pub fn conv_weight_grad<T: Float>(x: &[T], g: &[T], d: &WindowDims, win: &Window2d, o: usize) -> Result<Vec<T>> {
    weight_grad_planned(x, g, d, win, o, forward_geom(d, win).plan(o))
}

/// [`conv_weight_grad`] cut into `groups` groups run on `threads` threads.
fn weight_grad_planned<T: Float>(
    x: &[T],
    g: &[T],
    d: &WindowDims,
    win: &Window2d,
    o: usize,
    (groups, threads): (usize, usize),
) -> Result<Vec<T>> {
    let op = "conv_weight_grad";
    let geo = forward_geom(d, win);
    let mut dw = zeroed(op, &[o, d.c, 3, 3])?;
    if dw.is_empty() || d.n == 0 {
        return Ok(dw);
    }
    let (th, tw) = geo.tiles();
    let (img, gimg, part) = (d.c * d.h * d.w, o * d.oh * d.ow, 16 * o * d.c);
    let mut partials = zeroed::<T>(op, &[groups, part])?;
    let parts: Vec<&mut [T]> = partials.chunks_mut(part).collect();
    run(groups, threads, parts, |gi, du: &mut [T], serial| {
        let images = geo.group(gi, groups);
        let buf = 16 * (d.c + o) * TILES + 8 * (tw + 1);
        with_scratch(buf, |s: &mut [T]| {
            for (k, r) in chunks(images.len(), th * tw).enumerate() {
                let tc = r.len();
                let (v, s) = s.split_at_mut(16 * d.c * tc);
                let (t, rows) = s.split_at_mut(16 * o * tc);
                let (xs, gs) = (&x[images.start * img..images.end * img], &g[images.start * gimg..images.end * gimg]);
                GradPass { x: xs, gs, o, g: &geo, r: r.clone(), v: &mut *v, t: &mut *t, rows }.run();
                let beta = if k == 0 { T::zero() } else { T::one() };
                for xi in 0..16 {
                    let tv = MatRef::row_major(o, tc, xi * o * tc, false);
                    let vv = MatRef::row_major(d.c, tc, xi * d.c * tc, true);
                    mm(serial, t, tv, v, vv, beta, du, xi * o * d.c);
                }
            }
        });
    });
    // The groups' sums in group order, then dw = G^T dU G per (o, c).
    let (first, rest) = partials.split_at_mut(part);
    for p in rest.chunks(part) {
        first.iter_mut().zip(p).for_each(|(a, &v)| *a += v);
    }
    let half = T::of(0.5);
    let gt = |a: T, b: T, c: T, e: T| [a + (b + c) * half, (b - c) * half, (b + c) * half + e];
    for (oc, kernel) in dw.chunks_mut(9).enumerate() {
        let at = |xi: usize| first[xi * o * d.c + oc]; // `oc` runs over (o, c) pairs: dU[ξ] is [O, C]
        // G^T X: per column j, rows X0 + (X1 + X2) / 2, (X1 - X2) / 2, (X1 + X2) / 2 + X3.
        let mut cols = [[T::zero(); 3]; 4];
        for (j, col) in cols.iter_mut().enumerate() {
            *col = gt(at(j), at(4 + j), at(8 + j), at(12 + j));
        }
        for i in 0..3 {
            let row = gt(cols[0][i], cols[1][i], cols[2][i], cols[3][i]);
            kernel[i * 3..i * 3 + 3].copy_from_slice(&row);
        }
    }
    Ok(dw)
}

#[cfg(test)]
#[path = "winograd_tests.rs"]
mod tests;
