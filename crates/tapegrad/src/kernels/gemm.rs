//! The one place that calls the GEMM kernel (the `gemm` crate, which picks its AVX-512, FMA or scalar
//! kernel at run time), the one `unsafe` block it needs, and the global cap on the threads it uses.
//!
//! Matrices are described by a pointer-free [`MatRef`]: a slice, an offset, row and column strides. The
//! transposes that backward needs are expressed as swapped strides, never as copies.
//!
//! Why `gemm` and not `matrixmultiply`: on the AVX-512 machine of `docs/performance.md` it is faster at
//! every shape measured, by 8% at 1024^3 and by 25-45% at the skinny shapes of small-batch training.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// 0 means "not set": use every core the operating system offers.
static NUM_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Caps the number of threads a matrix product may use (1: single-threaded, no thread pool is touched).
/// The default is the number of cores available to the process. Products too small to gain from threads
/// run on the calling thread whatever the cap.
///
/// ```
/// tapegrad::set_num_threads(1);
/// assert_eq!(tapegrad::num_threads(), 1);
/// ```
pub fn set_num_threads(n: usize) {
    NUM_THREADS.store(n.max(1), Ordering::Relaxed);
}

/// The current cap on matrix-product threads (see [`set_num_threads`]).
pub fn num_threads() -> usize {
    match NUM_THREADS.load(Ordering::Relaxed) {
        0 => default_threads(),
        n => n,
    }
}

/// The core count, asked once: `available_parallelism` reads cgroup files on every call, which cost more
/// than a small product (it once took 80% of a training step).
fn default_threads() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Products with fewer multiply-adds than this run on the calling thread whatever the cap: handing a small
/// product to the thread pool costs more than it saves (the `mlp_step` bench, whose largest product is
/// 32 x 128 x 64, took 4.5x longer with the pool offered than without, most of it in the kernel's
/// scheduler). Measured again for products of 2^18 to 2^24 multiply-adds (`docs/performance.md`, "Two threads
/// and second order, third round"): LeNet-5's fully-connected products (64 x 400 x 120, 3.1M) were slower on
/// two threads than on one in every pass, and none under 2^22 gained; the convolution's own image split
/// starts at the same size.
const THREADED_MIN: usize = 1 << 22;

fn parallelism(work: usize) -> gemm::Parallelism {
    if work < THREADED_MIN {
        return gemm::Parallelism::None;
    }
    match num_threads() {
        1 => gemm::Parallelism::None,
        n => gemm::Parallelism::Rayon(n),
    }
}

/// A strided matrix view inside a slice.
#[derive(Clone, Copy, Debug)]
pub struct MatRef {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Element offset of `[0, 0]` in the slice.
    pub offset: usize,
    /// Stride between rows, in elements.
    pub rs: usize,
    /// Stride between columns, in elements.
    pub cs: usize,
}

impl MatRef {
    /// A row-major `rows x cols` matrix at `offset`, optionally read transposed.
    pub fn row_major(rows: usize, cols: usize, offset: usize, transposed: bool) -> Self {
        if transposed {
            MatRef { rows: cols, cols: rows, offset, rs: 1, cs: cols }
        } else {
            MatRef { rows, cols, offset, rs: cols, cs: 1 }
        }
    }

    /// Columns `j0..j1` of this view (`j0 <= j1 <= cols`).
    fn with_cols(&self, j0: usize, j1: usize) -> Self {
        MatRef { cols: j1 - j0, offset: self.offset + j0 * self.cs, ..*self }
    }

    /// Index one past the last element this view touches (`offset` for an empty view), computed with
    /// checked arithmetic: `None` when it overflows.
    fn end(&self) -> Option<usize> {
        if self.rows == 0 || self.cols == 0 {
            return Some(self.offset);
        }
        let last_row = (self.rows - 1).checked_mul(self.rs)?;
        let last_col = (self.cols - 1).checked_mul(self.cs)?;
        self.offset.checked_add(last_row)?.checked_add(last_col)?.checked_add(1)
    }

