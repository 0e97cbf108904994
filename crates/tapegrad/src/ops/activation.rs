//! The activations from the lectures: step (Heaviside), sign, sigmoid, tanh, relu, leaky relu with two
//! slopes, softplus, and softmax / log_softmax along an axis.
//!
//! Step and sign are piecewise constant: their derivative is zero everywhere except at 0, where it does not
//! exist. Backward passes zero, so nothing upstream of a step neuron learns by gradient descent (which is
//! why the lectures move to sigmoid).

use crate::error::Result;
use crate::float::Float;
use crate::kernels;
use crate::ops::reduce::logsumexp_t;
use crate::ops::unary::elementwise;
use crate::tape::{Op, OpGrads, Var};
use crate::tensor::Tensor;
use crate::val::{BackwardCx, Val};
use smallvec::smallvec;

/// The logistic function, stable for large |x| (never computes `exp` of a large positive number).
pub(crate) fn sigmoid_f<T: Float>(x: T) -> T {
    if x >= T::zero() {
        T::one() / (T::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::one() + e)
    }
}

/// `log(1 + e^x)` without overflow: `max(x, 0) + log1p(e^-|x|)`.
fn softplus_f<T: Float>(x: T) -> T {
    x.max(T::zero()) + (-x.abs()).exp().ln_1p()
}

elementwise!(
    /// Heaviside step: 1 for x > 0, else 0 (the lecture's threshold neuron). Derivative: 0 (see module doc).
    step, StepOp, "step", fwd: |x| if x > T::zero() { T::one() } else { T::zero() },
    bwd: |cx, g| cx.scale(g, T::zero())
);

elementwise!(
    /// Sign: 1 for x > 0, -1 for x < 0, 0 at 0. Derivative: 0 (see module doc).
    sign, SignOp, "sign",
    fwd: |x| if x > T::zero() { T::one() } else if x < T::zero() { -T::one() } else { T::zero() },
    bwd: |cx, g| cx.scale(g, T::zero())
);

elementwise!(
    /// Logistic sigmoid `1 / (1 + e^-x)`; derivative `g y (1 - y)` (saves the output).
    sigmoid, SigmoidOp, "sigmoid", fwd: |x| sigmoid_f(x),
    bwd: |cx, g| {
        let y = cx.output();
        let one_minus = cx.affine(y.clone(), -T::one(), T::one())?;
        cx.mul(g, cx.mul(y, one_minus)?)
    }
);

elementwise!(
    /// Hyperbolic tangent; derivative `g (1 - y^2)` (saves the output).
    tanh, TanhOp, "tanh", fwd: |x| x.tanh(),
    bwd: |cx, g| {
        let y = cx.output();
        cx.mul(g, cx.affine(cx.square(y)?, -T::one(), T::one())?)
    }
);

// ---- relu: y = max(x, 0);  dx = relu_grad(g, y) = g [y > 0], one fused op ----

struct ReluOp;
impl<T: Float> Op<T> for ReluOp {
    fn name(&self) -> &'static str {
        "relu"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        Ok(smallvec![Some(cx.relu_grad(g, cx.output())?)])
    }
}

/// `g [y > 0]` elementwise, as `g * mask` (so a NaN or infinite `g` where `y <= 0` gives NaN, exactly as
/// multiplying by a 0/1 mask would): relu's derivative in one pass, without a mask tensor.
pub(crate) fn relu_grad_t<T: Float>(g: Tensor<T>, y: &Tensor<T>) -> Result<Tensor<T>> {
    kernels::zip("relu_grad", g, y, |g, y| if y <= T::zero() { g * T::zero() } else { g })
}

// ---- relu_grad(g, y) = g [y > 0]: linear in g, piecewise constant in y;
// dg = relu_grad(gbar, y), dy = 0 (the mask's derivative is 0 wherever it exists) ----

struct ReluGradOp;
impl<T: Float> Op<T> for ReluGradOp {
    fn name(&self) -> &'static str {
        "relu_grad"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        let dg = if cx.needs(0) { Some(cx.relu_grad(g, cx.input(1))?) } else { None };
        Ok(smallvec![dg, None])
    }
}

elementwise!(
    /// Softplus `log(1 + e^x)`, a smooth relu; derivative `g sigmoid(x)`.
    softplus, SoftplusOp, "softplus", fwd: |x| softplus_f(x),
    bwd: |cx, g| cx.mul(g, cx.sigmoid(cx.input(0))?)
);

// ---- leaky relu with two slopes: y = alpha x for x >= 0, beta x for x < 0;  dx = g * slope(x) ----

struct LeakyReluOp<T> {
    alpha: T,
    beta: T,
}
impl<T: Float> Op<T> for LeakyReluOp<T> {
    fn name(&self) -> &'static str {
        "leaky_relu"
    }
    fn attributes(&self) -> Option<String> {
        Some(format!("alpha = {}, beta = {}", self.alpha, self.beta))
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        let (a, b) = (self.alpha, self.beta);
        let slope = cx.input_value(0).map(|x| if x >= T::zero() { a } else { b });
        Ok(smallvec![Some(cx.mul(g, cx.constant(slope))?)])
    }
}

