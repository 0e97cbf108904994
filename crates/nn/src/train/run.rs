//! The training loop of [`super::fit`], one function per step: check the configuration and the data, run
//! one epoch of steps, put diverged parameters back, evaluate, decide whether to stop, restore the best
//! parameters.

use super::targets::{check_data, count_correct, loss_var};
use super::{EpochStats, FitConfig, History, StopReason, evaluate};
use crate::data::{Batcher, Dataset};
use crate::error::{Error, Result};
use crate::module::Module;
use crate::optim::Optimizer;
use rand::{Rng, SeedableRng};
use std::ops::ControlFlow;
use std::time::{Duration, Instant};
use tapegrad::{Float, Tape, Tensor};

/// What one epoch of steps measured.
struct EpochPass {
    loss_sum: f64,
    seen: usize,
    correct: usize,
    counted: usize,
    diverged: bool,
    time: Duration,
}

/// What the loop carries from epoch to epoch.
struct RunState<T: Float> {
    batcher: Batcher,
    /// Tape length of the last step, to size the next tape.
    tape_len: usize,
    /// The parameters at the start of the epoch, known finite (checked after every step): what a diverged
    /// run is put back to. Copied into buffers allocated once per run (one memcpy per epoch, no allocation,
    /// and the parameters' own storage stays unshared so updates stay in place).
    start_params: Vec<Vec<T>>,
    /// (monitored loss, epoch, parameters when `restore_best`) of the best epoch so far.
    best: Option<(f64, usize, Vec<Tensor<T>>)>,
    /// The running loss estimate `Q`, `None` before the first batch.
    running: Option<f64>,
}

