//! RMSProp (Hinton's lecture 6e): divide the gradient by a running root mean square of recent gradients.
//!
//! ```text
//! g   = grad E(W_{t-1}) + rho W_{t-1}
//! S_t = gamma S_{t-1} + (1 - gamma) g^2     (S_0 = 0)
//! W_t = W_{t-1} - eta g / (sqrt(S_t) + eps)
//! ```
//!
//! The decay `gamma` sets how many steps the average remembers, about `1 / (1 - gamma)`: 0.9 (the default,
//! Hinton's value, about 10 steps) adapts fast; 0.99 (PyTorch's default `alpha`, about 100 steps) and 0.999
//! (about 1000 steps, Adam's `beta2`) give a smoother estimate for noisy mini-batch gradients at the price of
//! reacting slowly. `eps` sits outside the root, as in PyTorch.
//!
//! ## Lecture 003 form: momentum on top
//!
//! In lecture 003's template `dW_t = eta_t (g_t + rho W) + mu dW_{t-1}`, `W_t = W_{t-1} - dW_t`, with
//! `eta_t = eta / (sqrt(S_t) + eps)`. With `momentum = mu > 0`:
//!
//! ```text
//! dW_t = eta g / (sqrt(S_t) + eps) + mu dW_{t-1}        (dW_0 = 0)
//! ```
//!
//! With a constant learning rate this is PyTorch's `RMSprop(momentum=mu)` (there `b = mu b + g / (sqrt(S) +
//! eps)`, `W -= eta b`, so `dW = eta b`). `mu = 0` (the default) is plain RMSProp.

use super::{
    Buffers, GradSource, Optimizer, StateMap, check_eps_in, check_positive, check_range, for_each_param, template_step,
};
use crate::error::Result;
use tapegrad::{Float, Param};

/// Settings of [`RmsProp`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RmsPropConfig {
    /// Learning rate `eta` (default 1e-3).
    pub lr: f64,
    /// Decay `gamma` of the squared-gradient average, in `[0, 1)` (default 0.9; 0.99 and 0.999 are common).
    pub decay: f64,
    /// Added to the root of the average (default 1e-8).
    pub eps: f64,
    /// Weight decay `rho` >= 0, added to the gradient as `rho W` (default 0).
    pub weight_decay: f64,
    /// Momentum `mu` in `[0, 1)` on the RMSProp step, lecture 003's template (default 0).
    pub momentum: f64,
    /// Skip parameters without a gradient instead of failing (default false).
    pub allow_missing_grad: bool,
}

impl Default for RmsPropConfig {
    fn default() -> Self {
        RmsPropConfig { lr: 1e-3, decay: 0.9, eps: 1e-8, weight_decay: 0.0, momentum: 0.0, allow_missing_grad: false }
    }
}

/// RMSProp; see the module docs.
///
/// ```
/// use tapegrad_nn::optim::{RmsProp, RmsPropConfig};
/// let opt = RmsProp::<f32>::new(RmsPropConfig { decay: 0.99, ..Default::default() })?;
/// # Ok::<(), tapegrad_nn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct RmsProp<T: Float> {
    config: RmsPropConfig,
    state: StateMap<Buffers<T, 1>>,
    velocity: StateMap<Buffers<T, 1>>,
}

impl<T: Float> RmsProp<T> {
    /// An optimizer with these settings.
    ///
    /// # Errors
    /// [`crate::Error::Config`] when a setting is out of range (decay outside `[0, 1)`, a negative value).
    pub fn new(config: RmsPropConfig) -> Result<Self> {
        check_positive("rmsprop", "lr", config.lr)?;
        check_range("rmsprop", "decay", config.decay, 0.0, 1.0, false)?;
        check_positive("rmsprop", "eps", config.eps)?;
        check_range("rmsprop", "weight_decay", config.weight_decay, 0.0, f64::INFINITY, false)?;
        check_range("rmsprop", "momentum", config.momentum, 0.0, 1.0, false)?;
        Ok(RmsProp { config, state: StateMap::default(), velocity: StateMap::default() })
    }

    /// The settings.
    pub fn config(&self) -> &RmsPropConfig {
        &self.config
    }

    /// The running average of squared gradients `S` of a parameter (`None` before its first step).
    pub fn square_avg(&self, p: &Param<T>) -> Option<&[T]> {
        self.state.peek(p.id()).map(|s| s.bufs[0].as_slice())
    }

    /// The last step `dW` of a parameter (`None` before its first step or without momentum).
    pub fn velocity(&self, p: &Param<T>) -> Option<&[T]> {
        self.velocity.peek(p.id()).map(|s| s.bufs[0].as_slice())
    }
}

impl<T: Float> Optimizer<T> for RmsProp<T> {
    fn step(&mut self, params: &mut [&mut Param<T>], grads: &dyn GradSource<T>) -> Result<()> {
        let c = self.config;
        let (eta, gamma, eps, rho) = (T::of(c.lr), T::of(c.decay), T::of(c.eps), T::of(c.weight_decay));
        let (one_minus, mu) = (T::one() - gamma, T::of(c.momentum));
        let (state, velocity) = (&mut self.state, &mut self.velocity);
        check_eps_in::<T>("rmsprop", c.eps)?;
        for_each_param("rmsprop", c.lr, c.allow_missing_grad, params, grads, |id, w, g| {
            let s = state.get("rmsprop", id, w.len())?;
            s.steps += 1;
            let [avg] = &mut s.bufs;
            let v = if c.momentum == 0.0 {
                None
            } else {
                Some((&mut velocity.get("rmsprop", id, w.len())?.bufs[0][..], mu))
            };
            template_step(w, g, rho, v, |i, g| {
                avg[i] = gamma * avg[i] + one_minus * g * g;
                eta * g / (avg[i].sqrt() + eps)
            });
            Ok(())
        })
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
    fn rmsprop_first_two_steps_follow_the_formula() {
        let (eta, gamma, eps) = (0.01, 0.9, 1e-8);
        let mut opt = RmsProp::new(RmsPropConfig { lr: eta, ..Default::default() }).unwrap();
        let [w1, w2] = two_steps(&mut opt);
        // Step 1: S1 = 0.1 g^2 = [0.4, 14.4], so |step| = eta / sqrt(0.1) = 0.0316...
        let g = grad_by_hand(&W0);
        let s1 = [(1.0 - gamma) * g[0] * g[0], (1.0 - gamma) * g[1] * g[1]];
        assert_close(&s1, &[0.4, 14.4]);
        assert_close(&w1, &[W0[0] - eta * g[0] / (s1[0].sqrt() + eps), W0[1] - eta * g[1] / (s1[1].sqrt() + eps)]);
        assert!((w1[0] - (1.0 + 0.01 / 0.1f64.sqrt())).abs() < 1e-8);
        // Step 2: S2 = gamma S1 + (1 - gamma) g^2.
        let g = grad_by_hand(&w1);
        let s2 = [gamma * s1[0] + (1.0 - gamma) * g[0] * g[0], gamma * s1[1] + (1.0 - gamma) * g[1] * g[1]];
        assert_close(&w2, &[w1[0] - eta * g[0] / (s2[0].sqrt() + eps), w1[1] - eta * g[1] / (s2[1].sqrt() + eps)]);
    }

    #[test]
    fn rmsprop_rejects_a_decay_of_one() {
        let err = RmsProp::<f64>::new(RmsPropConfig { decay: 1.0, ..Default::default() }).unwrap_err();
        assert_eq!(err.to_string(), "rmsprop: decay = 1 is outside [0, 1)");
    }
}