// ---- softmax along axis: y = exp(x - lse(x));  dx = y (g - sum(g y, axis)) ----

/// Stable softmax along `axis`: subtract the maximum before `exp`.
pub(crate) fn softmax_t<T: Float>(x: &Tensor<T>, axis: usize) -> Result<Tensor<T>> {
    if x.numel() == 0 {
        // Nothing to normalise; the kept maxima of `[2^46, 0]` along axis 1 alone would not fit.
        return Ok(x.clone());
    }
    if axis + 1 == x.rank() {
        // Along the last axis (the classes of `[N, C]` logits): row by row, no broadcasting. The maximum is
        // NaN when the row holds a NaN, as `max_keep`'s, so a NaN row gives NaN as below.
        let c = x.dims()[axis];
        let mut out = x.to_vec();
        for row in out.chunks_exact_mut(c.max(1)) {
            let m =
                row.iter().fold(T::neg_infinity(), |m, &v| if m.is_nan() || v.is_nan() { T::nan() } else { m.max(v) });
            let mut s = T::zero();
            for v in row.iter_mut() {
                *v = (*v - m).exp();
                s += *v;
            }
            for v in row.iter_mut() {
                *v /= s;
            }
        }
        return Ok(Tensor::from_parts(out, x.shape().clone()));
    }
    let m = crate::ops::reduce::max_keep("softmax", x, axis)?;
    let e = kernels::zip("softmax", x.clone(), &m, |a, b| (a - b).exp()).expect("invariant: kept max broadcasts");
    let s = kernels::reduce_axis("softmax", &e, axis, true, T::zero(), |a, b| a + b)?;
    Ok(kernels::zip("softmax", e, &s, |a, b| a / b).expect("invariant: kept sum broadcasts"))
}

struct SoftmaxOp {
    axis: usize,
}
impl<T: Float> Op<T> for SoftmaxOp {
    fn name(&self) -> &'static str {
        "softmax"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        let y = cx.output();
        let dot = cx.sum_axis(cx.mul(g.clone(), y.clone())?, self.axis, true)?;
        Ok(smallvec![Some(cx.mul(y, cx.sub(g, dot)?)?)])
    }
}

// ---- log_softmax along axis: y = x - lse(x);  dx = g - exp(y) sum(g, axis) ----

struct LogSoftmaxOp {
    axis: usize,
}
impl<T: Float> Op<T> for LogSoftmaxOp {
    fn name(&self) -> &'static str {
        "log_softmax"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        let p = cx.exp(cx.output())?;
        let s = cx.sum_axis(g.clone(), self.axis, true)?;
        Ok(smallvec![Some(cx.sub(g, cx.mul(p, s)?)?)])
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Rectified linear unit `max(x, 0)`; derivative `g [x > 0]` (taken as 0 at the kink), one fused
    /// `relu_grad` op. NaN propagates as in PyTorch: `relu(NaN) = NaN`, and its gradient passes `g` through
    /// (a comparison with NaN is false, so only `y <= 0` is masked).
    ///
    /// Cannot fail: in anomaly mode a non-finite result is noted on the tape and reported by the next
    /// fallible call (see [`crate::Tape::set_anomaly`]).
    #[track_caller]
    pub fn relu(self) -> Self {
        let v = self.map_value(|x: T| if x <= T::zero() { T::zero() } else { x });
        self.tape.record_infallible(ReluOp, self, v)
    }

    /// `self [y > 0]` for the gradient `self` of a relu's output `y` (relu's derivative as one op; what a
    /// gradient graph through a relu records).
    ///
    /// # Errors
    /// [`crate::Error::ShapeMismatch`] when the shapes do not broadcast.
    pub(crate) fn relu_grad(self, y: Var<'t, T>) -> Result<Self> {
        self.tape.owns("relu_grad", y)?;
        let v = relu_grad_t(self.value(), &y.value())?;
        self.tape.record(ReluGradOp, &[self, y], v)
    }

    /// Leaky relu with the lecture's two slopes: `alpha x` for `x >= 0`, `beta x` for `x < 0`
    /// (`leaky_relu(1.0, 0.01)` is the usual one). NaN propagates (`beta * NaN`).
    ///
    /// # Errors
    /// [`crate::Error::InvalidArgument`] when a slope is not finite; [`crate::Error::NonFinite`] in anomaly
    /// mode.
    pub fn leaky_relu(self, alpha: T, beta: T) -> Result<Self> {
        if !(alpha.is_finite() && beta.is_finite()) {
            return Err(crate::Error::InvalidArgument {
                op: "leaky_relu",
                msg: format!("slopes {alpha} and {beta} must be finite"),
            });
        }
        let v = self.map_value(|x| if x >= T::zero() { alpha * x } else { beta * x });
        self.tape.record(LeakyReluOp { alpha, beta }, &[self], v)
    }

    /// Softmax along `axis` (negative counts from the end), stable for large inputs.
    ///
    /// # Errors
    /// [`crate::Error::AxisOutOfRange`].
    pub fn softmax(self, axis: isize) -> Result<Self> {
        let a = self.shape().axis("softmax", axis)?;
        let v = softmax_t(&self.value(), a)?;
        self.tape.record(SoftmaxOp { axis: a }, &[self], v)
    }

