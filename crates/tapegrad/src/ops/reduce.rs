//! Reductions: sum, mean, max (whole tensor or along an axis, with `keepdim`) and logsumexp.
//!
//! The derivative of a reduction spreads `g` back over the reduced axis (a broadcast); `max` sends it to the
//! maximal elements only, split evenly between ties.
//!
//! NaN propagates through `max` as in PyTorch: a slice holding a NaN has maximum NaN, and the gradient goes
//! to its NaN elements.

use crate::error::Result;
use crate::float::Float;
use crate::kernels;
use crate::shape::Shape;
use crate::tape::{Op, OpGrads, Var};
use crate::tensor::Tensor;
use crate::val::{BackwardCx, Val};
use smallvec::smallvec;

/// `g` (reduced shape) broadcast back to the input's shape, re-inserting the reduced axis if it was dropped.
fn spread<T: Float>(cx: &BackwardCx<'_, T>, g: Val<T>, axis: Option<usize>) -> Result<Val<T>> {
    let s = cx.input_shape(0);
    let g = match axis {
        Some(a) => cx.reshape(g, &s.reduced(a, true))?,
        None => cx.reshape(g, &Shape::new(&vec![1; s.rank()]))?,
    };
    cx.broadcast_to(g, &s)
}

// ---- sum: y = sum x (over all, or one axis);  dx = broadcast(g) ----

struct SumOp(Option<usize>);
impl<T: Float> Op<T> for SumOp {
    fn name(&self) -> &'static str {
        "sum"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        Ok(smallvec![Some(spread(cx, g, self.0)?)])
    }
}

// ---- max: y = max x;  dx = broadcast(g) * [x == y] / count ----

/// The constant mask `[x == max] / (number of maxima)` per reduced slice.
fn max_mask<T: Float>(x: &Tensor<T>, y: &Tensor<T>, axis: Option<usize>) -> Result<Tensor<T>> {
    let yk = match axis {
        Some(a) => y.reshape(x.shape().reduced(a, true))?,
        None => y.reshape(Shape::new(&vec![1; x.rank()]))?,
    };
    // A NaN maximum is "equal" to the NaN elements it came from.
    let hit = |a: T, m: T| a == m || (a.is_nan() && m.is_nan());
    let hits = kernels::zip("max", x.clone(), &yk, |a, m| if hit(a, m) { T::one() } else { T::zero() })?;
    let count = match axis {
        Some(a) => kernels::reduce_axis("max", &hits, a, true, T::zero(), |p, q| p + q)?,
        None => Tensor::scalar(hits.data().iter().copied().sum()),
    };
    kernels::zip("max", hits, &count, |h, c| h / c)
}

struct MaxOp(Option<usize>);
impl<T: Float> Op<T> for MaxOp {
    fn name(&self) -> &'static str {
        "max"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        let mask = max_mask(&cx.input_value(0), &cx.output_value(), self.0)?;
        Ok(smallvec![Some(cx.mul(spread(cx, g, self.0)?, cx.constant(mask))?)])
    }
}

// ---- logsumexp: y = log sum exp x along axis;  dx = broadcast(g) * exp(x - broadcast(y)) ----

struct LogSumExpOp {
    axis: usize,
}
impl<T: Float> Op<T> for LogSumExpOp {
    fn name(&self) -> &'static str {
        "logsumexp"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        let s = cx.input_shape(0);
        let y = cx.broadcast_to(cx.reshape(cx.output(), &s.reduced(self.axis, true))?, &s)?;
        let p = cx.exp(cx.sub(cx.input(0), y)?)?;
        Ok(smallvec![Some(cx.mul(spread(cx, g, Some(self.axis))?, p)?)])
    }
}

/// Row maxima along `axis` (kept), used to shift before `exp` so it cannot overflow; NaN propagates.
pub(crate) fn max_keep<T: Float>(op: &'static str, x: &Tensor<T>, axis: usize) -> Result<Tensor<T>> {
    kernels::reduce::max_axis(op, x, axis, true)
}

