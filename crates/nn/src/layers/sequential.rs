//! A chain of modules applied in order.

use crate::error::{Error, Result};
use crate::module::Module;
use tapegrad::{Float, Param, Tape, Tensor, Var};

/// Modules applied one after another. Parameter names are `layers.{i}.{name}` (`layers.0.weight`,
/// `layers.0.bias`, `layers.2.weight`, ...), counting parameter-free layers too, as PyTorch's
/// `self.layers = nn.Sequential(...)` names them. A layer error is prefixed with its position:
/// `layers.2 (Linear 128 -> 64): ...`.
///
/// ```
/// use rand::SeedableRng;
/// use tapegrad_nn::layers::{Activation, Linear, Sequential};
/// use tapegrad_nn::Module;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let net = Sequential::<f32>::new()
///     .with(Linear::new(4, 8, &mut rng).unwrap())
///     .with(Activation::Tanh)
///     .with(Linear::new(8, 1, &mut rng).unwrap());
/// let names: Vec<String> = net.params().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]);
/// // Each parameter carries its path as its name (graph pictures print it: `Tape::to_dot`).
/// assert!(net.params().iter().all(|(n, p)| p.name() == Some(n.as_str())));
/// ```
#[derive(Default)]
pub struct Sequential<T: Float> {
    layers: Vec<Box<dyn Module<T>>>,
}

impl<T: Float> Sequential<T> {
    /// An empty chain (the identity).
    pub fn new() -> Self {
        Sequential { layers: Vec::new() }
    }

    /// Appends a layer (builder style).
    pub fn with(mut self, layer: impl Module<T> + 'static) -> Self {
        self.push(layer);
        self
    }

