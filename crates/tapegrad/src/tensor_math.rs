//! Eager maths on [`Tensor`], with no tape: arithmetic with NumPy broadcasting (operators and named
//! methods), `matmul`, reductions, `allclose`.
//!
//! Nothing here is a second implementation: every method calls the function that the matching tape op
//! uses for its forward (`ops::binary`'s `add_t` ... `div_t` over the broadcasting kernel
//! [`kernels::zip`], [`kernels::matmul`], [`kernels::reduce`]), so a tensor method and the op give
//! bit-identical values. The table is in `docs/ops.md`, section "Eager tensor maths".
//!
//! Fallibility follows the rule of [`crate::Var`]: the named methods ([`Tensor::add`], [`Tensor::matmul`],
//! [`Tensor::sum_axis`], ...) return [`Result`]; the operators panic with the same message and
//! `#[track_caller]`, so the panic names the caller's line.
//!
//! With `std::ops::Add` imported, `a.add(&b)` on an owned tensor is the operator; see [`Tensor::add`].

use crate::error::{Error, Result};
use crate::float::Float;
use crate::kernels::{self, reduce};
use crate::ops::binary::{add_t, div_t, mul_t, neg_t, sub_t};
use crate::tensor::Tensor;
use std::ops::{Add, Div, Mul, Neg, Sub};

// The named methods share the operators' names on purpose, as `Var`'s do (PyTorch's `a.add(b)`).
#[allow(clippy::should_implement_trait)]
impl<T: Float> Tensor<T> {
    /// `self + rhs` elementwise with NumPy broadcasting (the kernel of [`crate::Var::add`]).
    ///
    /// ```
    /// use tapegrad::tensor;
    /// let a = tensor![[1.0, 2.0], [3.0, 4.0]];
    /// let b = tensor![10.0, 20.0];
    /// assert_eq!(a.add(&b).unwrap(), tensor![[11.0, 22.0], [13.0, 24.0]]);
    /// assert_eq!(&a + &b, a.add(&b).unwrap());
    /// assert!(a.add(&tensor![1.0, 2.0, 3.0]).is_err());
    /// ```
    ///
    /// Rust's method lookup prefers a trait method taking `self` by value: with `std::ops::Add` imported,
    /// `a.add(&b)` on an owned `a` is the operator (which panics); write `Tensor::add(&a, &b)` there.
    ///
    /// ```
    /// use std::ops::Add;
    /// use tapegrad::{Tensor, tensor};
    /// let (a, b) = (tensor![1.0, 2.0], tensor![3.0, 4.0]);
    /// let by_operator: Tensor<f64> = a.clone().add(&b);
    /// assert_eq!(Tensor::add(&a, &b).unwrap(), by_operator);
    /// ```
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the shapes do not broadcast, e.g.
    /// `add: shapes cannot be broadcast together ([2, 2] and [3])`.
    pub fn add(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
        add_t(self.clone(), rhs)
    }

    /// `self - rhs` elementwise with NumPy broadcasting.
    ///
    /// # Errors
    /// As [`Tensor::add`].
    pub fn sub(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
        sub_t(self.clone(), rhs)
    }

    /// `self * rhs` elementwise with NumPy broadcasting.
    ///
    /// # Errors
    /// As [`Tensor::add`].
    pub fn mul(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
        mul_t(self.clone(), rhs)
    }

    /// `self / rhs` elementwise with NumPy broadcasting.
    ///
    /// # Errors
    /// As [`Tensor::add`].
    pub fn div(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
        div_t(self.clone(), rhs)
    }

    /// The matrix product: `[m, k] · [k, n]`, or batched `[b, m, k] · [b, k, n]`; the GEMM of
    /// [`crate::Var::matmul`].
    ///
    /// ```
    /// use tapegrad::tensor;
    /// let a = tensor![[1.0, 2.0], [3.0, 4.0]];
    /// assert_eq!(a.matmul(&tensor![[1.0], [1.0]]).unwrap(), tensor![[3.0], [7.0]]);
    /// ```
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when inner dimensions or batch sizes differ, [`Error::BadShape`] for ranks
    /// other than 2 and 3.
    pub fn matmul(&self, rhs: &Tensor<T>) -> Result<Tensor<T>> {
        kernels::matmul(self, rhs, false, false)
    }

