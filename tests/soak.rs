//! Soak test: 10,000 training steps of the digits MLP 64-128-64-10 (Adam, batches of 32)
//! through `fit`, the resident set size sampled from `/proc/self/statm` after about 1,000 steps and at the
//! end. Memory must stay flat: growth under 1%. This is the only test in its binary, so no other test's
//! allocations move the numbers. About a second in a release build.

#![cfg(target_os = "linux")]

use rand::SeedableRng;
use rand::rngs::StdRng;
use std::ops::ControlFlow;
use tapegrad_examples::digits;
use tapegrad_nn::Module;
use tapegrad_nn::data::Batching;
use tapegrad_nn::layers::{Activation, Mlp};
use tapegrad_nn::optim::{Adam, AdamConfig};
use tapegrad_nn::train::{EpochStats, FitConfig, StopReason, fit};

/// Resident set size in bytes (second field of `/proc/self/statm`, in pages of 4 KiB).
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("test setup: /proc/self/statm");
    let pages: usize = statm.split_whitespace().nth(1).and_then(|f| f.parse().ok()).expect("statm's second field");
    pages * 4096
}

#[test]
fn ten_thousand_digits_training_steps_keep_memory_flat() {
    let (train, test) = digits::load_split(&digits::default_data_path(), 0).unwrap();
    let batch = 32;
    let steps_per_epoch = train.len().div_ceil(batch);
    let epochs = 10_000usize.div_ceil(steps_per_epoch);
    let warm_epoch = 1_000usize.div_ceil(steps_per_epoch);
    let mut rng = StdRng::seed_from_u64(0);
    let mut model = Mlp::<f32>::new(&[64, 128, 64, 10], Activation::Relu, Activation::Identity, &mut rng).unwrap();
    let mut opt = Adam::new(AdamConfig::default()).unwrap();
    let cfg =
        FitConfig { epochs, batching: Batching::MiniBatch { size: batch, drop_last: false }, ..Default::default() };
    let mut after_warmup = None;
    let mut after_warm_up = |e: &EpochStats| {
        if e.epoch + 1 == warm_epoch {
            after_warmup = Some(rss());
        }
        ControlFlow::Continue(())
    };
    let cfg = FitConfig { validation: Some(&test), rng: Some(&mut rng), on_epoch: Some(&mut after_warm_up), ..cfg };
    let h = fit(&mut model, &mut opt, &train, cfg).unwrap();
    let end = rss();
    assert_eq!(h.stop, StopReason::Completed);
    assert!(epochs * steps_per_epoch >= 10_000 && warm_epoch * steps_per_epoch >= 1_000);
    let start = after_warmup.expect("the callback saw the warm-up epoch");
    // the history keeps one running-loss value per step and one EpochStats per epoch: data, not a leak
    let kept = h.running_loss.capacity() * std::mem::size_of::<f64>()
        + h.epochs.capacity() * std::mem::size_of::<EpochStats>();
    let growth = (end as f64 - start as f64 - kept as f64) / start as f64;
    println!(
        "soak: {} steps, RSS {} KiB after {} steps, {} KiB at the end, {} KiB of history ({:+.3}% beyond it)",
        epochs * steps_per_epoch,
        start / 1024,
        warm_epoch * steps_per_epoch,
        end / 1024,
        kept / 1024,
        100.0 * growth
    );
    assert!(growth < 0.01, "RSS grew {:.3}% beyond the history's {kept} bytes, from {start} to {end}", 100.0 * growth);
    assert!(h.last().unwrap().val_acc.unwrap() > 0.9, "the model trained: {:?}", h.last());
    assert!(model.params().iter().all(|(_, p)| p.value().data().iter().all(|v| v.is_finite())));
}
