//! `fit` is tested with a tiny linear module and plain gradient descent defined here, so these tests depend
//! on nothing but the traits.

use super::*;
use crate::data::CsvOptions;
use crate::data::StandardScaler;
use crate::data::{Batching, Targets};
use crate::error::Error;
use crate::optim::GradSource;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::sync::Mutex;
use tapegrad::Param;
use tapegrad::{Tensor, Var};

/// `y = x W^T + b`; optionally records (train mode, grad enabled) at every forward, and optionally holds a
/// parameter the forward never uses.
struct Linear {
    w: Param<f64>,
    b: Param<f64>,
    unused: Option<Param<f64>>,
    nan_in_eval: bool,
    train: bool,
    log: Mutex<Vec<(bool, bool)>>,
}

impl Linear {
    fn new(inputs: usize, outputs: usize) -> Self {
        let w = Param::new(Tensor::zeros([outputs, inputs]).unwrap());
        let b = Param::new(Tensor::zeros([outputs]).unwrap());
        Linear { w, b, unused: None, nan_in_eval: false, train: true, log: Mutex::default() }
    }
}

impl Module<f64> for Linear {
    fn forward<'t>(&self, tape: &'t Tape<f64>, x: Var<'t, f64>) -> Result<Var<'t, f64>> {
        self.log.lock().unwrap().push((self.train, tape.grad_enabled()));
        let y = x.linear(tape.param(&self.w), Some(tape.param(&self.b)))?;
        Ok(if self.nan_in_eval && !self.train { y.mul_scalar(f64::NAN) } else { y })
    }
    fn params(&self) -> Vec<(String, &Param<f64>)> {
        let mut v = vec![("w".to_string(), &self.w), ("b".to_string(), &self.b)];
        v.extend(self.unused.iter().map(|p| ("unused".to_string(), p)));
        v
    }
    fn params_mut(&mut self) -> Vec<(String, &mut Param<f64>)> {
        let mut v = vec![("w".to_string(), &mut self.w), ("b".to_string(), &mut self.b)];
        v.extend(self.unused.iter_mut().map(|p| ("unused".to_string(), p)));
        v
    }
    fn set_train(&mut self, train: bool) {
        self.train = train;
    }
}

/// Plain gradient descent; a parameter without a gradient is an error, as the `Optimizer` trait asks.
struct Gd(f64);

impl Optimizer<f64> for Gd {
    fn step(&mut self, params: &mut [&mut Param<f64>], grads: &dyn GradSource<f64>) -> Result<()> {
        for p in params.iter_mut() {
            let Some(g) = grads.grad(p.id()) else {
                return Err(Error::Optimizer { optimizer: "gd", msg: format!("no gradient for {:?}", p.id()) });
            };
            let g = g.clone();
            p.value_mut().data_mut().iter_mut().zip(g.data()).for_each(|(w, g)| *w -= self.0 * g);
        }
        Ok(())
    }
    fn lr(&self) -> f64 {
        self.0
    }
    fn set_lr(&mut self, lr: f64) {
        self.0 = lr;
    }
}

/// Iris, stratified 70/30 split (seed 0), standardised with the training statistics.
fn iris() -> (Dataset<f64>, Dataset<f64>) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/data/iris.csv");
    let ds = Dataset::from_csv(path, &CsvOptions { skip_lines: 1, ..Default::default() }).unwrap();
    let (train, test) = ds.stratified_split(0.3, &mut StdRng::seed_from_u64(0)).unwrap();
    let s = StandardScaler::fit(train.features()).unwrap();
    (s.transform_dataset(&train).unwrap(), s.transform_dataset(&test).unwrap())
}

