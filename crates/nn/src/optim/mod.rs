//! Optimizers. First-order ones implement [`Optimizer`]: one update of every parameter from its gradient.
//! The classical full-batch methods (RProp, QuickProp, CG, BFGS, L-BFGS, LM, Newton), [`full_batch::minimize`]
//! and [`full_batch::curve_fit`] are gathered in [`full_batch`].
//!
//! | optimizer | file | update (per element, `g` the gradient) |
//! |---|---|---|
//! | [`Sgd`] | `sgd.rs` | `dW = eta (g + rho W) + mu dW_prev; W -= dW` (heavy ball or Nesterov, reparametrised) |
//! | [`NesterovLookAhead`] | `nag.rs` | lecture 003's Nesterov: `dW = eta (g(W - mu dW_prev) + rho W^) + mu dW_prev` |
//! | [`AdaGrad`] | `adagrad.rs` | `G += g^2; dW = eta g / (sqrt(G) + eps) + mu dW_prev` |
//! | [`RmsProp`] | `rmsprop.rs` | `S = gamma S + (1 - gamma) g^2; dW = eta g / (sqrt(S) + eps) + mu dW_prev` |
//! | [`AdaDelta`] | `adadelta.rs` | `S = alpha S + (1 - alpha) g^2; dW = sqrt(D + eps) / sqrt(S + eps) g + mu dW_prev; D = beta D + (1 - beta) dW^2` |
//! | [`Adam`] | `adam.rs` | bias-corrected first and second moments |
//! | [`AdamW`] | `adamw.rs` | Adam with decoupled weight decay `W -= eta lambda W` |
//!
//! Every first-order method follows lecture 003's template `dW_t = eta_t (g_t + rho W) + mu dW_{t-1}`,
//! `W_t = W_{t-1} - dW_t`: `weight_decay` is `rho`, `momentum` is `mu` (0 by default except in the methods
//! that are momentum), `eta_t` is the method's own rate. With `mu = 0` (the default) each is its textbook and
//! PyTorch form; `docs/optimizers.md` says which form is which.
//!
//! Learning-rate schedules live in [`schedule`], gradient clipping in [`clip`].
//!
//! Every optimizer keeps its state per parameter, keyed by [`ParamId`], and updates the parameter's storage in
//! place: drop the tape before calling [`Optimizer::step`] so the storage is not shared. A parameter without a
//! gradient is an [`Error::Optimizer`] unless the config sets `allow_missing_grad`.
//!
//! ```
//! use tapegrad::{Param, Tape, Tensor};
//! use tapegrad_nn::optim::{Adam, AdamConfig, Optimizer};
//!
//! // Minimise (w - 3)^2 from w = 0.
//! let mut w = Param::new(Tensor::<f64>::zeros([1]).unwrap());
//! let mut opt = Adam::new(AdamConfig { lr: 0.1, ..Default::default() })?;
//! for _ in 0..300 {
//!     let grads = {
//!         let tape = Tape::new();
//!         let loss = tape.param(&w).add_scalar(-3.0).square().sum();
//!         loss.backward()?
//!     }; // the tape is dropped here, so the update below is in place
//!     opt.step(&mut [&mut w], &grads)?;
//! }
//! assert!((w.value().data()[0] - 3.0).abs() < 1e-3);
//! # Ok::<(), tapegrad_nn::Error>(())
//! ```

pub mod adadelta;
pub mod adagrad;
pub mod adam;
pub mod adamw;
pub mod bfgs;
pub mod cg;
pub mod clip;
pub mod curve_fit;
pub mod dense;
pub mod driver;
pub mod first_order;
pub mod flat;
pub mod full_batch;
pub mod lbfgs;
pub mod line_search;
pub mod lm;
pub mod nag;
pub mod net_lsq;
pub mod newton;
pub mod quickprop;
pub mod rmsprop;
pub mod rprop;
pub mod schedule;
pub mod sgd;

