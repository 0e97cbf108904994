//! An activation with a trainable parameter: PReLU, `f(x) = max(0, x) + a min(0, x)` with the slope `a`
//! learned by the tape like any weight (He et al. 2015; PyTorch's `nn.PReLU`).
//!
//! Built from engine ops, `relu(x) - a relu(-x)`, so its derivatives come from checked ops:
//! `df/dx = 1` for `x > 0` and `a` for `x < 0`; `df/da = min(0, x)`.

use crate::error::{Error, Result};
use crate::module::Module;
use tapegrad::{Float, Param, Tape, Tensor, Var};

/// PReLU with one slope shared by all inputs, or one per channel (axis 1 of the input). The slope starts at
/// 0.25 as in PyTorch and is the parameter `weight`.
///
/// ```
/// use tapegrad::{Tape, Tensor};
/// use tapegrad_nn::{layers::PRelu, Module};
/// let prelu = PRelu::<f64>::new(1, 0.25).unwrap();
/// let tape = Tape::new();
/// let y = prelu.forward(&tape, tape.input(Tensor::from_vec(vec![-2.0, 3.0], [1, 2]).unwrap())).unwrap();
/// assert_eq!(y.value().to_vec(), vec![-0.5, 3.0]);
/// ```
#[derive(Debug, Clone)]
pub struct PRelu<T: Float> {
    weight: Param<T>,
}

impl<T: Float> PRelu<T> {
    /// A PReLU with `num_parameters` slopes (1, or the number of channels), each starting at `init`.
    ///
    /// # Errors
    /// [`Error::Config`] when `num_parameters` is 0 or `init` is not finite.
    pub fn new(num_parameters: usize, init: f64) -> Result<Self> {
        if num_parameters == 0 || !init.is_finite() {
            return Err(Error::Config {
                what: "PRelu",
                msg: format!("needs at least one finite slope (got {num_parameters} slopes starting at {init})"),
            });
        }
        Ok(PRelu { weight: Param::new(Tensor::full([num_parameters], T::of(init))?) })
    }

    /// The slopes `[num_parameters]`.
    pub fn weight(&self) -> &Param<T> {
        &self.weight
    }
}

impl<T: Float> Module<T> for PRelu<T> {
    fn forward<'t>(&self, tape: &'t Tape<T>, x: Var<'t, T>) -> Result<Var<'t, T>> {
        let k = self.weight.value().numel();
        let s = x.shape();
        let a = tape.param(&self.weight);
        let a = if k == 1 {
            a
        } else {
            if s.rank() < 2 || s.dims()[1] != k {
                return Err(Error::Layer {
                    layer: self.layer_name(),
                    msg: format!("input {s} has no {k} channels on axis 1; expected [n, {k}, ...]"),
                });
            }
            // [k] -> [k, 1, ..., 1] so that it broadcasts over axis 1 of [n, k, ...].
            let mut dims = vec![k];
            dims.extend(std::iter::repeat_n(1, s.rank() - 2));
            a.reshape(dims)?
        };
        Ok(x.relu().sub(a.mul(x.neg().relu())?)?)
    }

    fn params(&self) -> Vec<(String, &Param<T>)> {
        vec![("weight".into(), &self.weight)]
    }

    fn params_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        vec![("weight".into(), &mut self.weight)]
    }

    fn layer_name(&self) -> String {
        format!("PRelu {}", self.weight.value().numel())
    }
}

#[cfg(test)]
mod tests {
    use super::PRelu;
    use crate::layers::testing::engine;
    use crate::{Error, Module};
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use tapegrad::{GradCheckConfig, Tape, Tensor, check_gradients, check_second_order};

    #[test]
    fn prelu_slope_gradient_is_the_negative_part() {
        let prelu = PRelu::<f64>::new(1, 0.25).unwrap();
        let tape = Tape::new();
        let x = tape.input(Tensor::from_vec(vec![-2.0, 3.0, -1.0, 0.5], [2, 2]).unwrap());
        let g = prelu.forward(&tape, x).unwrap().sum().backward().unwrap();
        assert_eq!(g.param(prelu.weight()).unwrap().to_vec(), vec![-3.0]);
    }

    #[test]
    fn prelu_per_channel_passes_first_and_second_order_checks() {
        let mut rng = StdRng::seed_from_u64(3);
        let prelu = PRelu::<f64>::new(3, 0.1).unwrap();
        // Away from the kink: |x| >= 0.2.
        let x =
            Tensor::<f64>::randn([4, 3, 2], 0.0, 1.0, &mut rng).unwrap().map(|v| if v.abs() < 0.2 { 0.5 } else { v });
        let cfg = GradCheckConfig::default();
        check_gradients(|t, v| prelu.forward(t, v[0]).map_err(engine)?.mul(v[0]), std::slice::from_ref(&x), cfg)
            .unwrap();
        check_second_order(|t, v| prelu.forward(t, v[0]).map_err(engine)?.mul(v[0]), &[x], cfg).unwrap();
    }

    #[test]
    fn prelu_rejects_a_wrong_channel_count_and_bad_config() {
        let prelu = PRelu::<f64>::new(3, 0.25).unwrap();
        let tape = Tape::new();
        let err = prelu.forward(&tape, tape.input(Tensor::zeros([2, 4]).unwrap())).unwrap_err();
        assert_eq!(err.to_string(), "PRelu 3: input [2, 4] has no 3 channels on axis 1; expected [n, 3, ...]");
        assert!(matches!(PRelu::<f64>::new(0, 0.25), Err(Error::Config { .. })));
        assert!(matches!(PRelu::<f64>::new(1, f64::NAN), Err(Error::Config { .. })));
    }
}
