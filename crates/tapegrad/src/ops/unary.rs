//! Elementwise functions of one variable: `exp`, `log`, `sqrt`, `abs`, `powf`, `sin`, `cos`.
//! Each is declared with the `elementwise!` macro: the forward `f(x)` and the derivative formula side by side.

use crate::error::Result;
use crate::float::Float;
use crate::tape::{Op, OpGrads, Var};
use crate::val::{BackwardCx, Val};
use smallvec::smallvec;

/// Declares an elementwise op: a unit struct implementing [`Op`] with the derivative, and the `Var` method
/// running the forward. `fwd` maps one element; `bwd` returns the input's gradient from `cx` and `g`.
macro_rules! elementwise {
    ($(#[$doc:meta])* $method:ident, $op:ident, $name:literal,
     fwd: |$x:ident| $f:expr, bwd: |$cx:ident, $g:ident| $b:expr) => {
        struct $op;
        impl<T: Float> Op<T> for $op {
            fn name(&self) -> &'static str {
                $name
            }
            fn backward(&self, $cx: &BackwardCx<'_, T>, $g: Val<T>) -> Result<OpGrads<T>> {
                Ok(smallvec![Some($b?)])
            }
        }
        impl<'t, T: Float> Var<'t, T> {
            $(#[$doc])*
            ///
            /// Cannot fail: in anomaly mode a non-finite result is noted on the tape and reported by the next
            /// fallible call (see [`crate::Tape::set_anomaly`]).
            pub fn $method(self) -> Self {
                let v = self.map_value(|$x: T| $f);
                self.tape.record_infallible($op, self, v)
            }
        }
    };
}
pub(crate) use elementwise;

elementwise!(
    /// `e^x`; derivative `g * y` (saves the output).
    exp, ExpOp, "exp", fwd: |x| x.exp(), bwd: |cx, g| cx.mul(g, cx.output())
);

elementwise!(
    /// Natural logarithm; derivative `g / x`. Non-positive inputs give NaN or -inf (anomaly mode reports it).
    log, LogOp, "log", fwd: |x| x.ln(), bwd: |cx, g| cx.div(g, cx.input(0))
);

elementwise!(
    /// Square root; derivative `g / (2 y)`.
    sqrt, SqrtOp, "sqrt", fwd: |x| x.sqrt(),
    bwd: |cx, g| cx.div(g, cx.scale(cx.output(), T::of(2.0))?)
);

elementwise!(
    /// `|x|`; derivative `g * sign(x)`, taken as 0 at the kink x = 0.
    abs, AbsOp, "abs", fwd: |x| x.abs(),
    bwd: |cx, g| cx.mul(g, cx.constant(cx.input_value(0).map(|x| if x > T::zero() { T::one() } else if x < T::zero() { -T::one() } else { T::zero() })))
);

elementwise!(
    /// `sin x`; derivative `g cos x`.
    sin, SinOp, "sin", fwd: |x| x.sin(), bwd: |cx, g| cx.mul(g, cx.cos(cx.input(0))?)
);

elementwise!(
    /// `cos x`; derivative `-g sin x`.
    cos, CosOp, "cos", fwd: |x| x.cos(), bwd: |cx, g| cx.neg(cx.mul(g, cx.sin(cx.input(0))?)?)
);

// ---- powf: y = x^p for a constant p;  dx = g p x^(p-1) ----

struct PowOp<T>(T);
impl<T: Float> Op<T> for PowOp<T> {
    fn name(&self) -> &'static str {
        "powf"
    }
    fn attributes(&self) -> Option<String> {
        Some(format!("p = {}", self.0))
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        let d = cx.scale(cx.powf(cx.input(0), self.0 - T::one())?, self.0)?;
        Ok(smallvec![Some(cx.mul(g, d)?)])
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// `x^p` for a constant exponent (`powf(2.0)` squares). Negative bases with non-integer `p` give NaN.
    ///
    /// # Errors
    /// [`crate::Error::InvalidArgument`] when `p` is not finite; [`crate::Error::NonFinite`] in anomaly mode.
    pub fn powf(self, p: T) -> Result<Self> {
        if !p.is_finite() {
            return Err(crate::Error::InvalidArgument { op: "powf", msg: format!("exponent {p} is not finite") });
        }
        let v = self.map_value(|x| x.powf(p));
        self.tape.record(PowOp(p), &[self], v)
    }

    /// `x * x` (`powf(2.0)`, which cannot fail).
    pub fn square(self) -> Self {
        let v = self.map_value(|x| x * x);
        self.tape.record_infallible(PowOp(T::of(2.0)), self, v)
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::check_unary;
    use crate::{Error, Tape, Tensor};
    use proptest::prelude::*;

    #[test]
    fn forward_values_match_std() {
        let tape = Tape::<f64>::new();
        let x = tape.input(Tensor::from_vec(vec![0.5, 2.0], [2]).unwrap());
        assert_eq!(x.exp().value().to_vec(), vec![0.5f64.exp(), 2f64.exp()]);
        assert_eq!(x.log().value().to_vec(), vec![0.5f64.ln(), 2f64.ln()]);
        assert_eq!(x.sqrt().value().to_vec(), vec![0.5f64.sqrt(), 2f64.sqrt()]);
        assert_eq!(x.powf(3.0).unwrap().value().to_vec(), vec![0.125, 8.0]);
        assert_eq!((-x).abs().value().to_vec(), vec![0.5, 2.0]);
    }

    #[test]
    fn powf_rejects_a_non_finite_exponent() {
        let tape = Tape::<f32>::new();
        let e = tape.input(Tensor::ones([2]).unwrap()).powf(f32::NAN).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument { op: "powf", .. }));
        assert_eq!(e.to_string(), "powf: exponent NaN is not finite");
    }

    #[test]
    fn anomaly_mode_names_the_op_that_made_a_nan() {
        let tape = Tape::<f64>::new();
        tape.set_anomaly(true);
        let x = tape.leaf(Tensor::from_vec(vec![1.0, -1.0], [2]).unwrap());
        let y = x.log();
        let want = "anomaly: forward of log (node 1, inputs [2]) produced a non-finite value";
        // Noted, not returned: the next fallible call reports it, and so does `check`.
        assert_eq!(tape.check().unwrap_err().to_string(), want);
        assert_eq!(y.mul(y).unwrap_err().to_string(), want);
        assert_eq!(y.sum().backward().unwrap_err().to_string(), want);
        assert_eq!(tape.grad(y.sum(), &[x]).unwrap_err().to_string(), want);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn exp_log_sqrt_gradients_match_finite_differences(seed in any::<u64>()) {
            check_unary(seed, |x| Ok(x.exp()), (-2.0, 2.0))?;
            check_unary(seed, |x| Ok(x.log()), (0.3, 3.0))?;
            check_unary(seed, |x| Ok(x.sqrt()), (0.3, 3.0))?;
        }
        #[test]
        fn abs_sin_cos_pow_gradients_match_finite_differences(seed in any::<u64>()) {
            check_unary(seed, |x| Ok(x.abs()), (0.2, 2.0))?;
            check_unary(seed, |x| Ok(x.abs()), (-2.0, -0.2))?;
            check_unary(seed, |x| Ok(x.sin()), (-3.0, 3.0))?;
            check_unary(seed, |x| Ok(x.cos()), (-3.0, 3.0))?;
            check_unary(seed, |x| x.powf(3.0), (-2.0, 2.0))?;
            check_unary(seed, |x| x.powf(-1.5), (0.3, 2.0))?;
        }
    }
}