pub use adadelta::{AdaDelta, AdaDeltaConfig};
pub use adagrad::{AdaGrad, AdaGradConfig};
pub use adam::{Adam, AdamConfig};
pub use adamw::{AdamW, AdamWConfig};
pub use clip::{GradStore, clip_grad_norm, clip_grad_value};
pub use nag::{NagConfig, NesterovLookAhead};
pub use rmsprop::{RmsProp, RmsPropConfig};
pub use schedule::{CosineLr, ExponentialLr, LrSchedule, StepLr};
pub use sgd::{Sgd, SgdConfig};

use crate::error::{Error, Result};
use std::collections::HashMap;
use tapegrad::{Float, Gradients, Param, ParamId, Tensor};

/// A first-order optimizer: state per parameter (keyed by [`tapegrad::ParamId`]), one `step` per batch.
pub trait Optimizer<T: Float> {
    /// Updates every parameter in place from its gradient in `grads`.
    ///
    /// `grads` is usually the [`Gradients`] of a backward pass (`&grads` coerces), or a [`GradStore`] after
    /// clipping. When a gradient is missing or has the wrong shape, nothing is updated.
    ///
    /// # Errors
    /// [`crate::Error::Optimizer`] when a parameter has no gradient (unless configured to skip it), when a
    /// gradient's shape differs from its parameter's, or when the learning rate is negative or not finite in
    /// the model's float type (or `eps` is not positive in it).
    fn step(&mut self, params: &mut [&mut Param<T>], grads: &dyn GradSource<T>) -> Result<()>;

    /// The current learning rate.
    fn lr(&self) -> f64;

    /// Sets the learning rate (schedules call this between epochs).
    fn set_lr(&mut self, lr: f64);
}

/// Where an optimizer reads gradients from: a backward pass's [`Gradients`] or a clipped [`GradStore`].
pub trait GradSource<T: Float> {
    /// The gradient of the parameter with this id, `None` when it got none.
    fn grad(&self, id: ParamId) -> Option<&Tensor<T>>;
}

impl<T: Float> GradSource<T> for Gradients<T> {
    fn grad(&self, id: ParamId) -> Option<&Tensor<T>> {
        self.by_id(id)
    }
}

/// Looks up and checks every parameter's gradient, then calls `update(id, weights, grad)` for each parameter
/// that has one. All checks run before the first update, so an error leaves every parameter untouched.
pub(crate) fn for_each_param<T: Float>(
    optimizer: &'static str,
    lr: f64,
    allow_missing_grad: bool,
    params: &mut [&mut Param<T>],
    grads: &dyn GradSource<T>,
    mut update: impl FnMut(ParamId, &mut [T], &[T]) -> Result<()>,
) -> Result<()> {
    if !(lr.is_finite() && lr >= 0.0) {
        return Err(Error::Optimizer { optimizer, msg: format!("learning rate {lr} must be finite and >= 0") });
    }
    // An f64 rate can overflow the model's type: 1e39 is finite in f64 and infinite in f32.
    if !T::of(lr).is_finite() {
        return Err(Error::Optimizer {
            optimizer,
            msg: format!("learning rate {lr:e} is not finite in {}", crate::io::float_name::<T>()),
        });
    }
    let mut found = Vec::with_capacity(params.len());
    for p in params.iter() {
        match grads.grad(p.id()) {
            Some(g) if g.dims() != p.value().dims() => {
                return Err(Error::Optimizer {
                    optimizer,
                    msg: format!(
                        "gradient of parameter {:?} has shape {:?} but the parameter has shape {:?}",
                        p.id(),
                        g.dims(),
                        p.value().dims()
                    ),
                });
            }
            Some(g) => found.push(Some(g)),
            None if allow_missing_grad => found.push(None),
            None => {
                return Err(Error::Optimizer {
                    optimizer,
                    msg: format!(
                        "parameter {:?} with shape {:?} received no gradient (is it cut off from the loss? \
                         set allow_missing_grad to skip it)",
                        p.id(),
                        p.value().dims()
                    ),
                });
            }
        }
    }
    for (p, g) in params.iter_mut().zip(found) {
        if let Some(g) = g {
            let id = p.id();
            update(id, p.value_mut().data_mut(), g.data())?;
        }
    }
    Ok(())
}

