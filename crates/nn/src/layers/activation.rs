//! Activation functions as values: every engine activation, usable as a layer in a [`crate::layers::Sequential`].

use crate::error::Result;
use crate::module::Module;
use std::fmt;
use tapegrad::{Float, Param, Tape, Var};

/// An elementwise (or, for the softmaxes, row-wise) activation. It is a parameter-free [`Module`] itself.
///
/// Step and sign have a zero derivative almost everywhere: a network using them cannot learn by gradient
/// descent (the lecture's perceptron uses them with its own update rule).
///
/// ```
/// use tapegrad::{Tape, Tensor};
/// use tapegrad_nn::{layers::Activation, Module};
/// let tape = Tape::<f64>::new();
/// let x = tape.input(Tensor::from_vec(vec![-2.0, 3.0], [1, 2]).unwrap());
/// let y = Activation::LeakyRelu { alpha: 1.0, beta: 0.1 }.forward(&tape, x).unwrap();
/// assert_eq!(y.value().to_vec(), vec![-0.2, 3.0]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Activation {
    /// `f(x) = x`.
    #[default]
    Identity,
    /// Heaviside step: 1 for `x > 0`, else 0 (zero derivative).
    Step,
    /// Sign: -1, 0 or 1 (zero derivative).
    Sign,
    /// Logistic sigmoid `1 / (1 + e^-x)`.
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// `max(0, x)`.
    Relu,
    /// The lecture's two-slope leaky relu: `alpha x` for `x >= 0`, `beta x` for `x < 0`.
    LeakyRelu {
        /// Slope for `x >= 0` (usually 1).
        alpha: f64,
        /// Slope for `x < 0` (usually 0.01).
        beta: f64,
    },
    /// `ln(1 + e^x)`, a smooth relu.
    Softplus,
    /// Softmax over the last axis (each row sums to one).
    Softmax,
    /// Log-softmax over the last axis.
    LogSoftmax,
}

impl Activation {
    /// The usual leaky relu: slope 1 for `x >= 0`, `beta` for `x < 0`.
    pub fn leaky(beta: f64) -> Self {
        Activation::LeakyRelu { alpha: 1.0, beta }
    }

    /// Checks the leaky relu's slopes: both must be finite (a NaN or infinite slope would turn every
    /// negative input into NaN or infinity).
    ///
    /// ```
    /// use tapegrad_nn::layers::Activation;
    /// assert!(Activation::leaky(0.1).validate().is_ok());
    /// let err = Activation::LeakyRelu { alpha: f64::NAN, beta: f64::INFINITY }.validate().unwrap_err();
    /// assert_eq!(err.to_string(), "activation: leaky_relu slopes must be finite, got alpha NaN and beta inf");
    /// ```
    ///
    /// # Errors
    /// [`crate::Error::Config`] naming both slopes.
    pub fn validate(self) -> Result<()> {
        match self {
            Activation::LeakyRelu { alpha, beta } if !(alpha.is_finite() && beta.is_finite()) => {
                Err(crate::Error::Config {
                    what: "activation",
                    msg: format!("leaky_relu slopes must be finite, got alpha {alpha} and beta {beta}"),
                })
            }
            _ => Ok(()),
        }
    }

    /// Applies the activation to `x`.
    ///
    /// # Errors
    /// Engine errors (a rank-0 input to the softmaxes; non-finite values in anomaly mode);
    /// [`crate::Error::Config`] for a leaky relu with a non-finite slope (see [`Activation::validate`]), or a
    /// slope that is not finite in `T` (`1e39` is infinite in `f32`).
    pub fn apply<'t, T: Float>(self, x: Var<'t, T>) -> Result<Var<'t, T>> {
        self.validate()?;
        if let Activation::LeakyRelu { alpha, beta } = self
            && !(T::of(alpha).is_finite() && T::of(beta).is_finite())
        {
            return Err(crate::Error::Config {
                what: "activation",
                msg: format!("leaky_relu slopes {alpha} and {beta} are not finite in {}", crate::io::float_name::<T>()),
            });
        }
        Ok(match self {
            Activation::Identity => x,
            Activation::Step => x.step(),
            Activation::Sign => x.sign(),
            Activation::Sigmoid => x.sigmoid(),
            Activation::Tanh => x.tanh(),
            Activation::Relu => x.relu(),
            Activation::LeakyRelu { alpha, beta } => x.leaky_relu(T::of(alpha), T::of(beta))?,
            Activation::Softplus => x.softplus(),
            Activation::Softmax => x.softmax(-1)?,
            Activation::LogSoftmax => x.log_softmax(-1)?,
        })
    }
}