#[test]
fn softmax_regression_on_iris_reaches_90_percent_test_accuracy() {
    let (train, test) = iris();
    let mut model = Linear::new(4, 3);
    let cfg = || FitConfig { epochs: 200, batching: Batching::Full, ..Default::default() };
    let h = fit(&mut model, &mut Gd(0.5), &train, FitConfig { validation: Some(&test), seed: 1, ..cfg() }).unwrap();
    assert_eq!((h.len(), h.stop), (200, StopReason::Completed));
    // zero weights predict uniform probabilities: the first batch loss is ln 3
    assert!((h.epochs[0].train_loss - 3f64.ln()).abs() < 1e-12);
    let last = h.last().unwrap();
    assert!(last.train_loss < 0.25 * h.epochs[0].train_loss, "train loss {} did not fall", last.train_loss);
    assert!(last.val_loss.unwrap() < 0.3, "test loss {:?}", last.val_loss);
    assert!(last.val_acc.unwrap() >= 0.9, "test accuracy {:?}", last.val_acc);
    assert!(last.train_acc.unwrap() >= 0.9, "train accuracy {:?}", last.train_acc);
    assert!(h.train_loss().windows(2).all(|w| w[1] <= w[0]), "full-batch GD with a small step decreases the loss");
}

#[test]
fn mini_batch_and_stochastic_training_reduce_the_loss_reproducibly() {
    let (train, test) = iris();
    for batching in [Batching::Stochastic, Batching::MiniBatch { size: 16, drop_last: true }] {
        let run = || {
            let mut model = Linear::new(4, 3);
            let cfg = || FitConfig { epochs: 10, batching, ..Default::default() };
            let h = fit(&mut model, &mut Gd(0.05), &train, FitConfig { validation: Some(&test), seed: 2, ..cfg() });
            (h.unwrap(), model.w.value().to_vec())
        };
        let (h, w) = run();
        assert!(h.last().unwrap().val_loss.unwrap() < 0.5, "{batching:?}: {:?}", h.last());
        assert!(h.last().unwrap().val_acc.unwrap() >= 0.8, "{batching:?}: {:?}", h.last());
        assert_eq!(run().1, w, "{batching:?}: the same seed gives the same weights");
    }
}

#[test]
fn steps_run_in_train_mode_and_evaluation_in_eval_mode_without_grad() {
    let (train, test) = iris();
    let mut model = Linear::new(4, 3);
    let cfg =
        || FitConfig { epochs: 2, batching: Batching::MiniBatch { size: 50, drop_last: false }, ..Default::default() };
    fit(&mut model, &mut Gd(0.1), &train, FitConfig { validation: Some(&test), seed: 0, ..cfg() }).unwrap();
    // 105 training rows: 3 steps, then one evaluation, per epoch
    let step = (true, true);
    let eval = (false, false);
    assert_eq!(*model.log.lock().unwrap(), [step, step, step, eval, step, step, step, eval]);
    assert!(model.train, "fit leaves the model in training mode, as after building or loading it");
}

#[test]
fn early_stopping_stops_after_patience_epochs_without_improvement() {
    let (train, test) = iris();
    let mut model = Linear::new(4, 3);
    let cfg = || FitConfig { epochs: 50, batching: Batching::Full, patience: Some(3), ..Default::default() };
    // a zero learning rate never improves on the first epoch
    let h = fit(&mut model, &mut Gd(0.0), &train, FitConfig { validation: Some(&test), seed: 0, ..cfg() }).unwrap();
    assert_eq!(h.stop, StopReason::EarlyStopping { epoch: 3, best_epoch: Some(0) });
    assert_eq!((h.len(), h.best_epoch), (4, Some(0)));
}

#[test]
fn restore_best_puts_back_the_parameters_of_the_best_epoch() {
    let (train, test) = iris();
    let mut model = Linear::new(4, 3);
    let cfg = || FitConfig {
        epochs: 50,
        batching: Batching::Full,
        patience: Some(2),
        restore_best: true,
        ..Default::default()
    };
    // gradient ascent: every epoch is worse than the one before, so the first (epoch 0) is the best
    let h = fit(&mut model, &mut Gd(-0.1), &train, FitConfig { validation: Some(&test), seed: 0, ..cfg() }).unwrap();
    assert_eq!(h.stop, StopReason::EarlyStopping { epoch: 2, best_epoch: Some(0) });
    assert!(h.val_loss()[2] > h.val_loss()[0]);
    let now = evaluate(&mut model, &test, Loss::SoftmaxCrossEntropy).unwrap();
    assert_eq!(now.loss, h.epochs[0].val_loss.unwrap());
}

