//! # tapegrad-nn
//!
//! Neural networks on top of the tapegrad engine's public API: modules and layers, initialisation,
//! optimizers (first-order and the classical full-batch methods), data loading, metrics, training loops and
//! model files. It never defines a derivative: every gradient comes from engine ops.

pub mod data;
pub mod error;
pub mod init;
pub mod io;
pub mod layers;
pub mod metrics;
pub mod module;
pub mod optim;
pub mod train;

pub use error::{Error, Result};
pub use layers::{Activation, Linear, Mlp, Sequential};
pub use module::{Module, check_module_gradients};
pub use optim::Optimizer;
