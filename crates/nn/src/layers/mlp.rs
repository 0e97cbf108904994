//! Multilayer perceptrons built from a list of layer sizes.

use crate::error::Result;
use crate::init::Init;
use crate::layers::{Activation, BatchNorm1d, Dropout, Linear, LinearConfig, Sequential};
use crate::module::Module;
use rand::{Rng, RngExt, SeedableRng};
use tapegrad::{Float, Param, Tape, Tensor, Var};

#[path = "mlp_plan.rs"]
mod plan;

use plan::Block;

/// Options of an [`Mlp`]. `sizes` lists the widths from input to output (`[64, 128, 64, 10]` is two
/// hidden layers).
#[derive(Debug, Clone, PartialEq)]
pub struct MlpConfig {
    /// Widths from input to output; at least two, all positive.
    pub sizes: Vec<usize>,
    /// Activation after every hidden layer (default relu).
    pub hidden: Activation,
    /// Activation after the last layer (default identity: logits, or a regression output).
    pub output: Activation,
    /// Whether the linear layers have biases (default true).
    pub bias: bool,
    /// Weight initialisation for every linear layer; `None` (the default) picks per layer from the
    /// activation that follows it ([`Init::for_activation`]).
    pub init: Option<Init>,
    /// Dropout probability after every hidden activation; 0 (the default) adds no dropout layer.
    pub dropout: f64,
    /// Whether to insert a [`BatchNorm1d`] between every hidden linear layer and its activation.
    pub batch_norm: bool,
}

impl Default for MlpConfig {
    fn default() -> Self {
        MlpConfig {
            sizes: Vec::new(),
            hidden: Activation::Relu,
            output: Activation::Identity,
            bias: true,
            init: None,
            dropout: 0.0,
            batch_norm: false,
        }
    }
}

/// A multilayer perceptron: `Linear -> [BatchNorm1d] -> hidden activation -> [Dropout]` per hidden layer,
/// then `Linear -> output activation`. Identity activations add no layer. Parameter names are those of
/// the inner [`Sequential`]: `layers.0.weight`, `layers.0.bias`, `layers.2.weight`, ...
///
/// ```
/// use rand::SeedableRng;
/// use tapegrad::Tensor;
/// use tapegrad_nn::layers::{Activation, Mlp};
/// use tapegrad_nn::Module;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let mlp = Mlp::<f32>::new(&[64, 128, 64, 10], Activation::Relu, Activation::Identity, &mut rng).unwrap();
/// assert_eq!(mlp.num_params(), 64 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10);
/// assert_eq!(mlp.params()[2].0, "layers.2.weight");
/// let logits = mlp.predict(&Tensor::zeros([32, 64]).unwrap()).unwrap();
/// assert_eq!(logits.dims(), &[32, 10]);
/// ```
#[derive(Debug)]
pub struct Mlp<T: Float> {
    net: Sequential<T>,
    config: MlpConfig,
    train: bool,
}

/// An independent copy: the same architecture, parameter values, running statistics and mode, with fresh
/// parameter ids (an optimizer's state for the original does not apply to it) and dropout layers reseeded.
impl<T: Float> Clone for Mlp<T> {
    fn clone(&self) -> Self {
        let mut copy = Mlp::from_config(self.config.clone(), &mut rand::rngs::StdRng::seed_from_u64(0))
            .expect("invariant: the configuration built this network");
        for ((_, dst), (_, src)) in copy.net.params_mut().into_iter().zip(self.net.params()) {
            dst.set(src.value().clone());
        }
        for (name, value) in self.net.buffers() {
            copy.net.set_buffer(&name, value).expect("invariant: the same architecture has the same buffers");
        }
        copy.set_train(self.train);
        copy
    }
}

impl<T: Float> Mlp<T> {
    /// An MLP with default options (biases, initialisation chosen per activation, no dropout).
    ///
    /// # Errors
    /// [`crate::Error::Config`] when fewer than two sizes are given, a size is zero, or the parameter count
    /// does not fit in memory (see [`MlpConfig::num_params`]).
    pub fn new(sizes: &[usize], hidden: Activation, output: Activation, rng: &mut (impl Rng + ?Sized)) -> Result<Self> {
        Self::from_config(MlpConfig { sizes: sizes.to_vec(), hidden, output, ..Default::default() }, rng)
    }

