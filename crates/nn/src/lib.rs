//! # tapegrad-nn
//!
//! Neural networks on top of the tapegrad engine's public API: modules and layers, initialisation,
//! optimizers (first-order and the classical full-batch methods), data loading, metrics, training loops and
//! model files. It never defines a derivative: every gradient comes from engine ops.
//!
//! A network is a [`Module`]: `forward` records on a fresh [`tapegrad::Tape`] each step, while its named
//! parameters persist. One step is forward, loss, backward, drop the tape, update:
//!
//! ```
//! use rand::SeedableRng;
//! use tapegrad::{Tape, Tensor};
//! use tapegrad_nn::{io, Activation, Mlp, Module};
//!
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! // XOR: 2 inputs, 8 tanh hidden units, 1 sigmoid output.
//! let mut mlp = Mlp::<f64>::new(&[2, 8, 1], Activation::Tanh, Activation::Sigmoid, &mut rng).unwrap();
//! let x = Tensor::from_vec(vec![0., 0., 0., 1., 1., 0., 1., 1.], [4, 2]).unwrap();
//! let y = Tensor::from_vec(vec![0., 1., 1., 0.], [4, 1]).unwrap();
//! let mut losses = Vec::new();
//! for _ in 0..500 {
//!     let tape = Tape::new();
//!     let out = mlp.forward(&tape, tape.input(x.clone())).unwrap();
//!     let loss = out.mse(tape.input(y.clone())).unwrap();
//!     losses.push(loss.item().unwrap());
//!     let grads = loss.backward().unwrap();
//!     drop(tape); // parameters are no longer shared: the update below is in place
//!     for p in mlp.param_refs_mut() {
//!         let g = grads.param(p).unwrap().clone();
//!         for (w, g) in p.value_mut().data_mut().iter_mut().zip(g.data()) {
//!             *w -= 2.0 * g;
//!         }
//!     }
//! }
//! assert!(losses[499] < 0.01 && losses[499] < losses[0] / 10.0);
//! let pred = mlp.predict(&x).unwrap();
//! assert!(pred.data()[1] > 0.5 && pred.data()[0] < 0.5);
//!
//! // Named parameters, saved in safetensors and loaded back bit for bit.
//! assert_eq!(mlp.params()[0].0, "layers.0.weight");
//! let mut copy = Mlp::<f64>::new(&[2, 8, 1], Activation::Tanh, Activation::Sigmoid, &mut rng).unwrap();
//! io::from_bytes(&mut copy, &io::to_bytes(&mlp).unwrap()).unwrap();
//! assert_eq!(copy.predict(&x).unwrap(), pred);
//! ```

pub mod data;
pub mod error;
pub mod init;
pub mod io;
pub mod layers;
pub mod logic;
pub mod metrics;
pub mod module;
pub mod optim;
pub mod train;

pub use error::{Error, Result};
pub use layers::{
    Activation, AvgPool2d, Conv2d, Flatten, Linear, LocallyConnected2d, MaxPool2d, Mlp, Sequential, Unflatten,
};
pub use module::{Module, check_module_gradients};
pub use optim::Optimizer;
