//! Stochastic gradient descent with momentum ("heavy ball"), Nesterov momentum and weight decay.
//!
//! Lecture 003's template, which every first-order method here shares, with learning rate `eta`, momentum `mu`
//! and weight decay `rho`:
//!
//! ```text
//! dW_t = eta (grad E(W_{t-1}) + rho W_{t-1}) + mu dW_{t-1}
//! W_t  = W_{t-1} - dW_t
//! ```
//!
//! The step `dW` includes the learning rate. With a constant learning rate this is exactly PyTorch's
//! `SGD(lr, momentum, weight_decay)` (there `v = mu v + g`, `W -= eta v`, so `dW = eta v`); after a change of
//! learning rate the two differ: here the old velocity keeps the old rate.
//!
//! ## Nesterov
//!
//! Nesterov's momentum evaluates the gradient at the look-ahead point `W - mu dW`. Re-evaluating the loss there
//! would need a second forward pass, so, like PyTorch and Sutskever et al. (2013), the optimizer stores the
//! look-ahead point itself, `V_t = W_t - mu dW_t`, as the parameter. Substituting into the update gives a step that
//! needs only the gradient at the stored point:
//!
//! ```text
//! dW_t = eta (grad E(V_{t-1}) + rho V_{t-1}) + mu dW_{t-1}
//! V_t  = V_{t-1} - (eta (grad E(V_{t-1}) + rho V_{t-1}) + mu dW_t)
//! ```
//!
//! This reparametrised form is PyTorch's `SGD(nesterov=True)`. Lecture 003 writes the literal form, the
//! gradient taken at the shifted weights with the parameters holding `W`; that is
//! [`super::NesterovLookAhead`]. Both visit the same look-ahead points (`V_t` here is its `W_t - mu dW_t`).

use super::{Optimizer, ParamState, StateMap, check_positive, check_range, for_each_param};
use crate::error::Result;
use tapegrad::{Float, Param};

/// Settings of [`Sgd`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    /// Learning rate `eta` (default 0.01).
    pub lr: f64,
    /// Momentum `mu` in `[0, 1)` (default 0: plain gradient descent).
    pub momentum: f64,
    /// Weight decay `rho` >= 0, added to the gradient as `rho W` (default 0).
    pub weight_decay: f64,
    /// Nesterov momentum instead of heavy ball (default false).
    pub nesterov: bool,
    /// Skip parameters without a gradient instead of failing (default false).
    pub allow_missing_grad: bool,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig { lr: 0.01, momentum: 0.0, weight_decay: 0.0, nesterov: false, allow_missing_grad: false }
    }
}

/// The last step `dW` of one parameter.
#[derive(Debug, Clone)]
struct Velocity<T>(Vec<T>);

impl<T: Float> ParamState for Velocity<T> {
    fn zeroed(len: usize) -> Self {
        Velocity(vec![T::zero(); len])
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// Gradient descent with optional momentum (heavy ball or Nesterov) and weight decay; see the module docs.
///
/// ```
/// use tapegrad_nn::optim::{Sgd, SgdConfig};
/// let sgd = Sgd::<f32>::new(SgdConfig { lr: 0.1, momentum: 0.9, nesterov: true, ..Default::default() })?;
/// # Ok::<(), tapegrad_nn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Sgd<T: Float> {
    config: SgdConfig,
    state: StateMap<Velocity<T>>,
}

impl<T: Float> Sgd<T> {
    /// An optimizer with these settings.
    ///
    /// # Errors
    /// [`crate::Error::Config`] when a setting is out of range (negative rate or decay, momentum outside `[0, 1)`).
    pub fn new(config: SgdConfig) -> Result<Self> {
        check_positive("sgd", "lr", config.lr)?;
        check_range("sgd", "momentum", config.momentum, 0.0, 1.0, false)?;
        check_range("sgd", "weight_decay", config.weight_decay, 0.0, f64::INFINITY, false)?;
        Ok(Sgd { config, state: StateMap::default() })
    }