#[test]
fn the_callback_sees_every_epoch_and_can_stop_training() {
    let (train, _) = iris();
    let mut seen = Vec::new();
    let cfg = || FitConfig { epochs: 10, batching: Batching::Full, ..Default::default() };
    let mut stop_at_two = |s: &EpochStats| {
        seen.push(s.epoch);
        if s.epoch == 1 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    };
    let h = fit(
        &mut Linear::new(4, 3),
        &mut Gd(0.1),
        &train,
        FitConfig { seed: 0, on_epoch: Some(&mut stop_at_two), ..cfg() },
    )
    .unwrap();
    assert_eq!(seen, [0, 1], "epochs count from 0");
    assert_eq!((h.len(), h.stop), (2, StopReason::Callback { epoch: 1 }));
    assert_eq!(h.epochs[0].val_loss, None);
    assert_eq!(h.epochs[0].lr, 0.1);
}

#[test]
fn binary_cross_entropy_separates_setosa_from_the_rest() {
    let (train, test) = iris();
    let binary = |d: &Dataset<f64>| {
        let labels = d.labels().unwrap().iter().map(|&l| usize::from(l == 0)).collect();
        Dataset::new(d.features().clone(), Targets::classes(labels)).unwrap()
    };
    let (train, test) = (binary(&train), binary(&test));
    let mut model = Linear::new(4, 1);
    let cfg = || FitConfig { epochs: 100, batching: Batching::Full, loss: Loss::BceWithLogits, ..Default::default() };
    let h = fit(&mut model, &mut Gd(0.5), &train, FitConfig { validation: Some(&test), seed: 0, ..cfg() }).unwrap();
    assert!((h.epochs[0].train_loss - 2f64.ln()).abs() < 1e-12, "zero logits cost ln 2");
    assert_eq!(h.last().unwrap().val_acc, Some(1.0), "setosa is linearly separable");
    assert!(h.last().unwrap().val_loss.unwrap() < 0.05);
}

#[test]
fn mse_trains_on_one_hot_class_targets_and_on_real_targets() {
    let (train, test) = iris();
    let cfg = || FitConfig { epochs: 200, batching: Batching::Full, loss: Loss::Mse, ..Default::default() };
    let h = fit(&mut Linear::new(4, 3), &mut Gd(0.1), &train, FitConfig { validation: Some(&test), seed: 0, ..cfg() });
    let last = *h.unwrap().last().unwrap();
    assert!((last.val_acc.unwrap()) >= 0.75, "{last:?}"); // linear least squares on one-hot targets
    // regression: y = x0 - 2 x1 + 0.5, noise-free
    let x = train.features().clone();
    let y = Tensor::from_vec(x.data().chunks(4).map(|r| r[0] - 2.0 * r[1] + 0.5).collect(), [x.dims()[0], 1]).unwrap();
    let reg = Dataset::new(x, Targets::Values(y)).unwrap();
    // the petal columns are strongly correlated, so gradient descent needs many epochs to pin down the weights
    let cfg = || FitConfig { epochs: 2000, ..cfg() };
    let h = fit(&mut Linear::new(4, 1), &mut Gd(0.1), &reg, FitConfig { validation: Some(&reg), seed: 0, ..cfg() });
    let last = *h.unwrap().last().unwrap();
    assert!(last.val_loss.unwrap() < 1e-4, "{last:?}");
    assert_eq!((last.train_acc, last.val_acc), (None, None));
}

#[test]
fn a_diverging_run_stops_before_applying_a_non_finite_step() {
    let x = Tensor::from_vec((0..10).map(|i| i as f64).collect(), [10, 1]).unwrap();
    let reg = Dataset::new(x.clone(), Targets::Values(x.map(|v| 3.0 * v))).unwrap();
    let mut model = Linear::new(1, 1);
    let cfg = || FitConfig { epochs: 500, batching: Batching::Full, loss: Loss::Mse, ..Default::default() };
    let h = fit(&mut model, &mut Gd(1.0), &reg, FitConfig { seed: 0, ..cfg() }).unwrap();
    let StopReason::Diverged { epoch } = h.stop else { panic!("expected divergence, got {:?}", h.stop) };
    assert!(epoch < 500 && h.len() == epoch + 1, "epochs count from 0");
    assert!(!h.last().unwrap().train_loss.is_finite());
    assert!(model.w.value().all_finite() && model.b.value().all_finite());
}

