//! Parameters: tensors that persist across tapes and that optimizers update.

use crate::float::Float;
use crate::tensor::Tensor;
use std::sync::Arc;
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

/// A trainable tensor with a stable id and an optional name.
///
/// Put it on a tape with [`crate::Tape::param`] every step; drop the tape before updating so that
/// [`Param::value_mut`] writes in place instead of copying.
///
/// The name is for people: graph pictures ([`crate::Tape::to_dot`]) print it instead of `param`. The
/// `tapegrad-nn` layers name their parameters (`weight`, `bias`) and a `Sequential` (so an `Mlp`) renames
/// them with their path (`layers.0.weight`), the names its `params()` lists. Gradients and optimizer state
/// are keyed by the id, never by the name.
///
/// ```
/// use tapegrad::{Param, Tensor};
/// let w = Param::with_name(Tensor::<f64>::zeros([2, 3]).unwrap(), "w1");
/// assert_eq!(w.name(), Some("w1"));
/// assert_eq!(Param::new(Tensor::<f64>::scalar(1.0)).name(), None);
/// ```
#[derive(Debug, Clone)]
pub struct Param<T: Float> {
    id: ParamId,
    value: Tensor<T>,
    name: Option<Arc<str>>,
}

impl<T: Float> Param<T> {
    /// A parameter with a fresh id and no name.
    pub fn new(value: Tensor<T>) -> Self {
        Param { id: ParamId::fresh(), value, name: None }
    }

    /// A parameter with a fresh id and a name.
    pub fn with_name(value: Tensor<T>, name: impl Into<Arc<str>>) -> Self {
        Param { id: ParamId::fresh(), value, name: Some(name.into()) }
    }

    /// Its name, if it has one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Names it (or renames it; the id stays).
    pub fn set_name(&mut self, name: impl Into<Arc<str>>) {
        self.name = Some(name.into());
    }

    /// The shared name, for the tape (a pointer copy).
    pub(crate) fn name_arc(&self) -> Option<&Arc<str>> {
        self.name.as_ref()
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