    /// Whether every element of the view lies inside a slice of `len` elements and both strides can be
    /// passed to the kernel as `isize` (the bounds the one `unsafe` call relies on).
    pub(crate) fn fits(&self, len: usize) -> bool {
        self.end().is_some_and(|e| e <= len) && self.rs <= isize::MAX as usize && self.cs <= isize::MAX as usize
    }
}

/// Whether the `m x n` row-major output at `c_off` lies inside a slice of `len` elements (checked).
fn output_fits(c_off: usize, m: usize, n: usize, len: usize) -> bool {
    m.checked_mul(n).and_then(|mn| c_off.checked_add(mn)).is_some_and(|e| e <= len) && n <= isize::MAX as usize
}

/// Element types with a GEMM kernel: `c = alpha * a b + beta * c`.
pub trait Gemm: Copy {
    /// Computes `c = alpha * a * b + beta * c` on strided views; `c` is row-major contiguous at `c_off`.
    /// With `beta` zero, `c` is only written, never read (it may hold anything, even NaN).
    ///
    /// # Panics
    /// When a view reaches outside its slice or the inner dimensions differ (a broken engine invariant:
    /// callers check shapes first).
    #[allow(clippy::too_many_arguments)]
    fn gemm(alpha: Self, a: &[Self], av: MatRef, b: &[Self], bv: MatRef, beta: Self, c: &mut [Self], c_off: usize);

    /// `a b` (the `m x n` row-major product) written into `out`, an empty buffer with room for `m n`
    /// elements, without zeroing it first: the kernel stores every element of a `beta = 0` product and
    /// reads none, so a fresh output skips a pass over memory as large as itself. Threads, thresholds and
    /// the result, bit for bit, are those of [`Gemm::gemm`] with `alpha = 1`, `beta = 0`.
    ///
    /// # Panics
    /// As [`Gemm::gemm`], and when `out` is not empty or has room for fewer than `m n` elements.
    fn gemm_fresh(a: &[Self], av: MatRef, b: &[Self], bv: MatRef, out: &mut Vec<Self>);

    /// `a b`, plus `bias` added to every row when given (the fully-connected layer's `x W^T + b`), written
    /// into `out`, an empty buffer with room for the `m x n` result. Large products with a transposed `b`
    /// go through a column-major product and a transpose, which is faster for them (`gemm_linear.rs`);
    /// the others are [`Gemm::gemm`] with `beta = 1` on the bias rows, or [`Gemm::gemm_fresh`]. The
    /// result, bit for bit, does not depend on [`num_threads`].
    ///
    /// # Panics
    /// As [`Gemm::gemm_fresh`], and when `bias` does not hold `n` values.
    fn linear_fresh(a: &[Self], av: MatRef, b: &[Self], bv: MatRef, bias: Option<&[Self]>, out: &mut Vec<Self>);
}

/// Products with at most this many multiply-adds (`m k n`) run in [`small_gemm`]: for the tiny matrices of
/// networks like XOR 2-4-1, the GEMM crate's setup (and, for some transposed shapes, a zeroed packing
/// buffer of tens of kilobytes) costs more than the arithmetic. Measured in `docs/performance.md`.
pub(crate) const SMALL: usize = 256;

/// `c = alpha a b + beta c` by plain loops, for the tiny products below [`SMALL`]. Rows of `c` are
/// contiguous; when `b`'s rows are too, the inner loop vectorises.
#[allow(clippy::too_many_arguments)]
fn small_gemm<T: num_traits::Float>(
    alpha: T,
    a: &[T],
    av: MatRef,
    b: &[T],
    bv: MatRef,
    beta: T,
    c: &mut [T],
    c_off: usize,
) {
    let (m, k, n) = (av.rows, av.cols, bv.cols);
    for i in 0..m {
        let row = &mut c[c_off + i * n..c_off + (i + 1) * n];
        if beta == T::zero() {
            row.fill(T::zero());
        } else if beta != T::one() {
            row.iter_mut().for_each(|x| *x = *x * beta);
        }
        for l in 0..k {
            let x = alpha * a[av.offset + i * av.rs + l * av.cs];
            let off = bv.offset + l * bv.rs;
            if bv.cs == 1 {
                for (r, &y) in row.iter_mut().zip(&b[off..off + n]) {
                    *r = *r + x * y;
                }
            } else {
                for (j, r) in row.iter_mut().enumerate() {
                    *r = *r + x * b[off + j * bv.cs];
                }
            }
        }
    }
}

