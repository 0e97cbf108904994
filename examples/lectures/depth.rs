//! Lecture 001, "two or three layers suffice": MLPs with 1 to 6 layers of weights (width 64, relu, Adam) on
//! the 8x8 digits, same split and budget; the test accuracy stops improving after two or three layers.

use super::Opts;
use super::util::{line, say};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::io::Write;
use tapegrad_examples::digits::{default_data_path, load_split};
use tapegrad_examples::error::Result;
use tapegrad_nn::data::Batching;
use tapegrad_nn::layers::{Activation, Mlp};
use tapegrad_nn::optim::{Adam, AdamConfig};
use tapegrad_nn::train::{FitConfig, Loss, evaluate, fit};

/// `(layers of weights, test accuracy)` per network.
pub type DepthReport = Vec<(usize, f64)>;

/// Runs the demonstration.
///
/// # Errors
/// Data, training errors.
pub fn run(o: &Opts, out: &mut dyn Write) -> Result<DepthReport> {
    let (train, test) = load_split(&default_data_path(), o.seed)?;
    let epochs = o.epochs.unwrap_or(30);
    line(out, &format!("# digits: width-64 relu MLPs, Adam 2e-3, batches of 32, {epochs} epochs each"))?;
    let mut report = Vec::new();
    for layers in [1, 2, 3, 4, 6] {
        let mut sizes = vec![64];
        sizes.extend(std::iter::repeat_n(64, layers - 1));
        sizes.push(10);
        let mut rng = StdRng::seed_from_u64(o.seed);
        let mut mlp = Mlp::<f32>::new(&sizes, Activation::Relu, Activation::Identity, &mut rng)?;
        let mut opt = Adam::new(AdamConfig { lr: 2e-3, ..Default::default() })?;
        let cfg = FitConfig {
            epochs,
            batching: Batching::MiniBatch { size: 32, drop_last: false },
            loss: Loss::SoftmaxCrossEntropy,
            rng: Some(&mut rng),
            ..Default::default()
        };
        fit(&mut mlp, &mut opt, &train, cfg)?;
        let acc = evaluate(&mut mlp, &test, Loss::SoftmaxCrossEntropy)?.accuracy.unwrap_or(f64::NAN);
        say(out, &format!("layers={layers}: test accuracy"), format!("{acc:.4}"))?;
        report.push((layers, acc));
    }
    Ok(report)
}
