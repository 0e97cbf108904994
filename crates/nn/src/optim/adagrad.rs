//! AdaGrad (Duchi et al., 2011): a per-weight learning rate that shrinks with the sum of squared gradients.
//!
//! ```text
//! g   = grad E(W_{t-1}) + rho W_{t-1}
//! G_t = G_{t-1} + g^2                       (G_0 = initial_accumulator)
//! W_t = W_{t-1} - eta g / (sqrt(G_t) + eps)
//! ```
//!
//! `eps` sits outside the square root, as in PyTorch's `Adagrad` (whose defaults, `eta = 0.01` and
//! `eps = 1e-10`, are used here); it only guards against division by zero.
//!
//! ## Lecture 003 form: momentum on top
//!
//! Lecture 003 writes every first-order method in one template, `dW_t = eta_t (g_t + rho W) + mu dW_{t-1}`,
//! `W_t = W_{t-1} - dW_t`, with AdaGrad's per-weight rate `eta_t = eta / (sqrt(G_t) + eps)`. With
//! `momentum = mu > 0` the step is
//!
//! ```text
//! dW_t = eta g / (sqrt(G_t) + eps) + mu dW_{t-1}        (dW_0 = 0)
//! W_t  = W_{t-1} - dW_t
//! ```
//!
//! `mu = 0` (the default) is PyTorch's `Adagrad` exactly (it has no momentum).

use super::{
    Buffers, GradSource, Optimizer, StateMap, check_eps_in, check_positive, check_range, for_each_param, template_step,
};
use crate::error::Result;
use tapegrad::{Float, Param};

/// Settings of [`AdaGrad`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaGradConfig {
    /// Learning rate `eta` (default 0.01).
    pub lr: f64,
    /// Added to the root of the accumulator (default 1e-10).
    pub eps: f64,
    /// Weight decay `rho` >= 0, added to the gradient as `rho W` (default 0).
    pub weight_decay: f64,
    /// Starting value of the accumulator `G` (default 0).
    pub initial_accumulator: f64,
    /// Momentum `mu` in `[0, 1)` on the AdaGrad step, lecture 003's template (default 0: PyTorch's AdaGrad).
    pub momentum: f64,
    /// Skip parameters without a gradient instead of failing (default false).
    pub allow_missing_grad: bool,
}

impl Default for AdaGradConfig {
    fn default() -> Self {
        AdaGradConfig {
            lr: 0.01,
            eps: 1e-10,
            weight_decay: 0.0,
            initial_accumulator: 0.0,
            momentum: 0.0,
            allow_missing_grad: false,
        }
    }
}

/// AdaGrad; see the module docs.
///
/// ```
/// use tapegrad_nn::optim::{AdaGrad, AdaGradConfig};
/// let opt = AdaGrad::<f32>::new(AdaGradConfig { lr: 0.1, ..Default::default() })?;
/// # Ok::<(), tapegrad_nn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct AdaGrad<T: Float> {
    config: AdaGradConfig,
    state: StateMap<Buffers<T, 1>>,
    velocity: StateMap<Buffers<T, 1>>,
}

impl<T: Float> AdaGrad<T> {
    /// An optimizer with these settings.
    ///
    /// # Errors
    /// [`crate::Error::Config`] when a setting is negative or not finite.
    pub fn new(config: AdaGradConfig) -> Result<Self> {
        check_positive("adagrad", "lr", config.lr)?;
        check_positive("adagrad", "eps", config.eps)?;
        for (name, v) in [("weight_decay", config.weight_decay), ("initial_accumulator", config.initial_accumulator)] {
            check_range("adagrad", name, v, 0.0, f64::INFINITY, false)?;
        }
        check_range("adagrad", "momentum", config.momentum, 0.0, 1.0, false)?;
        Ok(AdaGrad { config, state: StateMap::default(), velocity: StateMap::default() })
    }

    /// The settings.
    pub fn config(&self) -> &AdaGradConfig {
        &self.config
    }