/// A transposed right operand (`b` read down its stored rows) whose stored rows lie a multiple of this many
/// bytes apart is copied first into rows a cache line longer. At such strides (a 1024-wide `f32` weight in
/// `x W^T`) the kernel's packing reads addresses that share one L1 set: measured 70 GFLOP/s against 106 for
/// the same product with the copy included (116 against 190 on two threads; docs/performance.md).
const ALIASING_STRIDE: usize = 4096;

/// Products with at least this many multiply-adds take the padded copy (smaller ones gain less than the
/// copy costs).
const PADDED_MIN: usize = 1 << 21;

/// Extra elements per copied row: one cache line.
const PAD_BYTES: usize = 64;

/// Whether `b` (with `m k n` work) is the transposed operand that [`ALIASING_STRIDE`] describes.
fn needs_padded_copy<T>(bv: &MatRef, work: usize) -> bool {
    bv.rs == 1
        && bv.cols > 1
        && bv.rows <= bv.cs
        && (bv.cs * std::mem::size_of::<T>()).is_multiple_of(ALIASING_STRIDE)
        && work >= PADDED_MIN
}

/// Copies the stored rows of the transposed view `bv` (its columns) into `buf` with a padded row stride and
/// returns the view of the copy.
fn padded_copy<T: Copy + Default>(b: &[T], bv: &MatRef, buf: &mut Vec<T>) -> MatRef {
    let (k, n) = (bv.rows, bv.cols);
    let stride = k + PAD_BYTES / std::mem::size_of::<T>();
    // No overflow: the stored rows do not overlap (`k <= cs`, checked by `needs_padded_copy`), so `n k`
    // elements of `b` exist, and the padding adds 64 bytes per row. The buffer only grows, and is not
    // cleared: every row is overwritten below and the padding (what an earlier copy left there) is never
    // read, the view being `k` rows tall.
    if buf.len() < n * stride {
        buf.resize(n * stride, T::default());
    }
    for j in 0..n {
        let src = bv.offset + j * bv.cs;
        buf[j * stride..j * stride + k].copy_from_slice(&b[src..src + k]);
    }
    MatRef { rows: k, cols: n, offset: 0, rs: 1, cs: stride }
}

/// Element types with a single-threaded product: the convolution kernels split a batch's images across
/// threads themselves, and each thread's products must then not offer work to the pool again.
pub trait GemmSerial: Gemm {
    /// [`Gemm::gemm`] on the calling thread only, whatever [`num_threads`] says.
    ///
    /// # Panics
    /// As [`Gemm::gemm`].
    #[allow(clippy::too_many_arguments)]
    fn gemm_serial(
        alpha: Self,
        a: &[Self],
        av: MatRef,
        b: &[Self],
        bv: MatRef,
        beta: Self,
        c: &mut [Self],
        c_off: usize,
    );
}

/// Where a product may run: on the pool up to [`num_threads`], or on the calling thread only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Threads {
    /// Up to [`num_threads`] threads, for products of at least [`THREADED_MIN`] multiply-adds.
    Cap,
    /// The calling thread only.
    One,
}

/// Element types with a per-thread buffer for the padded copy (see [`ALIASING_STRIDE`]), kept for the next
/// product on the thread.
pub(crate) trait Padded: num_traits::Float + Default + Send + Sync + 'static {
    /// This thread's buffer.
    fn padded() -> &'static std::thread::LocalKey<std::cell::RefCell<Vec<Self>>>;
    /// This thread's buffer for column-major results (`gemm_linear.rs`).
    fn column_major() -> &'static std::thread::LocalKey<std::cell::RefCell<Vec<Self>>>;
}

