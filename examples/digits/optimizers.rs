//! The `--optimizer` flag of the digits example: the first-order optimizers of `nn` (one step per
//! mini-batch, through `fit`), and the classical full-batch methods (RProp, QuickProp, conjugate gradients,
//! BFGS, L-BFGS, Newton-CG), which take one iteration over the whole training set per "epoch" through `nn`'s
//! flat [`ModuleProblem`] view of the MLP's parameters.
//!
//! Dense-matrix methods need `n x n` memory for `n` parameters: BFGS is refused when that exceeds
//! [`DENSE_LIMIT_BYTES`] (the default 64-128-64-10 MLP has 17226 parameters, 2.4 GB), with a pointer to
//! L-BFGS. Levenberg-Marquardt and full Newton are left to the `optimizers` example, which runs them on iris.

use clap::ValueEnum;
use std::ops::ControlFlow;
use std::time::Instant;
use tapegrad::{Float, Tape, Var};
use tapegrad_examples::error::{Error, Result};
use tapegrad_nn::data::Dataset;
use tapegrad_nn::layers::Mlp;
use tapegrad_nn::optim::driver::Counted;
use tapegrad_nn::optim::full_batch::{
    Bfgs, BfgsConfig, CgBeta, CgConfig, ConjugateGradient, FullBatch, Lbfgs, LbfgsConfig, ModuleProblem, NewtonCg,
    NewtonCgConfig, Point, Problem, Quickprop, QuickpropConfig, Rprop, RpropConfig, StepOutcome,
};
use tapegrad_nn::optim::{
    AdaDelta, AdaDeltaConfig, AdaGrad, AdaGradConfig, Adam, AdamConfig, AdamW, AdamWConfig, Optimizer, RmsProp,
    RmsPropConfig, Sgd, SgdConfig,
};
use tapegrad_nn::train::{EpochStats, History, Loss, StopReason, evaluate};
use tapegrad_nn::{Module, Result as NnResult};

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
    /// Whether this is a classical full-batch method (see [`Method`]) rather than an
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
/// `nn`'s config error for a negative or non-finite learning rate; [`Error::Input`] for a full-batch
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
            return Err(Error::Input {
                what: "optimizer".into(),
                msg: format!("{kind:?} is a full-batch method, not a first-order optimizer"),
            });
        }
    })
}

/// Largest dense `n x n` matrix of `f64` a method may allocate here (1 GiB).
pub const DENSE_LIMIT_BYTES: usize = 1 << 30;

/// A classical full-batch method. An enum rather than a trait object because each method is generic over
/// the problem type, and the problem borrows the model anew every iteration.
#[derive(Debug)]
pub enum Method {
    /// RProp.
    Rprop(Rprop),
    /// QuickProp.
    Quickprop(Quickprop),
    /// Conjugate gradients.
    Cg(ConjugateGradient),
    /// BFGS.
    Bfgs(Bfgs),
    /// L-BFGS.
    Lbfgs(Lbfgs),
    /// Newton-CG.
    NewtonCg(NewtonCg),
}

impl Method {
    /// One iteration of the method.
    fn step<P: Problem + ?Sized>(&mut self, problem: &mut Counted<'_, P>, pt: &mut Point) -> NnResult<StepOutcome> {
        match self {
            Method::Rprop(m) => m.step(problem, pt),
            Method::Quickprop(m) => m.step(problem, pt),
            Method::Cg(m) => m.step(problem, pt),
            Method::Bfgs(m) => m.step(problem, pt),
            Method::Lbfgs(m) => m.step(problem, pt),
            Method::NewtonCg(m) => m.step(problem, pt),
        }
    }
}

