//! A small training loop: [`fit`] trains a [`Module`] with an [`Optimizer`] over a [`Dataset`], evaluates on
//! a test set after every epoch, and returns a [`History`]. The library prints nothing; a per-epoch callback
//! can (progress bars, logs) and can stop training.
//!
//! Each step is the loop the lectures write: a new tape, the forward pass on the batch, the loss, backward,
//! the tape dropped (so parameter updates happen in place), then `opt.step`.
//!
//! ```
//! use std::ops::ControlFlow;
//! use rand::SeedableRng;
//! use tapegrad::Tensor;
//! use tapegrad_nn::data::{Batching, Dataset, Targets};
//! use tapegrad_nn::layers::Linear;
//! use tapegrad_nn::optim::{Sgd, SgdConfig};
//! use tapegrad_nn::train::{FitConfig, Loss, StopReason, fit};
//!
//! // y = 3x - 1 on 20 points, fitted by a linear layer with plain gradient descent
//! let x = Tensor::from_vec((0..20).map(|i| i as f64 / 10.0).collect(), [20, 1])?;
//! let y = x.map(|v| 3.0 * v - 1.0);
//! let data = Dataset::new(x, Targets::Values(y))?;
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let mut model = Linear::<f64>::new(1, 1, &mut rng)?;
//! let mut opt = Sgd::new(SgdConfig { lr: 0.3, ..Default::default() })?;
//! let cfg = FitConfig { epochs: 300, batching: Batching::Full, loss: Loss::Mse, ..Default::default() };
//! let history = fit(&mut model, &mut opt, &data, None, &cfg, &mut rng, |_| ControlFlow::Continue(()))?;
//! assert_eq!(history.stop, StopReason::Completed);
//! assert!(history.last().unwrap().train_loss < 1e-6);
//! assert!((model.weight().value().data()[0] - 3.0).abs() < 1e-2);
//! # Ok::<(), tapegrad_nn::Error>(())
//! ```

mod history;

pub use history::{EpochStats, Evaluation, History, StopReason};

use crate::data::{Batcher, Batching, Dataset, Targets};
use crate::error::{Error, Result};
use crate::module::Module;
use crate::optim::{LrSchedule, Optimizer};
use rand::Rng;
use std::ops::ControlFlow;
use std::time::Instant;
use tapegrad::{Float, Tape, Tensor, Var};

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

/// How [`fit`] trains.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitConfig {
    /// Maximum number of passes over the training set.
    pub epochs: usize,
    /// Examples per step.
    pub batching: Batching,
    /// The loss.
    pub loss: Loss,
    /// Stop after this many epochs without improvement of the monitored loss (the test loss when there is
    /// a test set, the training loss otherwise); `None` never stops early.
    pub patience: Option<usize>,
    /// The smallest decrease of the monitored loss that counts as an improvement.
    pub min_delta: f64,
    /// At the end, put back the parameters of the epoch with the best monitored loss. Keeping them costs one
    /// copy of the parameters per improving epoch (the next update copies the shared storage).
    pub restore_best: bool,
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig {
            epochs: 100,
            batching: Batching::MiniBatch { size: 32, drop_last: false },
            loss: Loss::SoftmaxCrossEntropy,
            patience: None,
            min_delta: 0.0,
            restore_best: false,
        }
    }
}

/// Trains `model` with `opt` for up to `cfg.epochs` epochs over `train`, shuffling batches with `rng`.
///
/// After every epoch the model is evaluated on `test` (if given) in eval mode on a no-grad tape, then
/// `on_epoch` sees the epoch's [`EpochStats`]; returning [`ControlFlow::Break`] stops training. Steps run in
/// training mode; the model is left in eval mode. Training stops early on `cfg.patience`, and stops as
/// [`StopReason::Diverged`] when a batch loss is not finite or a step leaves a parameter NaN or infinite:
/// the parameters are then put back to their values at the start of that epoch (the last ones checked
/// finite), so a diverged run never hands back a broken model; the evaluation of that epoch is of the
/// restored parameters. The optimizer's state is not rolled back: build a new optimizer (or lower its
/// rate) before training on from there. Train loss and
/// accuracy are running averages over the epoch's batches, weighted by batch size (Keras's convention).
///
/// # Errors
/// [`Error::Config`] for zero epochs, a patience of 0, a negative `min_delta`, a bad batching configuration,
/// or targets the loss cannot take; errors of the forward pass and the engine; [`Error::Optimizer`] from
/// `opt`, for example when a parameter got no gradient.
pub fn fit<T, M, O, R, F>(
    model: &mut M,
    opt: &mut O,
    train: &Dataset<T>,
    test: Option<&Dataset<T>>,
    cfg: &FitConfig,
    rng: &mut R,
    on_epoch: F,
) -> Result<History>
where
    T: Float,
    M: Module<T> + ?Sized,
    O: Optimizer<T> + ?Sized,
    R: Rng + ?Sized,
    F: FnMut(&EpochStats) -> ControlFlow<()>,
{
    run(model, opt, train, test, cfg, None, rng, on_epoch)
}