    /// The sum of all elements (0 for an empty tensor).
    ///
    /// ```
    /// use tapegrad::tensor;
    /// let x = tensor![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
    /// assert_eq!(x.sum(), 21.0);
    /// assert_eq!(x.mean(), 3.5);
    /// assert_eq!(x.sum_axis(0, false).unwrap(), tensor![5.0, 7.0, 9.0]);
    /// assert_eq!(x.mean_axis(-1, true).unwrap(), tensor![[2.0], [5.0]]);
    /// ```
    pub fn sum(&self) -> T {
        reduce::sum_all(self)
    }

    /// The mean of all elements: the sum times `1 / n`, as [`crate::Var::mean`] (NaN for an empty tensor).
    pub fn mean(&self) -> T {
        self.sum() * (T::one() / T::of(self.numel() as f64))
    }

    /// The sums along `axis` (negative counts from the end); `keepdim` keeps it with size 1.
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`].
    pub fn sum_axis(&self, axis: isize, keepdim: bool) -> Result<Tensor<T>> {
        let a = self.shape().axis("sum", axis)?;
        reduce::sum_axis("sum", self, a, keepdim)
    }

    /// The means along `axis`: the sums times `1 / n`, as [`crate::Var::mean_axis`].
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`].
    pub fn mean_axis(&self, axis: isize, keepdim: bool) -> Result<Tensor<T>> {
        let a = self.shape().axis("mean", axis)?;
        let n = self.dims()[a];
        mul_t(reduce::sum_axis("mean", self, a, keepdim)?, &Tensor::scalar(T::one() / T::of(n as f64)))
    }

    /// The largest element; NaN if any element is NaN (as PyTorch).
    ///
    /// ```
    /// use tapegrad::tensor;
    /// let x = tensor![[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]];
    /// assert_eq!(x.max().unwrap(), 6.0);
    /// assert_eq!(x.argmax().unwrap(), 5);
    /// assert_eq!(x.max_axis(1, false).unwrap(), tensor![5.0, 6.0]);
    /// assert_eq!(x.argmax_axis(1).unwrap(), vec![1, 2]);
    /// assert_eq!(x.argmin_axis(0).unwrap(), vec![0, 1, 0]);
    /// assert!(tensor![1.0, f64::NAN].max().unwrap().is_nan());
    /// ```
    ///
    /// # Errors
    /// [`Error::BadShape`] for an empty tensor.
    pub fn max(&self) -> Result<T> {
        self.non_empty("max")?;
        Ok(reduce::max_all(self))
    }

    /// The smallest element; NaN if any element is NaN.
    ///
    /// # Errors
    /// [`Error::BadShape`] for an empty tensor.
    pub fn min(&self) -> Result<T> {
        self.non_empty("min")?;
        Ok(reduce::min_all(self))
    }

    /// The flat row-major index of the largest element: the first of ties, the first NaN if there is one.
    ///
    /// # Errors
    /// [`Error::BadShape`] for an empty tensor.
    pub fn argmax(&self) -> Result<usize> {
        self.non_empty("argmax")?;
        Ok(reduce::argmax_all(self))
    }

    /// The flat row-major index of the smallest element: the first of ties, the first NaN if there is one.
    ///
    /// # Errors
    /// [`Error::BadShape`] for an empty tensor.
    pub fn argmin(&self) -> Result<usize> {
        self.non_empty("argmin")?;
        Ok(reduce::argmin_all(self))
    }

    /// The maxima along `axis` (NaN where the slice holds a NaN), the kernel of [`crate::Var::max_axis`].
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`]; [`Error::BadShape`] when the axis is empty.
    pub fn max_axis(&self, axis: isize, keepdim: bool) -> Result<Tensor<T>> {
        let a = self.reduced_axis("max", axis)?;
        reduce::max_axis("max", self, a, keepdim)
    }

    /// The minima along `axis` (NaN where the slice holds a NaN).
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`]; [`Error::BadShape`] when the axis is empty.
    pub fn min_axis(&self, axis: isize, keepdim: bool) -> Result<Tensor<T>> {
        let a = self.reduced_axis("min", axis)?;
        reduce::min_axis("min", self, a, keepdim)
    }

    /// The position of the largest element of each slice along `axis` (first of ties, first NaN), in
    /// row-major order of the shape with `axis` removed. Indices are integers, so they come as a `Vec`
    /// rather than a float tensor (for `[N, C]` scores and `axis = -1`: one class per row).
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`]; [`Error::BadShape`] when the axis is empty.
    pub fn argmax_axis(&self, axis: isize) -> Result<Vec<usize>> {
        let a = self.reduced_axis("argmax", axis)?;
        reduce::argmax_axis("argmax", self, a)
    }

    /// The position of the smallest element of each slice along `axis`, as [`Tensor::argmax_axis`].
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`]; [`Error::BadShape`] when the axis is empty.
    pub fn argmin_axis(&self, axis: isize) -> Result<Vec<usize>> {
        let a = self.reduced_axis("argmin", axis)?;
        reduce::argmin_axis("argmin", self, a)
    }

    /// Whether every pair of elements (shapes broadcast as NumPy) satisfies
    /// `|a - b| <= atol + rtol * |b|`, computed in `f64`: NumPy's `allclose`. Infinities are close only to
    /// the same infinity; NaN is never close, not even to NaN.
    ///
    /// ```
    /// use tapegrad::tensor;
    /// let a = tensor![1.0, 2.0, 3.0];
    /// assert!(a.allclose(&tensor![1.0, 2.0, 3.0 + 1e-9], 1e-5, 1e-8).unwrap());
    /// assert!(!a.allclose(&tensor![1.0, 2.0, 3.1], 1e-5, 1e-8).unwrap());
    /// assert!(!tensor![f64::NAN].allclose(&tensor![f64::NAN], 1e-5, 1e-8).unwrap());
    /// assert!(a.allclose(&tensor![1.0, 2.0], 1e-5, 1e-8).is_err());
    /// ```
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the shapes do not broadcast; [`Error::InvalidArgument`] when a
    /// tolerance is negative or NaN.
    pub fn allclose(&self, other: &Tensor<T>, rtol: f64, atol: f64) -> Result<bool> {
        if !(rtol >= 0.0 && atol >= 0.0) {
            return Err(Error::InvalidArgument {
                op: "allclose",
                msg: format!("tolerances must be >= 0 (rtol {rtol}, atol {atol})"),
            });
        }
        let close = |a: T, b: T| {
            let (a, b) = (a.f64(), b.f64());
            let ok = if a.is_finite() && b.is_finite() { (a - b).abs() <= atol + rtol * b.abs() } else { a == b };
            if ok { T::one() } else { T::zero() }
        };
        let hits = kernels::zip("allclose", self.clone(), other, close)?;
        Ok(hits.data().iter().all(|&h| h == T::one()))
    }

    fn non_empty(&self, op: &'static str) -> Result<()> {
        if self.numel() == 0 {
            return Err(Error::BadShape { op, msg: "empty tensor".into(), shape: self.shape().clone() });
        }
        Ok(())
    }

    /// `axis` resolved, and checked to be non-empty (an extreme of nothing is undefined).
    fn reduced_axis(&self, op: &'static str, axis: isize) -> Result<usize> {
        let s = self.shape();
        let a = s.axis(op, axis)?;
        if s.dims()[a] == 0 {
            return Err(Error::BadShape { op, msg: format!("axis {a} is empty"), shape: s.clone() });
        }
        Ok(a)
    }
}

