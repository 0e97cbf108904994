//! A small training loop: [`fit`] trains a [`Module`] with an [`Optimizer`] over a [`Dataset`], evaluates on
//! a validation set after every epoch when one is given, and returns a [`History`]. Everything else is on
//! [`FitConfig`], with defaults, as Keras's `model.fit` keyword arguments: the loss, batching, the
//! validation set, early stopping, a learning-rate schedule, the random stream and a per-epoch callback. The
//! library prints nothing; the callback can (progress bars, logs) and can stop training.
//!
//! Each step is the loop the lectures write: a new tape, the forward pass on the batch, the loss, backward,
//! the tape dropped (so parameter updates happen in place), then `opt.step`.
//!
//! Conventions:
//! - Epochs count from 0, as in PyTorch and Keras's callbacks: [`EpochStats::epoch`], [`StopReason`] and
//!   [`History::best_epoch`] say 0 for the first epoch, and a schedule's [`LrSchedule::lr`] gets the same
//!   number (epoch 0 runs at the schedule's base rate). Progress displays add 1.
//! - The model is in training mode after `fit`, as after it is built or loaded ([`crate::Mlp::load`]): call
//!   `set_train(false)` (or [`evaluate`], which does) before predicting with dropout or batch norm.
//! - Data errors name the row of the dataset, and the file and line when the data came from a file.
//!
//! ```
//! use tapegrad::Tensor;
//! use tapegrad_nn::data::{Batching, Dataset, Targets};
//! use tapegrad_nn::layers::Linear;
//! use tapegrad_nn::optim::{Sgd, SgdConfig};
//! use tapegrad_nn::train::{FitConfig, Loss, StopReason, fit};
//! use rand::SeedableRng;
//!
//! // y = 3x - 1 on 20 points, fitted by a linear layer with plain gradient descent
//! let x = Tensor::from_vec((0..20).map(|i| i as f64 / 10.0).collect(), [20, 1])?;
//! let y = x.map(|v| 3.0 * v - 1.0);
//! let data = Dataset::new(x, Targets::Values(y))?;
//! let mut model = Linear::<f64>::new(1, 1, &mut rand::rngs::StdRng::seed_from_u64(0))?;
//! let mut opt = Sgd::new(SgdConfig { lr: 0.3, ..Default::default() })?;
//! let cfg = FitConfig { epochs: 300, batching: Batching::Full, loss: Loss::Mse, ..Default::default() };
//! let history = fit(&mut model, &mut opt, &data, cfg)?;
//! assert_eq!(history.stop, StopReason::Completed);
//! assert!(history.last().unwrap().train_loss < 1e-6);
//! assert!((model.weight().value().data()[0] - 3.0).abs() < 1e-2);
//! # Ok::<(), tapegrad_nn::Error>(())
//! ```

mod history;
mod run;
mod targets;

pub use history::{EpochStats, Evaluation, History, StopReason};

use crate::data::{Batching, Dataset};
use crate::error::Result;
use crate::module::Module;
use crate::optim::{LrSchedule, Optimizer};
use rand::Rng;
use std::ops::ControlFlow;
use tapegrad::{Float, Tape};

/// The loss a model is trained on, and with it how accuracy is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Softmax cross-entropy of logits `[N, C]`: class targets, or real `[N, C]` targets as class
    /// probabilities. Accuracy: argmax against the class.
    SoftmaxCrossEntropy,
    /// Mean squared error: real targets of the output's shape, or class targets as one-hot rows (the
    /// lectures' sigmoid-and-MSE classifier, accuracy by argmax).
    Mse,
    /// Binary cross-entropy on logits: class targets 0/1 against an output `[N, 1]`, or real targets in
    /// `[0, 1]` of the output's shape. Accuracy: logit > 0 against target > 0.5.
    BceWithLogits,
}

/// The per-epoch callback of [`FitConfig::on_epoch`]: sees each epoch's statistics, returns
/// [`ControlFlow::Break`] to stop training.
pub type OnEpoch<'a> = &'a mut dyn FnMut(&EpochStats) -> ControlFlow<()>;

