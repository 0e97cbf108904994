//! Weight initialisation, always from an injected, seedable RNG.
//!
//! A weight of shape `[out, in]` has `fan_in = in` and `fan_out = out`. The schemes keep the variance of the
//! signal roughly constant from layer to layer:
//!
//! | scheme | distribution | variance |
//! |---|---|---|
//! | Xavier/Glorot uniform | `U(-a, a)`, `a = sqrt(6 / (fan_in + fan_out))` | `2 / (fan_in + fan_out)` |
//! | Xavier/Glorot normal | `N(0, 2 / (fan_in + fan_out))` | same |
//! | He/Kaiming uniform | `U(-a, a)`, `a = sqrt(6 / fan_in)` | `2 / fan_in` |
//! | He/Kaiming normal | `N(0, 2 / fan_in)` | same |
//!
//! Xavier suits symmetric, saturating activations (tanh, sigmoid, identity); He compensates for relu
//! zeroing half of its inputs. Layers pick the default with [`Init::for_activation`] and let the user
//! override it. Biases start at zero.
//!
//! ## Sigmoid: the default and lecture 004's advice
//!
//! Lecture 004 advises He initialisation for sigmoid units too; [`Init::for_activation_lecture`] gives it
//! (He normal for sigmoid, relu and leaky relu; otherwise as the default). The default keeps Xavier for sigmoid
//! for two reasons: it is what Glorot and Bengio derived for (and tested on) sigmoid and tanh networks, and it
//! is what a PyTorch or Keras user expects (`xavier_uniform_` / `glorot_uniform` for saturating units), so a
//! model ported from them starts from the same distribution. He's variance (`2 / fan_in`) is larger than
//! Xavier's (`2 / (fan_in + fan_out)`): more of the signal, and of the gradient through sigmoid's slope of at
//! most `1/4`, survives each layer, at the price of more units starting in sigmoid's flat tails. Either can be
//! chosen per layer with [`Init::tensor`].
//!
//! **Do not** initialise weights with [`zeros`] or [`constant`]: every unit of a layer then computes the
//! same function and receives the same gradient, so the symmetry between units is never broken and the
//! layer behaves as if it had a single unit. They exist for biases and for demonstrating exactly that.
//!
//! ```
//! use rand::SeedableRng;
//! use tapegrad_nn::init::{self, Init};
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let w = init::he_normal::<f32>([128, 64], &mut rng).unwrap();
//! assert_eq!(w.dims(), &[128, 64]);
//! let same = Init::HeNormal.tensor::<f32>([128, 64], &mut rand::rngs::StdRng::seed_from_u64(0)).unwrap();
//! assert_eq!(w, same);
//! ```

use crate::error::{Error, Result};
use crate::layers::Activation;
use rand::Rng;
use tapegrad::{Float, Shape, Tensor};

/// An initialisation scheme; [`Init::tensor`] draws a tensor from it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// All zeros: right for biases, wrong for weights (symmetry is never broken).
    Zeros,
    /// Every element the same value: wrong for weights for the same reason as [`Init::Zeros`].
    Constant(f64),
    /// `U(-scale, scale)` regardless of the layer's size (the classic `scale = 0.01`).
    SmallUniform {
        /// Half-width of the interval.
        scale: f64,
    },
    /// `N(0, std^2)` regardless of the layer's size (the classic `std = 0.01`).
    SmallNormal {
        /// Standard deviation.
        std: f64,
    },
    /// Xavier/Glorot uniform: `U(-a, a)`, `a = sqrt(6 / (fan_in + fan_out))`.
    XavierUniform,
    /// Xavier/Glorot normal: `N(0, 2 / (fan_in + fan_out))`.
    XavierNormal,
    /// He/Kaiming uniform: `U(-a, a)`, `a = sqrt(6 / fan_in)`.
    HeUniform,
    /// He/Kaiming normal: `N(0, 2 / fan_in)`.
    HeNormal,
}

