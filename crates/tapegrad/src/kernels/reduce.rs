//! Reductions shared by the tape's ops (their forwards) and [`Tensor`]'s eager methods: sums, maxima and
//! minima, and the positions of the extremes, over a whole tensor or along one axis.
//!
//! NaN follows PyTorch: the maximum or minimum of a slice that holds a NaN is NaN, and argmax/argmin
//! return the index of the first NaN. Otherwise ties go to the first index.

use super::{reduce_axis, split_at_axis};
use crate::error::Result;
use crate::float::Float;
use crate::tensor::{Tensor, try_buffer};

/// Whether `b` replaces the running maximum `a`: it is larger, or it is the first NaN.
#[inline]
fn beats_max<T: Float>(a: T, b: T) -> bool {
    b > a || (b.is_nan() && !a.is_nan())
}

/// Whether `b` replaces the running minimum `a`: it is smaller, or it is the first NaN.
#[inline]
fn beats_min<T: Float>(a: T, b: T) -> bool {
    b < a || (b.is_nan() && !a.is_nan())
}

/// The sum of all elements (0 for an empty tensor), added in row-major order.
pub fn sum_all<T: Float>(x: &Tensor<T>) -> T {
    x.data().iter().copied().sum()
}

/// The sums along `axis` (which must exist); `keepdim` keeps it with size 1.
///
/// # Errors
/// [`crate::Error::TooLarge`] or [`crate::Error::Allocation`] naming `op` when the result cannot be
/// allocated (an empty axis of a shape such as `[2^62, 0]`).
pub fn sum_axis<T: Float>(op: &'static str, x: &Tensor<T>, axis: usize, keepdim: bool) -> Result<Tensor<T>> {
    reduce_axis(op, x, axis, keepdim, T::zero(), |a, b| a + b)
}

/// The largest element, NaN if any element is NaN, `-inf` for an empty tensor (callers reject that).
pub fn max_all<T: Float>(x: &Tensor<T>) -> T {
    x.data().iter().copied().fold(T::neg_infinity(), |a, b| if beats_max(a, b) { b } else { a })
}

/// The smallest element, NaN if any element is NaN, `+inf` for an empty tensor (callers reject that).
pub fn min_all<T: Float>(x: &Tensor<T>) -> T {
    x.data().iter().copied().fold(T::infinity(), |a, b| if beats_min(a, b) { b } else { a })
}

/// The maxima along `axis` (which must exist), NaN where the slice holds a NaN.
///
/// # Errors
/// As [`sum_axis`].
pub fn max_axis<T: Float>(op: &'static str, x: &Tensor<T>, axis: usize, keepdim: bool) -> Result<Tensor<T>> {
    reduce_axis(op, x, axis, keepdim, T::neg_infinity(), |a, b| if beats_max(a, b) { b } else { a })
}

/// `log(sum(exp(row)))` of one row, shifted by its maximum: the same arithmetic, in the same order, as
/// [`crate::ops::reduce::logsumexp_t`] along a last axis (the maximum as [`max_axis`] finds it, NaN first;
/// a row whose maximum is infinite gives that maximum), without its three broadcasting passes and
/// temporaries (the softmax cross-entropy's forward, once per row of logits).
pub(crate) fn logsumexp_row<T: Float>(row: &[T]) -> T {
    let m = row.iter().fold(T::neg_infinity(), |a, &b| if beats_max(a, b) { b } else { a });
    if !m.is_finite() {
        return m;
    }
    m + row.iter().fold(T::zero(), |s, &x| s + (x - m).exp()).ln()
}

/// The minima along `axis` (which must exist), NaN where the slice holds a NaN.
///
/// # Errors
/// As [`sum_axis`].
pub fn min_axis<T: Float>(op: &'static str, x: &Tensor<T>, axis: usize, keepdim: bool) -> Result<Tensor<T>> {
    reduce_axis(op, x, axis, keepdim, T::infinity(), |a, b| if beats_min(a, b) { b } else { a })
}