    /// Appends a layer, naming its parameters with their paths in this chain (`layers.{i}.{name}`, the
    /// names [`Module::params`] lists; see [`Param::name`]).
    pub fn push(&mut self, mut layer: impl Module<T> + 'static) {
        let i = self.layers.len();
        for (name, p) in layer.params_mut() {
            p.set_name(format!("layers.{i}.{name}"));
        }
        self.layers.push(Box::new(layer));
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there is no layer.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// Records the forward pass and returns every layer's output, in order (the last is
    /// [`Module::forward`]'s result; an empty chain gives an empty list). For looking inside a network:
    /// hidden activations, or per-layer gradients with [`Var::retain_grad`].
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use tapegrad::{Tape, Tensor};
    /// use tapegrad_nn::layers::{Activation, Linear, Sequential};
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    /// let net = Sequential::<f64>::new().with(Linear::new(2, 3, &mut rng).unwrap()).with(Activation::Relu);
    /// let tape = Tape::new();
    /// let outs = net.forward_layers(&tape, tape.input(Tensor::ones([4, 2]).unwrap())).unwrap();
    /// assert_eq!(outs.len(), 2);
    /// assert!(outs[1].value().data().iter().all(|&v| v >= 0.0));
    /// ```
    ///
    /// # Errors
    /// As [`Module::forward`].
    pub fn forward_layers<'t>(&self, tape: &'t Tape<T>, x: Var<'t, T>) -> Result<Vec<Var<'t, T>>> {
        let mut outs: Vec<Var<'t, T>> = Vec::with_capacity(self.layers.len());
        for (i, layer) in self.layers.iter().enumerate() {
            let h = outs.last().copied().unwrap_or(x);
            outs.push(layer.forward(tape, h).map_err(|e| at_position(i, e))?);
        }
        Ok(outs)
    }

    /// A table of the layers, like Keras' `model.summary()`: each layer's position, description, output
    /// shape (batch axis shown as `N`) and number of parameters, then the total. The shapes come from a
    /// forward pass of one zero sample of shape `input` (without the batch axis) on a no-grad tape.
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use tapegrad::Padding;
    /// use tapegrad_nn::layers::{Activation, Conv2d, Flatten, Linear, MaxPool2d, Sequential};
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    /// let cnn = Sequential::<f32>::new()
    ///     .with(Conv2d::new(1, 4, (3, 3), &mut rng).unwrap().padding(Padding::Same))
    ///     .with(Activation::Relu)
    ///     .with(MaxPool2d::new((2, 2)))
    ///     .with(Flatten::new())
    ///     .with(Linear::new(64, 10, &mut rng).unwrap());
    /// assert_eq!(cnn.summary(&[1, 8, 8]).unwrap(), "\
    /// layer     type                                     output shape  params
    /// input                                              [N, 1, 8, 8]
    /// layers.0  Conv2d 1 -> 4, 3x3, stride (1, 1), Same  [N, 4, 8, 8]      40
    /// layers.1  relu                                     [N, 4, 8, 8]       0
    /// layers.2  MaxPool2d 2x2, stride (2, 2), Valid      [N, 4, 4, 4]       0
    /// layers.3  Flatten                                  [N, 64]            0
    /// layers.4  Linear 64 -> 10                          [N, 10]          650
    /// total                                                               690
    /// ");
    /// ```
    ///
    /// # Errors
    /// As [`Module::forward`], when a layer does not accept the previous layer's output.
    pub fn summary(&self, input: &[usize]) -> Result<String> {
        let tape = Tape::new();
        let mut dims = vec![1];
        dims.extend_from_slice(input);
        let x = tape.input(Tensor::zeros(dims.as_slice())?);
        let outs = tape.no_grad(|| self.forward_layers(&tape, x))?;
        let batched = |d: &[usize]| {
            let rest: Vec<String> = d.iter().skip(1).map(|v| v.to_string()).collect();
            format!("[{}]", std::iter::once("N".to_string()).chain(rest).collect::<Vec<_>>().join(", "))
        };
        let mut rows = vec![("input".to_string(), String::new(), batched(&dims), String::new())];
        for (i, (layer, out)) in self.layers.iter().zip(&outs).enumerate() {
            let shape = batched(out.shape().dims());
            rows.push((format!("layers.{i}"), layer.layer_name(), shape, layer.num_params().to_string()));
        }
        let total = self.num_params().to_string();
        let header = ("layer".to_string(), "type".to_string(), "output shape".to_string(), "params".to_string());
        let w0 = rows.iter().map(|r| r.0.len()).chain([header.0.len(), "total".len()]).max().unwrap_or(0);
        let w1 = rows.iter().map(|r| r.1.len()).chain([header.1.len()]).max().unwrap_or(0);
        let w2 = rows.iter().map(|r| r.2.len()).chain([header.2.len()]).max().unwrap_or(0);
        let w3 = rows.iter().map(|r| r.3.len()).chain([header.3.len(), total.len()]).max().unwrap_or(0);
        let mut out = String::new();
        for (a, b, c, d) in std::iter::once(&header).chain(&rows) {
            out += format!("{a:w0$}  {b:w1$}  {c:w2$}  {d:>w3$}").trim_end();
            out.push('\n');
        }
        out += &format!("{:w0$}  {:w1$}  {:w2$}  {total:>w3$}\n", "total", "", "");
        Ok(out)
    }

    /// The layer at position `i`.
    pub fn layer(&self, i: usize) -> Option<&dyn Module<T>> {
        self.layers.get(i).map(|l| l.as_ref())
    }
}

impl<T: Float> std::fmt::Debug for Sequential<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sequential").field("layers", &self.layers.len()).finish()
    }
}

/// Prefixes a layer error with the layer's position.
fn at_position(i: usize, e: Error) -> Error {
    match e {
        Error::Layer { layer, msg } => Error::Layer { layer: format!("layers.{i} ({layer})"), msg },
        other => other,
    }
}

/// Splits `layers.{i}.{rest}` into `(i, rest)`.
fn split_name(name: &str) -> Option<(usize, &str)> {
    let rest = name.strip_prefix("layers.")?;
    let (i, rest) = rest.split_once('.')?;
    Some((i.parse().ok()?, rest))
}

