//! Parameter-free layers for CNNs: [`MaxPool2d`], [`AvgPool2d`] (the lecture's subsampling),
//! [`Flatten`] and its inverse [`Unflatten`].

use crate::error::{Error, Result};
use crate::module::Module;
use tapegrad::{Float, Padding, Param, Tape, Var};

/// Max pooling (max-subsampling) over `[N, C, H, W]`: a convolution-like window with "+" replaced by "max",
/// by the engine's [`Var::max_pool2d`]. The stride defaults to the kernel (non-overlapping windows, as in
/// PyTorch); padding counts as minus infinity.
///
/// ```
/// use tapegrad::Tensor;
/// use tapegrad_nn::{layers::MaxPool2d, Module};
/// let x = Tensor::<f32>::from_vec((0..16).map(|v| v as f32).collect(), [1, 1, 4, 4]).unwrap();
/// assert_eq!(MaxPool2d::new((2, 2)).predict(&x).unwrap().to_vec(), vec![5.0, 7.0, 13.0, 15.0]);
/// // Overlapping windows: 3x3 at stride 1.
/// assert_eq!(MaxPool2d::new((3, 3)).stride((1, 1)).predict(&x).unwrap().to_vec(), vec![10.0, 11.0, 14.0, 15.0]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxPool2d {
    kernel: (usize, usize),
    stride: (usize, usize),
    padding: Padding,
}

/// Average pooling over `[N, C, H, W]`, by the engine's [`Var::avg_pool2d`]. The stride defaults to the
/// kernel; padding counts as zeros in the average (PyTorch's default `count_include_pad=True`).
///
/// ```
/// use tapegrad::Tensor;
/// use tapegrad_nn::{layers::AvgPool2d, Module};
/// let x = Tensor::<f32>::from_vec((0..16).map(|v| v as f32).collect(), [1, 1, 4, 4]).unwrap();
/// assert_eq!(AvgPool2d::new((2, 2)).predict(&x).unwrap().to_vec(), vec![2.5, 4.5, 10.5, 12.5]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvgPool2d {
    kernel: (usize, usize),
    stride: (usize, usize),
    padding: Padding,
}

macro_rules! pool_layer {
    ($ty:ident, $method:ident, $name:literal) => {
        impl $ty {
            /// Pooling over `kernel = (kh, kw)` windows at stride `kernel`, without padding.
            pub fn new(kernel: (usize, usize)) -> Self {
                $ty { kernel, stride: kernel, padding: Padding::Valid }
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

            fn describe(&self) -> String {
                format!(
                    concat!($name, " {}x{}, stride {:?}, {:?}"),
                    self.kernel.0, self.kernel.1, self.stride, self.padding
                )
            }
        }

        impl<T: Float> Module<T> for $ty {
            fn forward<'t>(&self, _tape: &'t Tape<T>, x: Var<'t, T>) -> Result<Var<'t, T>> {
                x.$method(self.kernel, self.stride, self.padding)
                    .map_err(|e| Error::Layer { layer: self.describe(), msg: e.to_string() })
            }

            fn params(&self) -> Vec<(String, &Param<T>)> {
                Vec::new()
            }

            fn params_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
                Vec::new()
            }

            fn layer_name(&self) -> String {
                self.describe()
            }
        }
    };
}

pool_layer!(MaxPool2d, max_pool2d, "MaxPool2d");
pool_layer!(AvgPool2d, avg_pool2d, "AvgPool2d");

/// Flattens every axis after the first: `[N, d1, d2, ...]` to `[N, d1 d2 ...]` (PyTorch's `nn.Flatten()`),
/// between the convolutional blocks and the fully connected layers. Row-major, so the order of the
/// features is PyTorch's (channel, then row, then column).
///
/// ```
/// use tapegrad::Tensor;
/// use tapegrad_nn::{layers::Flatten, Module};
/// let y = Flatten::new().predict(&Tensor::<f32>::zeros([3, 32, 2, 2]).unwrap()).unwrap();
/// assert_eq!(y.dims(), &[3, 128]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flatten;

impl Flatten {
    /// The layer.
    pub fn new() -> Self {
        Flatten
    }
}

impl<T: Float> Module<T> for Flatten {
    fn forward<'t>(&self, _tape: &'t Tape<T>, x: Var<'t, T>) -> Result<Var<'t, T>> {
        let s = x.shape();
        let Some((&n, rest)) = s.dims().split_first() else {
            return Err(Error::Layer { layer: "Flatten".into(), msg: format!("input {s} has no batch axis") });
        };
        Ok(x.reshape([n, rest.iter().product()])?)
    }

    fn params(&self) -> Vec<(String, &Param<T>)> {
        Vec::new()
    }

    fn params_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        Vec::new()
    }

    fn layer_name(&self) -> String {
        "Flatten".into()
    }
}

/// Unflattens every axis after the first into `sample`: `[N, d]` to `[N, sample...]` with `d` the product of
/// `sample`, the inverse of [`Flatten`]. What turns a [`crate::data::Dataset`]'s feature rows into images:
/// `Unflatten::new([1, 8, 8])` makes the `[N, 64]` rows of the digits `[N, 1, 8, 8]`. PyTorch's
/// `nn.Unflatten(1, sample)` (always axis 1 here: the axis [`Flatten`] makes). A reshape: no copy, no
/// parameters.
///
/// ```
/// use tapegrad::Tensor;
/// use tapegrad_nn::{layers::Unflatten, Module};
/// let y = Unflatten::new([1, 8, 8]).predict(&Tensor::<f32>::zeros([3, 64]).unwrap()).unwrap();
/// assert_eq!(y.dims(), &[3, 1, 8, 8]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unflatten {
    sample: Vec<usize>,
}

impl Unflatten {
    /// The layer giving each row the shape `sample` (e.g. `[C, H, W]`).
    pub fn new(sample: impl Into<Vec<usize>>) -> Self {
        Unflatten { sample: sample.into() }
    }

    /// The shape of one sample after this layer.
    pub fn sample(&self) -> &[usize] {
        &self.sample
    }
}

impl<T: Float> Module<T> for Unflatten {
    fn forward<'t>(&self, _tape: &'t Tape<T>, x: Var<'t, T>) -> Result<Var<'t, T>> {
        let s = x.shape();
        let want = self.sample.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        match (s.dims(), want) {
            (&[n, d], Some(want)) if d == want => {
                let mut dims = Vec::with_capacity(1 + self.sample.len());
                dims.push(n);
                dims.extend_from_slice(&self.sample);
                Ok(x.reshape(dims)?)
            }
            _ => Err(Error::Layer {
                layer: <Self as Module<T>>::layer_name(self),
                msg: format!("expected rows [N, {}], got {s}", self.sample.iter().product::<usize>()),
            }),
        }
    }

    fn params(&self) -> Vec<(String, &Param<T>)> {
        Vec::new()
    }

    fn params_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        Vec::new()
    }

    fn layer_name(&self) -> String {
        format!("Unflatten to {:?}", self.sample)
    }
}
