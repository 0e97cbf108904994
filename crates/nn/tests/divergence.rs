//! Training never hands back a broken model: a run that diverges stops as `Diverged` with the parameters
//! of the start of that epoch, finite; hyper-parameters that cannot work are refused before training.

use rand::SeedableRng;
use rand::rngs::StdRng;
use tapegrad::{Param, Tensor};
use tapegrad_nn::data::{Batching, Dataset, MinMaxScaler, StandardScaler, Targets};
use tapegrad_nn::layers::{Activation, Mlp};
use tapegrad_nn::optim::{
    AdaDelta, AdaDeltaConfig, AdaGrad, AdaGradConfig, Adam, AdamConfig, AdamW, AdamWConfig, GradSource, RmsProp,
    RmsPropConfig, Sgd, SgdConfig,
};
use tapegrad_nn::train::{FitConfig, StopReason, fit};
use tapegrad_nn::{Error, Module, Optimizer};

fn blobs() -> Dataset<f32> {
    let mut rng = StdRng::seed_from_u64(3);
    let x = Tensor::<f32>::randn([64, 4], 0.0, 1.0, &mut rng).unwrap();
    let labels = (0..64).map(|i| usize::from(x.data()[i * 4] > 0.0) + usize::from(x.data()[i * 4 + 1] > 0.0)).collect();
    Dataset::new(x, Targets::classes(labels)).unwrap()
}

fn values<M: Module<f32>>(m: &M) -> Vec<Vec<u32>> {
    m.params().into_iter().map(|(_, p)| p.value().data().iter().map(|v| v.to_bits()).collect()).collect()
}

/// Plain gradient descent that, from its third step on, writes infinity into the first weight: a step that
/// leaves a parameter non-finite while every loss so far was finite.
struct Poison {
    steps: usize,
}

impl Optimizer<f32> for Poison {
    fn step(&mut self, params: &mut [&mut Param<f32>], grads: &dyn GradSource<f32>) -> tapegrad_nn::Result<()> {
        self.steps += 1;
        for p in params.iter_mut() {
            let g = grads.grad(p.id()).unwrap().clone();
            for (w, g) in p.value_mut().data_mut().iter_mut().zip(g.data()) {
                *w -= 0.01 * g;
            }
        }
        if self.steps >= 3 {
            params[0].value_mut().data_mut()[0] = f32::INFINITY;
        }
        Ok(())
    }
    fn lr(&self) -> f64 {
        0.01
    }
    fn set_lr(&mut self, _: f64) {}
}

fn cfg(epochs: usize, rng: &mut StdRng) -> FitConfig<'_, f32> {
    FitConfig {
        epochs,
        batching: Batching::MiniBatch { size: 8, drop_last: false },
        rng: Some(rng),
        ..Default::default()
    }
}

#[test]
fn fit_restores_the_parameters_of_the_epoch_start_when_a_step_makes_them_non_finite() {
    let data = blobs();
    let mut rng = StdRng::seed_from_u64(0);
    let mut mlp = Mlp::<f32>::new(&[4, 8, 3], Activation::Relu, Activation::Identity, &mut rng).unwrap();
    let before = values(&mlp);
    let h = fit(&mut mlp, &mut Poison { steps: 0 }, &data, cfg(5, &mut rng));
    let h = h.unwrap();
    assert_eq!(h.stop, StopReason::Diverged { epoch: 0 });
    assert_eq!(values(&mlp), before, "the parameters of the start of the first epoch (epoch 0)");
}

#[test]
fn fit_with_a_huge_learning_rate_stops_as_diverged_with_finite_parameters() {
    // The digits run with --lr 1e39 saved 17,226 NaN parameters and exited 0. 1e30 is finite in f32, and
    // the weights it makes overflow the logits within an epoch or two.
    let data = blobs();
    let mut rng = StdRng::seed_from_u64(1);
    let mut mlp = Mlp::<f32>::new(&[4, 16, 3], Activation::Relu, Activation::Identity, &mut rng).unwrap();
    let mut opt = Sgd::new(SgdConfig { lr: 1e30, ..Default::default() }).unwrap();
    let h = fit(&mut mlp, &mut opt, &data, cfg(20, &mut rng)).unwrap();
    assert!(matches!(h.stop, StopReason::Diverged { .. }), "{:?}", h.stop);
    for (name, p) in mlp.params() {
        assert!(p.value().data().iter().all(|v| v.is_finite()), "{name} is not finite after divergence");
    }
}