impl<T: Float> Module<T> for Sequential<T> {
    fn forward<'t>(&self, tape: &'t Tape<T>, x: Var<'t, T>) -> Result<Var<'t, T>> {
        let mut h = x;
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(tape, h).map_err(|e| at_position(i, e))?;
        }
        Ok(h)
    }

    fn params(&self) -> Vec<(String, &Param<T>)> {
        let mut out = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            out.extend(layer.params().into_iter().map(|(n, p)| (format!("layers.{i}.{n}"), p)));
        }
        out
    }

    fn params_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        let mut out = Vec::new();
        for (i, layer) in self.layers.iter_mut().enumerate() {
            out.extend(layer.params_mut().into_iter().map(|(n, p)| (format!("layers.{i}.{n}"), p)));
        }
        out
    }

    fn layer_name(&self) -> String {
        format!("Sequential of {}", self.layers.len())
    }

    fn param_refs_mut(&mut self) -> Vec<&mut Param<T>> {
        self.layers.iter_mut().flat_map(|l| l.param_refs_mut()).collect()
    }

    fn set_train(&mut self, train: bool) {
        for layer in &mut self.layers {
            layer.set_train(train);
        }
    }

    fn buffers(&self) -> Vec<(String, Tensor<T>)> {
        let mut out = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            out.extend(layer.buffers().into_iter().map(|(n, b)| (format!("layers.{i}.{n}"), b)));
        }
        out
    }

    fn set_buffer(&mut self, name: &str, value: Tensor<T>) -> Result<()> {
        let unknown = || Error::Layer { layer: "Sequential".into(), msg: format!("no buffer named {name:?}") };
        let (i, rest) = split_name(name).ok_or_else(unknown)?;
        let layer = self.layers.get_mut(i).ok_or_else(unknown)?;
        layer.set_buffer(rest, value).map_err(|e| at_position(i, e))
    }
}

#[cfg(test)]
mod tests {
    use super::Sequential;
    use crate::layers::{Activation, Linear};
    use crate::{Error, Module};
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use tapegrad::{Tape, Tensor};

    #[test]
    fn sequential_applies_layers_in_order() {
        let w1 = Tensor::from_vec(vec![1.0, -1.0], [2, 1]).unwrap();
        let w2 = Tensor::from_vec(vec![2.0, 3.0], [1, 2]).unwrap();
        let net = Sequential::<f64>::new()
            .with(Linear::from_tensors(w1, None).unwrap())
            .with(Activation::Relu)
            .with(Linear::from_tensors(w2, Some(Tensor::from_vec(vec![0.5], [1]).unwrap())).unwrap());
        // x = 2: hidden relu([2, -2]) = [2, 0]; output 2*2 + 3*0 + 0.5.
        let y = net.predict(&Tensor::from_vec(vec![2.0], [1, 1]).unwrap()).unwrap();
        assert_eq!(y.to_vec(), vec![4.5]);
    }

    #[test]
    fn sequential_prefixes_layer_errors_with_their_position() {
        let mut rng = StdRng::seed_from_u64(0);
        let net = Sequential::<f32>::new()
            .with(Linear::new(4, 3, &mut rng).unwrap())
            .with(Activation::Relu)
            .with(Linear::new(5, 2, &mut rng).unwrap());
        let tape = Tape::new();
        let err = net.forward(&tape, tape.input(Tensor::zeros([2, 4]).unwrap())).unwrap_err();
        assert!(matches!(err, Error::Layer { .. }));
        assert_eq!(
            err.to_string(),
            "layers.2 (Linear 5 -> 2): input [2, 3] does not fit weight [2, 5]; expected [n, 5]"
        );
    }

    #[test]
    fn an_empty_sequential_is_the_identity() {
        let net = Sequential::<f32>::new();
        let x = Tensor::from_vec(vec![1.0, 2.0], [1, 2]).unwrap();
        assert_eq!(net.predict(&x).unwrap(), x);
        assert!(net.is_empty());
    }
}
