//! The fully-connected layer `y = x W^T + b`.

use crate::error::{Error, Result};
use crate::init::Init;
use crate::module::Module;
use rand::Rng;
use tapegrad::{Float, Param, Tape, Tensor, Var};

/// Options of a [`Linear`] layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearConfig {
    /// Whether the layer adds a bias (default true).
    pub bias: bool,
    /// Initialisation of the weight (default Xavier uniform; see [`LinearConfig::for_activation`]).
    pub init: Init,
    /// Initialisation of the bias (default zeros).
    pub bias_init: Init,
}

impl Default for LinearConfig {
    fn default() -> Self {
        LinearConfig { bias: true, init: Init::XavierUniform, bias_init: Init::Zeros }
    }
}

impl LinearConfig {
    /// The default configuration with the weight initialisation suited to the activation that follows.
    pub fn for_activation(act: crate::layers::Activation) -> Self {
        LinearConfig { init: Init::for_activation(act), ..Default::default() }
    }
}

/// A fully-connected layer: input `[n, in]`, weight `[out, in]`, bias `[out]`, output `[n, out]`, computed
/// by the engine's fused [`Var::linear`] (one GEMM, bias folded in). Parameters are named `weight` and
/// `bias`, as in PyTorch.
///
/// ```
/// use rand::SeedableRng;
/// use tapegrad::{Tape, Tensor};
/// use tapegrad_nn::{layers::Linear, Module};
/// let layer = Linear::<f32>::new(3, 2, &mut rand::rngs::StdRng::seed_from_u64(0)).unwrap();
/// let tape = Tape::new();
/// let y = layer.forward(&tape, tape.input(Tensor::zeros([4, 3]).unwrap())).unwrap();
/// assert_eq!(y.value().dims(), &[4, 2]);
/// // Biases start at zero, so a zero input gives a zero output.
/// assert!(y.value().data().iter().all(|&v| v == 0.0));
/// // A wrong width names the layer and both shapes.
/// let err = layer.forward(&tape, tape.input(Tensor::zeros([4, 5]).unwrap())).unwrap_err();
/// assert_eq!(err.to_string(), "Linear 3 -> 2: input [4, 5] does not fit weight [2, 3]; expected [n, 3]");
/// ```
#[derive(Debug, Clone)]
pub struct Linear<T: Float> {
    weight: Param<T>,
    bias: Option<Param<T>>,
}

impl<T: Float> Linear<T> {
    /// A layer with the default configuration: Xavier-uniform weight, zero bias.
    ///
    /// # Errors
    /// [`Error::Config`] when `in_features` or `out_features` is zero.
    pub fn new(in_features: usize, out_features: usize, rng: &mut (impl Rng + ?Sized)) -> Result<Self> {
        Self::with_config(in_features, out_features, LinearConfig::default(), rng)
    }

    /// A layer with explicit options.
    ///
    /// # Errors
    /// [`Error::Config`] when a size is zero, the weight's element count overflows the address space, or
    /// the initialisation is invalid.
    pub fn with_config(
        in_features: usize,
        out_features: usize,
        cfg: LinearConfig,
        rng: &mut (impl Rng + ?Sized),
    ) -> Result<Self> {
        if in_features == 0 || out_features == 0 {
            return Err(Error::Config {
                what: "Linear",
                msg: format!("sizes must be positive (got {in_features} -> {out_features})"),
            });
        }
        // Refuse a weight that cannot exist before asking the allocator (8 bytes per element at most).
        if out_features.checked_mul(in_features).is_none_or(|n| n > isize::MAX as usize / 8) {
            return Err(Error::Config {
                what: "Linear",
                msg: format!(
                    "a weight [{out_features}, {in_features}] has more elements than fit in the address space"
                ),
            });
        }
        let weight = Param::with_name(cfg.init.tensor([out_features, in_features], rng)?, "weight");
        let bias =
            if cfg.bias { Some(Param::with_name(cfg.bias_init.tensor([out_features], rng)?, "bias")) } else { None };
        Ok(Linear { weight, bias })
    }

