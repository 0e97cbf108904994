//! Elementwise arithmetic with NumPy broadcasting (`+ - * /`, negation, scalar forms) and the operator
//! overloads. The derivative of broadcasting is a sum over the stretched axes (`sum_to`).

use crate::error::Result;
use crate::float::Float;
use crate::kernels;
use crate::tape::{Op, OpGrads, Var};
use crate::tensor::Tensor;
use crate::val::{BackwardCx, Val};
use smallvec::smallvec;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// Gradient for input `i` of a broadcasting op: `g` summed down to that input's shape, or `None` if the
/// input needs no gradient.
fn unbroadcast<T: Float>(
    cx: &BackwardCx<'_, T>,
    i: usize,
    g: impl FnOnce() -> Result<Val<T>>,
) -> Result<Option<Val<T>>> {
    if !cx.needs(i) {
        return Ok(None);
    }
    Ok(Some(cx.sum_to(g()?, &cx.input_shape(i))?))
}

// The fallible methods share the operators' names on purpose (PyTorch's `a.add(b)`); the operator traits are
// implemented too, at the end of the file, and panic with these methods' messages.
impl<'t, T: Float> Var<'t, T> {
    /// Checks, computes and records a broadcasting op of two variables.
    fn binary(
        self,
        rhs: Var<'t, T>,
        op: impl Op<T>,
        f: fn(Tensor<T>, &Tensor<T>) -> Result<Tensor<T>>,
    ) -> Result<Self> {
        self.tape.owns(op.name(), rhs)?;
        let v = f(self.value(), &rhs.value())?;
        self.tape.record(op, &[self, rhs], v)
    }
}

// ---- add: y = a + b;  da = sum_to(g), db = sum_to(g) ----

pub(crate) fn add_t<T: Float>(a: Tensor<T>, b: &Tensor<T>) -> Result<Tensor<T>> {
    kernels::zip("add", a, b, |x, y| x + y)
}

struct AddOp;
impl<T: Float> Op<T> for AddOp {
    fn name(&self) -> &'static str {
        "add"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        Ok(smallvec![unbroadcast(cx, 0, || Ok(g.clone()))?, unbroadcast(cx, 1, || Ok(g))?])
    }
}

#[allow(clippy::should_implement_trait)]
impl<'t, T: Float> Var<'t, T> {
    /// `self + rhs` with NumPy broadcasting.
    ///
    /// # Errors
    /// [`crate::Error::ShapeMismatch`] when the shapes do not broadcast; [`crate::Error::ForeignVar`].
    pub fn add(self, rhs: Var<'t, T>) -> Result<Self> {
        self.binary(rhs, AddOp, add_t)
    }
}

// ---- sub: y = a - b;  da = sum_to(g), db = sum_to(-g) ----

pub(crate) fn sub_t<T: Float>(a: Tensor<T>, b: &Tensor<T>) -> Result<Tensor<T>> {
    kernels::zip("sub", a, b, |x, y| x - y)
}

struct SubOp;
impl<T: Float> Op<T> for SubOp {
    fn name(&self) -> &'static str {
        "sub"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        Ok(smallvec![unbroadcast(cx, 0, || Ok(g.clone()))?, unbroadcast(cx, 1, || cx.neg(g))?])
    }
}

#[allow(clippy::should_implement_trait)]
impl<'t, T: Float> Var<'t, T> {
    /// `self - rhs` with NumPy broadcasting.
    ///
    /// # Errors
    /// As [`Var::add`].
    pub fn sub(self, rhs: Var<'t, T>) -> Result<Self> {
        self.binary(rhs, SubOp, sub_t)
    }
}

// ---- mul: y = a * b;  da = sum_to(g * b), db = sum_to(g * a) ----

pub(crate) fn mul_t<T: Float>(a: Tensor<T>, b: &Tensor<T>) -> Result<Tensor<T>> {
    kernels::zip("mul", a, b, |x, y| x * y)
}