#[test]
fn a_parameter_without_gradient_is_an_optimizer_error() {
    let (train, _) = iris();
    let mut model = Linear::new(4, 3);
    model.unused = Some(Param::new(Tensor::zeros([2]).unwrap()));
    let cfg = || FitConfig { epochs: 1, batching: Batching::Full, ..Default::default() };
    let r = fit(&mut model, &mut Gd(0.1), &train, FitConfig { seed: 0, ..cfg() });
    assert!(matches!(r, Err(Error::Optimizer { optimizer: "gd", .. })), "{r:?}");
}

#[test]
fn unusable_configurations_and_targets_are_errors() {
    let (train, _) = iris();
    let zero = || FitConfig { epochs: 0, ..Default::default() };
    assert!(fit(&mut Linear::new(4, 3), &mut Gd(0.1), &train, zero()).is_err());
    let impatient = || FitConfig { patience: Some(0), ..Default::default() };
    let e = fit(&mut Linear::new(4, 3), &mut Gd(0.1), &train, impatient()).unwrap_err();
    assert_eq!(e.to_string(), "fit: patience must be at least 1 epoch (None disables early stopping)");
    let negative = || FitConfig { min_delta: -1.0, ..Default::default() };
    let e = fit(&mut Linear::new(4, 3), &mut Gd(0.1), &train, negative()).unwrap_err();
    assert_eq!(e.to_string(), "fit: min_delta must be finite and >= 0, got -1");
    let bce = || FitConfig { epochs: 1, loss: Loss::BceWithLogits, ..Default::default() };
    let e = fit(&mut Linear::new(4, 1), &mut Gd(0.1), &train, bce()).unwrap_err().to_string();
    // the error names the training set's row and its line in iris.csv, before any step
    let row = train.labels().unwrap().iter().position(|&l| l == 2).unwrap();
    let (_, line) = train.row_origin(row).unwrap();
    let want = format!("fit: training data: binary cross-entropy needs labels 0 or 1, found 2 in row {row} (");
    assert!(e.starts_with(&want) && e.ends_with(&format!("iris.csv line {line})")), "{e}");
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/data/iris.csv")).unwrap();
    assert!(text.lines().nth(line - 1).unwrap().ends_with(",2"), "line {line} of the file holds a label 2");
    let wide = || FitConfig { epochs: 1, ..Default::default() };
    let e = fit(&mut Linear::new(3, 3), &mut Gd(0.1), &train, wide()).unwrap_err();
    assert!(matches!(e, Error::Engine(_)), "a model of the wrong width fails in its forward pass: {e}");
}

/// Digits scaled to `[0, 1]`, stratified 80/20 split (seed 0).
fn digits() -> (Dataset<f32>, Dataset<f32>) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/data/digits.csv.gz");
    let ds = Dataset::<f32>::from_csv(path, &CsvOptions::default()).unwrap();
    let ds = ds.with_features(ds.features().map(|v| v / 16.0)).unwrap();
    ds.stratified_split(0.2, &mut StdRng::seed_from_u64(0)).unwrap()
}

#[test]
fn the_crate_mlp_with_adam_and_dropout_learns_digits_above_95_percent() {
    use crate::layers::{Activation, Mlp, MlpConfig};
    use crate::optim::{Adam, AdamConfig};
    let (train, test) = digits();
    let mut rng = StdRng::seed_from_u64(0);
    let config = MlpConfig { sizes: vec![64, 64, 10], hidden: Activation::Relu, dropout: 0.1, ..Default::default() };
    let mut model = Mlp::<f32>::from_config(config, &mut rng).unwrap();
    let mut opt = Adam::new(AdamConfig { lr: 3e-3, ..Default::default() }).unwrap();
    let cfg =
        || FitConfig { epochs: 20, batching: Batching::MiniBatch { size: 32, drop_last: false }, ..Default::default() };
    let h =
        fit(&mut model, &mut opt, &train, FitConfig { validation: Some(&test), rng: Some(&mut rng), ..cfg() }).unwrap();
    let last = *h.last().unwrap();
    assert!(last.val_acc.unwrap() >= 0.95, "{last:?}");
    assert!(last.train_loss < 0.25 * h.epochs[0].train_loss, "{:?}", h.train_loss());
    // eval mode switches dropout off: evaluating twice gives the same numbers as the last epoch's evaluation
    let again = evaluate(&mut model, &test, Loss::SoftmaxCrossEntropy).unwrap();
    assert_eq!((Some(again.loss), again.accuracy), (last.val_loss, last.val_acc));
}