/// How [`fit`] trains: build it with `..Default::default()` and set what differs.
///
/// ```
/// use std::ops::ControlFlow;
/// use tapegrad::Tensor;
/// use tapegrad_nn::data::{Dataset, Targets};
/// use tapegrad_nn::optim::StepLr;
/// use tapegrad_nn::train::{FitConfig, Loss};
/// let val = Dataset::new(Tensor::<f32>::zeros([2, 3])?, Targets::classes(vec![0, 1]))?;
/// let halve_every_ten = StepLr::new(1e-3, 10, 0.5)?;
/// let mut log = Vec::new();
/// let mut on_epoch = |s: &tapegrad_nn::train::EpochStats| {
///     log.push(s.train_loss);
///     ControlFlow::Continue(())
/// };
/// let cfg = FitConfig {
///     epochs: 30,
///     loss: Loss::SoftmaxCrossEntropy,
///     validation: Some(&val),
///     patience: Some(5),
///     schedule: Some(&halve_every_ten),
///     on_epoch: Some(&mut on_epoch),
///     ..Default::default()
/// };
/// # let _ = cfg;
/// # Ok::<(), tapegrad_nn::Error>(())
/// ```
pub struct FitConfig<'a, T: Float> {
    /// Maximum number of passes over the training set.
    pub epochs: usize,
    /// Examples per step.
    pub batching: Batching,
    /// The loss.
    pub loss: Loss,
    /// The held-out data evaluated after every epoch (in eval mode, on a no-grad tape); it is what early
    /// stopping and `restore_best` monitor.
    pub validation: Option<&'a Dataset<T>>,
    /// Stop after this many epochs without improvement of the monitored loss (the validation loss when there
    /// is a validation set, the training loss otherwise); `None` never stops early.
    pub patience: Option<usize>,
    /// The smallest decrease of the monitored loss that counts as an improvement.
    pub min_delta: f64,
    /// At the end, put back the parameters of the epoch with the best monitored loss. Keeping them costs one
    /// copy of the parameters per improving epoch (the next update copies the shared storage).
    pub restore_best: bool,
    /// A learning-rate schedule: before epoch `e` (counted from 0) the optimizer's rate is set to
    /// `schedule.lr(e)`. `None` keeps the optimizer's rate.
    pub schedule: Option<&'a dyn LrSchedule>,
    /// The random stream that shuffles the batches; `None` uses a `StdRng` seeded with [`FitConfig::seed`].
    pub rng: Option<&'a mut dyn Rng>,
    /// The seed of the shuffling stream when [`FitConfig::rng`] is `None`.
    pub seed: u64,
    /// Called after every epoch with its statistics; returning [`ControlFlow::Break`] stops training.
    pub on_epoch: Option<OnEpoch<'a>>,
    /// The rate `eta` of the running loss estimate `Q = (1 - eta) Q + eta loss`, updated after every batch
    /// and kept in [`History::running_loss`]; in `(0, 1]`.
    pub running_loss_eta: f64,
}

impl<T: Float> Default for FitConfig<'_, T> {
    fn default() -> Self {
        FitConfig {
            epochs: 100,
            batching: Batching::MiniBatch { size: 32, drop_last: false },
            loss: Loss::SoftmaxCrossEntropy,
            validation: None,
            patience: None,
            min_delta: 0.0,
            restore_best: false,
            schedule: None,
            rng: None,
            seed: 0,
            on_epoch: None,
            running_loss_eta: 0.05,
        }
    }
}

impl<T: Float> std::fmt::Debug for FitConfig<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FitConfig")
            .field("epochs", &self.epochs)
            .field("batching", &self.batching)
            .field("loss", &self.loss)
            .field("validation", &self.validation.map(|v| v.len()))
            .field("patience", &self.patience)
            .field("min_delta", &self.min_delta)
            .field("restore_best", &self.restore_best)
            .field("schedule", &self.schedule.is_some())
            .field("rng", &self.rng.is_some())
            .field("seed", &self.seed)
            .field("on_epoch", &self.on_epoch.is_some())
            .field("running_loss_eta", &self.running_loss_eta)
            .finish()
    }
}

