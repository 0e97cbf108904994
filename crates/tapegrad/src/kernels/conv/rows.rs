//! Runs of short rows copied or added at fixed strides: the inner loops of the staged unfold and of the
//! fold at stride 1. A copy of the loop per row length (1 to 32 elements, fully unrolled), since LeNet-5's
//! rows of 10 and 28 elements spent more on each row's loop set-up than on the elements. (Compiled for
//! AVX-512 under a run-time check, the copies were no faster on c2: they are bound by the stores into the
//! chunk's scratch, not by their width.)

use crate::float::Float;

/// `count` rows of `len` elements, `dstride` and `sstride` apart in the destination and the source.
pub(super) struct Rows {
    pub len: usize,
    pub count: usize,
    pub dstride: usize,
    pub sstride: usize,
}

/// Calls `$fixed::<T, N>(rows, dst, src)` with `N = rows.len` for rows of 1 to 32 elements, else
/// `$any(dst_row, src_row)` per row.
macro_rules! by_len {
    ($rows:expr, $dst:expr, $src:expr, $fixed:ident, $any:expr) => {
        by_len!(@ $rows, $dst, $src, $fixed, $any;
            1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32)
    };
    (@ $rows:expr, $dst:expr, $src:expr, $fixed:ident, $any:expr; $($n:literal)*) => {
        match $rows.len {
            $($n => $fixed::<T, $n>($rows, $dst, $src),)*
            len => (0..$rows.count).for_each(|i| {
                $any(&mut $dst[i * $rows.dstride..][..len], &$src[i * $rows.sstride..][..len])
            }),
        }
    };
}

#[inline(always)]
fn add_fixed<T: Float, const N: usize>(r: &Rows, dst: &mut [T], src: &[T]) {
    for i in 0..r.count {
        let d: &mut [T; N] = (&mut dst[i * r.dstride..][..N]).try_into().unwrap();
        let s: &[T; N] = src[i * r.sstride..][..N].try_into().unwrap();
        for j in 0..N {
            d[j] += s[j];
        }
    }
}

#[inline(always)]
fn copy_fixed<T: Float, const N: usize>(r: &Rows, dst: &mut [T], src: &[T]) {
    for i in 0..r.count {
        let d: &mut [T; N] = (&mut dst[i * r.dstride..][..N]).try_into().unwrap();
        *d = src[i * r.sstride..][..N].try_into().unwrap();
    }
}

impl Rows {
    /// `dst[r dstride + i] += src[r sstride + i]` for every row `r < count` and `i < len`.
    pub fn add<T: Float>(&self, dst: &mut [T], src: &[T]) {
        by_len!(self, dst, src, add_fixed, |d: &mut [T], s: &[T]| d.iter_mut().zip(s).for_each(|(a, &b)| *a += b))
    }

    /// `dst[r dstride + i] = src[r sstride + i]` for every row `r < count` and `i < len`.
    pub fn copy<T: Float>(&self, dst: &mut [T], src: &[T]) {
        by_len!(self, dst, src, copy_fixed, |d: &mut [T], s: &[T]| d.copy_from_slice(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_length_copies_and_adds_exactly_its_rows() {
        for len in 0..40 {
            let (count, dstride, sstride) = (3, len + 5, len + 2);
            let src: Vec<f64> = (0..count * sstride + len).map(|i| i as f64 + 0.5).collect();
            let r = Rows { len, count, dstride, sstride };
            let mut copied = vec![-1.0; count * dstride + len + 3];
            r.copy(&mut copied, &src);
            let mut added = copied.clone();
            r.add(&mut added, &src);
            for (i, (&c, &a)) in copied.iter().zip(&added).enumerate() {
                let (row, col) = (i / dstride, i % dstride);
                let inside = row < count && col < len;
                let want = if inside { src[row * sstride + col] } else { -1.0 };
                assert_eq!(c, want, "copy, len {len}, element {i}");
                assert_eq!(a, if inside { 2.0 * want } else { -1.0 }, "add, len {len}, element {i}");
            }
        }
    }
}
