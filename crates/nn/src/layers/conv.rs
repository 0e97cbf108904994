//! Convolutional layers on `[N, C, H, W]` inputs: [`Conv2d`] (shared weights) and [`LocallyConnected2d`]
//! (the same wiring without sharing: one weight per output position).

use crate::error::{Error, Result};
use crate::init::Init;
use crate::module::Module;
use rand::Rng;
use tapegrad::{Float, Padding, Param, Shape, Tape, Tensor, Var, Window2d};

/// Options of a [`Conv2d`] or [`LocallyConnected2d`] layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conv2dConfig {
    /// Vertical and horizontal stride (default `(1, 1)`).
    pub stride: (usize, usize),
    /// Padding (default [`Padding::Valid`], as PyTorch's `padding=0`).
    pub padding: Padding,
    /// Whether the layer adds a bias (default true).
    pub bias: bool,
    /// Initialisation of the weight (default He normal with fan-in `C kh kw`, for a relu after it).
    pub init: Init,
    /// Initialisation of the bias (default zeros).
    pub bias_init: Init,
}

impl Default for Conv2dConfig {
    fn default() -> Self {
        Conv2dConfig {
            stride: (1, 1),
            padding: Padding::Valid,
            bias: true,
            init: Init::HeNormal,
            bias_init: Init::Zeros,
        }
    }
}

fn check_sizes(what: &'static str, sizes: &[usize]) -> Result<()> {
    if sizes.contains(&0) {
        return Err(Error::Config { what, msg: format!("channels and kernel must be positive (got {sizes:?})") });
    }
    Ok(())
}

/// A 2-D convolution layer: input `[N, C, H, W]`, weight `[O, C, kh, kw]`, bias `[O]`, output
/// `[N, O, oh, ow]` with `o = floor((i + p - k) / s) + 1` per axis, computed by the engine's
/// [`Var::conv2d`]. Parameters are named `weight` and `bias` with PyTorch's layout, so a `torch.nn.Conv2d`
/// state dict loads as is.
///
/// A CNN is a [`crate::Sequential`] of convolution, nonlinearity and pooling blocks, then fully connected
/// layers:
///
/// ```
/// use rand::SeedableRng;
/// use tapegrad::{Padding, Tensor};
/// use tapegrad_nn::layers::{Activation, Conv2d, Flatten, Linear, MaxPool2d, Sequential};
/// use tapegrad_nn::Module;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let cnn = Sequential::<f32>::new()
///     .with(Conv2d::new(1, 16, (3, 3), &mut rng).unwrap().padding(Padding::Same)) // [N, 16, 8, 8]
///     .with(Activation::Relu)
///     .with(MaxPool2d::new((2, 2))) // [N, 16, 4, 4]
///     .with(Conv2d::new(16, 32, (3, 3), &mut rng).unwrap().padding(Padding::Same)) // [N, 32, 4, 4]
///     .with(Activation::Relu)
///     .with(MaxPool2d::new((2, 2))) // [N, 32, 2, 2]
///     .with(Flatten::new()) // [N, 128]
///     .with(Linear::new(128, 10, &mut rng).unwrap());
/// let y = cnn.predict(&Tensor::zeros([5, 1, 8, 8]).unwrap()).unwrap();
/// assert_eq!(y.dims(), &[5, 10]);
/// assert_eq!(cnn.params()[0].0, "layers.0.weight");
/// assert_eq!(cnn.params()[0].1.value().dims(), &[16, 1, 3, 3]);
/// println!("{}", cnn.summary(&[1, 8, 8]).unwrap());
/// ```
#[derive(Debug, Clone)]
pub struct Conv2d<T: Float> {
    weight: Param<T>,
    bias: Option<Param<T>>,
    stride: (usize, usize),
    padding: Padding,
}