struct MulOp;
impl<T: Float> Op<T> for MulOp {
    fn name(&self) -> &'static str {
        "mul"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        Ok(smallvec![
            unbroadcast(cx, 0, || cx.mul(g.clone(), cx.input(1)))?,
            unbroadcast(cx, 1, || cx.mul(g, cx.input(0)))?
        ])
    }
}

#[allow(clippy::should_implement_trait)]
impl<'t, T: Float> Var<'t, T> {
    /// `self * rhs` elementwise with NumPy broadcasting.
    ///
    /// # Errors
    /// As [`Var::add`].
    pub fn mul(self, rhs: Var<'t, T>) -> Result<Self> {
        self.binary(rhs, MulOp, mul_t)
    }
}

// ---- div: y = a / b;  da = sum_to(g / b), db = sum_to(-g * a / b^2) ----

pub(crate) fn div_t<T: Float>(a: Tensor<T>, b: &Tensor<T>) -> Result<Tensor<T>> {
    kernels::zip("div", a, b, |x, y| x / y)
}

struct DivOp;
impl<T: Float> Op<T> for DivOp {
    fn name(&self) -> &'static str {
        "div"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        Ok(smallvec![
            unbroadcast(cx, 0, || cx.div(g.clone(), cx.input(1)))?,
            unbroadcast(cx, 1, || {
                let b = cx.input(1);
                let q = cx.div(cx.mul(g, cx.input(0))?, cx.mul(b.clone(), b)?)?;
                cx.neg(q)
            })?
        ])
    }
}

#[allow(clippy::should_implement_trait)]
impl<'t, T: Float> Var<'t, T> {
    /// `self / rhs` elementwise with NumPy broadcasting.
    ///
    /// # Errors
    /// As [`Var::add`].
    pub fn div(self, rhs: Var<'t, T>) -> Result<Self> {
        self.binary(rhs, DivOp, div_t)
    }
}

// ---- neg: y = -a;  da = -g ----

/// `-a`, in place when `a`'s storage is not shared.
pub(crate) fn neg_t<T: Float>(a: Tensor<T>) -> Tensor<T> {
    if a.is_unique() { a.map_inplace(|x| -x) } else { a.map(|x| -x) }
}

struct NegOp;
impl<T: Float> Op<T> for NegOp {
    fn name(&self) -> &'static str {
        "neg"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        Ok(smallvec![Some(cx.neg(g)?)])
    }
}

#[allow(clippy::should_implement_trait)]
impl<'t, T: Float> Var<'t, T> {
    /// `-self` (the `-` operator). Cannot fail: see [`crate::Tape::set_anomaly`].
    pub fn neg(self) -> Self {
        let v = neg_t(self.value());
        self.tape.record_infallible(NegOp, self, v)
    }

    /// `-self`, kept for one release: negation cannot fail, use `-x` or [`Var::neg`].
    ///
    /// # Errors
    /// Never.
    #[deprecated(since = "0.2.0", note = "negation cannot fail: use `-x` or `x.neg()`")]
    pub fn try_neg(self) -> Result<Self> {
        Ok(self.neg())
    }
}

// ---- add_scalar: y = a + c;  da = g ----

struct AddScalarOp<T>(T);
impl<T: Float> Op<T> for AddScalarOp<T> {
    fn name(&self) -> &'static str {
        "add_scalar"
    }
    fn backward(&self, _cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        Ok(smallvec![Some(g)])
    }
    fn attributes(&self) -> Option<String> {
        Some(format!("c = {}", self.0))
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// `self + c`. Cannot fail: see [`crate::Tape::set_anomaly`].
    pub fn add_scalar(self, c: T) -> Self {
        let v = self.map_value(|x| x + c);
        self.tape.record_infallible(AddScalarOp(c), self, v)
    }
}

// ---- mul_scalar: y = c a;  da = c g ----

struct MulScalarOp<T>(T);
impl<T: Float> Op<T> for MulScalarOp<T> {
    fn name(&self) -> &'static str {
        "mul_scalar"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        Ok(smallvec![Some(cx.scale(g, self.0)?)])
    }
    fn attributes(&self) -> Option<String> {
        Some(format!("c = {}", self.0))
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// `c * self`. Cannot fail: see [`crate::Tape::set_anomaly`].
    pub fn mul_scalar(self, c: T) -> Self {
        let v = self.map_value(|x| x * c);
        self.tape.record_infallible(MulScalarOp(c), self, v)
    }
}

