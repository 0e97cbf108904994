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
trait Padded: num_traits::Float + Default + 'static {
    /// This thread's buffer.
    fn padded() -> &'static std::thread::LocalKey<std::cell::RefCell<Vec<Self>>>;
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
    if needs_padded_copy::<T>(&bv, work) {
        return T::padded().with(|buf| {
            let mut buf = buf.borrow_mut();
            let pv = padded_copy(b, &bv, &mut buf);
            kernel(par, alpha, a, av, &buf, pv, beta, out);
        });
    }
    kernel(par, alpha, a, av, b, bv, beta, out);
}

/// The checked call into the GEMM crate.
#[allow(clippy::too_many_arguments)]
fn kernel<T: num_traits::Float + 'static>(
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
    // small number; it also checks that every stride fits in `isize`, so the casts below keep their values,
    // and the `add`s stay inside (or one past) their allocations. The output lies inside `c` (checked
    // above) or inside the fresh buffer's spare capacity of at least `m n` elements (checked above). `c`
    // and the buffer are borrowed mutably, so nothing else reads or writes them meanwhile, and `a`, `b` are
    // shared borrows that cannot alias them. The crate computes `dst = alpha_dst * dst + beta_prod * lhs
    // rhs`, reading `dst` only when `read_dst` says so: never for a fresh buffer, whose uninitialised
    // memory is then only written. `T` is `f32` or `f64` (the `Gemm` impls), types the crate dispatches on.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            n as isize,
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
        );
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
pub(crate) fn general_for_tests<T: num_traits::Float + 'static>(
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
        }
        impl Gemm for $t {
            fn gemm(alpha: $t, a: &[$t], av: MatRef, b: &[$t], bv: MatRef, beta: $t, c: &mut [$t], c_off: usize) {
                product(Threads::Cap, alpha, a, av, b, bv, beta, Out::Slice(c, c_off));
            }
            fn gemm_fresh(a: &[$t], av: MatRef, b: &[$t], bv: MatRef, out: &mut Vec<$t>) {
                product(Threads::Cap, 1.0, a, av, b, bv, 0.0, Out::Fresh(out));
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

#[cfg(test)]
mod tests {
    use super::oracle::{naive, values};
    use super::*;
    use std::sync::Mutex;

    /// Serialises the tests that change the global thread cap.
    static CAP: Mutex<()> = Mutex::new(());

    #[test]
    fn gemm_matches_the_triple_loop_for_transposes_offsets_alpha_and_beta() {
        // Below and above the small-product threshold, both kernels.
        for (m, k, n) in
            [(1, 1, 1), (3, 5, 2), (4, 4, 16), (7, 1, 9), (17, 33, 9), (4, 0, 3), (300, 0, 2), (64, 48, 40)]
        {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                for (alpha, beta) in [(1.0, 0.0), (0.5, 2.0), (-1.0, 1.0)] {
                    let (oa, ob) = (3, 5);
                    let a = values(oa + m * k, 1);
                    let b = values(ob + k * n, 2);
                    let av = if ta { MatRef::row_major(k, m, oa, true) } else { MatRef::row_major(m, k, oa, false) };
                    let bv = if tb { MatRef::row_major(n, k, ob, true) } else { MatRef::row_major(k, n, ob, false) };
                    let c0 = values(2 + m * n, 3);
                    let want = naive(alpha, &a, av, &b, bv, beta, &c0[2..]);
                    let mut c = c0.clone();
                    f64::gemm(alpha, &a, av, &b, bv, beta, &mut c, 2);
                    assert_eq!(&c[..2], &c0[..2], "gemm wrote before its output offset");
                    for (x, y) in c[2..].iter().zip(&want) {
                        assert!((x - y).abs() < 1e-9, "{m}x{k}x{n} ta={ta} tb={tb}: {x} vs {y}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_transposed_operand_at_an_aliasing_stride_is_multiplied_through_a_padded_copy() {
        // f32 rows 1024 apart and f64 rows 512 apart (4 KiB), with enough work to take the copy.
        fn check<T: Gemm + Into<f64> + From<f32>>(k: usize) {
            let (m, n, ob) = (64, 70, 3);
            assert!(needs_padded_copy::<T>(&MatRef::row_major(n, k, ob, true), m * k * n));
            let a64 = values(m * k, 1);
            let b64 = values(ob + n * k, 2);
            let (av, bv) = (MatRef::row_major(m, k, 0, false), MatRef::row_major(n, k, ob, true));
            let want = naive(1.0, &a64, av, &b64, bv, 0.0, &vec![0.0; m * n]);
            let a: Vec<T> = a64.iter().map(|&x| T::from(x as f32)).collect();
            let b: Vec<T> = b64.iter().map(|&x| T::from(x as f32)).collect();
            let mut c = vec![T::from(0.0); m * n];
            T::gemm(T::from(1.0), &a, av, &b, bv, T::from(0.0), &mut c, 0);
            for (x, y) in c.iter().zip(&want) {
                let x: f64 = (*x).into();
                assert!((x - y).abs() < 1e-3 * (1.0 + y.abs()), "{x} vs {y}");
            }
        }
        check::<f32>(1024);
        check::<f64>(512);
        // Other strides and untransposed operands take the direct call.
        assert!(!needs_padded_copy::<f32>(&MatRef::row_major(70, 1000, 0, true), 1 << 22));
        assert!(!needs_padded_copy::<f32>(&MatRef::row_major(1024, 70, 0, false), 1 << 22));
    }

    #[test]
    fn gemm_with_beta_zero_ignores_nan_in_the_output_buffer() {
        let a = values(6, 1);
        let b = values(6, 2);
        let mut c = vec![f64::NAN; 4];
        f64::gemm(1.0, &a, MatRef::row_major(2, 3, 0, false), &b, MatRef::row_major(3, 2, 0, false), 0.0, &mut c, 0);
        assert!(c.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn threaded_gemm_gives_the_single_threaded_answer_bit_for_bit() {
        // The crate splits the output among threads and keeps each element's sum in the same order, so the
        // answer does not depend on the thread count: w3's products (transposed, with and without the copy),
        // an odd size with both operands transposed, and a 16-row product (c2's convolution shape).
        for (m, k, n, ta, tb) in [
            (300, 200, 260, false, false),
            (256, 1024, 1024, false, true),
            (1024, 256, 784, true, false),
            (301, 97, 203, true, true),
            (16, 6400, 150, false, true),
        ] {
            assert!(m * k * n >= THREADED_MIN, "{m}x{k}x{n} would not be offered to the pool");
            let a: Vec<f32> = values(m * k, 4).into_iter().map(|x| x as f32).collect();
            let b: Vec<f32> = values(k * n, 5).into_iter().map(|x| x as f32).collect();
            let av = if ta { MatRef::row_major(k, m, 0, true) } else { MatRef::row_major(m, k, 0, false) };
            let bv = if tb { MatRef::row_major(n, k, 0, true) } else { MatRef::row_major(k, n, 0, false) };
            let _cap = CAP.lock().unwrap_or_else(|e| e.into_inner());
            let run = |threads| {
                let prev = NUM_THREADS.swap(threads, Ordering::Relaxed);
                let mut c = vec![0.0f32; m * n];
                f32::gemm(1.0, &a, av, &b, bv, 0.0, &mut c, 0);
                NUM_THREADS.store(prev, Ordering::Relaxed);
                c
            };
            assert_eq!(run(1), run(2), "{m}x{k}x{n}");
        }
    }

    #[test]
    fn fresh_products_equal_the_entry_points_bit_for_bit_and_never_read_the_buffer() {
        // Every path: tiny loops, the small path, the empty sum, the kernel on one thread, the gemv shapes
        // (one row or one column), the padded copy (a 4 KiB-strided transposed operand) and the pool, at
        // every transpose. The spare capacity holds NaN: a read of it would show in the result.
        let shapes = [
            (2, 3, 4),
            (5, 0, 3),
            (32, 64, 10),
            (7, 9, 11),
            (32, 64, 128),
            (130, 129, 128),
            (1, 300, 200),
            (200, 300, 1),
            (64, 1024, 70),
            (256, 1024, 1024),
        ];
        let _cap = CAP.lock().unwrap_or_else(|e| e.into_inner());
        for threads in [1, 2] {
            let prev = NUM_THREADS.swap(threads, Ordering::Relaxed);
            for (m, k, n) in shapes {
                for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                    let av = if ta { MatRef::row_major(k, m, 1, true) } else { MatRef::row_major(m, k, 1, false) };
                    let bv = if tb { MatRef::row_major(n, k, 2, true) } else { MatRef::row_major(k, n, 2, false) };
                    let a: Vec<f32> = values(1 + m * k, 6).into_iter().map(|x| x as f32 * 0.3).collect();
                    let b: Vec<f32> = values(2 + k * n, 7).into_iter().map(|x| x as f32 * 0.7).collect();
                    let mut want = vec![0.0f32; m * n];
                    f32::gemm(1.0, &a, av, &b, bv, 0.0, &mut want, 0);
                    let mut out = vec![f32::NAN; m * n + 3];
                    out.clear();
                    f32::gemm_fresh(&a, av, &b, bv, &mut out);
                    assert_eq!(out, want, "{m}x{k}x{n} ta={ta} tb={tb} threads={threads}");
                    if m * k * n < 1 << 20 {
                        let (a, b): (Vec<f64>, Vec<f64>) =
                            (a.iter().map(|&x| x.into()).collect(), b.iter().map(|&x| x.into()).collect());
                        let mut want = vec![0.0f64; m * n];
                        f64::gemm(1.0, &a, av, &b, bv, 0.0, &mut want, 0);
                        let mut out = vec![f64::NAN; m * n];
                        out.clear();
                        f64::gemm_fresh(&a, av, &b, bv, &mut out);
                        assert_eq!(out, want, "f64 {m}x{k}x{n} ta={ta} tb={tb}");
                    }
                }
            }
            NUM_THREADS.store(prev, Ordering::Relaxed);
        }
        assert!(needs_padded_copy::<f32>(&MatRef::row_major(70, 1024, 2, true), 64 * 1024 * 70));
        const { assert!(256 * 1024 * 1024 >= THREADED_MIN) };
    }

    #[test]
    #[should_panic(expected = "invariant: a fresh output is an empty buffer with room for m n elements")]
    fn a_fresh_output_too_small_for_the_product_is_refused() {
        let (a, b) = (values(64 * 64, 1), values(64 * 64, 2));
        let v = MatRef::row_major(64, 64, 0, false);
        f64::gemm_fresh(&a, v, &b, v, &mut Vec::with_capacity(64 * 63));
    }

    #[test]
    fn the_serial_entry_point_gives_the_capped_answer_through_the_padded_copy_too() {
        // 64 x 1024 x 70 with the right operand transposed at a 4 KiB stride: both take the padded copy.
        let (m, k, n) = (64, 1024, 70);
        let a: Vec<f32> = values(m * k, 6).into_iter().map(|x| x as f32).collect();
        let b: Vec<f32> = values(n * k, 7).into_iter().map(|x| x as f32).collect();
        let (av, bv) = (MatRef::row_major(m, k, 0, false), MatRef::row_major(n, k, 0, true));
        assert!(needs_padded_copy::<f32>(&bv, m * k * n));
        let _cap = CAP.lock().unwrap_or_else(|e| e.into_inner());
        let prev = NUM_THREADS.swap(1, Ordering::Relaxed);
        let mut capped = vec![0.0f32; m * n];
        f32::gemm(1.0, &a, av, &b, bv, 0.0, &mut capped, 0);
        NUM_THREADS.store(prev, Ordering::Relaxed);
        let mut serial = vec![f32::NAN; m * n];
        f32::gemm_serial(1.0, &a, av, &b, bv, 0.0, &mut serial, 0);
        assert_eq!(capped, serial);
    }

    #[test]
    fn thread_cap_is_at_least_one() {
        let _cap = CAP.lock().unwrap_or_else(|e| e.into_inner());
        let prev = NUM_THREADS.load(Ordering::Relaxed);
        set_num_threads(0);
        assert_eq!(num_threads(), 1);
        NUM_THREADS.store(prev, Ordering::Relaxed);
    }
}