/// The product's `(m, k, n)`, after checking the invariants every kernel call relies on: the inner
/// dimensions agree and each view lies inside its slice (checked arithmetic in [`MatRef::fits`], which also
/// keeps every stride within `isize`).
///
/// # Panics
/// When either does not hold (a broken engine invariant).
pub(crate) fn checked_dims<T>(a: &[T], av: MatRef, b: &[T], bv: MatRef) -> (usize, usize, usize) {
    assert_eq!(av.cols, bv.rows, "invariant: gemm inner dimensions agree");
    assert!(av.fits(a.len()) && bv.fits(b.len()), "invariant: gemm views inside their slices");
    (av.rows, av.cols, bv.cols)
}

/// Where a product's `m x n` row-major result goes.
enum Out<'a, T> {
    /// `c[c_off..c_off + m n]`, initialised: read when `beta` is not zero.
    Slice(&'a mut [T], usize),
    /// The spare capacity of an empty buffer with room for `m n` elements: written, never read (`beta` must
    /// be zero), and the buffer's length set to `m n` after.
    Fresh(&'a mut Vec<T>),
}

/// `c = alpha a b + beta c` (see [`Gemm::gemm`]) with the threads `threads` allows: the tiny-product loops,
/// the empty sum, the padded copy of a 4 KiB-strided transposed operand, then the checked kernel call.
/// A [`Out::Fresh`] output is zeroed first only on the paths other than the kernel's (the tiny and small
/// products, the empty sum), whose outputs are small.
#[allow(clippy::too_many_arguments)]
fn product<T: Padded + super::gemm_small::Small>(
    threads: Threads,
    alpha: T,
    a: &[T],
    av: MatRef,
    b: &[T],
    bv: MatRef,
    beta: T,
    out: Out<'_, T>,
) {
    let (m, k, n) = checked_dims(a, av, b, bv);
    let len = m.checked_mul(n).expect("invariant: the output's size fits in usize");
    // The views fit in their slices, so `m k` and `k n` are element counts; their product with the third
    // dimension may still exceed usize (it only chooses a code path): saturate.
    let work = m.saturating_mul(k).saturating_mul(n);
    let by_kernel = m > 0 && n > 0 && k > 0 && work > SMALL && !super::gemm_small::takes_small(m, k, n);
    let (c, c_off) = match out {
        Out::Fresh(buf) if by_kernel => {
            assert!(beta == T::zero(), "invariant: a fresh output is only written");
            return product_kernel(threads, alpha, a, av, b, bv, beta, Out::Fresh(buf), work);
        }
        Out::Fresh(buf) => {
            assert!(buf.is_empty(), "invariant: a fresh output starts empty");
            buf.resize(len, T::zero());
            (&mut buf[..], 0)
        }
        Out::Slice(c, c_off) => (c, c_off),
    };
    assert!(output_fits(c_off, m, n, c.len()), "invariant: gemm output inside its slice");
    if m == 0 || n == 0 {
        return;
    }
    if work <= SMALL {
        small_gemm(alpha, a, av, b, bv, beta, c, c_off);
        return;
    }
    if super::gemm_small::takes_small(m, k, n) && k > 0 {
        return super::gemm_small::small_product(alpha, a, av, b, bv, beta, c, c_off);
    }
    if k == 0 {
        // An empty sum: the kernel is not asked to handle it.
        for x in &mut c[c_off..c_off + m * n] {
            *x = if beta == T::zero() { T::zero() } else { beta * *x };
        }
        return;
    }
    product_kernel(threads, alpha, a, av, b, bv, beta, Out::Slice(c, c_off), work);
}

/// The kernel's part of [`product`]: the threads, then the padded copy when the right operand needs it.
#[allow(clippy::too_many_arguments)]
fn product_kernel<T: Padded>(
    threads: Threads,
    alpha: T,
    a: &[T],
    av: MatRef,
    b: &[T],
    bv: MatRef,
    beta: T,
    out: Out<'_, T>,
    work: usize,
) {
    let par = match threads {
        Threads::Cap => parallelism(work),
        Threads::One => gemm::Parallelism::None,
    };
    // A product split by columns copies each half of `b` on the half's own thread (in `kernel`).
    if needs_padded_copy::<T>(&bv, work) && column_split(par, av.rows, &bv).is_none() {
        return T::padded().with(|buf| {
            let mut buf = buf.borrow_mut();
            let pv = padded_copy(b, &bv, &mut buf);
            kernel(par, alpha, a, av, &buf, pv, beta, out);
        });
    }
    kernel(par, alpha, a, av, b, bv, beta, out);
}

/// A pointer handed to the two halves of a column split (see [`column_split`]).
#[derive(Clone, Copy)]
struct Ptr<T>(*mut T);
// SAFETY: the halves write disjoint columns of one output (`kernel`'s safety comment) and `join` waits for
// both, so sending the pointer to the other thread shares no element between them.
unsafe impl<T> Send for Ptr<T> {}
unsafe impl<T> Sync for Ptr<T> {}

/// Where to cut a threaded product's columns in two, one half per thread, each half single-threaded; `None`
/// to leave the split to the crate. The crate computes a row-major product as its transpose, whose left
/// operand is our `b`; when `b` is read transposed (a layer's `x W^T`) the crate copies that operand into
/// its packed layout on the calling thread alone, before the threads start (for up to 1024 of our columns:
/// twice its largest row block of `8 x 64`), which cost w3 about a millisecond per step at two threads.
/// Cut at a multiple of 64 columns (the kernel's tile), each half packs its own half of `b` on its own
/// thread, and both pack all of `a`: w3's `256 x 784 x 1024` forward products 8-10% off the 2-thread step.
/// Every other threaded product of up to 1024 columns is split too (the backward's, m1's square ones):
/// two single-threaded halves beat the crate's own threading there by 1.5-2% (w3 at 2 threads, five
/// pairs, 8.56-8.82 -> 8.40-8.62 ms; m1 17.24-17.58 -> 16.99-17.22 ms; a quiet Intel Xeon). With more
/// than 64 rows neither half takes the crate's small-size blocking, so the sums are those of one call (the
/// depth blocks then depend on `k` only) and the result is the same bit for bit.
fn column_split(par: gemm::Parallelism, m: usize, bv: &MatRef) -> Option<usize> {
    let gemm::Parallelism::Rayon(threads) = par else { return None };
    let n = bv.cols;
    (threads >= 2 && (128..=1024).contains(&n) && 64 < m).then(|| n / 128 * 64)
}

/// `dst = beta dst + alpha a b` by the crate, `dst` the `m x bv.cols` matrix at `dst.0` with column and row
/// strides `dst.1`, `dst.2` (read only when `read_dst`): the one place that spells out the crate's argument
/// order (`n` before `k`, column strides before row strides, its `alpha` scaling `dst` and its `beta` the
/// product).
///
/// # Safety
/// `av` and `bv` must lie inside `a` and `b` with strides that fit in `isize` ([`checked_dims`] checks both;
/// `bv` may be a column range of a checked view), `av.cols == bv.rows == k`, `av.rows == m`, and `dst` must
/// be valid for writes (and reads, with `read_dst`) at every `i dst.2 + j dst.1` for `i < m`, `j < bv.cols`,
/// with nothing else accessing those elements meanwhile. `T` must be `f32` or `f64`.
#[allow(clippy::too_many_arguments)]
unsafe fn crate_gemm<T: 'static>(
    m: usize,
    k: usize,
    a: &[T],
    av: MatRef,
    b: &[T],
    bv: MatRef,
    dst: (*mut T, isize, isize),
    read_dst: bool,
    alpha: T,
    beta: T,
    par: gemm::Parallelism,
) {
    // SAFETY: the caller's contract; the offsets are inside the slices (their views fit).
    unsafe {
        gemm::gemm(
            m,
            bv.cols,
            k,
            dst.0,
            dst.1,
            dst.2,
            read_dst,
            a.as_ptr().add(av.offset),
            av.cs as isize,
            av.rs as isize,
            b.as_ptr().add(bv.offset),
            bv.cs as isize,
            bv.rs as isize,
            beta,
            alpha,
            false,
            false,
            false,
            par,
        )
    }
}

