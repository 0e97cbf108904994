//! AdaDelta (Zeiler, 2012): RMSProp whose step size is itself a running RMS of past steps, so the units of
//! the step match the units of the weights and no learning rate is needed. Zeiler's form (one decay, as in
//! PyTorch), the default:
//!
//! ```text
//! g    = grad E(W_{t-1}) + rho W_{t-1}
//! S_t  = gamma S_{t-1} + (1 - gamma) g^2                    (S_0 = 0)
//! dW_t = sqrt(D_{t-1} + eps) / sqrt(S_t + eps) * g
//! D_t  = gamma D_{t-1} + (1 - gamma) dW_t^2                 (D_0 = 0)
//! W_t  = W_{t-1} - eta dW_t
//! ```
//!
//! `eta` is a plain multiplier, 1 by default (Zeiler's method has none; PyTorch keeps one as `lr`); `D`
//! accumulates the step before that multiplier, as in PyTorch. Defaults `gamma = 0.9`, `eps = 1e-6` are
//! PyTorch's. With `D_0 = 0` the first steps are about `sqrt(eps) / sqrt(1 - gamma)` in size, so AdaDelta starts
//! slowly; a larger `eps` (1e-4) starts faster.
//!
//! ## Lecture 003 form: two decays and momentum
//!
//! The slide gives `S` and `D` their own decays, `alpha` for the squared gradients and `beta` for the squared
//! steps, and stacks momentum on the step as in lecture 003's template (`dW_t = eta_t g + mu dW_{t-1}`):
//!
//! ```text
//! S_t  = alpha S_{t-1} + (1 - alpha) g^2
//! dW_t = sqrt(D_{t-1} + eps) / sqrt(S_t + eps) * g + mu dW_{t-1}
//! D_t  = beta D_{t-1} + (1 - beta) dW_t^2
//! W_t  = W_{t-1} - eta dW_t
//! ```
//!
//! `decay` is `alpha`; `step_decay = Some(beta)` sets `beta` (`None`, the default, uses `alpha` for both, as
//! Zeiler and PyTorch do); `momentum = mu` (default 0). Our reading where the slide is silent: `D` averages the
//! whole step `dW_t`, momentum included (the slide's `D` is the average of the squared weight changes), and the
//! multiplier `eta` (1 on the slide, which has none) scales neither `D` nor the momentum term, so with
//! `eta = 1` the weight change is exactly `dW_t`. With `mu = 0` and `beta = alpha` this is the form above.

use super::{Buffers, GradSource, Optimizer, StateMap, check_eps_in, check_positive, check_range, for_each_param};
use crate::error::Result;
use tapegrad::{Float, Param};

/// Settings of [`AdaDelta`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaDeltaConfig {
    /// Multiplier `eta` of the step (default 1).
    pub lr: f64,
    /// Decay `gamma` of both running averages, in `[0, 1)` (default 0.9); the slide's `alpha` (decay of `S`) when
    /// `step_decay` is set.
    pub decay: f64,
    /// Decay `beta` of the squared-step average `D`, in `[0, 1)`, lecture 003's second decay (default `None`:
    /// `decay` for both).
    pub step_decay: Option<f64>,
    /// Momentum `mu` in `[0, 1)` on the step, lecture 003's template (default 0).
    pub momentum: f64,
    /// Added inside both roots (default 1e-6).
    pub eps: f64,
    /// Weight decay `rho` >= 0, added to the gradient as `rho W` (default 0).
    pub weight_decay: f64,
    /// Skip parameters without a gradient instead of failing (default false).
    pub allow_missing_grad: bool,
}

impl Default for AdaDeltaConfig {
    fn default() -> Self {
        AdaDeltaConfig {
            lr: 1.0,
            decay: 0.9,
            step_decay: None,
            momentum: 0.0,
            eps: 1e-6,
            weight_decay: 0.0,
            allow_missing_grad: false,
        }
    }
}

/// AdaDelta; see the module docs.
///
/// ```
/// use tapegrad_nn::optim::{AdaDelta, AdaDeltaConfig};
/// let opt = AdaDelta::<f64>::new(AdaDeltaConfig::default())?;
/// # Ok::<(), tapegrad_nn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct AdaDelta<T: Float> {
    config: AdaDeltaConfig,
    state: StateMap<Buffers<T, 3>>,
}

impl<T: Float> AdaDelta<T> {
    /// An optimizer with these settings.
    ///
    /// # Errors
    /// [`crate::Error::Config`] when a setting is out of range (decay outside `[0, 1)`, a negative value).
    pub fn new(config: AdaDeltaConfig) -> Result<Self> {
        check_positive("adadelta", "lr", config.lr)?;
        check_range("adadelta", "decay", config.decay, 0.0, 1.0, false)?;
        if let Some(beta) = config.step_decay {
            check_range("adadelta", "step_decay", beta, 0.0, 1.0, false)?;
        }
        check_range("adadelta", "momentum", config.momentum, 0.0, 1.0, false)?;
        check_positive("adadelta", "eps", config.eps)?;
        check_range("adadelta", "weight_decay", config.weight_decay, 0.0, f64::INFINITY, false)?;
        Ok(AdaDelta { config, state: StateMap::default() })
    }