impl<'t, T: Float> Var<'t, T> {
    /// The sum of all elements (a rank-0 result). Cannot fail: see [`crate::Tape::set_anomaly`].
    pub fn sum(self) -> Self {
        let v = Tensor::scalar(kernels::reduce::sum_all(&self.value()));
        self.tape.record_infallible(SumOp(None), self, v)
    }

    /// The sum along `axis` (negative counts from the end); `keepdim` keeps it with size 1.
    ///
    /// # Errors
    /// [`crate::Error::AxisOutOfRange`].
    pub fn sum_axis(self, axis: isize, keepdim: bool) -> Result<Self> {
        let a = self.shape().axis("sum", axis)?;
        let v = kernels::reduce::sum_axis("sum", &self.value(), a, keepdim)?;
        self.tape.record(SumOp(Some(a)), &[self], v)
    }

    /// The mean of all elements (sum / n; NaN for an empty tensor). Cannot fail: see
    /// [`crate::Tape::set_anomaly`].
    pub fn mean(self) -> Self {
        let n = self.shape().numel();
        self.sum().mul_scalar(T::one() / T::of(n as f64))
    }

    /// The mean along `axis`.
    ///
    /// # Errors
    /// [`crate::Error::AxisOutOfRange`].
    pub fn mean_axis(self, axis: isize, keepdim: bool) -> Result<Self> {
        let s = self.shape();
        let n = s.dims()[s.axis("mean", axis)?];
        Ok(self.sum_axis(axis, keepdim)?.mul_scalar(T::one() / T::of(n as f64)))
    }

    /// The largest element (NaN if any element is NaN). The gradient goes to the maximal elements, split
    /// evenly between ties.
    ///
    /// # Errors
    /// [`crate::Error::BadShape`] for an empty tensor.
    pub fn max(self) -> Result<Self> {
        let x = self.value();
        if x.numel() == 0 {
            return Err(crate::Error::BadShape { op: "max", msg: "empty tensor".into(), shape: x.shape().clone() });
        }
        let m = kernels::reduce::max_all(&x);
        self.tape.record(MaxOp(None), &[self], Tensor::scalar(m))
    }

    /// The maxima along `axis` (NaN for a slice holding a NaN).
    ///
    /// # Errors
    /// [`crate::Error::AxisOutOfRange`]; [`crate::Error::BadShape`] when the axis is empty.
    pub fn max_axis(self, axis: isize, keepdim: bool) -> Result<Self> {
        let s = self.shape();
        let a = s.axis("max", axis)?;
        if s.dims()[a] == 0 {
            return Err(crate::Error::BadShape { op: "max", msg: format!("axis {a} is empty"), shape: s });
        }
        let v = kernels::reduce::max_axis("max", &self.value(), a, keepdim)?;
        self.tape.record(MaxOp(Some(a)), &[self], v)
    }

    /// `log(sum(exp(x)))` along `axis`, computed stably by shifting with the maximum first.
    ///
    /// # Errors
    /// [`crate::Error::AxisOutOfRange`].
    pub fn logsumexp(self, axis: isize, keepdim: bool) -> Result<Self> {
        let s = self.shape();
        let a = s.axis("logsumexp", axis)?;
        let v = logsumexp_t(&self.value(), a)?;
        let v = if keepdim { v } else { v.reshape(s.reduced(a, false))? };
        self.tape.record(LogSumExpOp { axis: a }, &[self], v)
    }
}