/// The checked call into the GEMM crate.
#[allow(clippy::too_many_arguments)]
fn kernel<T: Padded>(
    par: gemm::Parallelism,
    alpha: T,
    a: &[T],
    av: MatRef,
    b: &[T],
    bv: MatRef,
    beta: T,
    out: Out<'_, T>,
) {
    let (m, k, n) = checked_dims(a, av, b, bv);
    let (dst, read_dst, fresh) = match out {
        Out::Slice(c, c_off) => {
            assert!(output_fits(c_off, m, n, c.len()), "invariant: gemm output inside its slice");
            // SAFETY: `c_off + m n <= c.len()` (checked just above), so the offset stays inside `c`.
            (unsafe { c.as_mut_ptr().add(c_off) }, beta != T::zero(), None)
        }
        Out::Fresh(buf) => {
            let len = m.checked_mul(n).filter(|&l| buf.is_empty() && l <= buf.capacity() && n <= isize::MAX as usize);
            let len = len.expect("invariant: a fresh output is an empty buffer with room for m n elements");
            assert!(beta == T::zero(), "invariant: a fresh output is only written");
            (buf.spare_capacity_mut().as_mut_ptr().cast::<T>(), false, Some((buf, len)))
        }
    };
    // SAFETY: the kernel reads `a` at `av.offset + i rs + l cs` for i < m, l < k, `b` likewise for l < k,
    // j < n, and writes `dst + i n + j` for i < m, j < n. `checked_dims` bounds the largest offsets read by
    // the slices' lengths, computed with checked arithmetic (`MatRef::end`), so no bound can wrap to a
    // small number; it also checks that every stride fits in `isize`, so the casts in `call` keep their
    // values, and the `add`s in `crate_gemm` stay inside (or one past) their allocations. The output lies inside `c`
    // (checked above) or inside the fresh buffer's spare capacity of at least `m n` elements (checked
    // above). `c` and the buffer are borrowed mutably, so nothing else reads or writes them meanwhile, and
    // `a`, `b` are shared borrows that cannot alias them. The crate computes `dst = alpha_dst * dst +
    // beta_prod * lhs rhs`, reading `dst` only when `read_dst` says so: never for a fresh buffer, whose
    // uninitialised memory is then only written. `T` is `f32` or `f64` (the `Gemm` impls), types the crate
    // dispatches on. Split by columns, the two calls read the same operands and write disjoint columns
    // `0..j` and `j..n` of the same rows (`bv.cols(j..n)` starts `j` columns in, `dst + j` likewise), so
    // they may run at the same time; `join` returns only when both have. A half that reads a padded copy
    // of its columns reads it through the copy's view, checked to lie inside the copy. (`crate_gemm`'s
    // contract, met by all of this: `dst` with row stride `n` covers `m` rows and `bv.cols` columns.)
    let call = |par, b: &[T], bv: MatRef, dst: Ptr<T>| unsafe {
        crate_gemm(m, k, a, av, b, bv, (dst.0, 1, n as isize), read_dst, alpha, beta, par)
    };
    match column_split(par, m, &bv) {
        Some(j) => {
            let (left, right) = (bv.with_cols(0, j), bv.with_cols(j, n));
            // SAFETY: `j < n`, so `dst + j` stays inside the output's first row.
            let (dst_left, dst_right) = (Ptr(dst), Ptr(unsafe { dst.add(j) }));
            // Each half takes the padded copy of its own columns of `b` where the whole would have, in
            // its thread's own buffer.
            let half = |bv: MatRef, dst: Ptr<T>| {
                if needs_padded_copy::<T>(&bv, m.saturating_mul(k).saturating_mul(bv.cols)) {
                    T::padded().with(|buf| {
                        let mut buf = buf.borrow_mut();
                        let pv = padded_copy(b, &bv, &mut buf);
                        assert!(pv.fits(buf.len()), "invariant: the padded copy inside its buffer");
                        call(gemm::Parallelism::None, &buf, pv, dst);
                    });
                } else {
                    call(gemm::Parallelism::None, b, bv, dst);
                }
            };
            let half = &half;
            crate::parallel::join(move || half(left, dst_left), move || half(right, dst_right));
        }
        None => call(par, b, bv, Ptr(dst)),
    }
    if let Some((buf, len)) = fresh {
        // SAFETY: with `read_dst` false and `k > 0` (the only products `product` sends here), the kernel
        // stores every one of the `m n` elements (each output tile is written once with the first block of
        // the sum, later blocks add to it), and `len <= capacity` (checked above).
        unsafe { buf.set_len(len) };
    }
}

