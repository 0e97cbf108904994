//! Nesterov's accelerated gradient in lecture 003's literal form: the gradient is taken at the shifted weights.
//!
//! With `dW` the step that is subtracted (`W_t = W_{t-1} - dW_t`), learning rate `eta`, momentum `mu` and
//! weight decay `rho`:
//!
//! ```text
//! W^    = W_{t-1} - mu dW_{t-1}                    (the slide's W + mu dW, dW there being the signed change)
//! dW_t  = eta (grad E(W^) + rho W^) + mu dW_{t-1}
//! W_t   = W_{t-1} - dW_t
//! ```
//!
//! The weights the optimizer keeps are the lecture's `W`, and the gradient is evaluated at another point,
//! `W^`. [`crate::optim::Sgd`] with `nesterov: true` is the reparametrised form of PyTorch and Sutskever et
//! al. (2013): it stores `V = W - mu dW` instead, so the gradient it needs is always at the stored point. Both
//! produce the same sequence of look-ahead points (`V_t = W^_{t+1}`); they differ in which point the
//! parameters hold, and so in the loss a user sees after each step. A test checks this identity step by step.
//!
//! A gradient at a point other than the parameters' is what the [`Optimizer`] trait cannot ask for, so a step
//! is two calls around the user's own forward and backward pass:
//!
//! 1. [`NesterovLookAhead::look_ahead`] moves the parameters, in place, to `W^`;
//! 2. the user computes the gradients there (a fresh tape, forward, backward, drop the tape);
//! 3. [`Optimizer::step`] moves the parameters back to `W` and takes the step.
//!
//! [`NesterovLookAhead::step_module`] does the three for a [`Module`] with a closure that returns the
//! gradients; [`NesterovLookAhead`] also implements [`FullBatch`] (two gradient evaluations per step: one at
//! `W^`, one at the new `W` for the driver's report).
//!
//! ```
//! use tapegrad::{Param, Tape, Tensor};
//! use tapegrad_nn::optim::{NagConfig, NesterovLookAhead, Optimizer};
//!
//! // Minimise (w - 3)^2 from w = 0.
//! let mut w = Param::new(Tensor::<f64>::zeros([1])?);
//! let mut opt = NesterovLookAhead::new(NagConfig { lr: 0.1, momentum: 0.5, ..Default::default() })?;
//! for _ in 0..100 {
//!     opt.look_ahead(&mut [&mut w])?; // w now holds W^ = W - mu dW
//!     let grads = {
//!         let tape = Tape::new();
//!         tape.param(&w).add_scalar(-3.0).square().sum().backward()?
//!     };
//!     opt.step(&mut [&mut w], &grads)?; // back to W, then W -= dW
//! }
//! assert!((w.value().data()[0] - 3.0).abs() < 1e-6);
//! # Ok::<(), tapegrad_nn::Error>(())
//! ```

use super::driver::{Counted, FullBatch, Point, StepOutcome};
use super::flat::Problem;
use super::{Buffers, GradSource, Optimizer, StateMap, check_positive, check_range, for_each_param};
use crate::error::{Error, Result};
use crate::module::Module;
use std::collections::HashSet;
use tapegrad::{Float, Gradients, Param, ParamId};

/// Settings of [`NesterovLookAhead`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NagConfig {
    /// Learning rate `eta` (default 0.01).
    pub lr: f64,
    /// Momentum `mu` in `[0, 1)` (default 0.9).
    pub momentum: f64,
    /// Weight decay `rho` >= 0, added to the gradient as `rho W^` (default 0).
    pub weight_decay: f64,
    /// Skip parameters without a gradient instead of failing (default false).
    pub allow_missing_grad: bool,
}

impl Default for NagConfig {
    fn default() -> Self {
        NagConfig { lr: 0.01, momentum: 0.9, weight_decay: 0.0, allow_missing_grad: false }
    }
}

/// Nesterov momentum with the gradient at the shifted weights (lecture 003's form); see the module docs.
#[derive(Debug, Clone)]
pub struct NesterovLookAhead<T: Float> {
    config: NagConfig,
    state: StateMap<Buffers<T, 1>>,
    /// Parameters currently moved to their look-ahead point.
    shifted: HashSet<ParamId>,
    /// The last step of the flat vector, for the [`FullBatch`] form.
    flat_dw: Vec<f64>,
}

impl<T: Float> NesterovLookAhead<T> {
    /// An optimizer with these settings.
    ///
    /// # Errors
    /// [`crate::Error::Config`] when a setting is out of range (non-positive rate, momentum outside `[0, 1)`,
    /// negative decay).
    pub fn new(config: NagConfig) -> Result<Self> {
        check_positive("nesterov look-ahead", "lr", config.lr)?;
        check_range("nesterov look-ahead", "momentum", config.momentum, 0.0, 1.0, false)?;
        check_range("nesterov look-ahead", "weight_decay", config.weight_decay, 0.0, f64::INFINITY, false)?;
        Ok(NesterovLookAhead { config, state: StateMap::default(), shifted: HashSet::new(), flat_dw: Vec::new() })
    }

    /// The settings.
    pub fn config(&self) -> &NagConfig {
        &self.config
    }

    /// The last step `dW` of a parameter (`None` before its first look-ahead).
    pub fn velocity(&self, p: &Param<T>) -> Option<&[T]> {
        self.state.peek(p.id()).map(|s| s.bufs[0].as_slice())
    }

