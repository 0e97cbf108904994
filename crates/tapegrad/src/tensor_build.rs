//! Constructors for eager maths: `arange`, `linspace`, `eye`, and conversions from a `Vec` and from
//! (nested) arrays of rank 1 to 4, which the [`tensor!`](crate::tensor!) macro calls.
//!
//! Sizes given as arguments are checked before anything is allocated (`checked_mul`, `try_reserve`): a
//! size that does not fit is an error, not an abort.

use crate::error::{Error, Result};
use crate::float::Float;
use crate::shape::Shape;
use crate::tensor::Tensor;

/// `n` elements `f(0), ..., f(n - 1)`, allocated fallibly.
fn filled<T: Float>(op: &'static str, n: usize, f: impl Fn(usize) -> T) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|e| Error::InvalidArgument { op, msg: format!("cannot allocate {n} elements: {e}") })?;
    v.extend((0..n).map(f));
    Ok(v)
}

impl<T: Float> Tensor<T> {
    /// `start, start + step, ...` up to `end` excluded: NumPy's `arange`, `ceil((end - start) / step)`
    /// elements (none when that is not positive). Element `i` is `start + i * step` computed in `f64`, so
    /// rounding does not accumulate along the range.
    ///
    /// ```
    /// use tapegrad::{Tensor, tensor};
    /// assert_eq!(Tensor::arange(0.0, 5.0, 1.0).unwrap(), tensor![0.0, 1.0, 2.0, 3.0, 4.0]);
    /// assert_eq!(Tensor::arange(1.0, 0.0, -0.25).unwrap(), tensor![1.0, 0.75, 0.5, 0.25]);
    /// assert_eq!(Tensor::<f32>::arange(0.0, -1.0, 1.0).unwrap().dims(), &[0]);
    /// assert!(Tensor::<f32>::arange(0.0, 1.0, 0.0).is_err());
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when an argument is not finite, `step` is 0, or the range has too many
    /// elements to allocate.
    pub fn arange(start: T, end: T, step: T) -> Result<Tensor<T>> {
        let (s, e, st) = (start.f64(), end.f64(), step.f64());
        if !(s.is_finite() && e.is_finite() && st.is_finite()) || st == 0.0 {
            return Err(Error::InvalidArgument {
                op: "arange",
                msg: format!("start {s}, end {e}, step {st}: all must be finite and step nonzero"),
            });
        }
        let len = ((e - s) / st).ceil();
        let len = if len > 0.0 { len } else { 0.0 };
        if len >= isize::MAX as f64 {
            return Err(Error::InvalidArgument { op: "arange", msg: format!("{len} elements cannot be allocated") });
        }
        let n = len as usize;
        let data = filled("arange", n, |i| T::of(s + i as f64 * st))?;
        Ok(Tensor::from_parts(data, Shape::new(&[n])))
    }

    /// `n` evenly spaced values from `start` to `end`, both included: NumPy's `linspace`. Element `i` is
    /// `start + i * (end - start) / (n - 1)` in `f64`, and the last is exactly `end`.
    ///
    /// ```
    /// use tapegrad::{Tensor, tensor};
    /// assert_eq!(Tensor::linspace(0.0, 1.0, 5).unwrap(), tensor![0.0, 0.25, 0.5, 0.75, 1.0]);
    /// assert_eq!(Tensor::linspace(2.0, 3.0, 1).unwrap(), tensor![2.0]);
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when a bound is not finite or `n` elements cannot be allocated.
    pub fn linspace(start: T, end: T, n: usize) -> Result<Tensor<T>> {
        let (s, e) = (start.f64(), end.f64());
        if !(s.is_finite() && e.is_finite()) {
            return Err(Error::InvalidArgument {
                op: "linspace",
                msg: format!("start {s}, end {e}: both must be finite"),
            });
        }
        let step = if n > 1 { (e - s) / (n - 1) as f64 } else { 0.0 };
        let data = filled("linspace", n, |i| if n > 1 && i == n - 1 { end } else { T::of(s + i as f64 * step) })?;
        Ok(Tensor::from_parts(data, Shape::new(&[n])))
    }

    /// The `n x n` identity matrix.
    ///
    /// ```
    /// use tapegrad::{Tensor, tensor};
    /// let i = Tensor::<f64>::eye(2).unwrap();
    /// assert_eq!(i, tensor![[1.0, 0.0], [0.0, 1.0]]);
    /// let a = tensor![[1.0, 2.0], [3.0, 4.0]];
    /// assert_eq!(a.matmul(&i).unwrap(), a);
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `n * n` overflows or cannot be allocated.
    pub fn eye(n: usize) -> Result<Tensor<T>> {
        let nn = n
            .checked_mul(n)
            .ok_or_else(|| Error::InvalidArgument { op: "eye", msg: format!("{n} x {n} overflows usize") })?;
        let data = filled("eye", nn, |i| if i % (n + 1) == 0 { T::one() } else { T::zero() })?;
        Ok(Tensor::from_parts(data, Shape::new(&[n, n])))
    }
}

/// A rank-1 tensor that takes the `Vec`'s buffer (no copy).
///
/// ```
/// use tapegrad::Tensor;
/// let t = Tensor::from(vec![1.0f32, 2.0, 3.0]);
/// assert_eq!(t.dims(), &[3]);
/// ```
impl<T: Float> From<Vec<T>> for Tensor<T> {
    fn from(v: Vec<T>) -> Self {
        let n = v.len();
        Tensor::from_parts(v, Shape::new(&[n]))
    }
}

/// A rank-1 tensor `[N]`.
impl<T: Float, const N: usize> From<[T; N]> for Tensor<T> {
    fn from(a: [T; N]) -> Self {
        Tensor::from_iter_exact(Shape::new(&[N]), a.into_iter())
    }
}

/// A rank-2 tensor `[M, N]` from `M` rows.
///
/// ```
/// use tapegrad::Tensor;
/// let t = Tensor::from([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
/// assert_eq!(t.dims(), &[2, 3]);
/// assert_eq!(t.get(&[1, 0]).unwrap(), 4.0);
/// ```
impl<T: Float, const N: usize, const M: usize> From<[[T; N]; M]> for Tensor<T> {
    fn from(a: [[T; N]; M]) -> Self {
        Tensor::from_iter_exact(Shape::new(&[M, N]), a.as_flattened().iter().copied())
    }
}

/// A rank-3 tensor `[L, M, N]`.
impl<T: Float, const N: usize, const M: usize, const L: usize> From<[[[T; N]; M]; L]> for Tensor<T> {
    fn from(a: [[[T; N]; M]; L]) -> Self {
        Tensor::from_iter_exact(Shape::new(&[L, M, N]), a.as_flattened().as_flattened().iter().copied())
    }
}

/// A rank-4 tensor `[K, L, M, N]`.
impl<T: Float, const N: usize, const M: usize, const L: usize, const K: usize> From<[[[[T; N]; M]; L]; K]>
    for Tensor<T>
{
    fn from(a: [[[[T; N]; M]; L]; K]) -> Self {
        let flat = a.as_flattened().as_flattened().as_flattened();
        Tensor::from_iter_exact(Shape::new(&[K, L, M, N]), flat.iter().copied())
    }
}