#[test]
fn a_schedule_sets_the_rate_before_every_epoch() {
    use crate::optim::StepLr;
    let (train, test) = iris();
    let cfg = || FitConfig { epochs: 5, batching: Batching::Full, ..Default::default() };
    // the rate is 0.5 in the first epoch and 0 afterwards, so only the first epoch's step moves the weights
    let first_only = StepLr::new(0.5, 1, 0.0).unwrap();
    let mut model = Linear::new(4, 3);
    let h = fit(
        &mut model,
        &mut Gd(9.0),
        &train,
        FitConfig { validation: Some(&test), schedule: Some(&first_only), ..cfg() },
    );
    let h = h.unwrap();
    assert_eq!(h.epochs.iter().map(|e| e.lr).collect::<Vec<_>>(), [0.5, 0.0, 0.0, 0.0, 0.0]);
    let mut one_epoch = Linear::new(4, 3);
    let cfg1 = || FitConfig { epochs: 1, ..cfg() };
    fit(&mut one_epoch, &mut Gd(0.5), &train, FitConfig { seed: 0, ..cfg1() }).unwrap();
    assert_eq!(model.w.value().to_vec(), one_epoch.w.value().to_vec());
    assert!(h.val_loss().windows(2).skip(1).all(|w| w[0] == w[1]));
}

#[test]
fn a_nan_test_loss_never_counts_as_an_improvement() {
    let (train, test) = iris();
    let mut model = Linear::new(4, 3);
    model.nan_in_eval = true;
    let cfg = || FitConfig { epochs: 20, batching: Batching::Full, patience: Some(3), ..Default::default() };
    let h = fit(&mut model, &mut Gd(0.1), &train, FitConfig { validation: Some(&test), seed: 0, ..cfg() }).unwrap();
    assert!(h.epochs[0].val_loss.unwrap().is_nan());
    assert_eq!(h.stop, StopReason::EarlyStopping { epoch: 2, best_epoch: None });
    assert_eq!(h.best_epoch, None);
}

#[test]
fn real_valued_targets_train_like_the_class_labels_they_encode() {
    let (train, test) = iris();
    let as_values = |d: &Dataset<f64>, k: usize, encode: &dyn Fn(usize, usize) -> f64| {
        let labels = d.labels().unwrap();
        let y = (0..labels.len() * k).map(|i| encode(labels[i / k], i % k)).collect();
        Dataset::new(d.features().clone(), Targets::Values(Tensor::from_vec(y, [labels.len(), k]).unwrap())).unwrap()
    };
    let run = |loss, outputs, tr: &Dataset<f64>, te: &Dataset<f64>| {
        let cfg = || FitConfig { epochs: 30, batching: Batching::Full, loss, ..Default::default() };
        let mut rng = StdRng::seed_from_u64(0);
        fit(
            &mut Linear::new(4, outputs),
            &mut Gd(0.5),
            tr,
            FitConfig { validation: Some(te), rng: Some(&mut rng), ..cfg() },
        )
        .unwrap()
    };
    let close = |a: &History, b: &History| {
        a.train_loss().iter().zip(b.train_loss()).all(|(x, y)| (x - y).abs() < 1e-12)
            && a.val_loss().iter().zip(b.val_loss()).all(|(x, y)| (x - y).abs() < 1e-12)
    };
    // softmax cross-entropy against one-hot probabilities equals it against the class indices
    let one_hot = |l: usize, j: usize| f64::from(u8::from(l == j));
    let by_class = run(Loss::SoftmaxCrossEntropy, 3, &train, &test);
    let by_probs = run(Loss::SoftmaxCrossEntropy, 3, &as_values(&train, 3, &one_hot), &as_values(&test, 3, &one_hot));
    assert!(close(&by_class, &by_probs));
    assert_eq!(by_probs.last().unwrap().val_acc, None, "probability targets have no accuracy");
    // binary cross-entropy against a 0/1 column equals it against the labels 0/1 (setosa or not)
    let setosa = |l: usize, _: usize| f64::from(u8::from(l == 0));
    let binary = |d: &Dataset<f64>| {
        let labels = d.labels().unwrap().iter().map(|&l| usize::from(l == 0)).collect();
        Dataset::new(d.features().clone(), Targets::classes(labels)).unwrap()
    };
    let by_label = run(Loss::BceWithLogits, 1, &binary(&train), &binary(&test));
    let by_value = run(Loss::BceWithLogits, 1, &as_values(&train, 1, &setosa), &as_values(&test, 1, &setosa));
    assert!(close(&by_label, &by_value));
    assert_eq!(by_label.last().unwrap().val_acc, by_value.last().unwrap().val_acc);
}