    /// The settings.
    pub fn config(&self) -> &AdaDeltaConfig {
        &self.config
    }

    /// The running averages `(S, D)` of squared gradients and squared steps (`None` before the first step).
    pub fn averages(&self, p: &Param<T>) -> Option<(&[T], &[T])> {
        self.state.peek(p.id()).map(|s| (s.bufs[0].as_slice(), s.bufs[1].as_slice()))
    }
}

impl<T: Float> Optimizer<T> for AdaDelta<T> {
    fn step(&mut self, params: &mut [&mut Param<T>], grads: &dyn GradSource<T>) -> Result<()> {
        let c = self.config;
        let (eta, gamma, eps, rho) = (T::of(c.lr), T::of(c.decay), T::of(c.eps), T::of(c.weight_decay));
        let beta = T::of(c.step_decay.unwrap_or(c.decay));
        let (one_minus, one_minus_beta, mu) = (T::one() - gamma, T::one() - beta, T::of(c.momentum));
        let state = &mut self.state;
        check_eps_in::<T>("adadelta", c.eps)?;
        for_each_param("adadelta", c.lr, c.allow_missing_grad, params, grads, |id, w, g| {
            let st = state.get("adadelta", id, w.len())?;
            st.steps += 1;
            let [s_avg, d_avg, last] = &mut st.bufs;
            let it = w.iter_mut().zip(g).zip(s_avg.iter_mut()).zip(d_avg.iter_mut()).zip(last.iter_mut());
            for ((((w, &g), s), d), last) in it {
                let g = g + rho * *w;
                *s = gamma * *s + one_minus * g * g;
                let dw = (*d + eps).sqrt() / (*s + eps).sqrt() * g + mu * *last;
                *d = beta * *d + one_minus_beta * dw * dw;
                *last = dw;
                *w -= eta * dw;
            }
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
    fn adadelta_first_two_steps_follow_the_lectures_s_and_d_form() {
        let (gamma, eps): (f64, f64) = (0.9, 1e-6);
        let mut opt = AdaDelta::new(AdaDeltaConfig::default()).unwrap();
        let [w1, w2] = two_steps(&mut opt);
        // Step 1: S1 = 0.1 g^2 = [0.4, 14.4]; dW1 = sqrt(0 + eps) / sqrt(S1 + eps) g; D1 = 0.1 dW1^2.
        let g = grad_by_hand(&W0);
        let s1 = [(1.0 - gamma) * g[0] * g[0], (1.0 - gamma) * g[1] * g[1]];
        let dw1 = [eps.sqrt() / (s1[0] + eps).sqrt() * g[0], eps.sqrt() / (s1[1] + eps).sqrt() * g[1]];
        let d1 = [(1.0 - gamma) * dw1[0] * dw1[0], (1.0 - gamma) * dw1[1] * dw1[1]];
        assert_close(&w1, &[W0[0] - dw1[0], W0[1] - dw1[1]]);
        // Both weights move by about sqrt(eps / 0.1) = 0.00316 (the slow start).
        assert!((w1[0] - W0[0] - 0.001 / 0.1f64.sqrt()).abs() < 1e-8);
        // Step 2.
        let g = grad_by_hand(&w1);
        let s2 = [gamma * s1[0] + (1.0 - gamma) * g[0] * g[0], gamma * s1[1] + (1.0 - gamma) * g[1] * g[1]];
        let dw2 =
            [(d1[0] + eps).sqrt() / (s2[0] + eps).sqrt() * g[0], (d1[1] + eps).sqrt() / (s2[1] + eps).sqrt() * g[1]];
        assert_close(&w2, &[w1[0] - dw2[0], w1[1] - dw2[1]]);
        let d2 = [gamma * d1[0] + (1.0 - gamma) * dw2[0] * dw2[0], gamma * d1[1] + (1.0 - gamma) * dw2[1] * dw2[1]];
        let mut p = tapegrad::Param::new(tapegrad::Tensor::from_slice(&W0, [2]).unwrap());
        let mut opt = AdaDelta::new(AdaDeltaConfig::default()).unwrap();
        for _ in 0..2 {
            let gr = crate::optim::testing::quadratic_grads(&p, &crate::optim::testing::A, &crate::optim::testing::C);
            opt.step(&mut [&mut p], &gr).unwrap();
        }
        let (s, d) = opt.averages(&p).unwrap();
        assert_close(s, &s2);
        assert_close(d, &d2);
    }

    #[test]
    fn adadelta_rejects_a_negative_decay() {
        let err = AdaDelta::<f64>::new(AdaDeltaConfig { decay: -0.5, ..Default::default() }).unwrap_err();
        assert_eq!(err.to_string(), "adadelta: decay = -0.5 is outside [0, 1)");
    }
}
