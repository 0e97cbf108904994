//! Parameters: tensors that persist across tapes and that optimizers update.

use crate::float::Float;
use crate::tensor::Tensor;
use std::sync::atomic::{AtomicU64, Ordering};

/// A stable identity for a parameter, unique in the process. Gradients and optimizer state are keyed by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParamId(u64);

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

impl ParamId {
    /// A fresh id, never returned before in this process.
    pub fn fresh() -> Self {
        ParamId(NEXT_ID.fetch_add(1, Ordering::Relaxed))
    }
}

/// A trainable tensor with a stable id.
///
/// Put it on a tape with [`crate::Tape::param`] every step; drop the tape before updating so that
/// [`Param::value_mut`] writes in place instead of copying.
#[derive(Debug, Clone)]
pub struct Param<T: Float> {
    id: ParamId,
    value: Tensor<T>,
}

impl<T: Float> Param<T> {
    /// A parameter with a fresh id.
    pub fn new(value: Tensor<T>) -> Self {
        Param { id: ParamId::fresh(), value }
    }

    /// Its id.
    pub fn id(&self) -> ParamId {
        self.id
    }

    /// Its current value.
    pub fn value(&self) -> &Tensor<T> {
        &self.value
    }

    /// Mutable access for updates (copy-on-write if a tape still shares the storage).
    pub fn value_mut(&mut self) -> &mut Tensor<T> {
        &mut self.value
    }

    /// Replaces the value (the shape may change; the id stays).
    pub fn set(&mut self, value: Tensor<T>) {
        self.value = value;
    }
}
