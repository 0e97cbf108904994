//! Adam (Kingma and Ba, 2015): RMSProp with momentum, both running averages bias-corrected.
//!
//! ```text
//! g     = grad E(W_{t-1}) + rho W_{t-1}          (rho = weight_decay, the L2 form; see AdamW for the decoupled one)
//! m_t   = beta1 m_{t-1} + (1 - beta1) g          (m_0 = 0)
//! v_t   = beta2 v_{t-1} + (1 - beta2) g^2        (v_0 = 0)
//! W_t   = W_{t-1} - eta / (1 - beta1^t) * m_t / (sqrt(v_t) / sqrt(1 - beta2^t) + eps)
//! ```
//!
//! The last line is `eta m_hat / (sqrt(v_hat) + eps)` with `m_hat = m / (1 - beta1^t)` and
//! `v_hat = v / (1 - beta2^t)`, written the way PyTorch evaluates it. `t` counts the steps of each parameter.
//! Defaults: `eta = 1e-3`, `beta1 = 0.9`, `beta2 = 0.999`, `eps = 1e-8`. Checked against `torch.optim.Adam` by
//! the fixture test in `crates/nn/tests/optim_pytorch.rs`.

use super::{Buffers, GradSource, Optimizer, StateMap, check_eps_in, check_positive, check_range, for_each_param};
use crate::error::Result;
use tapegrad::{Float, Param};

/// Settings of [`Adam`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Learning rate `eta` (default 1e-3).
    pub lr: f64,
    /// Decay of the first moment, in `[0, 1)` (default 0.9).
    pub beta1: f64,
    /// Decay of the second moment, in `[0, 1)` (default 0.999).
    pub beta2: f64,
    /// Added to the corrected root of the second moment (default 1e-8).
    pub eps: f64,
    /// L2 weight decay `rho` >= 0, added to the gradient as `rho W` (default 0). Use [`super::AdamW`] for
    /// decoupled decay.
    pub weight_decay: f64,
    /// Skip parameters without a gradient instead of failing (default false).
    pub allow_missing_grad: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, allow_missing_grad: false }
    }
}

impl AdamConfig {
    /// Checks every setting, naming the optimizer `what` in the error.
    pub(crate) fn validate(&self, what: &'static str) -> Result<()> {
        check_positive(what, "lr", self.lr)?;
        check_range(what, "beta1", self.beta1, 0.0, 1.0, false)?;
        check_range(what, "beta2", self.beta2, 0.0, 1.0, false)?;
        check_positive(what, "eps", self.eps)?;
        check_range(what, "weight_decay", self.weight_decay, 0.0, f64::INFINITY, false)
    }
}

/// Adam; see the module docs.
///
/// ```
/// use tapegrad_nn::optim::{Adam, AdamConfig};
/// let opt = Adam::<f32>::new(AdamConfig { lr: 1e-2, ..Default::default() })?;
/// # Ok::<(), tapegrad_nn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Adam<T: Float> {
    config: AdamConfig,
    state: StateMap<Buffers<T, 2>>,
}

impl<T: Float> Adam<T> {
    /// An optimizer with these settings.
    ///
    /// # Errors
    /// [`crate::Error::Config`] when a setting is out of range (a beta outside `[0, 1)`, a negative value).
    pub fn new(config: AdamConfig) -> Result<Self> {
        config.validate("adam")?;
        Ok(Adam { config, state: StateMap::default() })
    }

    /// The settings.
    pub fn config(&self) -> &AdamConfig {
        &self.config
    }

    /// The moments `(m, v)` of a parameter and its step count (`None` before its first step).
    pub fn moments(&self, p: &Param<T>) -> Option<(&[T], &[T], u64)> {
        self.state.peek(p.id()).map(|s| (s.bufs[0].as_slice(), s.bufs[1].as_slice(), s.steps))
    }
}

impl<T: Float> Optimizer<T> for Adam<T> {
    fn step(&mut self, params: &mut [&mut Param<T>], grads: &dyn GradSource<T>) -> Result<()> {
        adam_step("adam", &self.config, 0.0, &mut self.state, params, grads)
    }

    fn lr(&self) -> f64 {
        self.config.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.config.lr = lr;
    }
}

