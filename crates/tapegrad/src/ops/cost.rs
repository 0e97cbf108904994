//! The cost of the backprop lecture, `C = (1/N) sum_n 1/2 ||y_n - F(x_n)||^2`: the squared error summed
//! over the K outputs of each example, halved (so that `dC/dF = (F - y) / N` has no factor 2), and
//! averaged over the N examples only.
//!
//! Relation to [`Var::mse`], which averages over all `N K` elements: `C = (K / 2) mse`. The two have the
//! same minimiser and gradients that differ by the factor `K / 2`, so a learning rate tuned for one is
//! `K / 2` times too small or too large for the other.
//!
//! A composition of checked ops (`sub`, `square`, `sum`, `mul_scalar`): no derivative of its own.

use crate::error::{Error, Result};
use crate::float::Float;
use crate::tape::Var;

impl<'t, T: Float> Var<'t, T> {
    /// The backprop lecture's cost `(1/N) sum_n 1/2 ||target_n - self_n||^2`, with N the first axis (1 for
    /// a scalar). Equal to `(K / 2) mse` for K outputs per example.
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let f = tape.leaf(Tensor::from_vec(vec![1.0, 2.0, 0.0, 0.0], [2, 2]).unwrap());
    /// let y = tape.input(Tensor::zeros([2, 2]).unwrap());
    /// // (1/2) (1/2 (1 + 4) + 0) = 1.25, and mse = 5/4, K = 2: (2/2) 1.25.
    /// assert_eq!(f.half_squared_error(y).unwrap().item().unwrap(), 1.25);
    /// assert_eq!(f.mse(y).unwrap().item().unwrap(), 1.25);
    /// ```
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the shapes differ.
    pub fn half_squared_error(self, target: Var<'t, T>) -> Result<Self> {
        self.tape.owns("half_squared_error", target)?;
        let (sa, sb) = (self.shape(), target.shape());
        if sa != sb {
            return Err(Error::ShapeMismatch {
                op: "half_squared_error",
                msg: "prediction and target shapes differ".into(),
                lhs: sa,
                rhs: sb,
            });
        }
        let n = if sa.rank() == 0 { 1 } else { sa.dims()[0] };
        Ok(self.sub(target)?.square().sum().mul_scalar(T::of(0.5) / T::of(n.max(1) as f64)))
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{check_both, random_shape, random_tensor};
    use crate::{Error, Tape, Tensor};
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn half_squared_error_is_k_over_2_mse_and_matches_finite_differences(seed in any::<u64>()) {
            let mut rng = StdRng::seed_from_u64(seed);
            let s = random_shape(&mut rng, 2);
            let (f, y) = (random_tensor(&mut rng, &s, (-2.0, 2.0)), random_tensor(&mut rng, &s, (-2.0, 2.0)));
            let tape = Tape::<f64>::new();
            let (fv, yv) = (tape.leaf(f.clone()), tape.input(y.clone()));
            let k = (s.numel() / s.dims()[0]) as f64;
            let c = fv.half_squared_error(yv).unwrap().item().unwrap();
            let m = fv.mse(yv).unwrap().item().unwrap();
            prop_assert!((c - k / 2.0 * m).abs() < 1e-12 * (1.0 + c.abs()), "{} vs {}", c, k / 2.0 * m);
            check_both(|t, v| v[0].half_squared_error(t.input(y.clone())), std::slice::from_ref(&f))?;
            check_both(|_t, v| v[0].half_squared_error(v[1]), &[f, y])?;
        }
    }

    #[test]
    fn half_squared_error_rejects_different_shapes() {
        let tape = Tape::<f64>::new();
        let f = tape.leaf(Tensor::zeros([2, 3]).unwrap());
        let err = f.half_squared_error(tape.input(Tensor::zeros([3, 2]).unwrap())).unwrap_err();
        assert!(matches!(err, Error::ShapeMismatch { op: "half_squared_error", .. }), "{err}");
    }
}
