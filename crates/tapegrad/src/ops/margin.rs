//! Lecture 001's linear classifier with labels `y = +-1`: the margin `M = <w, x> y` and the margin losses
//! (perceptron `max(0, -M)`, hinge `max(0, 1 - M)`, logistic `ln(1 + e^-M)`), and the threshold neuron with
//! either convention at 0 ([`Var::heaviside`]).
//!
//! The losses are compositions of ops whose derivatives are already checked (`mul`, `relu`, `softplus`,
//! `mean`), so they need no derivative of their own; the property tests below check them against finite
//! differences anyway, away from the kinks `M = 0` (perceptron) and `M = 1` (hinge). `heaviside` is an op
//! of its own, with derivative 0 like `step`.
//!
//! Mapping to the lecture: the score `<w, x>` is what `x.matmul(w)` or a [`crate::Var::linear`] layer with
//! one output gives; `M > 0` means correctly classified, and the size of `M` is how sure the classifier is.

use crate::error::{Error, Result};
use crate::float::Float;
use crate::tape::{Op, OpGrads, Var};
use crate::val::{BackwardCx, Val};
use smallvec::smallvec;

// ---- heaviside(t; at_zero): 0 for t < 0, at_zero at 0, 1 for t > 0;  dt = 0 ----

struct HeavisideOp<T>(T);
impl<T: Float> Op<T> for HeavisideOp<T> {
    fn name(&self) -> &'static str {
        "heaviside"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        // Piecewise constant: zero almost everywhere, undefined at 0 (taken as 0, as for `step`).
        Ok(smallvec![Some(cx.scale(g, T::zero())?)])
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// The threshold neuron with a chosen value at 0 (PyTorch's `torch.heaviside(x, values)`): 0 for
    /// `x < 0`, `at_zero` for `x = 0`, 1 for `x > 0`; NaN stays NaN. Its derivative is 0 (backward passes
    /// zeros, as for [`Var::step`]).
    ///
    /// The slides' neuron fires for `t >= 0`: that is `heaviside(1.0)`. [`Var::step`] is `heaviside(0.0)`
    /// (fires only for `t > 0`, PyTorch's `x > 0`). The two differ only where the input is exactly 0.
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let t = tape.input(Tensor::from_vec(vec![-1.0, 0.0, 2.0], [3]).unwrap());
    /// assert_eq!(t.heaviside(1.0).value().to_vec(), vec![0.0, 1.0, 1.0]); // the slides: [t >= 0]
    /// assert_eq!(t.step().value().to_vec(), vec![0.0, 0.0, 1.0]); // step: [t > 0]
    /// ```
    pub fn heaviside(self, at_zero: T) -> Self {
        let v = self.map_value(|x| {
            if x > T::zero() {
                T::one()
            } else if x < T::zero() {
                T::zero()
            } else if x == T::zero() {
                at_zero
            } else {
                x // NaN
            }
        });
        self.tape.record_infallible(HeavisideOp(at_zero), self, v)
    }

    /// The margin `M = s y` of scores `s = <w, x>` (self) and labels `y` in `{-1, +1}`, elementwise.
    /// `M > 0` where the sign of the score is the label.
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let s = tape.leaf(Tensor::from_vec(vec![2.0, -0.5, 0.3], [3]).unwrap());
    /// let y = tape.input(Tensor::from_vec(vec![1.0, 1.0, -1.0], [3]).unwrap());
    /// assert_eq!(s.margin(y).unwrap().value().to_vec(), vec![2.0, -0.5, -0.3]);
    /// ```
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the shapes differ; [`Error::InvalidArgument`] when a label is not
    /// `-1` or `+1` (0/1 labels are the usual mistake: map them with `2 y - 1`).
    pub fn margin(self, labels: Var<'t, T>) -> Result<Self> {
        self.margin_checked("margin", labels)
    }

    fn margin_checked(self, op: &'static str, labels: Var<'t, T>) -> Result<Self> {
        self.tape.owns(op, labels)?;
        let (ss, sy) = (self.shape(), labels.shape());
        if ss != sy {
            return Err(Error::ShapeMismatch { op, msg: "scores and labels shapes differ".into(), lhs: ss, rhs: sy });
        }
        if let Some(bad) = labels.value().data().iter().find(|&&y| y != T::one() && y != -T::one()) {
            return Err(Error::InvalidArgument { op, msg: format!("label {bad} is not -1 or +1") });
        }
        self.mul(labels)
    }

    /// The perceptron loss `mean(max(0, -M))` with `M` the [`Var::margin`]: zero once every point is on
    /// its side, however close to the line. Its gradient `-y x` on a misclassified point is Rosenblatt's
    /// update.
    ///
    /// # Errors
    /// As [`Var::margin`].
    pub fn perceptron_loss(self, labels: Var<'t, T>) -> Result<Self> {
        Ok(self.margin_checked("perceptron_loss", labels)?.neg().relu().mean())
    }

    /// The hinge loss `mean(max(0, 1 - M))` (the SVM's): also pushes correctly classified points until
    /// their margin is at least 1.
    ///
    /// # Errors
    /// As [`Var::margin`].
    pub fn hinge_loss(self, labels: Var<'t, T>) -> Result<Self> {
        Ok(self.margin_checked("hinge_loss", labels)?.neg().add_scalar(T::one()).relu().mean())
    }