pub(super) fn run<T, M, O>(model: &mut M, opt: &mut O, train: &Dataset<T>, mut cfg: FitConfig<'_, T>) -> Result<History>
where
    T: Float,
    M: Module<T> + ?Sized,
    O: Optimizer<T> + ?Sized,
{
    validate(&cfg, train)?;
    let (rng, on_epoch) = (cfg.rng.take(), cfg.on_epoch.take());
    let mut seeded;
    let rng: &mut dyn Rng = match rng {
        Some(r) => r,
        None => {
            seeded = rand::rngs::StdRng::seed_from_u64(cfg.seed);
            &mut seeded
        }
    };
    let mut no_callback = |_: &EpochStats| ControlFlow::Continue(());
    let on_epoch = on_epoch.unwrap_or(&mut no_callback);
    let mut state = RunState {
        batcher: Batcher::new(train.len(), cfg.batching)?,
        tape_len: 0,
        start_params: model.param_refs_mut().iter().map(|p| Vec::with_capacity(p.value().numel())).collect(),
        best: None,
        running: None,
    };
    let mut history = History::default();
    let run_start = Instant::now();
    for epoch in 0..cfg.epochs {
        let start = Instant::now();
        if let Some(s) = cfg.schedule {
            opt.set_lr(s.lr(epoch));
        }
        let pass = train_epoch(model, opt, train, &cfg, &mut state, rng, &mut history.running_loss)?;
        if pass.diverged {
            restore_epoch_start(model, &state.start_params)?;
        }
        let eval = cfg.validation.map(|v| evaluate(model, v, cfg.loss)).transpose()?;
        let stats = EpochStats {
            epoch,
            train_loss: pass.loss_sum / pass.seen.max(1) as f64,
            running_loss: state.running.unwrap_or(f64::NAN),
            train_acc: (pass.counted > 0).then(|| pass.correct as f64 / pass.counted as f64),
            val_loss: eval.map(|e| e.loss),
            val_acc: eval.and_then(|e| e.accuracy),
            lr: opt.lr(),
            train_time: pass.time,
            time: start.elapsed(),
        };
        let flow = on_epoch(&stats);
        history.epochs.push(stats);
        if let Some(stop) = stop_reason(model, &cfg, &mut state, &stats, pass.diverged, flow) {
            history.stop = stop;
        }
        history.best_epoch = state.best.as_ref().map(|b| b.1);
        if history.stop != StopReason::Completed {
            break;
        }
    }
    if cfg.restore_best {
        restore_best(model, state.best);
    }
    history.total_time = run_start.elapsed();
    model.set_train(true);
    Ok(history)
}

/// Refuses a configuration or data `fit` cannot use, before any step.
fn validate<T: Float>(cfg: &FitConfig<'_, T>, train: &Dataset<T>) -> Result<()> {
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
    if !(cfg.running_loss_eta > 0.0 && cfg.running_loss_eta <= 1.0) {
        return bad(format!("running_loss_eta must be in (0, 1], got {}", cfg.running_loss_eta));
    }
    check_data(cfg.loss, train, "training data")?;
    if let Some(v) = cfg.validation {
        check_data(cfg.loss, v, "validation data")?;
    }
    Ok(())
}

/// One pass over the training set in training mode: per batch a new tape, forward, loss, backward, the
/// tape dropped, the optimizer's step; the running loss estimate updated after every batch. Stops at the
/// first batch whose loss, or whose step's parameters, are not finite (`diverged`).
fn train_epoch<T, M, O>(
    model: &mut M,
    opt: &mut O,
    train: &Dataset<T>,
    cfg: &FitConfig<'_, T>,
    state: &mut RunState<T>,
    rng: &mut dyn Rng,
    running_loss: &mut Vec<f64>,
) -> Result<EpochPass>
where
    T: Float,
    M: Module<T> + ?Sized,
    O: Optimizer<T> + ?Sized,
{
    let start = Instant::now();
    model.set_train(true);
    for (buf, p) in state.start_params.iter_mut().zip(model.param_refs_mut()) {
        buf.clear();
        buf.extend_from_slice(p.value().data());
    }
    let mut pass = EpochPass { loss_sum: 0.0, seen: 0, correct: 0, counted: 0, diverged: false, time: Duration::ZERO };
    let eta = cfg.running_loss_eta;
    for idx in state.batcher.epoch(rng) {
        let batch = train.gather(idx)?;
        let (grads, loss, hits) = {
            let tape = Tape::with_capacity(state.tape_len);
            let out = model.forward(&tape, tape.input(batch.features().clone()))?;
            let loss = loss_var(cfg.loss, &tape, out, batch.targets(), &|r| train.describe_row(idx[r]))?;
            let value = loss.item()?.f64();
            let hits = count_correct(cfg.loss, &out.value(), batch.targets());
            let grads = if value.is_finite() { Some(loss.backward()?) } else { None };
            state.tape_len = tape.len();
            (grads, value, hits)
        }; // the tape is dropped here: parameters are no longer shared, updates happen in place
        pass.loss_sum += loss * batch.len() as f64;
        pass.seen += batch.len();
        if let Some((c, n)) = hits {
            pass.correct += c;
            pass.counted += n;
        }
        let q = state.running.map_or(loss, |q| (1.0 - eta) * q + eta * loss);
        state.running = Some(q);
        running_loss.push(q);
        let Some(grads) = grads else {
            pass.diverged = true;
            break;
        };
        let mut params = model.param_refs_mut();
        opt.step(&mut params, &grads)?;
        // A finite loss and gradient can still give non-finite weights (a learning rate of 1e39 in f32).
        if !params.iter().all(|p| p.value().data().iter().all(|v| v.is_finite())) {
            pass.diverged = true;
            break;
        }
    }
    pass.time = start.elapsed();
    Ok(pass)
}

/// Puts the parameters back to their values at the start of the epoch.
fn restore_epoch_start<T: Float, M: Module<T> + ?Sized>(model: &mut M, start: &[Vec<T>]) -> Result<()> {
    for (p, v) in model.param_refs_mut().into_iter().zip(start) {
        let shape = p.value().shape().clone();
        p.set(Tensor::from_vec(v.clone(), shape)?);
    }
    Ok(())
}

/// Records the epoch as the best one when its monitored loss improved, and says why training stops after
/// it, if it does: divergence, the callback, or `patience` epochs without improvement.
fn stop_reason<T: Float, M: Module<T> + ?Sized>(
    model: &M,
    cfg: &FitConfig<'_, T>,
    state: &mut RunState<T>,
    stats: &EpochStats,
    diverged: bool,
    flow: ControlFlow<()>,
) -> Option<StopReason> {
    let epoch = stats.epoch;
    if diverged {
        return Some(StopReason::Diverged { epoch });
    }
    let monitored = stats.val_loss.unwrap_or(stats.train_loss);
    // a NaN loss is never an improvement (a plain `>=` test would take it for one)
    let improved = match &state.best {
        Some((b, _, _)) => monitored < b - cfg.min_delta,
        None => !monitored.is_nan(),
    };
    if improved {
        let snapshot =
            if cfg.restore_best { model.params().iter().map(|(_, p)| p.value().clone()).collect() } else { Vec::new() };
        state.best = Some((monitored, epoch, snapshot));
    }
    if flow.is_break() {
        return Some(StopReason::Callback { epoch });
    }
    let best_epoch = state.best.as_ref().map(|b| b.1);
    let without_improvement = best_epoch.map_or(epoch + 1, |b| epoch - b);
    match cfg.patience {
        Some(p) if without_improvement >= p => Some(StopReason::EarlyStopping { epoch, best_epoch }),
        _ => None,
    }
}

/// Puts back the parameters of the best epoch, if one was recorded.
fn restore_best<T: Float, M: Module<T> + ?Sized>(model: &mut M, best: Option<(f64, usize, Vec<Tensor<T>>)>) {
    if let Some((_, _, snapshot)) = best {
        for ((_, p), v) in model.params_mut().into_iter().zip(snapshot) {
            p.set(v);
        }
    }
}
