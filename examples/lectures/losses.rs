//! Losses: `kl_div` against `sum p ln(p / q)` by hand, a softmax classifier trained with KL on soft targets,
//! the backprop lecture's cost `C = (1/N) sum 1/2 ||y - F(x)||^2` against `mse` (`C = K/2 mse`), and the
//! l_p norms (p < 1 included) against their definition.

use super::Opts;
use super::util::{clouds, line, say};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::io::Write;
use tapegrad::{Tape, Tensor};
use tapegrad_examples::error::Result;
use tapegrad_nn::Module;
use tapegrad_nn::layers::Linear;
use tapegrad_nn::optim::{Adam, AdamConfig, Optimizer};

/// The numbers the demonstration prints.
#[derive(Debug, Clone)]
pub struct LossesReport {
    /// `kl_div` and the hand sum `(1/N) sum p ln(p/q)`.
    pub kl: (f64, f64),
    /// The KL of the classifier to its soft targets before and after training, and its accuracy.
    pub kl_training: (f64, f64, f64),
    /// `half_squared_error`, `mse` and K.
    pub cost_vs_mse: (f64, f64, usize),
    /// `(p, lp_norm, hand value)`.
    pub norms: Vec<(f64, f64, f64)>,
}

/// Runs the demonstration.
///
/// # Errors
/// Engine errors.
pub fn run(o: &Opts, out: &mut dyn Write) -> Result<LossesReport> {
    let mut rng = StdRng::seed_from_u64(o.seed);
    line(out, "# kl_div(log q, p) against (1/N) sum p ln(p / q) by hand")?;
    let softmax = |t: Tensor<f64>| -> Result<Tensor<f64>> { Ok(tapegrad::softmax_rows(&t)?) };
    let p = softmax(Tensor::randn([4, 5], 0.0, 1.0, &mut rng)?)?;
    let q = softmax(Tensor::randn([4, 5], 0.0, 1.0, &mut rng)?)?;
    let tape = Tape::new();
    let kl = tape.input(q.map(f64::ln)).kl_div(tape.input(p.clone()))?.item()?;
    let hand: f64 = p.data().iter().zip(q.data()).map(|(p, q)| p * (p / q).ln()).sum::<f64>() / 4.0;
    say(out, "kl_div", format!("{kl:.12}"))?;
    say(out, "sum p ln(p/q) / N", format!("{hand:.12}"))?;

    line(out, "# a softmax classifier trained with KL to soft targets (0.9 on the class, 0.05 elsewhere)")?;
    let (x01, _) = clouds(40, [-1.5, 0.0], [1.5, 0.0], 0.5, &mut rng)?;
    let (x2, _) = clouds(20, [0.0, 1.8], [0.0, 1.8], 0.5, &mut rng)?;
    let x = Tensor::from_vec([x01.data(), x2.data()].concat(), [120, 2])?;
    let labels: Vec<usize> = (0..120).map(|i| i / 40).collect();
    let soft: Vec<f64> = labels.iter().flat_map(|&c| (0..3).map(move |k| if k == c { 0.9 } else { 0.05 })).collect();
    let t = Tensor::from_vec(soft, [120, 3])?;
    let mut net = Linear::<f64>::new(2, 3, &mut rng)?;
    let mut opt = Adam::new(AdamConfig { lr: 0.05, ..Default::default() })?;
    let (mut first, mut last) = (f64::NAN, f64::NAN);
    for step in 0..o.epochs.unwrap_or(200) {
        let tape = Tape::new();
        let logp = net.forward(&tape, tape.input(x.clone()))?.log_softmax(1)?;
        let loss = logp.kl_div(tape.input(t.clone()))?;
        last = loss.item()?;
        if step == 0 {
            first = last;
        }
        let grads = loss.backward()?;
        drop(tape);
        opt.step(&mut net.param_refs_mut(), &grads)?;
    }
    let pred = tapegrad::argmax_rows(&net.predict(&x)?)?;
    let acc = pred.iter().zip(&labels).filter(|(a, b)| a == b).count() as f64 / labels.len() as f64;
    say(out, "kl_first", format!("{first:.4}"))?;
    say(out, "kl_last", format!("{last:.4}"))?;
    say(out, "kl_accuracy", format!("{acc:.4}"))?;

    line(out, "# the backprop cost C = (1/N) sum 1/2 ||y - F||^2 against mse: C = K/2 mse")?;
    let f = Tensor::<f64>::randn([6, 3], 0.0, 1.0, &mut rng)?;
    let yv = Tensor::<f64>::randn([6, 3], 0.0, 1.0, &mut rng)?;
    let tape = Tape::new();
    let c = tape.input(f.clone()).half_squared_error(tape.input(yv.clone()))?.item()?;
    let m = tape.input(f).mse(tape.input(yv))?.item()?;
    say(out, "half_squared_error", format!("{c:.6}"))?;
    say(out, "mse", format!("{m:.6}"))?;
    say(out, "ratio (K/2 = 1.5)", format!("{:.6}", c / m))?;

    line(out, "# l_p norms of x = [3, -4, 0, 1]")?;
    let xs = [3.0, -4.0, 0.0, 1.0f64];
    let tape = Tape::new();
    let xv = tape.input(Tensor::from_vec(xs.to_vec(), [4])?);
    let mut norms = Vec::new();
    for p in [0.5, 1.0, 2.0, 3.0] {
        let v = xv.lp_norm(p)?.item()?;
        let want = xs.iter().map(|x: &f64| x.abs().powf(p)).sum::<f64>().powf(1.0 / p);
        say(out, &format!("lp_norm(p={p})"), format!("{v:.6}"))?;
        norms.push((p, v, want));
    }
    Ok(LossesReport { kl: (kl, hand), kl_training: (first, last, acc), cost_vs_mse: (c, m, 3), norms })
}