impl<T: Float> Conv2d<T> {
    /// `in_channels -> out_channels` with a `kernel = (kh, kw)` kernel, stride 1, no padding, He-normal
    /// weight and zero bias. Change stride and padding with [`Conv2d::stride`] and [`Conv2d::padding`].
    ///
    /// # Errors
    /// [`Error::Config`] when a size is zero.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: (usize, usize),
        rng: &mut (impl Rng + ?Sized),
    ) -> Result<Self> {
        Self::with_config(in_channels, out_channels, kernel, Conv2dConfig::default(), rng)
    }

    /// A layer with explicit options.
    ///
    /// # Errors
    /// [`Error::Config`] when a size is zero or the initialisation is invalid.
    pub fn with_config(
        in_channels: usize,
        out_channels: usize,
        kernel: (usize, usize),
        cfg: Conv2dConfig,
        rng: &mut (impl Rng + ?Sized),
    ) -> Result<Self> {
        check_sizes("Conv2d", &[in_channels, out_channels, kernel.0, kernel.1])?;
        // fans([O, C, kh, kw]) = (C kh kw, O kh kw): He's fan-in is the receptive field of one output.
        let weight = Param::with_name(cfg.init.tensor([out_channels, in_channels, kernel.0, kernel.1], rng)?, "weight");
        let bias =
            if cfg.bias { Some(Param::with_name(cfg.bias_init.tensor([out_channels], rng)?, "bias")) } else { None };
        Ok(Conv2d { weight, bias, stride: cfg.stride, padding: cfg.padding })
    }

    /// A layer from given values: weight `[O, C, kh, kw]`, optional bias `[O]`, stride 1, no padding.
    ///
    /// # Errors
    /// [`Error::Config`] when the weight is not a non-empty 4-D tensor or the bias is not `[O]`.
    pub fn from_tensors(weight: Tensor<T>, bias: Option<Tensor<T>>) -> Result<Self> {
        let bad = |msg: String| Error::Config { what: "Conv2d", msg };
        let &[o, ..] = weight.dims() else {
            return Err(bad(format!("weight must be [O, C, kh, kw], got {}", weight.shape())));
        };
        if weight.rank() != 4 || weight.numel() == 0 {
            return Err(bad(format!("weight must be a non-empty [O, C, kh, kw], got {}", weight.shape())));
        }
        if let Some(b) = &bias
            && b.dims() != [o]
        {
            return Err(bad(format!("bias must be [{o}] for weight {}, got {}", weight.shape(), b.shape())));
        }
        Ok(Conv2d {
            weight: Param::with_name(weight, "weight"),
            bias: bias.map(|b| Param::with_name(b, "bias")),
            stride: (1, 1),
            padding: Padding::Valid,
        })
    }

    /// The same layer with another stride (builder style).
    pub fn stride(mut self, stride: (usize, usize)) -> Self {
        self.stride = stride;
        self
    }

    /// The same layer with another padding (builder style).
    pub fn padding(mut self, padding: Padding) -> Self {
        self.padding = padding;
        self
    }

    /// The weight `[O, C, kh, kw]`.
    pub fn weight(&self) -> &Param<T> {
        &self.weight
    }

    /// The bias `[O]`, if the layer has one.
    pub fn bias(&self) -> Option<&Param<T>> {
        self.bias.as_ref()
    }

    fn dims(&self) -> [usize; 4] {
        let d = self.weight.value().dims();
        [d[0], d[1], d[2], d[3]]
    }

    fn describe(&self) -> String {
        let [o, c, kh, kw] = self.dims();
        format!("Conv2d {c} -> {o}, {kh}x{kw}, stride {:?}, {:?}", self.stride, self.padding)
    }
}

/// Checks the channel count of a `[N, C, H, W]` input against a layer expecting `c`.
fn check_input(layer: String, x: &Shape, c: usize) -> Result<()> {
    match x.dims() {
        &[_, xc, _, _] if xc == c => Ok(()),
        _ => Err(Error::Layer { layer, msg: format!("input {x} does not fit; expected [N, {c}, H, W]") }),
    }
}

fn named<P>(weight: P, bias: Option<P>) -> Vec<(String, P)> {
    let mut out = vec![("weight".to_string(), weight)];
    out.extend(bias.map(|b| ("bias".to_string(), b)));
    out
}

impl<T: Float> Module<T> for Conv2d<T> {
    fn forward<'t>(&self, tape: &'t Tape<T>, x: Var<'t, T>) -> Result<Var<'t, T>> {
        check_input(self.describe(), &x.shape(), self.dims()[1])?;
        let w = tape.param(&self.weight);
        let b = self.bias.as_ref().map(|b| tape.param(b));
        x.conv2d(w, b, self.stride, self.padding)
            .map_err(|e| Error::Layer { layer: self.describe(), msg: e.to_string() })
    }

    fn params(&self) -> Vec<(String, &Param<T>)> {
        named(&self.weight, self.bias.as_ref())
    }

    fn params_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        named(&mut self.weight, self.bias.as_mut())
    }

    fn layer_name(&self) -> String {
        self.describe()
    }
}