impl Init {
    /// The default for a weight followed by `act`: [`Init::HeNormal`] for relu and leaky relu (as in He et
    /// al.), [`Init::XavierUniform`] for everything else (as in Glorot and Bengio).
    pub fn for_activation(act: Activation) -> Init {
        match act {
            Activation::Relu | Activation::LeakyRelu { .. } => Init::HeNormal,
            _ => Init::XavierUniform,
        }
    }

    /// Lecture 004's advice: [`Init::HeNormal`] for sigmoid as well as for relu and leaky relu; every other
    /// activation gets [`Init::for_activation`]'s default. See the module docs for why the default differs.
    ///
    /// ```
    /// use tapegrad_nn::{init::Init, Activation};
    /// assert_eq!(Init::for_activation_lecture(Activation::Sigmoid), Init::HeNormal);
    /// assert_eq!(Init::for_activation(Activation::Sigmoid), Init::XavierUniform);
    /// ```
    pub fn for_activation_lecture(act: Activation) -> Init {
        match act {
            Activation::Sigmoid => Init::HeNormal,
            other => Init::for_activation(other),
        }
    }

    /// Draws a tensor of `shape`; fans come from [`fans`].
    ///
    /// # Errors
    /// [`Error::Config`] for a non-positive or non-finite scale or std, or a shape with a zero fan where
    /// the scheme divides by it.
    pub fn tensor<T: Float>(&self, shape: impl Into<Shape>, rng: &mut (impl Rng + ?Sized)) -> Result<Tensor<T>> {
        let shape = shape.into();
        let (fan_in, fan_out) = fans(&shape);
        let (fi, fo) = (fan_in as f64, fan_out as f64);
        match *self {
            Init::Zeros => Ok(Tensor::zeros(shape)?),
            Init::Constant(v) => constant(shape, v),
            Init::SmallUniform { scale } => {
                positive("scale", scale)?;
                Ok(Tensor::rand_uniform(shape, -scale, scale, rng)?)
            }
            Init::SmallNormal { std } => {
                positive("std", std)?;
                Ok(Tensor::randn(shape, 0.0, std, rng)?)
            }
            Init::XavierUniform | Init::XavierNormal if fan_in + fan_out == 0 => {
                Err(config(format!("xavier: shape {shape} has no fan")))
            }
            Init::HeUniform | Init::HeNormal if fan_in == 0 => Err(config(format!("he: shape {shape} has fan_in 0"))),
            Init::XavierUniform => {
                let a = (6.0 / (fi + fo)).sqrt();
                Ok(Tensor::rand_uniform(shape, -a, a, rng)?)
            }
            Init::XavierNormal => Ok(Tensor::randn(shape, 0.0, (2.0 / (fi + fo)).sqrt(), rng)?),
            Init::HeUniform => {
                let a = (6.0 / fi).sqrt();
                Ok(Tensor::rand_uniform(shape, -a, a, rng)?)
            }
            Init::HeNormal => Ok(Tensor::randn(shape, 0.0, (2.0 / fi).sqrt(), rng)?),
        }
    }
}

fn config(msg: String) -> Error {
    Error::Config { what: "init", msg }
}

fn positive(name: &str, v: f64) -> Result<()> {
    if v > 0.0 && v.is_finite() { Ok(()) } else { Err(config(format!("{name} {v} must be finite and > 0"))) }
}

/// `(fan_in, fan_out)` of a weight: `[out, in]` gives `(in, out)`; a vector `[n]` gives `(n, n)`; higher
/// ranks treat the trailing axes as the receptive field (`[out, in, k...]` gives `(in * k..., out * k...)`);
/// a scalar gives `(1, 1)`.
pub fn fans(shape: &Shape) -> (usize, usize) {
    match shape.dims() {
        [] => (1, 1),
        [n] => (*n, *n),
        [out, inp, rest @ ..] => {
            let field: usize = rest.iter().product();
            (inp * field, out * field)
        }
    }
}

/// A tensor of zeros (for biases; see the module docs for why not for weights).
///
/// # Errors
/// The engine's [`tapegrad::Error::TooLarge`] or [`tapegrad::Error::Allocation`] when it does not fit in memory.
pub fn zeros<T: Float>(shape: impl Into<Shape>) -> Result<Tensor<T>> {
    Ok(Tensor::zeros(shape)?)
}

