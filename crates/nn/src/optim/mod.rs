//! Optimizers. First-order ones implement [`Optimizer`]: one update of every parameter from its gradient.
//! The classical full-batch methods (RProp, QuickProp, CG, BFGS, LM, Newton) have their own step shape,
//! see their modules.

use crate::error::Result;
use tapegrad::{Float, Gradients, Param};

/// A first-order optimizer: state per parameter (keyed by [`tapegrad::ParamId`]), one `step` per batch.
pub trait Optimizer<T: Float> {
    /// Updates every parameter in place from its gradient in `grads`.
    ///
    /// # Errors
    /// [`crate::Error::Optimizer`] when a parameter has no gradient (unless configured to skip it).
    fn step(&mut self, params: &mut [&mut Param<T>], grads: &Gradients<T>) -> Result<()>;

    /// The current learning rate.
    fn lr(&self) -> f64;

    /// Sets the learning rate (schedules call this between epochs).
    fn set_lr(&mut self, lr: f64);
}