/// The operators' way out: the method's error as the panic message, at the caller's line.
#[track_caller]
fn or_panic<T: Float>(r: Result<Tensor<T>>) -> Tensor<T> {
    match r {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    }
}

macro_rules! tensor_operator {
    ($tr:ident, $m:ident, $kernel:ident) => {
        /// Operator form of the method of the same name (NumPy broadcasting).
        ///
        /// # Panics
        /// With the method's error message, at the caller's line, when the shapes do not broadcast.
        impl<T: Float> $tr<Tensor<T>> for Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $m(self, rhs: Tensor<T>) -> Tensor<T> {
                or_panic($kernel(self, &rhs))
            }
        }
        /// Operator form of the method of the same name; reuses `self`'s buffer when it can.
        ///
        /// # Panics
        /// As the owned form.
        impl<T: Float> $tr<&Tensor<T>> for Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $m(self, rhs: &Tensor<T>) -> Tensor<T> {
                or_panic($kernel(self, rhs))
            }
        }
        /// Operator form of the method of the same name.
        ///
        /// # Panics
        /// As the owned form.
        impl<T: Float> $tr<Tensor<T>> for &Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $m(self, rhs: Tensor<T>) -> Tensor<T> {
                or_panic($kernel(self.clone(), &rhs))
            }
        }
        /// Operator form of the method of the same name.
        ///
        /// # Panics
        /// As the owned form.
        impl<T: Float> $tr<&Tensor<T>> for &Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $m(self, rhs: &Tensor<T>) -> Tensor<T> {
                or_panic($kernel(self.clone(), rhs))
            }
        }
        /// The scalar on the right, broadcast as a rank-0 tensor (cannot fail).
        impl<T: Float> $tr<T> for Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $m(self, c: T) -> Tensor<T> {
                or_panic($kernel(self, &Tensor::scalar(c)))
            }
        }
        /// The scalar on the right, broadcast as a rank-0 tensor (cannot fail).
        impl<T: Float> $tr<T> for &Tensor<T> {
            type Output = Tensor<T>;
            #[track_caller]
            fn $m(self, c: T) -> Tensor<T> {
                or_panic($kernel(self.clone(), &Tensor::scalar(c)))
            }
        }
    };
}
tensor_operator!(Add, add, add_t);
tensor_operator!(Sub, sub, sub_t);
tensor_operator!(Mul, mul, mul_t);
tensor_operator!(Div, div, div_t);