/// A tensor filled with `v`. For weights this is what **not** to do: every unit gets the same gradient and
/// the symmetry between units is never broken.
///
/// # Errors
/// [`Error::Config`] when `v` is not finite.
pub fn constant<T: Float>(shape: impl Into<Shape>, v: f64) -> Result<Tensor<T>> {
    if !v.is_finite() {
        return Err(config(format!("constant {v} is not finite")));
    }
    Ok(Tensor::full(shape, T::of(v))?)
}

/// `U(-scale, scale)`.
///
/// # Errors
/// [`Error::Config`] unless `scale` is finite and positive.
pub fn small_uniform<T: Float>(
    shape: impl Into<Shape>,
    scale: f64,
    rng: &mut (impl Rng + ?Sized),
) -> Result<Tensor<T>> {
    Init::SmallUniform { scale }.tensor(shape, rng)
}

/// `N(0, std^2)`.
///
/// # Errors
/// [`Error::Config`] unless `std` is finite and positive.
pub fn small_normal<T: Float>(shape: impl Into<Shape>, std: f64, rng: &mut (impl Rng + ?Sized)) -> Result<Tensor<T>> {
    Init::SmallNormal { std }.tensor(shape, rng)
}

/// Xavier/Glorot uniform.
///
/// # Errors
/// [`Error::Config`] when both fans are zero.
pub fn xavier_uniform<T: Float>(shape: impl Into<Shape>, rng: &mut (impl Rng + ?Sized)) -> Result<Tensor<T>> {
    Init::XavierUniform.tensor(shape, rng)
}

/// Xavier/Glorot normal.
///
/// # Errors
/// [`Error::Config`] when both fans are zero.
pub fn xavier_normal<T: Float>(shape: impl Into<Shape>, rng: &mut (impl Rng + ?Sized)) -> Result<Tensor<T>> {
    Init::XavierNormal.tensor(shape, rng)
}

/// He/Kaiming uniform.
///
/// # Errors
/// [`Error::Config`] when `fan_in` is zero.
pub fn he_uniform<T: Float>(shape: impl Into<Shape>, rng: &mut (impl Rng + ?Sized)) -> Result<Tensor<T>> {
    Init::HeUniform.tensor(shape, rng)
}

/// He/Kaiming normal.
///
/// # Errors
/// [`Error::Config`] when `fan_in` is zero.
pub fn he_normal<T: Float>(shape: impl Into<Shape>, rng: &mut (impl Rng + ?Sized)) -> Result<Tensor<T>> {
    Init::HeNormal.tensor(shape, rng)
}

#[cfg(test)]
mod tests {
    use super::{Init, fans};
    use crate::Module;
    use crate::layers::{Activation, Linear, LinearConfig};
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use tapegrad::{Shape, Tape, Tensor};

    fn mean_var(t: &Tensor<f64>) -> (f64, f64) {
        let n = t.numel() as f64;
        let mean = t.data().iter().sum::<f64>() / n;
        (mean, t.data().iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n)
    }

    #[test]
    fn scaled_schemes_have_their_variance_over_a_large_layer() {
        // [out 1000, in 500]: Xavier variance 2 / 1500, He variance 2 / 500. With 500,000 draws the sample
        // variance is within 1% with overwhelming probability; 5% leaves room without hiding a wrong formula
        // (the nearest wrong ones, 1/fan or 3/fan, are 33% or more away).
        let shape = [1000, 500];
        for (init, expect) in [
            (Init::XavierUniform, 2.0 / 1500.0),
            (Init::XavierNormal, 2.0 / 1500.0),
            (Init::HeUniform, 2.0 / 500.0),
            (Init::HeNormal, 2.0 / 500.0),
            (Init::SmallNormal { std: 0.01 }, 1e-4),
            (Init::SmallUniform { scale: 0.01 }, 1e-4 / 3.0),
        ] {
            let t = init.tensor::<f64>(shape, &mut StdRng::seed_from_u64(9)).unwrap();
            let (mean, var) = mean_var(&t);
            assert!((var / expect - 1.0).abs() < 0.05, "{init:?}: variance {var:e}, expected {expect:e}");
            assert!(mean.abs() < 0.01 * expect.sqrt(), "{init:?}: mean {mean:e}");
        }
    }

