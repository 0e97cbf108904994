//! The module abstraction: a forward pass on a tape and named, ordered parameters.

use crate::error::Result;
use tapegrad::{Float, Param, Tape, Tensor, Var};

/// A layer or a network: `forward` records on a tape; parameters persist across tapes.
///
/// Parameter names are dotted paths in a stable order (`layers.0.weight`, `layers.0.bias`, ...), the names
/// model files use.
///
/// Every module is `Send + Sync`: a trained network can be shared (`&M` or `Arc<M>`) by threads that each
/// predict on their own tape. Layers with state that `forward` changes (dropout's RNG, batch norm's running
/// statistics) keep it behind a `Mutex`.
pub trait Module<T: Float>: Send + Sync {
    /// Records the forward pass of `x` on `tape`.
    ///
    /// # Errors
    /// [`crate::Error::Layer`] naming the layer and both shapes when `x` has the wrong width; engine errors.
    fn forward<'t>(&self, tape: &'t Tape<T>, x: Var<'t, T>) -> Result<Var<'t, T>>;

    /// The parameters with their names, in a stable order.
    fn params(&self) -> Vec<(String, &Param<T>)>;

    /// The parameters with their names, mutable, in the same order as [`Module::params`].
    fn params_mut(&mut self) -> Vec<(String, &mut Param<T>)>;

    /// Switches between training mode (dropout active, batch statistics) and evaluation mode.
    fn set_train(&mut self, _train: bool) {}

    /// A short description of the layer for [`crate::Sequential::summary`] (`Linear 128 -> 64`, `relu`,
    /// `Conv2d 1 -> 16, 3x3, ...`); `Module` when a layer does not say.
    fn layer_name(&self) -> String {
        "Module".into()
    }

    /// Number of scalar parameters.
    fn num_params(&self) -> usize {
        self.params().iter().map(|(_, p)| p.value().numel()).sum()
    }

    /// The parameters without their names, mutable, in the order of [`Module::params`]: what
    /// [`crate::Optimizer::step`] takes.
    ///
    /// ```
    /// use tapegrad_nn::{layers::Linear, Module};
    /// use rand::SeedableRng;
    /// let mut layer = Linear::<f32>::new(3, 2, &mut rand::rngs::StdRng::seed_from_u64(0)).unwrap();
    /// assert_eq!(layer.param_refs_mut().len(), 2);
    /// ```
    fn param_refs_mut(&mut self) -> Vec<&mut Param<T>> {
        self.params_mut().into_iter().map(|(_, p)| p).collect()
    }

    /// Runs the forward pass on a fresh tape in no-grad mode and returns the output tensor (inference).
    /// Uses the current mode: call `set_train(false)` first for dropout and batch-norm layers.
    ///
    /// # Errors
    /// As [`Module::forward`].
    fn predict(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        let tape = Tape::new();
        tape.no_grad(|| self.forward(&tape, tape.input(x.clone())).map(|y| y.value()))
    }

    /// Non-trainable state saved with the model (batch norm's running statistics), with dotted names.
    fn buffers(&self) -> Vec<(String, Tensor<T>)> {
        Vec::new()
    }

    /// Replaces the buffer `name` (one of [`Module::buffers`]) with `value`.
    ///
    /// # Errors
    /// [`crate::Error::Layer`] when there is no such buffer or the shape differs.
    fn set_buffer(&mut self, name: &str, value: Tensor<T>) -> Result<()> {
        Err(crate::Error::Layer {
            layer: "module".into(),
            msg: format!("no buffer named {name:?} (got a tensor of shape {})", value.shape()),
        })
    }
}