#[test]
fn a_learning_rate_finite_in_f64_but_infinite_in_f32_is_refused_at_the_first_step() {
    let data = blobs();
    let mut rng = StdRng::seed_from_u64(2);
    let mut mlp = Mlp::<f32>::new(&[4, 8, 3], Activation::Relu, Activation::Identity, &mut rng).unwrap();
    let before = values(&mlp);
    let mut opt = Adam::new(AdamConfig { lr: 1e39, ..Default::default() }).unwrap();
    let err = fit(&mut mlp, &mut opt, &data, cfg(2, &mut rng)).unwrap_err();
    assert_eq!(err.to_string(), "adam: learning rate 1e39 is not finite in f32");
    assert_eq!(values(&mlp), before);
}

#[test]
fn every_first_order_optimizer_refuses_zero_negative_and_non_finite_lr_and_eps() {
    for lr in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(Sgd::<f32>::new(SgdConfig { lr, ..Default::default() }).is_err(), "sgd lr {lr}");
        assert!(Adam::<f32>::new(AdamConfig { lr, ..Default::default() }).is_err(), "adam lr {lr}");
        assert!(AdamW::<f32>::new(AdamWConfig { lr, ..Default::default() }).is_err(), "adamw lr {lr}");
        assert!(RmsProp::<f32>::new(RmsPropConfig { lr, ..Default::default() }).is_err(), "rmsprop lr {lr}");
        assert!(AdaGrad::<f32>::new(AdaGradConfig { lr, ..Default::default() }).is_err(), "adagrad lr {lr}");
        assert!(AdaDelta::<f32>::new(AdaDeltaConfig { lr, ..Default::default() }).is_err(), "adadelta lr {lr}");
    }
    for eps in [0.0, -1e-8, f64::NAN, f64::INFINITY] {
        let e = Adam::<f32>::new(AdamConfig { eps, ..Default::default() }).unwrap_err();
        assert!(matches!(e, Error::Config { what: "adam", .. }), "{e}");
        assert!(AdamW::<f32>::new(AdamWConfig { eps, ..Default::default() }).is_err(), "adamw eps {eps}");
        assert!(RmsProp::<f32>::new(RmsPropConfig { eps, ..Default::default() }).is_err(), "rmsprop eps {eps}");
        assert!(AdaGrad::<f32>::new(AdaGradConfig { eps, ..Default::default() }).is_err(), "adagrad eps {eps}");
        assert!(AdaDelta::<f32>::new(AdaDeltaConfig { eps, ..Default::default() }).is_err(), "adadelta eps {eps}");
    }
    for beta in [-0.1, 1.0, f64::NAN] {
        assert!(Adam::<f32>::new(AdamConfig { beta1: beta, ..Default::default() }).is_err(), "beta1 {beta}");
        assert!(Adam::<f32>::new(AdamConfig { beta2: beta, ..Default::default() }).is_err(), "beta2 {beta}");
        assert!(Sgd::<f32>::new(SgdConfig { momentum: beta, ..Default::default() }).is_err(), "momentum {beta}");
    }
}

#[test]
fn adam_with_an_eps_that_is_zero_in_f32_is_refused_at_the_step() {
    // eps = 0 gave NaN weights on a zero gradient; 1e-50 passes the f64 check but is 0 in f32.
    let mut opt = Adam::<f32>::new(AdamConfig { eps: 1e-50, ..Default::default() }).unwrap();
    let mut w = Param::new(Tensor::<f32>::zeros([2]).unwrap());
    let grads = {
        let tape = tapegrad::Tape::new();
        tape.param(&w).mul_scalar(0.0).sum().backward().unwrap()
    };
    let err = opt.step(&mut [&mut w], &grads).unwrap_err();
    assert_eq!(err.to_string(), "adam: eps 1e-50 is 0 in f32; it must be finite and > 0");
    assert!(w.value().data().iter().all(|v| v.is_finite()));
}

#[test]
fn scalers_refuse_non_finite_data_naming_the_column() {
    let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, f64::NAN, 5.0, 6.0], [2, 3]).unwrap();
    let e = match StandardScaler::fit(&x) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("NaN data was accepted"),
    };
    assert_eq!(e, "StandardScaler::fit: column 0 holds NaN (row 1); the data must be finite");
    let inf = Tensor::<f32>::from_vec(vec![1.0, f32::INFINITY, 3.0, 4.0], [2, 2]).unwrap();
    assert!(MinMaxScaler::fit(&inf).is_err());
    let ok = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], [2, 2]).unwrap();
    let s = StandardScaler::fit(&ok).unwrap();
    let e = s.transform(&inf).unwrap_err().to_string();
    assert!(e.contains("column 1 holds inf (row 0)"), "{e}");
}
