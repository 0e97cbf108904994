//! Gradient clipping: by value (each element into `[-c, c]`) and by global norm (all gradients scaled together
//! so that their joint L2 norm is at most `max_norm`).
//!
//! The engine's [`Gradients`] is read-only, so clipping works on a [`GradStore`], which takes the parameter
//! gradients out of it without copying. Optimizers read a `GradStore` just like `Gradients`:
//!
//! ```
//! use tapegrad::{Param, Tape, Tensor};
//! use tapegrad_nn::optim::{GradStore, Optimizer, Sgd, SgdConfig, clip_grad_norm};
//!
//! let mut w = Param::new(Tensor::from_vec(vec![3.0, 4.0], [2])?);
//! let grads = {
//!     let tape = Tape::<f64>::new();
//!     tape.param(&w).square().sum().mul_scalar(0.5).backward()? // gradient = w = [3, 4]
//! };
//! let mut grads = GradStore::from(grads);
//! let norm = clip_grad_norm(&mut grads, 1.0)?;
//! assert_eq!(norm, 5.0); // the norm before clipping
//! let mut opt = Sgd::new(SgdConfig { lr: 1.0, ..Default::default() })?;
//! opt.step(&mut [&mut w], &grads)?;
//! assert_eq!(w.value().to_vec(), vec![3.0 - 0.6, 4.0 - 0.8]);
//! # Ok::<(), tapegrad_nn::Error>(())
//! ```

use super::GradSource;
use crate::error::{Error, Result};
use std::collections::HashMap;
use tapegrad::{Float, Gradients, ParamId, Tensor};

/// Parameter gradients that can be changed in place, e.g. by clipping. Build one from [`Gradients`].
#[derive(Debug, Clone, Default)]
pub struct GradStore<T: Float> {
    grads: HashMap<ParamId, Tensor<T>>,
}

impl<T: Float> From<Gradients<T>> for GradStore<T> {
    /// Moves every parameter gradient out of `grads` (no copy).
    fn from(mut grads: Gradients<T>) -> Self {
        let ids: Vec<ParamId> = grads.param_ids().collect();
        let grads = ids.into_iter().filter_map(|id| grads.take(id).map(|g| (id, g))).collect();
        GradStore { grads }
    }
}

impl<T: Float> GradStore<T> {
    /// The gradient of a parameter by id.
    pub fn get(&self, id: ParamId) -> Option<&Tensor<T>> {
        self.grads.get(&id)
    }

    /// The gradient of a parameter by id, mutable.
    pub fn get_mut(&mut self, id: ParamId) -> Option<&mut Tensor<T>> {
        self.grads.get_mut(&id)
    }

    /// Sets a parameter's gradient, returning the previous one.
    pub fn insert(&mut self, id: ParamId, grad: Tensor<T>) -> Option<Tensor<T>> {
        self.grads.insert(id, grad)
    }

    /// Number of parameters with a gradient.
    pub fn len(&self) -> usize {
        self.grads.len()
    }

    /// Whether no parameter has a gradient.
    pub fn is_empty(&self) -> bool {
        self.grads.is_empty()
    }

    /// The joint L2 norm of all gradients, `sqrt(sum of every squared element)`, accumulated in f64.
    pub fn global_norm(&self) -> f64 {
        let sum: f64 = self.grads.values().map(|g| g.data().iter().map(|x| x.f64() * x.f64()).sum::<f64>()).sum();
        sum.sqrt()
    }
}

impl<T: Float> GradSource<T> for GradStore<T> {
    fn grad(&self, id: ParamId) -> Option<&Tensor<T>> {
        self.get(id)
    }
}

/// Clamps every gradient element into `[-clip, clip]` and returns the global norm before clipping.
///
/// # Errors
/// [`Error::Optimizer`] (named `clip_grad_value`) when `clip` is negative or not finite, or when a gradient
/// holds NaN or infinity.
pub fn clip_grad_value<T: Float>(grads: &mut GradStore<T>, clip: f64) -> Result<f64> {
    const NAME: &str = "clip_grad_value";
    if !(clip.is_finite() && clip >= 0.0) {
        return Err(Error::Optimizer { optimizer: NAME, msg: format!("clip value {clip} must be finite and >= 0") });
    }
    let norm = finite_norm(NAME, grads)?;
    let (lo, hi) = (T::of(-clip), T::of(clip));
    for g in grads.grads.values_mut() {
        for x in g.data_mut() {
            *x = x.max(lo).min(hi);
        }
    }
    Ok(norm)
}