    #[test]
    fn uniform_schemes_stay_inside_their_bounds() {
        let mut rng = StdRng::seed_from_u64(3);
        let x = Init::XavierUniform.tensor::<f32>([30, 20], &mut rng).unwrap();
        let a = (6.0f32 / 50.0).sqrt();
        assert!(x.data().iter().all(|v| v.abs() <= a));
        let h = Init::HeUniform.tensor::<f32>([30, 20], &mut rng).unwrap();
        let a = (6.0f32 / 20.0).sqrt();
        assert!(h.data().iter().all(|v| v.abs() <= a));
    }

    #[test]
    fn zeros_and_constant_fill_and_ignore_the_rng() {
        let mut rng = StdRng::seed_from_u64(0);
        assert_eq!(Init::Zeros.tensor::<f32>([2, 3], &mut rng).unwrap(), Tensor::zeros([2, 3]).unwrap());
        assert_eq!(super::constant::<f64>([4], 0.5).unwrap(), Tensor::full([4], 0.5).unwrap());
    }

    #[test]
    fn constant_weights_give_every_unit_the_same_gradient() {
        // Why constant initialisation is wrong: hidden units stay identical after any number of steps.
        let mut rng = StdRng::seed_from_u64(0);
        let cfg = LinearConfig { init: Init::Constant(0.3), ..Default::default() };
        let layer = Linear::<f64>::with_config(3, 4, cfg, &mut rng).unwrap();
        let out = Linear::<f64>::with_config(4, 1, cfg, &mut rng).unwrap();
        let tape = Tape::new();
        let x = tape.input(Tensor::randn([5, 3], 0.0, 1.0, &mut rng).unwrap());
        let h = Activation::Tanh.apply(layer.forward(&tape, x).unwrap()).unwrap();
        let loss = out.forward(&tape, h).unwrap().square().mean();
        let g = loss.backward().unwrap();
        let gw = g.param(layer.weight()).unwrap();
        for unit in 1..4 {
            assert_eq!(gw.data()[unit * 3..unit * 3 + 3], gw.data()[0..3], "unit {unit}");
        }
    }

    #[test]
    fn invalid_scales_and_empty_fans_are_config_errors() {
        let mut rng = StdRng::seed_from_u64(0);
        let err = Init::SmallNormal { std: -1.0 }.tensor::<f32>([2, 2], &mut rng).unwrap_err();
        assert_eq!(err.to_string(), "init: std -1 must be finite and > 0");
        assert!(Init::SmallUniform { scale: f64::NAN }.tensor::<f32>([2], &mut rng).is_err());
        assert!(Init::Constant(f64::INFINITY).tensor::<f32>([2], &mut rng).is_err());
        let err = Init::HeNormal.tensor::<f32>([3, 0], &mut rng).unwrap_err();
        assert_eq!(err.to_string(), "init: he: shape [3, 0] has fan_in 0");
    }

    #[test]
    fn fans_follow_the_out_in_convention() {
        assert_eq!(fans(&Shape::new(&[128, 64])), (64, 128));
        assert_eq!(fans(&Shape::new(&[7])), (7, 7));
        assert_eq!(fans(&Shape::new(&[8, 3, 5])), (15, 40));
        assert_eq!(fans(&Shape::scalar()), (1, 1));
    }

    #[test]
    fn activations_pick_he_for_relu_family_and_xavier_otherwise() {
        assert_eq!(Init::for_activation(Activation::Relu), Init::HeNormal);
        assert_eq!(Init::for_activation(Activation::leaky(0.01)), Init::HeNormal);
        for act in [Activation::Tanh, Activation::Sigmoid, Activation::Identity, Activation::Softmax] {
            assert_eq!(Init::for_activation(act), Init::XavierUniform);
        }
    }
}