/// [`fit`] with a learning-rate schedule: before epoch `e` (counted from 1) the optimizer's rate is set to
/// `schedule.lr(e - 1)`, so the first epoch runs at the schedule's base rate. [`EpochStats::lr`] records it.
///
/// # Errors
/// As for [`fit`].
///
/// # Examples
/// ```
/// use std::ops::ControlFlow;
/// use rand::SeedableRng;
/// use tapegrad::Tensor;
/// use tapegrad_nn::data::{Batching, Dataset, Targets};
/// use tapegrad_nn::layers::Linear;
/// use tapegrad_nn::optim::{Sgd, SgdConfig, StepLr};
/// use tapegrad_nn::train::{FitConfig, Loss, fit_with_schedule};
///
/// let x = Tensor::<f64>::from_vec(vec![0.0, 1.0, 2.0, 3.0], [4, 1])?;
/// let data = Dataset::new(x.clone(), Targets::Values(x.map(|v| 2.0 * v)))?;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let mut model = Linear::new(1, 1, &mut rng)?;
/// let mut opt = Sgd::new(SgdConfig::default())?;
/// let cfg = FitConfig { epochs: 4, batching: Batching::Full, loss: Loss::Mse, ..Default::default() };
/// let halve_every_two = StepLr::new(0.1, 2, 0.5)?;
/// let h = fit_with_schedule(&mut model, &mut opt, &data, None, &cfg, &halve_every_two, &mut rng, |_| {
///     ControlFlow::Continue(())
/// })?;
/// let lrs: Vec<f64> = h.epochs.iter().map(|e| e.lr).collect();
/// assert_eq!(lrs, [0.1, 0.1, 0.05, 0.05]);
/// # Ok::<(), tapegrad_nn::Error>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn fit_with_schedule<T, M, O, R, F>(
    model: &mut M,
    opt: &mut O,
    train: &Dataset<T>,
    test: Option<&Dataset<T>>,
    cfg: &FitConfig,
    schedule: &dyn LrSchedule,
    rng: &mut R,
    on_epoch: F,
) -> Result<History>
where
    T: Float,
    M: Module<T> + ?Sized,
    O: Optimizer<T> + ?Sized,
    R: Rng + ?Sized,
    F: FnMut(&EpochStats) -> ControlFlow<()>,
{
    run(model, opt, train, test, cfg, Some(schedule), rng, on_epoch)
}