    /// An MLP from a full configuration. Dropout layers are seeded from `rng`.
    ///
    /// # Errors
    /// [`crate::Error::Config`] for bad sizes (as [`Mlp::new`]), a dropout probability outside `[0, 1)` or an
    /// activation with a non-finite slope.
    pub fn from_config(config: MlpConfig, rng: &mut (impl Rng + ?Sized)) -> Result<Self> {
        config.validate()?;
        let mut net = Sequential::new();
        let mut linears = 0;
        for block in config.blocks() {
            match block {
                Block::Linear { inp, out } => {
                    // The weight initialisation suits the activation that follows the layer.
                    linears += 1;
                    let act = if linears == config.sizes.len() - 1 { config.output } else { config.hidden };
                    let init = config.init.unwrap_or(Init::for_activation(act));
                    let cfg = LinearConfig { bias: config.bias, init, ..Default::default() };
                    net.push(Linear::with_config(inp, out, cfg, rng)?);
                }
                Block::BatchNorm(f) => net.push(BatchNorm1d::new(f)?),
                Block::Act(act) => net.push(act),
                Block::Dropout => net.push(Dropout::new(config.dropout, rng.random::<u64>())?),
            }
        }
        Ok(Mlp { net, config, train: true })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &MlpConfig {
        &self.config
    }

    /// The layers.
    pub fn layers(&self) -> &Sequential<T> {
        &self.net
    }
}

impl<T: Float> Module<T> for Mlp<T> {
    fn forward<'t>(&self, tape: &'t Tape<T>, x: Var<'t, T>) -> Result<Var<'t, T>> {
        self.net.forward(tape, x)
    }

    fn params(&self) -> Vec<(String, &Param<T>)> {
        self.net.params()
    }

    fn params_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        self.net.params_mut()
    }

    fn param_refs_mut(&mut self) -> Vec<&mut Param<T>> {
        self.net.param_refs_mut()
    }

    fn set_train(&mut self, train: bool) {
        self.train = train;
        self.net.set_train(train);
    }

    fn buffers(&self) -> Vec<(String, Tensor<T>)> {
        self.net.buffers()
    }

    fn set_buffer(&mut self, name: &str, value: Tensor<T>) -> Result<()> {
        self.net.set_buffer(name, value)
    }
}

#[cfg(test)]
mod tests {
    use super::{Mlp, MlpConfig};
    use crate::layers::testing::engine;
    use crate::layers::{Activation, Linear};
    use crate::{Error, Module, check_module_gradients};
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use tapegrad::{GradCheckConfig, Tape, Tensor, check_gradients};

    fn names<M: Module<f64>>(m: &M) -> Vec<String> {
        m.params().into_iter().map(|(n, _)| n).collect()
    }

    #[test]
    fn mlp_input_gradient_passes_check_gradients() {
        let mut rng = StdRng::seed_from_u64(5);
        for hidden in [Activation::Tanh, Activation::Sigmoid, Activation::Softplus, Activation::leaky(0.1)] {
            let mlp = Mlp::<f64>::new(&[4, 6, 5, 3], hidden, Activation::Softmax, &mut rng).unwrap();
            let x = Tensor::randn([7, 4], 0.0, 1.0, &mut rng).unwrap();
            check_gradients(|t, v| mlp.forward(t, v[0]).map_err(engine), &[x], GradCheckConfig::default())
                .unwrap_or_else(|e| panic!("{hidden}: {e}"));
        }
    }

