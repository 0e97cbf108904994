//! # tapegrad
//!
//! Reverse-mode automatic differentiation over a dynamic (define-by-run) tape, with exact gradients of any
//! order. Build a graph by computing with [`Var`]s on a [`Tape`], then call [`Var::backward`]:
//!
//! ```
//! use tapegrad::{Param, Tape, Tensor};
//!
//! // One neuron: y = sigmoid(w · x + b), squared error against a target.
//! let w = Param::new(Tensor::from_vec(vec![0.5, -0.3], [2, 1]).unwrap());
//! let b = Param::new(Tensor::from_vec(vec![0.1], [1]).unwrap());
//! let tape = Tape::<f64>::new();
//! let x = tape.input(Tensor::from_vec(vec![1.0, 2.0], [1, 2]).unwrap());
//! let target = tape.input(Tensor::from_vec(vec![1.0], [1, 1]).unwrap());
//! let y = (x.matmul(tape.param(&w)).unwrap() + tape.param(&b)).sigmoid();
//! let loss = y.mse(target).unwrap();
//! let grads = loss.backward().unwrap();
//! let dw = grads.param(&w).unwrap();
//! assert_eq!(dw.dims(), &[2, 1]);
//! // dL/dw = 2 (y - t) y (1 - y) x
//! let yv = y.item().unwrap();
//! let expect = 2.0 * (yv - 1.0) * yv * (1.0 - yv);
//! assert!((dw.data()[1] - expect * 2.0).abs() < 1e-12);
//! ```
//!
//! - Tensors ([`Tensor`]) are dense and row-major, `f32` or `f64`, with shared storage.
//! - Tensors also do plain maths without a tape (`&a + &b`, `a.matmul(&b)`, `x.sum_axis(0, false)`,
//!   `x.argmax_axis(-1)`, [`tensor!`]), through the same kernels as the tape's operations.
//! - The tape records parameters, inputs, constants and operations in creation order; backward walks it in
//!   reverse, with no recursion.
//! - Every derivative is written once, with the operations of [`BackwardCx`], and can be recorded and
//!   differentiated again: [`Tape::grad_graph`], [`Tape::hvp`], [`jacobian`], [`hessian`].
//! - [`check_gradients`] and [`check_second_order`] compare against finite differences.

pub mod dot;
pub mod error;
pub mod float;
pub mod grad_check;
pub mod gradients;
pub mod higher;
#[doc(hidden)]
pub mod kernels;
mod macros;
/// Where each op's forward and derivative live (one section per op); the ops themselves are methods of
/// [`Var`], so nothing here needs to be named by users.
#[doc(hidden)]
pub mod ops;
pub mod parallel;
pub mod param;
pub mod shape;
pub mod tape;
mod tape_pool;
pub mod tensor;
mod tensor_build;
mod tensor_math;
mod tensor_pool;
pub mod val;
mod var;

pub use dot::DotOptions;
pub use error::{Error, Result};
pub use float::{DType, Float};
pub use grad_check::{GradCheckConfig, check_gradients, check_second_order};
pub use higher::{TapeFn, grad, hessian, hvp, jacobian, tape_fn, value_and_grad};
pub use kernels::conv::{Padding, Window2d, conv_output_size};
pub use kernels::gemm::{num_threads, set_num_threads};
pub use ops::layout::concat;
/// Row-wise argmax of a `[N, C]` tensor: the same result as
/// [`x.argmax_axis(1)`](Tensor::argmax_axis) (or `-1`), restricted to rank 2 with an error naming
/// `argmax_rows` otherwise. `tapegrad_nn::metrics::predict_classes` is this function under the
/// classifier's name, for a model's scores.
pub use ops::loss::argmax_rows;
/// Row-wise softmax of a `[N, C]` tensor of logits, without a tape (probabilities from a model's output).
pub use ops::loss::softmax_rows;
pub use param::{Param, ParamId};
pub use shape::Shape;
#[allow(deprecated)]
pub use tape::Grads;
pub use tape::{Gradients, NodeKind, Op, OpGrads, Tape, Var};
pub use tensor::Tensor;
pub use val::{BackwardCx, Val};