#[allow(clippy::too_many_arguments)]
fn run<T, M, O, R, F>(
    model: &mut M,
    opt: &mut O,
    train: &Dataset<T>,
    test: Option<&Dataset<T>>,
    cfg: &FitConfig,
    schedule: Option<&dyn LrSchedule>,
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
    let bad = |msg: String| Err(Error::Config { what: "fit", msg });
    if cfg.epochs == 0 {
        return bad("epochs must be at least 1".into());
    }
    if cfg.patience == Some(0) {
        return bad("patience must be at least 1 epoch (None disables early stopping)".into());
    }
    if !(cfg.min_delta >= 0.0 && cfg.min_delta.is_finite()) {
        return bad(format!("min_delta must be finite and >= 0, got {}", cfg.min_delta));
    }
    let mut batcher = Batcher::new(train.len(), cfg.batching)?;
    let mut history = History::default();
    let mut best: Option<(f64, usize, Vec<Tensor<T>>)> = None;
    let mut tape_len = 0;
    let mut start_params: Vec<Vec<T>> =
        model.param_refs_mut().iter().map(|p| Vec::with_capacity(p.value().numel())).collect();
    let run_start = Instant::now();
    for epoch in 1..=cfg.epochs {
        let start = Instant::now();
        if let Some(s) = schedule {
            opt.set_lr(s.lr(epoch - 1));
        }
        model.set_train(true);
        // The parameters at the start of the epoch, known finite (checked after every step): what a diverged
        // run is put back to. Copied into buffers allocated once per run (one memcpy per epoch, no
        // allocation, and the parameters' own storage stays unshared so updates stay in place).
        for (buf, p) in start_params.iter_mut().zip(model.param_refs_mut()) {
            buf.clear();
            buf.extend_from_slice(p.value().data());
        }
        let (mut loss_sum, mut seen, mut correct, mut counted) = (0.0, 0, 0, 0);
        let mut diverged = false;
        for idx in batcher.epoch(rng) {
            let batch = train.gather(idx)?;
            let (grads, loss, hits, len) = {
                let tape = Tape::with_capacity(tape_len);
                let out = model.forward(&tape, tape.input(batch.features().clone()))?;
                let loss = loss_var(cfg.loss, &tape, out, batch.targets())?;
                let value = loss.item()?.f64();
                let hits = count_correct(cfg.loss, &out.value(), batch.targets());
                let grads = if value.is_finite() { Some(loss.backward()?) } else { None };
                tape_len = tape.len();
                (grads, value, hits, batch.len())
            }; // the tape is dropped here: parameters are no longer shared, updates happen in place
            loss_sum += loss * len as f64;
            seen += len;
            if let Some((c, n)) = hits {
                correct += c;
                counted += n;
            }
            let Some(grads) = grads else {
                diverged = true;
                break;
            };
            let mut params = model.param_refs_mut();
            opt.step(&mut params, &grads)?;
            // A finite loss and gradient can still give non-finite weights (a learning rate of 1e39 in f32).
            if !params.iter().all(|p| p.value().data().iter().all(|v| v.is_finite())) {
                diverged = true;
                break;
            }
        }
        if diverged {
            for (p, v) in model.param_refs_mut().into_iter().zip(&start_params) {
                let shape = p.value().shape().clone();
                p.set(Tensor::from_vec(v.clone(), shape)?);
            }
        }
        let train_time = start.elapsed();
        let eval = match test {
            Some(t) => Some(evaluate(model, t, cfg.loss)?),
            None => None,
        };
        let stats = EpochStats {
            epoch,
            train_loss: loss_sum / seen.max(1) as f64,
            train_acc: (counted > 0).then(|| correct as f64 / counted as f64),
            test_loss: eval.map(|e| e.loss),
            test_acc: eval.and_then(|e| e.accuracy),
            lr: opt.lr(),
            train_time,
            time: start.elapsed(),
        };
        let monitored = stats.test_loss.unwrap_or(stats.train_loss);
        let flow = on_epoch(&stats);
        history.epochs.push(stats);
        if diverged {
            history.stop = StopReason::Diverged { epoch };
            break;
        }
        // a NaN loss is never an improvement (a plain `>=` test would take it for one)
        let improved = match &best {
            Some((b, _, _)) => monitored < b - cfg.min_delta,
            None => !monitored.is_nan(),
        };
        if improved {
            let snapshot = if cfg.restore_best {
                model.params().iter().map(|(_, p)| p.value().clone()).collect()
            } else {
                Vec::new()
            };
            best = Some((monitored, epoch, snapshot));
        }
        history.best_epoch = best.as_ref().map(|b| b.1);
        if flow.is_break() {
            history.stop = StopReason::Callback { epoch };
            break;
        }
        let best_epoch = history.best_epoch.unwrap_or(0);
        if cfg.patience.is_some_and(|p| epoch - best_epoch >= p) {
            history.stop = StopReason::EarlyStopping { epoch, best_epoch };
            break;
        }
    }
    if let Some((_, _, snapshot)) = best.filter(|_| cfg.restore_best) {
        for ((_, p), v) in model.params_mut().into_iter().zip(snapshot) {
            p.set(v);
        }
    }
    history.total_time = run_start.elapsed();
    model.set_train(false);
    Ok(history)
}