/// The canonical names: `identity`, `step`, `sign`, `sigmoid`, `tanh`, `relu`, `leaky_relu(alpha, beta)`,
/// `softplus`, `softmax`, `log_softmax`; [`Activation`]'s `FromStr` reads them back.
impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Activation::Identity => write!(f, "identity"),
            Activation::Step => write!(f, "step"),
            Activation::Sign => write!(f, "sign"),
            Activation::Sigmoid => write!(f, "sigmoid"),
            Activation::Tanh => write!(f, "tanh"),
            Activation::Relu => write!(f, "relu"),
            Activation::LeakyRelu { alpha, beta } => write!(f, "leaky_relu({alpha}, {beta})"),
            Activation::Softplus => write!(f, "softplus"),
            Activation::Softmax => write!(f, "softmax"),
            Activation::LogSoftmax => write!(f, "log_softmax"),
        }
    }
}

/// Parses the names [`Activation`]'s `Display` prints, ignoring case, `-` for `_` and spaces; also
/// `leaky_relu` (slopes 1 and 0.01), `leaky_relu(beta)` and `linear`/`none` for identity. For command-line
/// flags and model files.
///
/// ```
/// use tapegrad_nn::layers::Activation;
/// assert_eq!("ReLU".parse::<Activation>().unwrap(), Activation::Relu);
/// assert_eq!("leaky-relu(0.2)".parse::<Activation>().unwrap(), Activation::leaky(0.2));
/// let a = Activation::LeakyRelu { alpha: 2.0, beta: 0.1 };
/// assert_eq!(a.to_string().parse::<Activation>().unwrap(), a);
/// assert!("swish".parse::<Activation>().is_err());
/// ```
impl std::str::FromStr for Activation {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self> {
        let norm: String = s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_lowercase();
        let bad = |msg: String| crate::Error::Config { what: "activation", msg };
        let (name, args) = match norm.split_once('(') {
            Some((name, rest)) => {
                let inner =
                    rest.strip_suffix(')').ok_or_else(|| bad(format!("{}: missing ')'", crate::io::short(s))))?;
                let nums = inner
                    .split(',')
                    .map(|a| {
                        a.parse::<f64>().map_err(|_| {
                            bad(format!("{}: {} is not a number", crate::io::short(s), crate::io::short(a)))
                        })
                    })
                    .collect::<Result<Vec<f64>>>()?;
                (name.replace('-', "_"), Some(nums))
            }
            None => (norm.replace('-', "_"), None),
        };
        let act = match (name.as_str(), args.as_deref()) {
            ("identity" | "linear" | "none", None) => Activation::Identity,
            ("step" | "heaviside", None) => Activation::Step,
            ("sign", None) => Activation::Sign,
            ("sigmoid" | "logistic", None) => Activation::Sigmoid,
            ("tanh", None) => Activation::Tanh,
            ("relu", None) => Activation::Relu,
            ("leaky_relu" | "leakyrelu", None) => Activation::leaky(0.01),
            ("leaky_relu" | "leakyrelu", Some(&[beta])) => Activation::leaky(beta),
            ("leaky_relu" | "leakyrelu", Some(&[alpha, beta])) => Activation::LeakyRelu { alpha, beta },
            ("softplus", None) => Activation::Softplus,
            ("softmax", None) => Activation::Softmax,
            ("log_softmax" | "logsoftmax", None) => Activation::LogSoftmax,
            _ if name.len() > 64 => return Err(bad(format!("unknown activation {}", crate::io::short(s)))),
            _ => {
                return Err(bad(format!(
                    "unknown activation {s:?}; expected identity, step, sign, sigmoid, tanh, relu, \
                     leaky_relu[(beta) or (alpha, beta)], softplus, softmax or log_softmax"
                )));
            }
        };
        act.validate()?;
        Ok(act)
    }
}