/// The lecture's locally connected layer: the wiring of a convolution (each output looks at a
/// `kh x kw` window of every input channel) without weight sharing, so every output position has its own
/// kernel. The input size is fixed at construction.
///
/// Parameters (there is no PyTorch layer to copy; this layout keeps PyTorch's channel-first order):
/// - `weight` `[oh, ow, O, C, kh, kw]`: `weight[y, x]` is the `[O, C, kh, kw]` kernel of output position
///   `(y, x)`, laid out as a [`Conv2d`] weight;
/// - `bias` `[O, oh, ow]`: one bias per output element.
///
/// The weight is He normal with fan-in `C kh kw` by default, as for [`Conv2d`]. It computes, for every
/// position, a product of its `[O, C kh kw]` kernel with the unfolded patch: one batched GEMM over positions.
///
/// ```
/// use rand::SeedableRng;
/// use tapegrad::Tensor;
/// use tapegrad_nn::layers::{Conv2dConfig, LocallyConnected2d};
/// use tapegrad_nn::Module;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let lc = LocallyConnected2d::<f32>::new(1, 4, (8, 8), (3, 3), Conv2dConfig::default(), &mut rng).unwrap();
/// assert_eq!(lc.params()[0].1.value().dims(), &[6, 6, 4, 1, 3, 3]);
/// assert_eq!(lc.predict(&Tensor::zeros([2, 1, 8, 8]).unwrap()).unwrap().dims(), &[2, 4, 6, 6]);
/// ```
#[derive(Debug, Clone)]
pub struct LocallyConnected2d<T: Float> {
    weight: Param<T>,
    bias: Option<Param<T>>,
    input: (usize, usize),
    win: Window2d,
}

impl<T: Float> LocallyConnected2d<T> {
    /// `in_channels -> out_channels` over an `input = (H, W)` image with `kernel = (kh, kw)` windows; stride,
    /// padding, bias and initialisation from `cfg`.
    ///
    /// # Errors
    /// [`Error::Config`] when a size is zero or the kernel does not fit the padded input.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        input: (usize, usize),
        kernel: (usize, usize),
        cfg: Conv2dConfig,
        rng: &mut (impl Rng + ?Sized),
    ) -> Result<Self> {
        check_sizes("LocallyConnected2d", &[in_channels, out_channels, kernel.0, kernel.1])?;
        let win = Window2d::new(kernel, cfg.stride, cfg.padding);
        let d = win
            .check("LocallyConnected2d", &Shape::new(&[1, in_channels, input.0, input.1]))
            .map_err(|e| Error::Config { what: "LocallyConnected2d", msg: e.to_string() })?;
        let (l, ck) = (d.oh * d.ow, in_channels * kernel.0 * kernel.1);
        // Drawn as [L O, C kh kw] so that every scheme sees fan-in C kh kw, then given its 6-D layout.
        let w = cfg.init.tensor::<T>([l * out_channels, ck], rng)?;
        let w = w.reshape([d.oh, d.ow, out_channels, in_channels, kernel.0, kernel.1])?;
        let bias = if cfg.bias {
            Some(Param::with_name(cfg.bias_init.tensor([out_channels, d.oh, d.ow], rng)?, "bias"))
        } else {
            None
        };
        Ok(LocallyConnected2d { weight: Param::with_name(w, "weight"), bias, input, win })
    }

    /// The weight `[oh, ow, O, C, kh, kw]`.
    pub fn weight(&self) -> &Param<T> {
        &self.weight
    }

    /// The bias `[O, oh, ow]`, if the layer has one.
    pub fn bias(&self) -> Option<&Param<T>> {
        self.bias.as_ref()
    }

    fn describe(&self) -> String {
        let d = self.weight.value().dims();
        format!("LocallyConnected2d {} -> {}, {}x{} on {}x{}", d[3], d[2], d[4], d[5], self.input.0, self.input.1)
    }
}

impl<T: Float> Module<T> for LocallyConnected2d<T> {
    fn forward<'t>(&self, tape: &'t Tape<T>, x: Var<'t, T>) -> Result<Var<'t, T>> {
        let wd = self.weight.value().dims().to_vec();
        let (oh, ow, o, c) = (wd[0], wd[1], wd[2], wd[3]);
        let s = x.shape();
        if s.rank() != 4 || s.dims()[1..] != [c, self.input.0, self.input.1] {
            return Err(Error::Layer {
                layer: self.describe(),
                msg: format!("input {s} does not fit; expected [N, {c}, {}, {}]", self.input.0, self.input.1),
            });
        }
        let n = s.dims()[0];
        let (l, ck) = (oh * ow, c * wd[4] * wd[5]);
        // patches [N, C kh kw, L] -> [L, C kh kw, N]; per position: [O, C kh kw] · [C kh kw, N] -> [L, O, N].
        let cols = x.unfold(self.win)?.permute(&[2, 1, 0])?;
        let w = tape.param(&self.weight).reshape([l, o, ck])?;
        let y = w.matmul(cols)?.permute(&[2, 1, 0])?.reshape([n, o, oh, ow])?;
        Ok(match &self.bias {
            Some(b) => y.add(tape.param(b))?,
            None => y,
        })
    }

    fn params(&self) -> Vec<(String, &Param<T>)> {
        named(&self.weight, self.bias.as_ref())
    }

    fn params_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        named(&mut self.weight, self.bias.as_mut())
    }

    fn layer_name(&self) -> String {
        self.describe()
    }
}

#[cfg(test)]
#[path = "conv_tests.rs"]
mod tests;
