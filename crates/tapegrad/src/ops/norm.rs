//! The l_p norms of lecture 001's regularisers, `||x||_p = (sum |x_i|^p)^(1/p)` over all elements, for any
//! `p > 0` (for `p < 1` it is not a norm, the triangle inequality fails, but it is the sparsity-inducing
//! penalty the lecture draws).
//!
//! Derivative: `d||x||_p / dx_i = sign(x_i) |x_i|^(p-1) ||x||_p^(1-p)`. For `p < 1` the factor `|x_i|^(p-1)`
//! is infinite at `x_i = 0`; the gradient there is taken as 0 (as `abs` takes `sign(0) = 0`), and the
//! gradient of the zero vector is 0 for every `p`.

use crate::error::{Error, Result};
use crate::float::Float;
use crate::tape::{Op, OpGrads, Var};
use crate::tensor::Tensor;
use crate::val::{BackwardCx, Val};
use smallvec::smallvec;

// ---- lp_norm: y = (sum |x|^p)^(1/p);  dx = g sign(x) a^(p-1) y^(1-p), a = |x| (1 where x = 0) ----

struct LpNormOp<T>(T);
impl<T: Float> Op<T> for LpNormOp<T> {
    fn name(&self) -> &'static str {
        "lp_norm"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        let p = self.0;
        let x = cx.input_value(0);
        let zero = x.map(|_| T::zero());
        if cx.output_value().data()[0] == T::zero() {
            return Ok(smallvec![Some(cx.mul(g, cx.constant(zero))?)]);
        }
        let sign = x.map(|v| {
            if v > T::zero() {
                T::one()
            } else if v < T::zero() {
                -T::one()
            } else {
                T::zero()
            }
        });
        let at_zero = x.map(|v| if v == T::zero() { T::one() } else { T::zero() });
        // a = x sign(x) + [x = 0]: |x| where x != 0 and 1 where x = 0, so a^(p-1) stays finite; the factor
        // sign(x) = 0 then zeroes those elements.
        let a = cx.add(cx.mul(cx.input(0), cx.constant(sign.clone()))?, cx.constant(at_zero))?;
        let term = cx.mul(cx.constant(sign), cx.powf(a, p - T::one())?)?;
        let scale = cx.powf(cx.output(), T::one() - p)?;
        Ok(smallvec![Some(cx.mul(cx.mul(term, scale)?, g)?)])
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// The l_p norm over all elements, `(sum |x|^p)^(1/p)`, a scalar, for any finite `p > 0` (PyTorch's
    /// `torch.linalg.vector_norm(x, ord=p)`). `lp_norm(2.0)` is the Euclidean length, `lp_norm(1.0)` the
    /// sum of absolute values; for `p < 1` the result is the lecture's sparsity penalty, not a norm.
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::from_vec(vec![3.0, -4.0], [2]).unwrap());
    /// assert_eq!(x.lp_norm(2.0).unwrap().item().unwrap(), 5.0);
    /// assert_eq!(x.lp_norm(1.0).unwrap().item().unwrap(), 7.0);
    /// // p = 1/2: (sqrt 3 + 2)^2
    /// assert!((x.lp_norm(0.5).unwrap().item().unwrap() - (3f64.sqrt() + 2.0).powi(2)).abs() < 1e-12);
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `p` is finite and positive.
    pub fn lp_norm(self, p: T) -> Result<Self> {
        if !(p.is_finite() && p > T::zero()) {
            return Err(Error::InvalidArgument { op: "lp_norm", msg: format!("p = {p} must be finite and positive") });
        }
        let x = self.value();
        let s: T = x.data().iter().map(|v| v.abs().powf(p)).sum();
        let v = Tensor::scalar(s.powf(T::one() / p));
        self.tape.record(LpNormOp(p), &[self], v)
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{check_both, random_shape};
    use crate::{Error, Tape, Tensor};
    use proptest::prelude::*;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    #[test]
    fn lp_norm_computes_hand_values_and_the_gradient_at_zero_is_zero() {
        let tape = Tape::<f64>::new();
        let x = tape.leaf(Tensor::from_vec(vec![3.0, 0.0, -4.0], [3]).unwrap());
        assert_eq!(x.lp_norm(2.0).unwrap().item().unwrap(), 5.0);
        let g = x.lp_norm(2.0).unwrap().backward().unwrap();
        let g = g.get(x).unwrap().unwrap().to_vec();
        assert!(g.iter().zip([0.6, 0.0, -0.8]).all(|(a, b)| (a - b).abs() < 1e-15) && g[1] == 0.0, "{g:?}");
        // p = 1/2: y = (sqrt 3 + 2)^2, dy/dx_i = sign(x_i) |x_i|^(-1/2) y^(1/2); 0 at the zero element.
        let y = (3f64.sqrt() + 2.0).powi(2);
        let g = x.lp_norm(0.5).unwrap().backward().unwrap().get(x).unwrap().unwrap().to_vec();
        let want = [y.sqrt() / 3f64.sqrt(), 0.0, -y.sqrt() / 2.0];
        for (a, b) in g.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{g:?}");
        }
        let z = tape.leaf(Tensor::zeros([2]).unwrap());
        let g = z.lp_norm(3.0).unwrap().backward().unwrap();
        assert_eq!(g.get(z).unwrap().unwrap().to_vec(), vec![0.0, 0.0]);
    }

    #[test]
    fn lp_norm_rejects_a_non_positive_or_infinite_p() {
        let tape = Tape::<f64>::new();
        let x = tape.leaf(Tensor::from_vec(vec![1.0], [1]).unwrap());
        for p in [0.0, -1.0, f64::INFINITY, f64::NAN] {
            let err = x.lp_norm(p).unwrap_err();
            assert!(matches!(err, Error::InvalidArgument { op: "lp_norm", .. }), "{err}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn lp_norm_gradients_match_finite_differences(seed in any::<u64>(), p in 0.3f64..4.0) {
            let mut rng = StdRng::seed_from_u64(seed);
            let s = random_shape(&mut rng, 0);
            let v: Vec<f64> = (0..s.numel())
                .map(|_| rng.random_range(0.2..2.0) * if rng.random_bool(0.5) { 1.0 } else { -1.0 })
                .collect();
            let x = Tensor::from_vec(v, s).unwrap();
            check_both(|_t, v| v[0].lp_norm(p), std::slice::from_ref(&x))?;
            check_both(|_t, v| v[0].lp_norm(p)?.mul(v[0]), &[x])?;
        }
    }
}
