//! Learning-rate schedules: the rate as a function of the epoch, applied with [`Optimizer::set_lr`].
//!
//! | schedule | `lr(epoch)` |
//! |---|---|
//! | [`StepLr`] | `base gamma^floor(epoch / step_size)` |
//! | [`ExponentialLr`] | `base gamma^epoch` |
//! | [`CosineLr`] | `min + (base - min) (1 + cos(pi min(epoch, period) / period)) / 2` |
//!
//! Epochs count from 0, and epoch 0 gets the base rate: the numbering of [`crate::train::fit`]'s
//! [`EpochStats::epoch`](crate::train::EpochStats::epoch), which sets `lr(e)` before epoch `e` when given
//! the schedule in [`FitConfig::schedule`](crate::train::FitConfig::schedule). By hand, call
//! [`LrSchedule::apply`] at the start of each epoch:
//!
//! ```
//! use tapegrad_nn::optim::{CosineLr, LrSchedule, Optimizer, Sgd, SgdConfig};
//! let mut opt = Sgd::<f32>::new(SgdConfig { lr: 0.1, ..Default::default() })?;
//! let schedule = CosineLr::new(0.1, 0.0, 10)?;
//! for epoch in 0..10 {
//!     schedule.apply(&mut opt, epoch);
//!     // ... train one epoch ...
//! }
//! assert!((opt.lr() - 0.1 * (1.0 + (0.9 * std::f64::consts::PI).cos()) / 2.0).abs() < 1e-12);
//! # Ok::<(), tapegrad_nn::Error>(())
//! ```

use super::Optimizer;
use super::{check_positive, check_range};
use crate::error::{Error, Result};
use tapegrad::Float;

/// A learning rate per epoch.
pub trait LrSchedule {
    /// The learning rate for `epoch` (counting from 0).
    fn lr(&self, epoch: usize) -> f64;

    /// Sets the optimizer's learning rate for `epoch` and returns it.
    fn apply<T: Float, O: Optimizer<T> + ?Sized>(&self, opt: &mut O, epoch: usize) -> f64
    where
        Self: Sized,
    {
        let lr = self.lr(epoch);
        opt.set_lr(lr);
        lr
    }
}

/// Multiplies the rate by `gamma` every `step_size` epochs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepLr {
    base_lr: f64,
    step_size: usize,
    gamma: f64,
}

impl StepLr {
    /// `base_lr gamma^floor(epoch / step_size)`.
    ///
    /// # Errors
    /// [`Error::Config`] when `step_size` is 0 or a rate or `gamma` is negative or not finite.
    pub fn new(base_lr: f64, step_size: usize, gamma: f64) -> Result<Self> {
        check_positive("step_lr", "base_lr", base_lr)?;
        check_range("step_lr", "gamma", gamma, 0.0, f64::INFINITY, false)?;
        if step_size == 0 {
            return Err(Error::Config { what: "step_lr", msg: "step_size must be at least 1".into() });
        }
        Ok(StepLr { base_lr, step_size, gamma })
    }
}

impl LrSchedule for StepLr {
    fn lr(&self, epoch: usize) -> f64 {
        self.base_lr * self.gamma.powf((epoch / self.step_size) as f64)
    }
}

/// Multiplies the rate by `gamma` every epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExponentialLr {
    base_lr: f64,
    gamma: f64,
}

impl ExponentialLr {
    /// `base_lr gamma^epoch`.
    ///
    /// # Errors
    /// [`Error::Config`] when the rate or `gamma` is negative or not finite.
    pub fn new(base_lr: f64, gamma: f64) -> Result<Self> {
        check_positive("exponential_lr", "base_lr", base_lr)?;
        check_range("exponential_lr", "gamma", gamma, 0.0, f64::INFINITY, false)?;
        Ok(ExponentialLr { base_lr, gamma })
    }
}

impl LrSchedule for ExponentialLr {
    fn lr(&self, epoch: usize) -> f64 {
        self.base_lr * self.gamma.powf(epoch as f64)
    }
}

/// Cosine annealing from `base_lr` at epoch 0 to `min_lr` at epoch `period`, then constant (no restarts).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CosineLr {
    base_lr: f64,
    min_lr: f64,
    period: usize,
}

impl CosineLr {
    /// `min_lr + (base_lr - min_lr) (1 + cos(pi min(epoch, period) / period)) / 2`.
    ///
    /// # Errors
    /// [`Error::Config`] when `period` is 0, a rate is negative or not finite, or `min_lr > base_lr`.
    pub fn new(base_lr: f64, min_lr: f64, period: usize) -> Result<Self> {
        check_positive("cosine_lr", "base_lr", base_lr)?;
        check_range("cosine_lr", "min_lr", min_lr, 0.0, base_lr, true)?;
        if period == 0 {
            return Err(Error::Config { what: "cosine_lr", msg: "period must be at least 1".into() });
        }
        Ok(CosineLr { base_lr, min_lr, period })
    }
}

impl LrSchedule for CosineLr {
    fn lr(&self, epoch: usize) -> f64 {
        let frac = epoch.min(self.period) as f64 / self.period as f64;
        self.min_lr + (self.base_lr - self.min_lr) * (1.0 + (std::f64::consts::PI * frac).cos()) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{Adam, AdamConfig};

    #[test]
    fn step_lr_drops_by_gamma_every_step_size_epochs() {
        let s = StepLr::new(0.1, 3, 0.5).unwrap();
        let got: Vec<f64> = (0..8).map(|e| s.lr(e)).collect();
        assert_eq!(got, vec![0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025]);
    }

    #[test]
    fn exponential_lr_multiplies_by_gamma_each_epoch() {
        let s = ExponentialLr::new(2.0, 0.5).unwrap();
        assert_eq!((0..4).map(|e| s.lr(e)).collect::<Vec<_>>(), vec![2.0, 1.0, 0.5, 0.25]);
    }

    #[test]
    fn cosine_lr_goes_from_base_through_the_midpoint_to_min_and_stays() {
        let s = CosineLr::new(1.0, 0.2, 4).unwrap();
        assert_eq!(s.lr(0), 1.0);
        assert!((s.lr(2) - 0.6).abs() < 1e-15);
        // epoch 1: cos(pi / 4) = 0.7071...
        assert!((s.lr(1) - (0.2 + 0.8 * (1.0 + 0.5f64.sqrt()) / 2.0)).abs() < 1e-15);
        assert!((s.lr(4) - 0.2).abs() < 1e-15);
        assert_eq!(s.lr(9), s.lr(4));
    }

    #[test]
    fn apply_sets_the_optimizers_learning_rate() {
        let mut opt = Adam::<f32>::new(AdamConfig::default()).unwrap();
        let got = StepLr::new(0.1, 1, 0.1).unwrap().apply(&mut opt, 2);
        assert!((got - 0.001).abs() < 1e-15);
        assert_eq!(opt.lr(), got);
    }

    #[test]
    fn schedules_reject_bad_settings() {
        assert_eq!(StepLr::new(0.1, 0, 0.5).unwrap_err().to_string(), "step_lr: step_size must be at least 1");
        assert_eq!(CosineLr::new(0.1, 0.0, 0).unwrap_err().to_string(), "cosine_lr: period must be at least 1");
        assert_eq!(CosineLr::new(0.1, 0.5, 3).unwrap_err().to_string(), "cosine_lr: min_lr = 0.5 is outside [0, 0.1]");
        assert!(ExponentialLr::new(f64::NAN, 0.5).is_err());
    }
}
