//! A trained network is shared by threads for inference: the layers are `Send + Sync` (checked at compile
//! time below), and predictions made in parallel equal a single-threaded run bit for bit.

use rand::SeedableRng;
use rand::rngs::StdRng;
use std::sync::Arc;
use tapegrad::Tensor;
use tapegrad_nn::Module;
use tapegrad_nn::layers::{Activation, BatchNorm1d, Dropout, Linear, Mlp, MlpConfig, Sequential};

const fn send_sync<T: Send + Sync>() {}
const fn cloneable<T: Clone>() {}

// Compile-time assertions of the auto traits (a regression makes this file fail to build).
const _: () = {
    send_sync::<Mlp<f32>>();
    send_sync::<Mlp<f64>>();
    send_sync::<Sequential<f32>>();
    send_sync::<BatchNorm1d<f32>>();
    send_sync::<Dropout>();
    send_sync::<Linear<f64>>();
    send_sync::<Activation>();
    send_sync::<Box<dyn Module<f32>>>();
    cloneable::<Mlp<f32>>();
    cloneable::<BatchNorm1d<f64>>();
    cloneable::<Dropout>();
    cloneable::<Linear<f32>>();
};

/// A trained-looking network with every stateful layer: batch norm (running statistics moved by a few
/// training-mode batches) and dropout, then switched to eval mode.
fn trained() -> Mlp<f32> {
    let cfg = MlpConfig { sizes: vec![16, 32, 24, 5], batch_norm: true, dropout: 0.3, ..Default::default() };
    let mut rng = StdRng::seed_from_u64(11);
    let mut mlp = Mlp::<f32>::from_config(cfg, &mut rng).unwrap();
    for _ in 0..3 {
        mlp.predict(&Tensor::randn([8, 16], 0.5, 2.0, &mut rng).unwrap()).unwrap();
    }
    mlp.set_train(false);
    mlp
}

fn inputs() -> Vec<Tensor<f32>> {
    let mut rng = StdRng::seed_from_u64(12);
    (0..16).map(|i| Tensor::randn([1 + i % 5, 16], 0.0, 1.0, &mut rng).unwrap()).collect()
}

fn bits(t: &Tensor<f32>) -> Vec<u32> {
    t.data().iter().map(|v| v.to_bits()).collect()
}

#[test]
fn parallel_predictions_equal_a_single_threaded_run_bit_for_bit() {
    let mlp = trained();
    let xs = inputs();
    let serial: Vec<Vec<u32>> = xs.iter().map(|x| bits(&mlp.predict(x).unwrap())).collect();
    let stats = mlp.buffers();
    let parallel: Vec<Vec<Vec<u32>>> = std::thread::scope(|s| {
        let handles: Vec<_> =
            (0..4).map(|_| s.spawn(|| xs.iter().map(|x| bits(&mlp.predict(x).unwrap())).collect::<Vec<_>>())).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (t, run) in parallel.iter().enumerate() {
        assert_eq!(run, &serial, "thread {t} differs from the single-threaded run");
    }
    assert_eq!(mlp.buffers(), stats, "eval-mode inference must not move the running statistics");
}

#[test]
fn an_arc_shared_model_predicts_from_spawned_threads() {
    let mlp = Arc::new(trained());
    let x = inputs().swap_remove(3);
    let expect = bits(&mlp.predict(&x).unwrap());
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let (m, x) = (Arc::clone(&mlp), x.clone());
            std::thread::spawn(move || bits(&m.predict(&x).unwrap()))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), expect);
    }
}

#[test]
fn a_cloned_mlp_predicts_identically_and_trains_independently() {
    let mlp = trained();
    let mut copy = mlp.clone();
    let x = inputs().swap_remove(4);
    assert_eq!(bits(&copy.predict(&x).unwrap()), bits(&mlp.predict(&x).unwrap()));
    assert_eq!(copy.buffers(), mlp.buffers());
    for p in copy.param_refs_mut() {
        p.value_mut().data_mut()[0] += 1.0;
    }
    assert_ne!(bits(&copy.predict(&x).unwrap()), bits(&mlp.predict(&x).unwrap()));
    let a = mlp.params().into_iter().map(|(_, p)| p.id()).collect::<Vec<_>>();
    let b = copy.params().into_iter().map(|(_, p)| p.id()).collect::<Vec<_>>();
    assert!(a.iter().all(|id| !b.contains(id)), "a clone has its own parameter ids");
}

#[test]
fn training_mode_batch_norm_shared_by_threads_keeps_finite_statistics() {
    // Training-mode forwards from several threads serialise their updates on the lock: the statistics stay
    // finite and every update lands (with momentum 1 the last batch's mean wins, one of the batches' means).
    let bn = BatchNorm1d::<f64>::with_config(2, tapegrad_nn::layers::BatchNormConfig { momentum: 1.0, eps: 1e-5 });
    let bn = bn.unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let bn = &bn;
            s.spawn(move || {
                let x = Tensor::from_vec(vec![t as f64, 1.0, t as f64 + 2.0, 3.0], [2, 2]).unwrap();
                bn.predict(&x).unwrap();
            });
        }
    });
    let mean = bn.running_mean().to_vec();
    assert!([1.0, 2.0, 3.0, 4.0].contains(&mean[0]) && mean[1] == 2.0, "{mean:?}");
}