#[test]
fn the_running_loss_estimate_follows_q_equals_one_minus_eta_q_plus_eta_loss_per_batch() {
    let (train, test) = iris();
    // full batch: one step per epoch, so each batch loss is the epoch's train loss
    let cfg = || FitConfig { epochs: 30, batching: Batching::Full, running_loss_eta: 0.1, ..Default::default() };
    let h = fit(&mut Linear::new(4, 3), &mut Gd(0.5), &train, FitConfig { validation: Some(&test), ..cfg() }).unwrap();
    assert_eq!(h.running_loss.len(), 30);
    assert_eq!(h.running_loss[0], h.epochs[0].train_loss, "the first Q is the first batch loss");
    for k in 1..30 {
        let want = 0.9 * h.running_loss[k - 1] + 0.1 * h.epochs[k].train_loss;
        assert!((h.running_loss[k] - want).abs() < 1e-15, "batch {k}: {} vs {want}", h.running_loss[k]);
        assert_eq!(h.epochs[k].running_loss, h.running_loss[k]);
    }
    // a falling loss: Q lags behind it, above the latest batch loss
    assert!(h.running_loss[29] > h.epochs[29].train_loss);
    // mini-batches: one Q per step over all epochs
    let mini = FitConfig { epochs: 3, batching: Batching::MiniBatch { size: 10, drop_last: false }, ..cfg() };
    let h = fit(&mut Linear::new(4, 3), &mut Gd(0.1), &train, mini).unwrap();
    assert_eq!(h.running_loss.len(), 3 * train.len().div_ceil(10));
    assert_eq!(h.epochs[2].running_loss, *h.running_loss.last().unwrap());
    for eta in [0.0, 1.5, f64::NAN] {
        let e = fit(&mut Linear::new(4, 3), &mut Gd(0.1), &train, FitConfig { running_loss_eta: eta, ..cfg() });
        assert!(e.unwrap_err().to_string().contains("running_loss_eta must be in (0, 1]"));
    }
}

/// A schedule that records the epoch numbers it is asked for.
struct Recorder(Mutex<Vec<usize>>);

impl LrSchedule for Recorder {
    fn lr(&self, epoch: usize) -> f64 {
        self.0.lock().unwrap().push(epoch);
        0.1
    }
}

#[test]
fn epochs_and_schedules_count_the_same_way_from_zero() {
    let (train, _) = iris();
    let schedule = Recorder(Mutex::default());
    let mut seen = Vec::new();
    let mut record = |s: &EpochStats| {
        seen.push(s.epoch);
        ControlFlow::Continue(())
    };
    let cfg = FitConfig { epochs: 3, schedule: Some(&schedule), on_epoch: Some(&mut record), ..Default::default() };
    let h = fit(&mut Linear::new(4, 3), &mut Gd(0.5), &train, cfg).unwrap();
    assert_eq!(*schedule.0.lock().unwrap(), [0, 1, 2]);
    assert_eq!(seen, [0, 1, 2]);
    assert_eq!(h.epochs.iter().map(|e| e.epoch).collect::<Vec<_>>(), [0, 1, 2]);
}

#[test]
fn without_an_rng_fit_shuffles_with_a_stdrng_seeded_from_seed() {
    let (train, _) = iris();
    let run = |cfg: FitConfig<'_, f64>| {
        let mut m = Linear::new(4, 3);
        fit(&mut m, &mut Gd(0.1), &train, FitConfig { epochs: 2, batching: Batching::Stochastic, ..cfg }).unwrap();
        m.w.value().to_vec()
    };
    let default = run(FitConfig::default());
    assert_eq!(run(FitConfig { rng: Some(&mut StdRng::seed_from_u64(0)), ..Default::default() }), default);
    assert_eq!(run(FitConfig { seed: 0, ..Default::default() }), default);
    assert_ne!(run(FitConfig { seed: 1, ..Default::default() }), default);
}

