//! Every operation: one section per op with its forward, its derivative right below, and its tests.
//!
//! The derivative table for all of them is `docs/ops.md`.

pub mod activation;
pub mod binary;
pub mod conv;
pub mod conv_grad;
pub mod cost;
pub mod layout;
pub mod loss;
pub mod margin;
pub mod matmul;
pub mod norm;
pub mod pool;
pub mod reduce;
pub mod unary;

#[cfg(test)]
pub(crate) mod testing;