    #[test]
    fn mlp_parameter_gradients_match_finite_differences() {
        let mut rng = StdRng::seed_from_u64(6);
        let mut mlp = Mlp::<f64>::new(&[3, 5, 4, 2], Activation::Tanh, Activation::LogSoftmax, &mut rng).unwrap();
        let x = Tensor::randn([6, 3], 0.0, 1.0, &mut rng).unwrap();
        check_module_gradients(&mut mlp, &x, GradCheckConfig::default()).unwrap();
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        #[test]
        fn random_small_mlps_pass_the_module_gradient_check(
            sizes in proptest::collection::vec(1usize..5, 2..5),
            hidden in 0usize..5,
            output in 0usize..3,
            bias: bool,
            seed: u64,
        ) {
            let hidden = [
                Activation::Tanh,
                Activation::Sigmoid,
                Activation::Softplus,
                Activation::Identity,
                Activation::leaky(0.2),
            ][hidden];
            let output = [Activation::Identity, Activation::Softmax, Activation::LogSoftmax][output];
            let mut rng = StdRng::seed_from_u64(seed);
            let cfg = MlpConfig { sizes: sizes.clone(), hidden, output, bias, ..Default::default() };
            let mut mlp = Mlp::<f64>::from_config(cfg, &mut rng).unwrap();
            let x = Tensor::randn([3, sizes[0]], 0.0, 1.0, &mut rng).unwrap();
            let r = check_module_gradients(&mut mlp, &x, GradCheckConfig::default());
            proptest::prop_assert!(r.is_ok(), "{:?} {} {}: {:?}", sizes, hidden, output, r);
        }
    }

