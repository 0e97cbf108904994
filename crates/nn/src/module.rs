//! The module abstraction: a forward pass on a tape and named, ordered parameters.

use crate::error::Result;
use tapegrad::{Float, Param, Tape, Var};

/// A layer or a network: `forward` records on a tape; parameters persist across tapes.
///
/// Parameter names are dotted paths in a stable order (`layers.0.weight`, `layers.0.bias`, ...), the names
/// model files use.
pub trait Module<T: Float> {
    /// Records the forward pass of `x` on `tape`.
    ///
    /// # Errors
    /// [`crate::Error::Layer`] naming the layer and both shapes when `x` has the wrong width; engine errors.
    fn forward<'t>(&self, tape: &'t Tape<T>, x: Var<'t, T>) -> Result<Var<'t, T>>;

    /// The parameters with their names, in a stable order.
    fn params(&self) -> Vec<(String, &Param<T>)>;

    /// The parameters with their names, mutable, in the same order as [`Module::params`].
    fn params_mut(&mut self) -> Vec<(String, &mut Param<T>)>;

    /// Switches between training mode (dropout active, batch statistics) and evaluation mode.
    fn set_train(&mut self, _train: bool) {}

    /// Number of scalar parameters.
    fn num_params(&self) -> usize {
        self.params().iter().map(|(_, p)| p.value().numel()).sum()
    }
}