/// The full-batch method for `kind`, or `None` for a first-order optimizer.
///
/// # Errors
/// [`Error::Input`] for BFGS on a model too large for its dense matrix; `nn`'s config errors.
pub fn build_full_batch(kind: OptimizerKind, num_params: usize) -> Result<Option<Method>> {
    Ok(Some(match kind {
        OptimizerKind::Rprop => Method::Rprop(Rprop::new(RpropConfig::default())?),
        OptimizerKind::Quickprop => {
            Method::Quickprop(Quickprop::new(QuickpropConfig { epsilon: 0.5, ..Default::default() })?)
        }
        OptimizerKind::Cg => {
            Method::Cg(ConjugateGradient::new(CgConfig { beta: CgBeta::PolakRibierePlus, ..Default::default() })?)
        }
        OptimizerKind::Lbfgs => Method::Lbfgs(Lbfgs::new(LbfgsConfig::default())?),
        OptimizerKind::NewtonCg => Method::NewtonCg(NewtonCg::new(NewtonCgConfig::default())?),
        OptimizerKind::Bfgs => {
            let bytes = num_params.saturating_mul(num_params).saturating_mul(8);
            if bytes > DENSE_LIMIT_BYTES {
                return Err(Error::Input {
                    what: "--optimizer bfgs".into(),
                    msg: format!(
                        "{num_params} parameters need a dense {num_params} x {num_params} inverse Hessian ({:.1} GB); \
                         use --optimizer lbfgs, or a smaller net (e.g. --hidden 16)",
                        bytes as f64 / 1e9
                    ),
                });
            }
            Method::Bfgs(Bfgs::new(BfgsConfig::default())?)
        }
        _ => return Ok(None),
    }))
}

/// Runs `method` for up to `iters` iterations over the whole of `train`, evaluating train and test after each,
/// in the shape [`tapegrad_nn::train::fit`] reports so the same pictures can be drawn. When the method finds
/// no better point it stops, reported as [`StopReason::EarlyStopping`] at that iteration.
///
/// # Errors
/// [`Error::Input`] when the model has dropout (line searches need a deterministic loss); errors of the
/// evaluations.
pub fn train_full_batch(
    model: &mut Mlp<f32>,
    method: &mut Method,
    train: &Dataset<f32>,
    test: &Dataset<f32>,
    iters: usize,
    mut on_epoch: impl FnMut(&EpochStats) -> ControlFlow<()>,
) -> Result<History> {
    if model.config().dropout > 0.0 {
        return Err(Error::Input {
            what: "--dropout".into(),
            msg: "the full-batch methods need a deterministic loss: use dropout 0".into(),
        });
    }
    model.set_train(false);
    let x = train.features().clone();
    let labels = train.labels().ok_or_else(|| Error::Check("digits training set without labels".into()))?.to_vec();
    let mut history = History::default();
    let run_start = Instant::now();
    let mut point: Option<Point> = None;
    for epoch in 0..iters {
        let start = Instant::now();
        let outcome = {
            let mut problem =
                ModuleProblem::new(&mut *model, |m: &Mlp<f32>, tape: &Tape<f32>| -> NnResult<Var<'_, f32>> {
                    Ok(m.forward(tape, tape.input(x.clone()))?.softmax_cross_entropy(&labels)?)
                });
            let x0 = problem.initial();
            let mut counted = Counted::new(&mut problem);
            let pt = match point.as_mut() {
                Some(pt) => pt,
                None => point.insert(counted.point(x0)?),
            };
            let outcome = method.step(&mut counted, pt)?;
            let x_new = pt.x.clone();
            problem.write(&x_new)?;
            outcome
        };
        let train_time = start.elapsed();
        let tr = evaluate(model, train, Loss::SoftmaxCrossEntropy)?;
        let te = evaluate(model, test, Loss::SoftmaxCrossEntropy)?;
        let stats = EpochStats {
            epoch,
            train_loss: tr.loss,
            running_loss: f64::NAN, // one full-batch iteration per epoch: no batches to average over
            train_acc: tr.accuracy,
            val_loss: Some(te.loss),
            val_acc: te.accuracy,
            lr: f64::NAN,
            train_time,
            time: start.elapsed(),
        };
        history.epochs.push(stats);
        let stop = on_epoch(&stats).is_break();
        if stop {
            history.stop = StopReason::Callback { epoch };
            break;
        }
        if outcome == StepOutcome::Stuck {
            history.stop = StopReason::EarlyStopping { epoch, best_epoch: Some(epoch) };
            break;
        }
    }
    history.total_time = run_start.elapsed();
    Ok(history)
}