/// A boxed module is a module, so layers chosen at run time (`Box<dyn Module<T>>`, `Send + Sync` like every
/// module) fit anywhere a module does.
impl<T: Float, M: Module<T> + ?Sized> Module<T> for Box<M> {
    fn forward<'t>(&self, tape: &'t Tape<T>, x: Var<'t, T>) -> Result<Var<'t, T>> {
        (**self).forward(tape, x)
    }
    fn params(&self) -> Vec<(String, &Param<T>)> {
        (**self).params()
    }
    fn params_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        (**self).params_mut()
    }
    fn set_train(&mut self, train: bool) {
        (**self).set_train(train)
    }
    fn layer_name(&self) -> String {
        (**self).layer_name()
    }
    fn param_refs_mut(&mut self) -> Vec<&mut Param<T>> {
        (**self).param_refs_mut()
    }
    fn predict(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        (**self).predict(x)
    }
    fn buffers(&self) -> Vec<(String, Tensor<T>)> {
        (**self).buffers()
    }
    fn set_buffer(&mut self, name: &str, value: Tensor<T>) -> Result<()> {
        (**self).set_buffer(name, value)
    }
}

/// A table of a module's parameters: name, shape and number of values per row, then the total (and the
/// buffers' size when there are any), like Keras's `model.summary()`.
///
/// ```
/// use rand::SeedableRng;
/// use tapegrad_nn::{module::summary, Activation, Mlp};
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let mlp = Mlp::<f32>::new(&[4, 3, 2], Activation::Relu, Activation::Identity, &mut rng).unwrap();
/// assert_eq!(summary(&mlp), "\
/// parameter        shape   count
/// layers.0.weight  [3, 4]     12
/// layers.0.bias    [3]         3
/// layers.2.weight  [2, 3]      6
/// layers.2.bias    [2]         2
/// total                       23
/// ");
/// ```
pub fn summary<T: Float, M: Module<T> + ?Sized>(module: &M) -> String {
    let rows: Vec<(String, String, usize)> =
        module.params().into_iter().map(|(n, p)| (n, p.value().shape().to_string(), p.value().numel())).collect();
    let total: usize = rows.iter().map(|r| r.2).sum();
    let buffers: usize = module.buffers().iter().map(|(_, b)| b.numel()).sum();
    let name_w = rows.iter().map(|r| r.0.len()).chain(["parameter".len()]).max().unwrap_or(0);
    let shape_w = rows.iter().map(|r| r.1.len()).chain(["shape".len()]).max().unwrap_or(0);
    let count_w = total.to_string().len().max("count".len());
    let mut out = format!("{:name_w$}  {:shape_w$}  {:>count_w$}\n", "parameter", "shape", "count");
    for (n, shape, c) in &rows {
        out += &format!("{n:name_w$}  {shape:shape_w$}  {c:>count_w$}\n");
    }
    out += &format!("{:name_w$}  {:shape_w$}  {total:>count_w$}\n", "total", "");
    if buffers > 0 {
        out += &format!("{:name_w$}  {:shape_w$}  {buffers:>count_w$}\n", "buffers", "");
    }
    out
}

