//! What a backward pass returns: the gradients of parameters, leaves and retained nodes, tied to their tape.

use crate::error::{Error, Result};
use crate::float::Float;
use crate::param::{Param, ParamId};
use crate::tape::{Tape, Var};
use crate::tensor::Tensor;

/// The gradients one backward pass produced, keyed by parameter and by node.
///
/// Stored as two vectors sorted by key (a step of a small model has a handful of parameters: a binary
/// search over a few entries beats hashing them). The store remembers the identity of its tape, so a
/// variable of another tape (or of the same tape after [`Tape::clear`]) is refused rather than answered
/// with the gradient of whatever node has its position. A default store belongs to no tape.
#[derive(Debug, Clone, Default)]
pub struct Gradients<T: Float> {
    /// The id of the tape these came from (0: none).
    pub(crate) tape: u64,
    pub(crate) params: Vec<(ParamId, Tensor<T>)>,
    pub(crate) nodes: Vec<(usize, Tensor<T>)>,
}

impl<T: Float> Gradients<T> {
    /// The gradient of a parameter, `None` when the loss does not depend on it.
    pub fn param(&self, p: &Param<T>) -> Option<&Tensor<T>> {
        self.by_id(p.id())
    }

    /// The gradient of a parameter by id.
    pub fn by_id(&self, id: ParamId) -> Option<&Tensor<T>> {
        self.params.binary_search_by_key(&id, |e| e.0).ok().map(|i| &self.params[i].1)
    }

    /// The gradient of a leaf, parameter or retained node of the tape the loss was on; `None` when the loss
    /// does not depend on it (or it is an intermediate node that was not retained: see
    /// [`Var::retain_grad`] and [`Tape::set_retain_grads`]).
    ///
    /// A store answers `None` for "no gradient flowed here", as PyTorch leaves `.grad` at `None`. The
    /// functions that return one tensor per requested variable ([`Tape::grad`], [`crate::grad`],
    /// [`Tape::hvp`], [`crate::jacobian`], ...) return zeros of its shape instead, as JAX does: the
    /// derivative of a function that ignores a variable is zero.
    ///
    /// # Errors
    /// [`Error::ForeignVar`] when `v` belongs to another tape than the one these gradients came from.
    pub fn get(&self, v: Var<'_, T>) -> Result<Option<&Tensor<T>>> {
        if v.tape.id != self.tape {
            return Err(Error::ForeignVar { op: "get" });
        }
        Ok(self.node(v.id))
    }

    /// The gradient of the node at position `id` (no tape check: callers have checked it).
    pub(crate) fn node(&self, id: usize) -> Option<&Tensor<T>> {
        self.nodes.binary_search_by_key(&id, |e| e.0).ok().map(|i| &self.nodes[i].1)
    }

    /// Whether these gradients came from `tape` (as it is now: [`Tape::clear`] gives it a new identity).
    pub fn is_from(&self, tape: &Tape<T>) -> bool {
        self.tape == tape.id
    }

    /// Takes a parameter's gradient out (no copy).
    pub fn take(&mut self, id: ParamId) -> Option<Tensor<T>> {
        let i = self.params.binary_search_by_key(&id, |e| e.0).ok()?;
        Some(self.params.remove(i).1)
    }

    /// Ids of all parameters with a gradient, in ascending order.
    pub fn param_ids(&self) -> impl Iterator<Item = ParamId> + '_ {
        self.params.iter().map(|e| e.0)
    }

    /// Number of parameters with a gradient (leaves and retained nodes are not counted: see
    /// [`Gradients::num_nodes`]).
    pub fn num_params(&self) -> usize {
        self.params.len()
    }

    /// Number of nodes with a gradient: parameters, leaves and retained nodes.
    pub fn num_nodes(&self) -> usize {
        self.nodes.len()
    }

    /// The old name of [`Gradients::num_params`], kept for one release.
    #[deprecated(since = "0.2.0", note = "counts parameters only: use `num_params` (or `num_nodes`)")]
    pub fn len(&self) -> usize {
        self.num_params()
    }

    /// Whether no parameter got a gradient, kept for one release with [`Gradients::len`].
    #[deprecated(since = "0.2.0", note = "use `num_params() == 0`")]
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }
}
