//! The fully-connected layer's product `x W^T (+ b)` into a fresh row-major output.
//!
//! Asked for a row-major `x W^T`, the `gemm` crate computes the transposed problem `W x^T` and packs `W`
//! from its stored rows, the slow layout for it; asked for a column-major output, it packs `x` and `W^T`
//! the other way round. The column-major result then goes through a transpose, eight output rows at a time
//! (each column of the result read as eight contiguous values and written to eight row streams; sixteen rows
//! of `f32` thrash L1 on 4 KiB aliasing, and tiles writing whole cache lines were slower), which adds the bias
//! on the way. At w3's forward shapes, one thread (Intel Xeon, AVX-512, docs/performance.md, eighth round):
//! `256 x 784 x 1024` 203 GFLOP/s with the transpose counted against 185 row-major, `256 x 1024 x 1024` 200
//! against 168 (with the padded copy); MKL's `linear` 196-197. Products this does not pay for (see
//! [`takes_column_major`]) take [`Gemm::gemm`](super::Gemm::gemm)'s row-major path unchanged.

use super::{Out, Padded, Ptr, Threads, checked_dims, column_split, parallelism, product};

/// Output rows moved per pass of the transpose (see the module doc).
const ROWS: usize = 8;

/// Whether `m x k x n` with the right operand `bv` takes the column-major path: `b` read transposed (a
/// weight stored `[out, in]`), 128 to 384 rows, a depth of at least 512 and a width of 512 to 1024. Measured
/// on one thread against the row-major product (docs/performance.md, eighth round): faster at `128 x 512 x
/// 512` (166 against 134 GFLOP/s), `128 x 784 x 1024` (203 / 162), w3's two shapes with 256 rows and `384 x
/// 1024 x 1024` (182 / 145-167); even at 512 rows; slower at 1024 rows (`1024 x 784 x 1024`: 171-173 /
/// 197-212) and at `256 x 256 x 256` (179 / 200). Wider outputs (`256 x 512 x 2048`: 187 / 176) stay
/// row-major all the same: up to 1024 columns every threaded product of more than 64 rows is split in
/// column halves ([`column_split`]), which this path follows, while wider ones are threaded by the crate;
/// and the per-thread scratch buffer stays within `384 x 1024` elements.
pub(super) fn takes_column_major(m: usize, k: usize, n: usize, bv: &super::MatRef) -> bool {
    bv.rs == 1 && (128..=384).contains(&m) && k >= 512 && (512..=1024).contains(&n)
}