/// Flat row-major index of the largest element (the first NaN if there is one; the first of ties);
/// 0 for an empty tensor (callers reject that).
pub fn argmax_all<T: Float>(x: &Tensor<T>) -> usize {
    arg_all(x, beats_max)
}

/// Flat row-major index of the smallest element (the first NaN if there is one; the first of ties).
pub fn argmin_all<T: Float>(x: &Tensor<T>) -> usize {
    arg_all(x, beats_min)
}

/// For each slice along `axis`, the position of its largest element (first NaN, first of ties), in
/// row-major order of the shape with `axis` removed. An empty axis gives zeros (callers reject it).
///
/// # Errors
/// As [`sum_axis`].
pub fn argmax_axis<T: Float>(op: &'static str, x: &Tensor<T>, axis: usize) -> Result<Vec<usize>> {
    arg_axis(op, x, axis, beats_max)
}

/// For each slice along `axis`, the position of its smallest element (first NaN, first of ties).
///
/// # Errors
/// As [`sum_axis`].
pub fn argmin_axis<T: Float>(op: &'static str, x: &Tensor<T>, axis: usize) -> Result<Vec<usize>> {
    arg_axis(op, x, axis, beats_min)
}

fn arg_all<T: Float>(x: &Tensor<T>, beats: impl Fn(T, T) -> bool) -> usize {
    let d = x.data();
    let mut best = 0;
    for (i, &v) in d.iter().enumerate().skip(1) {
        if beats(d[best], v) {
            best = i;
        }
    }
    best
}