/// Stable log-sum-exp along `axis`, kept as size 1: `m + log(sum(exp(x - m)))`.
pub(crate) fn logsumexp_t<T: Float>(x: &Tensor<T>, axis: usize) -> Result<Tensor<T>> {
    let m = max_keep("logsumexp", x, axis)?;
    let shifted =
        kernels::zip("logsumexp", x.clone(), &m, |a, b| if b.is_finite() { (a - b).exp() } else { T::zero() })
            .expect("invariant: the kept max broadcasts to its source");
    let s = kernels::reduce_axis("logsumexp", &shifted, axis, true, T::zero(), |a, b| a + b)?;
    Ok(kernels::zip("logsumexp", s, &m, |s, m| if m.is_finite() { m + s.ln() } else { m })
        .expect("invariant: same shape"))
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{check_unary, check_unary_rank};
    use crate::{Error, Tape, Tensor};
    use proptest::prelude::*;

    #[test]
    fn reductions_compute_by_hand_values() {
        let tape = Tape::<f64>::new();
        let x = tape.leaf(Tensor::from_vec(vec![1., 5., 3., 4., 2., 6.], [2, 3]).unwrap());
        assert_eq!(x.sum().item().unwrap(), 21.0);
        assert_eq!(x.sum_axis(0, false).unwrap().value().to_vec(), vec![5., 7., 9.]);
        assert_eq!(x.mean_axis(1, true).unwrap().value().dims(), &[2, 1]);
        assert_eq!(x.max_axis(1, false).unwrap().value().to_vec(), vec![5., 6.]);
        let lse = x.logsumexp(1, false).unwrap().value();
        let want = (1f64.exp() + 5f64.exp() + 3f64.exp()).ln();
        assert!((lse.data()[0] - want).abs() < 1e-12);
    }

    #[test]
    fn logsumexp_does_not_overflow() {
        let tape = Tape::<f32>::new();
        let x = tape.input(Tensor::from_vec(vec![1000.0, 1000.0], [2]).unwrap());
        let y = x.logsumexp(0, false).unwrap().item().unwrap();
        assert!((y - (1000.0 + 2f32.ln())).abs() < 1e-3);
    }

    #[test]
    fn max_splits_the_gradient_between_ties() {
        let tape = Tape::<f64>::new();
        let x = tape.leaf(Tensor::from_vec(vec![2., 1., 2.], [3]).unwrap());
        let g = x.max().unwrap().backward().unwrap();
        assert_eq!(g.get(x).unwrap().unwrap().to_vec(), vec![0.5, 0.0, 0.5]);
    }

    #[test]
    fn reductions_reject_bad_axes() {
        let tape = Tape::<f32>::new();
        let x = tape.input(Tensor::zeros([2, 3]).unwrap());
        assert_eq!(
            x.sum_axis(2, false).unwrap_err().to_string(),
            "sum: axis 2 is out of range for a tensor of rank 2 (shape [2, 3])"
        );
        assert!(matches!(x.max_axis(-3, false), Err(Error::AxisOutOfRange { op: "max", .. })));
        assert!(matches!(x.logsumexp(5, false), Err(Error::AxisOutOfRange { op: "logsumexp", .. })));
        assert!(matches!(x.mean_axis(7, true), Err(Error::AxisOutOfRange { op: "mean", .. })));
        assert!(matches!(tape.input(Tensor::zeros([0]).unwrap()).max(), Err(Error::BadShape { op: "max", .. })));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn reduction_gradients_match_finite_differences(seed in any::<u64>(), keep in any::<bool>()) {
            check_unary(seed, |x| Ok(x.sum()), (-2.0, 2.0))?;
            check_unary(seed, |x| Ok(x.mean()), (-2.0, 2.0))?;
            check_unary_rank(seed, |x| x.sum_axis(-1, keep), (-2.0, 2.0), 1)?;
            check_unary_rank(seed, |x| x.mean_axis(0, keep), (-2.0, 2.0), 1)?;
            check_unary_rank(seed, |x| x.logsumexp(-1, keep), (-2.0, 2.0), 1)?;
            // Random values have no ties, so max is differentiable there.
            check_unary(seed, |x| x.max(), (-2.0, 2.0))?;
            check_unary_rank(seed, |x| x.max_axis(0, keep), (-2.0, 2.0), 1)?;
        }
    }
}