    /// A layer from given values: weight `[out, in]`, optional bias `[out]`.
    ///
    /// # Errors
    /// [`Error::Config`] when the weight is not a non-empty matrix or the bias is not `[out]`.
    pub fn from_tensors(weight: Tensor<T>, bias: Option<Tensor<T>>) -> Result<Self> {
        let bad = |msg: String| Error::Config { what: "Linear", msg };
        let &[out, inp] = weight.dims() else {
            return Err(bad(format!("weight must be [out, in], got {}", weight.shape())));
        };
        if out == 0 || inp == 0 {
            return Err(bad(format!("weight must be non-empty, got {}", weight.shape())));
        }
        if let Some(b) = &bias
            && b.dims() != [out]
        {
            return Err(bad(format!("bias must be [{out}] for weight {}, got {}", weight.shape(), b.shape())));
        }
        Ok(Linear { weight: Param::with_name(weight, "weight"), bias: bias.map(|b| Param::with_name(b, "bias")) })
    }

    /// Input width.
    pub fn in_features(&self) -> usize {
        self.weight.value().dims()[1]
    }

    /// Output width.
    pub fn out_features(&self) -> usize {
        self.weight.value().dims()[0]
    }

    /// The weight `[out, in]`.
    pub fn weight(&self) -> &Param<T> {
        &self.weight
    }

    /// The bias `[out]`, if the layer has one.
    pub fn bias(&self) -> Option<&Param<T>> {
        self.bias.as_ref()
    }

    fn describe(&self) -> String {
        format!("Linear {} -> {}", self.in_features(), self.out_features())
    }
}

impl<T: Float> Module<T> for Linear<T> {
    fn forward<'t>(&self, tape: &'t Tape<T>, x: Var<'t, T>) -> Result<Var<'t, T>> {
        let shape = x.shape();
        if shape.rank() != 2 || shape.dims()[1] != self.in_features() {
            return Err(Error::Layer {
                layer: self.describe(),
                msg: format!(
                    "input {shape} does not fit weight {}; expected [n, {}]",
                    self.weight.value().shape(),
                    self.in_features()
                ),
            });
        }
        let w = tape.param(&self.weight);
        let b = self.bias.as_ref().map(|b| tape.param(b));
        Ok(x.linear(w, b)?)
    }

    fn params(&self) -> Vec<(String, &Param<T>)> {
        let mut out = vec![("weight".to_string(), &self.weight)];
        if let Some(b) = &self.bias {
            out.push(("bias".to_string(), b));
        }
        out
    }