    /// `log(softmax(x))` along `axis`, computed as `x - logsumexp(x)` (no log of a tiny number).
    ///
    /// # Errors
    /// [`crate::Error::AxisOutOfRange`].
    pub fn log_softmax(self, axis: isize) -> Result<Self> {
        let a = self.shape().axis("log_softmax", axis)?;
        let x = self.value();
        let lse = logsumexp_t(&x, a)?;
        let v = kernels::zip("log_softmax", x, &lse, |p, q| p - q)?;
        self.tape.record(LogSoftmaxOp { axis: a }, &[self], v)
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{check_unary, check_unary_rank};
    use crate::{Error, Tape, Tensor};
    use proptest::prelude::*;

    #[test]
    fn activations_compute_lecture_values() {
        let tape = Tape::<f64>::new();
        let x = tape.leaf(Tensor::from_vec(vec![-2.0, 0.0, 3.0], [3]).unwrap());
        assert_eq!(x.step().value().to_vec(), vec![0.0, 0.0, 1.0]);
        assert_eq!(x.sign().value().to_vec(), vec![-1.0, 0.0, 1.0]);
        assert_eq!(x.relu().value().to_vec(), vec![0.0, 0.0, 3.0]);
        assert_eq!(x.leaky_relu(1.0, 0.1).unwrap().value().to_vec(), vec![-0.2, 0.0, 3.0]);
        assert_eq!(x.sigmoid().value().data()[1], 0.5);
        assert!((x.softplus().value().data()[1] - 2f64.ln()).abs() < 1e-15);
        let g = x.step().sum().backward().unwrap();
        assert_eq!(g.get(x).unwrap().unwrap().to_vec(), vec![0.0; 3]);
    }

    #[test]
    fn sigmoid_softplus_and_softmax_are_stable_for_large_inputs() {
        let tape = Tape::<f32>::new();
        let x = tape.input(Tensor::from_vec(vec![-1000.0, 1000.0], [2]).unwrap());
        assert_eq!(x.sigmoid().value().to_vec(), vec![0.0, 1.0]);
        assert_eq!(x.softplus().value().to_vec(), vec![0.0, 1000.0]);
        assert_eq!(x.softmax(0).unwrap().value().to_vec(), vec![0.0, 1.0]);
        assert_eq!(x.log_softmax(0).unwrap().value().to_vec(), vec![-2000.0, 0.0]);
    }

    #[test]
    fn softmax_rejects_a_bad_axis() {
        let tape = Tape::<f32>::new();
        let x = tape.input(Tensor::zeros([2, 3]).unwrap());
        assert!(matches!(x.softmax(2), Err(Error::AxisOutOfRange { op: "softmax", .. })));
        assert!(matches!(x.log_softmax(-3), Err(Error::AxisOutOfRange { op: "log_softmax", .. })));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn smooth_activation_gradients_match_finite_differences(seed in any::<u64>()) {
            check_unary(seed, |x| Ok(x.sigmoid()), (-4.0, 4.0))?;
            check_unary(seed, |x| Ok(x.tanh()), (-3.0, 3.0))?;
            check_unary(seed, |x| Ok(x.softplus()), (-4.0, 4.0))?;
            check_unary_rank(seed, |x| x.softmax(-1), (-3.0, 3.0), 1)?;
            check_unary_rank(seed, |x| x.log_softmax(0), (-3.0, 3.0), 1)?;
        }
        #[test]
        fn relu_grad_matches_finite_differences_away_from_the_kink(n in 1usize..5, c in 1usize..5, seed in any::<u64>()) {
            use crate::ops::testing::{check_both, random_tensor};
            use rand::{SeedableRng, rngs::StdRng};
            let mut rng = StdRng::seed_from_u64(seed);
            let s = crate::Shape::new(&[n, c]);
            let g = random_tensor(&mut rng, &s, (-2.0, 2.0));
            // y of both signs, never within 0.1 of the kink.
            let y = random_tensor(&mut rng, &s, (0.1, 2.0)).map(|v| if v > 1.05 { v - 2.1 } else { v });
            check_both(|_t, v| v[0].relu_grad(v[1]), &[g.clone(), y.clone()])?;
            // Reused: the gradient of relu(x) * x through relu_grad, and relu_grad of its own input.
            check_both(|_t, v| v[0].relu_grad(v[1])?.mul(v[0]), &[g, y.clone()])?;
            check_both(|_t, v| v[0].relu_grad(v[0]), &[y])?;
        }
        #[test]
        fn kinked_activation_gradients_match_away_from_kinks(seed in any::<u64>()) {
            for range in [(0.1, 2.0), (-2.0, -0.1)] {
                check_unary(seed, |x| Ok(x.relu()), range)?;
                check_unary(seed, |x| x.leaky_relu(1.5, 0.2), range)?;
                check_unary(seed, |x| Ok(x.step()), range)?;
                check_unary(seed, |x| Ok(x.sign()), range)?;
            }
        }
    }
}
