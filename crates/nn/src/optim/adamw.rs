//! AdamW (Loshchilov and Hutter, 2019): Adam with weight decay decoupled from the gradient, in PyTorch's form.
//!
//! ```text
//! W'  = W_{t-1} (1 - eta lambda)                (decay first, scaled by the learning rate)
//! m_t = beta1 m_{t-1} + (1 - beta1) g           (g = grad E(W_{t-1}), no decay term)
//! v_t = beta2 v_{t-1} + (1 - beta2) g^2
//! W_t = W' - eta / (1 - beta1^t) * m_t / (sqrt(v_t) / sqrt(1 - beta2^t) + eps)
//! ```
//!
//! With L2 decay inside Adam ([`super::AdamConfig::weight_decay`]) the decay term is divided by `sqrt(v)` like
//! the gradient, so weights with large gradients are barely decayed; here every weight shrinks by the same
//! factor. Defaults are PyTorch's: `eta = 1e-3`, betas 0.9/0.999, `eps = 1e-8`, `lambda = 0.01`.

use super::adam::adam_step;
use super::{AdamConfig, Buffers, GradSource, Optimizer, StateMap, check_range};
use crate::error::Result;
use tapegrad::{Float, Param};

/// Settings of [`AdamW`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWConfig {
    /// Learning rate `eta` (default 1e-3).
    pub lr: f64,
    /// Decay of the first moment, in `[0, 1)` (default 0.9).
    pub beta1: f64,
    /// Decay of the second moment, in `[0, 1)` (default 0.999).
    pub beta2: f64,
    /// Added to the corrected root of the second moment (default 1e-8).
    pub eps: f64,
    /// Decoupled weight decay `lambda` >= 0: each step multiplies the weights by `1 - eta lambda` (default 0.01).
    pub weight_decay: f64,
    /// Skip parameters without a gradient instead of failing (default false).
    pub allow_missing_grad: bool,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01, allow_missing_grad: false }
    }
}

impl AdamWConfig {
    /// The Adam settings of the moment updates (no L2 term).
    fn adam(&self) -> AdamConfig {
        AdamConfig {
            lr: self.lr,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            weight_decay: 0.0,
            allow_missing_grad: self.allow_missing_grad,
        }
    }
}

/// AdamW; see the module docs.
///
/// ```
/// use tapegrad_nn::optim::{AdamW, AdamWConfig};
/// let opt = AdamW::<f32>::new(AdamWConfig { weight_decay: 0.1, ..Default::default() })?;
/// # Ok::<(), tapegrad_nn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct AdamW<T: Float> {
    config: AdamWConfig,
    state: StateMap<Buffers<T, 2>>,
}

impl<T: Float> AdamW<T> {
    /// An optimizer with these settings.
    ///
    /// # Errors
    /// [`crate::Error::Config`] when a setting is out of range (a beta outside `[0, 1)`, a negative value).
    pub fn new(config: AdamWConfig) -> Result<Self> {
        config.adam().validate("adamw")?;
        check_range("adamw", "weight_decay", config.weight_decay, 0.0, f64::INFINITY, false)?;
        Ok(AdamW { config, state: StateMap::default() })
    }

    /// The settings.
    pub fn config(&self) -> &AdamWConfig {
        &self.config
    }

    /// The moments `(m, v)` of a parameter and its step count (`None` before its first step).
    pub fn moments(&self, p: &Param<T>) -> Option<(&[T], &[T], u64)> {
        self.state.peek(p.id()).map(|s| (s.bufs[0].as_slice(), s.bufs[1].as_slice(), s.steps))
    }
}

impl<T: Float> Optimizer<T> for AdamW<T> {
    fn step(&mut self, params: &mut [&mut Param<T>], grads: &dyn GradSource<T>) -> Result<()> {
        adam_step("adamw", &self.config.adam(), self.config.weight_decay, &mut self.state, params, grads)
    }

    fn lr(&self) -> f64 {
        self.config.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.config.lr = lr;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::testing::{W0, assert_close, grad_by_hand, two_steps};

    #[test]
    fn adamw_first_two_steps_decay_then_take_the_adam_step() {
        let (eta, lambda, b1, b2, eps) = (0.1, 0.5, 0.9, 0.999, 1e-8);
        let mut opt = AdamW::new(AdamWConfig { lr: eta, weight_decay: lambda, ..Default::default() }).unwrap();
        let [w1, w2] = two_steps(&mut opt);
        // Step 1: shrink by 1 - 0.05 = 0.95, then move by eta against the gradient's sign (taken at W0).
        let g = grad_by_hand(&W0);
        let shrink = 1.0 - eta * lambda;
        assert_close(&w1, &[W0[0] * shrink + eta * (1.0 - eps / 2.0), W0[1] * shrink + eta * (1.0 - eps / 12.0)]);
        assert!((w1[0] - 1.05).abs() < 1e-9 && (w1[1] + 1.8).abs() < 1e-9, "{w1:?}");
        let (m1, v1) = ([(1.0 - b1) * g[0], (1.0 - b1) * g[1]], [(1.0 - b2) * g[0] * g[0], (1.0 - b2) * g[1] * g[1]]);
        let g = grad_by_hand(&w1);
        let mut want = [0.0; 2];
        for i in 0..2 {
            let m2 = b1 * m1[i] + (1.0 - b1) * g[i];
            let v2 = b2 * v1[i] + (1.0 - b2) * g[i] * g[i];
            want[i] = w1[i] * shrink - eta * (m2 / 0.19) / ((v2 / 0.001999).sqrt() + eps);
        }
        assert_close(&w2, &want);
    }

    #[test]
    fn adamw_without_decay_equals_adam() {
        let mut a = AdamW::new(AdamWConfig { lr: 0.1, weight_decay: 0.0, ..Default::default() }).unwrap();
        let mut b = crate::optim::Adam::new(AdamConfig { lr: 0.1, ..Default::default() }).unwrap();
        assert_eq!(two_steps(&mut a), two_steps(&mut b));
    }

    #[test]
    fn adamw_shrinks_weights_geometrically_when_the_gradient_is_zero() {
        // Decoupled decay: m = v = 0, so only W <- W (1 - eta lambda) acts. Adam's L2 decay instead feeds
        // rho W through the normalisation and moves each weight by about eta.
        let mut w: Param<f64> = Param::new(tapegrad::Tensor::from_slice(&[2.0, -4.0], [2]).unwrap());
        let mut grads = crate::optim::GradStore::default();
        grads.insert(w.id(), tapegrad::Tensor::zeros([2]).unwrap());
        let mut opt = AdamW::new(AdamWConfig { lr: 0.1, weight_decay: 0.5, ..Default::default() }).unwrap();
        for _ in 0..3 {
            opt.step(&mut [&mut w], &grads).unwrap();
        }
        assert_close(&w.value().to_vec(), &[2.0 * 0.95f64.powi(3), -4.0 * 0.95f64.powi(3)]);
        let mut w: Param<f64> = Param::new(tapegrad::Tensor::from_slice(&[2.0, -4.0], [2]).unwrap());
        let mut grads = crate::optim::GradStore::default();
        grads.insert(w.id(), tapegrad::Tensor::zeros([2]).unwrap());
        let mut adam =
            crate::optim::Adam::new(AdamConfig { lr: 0.1, weight_decay: 0.5, ..Default::default() }).unwrap();
        adam.step(&mut [&mut w], &grads).unwrap();
        assert!((w.value().data()[0] - 1.9).abs() < 1e-8 && (w.value().data()[1] + 3.9).abs() < 1e-8);
    }
}
