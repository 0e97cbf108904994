//! Layers: [`Linear`], [`Activation`], [`Sequential`], [`Mlp`], [`Dropout`], [`BatchNorm1d`], [`PRelu`], and for CNNs
//! [`Conv2d`], [`MaxPool2d`], [`AvgPool2d`], [`Flatten`], [`Unflatten`], [`LocallyConnected2d`].
//!
//! Every layer implements [`crate::Module`]: `forward` records on a tape, parameters persist across tapes
//! and are named as PyTorch names them (`weight`, `bias`, `layers.0.weight`, ...).

mod activation;
mod batchnorm;
mod conv;
mod dropout;
mod linear;
mod mlp;
mod pool;
mod prelu;
mod sequential;

pub use activation::Activation;
pub use batchnorm::{BatchNorm1d, BatchNormConfig};
pub use conv::{Conv2d, Conv2dConfig, LocallyConnected2d};
pub use dropout::Dropout;
pub use linear::{Linear, LinearConfig};
pub use mlp::{Mlp, MlpConfig};
pub use pool::{AvgPool2d, Flatten, MaxPool2d, Unflatten};
pub use prelu::PRelu;
pub use sequential::Sequential;

#[cfg(test)]
pub(crate) mod testing {
    /// Turns an `nn` error into an engine error, for closures given to `tapegrad::check_gradients`.
    pub(crate) fn engine(e: crate::Error) -> tapegrad::Error {
        match e {
            crate::Error::Engine(e) => e,
            other => tapegrad::Error::InvalidArgument { op: "nn layer", msg: other.to_string() },
        }
    }
}
