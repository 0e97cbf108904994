//! The classical full-batch methods of `nn` (RProp, QuickProp, conjugate gradients, BFGS, L-BFGS, Newton-CG) on
//! the digits: one iteration per "epoch", each over the whole training set, through `nn`'s flat
//! [`ModuleProblem`] view of the MLP's parameters.
//!
//! Dense-matrix methods need `n x n` memory for `n` parameters: BFGS is refused when that exceeds
//! [`DENSE_LIMIT_BYTES`] (the default 64-128-64-10 MLP has 17226 parameters, 2.4 GB), with a pointer to L-BFGS.
//! Levenberg-Marquardt and full Newton are left to the `optimizers` example, which runs them on iris.

use crate::error::{Error, Result};
use crate::optim_choice::OptimizerKind;
use std::ops::ControlFlow;
use std::time::Instant;
use tapegrad::{Tape, Var};
use tapegrad_nn::data::Dataset;
use tapegrad_nn::layers::Mlp;
use tapegrad_nn::optim::bfgs::{Bfgs, BfgsConfig};
use tapegrad_nn::optim::cg::{CgBeta, CgConfig, ConjugateGradient};
use tapegrad_nn::optim::driver::{Counted, FullBatch, Point, StepOutcome};
use tapegrad_nn::optim::flat::{ModuleProblem, Problem};
use tapegrad_nn::optim::lbfgs::{Lbfgs, LbfgsConfig};
use tapegrad_nn::optim::newton::{NewtonCg, NewtonCgConfig};
use tapegrad_nn::optim::quickprop::{Quickprop, QuickpropConfig};
use tapegrad_nn::optim::rprop::{Rprop, RpropConfig};
use tapegrad_nn::train::{EpochStats, History, Loss, StopReason, evaluate};
use tapegrad_nn::{Module, Result as NnResult};

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
pub fn build(kind: OptimizerKind, num_params: usize) -> Result<Option<Method>> {
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
pub fn train(
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