/// Elements of a parameter from which its update is split across two threads, when the engine may use
/// more than one ([`tapegrad::num_threads`]): an elementwise update streams three or four arrays through
/// memory, and the two cores' caches and load ports together move them faster. w3's two weight matrices
/// (0.8M and 1M elements) took about 0.8 ms of each step on the calling thread alone while the other core
/// idled; smaller parameters stay on one thread, where handing out work would cost more than it saves.
const PARALLEL_MIN: usize = 1 << 18;

/// Runs `update` on the weights `w`, gradient `g` and optional per-element state `v` (empty, or as long
/// as `w`), either whole or as two halves on two threads; the update of each element reads only that
/// element, so the result is the same either way, bit for bit.
pub(crate) fn in_halves<T: Float>(w: &mut [T], g: &[T], v: &mut [T], update: impl Fn(&mut [T], &[T], &mut [T]) + Sync) {
    if w.len() < PARALLEL_MIN || tapegrad::num_threads() < 2 || g.len() != w.len() {
        return update(w, g, v);
    }
    let mid = w.len() / 2;
    let (w0, w1) = w.split_at_mut(mid);
    let (g0, g1) = g.split_at(mid);
    let (v0, v1) = if v.is_empty() { (&mut [][..], &mut [][..]) } else { v.split_at_mut(mid.min(v.len())) };
    tapegrad::parallel::join(|| update(w0, g0, v0), || update(w1, g1, v1));
}

/// Lecture 003's shared template for one parameter: with the decayed gradient `g + rho w` of each element,
/// `step(i, g + rho w)` updates that element's own state and returns its step; then `w -= step`, or with
/// momentum `(v, mu)`: `v = step + mu v` and `w -= v`.
pub(crate) fn template_step<T: Float>(
    w: &mut [T],
    g: &[T],
    rho: T,
    momentum: Option<(&mut [T], T)>,
    mut step: impl FnMut(usize, T) -> T,
) {
    match momentum {
        None => {
            for (i, (w, &g)) in w.iter_mut().zip(g).enumerate() {
                *w -= step(i, g + rho * *w);
            }
        }
        Some((v, mu)) => {
            for (i, ((w, &g), v)) in w.iter_mut().zip(g).zip(v.iter_mut()).enumerate() {
                *v = step(i, g + rho * *w) + mu * *v;
                *w -= *v;
            }
        }
    }
}

/// One parameter's optimizer state, created zeroed for a parameter of `len` elements.
pub(crate) trait ParamState {
    /// Zeroed state for `len` elements.
    fn zeroed(len: usize) -> Self;
    /// The number of elements the state was made for.
    fn len(&self) -> usize;
}

/// Per-parameter state, keyed by [`ParamId`], created on a parameter's first step.
#[derive(Debug, Clone)]
pub(crate) struct StateMap<S> {
    states: HashMap<ParamId, S>,
}

impl<S> Default for StateMap<S> {
    fn default() -> Self {
        StateMap { states: HashMap::new() }
    }
}

impl<S: ParamState> StateMap<S> {
    /// The state of parameter `id` with `len` elements; zeroed the first time.
    ///
    /// # Errors
    /// [`Error::Optimizer`] when the parameter's length changed since its state was created.
    pub(crate) fn get(&mut self, optimizer: &'static str, id: ParamId, len: usize) -> Result<&mut S> {
        let state = self.states.entry(id).or_insert_with(|| S::zeroed(len));
        if state.len() != len {
            return Err(Error::Optimizer {
                optimizer,
                msg: format!(
                    "parameter {id:?} has {len} elements but its state was made for {}; \
                     it changed size since the last step",
                    state.len()
                ),
            });
        }
        Ok(state)
    }

    /// The state of parameter `id`, if it has taken a step.
    pub(crate) fn peek(&self, id: ParamId) -> Option<&S> {
        self.states.get(&id)
    }
}