/// Loss and accuracy of `model` on all of `data`, in eval mode (`set_train(false)`, left so) on a no-grad
/// tape.
///
/// # Errors
/// [`Error::Config`] for targets the loss cannot take; errors of the forward pass.
pub fn evaluate<T: Float, M: Module<T> + ?Sized>(model: &mut M, data: &Dataset<T>, loss: Loss) -> Result<Evaluation> {
    model.set_train(false);
    let tape = Tape::new();
    tape.no_grad(|| {
        let out = model.forward(&tape, tape.input(data.features().clone()))?;
        let value = loss_var(loss, &tape, out, data.targets())?.item()?.f64();
        let accuracy = count_correct(loss, &out.value(), data.targets()).map(|(c, n)| c as f64 / n.max(1) as f64);
        Ok(Evaluation { loss: value, accuracy })
    })
}

/// Records `loss` of the model output `out` against `targets`.
fn loss_var<'t, T: Float>(loss: Loss, tape: &'t Tape<T>, out: Var<'t, T>, targets: &Targets<T>) -> Result<Var<'t, T>> {
    let v = match (loss, targets) {
        (Loss::SoftmaxCrossEntropy, Targets::Classes { labels, .. }) => out.softmax_cross_entropy(labels)?,
        (Loss::SoftmaxCrossEntropy, Targets::Values(t)) => out.softmax_cross_entropy_probs(tape.input(t.clone()))?,
        (Loss::Mse, Targets::Values(t)) => out.mse(tape.input(t.clone()))?,
        (Loss::Mse, Targets::Classes { labels, num_classes }) => out.mse(tape.input(one_hot(labels, *num_classes)?))?,
        (Loss::BceWithLogits, Targets::Values(t)) => out.bce_with_logits(tape.input(t.clone()))?,
        (Loss::BceWithLogits, Targets::Classes { labels, .. }) => {
            if let Some((i, l)) = labels.iter().enumerate().find(|(_, l)| **l > 1) {
                let msg = format!("binary cross-entropy needs labels 0 or 1, found {l} in row {i}");
                return Err(Error::Config { what: "fit", msg });
            }
            let t = Tensor::from_vec(labels.iter().map(|&l| T::of(l as f64)).collect(), [labels.len(), 1])?;
            out.bce_with_logits(tape.input(t))?
        }
    };
    Ok(v)
}

/// `(correct, counted)` for the loss's notion of accuracy; `None` where it has none (regression).
fn count_correct<T: Float>(loss: Loss, out: &Tensor<T>, targets: &Targets<T>) -> Option<(usize, usize)> {
    match (loss, targets) {
        (Loss::SoftmaxCrossEntropy | Loss::Mse, Targets::Classes { labels, .. }) => {
            let pred = tapegrad::argmax_rows(out).ok()?;
            Some((pred.iter().zip(labels).filter(|(p, l)| p == l).count(), labels.len()))
        }
        (Loss::BceWithLogits, Targets::Classes { labels, .. }) if out.numel() == labels.len() => {
            let hits = out.data().iter().zip(labels).filter(|(z, l)| (z.f64() > 0.0) == (**l == 1)).count();
            Some((hits, labels.len()))
        }
        (Loss::BceWithLogits, Targets::Values(t)) if out.numel() == t.numel() => {
            let hits = out.data().iter().zip(t.data()).filter(|(z, y)| (z.f64() > 0.0) == (y.f64() > 0.5)).count();
            Some((hits, t.numel()))
        }
        _ => None,
    }
}

/// One-hot rows `[N, num_classes]`.
fn one_hot<T: Float>(labels: &[usize], num_classes: usize) -> Result<Tensor<T>> {
    let too_large = || Error::Config {
        what: "fit",
        msg: format!("one-hot targets [{}, {num_classes}] do not fit in memory", labels.len()),
    };
    let len = labels.len().checked_mul(num_classes).ok_or_else(too_large)?;
    let mut data = Vec::new();
    data.try_reserve_exact(len).map_err(|_| too_large())?;
    data.resize(len, T::zero());
    for (i, &l) in labels.iter().enumerate() {
        data[i * num_classes + l] = T::one();
    }
    Ok(Tensor::from_vec(data, [labels.len(), num_classes])?)
}

#[cfg(test)]
#[path = "train_tests.rs"]
mod tests;