impl<T: Float> Module<T> for Activation {
    fn forward<'t>(&self, _tape: &'t Tape<T>, x: Var<'t, T>) -> Result<Var<'t, T>> {
        self.apply(x)
    }

    fn layer_name(&self) -> String {
        self.to_string()
    }

    fn params(&self) -> Vec<(String, &Param<T>)> {
        Vec::new()
    }

    fn params_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::Activation;
    use tapegrad::{Tape, Tensor};

    fn run(act: Activation, xs: &[f64]) -> Vec<f64> {
        let tape = Tape::<f64>::new();
        let x = tape.input(Tensor::from_vec(xs.to_vec(), [1, xs.len()]).unwrap());
        act.apply(x).unwrap().value().to_vec()
    }

    #[test]
    fn every_activation_computes_its_formula() {
        let xs = [-1.5, 0.5, 2.0];
        let close = |a: Vec<f64>, b: Vec<f64>| a.iter().zip(&b).all(|(p, q)| (p - q).abs() < 1e-12);
        assert_eq!(run(Activation::Identity, &xs), xs.to_vec());
        assert_eq!(run(Activation::Step, &xs), vec![0.0, 1.0, 1.0]);
        assert_eq!(run(Activation::Sign, &xs), vec![-1.0, 1.0, 1.0]);
        assert!(close(run(Activation::Sigmoid, &xs), xs.iter().map(|x| 1.0 / (1.0 + (-x).exp())).collect()));
        assert!(close(run(Activation::Tanh, &xs), xs.iter().map(|x| x.tanh()).collect()));
        assert_eq!(run(Activation::Relu, &xs), vec![0.0, 0.5, 2.0]);
        assert!(close(run(Activation::LeakyRelu { alpha: 2.0, beta: 0.1 }, &xs), vec![-0.15, 1.0, 4.0]));
        assert!(close(run(Activation::Softplus, &xs), xs.iter().map(|x| (1.0 + x.exp()).ln()).collect()));
        let z: f64 = xs.iter().map(|x| x.exp()).sum();
        assert!(close(run(Activation::Softmax, &xs), xs.iter().map(|x| x.exp() / z).collect()));
        assert!(close(run(Activation::LogSoftmax, &xs), xs.iter().map(|x| x - z.ln()).collect()));
    }
    #[test]
    fn every_activation_parses_back_from_its_display_name() {
        for act in [
            Activation::Identity,
            Activation::Step,
            Activation::Sign,
            Activation::Sigmoid,
            Activation::Tanh,
            Activation::Relu,
            Activation::LeakyRelu { alpha: 1.0, beta: 0.01 },
            Activation::LeakyRelu { alpha: 0.5, beta: -0.25 },
            Activation::Softplus,
            Activation::Softmax,
            Activation::LogSoftmax,
        ] {
            assert_eq!(act.to_string().parse::<Activation>().unwrap(), act, "{act}");
        }
        assert_eq!("Leaky_ReLU".parse::<Activation>().unwrap(), Activation::leaky(0.01));
        assert_eq!(" log-softmax ".parse::<Activation>().unwrap(), Activation::LogSoftmax);
    }

    #[test]
    fn unknown_or_malformed_activation_names_are_config_errors() {
        for bad in [
            "gelu",
            "relu(2)",
            "leaky_relu(1, 2, 3)",
            "leaky_relu(x)",
            "leaky_relu(0.1",
            "leaky_relu(nan, inf)",
            "leaky_relu(NaN)",
            "leaky_relu(1, -inf)",
            "leaky_relu(1e400)",
        ] {
            let err = bad.parse::<Activation>().unwrap_err();
            assert!(matches!(err, crate::Error::Config { what: "activation", .. }), "{bad}: {err}");
        }
    }
}
