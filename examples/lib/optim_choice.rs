//! Picking an optimizer of `nn` by name, for the command lines of the examples.

use crate::error::Result;
use clap::ValueEnum;
use tapegrad::Float;
use tapegrad_nn::Optimizer;
use tapegrad_nn::optim::{
    AdaDelta, AdaDeltaConfig, AdaGrad, AdaGradConfig, Adam, AdamConfig, AdamW, AdamWConfig, RmsProp, RmsPropConfig,
    Sgd, SgdConfig,
};

/// The optimizers of `nn`: the first-order ones, and the classical full-batch methods that fit a digits MLP
/// (Levenberg-Marquardt and full Newton run in the `optimizers` example, on iris).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OptimizerKind {
    /// Plain stochastic gradient descent (default lr 0.1).
    Sgd,
    /// SGD with heavy-ball momentum 0.9 (default lr 0.01).
    Momentum,
    /// SGD with Nesterov momentum 0.9 (default lr 0.01).
    Nesterov,
    /// AdaGrad (default lr 0.01).
    Adagrad,
    /// RMSProp, decay 0.9 (default lr 1e-3).
    Rmsprop,
    /// AdaDelta, decay 0.9 (default lr 1).
    Adadelta,
    /// Adam, betas 0.9 / 0.999 (default lr 1e-3).
    Adam,
    /// AdamW, weight decay 0.01 (default lr 1e-3).
    Adamw,
    /// RProp (full batch, one iteration per epoch; no learning rate).
    Rprop,
    /// QuickProp (full batch).
    Quickprop,
    /// Conjugate gradients, Polak-Ribiere+ with a line search (full batch).
    Cg,
    /// BFGS (full batch; dense inverse Hessian, so small nets only).
    Bfgs,
    /// L-BFGS (full batch).
    Lbfgs,
    /// Newton-CG with exact Hessian-vector products (full batch).
    NewtonCg,
}

impl OptimizerKind {
    /// Whether this is a classical full-batch method (see `digits_classical`) rather than an
    /// [`Optimizer`].
    pub fn is_full_batch(self) -> bool {
        self.default_lr().is_nan()
    }

    /// The learning rate used when none is given (NaN for the full-batch methods, which have none).
    pub fn default_lr(self) -> f64 {
        match self {
            OptimizerKind::Sgd => 0.1,
            OptimizerKind::Momentum | OptimizerKind::Nesterov | OptimizerKind::Adagrad => 0.01,
            OptimizerKind::Rmsprop | OptimizerKind::Adam | OptimizerKind::Adamw => 1e-3,
            OptimizerKind::Adadelta => 1.0,
            _ => f64::NAN,
        }
    }
}

/// Builds the first-order optimizer with learning rate `lr` (or [`OptimizerKind::default_lr`]).
///
/// # Errors
/// `nn`'s config error for a negative or non-finite learning rate; [`crate::Error::Input`] for a full-batch
/// method.
pub fn build_optimizer<T: Float + 'static>(kind: OptimizerKind, lr: Option<f64>) -> Result<Box<dyn Optimizer<T>>> {
    let lr = lr.unwrap_or(kind.default_lr());
    let sgd = |momentum: f64, nesterov: bool| Sgd::new(SgdConfig { lr, momentum, nesterov, ..Default::default() });
    Ok(match kind {
        OptimizerKind::Sgd => Box::new(sgd(0.0, false)?),
        OptimizerKind::Momentum => Box::new(sgd(0.9, false)?),
        OptimizerKind::Nesterov => Box::new(sgd(0.9, true)?),
        OptimizerKind::Adagrad => Box::new(AdaGrad::new(AdaGradConfig { lr, ..Default::default() })?),
        OptimizerKind::Rmsprop => Box::new(RmsProp::new(RmsPropConfig { lr, ..Default::default() })?),
        OptimizerKind::Adadelta => Box::new(AdaDelta::new(AdaDeltaConfig { lr, ..Default::default() })?),
        OptimizerKind::Adam => Box::new(Adam::new(AdamConfig { lr, ..Default::default() })?),
        OptimizerKind::Adamw => Box::new(AdamW::new(AdamWConfig { lr, ..Default::default() })?),
        _ => {
            return Err(crate::Error::Input {
                what: "optimizer".into(),
                msg: format!("{kind:?} is a full-batch method, not a first-order optimizer"),
            });
        }
    })
}