fn arg_axis<T: Float>(
    op: &'static str,
    x: &Tensor<T>,
    axis: usize,
    beats: impl Fn(T, T) -> bool,
) -> Result<Vec<usize>> {
    let (outer, len, inner) = split_at_axis(x.shape(), axis);
    // `outer inner` is at most the product of `x`'s dims, which may be huge when `len` is 0.
    let n = outer.checked_mul(inner).ok_or(crate::Error::TooLarge {
        op,
        msg: format!("{outer} x {inner} indices do not fit in memory"),
        shape: x.shape().clone(),
    })?;
    let mut idx = try_buffer(op, n)?;
    idx.resize(n, 0usize);
    if len == 0 {
        return Ok(idx);
    }
    let xd = x.data();
    // Walk each outer block slice by slice, keeping the running best value per inner position: the same
    // contiguous access pattern as `reduce_axis`.
    let mut best: Vec<T> = Vec::with_capacity(inner);
    for o in 0..outer {
        let base = o * len * inner;
        best.clear();
        best.extend_from_slice(&xd[base..base + inner]);
        let out = &mut idx[o * inner..(o + 1) * inner];
        for l in 1..len {
            let src = &xd[base + l * inner..base + (l + 1) * inner];
            for ((b, i), &v) in best.iter_mut().zip(out.iter_mut()).zip(src) {
                if beats(*b, v) {
                    *b = v;
                    *i = l;
                }
            }
        }
    }
    Ok(idx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::Shape;

    /// The naive definition: every slice along `axis` gathered and scanned.
    fn slices(x: &Tensor<f64>, axis: usize) -> Vec<Vec<f64>> {
        let (outer, len, inner) = split_at_axis(x.shape(), axis);
        let mut out = Vec::new();
        for o in 0..outer {
            for i in 0..inner {
                out.push((0..len).map(|l| x.data()[(o * len + l) * inner + i]).collect());
            }
        }
        out
    }

    #[test]
    fn axis_kernels_match_a_scan_of_each_slice() {
        let x = Tensor::from_vec((0..60).map(|i| f64::from((i * 37) % 23) - 11.0).collect(), [3, 4, 5]).unwrap();
        for axis in 0..3 {
            let want = slices(&x, axis);
            let first = |s: &Vec<f64>, m: f64| s.iter().position(|&v| v == m).unwrap();
            let maxes: Vec<f64> = want.iter().map(|s| s.iter().copied().fold(f64::MIN, f64::max)).collect();
            let mins: Vec<f64> = want.iter().map(|s| s.iter().copied().fold(f64::MAX, f64::min)).collect();
            let sums: Vec<f64> = want.iter().map(|s| s.iter().sum()).collect();
            assert_eq!(max_axis("max", &x, axis, false).unwrap().to_vec(), maxes);
            assert_eq!(min_axis("min", &x, axis, true).unwrap().to_vec(), mins);
            assert_eq!(min_axis("min", &x, axis, true).unwrap().shape(), &x.shape().reduced(axis, true));
            assert_eq!(sum_axis("sum", &x, axis, false).unwrap().to_vec(), sums);
            let am: Vec<usize> = want.iter().zip(&maxes).map(|(s, &m)| first(s, m)).collect();
            let an: Vec<usize> = want.iter().zip(&mins).map(|(s, &m)| first(s, m)).collect();
            assert_eq!(argmax_axis("argmax", &x, axis).unwrap(), am, "axis {axis}");
            assert_eq!(argmin_axis("argmin", &x, axis).unwrap(), an, "axis {axis}");
        }
    }

    #[test]
    fn nan_wins_every_extreme_and_argmax_points_at_the_first_nan() {
        let n = f64::NAN;
        let x = Tensor::from_vec(vec![1.0, n, 3.0, n, 5.0, 2.0], [2, 3]).unwrap();
        assert!(max_all(&x).is_nan() && min_all(&x).is_nan());
        assert_eq!(argmax_all(&x), 1);
        assert_eq!(argmin_all(&x), 1);
        let m = max_axis("max", &x, 1, false).unwrap();
        assert!(m.data()[0].is_nan() && m.data()[1].is_nan());
        assert_eq!(argmax_axis("argmax", &x, 1).unwrap(), vec![1, 0]);
        assert_eq!(argmin_axis("argmin", &x, 0).unwrap(), vec![1, 0, 1]);
        let c = min_axis("min", &x, 0, false).unwrap();
        assert!(c.data()[0].is_nan() && c.data()[1].is_nan() && c.data()[2] == 2.0);
    }

    #[test]
    fn ties_go_to_the_first_index_and_infinities_are_ordinary_values() {
        let x = Tensor::from_vec(vec![f64::NEG_INFINITY, f64::NEG_INFINITY, 2.0, 2.0], [4]).unwrap();
        assert_eq!(argmax_all(&x), 2);
        assert_eq!(argmin_all(&x), 0);
        assert_eq!(argmax_axis("argmax", &x.reshape([2, 2]).unwrap(), 1).unwrap(), vec![0, 0]);
        assert_eq!(max_all(&Tensor::<f32>::from_vec(vec![f32::NEG_INFINITY], [1]).unwrap()), f32::NEG_INFINITY);
        assert_eq!(argmax_axis("argmax", &Tensor::<f32>::zeros(Shape::new(&[2, 0])).unwrap(), 1).unwrap(), vec![0, 0]);
    }

    #[test]
    fn logsumexp_row_equals_logsumexp_along_the_last_axis_bit_for_bit() {
        let inf = f64::INFINITY;
        let rows: [&[f64]; 8] = [
            &[0.3, -1.2, 2.5, 0.0, 1.7, -0.4, 0.9, 3.1, -2.2, 0.05],
            &[1000.0, 1000.0],
            &[-1000.0, -999.5, -1001.0],
            &[inf, 1.0],
            &[-inf, -inf],
            &[f64::NAN, 1.0, inf],
            &[2.0],
            &[],
        ];
        for row in rows {
            let x = Tensor::from_vec(row.to_vec(), [1, row.len()]).unwrap();
            let want = crate::ops::reduce::logsumexp_t(&x, 1).unwrap().data()[0];
            let got = logsumexp_row(row);
            assert!(got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()), "{row:?}: {got} vs {want}");
            let r32: Vec<f32> = row.iter().map(|&v| v as f32).collect();
            let x32 = Tensor::from_vec(r32.clone(), [1, row.len()]).unwrap();
            let want = crate::ops::reduce::logsumexp_t(&x32, 1).unwrap().data()[0];
            let got = logsumexp_row(&r32);
            assert!(got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()), "{r32:?}: {got} vs {want}");
        }
    }
}