/// Checks a module's gradients against central finite differences in `f64`: every element of every
/// parameter, then of the input `x`. It is [`tapegrad::check_gradients`] with the parameters' values and the
/// input as the function's inputs (each parameter bound to its leaf with [`tapegrad::Tape::bind_param`], so the
/// module itself is never changed): the output projected to a scalar with fixed random weights from
/// `cfg.seed` (never a plain sum), `cfg`'s tolerances.
///
/// The module must be deterministic in its current mode (put dropout in eval mode first).
///
/// ```
/// use rand::SeedableRng;
/// use tapegrad::{GradCheckConfig, Tensor};
/// use tapegrad_nn::{check_module_gradients, layers::{Activation, Mlp}};
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let mut mlp = Mlp::<f64>::new(&[3, 4, 2], Activation::Tanh, Activation::Identity, &mut rng).unwrap();
/// let x = Tensor::randn([5, 3], 0.0, 1.0, &mut rng).unwrap();
/// check_module_gradients(&mut mlp, &x, GradCheckConfig::default()).unwrap();
/// ```
///
/// # Errors
/// [`crate::Error::Layer`] naming the parameter (or `input`), the element, both values and the tolerance;
/// errors of the forward pass.
pub fn check_module_gradients<M: Module<f64> + ?Sized>(
    module: &mut M,
    x: &Tensor<f64>,
    cfg: tapegrad::GradCheckConfig,
) -> Result<()> {
    let module: &M = module;
    let names: Vec<String> = module.params().into_iter().map(|(n, _)| n).collect();
    let mut inputs: Vec<Tensor<f64>> = module.params().iter().map(|(_, p)| p.value().clone()).collect();
    inputs.push(x.clone());
    let n = names.len();
    // Every parameter and the input are inputs of one function: each parameter is bound to its leaf, so the
    // forward pass reads the value the check perturbs, and the module's own parameters are never changed.
    // an error of the forward pass that is not the engine's is kept here and returned as it is
    let failure = std::cell::RefCell::new(None);
    let f = tapegrad::tape_fn(|tape, v| {
        for ((_, p), &leaf) in module.params().into_iter().zip(v) {
            tape.bind_param(p, leaf)?;
        }
        module.forward(tape, v[n]).map_err(|e| match e {
            crate::Error::Engine(e) => e,
            other => {
                let msg = other.to_string();
                failure.replace(Some(other));
                tapegrad::Error::InvalidArgument { op: "check_module_gradients", msg }
            }
        })
    });
    let checked = tapegrad::check_gradients(f, &inputs, cfg);
    if let Some(e) = failure.into_inner() {
        return Err(e);
    }
    checked.map_err(|e| match e {
        tapegrad::Error::GradientMismatch { input, element, analytic, numeric, atol, rtol } => {
            let name = names.get(input).map_or("input", String::as_str);
            crate::Error::Layer {
                layer: "gradient check".into(),
                msg: format!(
                    "{name} element {element}: analytic {analytic:.6e} vs numeric {numeric:.6e} (atol {atol:e}, rtol {rtol:e})"
                ),
            }
        }
        e => e.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::{Module, summary};
    use crate::layers::{Activation, Mlp, MlpConfig};
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use tapegrad::Tensor;

    #[test]
    fn summary_counts_buffers_separately_from_parameters() {
        let cfg = MlpConfig { sizes: vec![2, 3, 1], batch_norm: true, ..Default::default() };
        let mlp = Mlp::<f32>::from_config(cfg, &mut StdRng::seed_from_u64(0)).unwrap();
        let text = summary(&mlp);
        assert!(text.contains("layers.1.weight  [3]         3\n"), "{text}");
        assert!(text.ends_with("total                       19\nbuffers                      6\n"), "{text}");
        assert_eq!(mlp.num_params(), 19);
    }

    #[test]
    fn a_boxed_module_behaves_like_the_module_inside() {
        let mlp = Mlp::<f64>::new(&[3, 4, 2], Activation::Tanh, Activation::Identity, &mut StdRng::seed_from_u64(0));
        let mlp = mlp.unwrap();
        let x = Tensor::ones([2, 3]).unwrap();
        let expect = mlp.predict(&x).unwrap();
        let mut boxed: Box<dyn Module<f64> + Send> = Box::new(mlp);
        assert_eq!(boxed.predict(&x).unwrap(), expect);
        assert_eq!(boxed.param_refs_mut().len(), 4);
        let net = crate::layers::Sequential::new().with(boxed).with(Activation::Relu);
        assert_eq!(net.params()[0].0, "layers.0.layers.0.weight");
        assert_eq!(net.predict(&x).unwrap(), expect.map(|v| v.max(0.0)));
    }

    #[test]
    fn a_model_can_move_to_another_thread() {
        let cfg = MlpConfig { sizes: vec![3, 4, 2], dropout: 0.5, batch_norm: true, ..Default::default() };
        let mut mlp = Mlp::<f32>::from_config(cfg, &mut StdRng::seed_from_u64(0)).unwrap();
        mlp.set_train(false);
        let x = Tensor::ones([2, 3]).unwrap();
        let here = mlp.predict(&x).unwrap();
        let there = std::thread::spawn(move || mlp.predict(&x).unwrap()).join().unwrap();
        assert_eq!(here, there);
    }
}