/// Checks that a configuration value is finite and strictly positive (learning rates, `eps`), for the
/// optimizers' `new`: a zero `eps` divides a zero gradient by zero, a zero learning rate trains nothing.
pub(crate) fn check_positive(what: &'static str, name: &str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(Error::Config { what, msg: format!("{name} = {v} must be finite and > 0") })
    }
}

/// Checks at step time that `eps` is still positive in the model's float type (`1e-50` is 0 in `f32`).
pub(crate) fn check_eps_in<T: Float>(optimizer: &'static str, eps: f64) -> Result<()> {
    let e = T::of(eps);
    if e.is_finite() && e > T::zero() {
        Ok(())
    } else {
        Err(Error::Optimizer {
            optimizer,
            msg: format!("eps {eps:e} is {} in {}; it must be finite and > 0", e.f64(), crate::io::float_name::<T>()),
        })
    }
}

/// Checks that a configuration value lies in a range, for the optimizers' `new`.
pub(crate) fn check_range(what: &'static str, name: &str, v: f64, lo: f64, hi: f64, hi_inclusive: bool) -> Result<()> {
    let ok = v.is_finite() && v >= lo && (v < hi || (hi_inclusive && v == hi));
    if ok {
        Ok(())
    } else {
        let close = if hi_inclusive { ']' } else { ')' };
        Err(Error::Config { what, msg: format!("{name} = {v} is outside [{lo}, {hi}{close}") })
    }
}

/// `N` zeroed buffers of the parameter's length plus a step counter: the state of the adaptive methods.
#[derive(Debug, Clone)]
pub(crate) struct Buffers<T, const N: usize> {
    /// The buffers, e.g. `[m, v]` for Adam.
    pub(crate) bufs: [Vec<T>; N],
    /// Steps taken by this parameter (Adam's bias correction needs it).
    pub(crate) steps: u64,
}

impl<T: Float, const N: usize> ParamState for Buffers<T, N> {
    fn zeroed(len: usize) -> Self {
        Buffers { bufs: std::array::from_fn(|_| vec![T::zero(); len]), steps: 0 }
    }
    fn len(&self) -> usize {
        self.bufs.first().map_or(0, Vec::len)
    }
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod in_halves_tests {
    use super::{PARALLEL_MIN, in_halves};
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn a_large_update_split_in_halves_equals_the_whole_one_bit_for_bit() {
        let n = PARALLEL_MIN + 7;
        let g: Vec<f32> = (0..n).map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0).collect();
        let start: Vec<f32> = (0..n).map(|i| ((i * 11) % 89) as f32 / 40.0 - 1.1).collect();
        let step = |w: &mut [f32], g: &[f32], v: &mut [f32]| {
            for ((w, &g), v) in w.iter_mut().zip(g).zip(v.iter_mut()) {
                *v = 0.01 * (g + 0.001 * *w) + 0.9 * *v;
                *w -= *v;
            }
        };
        let (mut want_w, mut want_v) = (start.clone(), vec![0.5f32; n]);
        step(&mut want_w, &g, &mut want_v);
        let before = tapegrad::num_threads();
        for threads in [1, 2] {
            tapegrad::set_num_threads(threads);
            let calls = AtomicUsize::new(0);
            let (mut w, mut v) = (start.clone(), vec![0.5f32; n]);
            in_halves(&mut w, &g, &mut v, |w, g, v| {
                calls.fetch_add(1, Ordering::Relaxed);
                step(w, g, v)
            });
            assert_eq!((w == want_w, v == want_v), (true, true), "{threads} threads");
            assert_eq!(calls.into_inner(), threads, "{threads} threads: the update ran in {threads} part(s)");
            // Without state, and below the size limit: one call.
            let mut w = start[..1000].to_vec();
            let calls = AtomicUsize::new(0);
            in_halves(&mut w, &g[..1000], &mut [], |_, _, v| {
                assert!(v.is_empty());
                calls.fetch_add(1, Ordering::Relaxed);
            });
            assert_eq!(calls.into_inner(), 1);
        }
        tapegrad::set_num_threads(before);
    }
}