// ---- the operators: `+ - * /` and unary `-` on variables, and with a scalar on either side ----

/// Unwraps an operator's result, panicking at the caller's line (`#[track_caller]` on every operator).
#[track_caller]
fn or_panic<T>(r: Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

macro_rules! var_operator {
    ($tr:ident, $m:ident, $f:ident) => {
        /// Operator form of the method of the same name.
        ///
        /// # Panics
        /// With the method's error message when it fails (shapes that do not broadcast, variables of
        /// different tapes). Call the method to get a `Result` instead.
        impl<'t, T: Float> $tr for Var<'t, T> {
            type Output = Var<'t, T>;
            #[track_caller]
            fn $m(self, rhs: Var<'t, T>) -> Var<'t, T> {
                or_panic(Var::$f(self, rhs))
            }
        }
    };
}
var_operator!(Add, add, add);
var_operator!(Sub, sub, sub);
var_operator!(Mul, mul, mul);
var_operator!(Div, div, div);

/// `-x`: [`Var::neg`].
impl<'t, T: Float> Neg for Var<'t, T> {
    type Output = Var<'t, T>;
    #[track_caller]
    fn neg(self) -> Var<'t, T> {
        Var::neg(self)
    }
}

macro_rules! scalar_operators {
    ($t:ty) => {
        /// `x + c`.
        impl<'t> Add<$t> for Var<'t, $t> {
            type Output = Var<'t, $t>;
            #[track_caller]
            fn add(self, c: $t) -> Var<'t, $t> {
                self.add_scalar(c)
            }
        }
        /// `c + x`.
        impl<'t> Add<Var<'t, $t>> for $t {
            type Output = Var<'t, $t>;
            #[track_caller]
            fn add(self, x: Var<'t, $t>) -> Var<'t, $t> {
                x.add_scalar(self)
            }
        }
        /// `x - c`.
        impl<'t> Sub<$t> for Var<'t, $t> {
            type Output = Var<'t, $t>;
            #[track_caller]
            fn sub(self, c: $t) -> Var<'t, $t> {
                self.add_scalar(-c)
            }
        }
        /// `c - x`.
        impl<'t> Sub<Var<'t, $t>> for $t {
            type Output = Var<'t, $t>;
            #[track_caller]
            fn sub(self, x: Var<'t, $t>) -> Var<'t, $t> {
                x.mul_scalar(-1.0).add_scalar(self)
            }
        }
        /// `x * c`.
        impl<'t> Mul<$t> for Var<'t, $t> {
            type Output = Var<'t, $t>;
            #[track_caller]
            fn mul(self, c: $t) -> Var<'t, $t> {
                self.mul_scalar(c)
            }
        }
        /// `c * x`.
        impl<'t> Mul<Var<'t, $t>> for $t {
            type Output = Var<'t, $t>;
            #[track_caller]
            fn mul(self, x: Var<'t, $t>) -> Var<'t, $t> {
                x.mul_scalar(self)
            }
        }
        /// `x / c`.
        impl<'t> Div<$t> for Var<'t, $t> {
            type Output = Var<'t, $t>;
            #[track_caller]
            fn div(self, c: $t) -> Var<'t, $t> {
                self.mul_scalar(1.0 / c)
            }
        }
        /// `c / x`.
        impl<'t> Div<Var<'t, $t>> for $t {
            type Output = Var<'t, $t>;
            #[track_caller]
            fn div(self, x: Var<'t, $t>) -> Var<'t, $t> {
                or_panic(x.powf(-1.0)).mul_scalar(self)
            }
        }
    };
}
scalar_operators!(f32);
scalar_operators!(f64);

#[cfg(test)]
mod tests {
    use crate::ops::testing::{check_binary, check_unary};
    use crate::{Error, Tape, Tensor};
    use proptest::prelude::*;

    #[test]
    fn add_broadcasts_a_row_over_a_matrix() {
        let tape = Tape::<f64>::new();
        let a = tape.leaf(Tensor::from_vec(vec![1., 2., 3., 4., 5., 6.], [2, 3]).unwrap());
        let b = tape.leaf(Tensor::from_vec(vec![10., 20., 30.], [3]).unwrap());
        let y = a + b;
        assert_eq!(y.value().to_vec(), vec![11., 22., 33., 14., 25., 36.]);
        let g = y.sum().backward().unwrap();
        assert_eq!(g.get(b).unwrap().unwrap().to_vec(), vec![2., 2., 2.]);
    }

    #[test]
    fn add_rejects_shapes_that_do_not_broadcast() {
        let tape = Tape::<f32>::new();
        let a = tape.input(Tensor::zeros([2, 3]).unwrap());
        let b = tape.input(Tensor::zeros([4]).unwrap());
        let e = a.add(b).unwrap_err();
        assert_eq!(e.to_string(), "add: shapes cannot be broadcast together ([2, 3] and [4])");
        assert!(matches!(a.mul(b), Err(Error::ShapeMismatch { op: "mul", .. })));
        assert!(matches!(a.sub(b), Err(Error::ShapeMismatch { op: "sub", .. })));
        assert!(matches!(a.div(b), Err(Error::ShapeMismatch { op: "div", .. })));
    }

    #[test]
    #[should_panic(expected = "mul: shapes cannot be broadcast together ([2] and [3])")]
    fn operator_panics_with_the_method_message() {
        let tape = Tape::<f32>::new();
        let _ = tape.input(Tensor::zeros([2]).unwrap()) * tape.input(Tensor::zeros([3]).unwrap());
    }

    #[test]
    fn variable_of_another_tape_is_an_error() {
        let t1 = Tape::<f64>::new();
        let t2 = Tape::<f64>::new();
        let a = t1.leaf(Tensor::scalar(1.0));
        let b = t2.leaf(Tensor::scalar(1.0));
        assert_eq!(a.add(b).unwrap_err(), Error::ForeignVar { op: "add" });
    }

    #[test]
    fn scalar_operators_compute_the_expected_values() {
        let tape = Tape::<f64>::new();
        let x = tape.leaf(Tensor::scalar(2.0));
        let y = (3.0 - x) * 2.0 + 1.0 / x - x / 4.0 + (-x);
        // (3 - 2) * 2 + 0.5 - 0.5 - 2 = 0
        assert!((y.item().unwrap() - 0.0).abs() < 1e-12);
        let g = y.backward().unwrap();
        // d/dx = -2 - 1/x^2 - 1/4 - 1 = -3.5
        assert!((g.get(x).unwrap().unwrap().item().unwrap() + 3.5).abs() < 1e-12);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn add_gradients_match_finite_differences(seed in any::<u64>()) {
            check_binary(seed, |a, b| a.add(b), (-2.0, 2.0), (-2.0, 2.0))?;
        }
        #[test]
        fn sub_gradients_match_finite_differences(seed in any::<u64>()) {
            check_binary(seed, |a, b| a.sub(b), (-2.0, 2.0), (-2.0, 2.0))?;
        }
        #[test]
        fn mul_gradients_match_finite_differences(seed in any::<u64>()) {
            check_binary(seed, |a, b| a.mul(b), (-2.0, 2.0), (-2.0, 2.0))?;
        }
        #[test]
        fn div_gradients_match_finite_differences(seed in any::<u64>()) {
            check_binary(seed, |a, b| a.div(b), (-2.0, 2.0), (0.5, 2.0))?;
        }
        #[test]
        fn neg_and_scalar_gradients_match_finite_differences(seed in any::<u64>()) {
            check_unary(seed, |a| Ok(a.neg()), (-2.0, 2.0))?;
            check_unary(seed, |a| Ok(a.mul_scalar(-1.7)), (-2.0, 2.0))?;
            check_unary(seed, |a| Ok(a.add_scalar(0.3)), (-2.0, 2.0))?;
        }
    }
}