/// One Adam step for every parameter; `decoupled_decay` > 0 first shrinks each weight by `1 - eta decay`
/// (AdamW).
pub(crate) fn adam_step<T: Float>(
    name: &'static str,
    c: &AdamConfig,
    decoupled_decay: f64,
    state: &mut StateMap<Buffers<T, 2>>,
    params: &mut [&mut Param<T>],
    grads: &dyn GradSource<T>,
) -> Result<()> {
    let (b1, b2, eps, rho) = (T::of(c.beta1), T::of(c.beta2), T::of(c.eps), T::of(c.weight_decay));
    let shrink = T::one() - T::of(c.lr * decoupled_decay);
    check_eps_in::<T>(name, c.eps)?;
    for_each_param(name, c.lr, c.allow_missing_grad, params, grads, |id, w, g| {
        let s = state.get(name, id, w.len())?;
        s.steps += 1;
        // Bias corrections once per tensor, in f64; past i32::MAX steps beta^t is 0 anyway.
        let t = i32::try_from(s.steps).unwrap_or(i32::MAX);
        let step_size = T::of(c.lr / (1.0 - c.beta1.powi(t)));
        let bc2_sqrt = T::of((1.0 - c.beta2.powi(t)).sqrt());
        let [m, v] = &mut s.bufs;
        // Indexing equal-length slices (bounds checked once, here) lets the loop vectorise; a zip of four
        // iterators compiled to scalar divisions and square roots (half of a digits epoch).
        let n = w.len();
        let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
        if decoupled_decay > 0.0 {
            for w in w.iter_mut() {
                *w *= shrink;
            }
        }
        for i in 0..n {
            let gi = g[i] + rho * w[i];
            m[i] = b1 * m[i] + (T::one() - b1) * gi;
            v[i] = b2 * v[i] + (T::one() - b2) * gi * gi;
            w[i] -= step_size * m[i] / (v[i].sqrt() / bc2_sqrt + eps);
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::testing::{W0, assert_close, grad_by_hand, two_steps};

    #[test]
    fn adam_first_two_steps_follow_the_bias_corrected_formula() {
        let (eta, b1, b2, eps) = (0.1, 0.9, 0.999, 1e-8);
        let mut opt = Adam::new(AdamConfig { lr: eta, ..Default::default() }).unwrap();
        let [w1, w2] = two_steps(&mut opt);
        // Step 1: m_hat = g and v_hat = g^2, so every weight moves by eta against its gradient's sign.
        let g = grad_by_hand(&W0);
        assert_close(&w1, &[W0[0] + eta * (1.0 - eps / 2.0), W0[1] - eta * (-1.0 + eps / 12.0)]);
        let m1 = [(1.0 - b1) * g[0], (1.0 - b1) * g[1]];
        let v1 = [(1.0 - b2) * g[0] * g[0], (1.0 - b2) * g[1] * g[1]];
        // Step 2: m2 = b1 m1 + (1 - b1) g, v2 likewise; corrections 1 - b1^2 = 0.19, 1 - b2^2 = 0.001999.
        let g = grad_by_hand(&w1);
        let mut want = [0.0; 2];
        for i in 0..2 {
            let m2 = b1 * m1[i] + (1.0 - b1) * g[i];
            let v2 = b2 * v1[i] + (1.0 - b2) * g[i] * g[i];
            let (m_hat, v_hat) = (m2 / 0.19, v2 / 0.001999);
            want[i] = w1[i] - eta * m_hat / (v_hat.sqrt() + eps);
        }
        assert_close(&w2, &want);
    }

    #[test]
    fn adam_rejects_a_beta_of_one() {
        let err = Adam::<f64>::new(AdamConfig { beta2: 1.0, ..Default::default() }).unwrap_err();
        assert_eq!(err.to_string(), "adam: beta2 = 1 is outside [0, 1)");
    }

    #[test]
    fn adam_rejects_a_gradient_of_the_wrong_shape() {
        let mut w = Param::new(tapegrad::Tensor::<f64>::zeros([2, 3]).unwrap());
        let mut grads = crate::optim::GradStore::default();
        grads.insert(w.id(), tapegrad::Tensor::zeros([3, 2]).unwrap());
        let mut opt = Adam::new(AdamConfig::default()).unwrap();
        let err = opt.step(&mut [&mut w], &grads).unwrap_err().to_string();
        assert!(err.starts_with("adam: gradient of parameter ParamId("), "{err}");
        assert!(err.ends_with("has shape [3, 2] but the parameter has shape [2, 3]"), "{err}");
        assert!(opt.moments(&w).is_none());
    }

    #[test]
    fn adam_rejects_a_parameter_that_changed_size_between_steps() {
        let mut w = Param::new(tapegrad::Tensor::<f64>::zeros([2]).unwrap());
        let mut opt = Adam::new(AdamConfig::default()).unwrap();
        let mut grads = crate::optim::GradStore::default();
        grads.insert(w.id(), tapegrad::Tensor::ones([2]).unwrap());
        opt.step(&mut [&mut w], &grads).unwrap();
        assert_eq!(opt.moments(&w).unwrap().2, 1);
        w.set(tapegrad::Tensor::zeros([3]).unwrap());
        grads.insert(w.id(), tapegrad::Tensor::ones([3]).unwrap());
        let err = opt.step(&mut [&mut w], &grads).unwrap_err().to_string();
        assert!(
            err.ends_with("has 3 elements but its state was made for 2; it changed size since the last step"),
            "{err}"
        );
    }
}