    /// Moves every parameter, in place, to its look-ahead point `W^ = W - mu dW` (at the first step `dW = 0`,
    /// so `W^ = W`). Compute the gradients there, then call [`Optimizer::step`]. Drop any tape holding the
    /// parameters first, or the move copies their storage.
    ///
    /// # Errors
    /// [`Error::Optimizer`] when a parameter is already at its look-ahead point (two calls without a step), or
    /// changed size since its last step. On an error no parameter has moved.
    pub fn look_ahead(&mut self, params: &mut [&mut Param<T>]) -> Result<()> {
        for p in params.iter() {
            if self.shifted.contains(&p.id()) {
                return Err(Error::Optimizer {
                    optimizer: "nesterov look-ahead",
                    msg: format!("parameter {:?} is already at its look-ahead point: call step first", p.id()),
                });
            }
            self.state.get("nesterov look-ahead", p.id(), p.value().numel())?;
        }
        let mu = T::of(self.config.momentum);
        for p in params.iter_mut() {
            let v = &self.state.get("nesterov look-ahead", p.id(), p.value().numel())?.bufs[0];
            for (w, &v) in p.value_mut().data_mut().iter_mut().zip(v) {
                *w -= mu * v;
            }
            self.shifted.insert(p.id());
        }
        Ok(())
    }

    /// One whole step of a module: [`NesterovLookAhead::look_ahead`] on its parameters, `grads_at(model)` for
    /// the gradients there (record a fresh tape inside and drop it before returning), then
    /// [`Optimizer::step`]. When `grads_at` fails the parameters are moved back to `W` before the error is
    /// returned.
    ///
    /// # Errors
    /// Any error of `grads_at`, [`NesterovLookAhead::look_ahead`] and [`Optimizer::step`].
    pub fn step_module<M: Module<T>>(
        &mut self,
        model: &mut M,
        grads_at: impl FnOnce(&M) -> Result<Gradients<T>>,
    ) -> Result<()> {
        self.look_ahead(&mut model.param_refs_mut())?;
        match grads_at(model) {
            Ok(grads) => self.step(&mut model.param_refs_mut(), &grads),
            Err(e) => {
                self.restore(&mut model.param_refs_mut())?;
                Err(e)
            }
        }
    }

    /// Moves shifted parameters back to `W = W^ + mu dW`.
    fn restore(&mut self, params: &mut [&mut Param<T>]) -> Result<()> {
        let missing: Vec<_> = params.iter().filter(|p| !self.shifted.contains(&p.id())).map(|p| p.id()).collect();
        if !missing.is_empty() {
            return Err(Error::Optimizer {
                optimizer: "nesterov look-ahead",
                msg: format!(
                    "parameters {missing:?} are not at their look-ahead point: call look_ahead before step \
                     (the gradient must be taken at W - mu dW)"
                ),
            });
        }
        let mu = T::of(self.config.momentum);
        for p in params.iter_mut() {
            let v = &self.state.get("nesterov look-ahead", p.id(), p.value().numel())?.bufs[0];
            for (w, &v) in p.value_mut().data_mut().iter_mut().zip(v) {
                *w += mu * v;
            }
            self.shifted.remove(&p.id());
        }
        Ok(())
    }
}

impl<T: Float> Optimizer<T> for NesterovLookAhead<T> {
    /// Takes the step from gradients computed at the look-ahead point set by
    /// [`NesterovLookAhead::look_ahead`]: the parameters go back to `W`, then `W -= dW`.
    ///
    /// # Errors
    /// [`Error::Optimizer`] when a parameter was not moved by `look_ahead` (nothing changes then), and as
    /// [`Optimizer::step`] (the parameters are back at `W` then).
    fn step(&mut self, params: &mut [&mut Param<T>], grads: &dyn GradSource<T>) -> Result<()> {
        self.restore(params)?;
        let c = self.config;
        let (eta, mu, rho) = (T::of(c.lr), T::of(c.momentum), T::of(c.weight_decay));
        let state = &mut self.state;
        for_each_param("nesterov look-ahead", c.lr, c.allow_missing_grad, params, grads, |id, w, g| {
            let [v] = &mut state.get("nesterov look-ahead", id, w.len())?.bufs;
            for ((w, &g), v) in w.iter_mut().zip(g).zip(v.iter_mut()) {
                let ahead = *w - mu * *v;
                *v = eta * (g + rho * ahead) + mu * *v;
                *w -= *v;
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

impl<P: Problem + ?Sized> FullBatch<P> for NesterovLookAhead<f64> {
    fn name(&self) -> &'static str {
        "nesterov-look-ahead"
    }

    fn step(&mut self, problem: &mut Counted<'_, P>, pt: &mut Point) -> Result<StepOutcome> {
        let n = pt.x.len();
        if self.flat_dw.len() != n {
            self.flat_dw = vec![0.0; n];
        }
        let NagConfig { lr: eta, momentum: mu, weight_decay: rho, .. } = self.config;
        let ahead: Vec<f64> = pt.x.iter().zip(&self.flat_dw).map(|(w, v)| w - mu * v).collect();
        let (_, g) = problem.loss_grad(&ahead)?;
        let mut x = pt.x.clone();
        for i in 0..n {
            self.flat_dw[i] = eta * (g[i] + rho * ahead[i]) + mu * self.flat_dw[i];
            x[i] -= self.flat_dw[i];
        }
        *pt = problem.point(x)?;
        Ok(StepOutcome::Moved)
    }
}