/// The `gemm` crate's kernel on the calling thread, bypassing every shortcut of [`Gemm::gemm`] (for tests
/// that compare another path with it).
#[cfg(test)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn general_for_tests<T: Padded>(
    alpha: T,
    a: &[T],
    av: MatRef,
    b: &[T],
    bv: MatRef,
    beta: T,
    c: &mut [T],
    c_off: usize,
) {
    kernel(gemm::Parallelism::None, alpha, a, av, b, bv, beta, Out::Slice(c, c_off));
}

macro_rules! impl_gemm {
    ($t:ty) => {
        impl Padded for $t {
            fn padded() -> &'static std::thread::LocalKey<std::cell::RefCell<Vec<$t>>> {
                thread_local! {
                    static PADDED: std::cell::RefCell<Vec<$t>> = const { std::cell::RefCell::new(Vec::new()) };
                }
                &PADDED
            }
            fn column_major() -> &'static std::thread::LocalKey<std::cell::RefCell<Vec<$t>>> {
                thread_local! {
                    static COLUMN_MAJOR: std::cell::RefCell<Vec<$t>> = const { std::cell::RefCell::new(Vec::new()) };
                }
                &COLUMN_MAJOR
            }
        }
        impl Gemm for $t {
            fn gemm(alpha: $t, a: &[$t], av: MatRef, b: &[$t], bv: MatRef, beta: $t, c: &mut [$t], c_off: usize) {
                product(Threads::Cap, alpha, a, av, b, bv, beta, Out::Slice(c, c_off));
            }
            fn gemm_fresh(a: &[$t], av: MatRef, b: &[$t], bv: MatRef, out: &mut Vec<$t>) {
                product(Threads::Cap, 1.0, a, av, b, bv, 0.0, Out::Fresh(out));
            }
            fn linear_fresh(a: &[$t], av: MatRef, b: &[$t], bv: MatRef, bias: Option<&[$t]>, out: &mut Vec<$t>) {
                linear::linear_fresh(a, av, b, bv, bias, out);
            }
        }
        impl GemmSerial for $t {
            fn gemm_serial(
                alpha: $t,
                a: &[$t],
                av: MatRef,
                b: &[$t],
                bv: MatRef,
                beta: $t,
                c: &mut [$t],
                c_off: usize,
            ) {
                product(Threads::One, alpha, a, av, b, bv, beta, Out::Slice(c, c_off));
            }
        }
    };
}