/// `a b`, plus `bias` in every row when given, written into `out`, an empty buffer with room for the
/// `m x n` result (see [`Gemm::linear_fresh`](super::Gemm::linear_fresh)).
///
/// # Panics
/// As [`Gemm::gemm_fresh`](super::Gemm::gemm_fresh), and when `bias` does not hold `n` values.
pub(super) fn linear_fresh<T: Padded + super::super::gemm_small::Small>(
    a: &[T],
    av: super::MatRef,
    b: &[T],
    bv: super::MatRef,
    bias: Option<&[T]>,
    out: &mut Vec<T>,
) {
    let (m, k, n) = checked_dims(a, av, b, bv);
    assert!(bias.is_none_or(|bias| bias.len() == n), "invariant: one bias per output column");
    if !takes_column_major(m, k, n, &bv) {
        let Some(bias) = bias else {
            return product(Threads::Cap, T::one(), a, av, b, bv, T::zero(), Out::Fresh(out));
        };
        assert!(out.is_empty(), "invariant: a fresh output starts empty");
        // The bias in every row, then the product added to it (`beta = 1`): no pass zeroing it first.
        for _ in 0..m {
            out.extend_from_slice(bias);
        }
        return product(Threads::Cap, T::one(), a, av, b, bv, T::one(), Out::Slice(out, 0));
    }
    let len = m.checked_mul(n).filter(|&len| out.is_empty() && len <= out.capacity() && n <= isize::MAX as usize);
    let len = len.expect("invariant: a fresh output is an empty buffer with room for m n elements");
    let dst = Ptr(out.spare_capacity_mut().as_mut_ptr().cast::<T>());
    // Columns `j0..j1` of the result: their product, column-major, into this thread's scratch, then
    // transposed into the output's rows with the bias added.
    let part = |j0: usize, j1: usize| {
        T::column_major().with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let cols = j1 - j0;
            // No overflow: `cols <= n` and `m n` fits (checked above). The scratch only grows; the kernel
            // writes every element it is asked for without reading it (`read_dst` false, `k > 0`).
            if scratch.len() < m * cols {
                scratch.resize(m * cols, T::zero());
            }
            let bv = bv.with_cols(j0, j1);
            // SAFETY: `checked_dims` bounded every element the views reach by their slices' lengths and
            // their strides by `isize::MAX` (`MatRef::fits`), and `with_cols` keeps columns `j0..j1 <= n`
            // of that view (`crate_gemm`'s contract); the kernel writes `m` rows and `cols` columns at row
            // stride 1 and column stride `m`, inside the scratch's `m cols` elements (grown just above),
            // reading none of them. `T` is `f32` or `f64`, which the crate dispatches on.
            unsafe {
                super::crate_gemm(
                    m,
                    k,
                    a,
                    av,
                    b,
                    bv,
                    (scratch.as_mut_ptr(), m as isize, 1),
                    false,
                    T::one(),
                    T::zero(),
                    gemm::Parallelism::None,
                )
            };
            let bias = bias.map(|bias| &bias[j0..j1]);
            // SAFETY: `dst` has room for the `m x n` output (checked above), `j0 + cols = j1 <= n`, and
            // the other part, if any, writes the other columns.
            unsafe { transpose_into(&scratch[..m * cols], m, cols, dst, n, j0, bias) };
        })
    };
    match column_split(parallelism(m.saturating_mul(k).saturating_mul(n)), m, &bv) {
        Some(j) => {
            let part = &part;
            crate::parallel::join(move || part(0, j), move || part(j, n));
        }
        None => part(0, n),
    }
    // SAFETY: the parts wrote every element of the `m x n` output (`transpose_into` writes each row `i < m`
    // at every column of its part, and the parts cover `0..n`), and `len = m n <= capacity`.
    unsafe { out.set_len(len) };
}

/// Writes the column-major `m x cols` matrix `src` into columns `j0..j0 + cols` of the row-major output
/// at `dst` (row stride `n`), adding `bias[j]` to column `j` when given.
///
/// # Safety
/// `dst` must be valid for writes of `m n` elements of `T` (aligned), and nothing else may read or write
/// columns `j0..j0 + cols` of those rows meanwhile. (`src` and `j0 + cols <= n` are checked.)
unsafe fn transpose_into<T: Padded>(
    src: &[T],
    m: usize,
    cols: usize,
    dst: Ptr<T>,
    n: usize,
    j0: usize,
    bias: Option<&[T]>,
) {
    assert!(src.len() == m * cols && j0 + cols <= n, "invariant: the transpose inside its matrices");
    // One output element: `(i, j)` of the part, from its value.
    // SAFETY (for every `put`): `i < m` and `j < cols`, so `i n + j0 + j < m n`, inside what `dst` may
    // write (the function's contract), in this call's own columns.
    let put = |i: usize, j: usize, v: T| unsafe { dst.0.add(i * n + j0 + j).write(v) };
    let mut i = 0;
    while i + ROWS <= m {
        for j in 0..cols {
            let v: &[T; ROWS] = src[j * m + i..j * m + i + ROWS].try_into().expect("ROWS values");
            match bias {
                Some(bias) => (0..ROWS).for_each(|r| put(i + r, j, v[r] + bias[j])),
                None => (0..ROWS).for_each(|r| put(i + r, j, v[r])),
            }
        }
        i += ROWS;
    }
    for i in i..m {
        for j in 0..cols {
            let v = src[j * m + i];
            put(i, j, bias.map_or(v, |bias| v + bias[j]));
        }
    }
}