    /// The accumulated squared gradients `G` of a parameter (`None` before its first step).
    pub fn accumulator(&self, p: &Param<T>) -> Option<&[T]> {
        self.state.peek(p.id()).map(|s| s.bufs[0].as_slice())
    }

    /// The last step `dW` of a parameter (`None` before its first step or without momentum).
    pub fn velocity(&self, p: &Param<T>) -> Option<&[T]> {
        self.velocity.peek(p.id()).map(|s| s.bufs[0].as_slice())
    }
}

impl<T: Float> Optimizer<T> for AdaGrad<T> {
    fn step(&mut self, params: &mut [&mut Param<T>], grads: &dyn GradSource<T>) -> Result<()> {
        let c = self.config;
        let (eta, eps, rho, g0) = (T::of(c.lr), T::of(c.eps), T::of(c.weight_decay), T::of(c.initial_accumulator));
        let mu = T::of(c.momentum);
        let (state, velocity) = (&mut self.state, &mut self.velocity);
        check_eps_in::<T>("adagrad", c.eps)?;
        for_each_param("adagrad", c.lr, c.allow_missing_grad, params, grads, |id, w, g| {
            let s = state.get("adagrad", id, w.len())?;
            let [acc] = &mut s.bufs;
            if s.steps == 0 {
                acc.fill(g0);
            }
            s.steps += 1;
            let v = if c.momentum == 0.0 {
                None
            } else {
                Some((&mut velocity.get("adagrad", id, w.len())?.bufs[0][..], mu))
            };
            template_step(w, g, rho, v, |i, g| {
                acc[i] += g * g;
                eta * g / (acc[i].sqrt() + eps)
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
    fn adagrad_first_two_steps_follow_the_formula() {
        let (eta, eps) = (0.1, 1e-10);
        let mut opt = AdaGrad::new(AdaGradConfig { lr: eta, ..Default::default() }).unwrap();
        let [w1, w2] = two_steps(&mut opt);
        // Step 1: G1 = g^2 = [4, 144], so each weight moves by eta against the sign of its gradient.
        let g = grad_by_hand(&W0);
        let acc1 = [g[0] * g[0], g[1] * g[1]];
        assert_eq!(acc1, [4.0, 144.0]);
        let want1 = [W0[0] - eta * g[0] / (acc1[0].sqrt() + eps), W0[1] - eta * g[1] / (acc1[1].sqrt() + eps)];
        assert_close(&w1, &want1);
        assert!((w1[0] - 1.1).abs() < 1e-10 && (w1[1] + 1.9).abs() < 1e-10, "{w1:?}");
        // Step 2: g = [-1.9, -11.6], G2 = G1 + g^2 = [7.61, 278.56].
        let g = grad_by_hand(&w1);
        let acc2 = [acc1[0] + g[0] * g[0], acc1[1] + g[1] * g[1]];
        assert!((acc2[0] - 7.61).abs() < 1e-9 && (acc2[1] - 278.56).abs() < 1e-9, "{acc2:?}");
        let want2 = [w1[0] - eta * g[0] / (acc2[0].sqrt() + eps), w1[1] - eta * g[1] / (acc2[1].sqrt() + eps)];
        assert_close(&w2, &want2);
    }

    #[test]
    fn adagrad_starts_from_the_initial_accumulator() {
        let mut opt = AdaGrad::new(AdaGradConfig { lr: 0.1, initial_accumulator: 12.0, ..Default::default() }).unwrap();
        let [w1, _] = two_steps(&mut opt);
        // G1 = 12 + [4, 144] = [16, 156].
        let g = grad_by_hand(&W0);
        assert_close(&w1, &[W0[0] - 0.1 * g[0] / (16f64.sqrt() + 1e-10), W0[1] - 0.1 * g[1] / (156f64.sqrt() + 1e-10)]);
    }

    #[test]
    fn adagrad_rejects_a_negative_eps() {
        let err = AdaGrad::<f32>::new(AdaGradConfig { eps: -1.0, ..Default::default() }).unwrap_err();
        assert_eq!(err.to_string(), "adagrad: eps = -1 must be finite and > 0");
    }
}