    /// The settings.
    pub fn config(&self) -> &SgdConfig {
        &self.config
    }

    /// The last step `dW` of a parameter (`None` before its first step or without momentum).
    pub fn velocity(&self, p: &Param<T>) -> Option<&[T]> {
        self.state.peek(p.id()).map(|v| v.0.as_slice())
    }
}

impl<T: Float> Optimizer<T> for Sgd<T> {
    fn step(&mut self, params: &mut [&mut Param<T>], grads: &dyn super::GradSource<T>) -> Result<()> {
        let c = self.config;
        let (eta, mu, rho) = (T::of(c.lr), T::of(c.momentum), T::of(c.weight_decay));
        let state = &mut self.state;
        for_each_param("sgd", c.lr, c.allow_missing_grad, params, grads, |id, w, g| {
            if c.momentum == 0.0 {
                // No state to keep: dW = eta (g + rho W).
                super::in_halves(w, g, &mut [], |w, g, _| {
                    for (w, &g) in w.iter_mut().zip(g) {
                        *w -= eta * (g + rho * *w);
                    }
                });
                return Ok(());
            }
            let v = &mut state.get("sgd", id, w.len())?.0;
            super::in_halves(w, g, v, |w, g, v| {
                for ((w, &g), v) in w.iter_mut().zip(g).zip(v.iter_mut()) {
                    let step = eta * (g + rho * *w);
                    *v = step + mu * *v;
                    *w -= if c.nesterov { step + mu * *v } else { *v };
                }
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
    use crate::optim::testing::{W0, assert_close, grad_by_hand, quadratic_grads, two_steps};
    use tapegrad::Tensor;

    const ETA: f64 = 0.1;
    const MU: f64 = 0.9;
    const RHO: f64 = 0.01;

    fn sgd(nesterov: bool) -> Sgd<f64> {
        Sgd::new(SgdConfig { lr: ETA, momentum: MU, weight_decay: RHO, nesterov, ..Default::default() }).unwrap()
    }

    #[test]
    fn heavy_ball_first_two_steps_follow_the_lecture_formula() {
        let [w1, w2] = two_steps(&mut sgd(false));
        // Step 1: g = 2 a (w0 - c) = [-2, -12]; dW1 = eta (g + rho w0) + mu 0.
        let g = grad_by_hand(&W0);
        assert_eq!(g, [-2.0, -12.0]);
        let dw1 = [ETA * (g[0] + RHO * W0[0]), ETA * (g[1] + RHO * W0[1])];
        assert_close(&w1, &[W0[0] - dw1[0], W0[1] - dw1[1]]);
        assert_close(&w1, &[1.199, -0.798]);
        // Step 2: dW2 = eta (g(w1) + rho w1) + mu dW1.
        let g = grad_by_hand(&w1);
        let dw2 = [ETA * (g[0] + RHO * w1[0]) + MU * dw1[0], ETA * (g[1] + RHO * w1[1]) + MU * dw1[1]];
        assert_close(&w2, &[w1[0] - dw2[0], w1[1] - dw2[1]]);
        assert_close(&w2, &[1.557001, 1.003798]);
    }

    #[test]
    fn nesterov_first_two_steps_follow_the_look_ahead_form() {
        let [w1, w2] = two_steps(&mut sgd(true));
        // V1 = V0 - (eta g' + mu dW1) with g' = g + rho V0 and dW1 = eta g'.
        let g = grad_by_hand(&W0);
        let s1 = [ETA * (g[0] + RHO * W0[0]), ETA * (g[1] + RHO * W0[1])];
        let dw1 = s1;
        assert_close(&w1, &[W0[0] - (s1[0] + MU * dw1[0]), W0[1] - (s1[1] + MU * dw1[1])]);
        assert_close(&w1, &[1.3781, 0.2838]);
        let g = grad_by_hand(&w1);
        let s2 = [ETA * (g[0] + RHO * w1[0]), ETA * (g[1] + RHO * w1[1])];
        let dw2 = [s2[0] + MU * dw1[0], s2[1] + MU * dw1[1]];
        assert_close(&w2, &[w1[0] - (s2[0] + MU * dw2[0]), w1[1] - (s2[1] + MU * dw2[1])]);
        assert_close(&w2, &[1.84483261, 1.80119278]);
    }

    #[test]
    fn plain_sgd_keeps_no_state_and_steps_along_the_gradient() {
        let mut opt = Sgd::new(SgdConfig { lr: ETA, ..Default::default() }).unwrap();
        let [w1, _] = two_steps(&mut opt);
        assert_close(&w1, &[1.0 + 0.2, -2.0 + 1.2]);
        let w = Param::new(Tensor::<f64>::zeros([2]).unwrap());
        assert!(opt.velocity(&w).is_none());
    }

    #[test]
    fn sgd_rejects_momentum_of_one() {
        let err = Sgd::<f64>::new(SgdConfig { momentum: 1.0, ..Default::default() }).unwrap_err();
        assert_eq!(err.to_string(), "sgd: momentum = 1 is outside [0, 1)");
    }

    #[test]
    fn sgd_fails_on_a_parameter_without_gradient_and_updates_nothing() {
        let mut used = Param::new(Tensor::from_slice(&W0, [2]).unwrap());
        let mut unused = Param::new(Tensor::<f64>::ones([3]).unwrap());
        let g = quadratic_grads(&used, &[1.0, 1.0], &[0.0, 0.0]);
        let mut opt = sgd(false);
        let err = opt.step(&mut [&mut used, &mut unused], &g).unwrap_err().to_string();
        assert!(err.starts_with("sgd: parameter ParamId("), "{err}");
        assert!(err.contains("with shape [3] received no gradient"), "{err}");
        assert_eq!(used.value().to_vec(), W0.to_vec());
    }

    #[test]
    fn sgd_skips_a_parameter_without_gradient_when_allowed() {
        let mut used = Param::new(Tensor::from_slice(&W0, [2]).unwrap());
        let mut unused = Param::new(Tensor::<f64>::ones([3]).unwrap());
        let g = quadratic_grads(&used, &[1.0, 1.0], &[0.0, 0.0]);
        let mut opt = Sgd::new(SgdConfig { lr: 0.5, allow_missing_grad: true, ..Default::default() }).unwrap();
        opt.step(&mut [&mut used, &mut unused], &g).unwrap();
        assert_eq!(used.value().to_vec(), vec![0.0, 0.0]);
        assert_eq!(unused.value().to_vec(), vec![1.0; 3]);
    }

    #[test]
    fn sgd_rejects_a_negative_learning_rate_set_later() {
        let mut w = Param::new(Tensor::from_slice(&W0, [2]).unwrap());
        let g = quadratic_grads(&w, &[1.0, 1.0], &[0.0, 0.0]);
        let mut opt = sgd(false);
        opt.set_lr(-1.0);
        let err = opt.step(&mut [&mut w], &g).unwrap_err();
        assert_eq!(err.to_string(), "sgd: learning rate -1 must be finite and >= 0");
    }

    #[test]
    fn a_step_after_the_tape_is_dropped_updates_the_storage_in_place() {
        let mut w = Param::new(Tensor::from_slice(&W0, [2]).unwrap());
        let before = w.value().data().as_ptr();
        let g = quadratic_grads(&w, &[1.0, 1.0], &[0.0, 0.0]); // the tape lives and dies in here
        sgd(true).step(&mut [&mut w], &g).unwrap();
        assert_eq!(w.value().data().as_ptr(), before, "the step copied the parameter");
        assert_ne!(w.value().to_vec(), W0.to_vec());
    }
}