/// Scales all gradients by `max_norm / norm` when their global norm exceeds `max_norm`, and returns the norm
/// before clipping. The direction of the joint gradient is kept; afterwards its norm is exactly `max_norm`.
///
/// # Errors
/// [`Error::Optimizer`] (named `clip_grad_norm`) when `max_norm` is negative or not finite, or when the norm
/// is NaN or infinite (a diverged step must not be scaled into a plausible one silently).
pub fn clip_grad_norm<T: Float>(grads: &mut GradStore<T>, max_norm: f64) -> Result<f64> {
    const NAME: &str = "clip_grad_norm";
    if !(max_norm.is_finite() && max_norm >= 0.0) {
        return Err(Error::Optimizer { optimizer: NAME, msg: format!("max_norm {max_norm} must be finite and >= 0") });
    }
    let norm = finite_norm(NAME, grads)?;
    if norm > max_norm {
        let scale = T::of(max_norm / norm);
        for g in grads.grads.values_mut() {
            for x in g.data_mut() {
                *x *= scale;
            }
        }
    }
    Ok(norm)
}

/// The global norm, or an error naming `op` when it is not finite.
fn finite_norm<T: Float>(op: &'static str, grads: &GradStore<T>) -> Result<f64> {
    let norm = grads.global_norm();
    if norm.is_finite() {
        Ok(norm)
    } else {
        Err(Error::Optimizer { optimizer: op, msg: format!("gradient norm is {norm}; a gradient holds NaN or inf") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tapegrad::{Param, Tape};

    /// Gradients `[3, -4]` and `[12]` (global norm 13) for two parameters.
    fn store() -> (GradStore<f64>, Param<f64>, Param<f64>) {
        let a = Param::new(Tensor::from_vec(vec![3.0, -4.0], [2]).unwrap());
        let b = Param::new(Tensor::from_vec(vec![12.0], [1]).unwrap());
        let grads = {
            let tape = Tape::new();
            let loss = tape.param(&a).square().sum() + tape.param(&b).square().sum();
            loss.mul_scalar(0.5).backward().unwrap()
        };
        (GradStore::from(grads), a, b)
    }

    #[test]
    fn clip_grad_norm_scales_to_max_norm_and_returns_the_old_norm() {
        let (mut g, a, b) = store();
        assert_eq!(clip_grad_norm(&mut g, 6.5).unwrap(), 13.0);
        assert_eq!(g.get(a.id()).unwrap().to_vec(), vec![1.5, -2.0]);
        assert_eq!(g.get(b.id()).unwrap().to_vec(), vec![6.0]);
        assert!((g.global_norm() - 6.5).abs() < 1e-12);
    }

    #[test]
    fn clip_grad_norm_leaves_small_gradients_alone() {
        let (mut g, a, _) = store();
        assert_eq!(clip_grad_norm(&mut g, 20.0).unwrap(), 13.0);
        assert_eq!(g.get(a.id()).unwrap().to_vec(), vec![3.0, -4.0]);
    }

    #[test]
    fn clip_grad_value_clamps_each_element() {
        let (mut g, a, b) = store();
        assert_eq!(clip_grad_value(&mut g, 3.5).unwrap(), 13.0);
        assert_eq!(g.get(a.id()).unwrap().to_vec(), vec![3.0, -3.5]);
        assert_eq!(g.get(b.id()).unwrap().to_vec(), vec![3.5]);
    }

    #[test]
    fn clipping_rejects_a_nan_gradient_and_a_negative_bound() {
        let (mut g, a, _) = store();
        g.insert(a.id(), Tensor::from_vec(vec![f64::NAN, 1.0], [2]).unwrap());
        let err = clip_grad_norm(&mut g, 1.0).unwrap_err().to_string();
        assert_eq!(err, "clip_grad_norm: gradient norm is NaN; a gradient holds NaN or inf");
        let err = clip_grad_value(&mut store().0, -1.0).unwrap_err().to_string();
        assert_eq!(err, "clip_grad_value: clip value -1 must be finite and >= 0");
    }
}