impl_gemm!(f32);
impl_gemm!(f64);

/// Serialises the tests that change the global thread cap (in every module of the crate).
#[cfg(test)]
pub(crate) static THREAD_CAP_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Test oracles shared by the tests of every GEMM path.
#[cfg(test)]
pub(crate) mod oracle {
    use super::MatRef;

    /// `alpha * op(a) op(b) + beta * c` by the triple loop, in f64.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn naive(alpha: f64, a: &[f64], av: MatRef, b: &[f64], bv: MatRef, beta: f64, c: &[f64]) -> Vec<f64> {
        let (m, k, n) = (av.rows, av.cols, bv.cols);
        let mut out = c.to_vec();
        for i in 0..m {
            for j in 0..n {
                let s: f64 =
                    (0..k).map(|l| a[av.offset + i * av.rs + l * av.cs] * b[bv.offset + l * bv.rs + j * bv.cs]).sum();
                out[i * n + j] = alpha * s + beta * c[i * n + j];
            }
        }
        out
    }

    /// `len` deterministic values in [-1.5, 1.6], varied by `seed`.
    pub(crate) fn values(len: usize, seed: usize) -> Vec<f64> {
        (0..len).map(|i| ((i * 37 + seed * 11) % 23) as f64 / 7.0 - 1.5).collect()
    }
}

#[path = "gemm_linear.rs"]
mod linear;

#[cfg(test)]
#[path = "gemm_tests.rs"]
mod tests;