/// Trains `model` with `opt` over `train` as `cfg` says (see [`FitConfig`]).
///
/// Steps run in training mode. After every epoch the model is evaluated on `cfg.validation` (if given) in
/// eval mode on a no-grad tape, then `cfg.on_epoch` sees the epoch's [`EpochStats`]. The model is left in
/// training mode. Training stops early on `cfg.patience`, and stops as [`StopReason::Diverged`] when a batch
/// loss is not finite or a step leaves a parameter NaN or infinite: the parameters are then put back to
/// their values at the start of that epoch (the last ones checked finite), so a diverged run never hands
/// back a broken model; the evaluation of that epoch is of the restored parameters. The optimizer's state is
/// not rolled back: build a new optimizer (or lower its rate) before training on from there. Train loss and
/// accuracy are running averages over the epoch's batches, weighted by batch size (Keras's convention).
///
/// # Errors
/// [`Error::Config`](crate::Error::Config) for zero epochs, a patience of 0, a negative `min_delta`, a
/// running-loss rate outside `(0, 1]`, a bad batching configuration, or data the loss cannot take (a
/// non-finite feature or target, a label that is not 0/1 for binary cross-entropy or not below the number
/// of outputs), naming the row and, for data read from a file, the file and line; errors of the forward pass
/// and the engine; [`Error::Optimizer`](crate::Error::Optimizer) from `opt`, for example when a parameter got
/// no gradient.
pub fn fit<T, M, O>(model: &mut M, opt: &mut O, train: &Dataset<T>, cfg: FitConfig<'_, T>) -> Result<History>
where
    T: Float,
    M: Module<T> + ?Sized,
    O: Optimizer<T> + ?Sized,
{
    run::run(model, opt, train, cfg)
}

/// The positional form of [`fit`] before [`FitConfig`] took the validation set, the random stream and the
/// callback.
///
/// # Errors
/// As for [`fit`].
#[deprecated(note = "use `fit(model, opt, train, FitConfig { validation, rng, on_epoch, .. })`")]
pub fn fit_positional<T, M, O, R, F>(
    model: &mut M,
    opt: &mut O,
    train: &Dataset<T>,
    validation: Option<&Dataset<T>>,
    cfg: &FitConfig<'_, T>,
    rng: &mut R,
    mut on_epoch: F,
) -> Result<History>
where
    T: Float,
    M: Module<T> + ?Sized,
    O: Optimizer<T> + ?Sized,
    R: Rng + ?Sized,
    F: FnMut(&EpochStats) -> ControlFlow<()>,
{
    let mut rng = rng;
    let cfg = FitConfig { validation, rng: Some(&mut rng), on_epoch: Some(&mut on_epoch), ..copy_settings(cfg) };
    run::run(model, opt, train, cfg)
}

/// The positional form of [`fit`] with a schedule.
///
/// # Errors
/// As for [`fit`].
#[deprecated(note = "use `fit(model, opt, train, FitConfig { schedule: Some(&s), .. })`")]
#[allow(clippy::too_many_arguments)]
pub fn fit_with_schedule<T, M, O, R, F>(
    model: &mut M,
    opt: &mut O,
    train: &Dataset<T>,
    validation: Option<&Dataset<T>>,
    cfg: &FitConfig<'_, T>,
    schedule: &dyn LrSchedule,
    rng: &mut R,
    mut on_epoch: F,
) -> Result<History>
where
    T: Float,
    M: Module<T> + ?Sized,
    O: Optimizer<T> + ?Sized,
    R: Rng + ?Sized,
    F: FnMut(&EpochStats) -> ControlFlow<()>,
{
    let mut rng = rng;
    let cfg = FitConfig {
        validation,
        schedule: Some(schedule),
        rng: Some(&mut rng),
        on_epoch: Some(&mut on_epoch),
        ..copy_settings(cfg)
    };
    run::run(model, opt, train, cfg)
}

/// The plain settings of `cfg` (no validation set, schedule, stream or callback).
fn copy_settings<'a, T: Float>(cfg: &FitConfig<'_, T>) -> FitConfig<'a, T> {
    FitConfig {
        epochs: cfg.epochs,
        batching: cfg.batching,
        loss: cfg.loss,
        patience: cfg.patience,
        min_delta: cfg.min_delta,
        restore_best: cfg.restore_best,
        seed: cfg.seed,
        running_loss_eta: cfg.running_loss_eta,
        ..Default::default()
    }
}

/// Loss and accuracy of `model` on all of `data`, in eval mode (`set_train(false)`, left so) on a no-grad
/// tape.
///
/// # Errors
/// [`Error::Config`](crate::Error::Config) for data the loss cannot take, naming the row (and file line); errors of the forward pass.
pub fn evaluate<T: Float, M: Module<T> + ?Sized>(model: &mut M, data: &Dataset<T>, loss: Loss) -> Result<Evaluation> {
    model.set_train(false);
    let tape = Tape::new();
    targets::check_data(loss, data, "evaluate")?;
    tape.no_grad(|| {
        let out = model.forward(&tape, tape.input(data.features().clone()))?;
        let value = targets::loss_var(loss, &tape, out, data.targets(), &|r| data.describe_row(r))?.item()?.f64();
        let accuracy =
            targets::count_correct(loss, &out.value(), data.targets()).map(|(c, n)| c as f64 / n.max(1) as f64);
        Ok(Evaluation { loss: value, accuracy })
    })
}

#[cfg(test)]
#[path = "train_tests.rs"]
mod tests;