    #[test]
    fn the_module_gradient_check_catches_a_wrong_gradient() {
        // A layer whose recorded graph gives 2x where the value is x: the derivative it reports is wrong.
        struct Liar(Linear<f64>);
        impl Module<f64> for Liar {
            fn forward<'t>(
                &self,
                tape: &'t Tape<f64>,
                x: tapegrad::Var<'t, f64>,
            ) -> crate::Result<tapegrad::Var<'t, f64>> {
                let y = self.0.forward(tape, x)?;
                let y2 = y.mul_scalar(2.0);
                // value y, gradient of 2y: y2 - stop_gradient(y)
                Ok(y2.sub(tape.constant(y.value()))?)
            }
            fn params(&self) -> Vec<(String, &tapegrad::Param<f64>)> {
                self.0.params()
            }
            fn params_mut(&mut self) -> Vec<(String, &mut tapegrad::Param<f64>)> {
                self.0.params_mut()
            }
        }
        let mut rng = StdRng::seed_from_u64(7);
        let mut liar = Liar(Linear::new(2, 2, &mut rng).unwrap());
        let x = Tensor::randn([3, 2], 0.0, 1.0, &mut rng).unwrap();
        let err = check_module_gradients(&mut liar, &x, GradCheckConfig::default()).unwrap_err();
        assert!(err.to_string().starts_with("gradient check: weight element 0: analytic"), "{err}");
    }

    #[test]
    fn mlp_names_its_parameters_like_a_pytorch_sequential() {
        let mut rng = StdRng::seed_from_u64(0);
        let mlp = Mlp::<f64>::new(&[2, 3, 1], Activation::Relu, Activation::Sigmoid, &mut rng).unwrap();
        assert_eq!(names(&mlp), ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]);
        assert_eq!(mlp.layers().len(), 4, "linear, relu, linear, sigmoid");
        let cfg = MlpConfig { sizes: vec![2, 3, 1], dropout: 0.5, batch_norm: true, bias: false, ..Default::default() };
        let mlp = Mlp::<f64>::from_config(cfg, &mut rng).unwrap();
        assert_eq!(names(&mlp), ["layers.0.weight", "layers.1.weight", "layers.1.bias", "layers.4.weight"]);
        assert_eq!(mlp.buffers().len(), 2);
    }

    #[test]
    fn mlp_picks_he_for_relu_and_xavier_for_tanh_unless_overridden() {
        // Xavier uniform on [200, 100] is bounded by sqrt(6 / 300) = 0.141; He normal (std 0.141) is not.
        let max_abs = |m: &Mlp<f64>| m.params()[0].1.value().data().iter().fold(0.0f64, |a, v| a.max(v.abs()));
        let mut rng = StdRng::seed_from_u64(1);
        let tanh = Mlp::<f64>::new(&[100, 200, 1], Activation::Tanh, Activation::Identity, &mut rng).unwrap();
        assert!(max_abs(&tanh) <= (6.0f64 / 300.0).sqrt());
        let relu = Mlp::<f64>::new(&[100, 200, 1], Activation::Relu, Activation::Identity, &mut rng).unwrap();
        assert!(max_abs(&relu) > 0.3, "He normal has tails beyond 2 std");
        let cfg = MlpConfig {
            sizes: vec![100, 200, 1],
            init: Some(crate::init::Init::SmallUniform { scale: 0.01 }),
            ..Default::default()
        };
        let small = Mlp::<f64>::from_config(cfg, &mut rng).unwrap();
        assert!(max_abs(&small) <= 0.01);
        assert!(small.params()[1].1.value().data().iter().all(|&b| b == 0.0), "biases start at zero");
    }

    #[test]
    fn mlp_rejects_bad_sizes_and_dropout() {
        let mut rng = StdRng::seed_from_u64(0);
        let err = Mlp::<f32>::new(&[4], Activation::Relu, Activation::Identity, &mut rng).unwrap_err();
        assert!(matches!(err, Error::Config { .. }));
        assert!(Mlp::<f32>::new(&[4, 0, 2], Activation::Relu, Activation::Identity, &mut rng).is_err());
        let cfg = MlpConfig { sizes: vec![2, 2], dropout: 1.0, ..Default::default() };
        assert_eq!(Mlp::<f32>::from_config(cfg, &mut rng).unwrap_err().to_string(), "Mlp: dropout 1 is not in [0, 1)");
    }

    #[test]
    fn mlp_wrong_width_error_names_the_first_layer_and_both_shapes() {
        let mut rng = StdRng::seed_from_u64(0);
        let mlp = Mlp::<f32>::new(&[64, 128, 64, 10], Activation::Relu, Activation::Identity, &mut rng).unwrap();
        let err = mlp.predict(&Tensor::zeros([32, 60]).unwrap()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "layers.0 (Linear 64 -> 128): input [32, 60] does not fit weight [128, 64]; expected [n, 64]"
        );
    }

    #[test]
    fn param_refs_mut_lists_the_same_parameters_in_the_same_order_as_params() {
        let cfg = MlpConfig { sizes: vec![3, 4, 4, 2], batch_norm: true, dropout: 0.1, ..Default::default() };
        let mut mlp = Mlp::<f32>::from_config(cfg, &mut StdRng::seed_from_u64(0)).unwrap();
        let ids: Vec<_> = mlp.params().into_iter().map(|(_, p)| p.id()).collect();
        assert_eq!(ids.len(), 10);
        assert_eq!(mlp.param_refs_mut().into_iter().map(|p| p.id()).collect::<Vec<_>>(), ids);
    }

    #[test]
    fn the_same_seed_builds_the_same_mlp() {
        let build = || {
            let mut rng = StdRng::seed_from_u64(42);
            Mlp::<f32>::new(&[5, 7, 2], Activation::Relu, Activation::Identity, &mut rng).unwrap()
        };
        let (a, b) = (build(), build());
        for ((_, p), (_, q)) in a.params().into_iter().zip(b.params()) {
            assert_eq!(p.value(), q.value());
        }
    }
    #[test]
    fn set_train_reaches_dropout_and_batch_norm_inside_an_mlp() {
        let cfg = MlpConfig { sizes: vec![4, 16, 3], dropout: 0.5, batch_norm: true, ..Default::default() };
        let mut mlp = Mlp::<f64>::from_config(cfg, &mut StdRng::seed_from_u64(3)).unwrap();
        let x = Tensor::randn([8, 4], 0.0, 1.0, &mut StdRng::seed_from_u64(4)).unwrap();
        let stats = mlp.buffers();
        assert_ne!(mlp.predict(&x).unwrap(), mlp.predict(&x).unwrap(), "training mode: fresh dropout masks");
        assert_ne!(mlp.buffers(), stats, "training mode: running statistics move");
        mlp.set_train(false);
        let stats = mlp.buffers();
        assert_eq!(mlp.predict(&x).unwrap(), mlp.predict(&x).unwrap(), "eval mode is deterministic");
        assert_eq!(mlp.buffers(), stats, "eval mode leaves running statistics alone");
        // Eval mode handles one row at a time and gives the same answer as in a batch.
        let row = Tensor::from_slice(&x.data()[..4], [1, 4]).unwrap();
        let batch = mlp.predict(&x).unwrap();
        let single = mlp.predict(&row).unwrap();
        for (a, b) in single.data().iter().zip(&batch.data()[..3]) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
    }
}