#[test]
fn data_errors_name_the_dataset_row_and_the_file_line() {
    let (train, test) = iris();
    let short = |d: &Dataset<f64>, outputs| {
        fit(&mut Linear::new(4, outputs), &mut Gd(0.1), d, FitConfig { epochs: 1, ..Default::default() })
    };
    // a label the model has no output for, met in a shuffled batch, is reported by its dataset row
    let e = short(&train, 2).unwrap_err().to_string();
    let rows: Vec<String> =
        (0..train.len()).filter(|&r| train.labels().unwrap()[r] == 2).map(|r| train.describe_row(r)).collect();
    assert!(rows[0].contains("iris.csv line "), "{}", rows[0]);
    assert!(e.starts_with("fit: label 2 of row ") && e.ends_with("is not below the model's 2 outputs"), "{e}");
    assert!(rows.iter().any(|r| e.contains(&format!("of {r} is"))), "{e} names a row with label 2");
    // non-finite features (the file's line is kept by with_features) and targets in memory (no file)
    let mut x = train.features().clone();
    x.data_mut()[4 * 7 + 2] = f64::NAN;
    let e = short(&train.with_features(x).unwrap(), 3).unwrap_err().to_string();
    let line = train.row_origin(7).unwrap().1;
    assert!(e.starts_with("fit: training data: feature 2 of row 7 ("), "{e}");
    assert!(e.ends_with(&format!("iris.csv line {line}) is NaN, not finite")), "{e}");
    let y = Tensor::from_vec(vec![0.0, f64::INFINITY, 0.5], [3, 1]).unwrap();
    let reg = Dataset::new(Tensor::zeros([3, 4]).unwrap(), Targets::Values(y)).unwrap();
    let cfg = FitConfig { epochs: 1, loss: Loss::Mse, ..Default::default() };
    let e = fit(&mut Linear::new(4, 1), &mut Gd(0.1), &reg, cfg).unwrap_err().to_string();
    assert_eq!(e, "fit: training data: target 0 of row 1 is inf, not finite");
    // the validation set is checked too, and named
    let bce = |v| FitConfig { epochs: 1, loss: Loss::BceWithLogits, validation: Some(v), ..Default::default() };
    let binary = Dataset::new(train.features().clone(), Targets::classes(vec![1; train.len()])).unwrap();
    let e = fit(&mut Linear::new(4, 1), &mut Gd(0.1), &binary, bce(&test)).unwrap_err().to_string();
    assert!(e.starts_with("fit: validation data: binary cross-entropy needs labels 0 or 1, found 2 in row "), "{e}");
    assert!(e.contains("iris.csv line "), "{e}");
}

#[test]
fn the_model_is_in_training_mode_after_fit_as_after_build_and_load() {
    use crate::layers::{Activation, Mlp, MlpConfig};
    let (train, test) = iris();
    let config = MlpConfig { sizes: vec![4, 16, 3], hidden: Activation::Relu, dropout: 0.5, ..Default::default() };
    let mut mlp = Mlp::<f64>::from_config(config, &mut StdRng::seed_from_u64(0)).unwrap();
    let x = test.features();
    let in_training_mode = |m: &Mlp<f64>| m.predict(x).unwrap() != m.predict(x).unwrap(); // fresh dropout masks
    assert!(in_training_mode(&mlp), "built");
    let cfg = FitConfig { epochs: 2, validation: Some(&test), ..Default::default() };
    fit(&mut mlp, &mut Gd(0.1), &train, cfg).unwrap();
    assert!(in_training_mode(&mlp), "after fit, although fit evaluated in eval mode");
    let path = std::env::temp_dir().join(format!("fit-mode-{}.safetensors", std::process::id()));
    mlp.save(&path).unwrap();
    let mut back = Mlp::<f64>::load(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(in_training_mode(&back), "after Mlp::load");
    back.set_train(false);
    crate::io::load(&mut back, {
        mlp.save(&path).unwrap();
        &path
    })
    .unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(!in_training_mode(&back), "io::load into a module keeps its mode, like load_state_dict");
}