    fn params_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        let mut out = vec![("weight".to_string(), &mut self.weight)];
        if let Some(b) = &mut self.bias {
            out.push(("bias".to_string(), b));
        }
        out
    }

    fn layer_name(&self) -> String {
        self.describe()
    }

    fn param_refs_mut(&mut self) -> Vec<&mut Param<T>> {
        // Called every optimizer step: skip building the names.
        let mut out = vec![&mut self.weight];
        out.extend(self.bias.as_mut());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::{Linear, LinearConfig};
    use crate::layers::testing::engine;
    use crate::{Error, Module};
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use tapegrad::{GradCheckConfig, Tape, Tensor, check_gradients};

    fn manual(x: &Tensor<f64>, w: &Tensor<f64>, b: Option<&Tensor<f64>>) -> Vec<f64> {
        let (n, k, m) = (x.dims()[0], x.dims()[1], w.dims()[0]);
        let mut y = vec![0.0; n * m];
        for i in 0..n {
            for j in 0..m {
                let dot: f64 = (0..k).map(|l| x.data()[i * k + l] * w.data()[j * k + l]).sum();
                y[i * m + j] = dot + b.map_or(0.0, |b| b.data()[j]);
            }
        }
        y
    }

    #[test]
    fn linear_equals_manual_matmul_plus_bias() {
        let mut rng = StdRng::seed_from_u64(1);
        let w = Tensor::<f64>::randn([4, 3], 0.0, 1.0, &mut rng).unwrap();
        let b = Tensor::<f64>::randn([4], 0.0, 1.0, &mut rng).unwrap();
        let x = Tensor::<f64>::randn([5, 3], 0.0, 1.0, &mut rng).unwrap();
        for bias in [Some(b.clone()), None] {
            let layer = Linear::from_tensors(w.clone(), bias.clone()).unwrap();
            let y = layer.predict(&x).unwrap();
            assert_eq!(y.dims(), &[5, 4]);
            let expect = manual(&x, &w, bias.as_ref());
            for (a, e) in y.data().iter().zip(&expect) {
                assert!((a - e).abs() < 1e-12, "{a} vs {e}");
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn linear_matches_the_naive_oracle_for_random_shapes(
            n in 1usize..6, k in 1usize..7, m in 1usize..7, bias: bool, seed: u64,
        ) {
            let mut rng = StdRng::seed_from_u64(seed);
            let w = Tensor::<f64>::randn([m, k], 0.0, 1.0, &mut rng).unwrap();
            let b = bias.then(|| Tensor::<f64>::randn([m], 0.0, 1.0, &mut rng).unwrap());
            let x = Tensor::<f64>::randn([n, k], 0.0, 1.0, &mut rng).unwrap();
            let y = Linear::from_tensors(w.clone(), b.clone()).unwrap().predict(&x).unwrap();
            proptest::prop_assert_eq!(y.dims(), &[n, m]);
            for (a, e) in y.data().iter().zip(manual(&x, &w, b.as_ref())) {
                proptest::prop_assert!((a - e).abs() < 1e-12, "{} vs {}", a, e);
            }
        }
    }

    #[test]
    fn linear_without_bias_has_only_a_weight() {
        let cfg = LinearConfig { bias: false, ..Default::default() };
        let layer = Linear::<f32>::with_config(6, 2, cfg, &mut StdRng::seed_from_u64(0)).unwrap();
        let names: Vec<String> = layer.params().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, vec!["weight"]);
        assert_eq!(layer.num_params(), 12);
    }

    #[test]
    fn linear_rejects_a_wrong_width_naming_layer_and_shapes() {
        let layer = Linear::<f32>::new(64, 128, &mut StdRng::seed_from_u64(0)).unwrap();
        let tape = Tape::new();
        let err = layer.forward(&tape, tape.input(Tensor::zeros([32, 63]).unwrap())).unwrap_err();
        assert!(matches!(err, Error::Layer { .. }));
        assert_eq!(err.to_string(), "Linear 64 -> 128: input [32, 63] does not fit weight [128, 64]; expected [n, 64]");
        let err = layer.forward(&tape, tape.input(Tensor::zeros([64]).unwrap())).unwrap_err();
        assert_eq!(err.to_string(), "Linear 64 -> 128: input [64] does not fit weight [128, 64]; expected [n, 64]");
    }

    #[test]
    fn linear_rejects_zero_sizes_and_mismatched_tensors() {
        let mut rng = StdRng::seed_from_u64(0);
        assert!(matches!(Linear::<f32>::new(0, 3, &mut rng), Err(Error::Config { .. })));
        let err =
            Linear::<f32>::from_tensors(Tensor::zeros([2, 3]).unwrap(), Some(Tensor::zeros([3]).unwrap())).unwrap_err();
        assert_eq!(err.to_string(), "Linear: bias must be [2] for weight [2, 3], got [3]");
        assert!(Linear::<f32>::from_tensors(Tensor::zeros([6]).unwrap(), None).is_err());
    }

    #[test]
    fn linear_refuses_a_weight_larger_than_the_address_space_without_allocating() {
        let mut rng = StdRng::seed_from_u64(0);
        for (i, o) in [(usize::MAX, 2), (1 << 32, 1 << 32), (1 << 31, 1 << 30)] {
            let err = Linear::<f32>::new(i, o, &mut rng).unwrap_err().to_string();
            assert!(err.contains("more elements than fit in the address space"), "{err}");
        }
    }

    #[test]
    fn linear_input_gradient_passes_the_gradient_check() {
        let mut rng = StdRng::seed_from_u64(2);
        let layer = Linear::<f64>::new(3, 4, &mut rng).unwrap();
        let x = Tensor::randn([5, 3], 0.0, 1.0, &mut rng).unwrap();
        check_gradients(|t, v| layer.forward(t, v[0]).map_err(engine), &[x], GradCheckConfig::default()).unwrap();
    }
}