    /// The logistic loss `mean(ln(1 + e^-M))`, computed as `softplus(-M)` (stable for any margin). It equals
    /// `bce_with_logits` with the 0/1 labels `(y + 1) / 2`.
    ///
    /// # Errors
    /// As [`Var::margin`].
    pub fn logistic_loss(self, labels: Var<'t, T>) -> Result<Self> {
        Ok(self.margin_checked("logistic_loss", labels)?.neg().softplus().mean())
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{check_both, random_shape};
    use crate::{Error, Tape, Tensor};
    use proptest::prelude::*;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    fn t(v: &[f64]) -> Tensor<f64> {
        Tensor::from_vec(v.to_vec(), [v.len()]).unwrap()
    }

    #[test]
    fn margin_losses_compute_the_lecture_values() {
        let tape = Tape::<f64>::new();
        let s = tape.leaf(t(&[2.0, -0.5, 0.3, 0.5]));
        let y = tape.input(t(&[1.0, 1.0, -1.0, 1.0]));
        // M = [2, -0.5, -0.3, 0.5]
        assert!((s.perceptron_loss(y).unwrap().item().unwrap() - 0.8 / 4.0).abs() < 1e-15);
        assert!((s.hinge_loss(y).unwrap().item().unwrap() - (0.0 + 1.5 + 1.3 + 0.5) / 4.0).abs() < 1e-15);
        let want: f64 = [2.0f64, -0.5, -0.3, 0.5].iter().map(|m| (1.0 + (-m).exp()).ln()).sum::<f64>() / 4.0;
        assert!((s.logistic_loss(y).unwrap().item().unwrap() - want).abs() < 1e-15);
        // The perceptron's gradient is -y / N on the misclassified points only.
        let g = s.perceptron_loss(y).unwrap().backward().unwrap();
        assert_eq!(g.get(s).unwrap().unwrap().to_vec(), vec![0.0, -0.25, 0.25, 0.0]);
    }

    #[test]
    fn logistic_loss_equals_bce_with_logits_on_zero_one_labels() {
        let tape = Tape::<f64>::new();
        let s = tape.leaf(t(&[3.0, -1.0, 0.2]));
        let y = t(&[1.0, -1.0, -1.0]);
        let a = s.logistic_loss(tape.input(y.clone())).unwrap().item().unwrap();
        let b = s.bce_with_logits(tape.input(y.map(|v| (v + 1.0) / 2.0))).unwrap().item().unwrap();
        assert!((a - b).abs() < 1e-15, "{a} vs {b}");
    }

    #[test]
    fn heaviside_fires_at_zero_only_with_the_slides_convention() {
        let tape = Tape::<f64>::new();
        let x = tape.leaf(t(&[-1.0, 0.0, 1.0, f64::NAN]));
        let v = x.heaviside(1.0).value().to_vec();
        assert_eq!(&v[..3], &[0.0, 1.0, 1.0]);
        assert!(v[3].is_nan());
        assert_eq!(&x.heaviside(0.5).value().to_vec()[..3], &[0.0, 0.5, 1.0]);
        let g = x.heaviside(1.0).mul(tape.input(t(&[1.0, 2.0, 3.0, 0.0]))).unwrap().sum().backward().unwrap();
        assert_eq!(g.get(x).unwrap().unwrap().to_vec(), vec![0.0; 4]);
    }

    #[test]
    fn margin_losses_reject_bad_labels_and_shapes() {
        let tape = Tape::<f64>::new();
        let s = tape.leaf(t(&[1.0, 2.0]));
        let err = s.hinge_loss(tape.input(t(&[1.0, 0.0]))).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument { op: "hinge_loss", .. }), "{err}");
        assert!(err.to_string().contains("label 0 is not -1 or +1"), "{err}");
        let err = s.margin(tape.input(t(&[1.0, 1.0, -1.0]))).unwrap_err();
        assert!(matches!(err, Error::ShapeMismatch { op: "margin", .. }), "{err}");
        assert!(err.to_string().contains("[2]") && err.to_string().contains("[3]"), "{err}");
    }

    /// Scores and +-1 labels whose margins have size in (0.1, 0.9) or (1.1, 2.1): away from both kinks.
    fn scores_and_labels(seed: u64) -> (Tensor<f64>, Tensor<f64>) {
        let mut rng = StdRng::seed_from_u64(seed);
        let s = random_shape(&mut rng, 0);
        let n = s.numel();
        let y: Vec<f64> = (0..n).map(|_| if rng.random_bool(0.5) { 1.0 } else { -1.0 }).collect();
        let m: Vec<f64> = (0..n)
            .map(|_| {
                let u = rng.random_range(0.1..1.9);
                let u = if u > 0.9 { u + 0.2 } else { u };
                if rng.random_bool(0.5) { u } else { -u }
            })
            .collect();
        let scores = m.iter().zip(&y).map(|(m, y)| m * y).collect();
        (Tensor::from_vec(scores, s.clone()).unwrap(), Tensor::from_vec(y, s).unwrap())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn margin_loss_gradients_match_finite_differences(seed in any::<u64>()) {
            let (s, y) = scores_and_labels(seed);
            check_both(|t, v| v[0].margin(t.input(y.clone())), std::slice::from_ref(&s))?;
            check_both(|t, v| v[0].perceptron_loss(t.input(y.clone())), std::slice::from_ref(&s))?;
            check_both(|t, v| v[0].hinge_loss(t.input(y.clone())), std::slice::from_ref(&s))?;
            check_both(|t, v| v[0].logistic_loss(t.input(y.clone())), std::slice::from_ref(&s))?;
            // Reused node: the loss times the scores.
            check_both(|t, v| v[0].logistic_loss(t.input(y.clone()))?.mul(v[0]), std::slice::from_ref(&s))?;
            check_both(|_t, v| v[0].heaviside(1.0).mul(v[0]), &[s])?;
        }
    }
}