/// The scalar on the left of a tensor (`2.0 * &x`, `1.0 - x`); Rust's orphan rule needs one impl per
/// element type.
macro_rules! scalar_left_operators {
    ($t:ty) => {
        scalar_left_operators!(@one $t, Add, add, add_t);
        scalar_left_operators!(@one $t, Sub, sub, sub_t);
        scalar_left_operators!(@one $t, Mul, mul, mul_t);
        scalar_left_operators!(@one $t, Div, div, div_t);
    };
    (@one $t:ty, $tr:ident, $m:ident, $kernel:ident) => {
        /// The scalar on the left, broadcast as a rank-0 tensor (cannot fail).
        impl $tr<Tensor<$t>> for $t {
            type Output = Tensor<$t>;
            #[track_caller]
            fn $m(self, x: Tensor<$t>) -> Tensor<$t> {
                or_panic($kernel(Tensor::scalar(self), &x))
            }
        }
        /// The scalar on the left, broadcast as a rank-0 tensor (cannot fail).
        impl $tr<&Tensor<$t>> for $t {
            type Output = Tensor<$t>;
            #[track_caller]
            fn $m(self, x: &Tensor<$t>) -> Tensor<$t> {
                or_panic($kernel(Tensor::scalar(self), x))
            }
        }
    };
}
scalar_left_operators!(f32);
scalar_left_operators!(f64);

/// `-x`, in place when the storage is not shared (the forward of [`crate::Var::try_neg`]).
impl<T: Float> Neg for Tensor<T> {
    type Output = Tensor<T>;
    fn neg(self) -> Tensor<T> {
        neg_t(self)
    }
}

/// `-x`.
impl<T: Float> Neg for &Tensor<T> {
    type Output = Tensor<T>;
    fn neg(self) -> Tensor<T> {
        neg_t(self.clone())
    }
}

#[cfg(test)]
#[path = "tensor_math_tests.rs"]
mod tests;
