//! Training (lectures 003/004): vanishing gradients per layer of a 10-layer net (sigmoid against relu,
//! small uniform against Xavier/He initialisation); zero initialisation keeping every hidden unit identical
//! next to random initialisation; momentum as an exponential moving average over about `1/(1 - gamma)`
//! steps.

use super::Opts;
use super::util::{line, say};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::io::Write;
use tapegrad::{Param, Tape, Tensor};
use tapegrad_examples::error::{Error, Result};
use tapegrad_examples::plot::{self, XyPanel};
use tapegrad_nn::Module;
use tapegrad_nn::init::Init;
use tapegrad_nn::layers::{Activation, Mlp, MlpConfig};
use tapegrad_nn::optim::{Adam, AdamConfig, Optimizer, Sgd, SgdConfig};

/// The numbers the demonstration prints.
#[derive(Debug, Clone)]
pub struct TrainingReport {
    /// `(configuration, weight-gradient norm per layer from the input side)`.
    pub layer_grads: Vec<(String, Vec<f64>)>,
    /// `(configuration, final loss, largest difference between hidden units' weight rows)`.
    pub init_runs: Vec<(String, f64, f64)>,
    /// `(gamma, steps until the velocity reaches 1 - 1/e of 1/(1 - gamma), 1/(1 - gamma))`.
    pub momentum: Vec<(f64, usize, f64)>,
}

/// Frobenius norms of the weight gradients of `mlp`, input side first, for one batch.
fn layer_gradient_norms(mlp: &Mlp<f64>, x: &Tensor<f64>, y: &Tensor<f64>) -> Result<Vec<f64>> {
    let tape = Tape::new();
    let loss = mlp.forward(&tape, tape.input(x.clone()))?.mse(tape.input(y.clone()))?;
    let grads = loss.backward()?;
    let mut norms = Vec::new();
    for (name, p) in mlp.params() {
        if name.ends_with("weight") {
            let g = grads.param(p).ok_or_else(|| Error::Check(format!("{name} got no gradient")))?;
            norms.push(g.data().iter().map(|v| v * v).sum::<f64>().sqrt());
        }
    }
    Ok(norms)
}

/// The largest difference between the first hidden layer's weight rows (0 when all units are identical).
fn row_spread(w: &Tensor<f64>) -> f64 {
    let cols = w.dims()[1];
    let first = &w.data()[..cols];
    w.data().chunks(cols).flat_map(|r| r.iter().zip(first).map(|(a, b)| (a - b).abs())).fold(0.0, f64::max)
}

/// Runs the demonstration.
///
/// # Errors
/// Engine, training and drawing errors.
pub fn run(o: &Opts, out: &mut dyn Write) -> Result<TrainingReport> {
    let mut rng = StdRng::seed_from_u64(o.seed);
    line(out, "# vanishing gradients: weight-gradient norm per layer of a 10-layer net (width 32), one batch")?;
    let x = Tensor::<f64>::randn([64, 16], 0.0, 1.0, &mut rng)?;
    let y = Tensor::<f64>::randn([64, 1], 0.0, 1.0, &mut rng)?;
    let mut sizes = vec![16];
    sizes.extend([32; 9]);
    sizes.push(1);
    let configs = [
        ("sigmoid, U(-0.1, 0.1)", Activation::Sigmoid, Init::SmallUniform { scale: 0.1 }),
        ("sigmoid, Xavier", Activation::Sigmoid, Init::XavierUniform),
        ("relu, U(-0.1, 0.1)", Activation::Relu, Init::SmallUniform { scale: 0.1 }),
        ("relu, He", Activation::Relu, Init::HeNormal),
    ];
    let mut layer_grads = Vec::new();
    for (name, act, init) in configs {
        let cfg = MlpConfig { sizes: sizes.clone(), hidden: act, init: Some(init), ..Default::default() };
        let mlp = Mlp::<f64>::from_config(cfg, &mut rng)?;
        let norms = layer_gradient_norms(&mlp, &x, &y)?;
        say(out, &format!("{name}: first/last layer gradient ratio"), format!("{:.3e}", norms[0] / norms[9]))?;
        layer_grads.push((name.to_string(), norms));
    }
    let series = layer_grads
        .iter()
        .map(|(n, g)| (n.clone(), g.iter().enumerate().map(|(i, &v)| ((i + 1) as f64, v)).collect()))
        .collect();
    let path = o.out.join("vanishing_gradients.png");
    let panel = XyPanel {
        title: "weight-gradient norm per layer (log scale)".into(),
        x_desc: "layer (1 = input side)".into(),
        y_desc: "||dL/dW||".into(),
        series,
        log_y: true,
        ..Default::default()
    };
    plot::xy_panels(&path, &[panel], 1)?;
    say(out, "picture", path.display())?;

    line(out, "# zero initialisation: every hidden unit gets the same gradient and stays identical (XOR, 2-8-1)")?;
    let xo = Tensor::from_vec(vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], [4, 2])?;
    let yo = Tensor::from_vec(vec![0.0, 1.0, 1.0, 0.0], [4, 1])?;
    let inits = [
        ("sigmoid, zeros", Activation::Sigmoid, Init::Zeros),
        ("sigmoid, Xavier", Activation::Sigmoid, Init::XavierUniform),
        ("relu, zeros", Activation::Relu, Init::Zeros),
        ("relu, He", Activation::Relu, Init::HeNormal),
    ];
    let mut init_runs = Vec::new();
    for (name, act, init) in inits {
        let cfg = MlpConfig {
            sizes: vec![2, 8, 1],
            hidden: act,
            output: Activation::Sigmoid,
            init: Some(init),
            ..Default::default()
        };
        let mut mlp = Mlp::<f64>::from_config(cfg, &mut rng)?;
        let mut opt = Adam::new(AdamConfig { lr: 0.05, ..Default::default() })?;
        let mut last = f64::NAN;
        for _ in 0..o.epochs.unwrap_or(600) {
            let tape = Tape::new();
            let loss = mlp.forward(&tape, tape.input(xo.clone()))?.mse(tape.input(yo.clone()))?;
            last = loss.item()?;
            let grads = loss.backward()?;
            drop(tape);
            opt.step(&mut mlp.param_refs_mut(), &grads)?;
        }
        let spread = row_spread(mlp.params()[0].1.value());
        say(out, &format!("{name}: final mse"), format!("{last:.4}"))?;
        say(out, &format!("{name}: hidden weight rows differ by"), format!("{spread:.3e}"))?;
        init_runs.push((name.to_string(), last, spread));
    }

    line(out, "# momentum v = gamma v + g with a constant gradient g = 1: v -> 1/(1 - gamma)")?;
    let mut momentum = Vec::new();
    let mut curves = Vec::new();
    for gamma in [0.5, 0.9, 0.99] {
        let mut p = Param::new(Tensor::from_vec(vec![0.0], [1])?);
        let mut opt = Sgd::new(SgdConfig { lr: 1.0, momentum: gamma, ..Default::default() })?;
        let terminal = 1.0 / (1.0 - gamma);
        let (mut reached, mut curve) = (0, Vec::new());
        for t in 1..=1000 {
            let tape = Tape::new();
            let loss = tape.param(&p).sum();
            let grads = loss.backward()?;
            drop(tape);
            opt.step(&mut [&mut p], &grads)?;
            let v = opt.velocity(&p).map(|v| v[0]).ok_or_else(|| Error::Check("no velocity".into()))?;
            curve.push((t as f64, v / terminal));
            if reached == 0 && v >= (1.0 - (-1.0f64).exp()) * terminal {
                reached = t;
            }
        }
        say(
            out,
            &format!("gamma={gamma}: steps to 63% of 1/(1-gamma)"),
            format!("{reached} (1/(1-gamma) = {terminal:.0})"),
        )?;
        momentum.push((gamma, reached, terminal));
        curves.push((format!("gamma = {gamma}"), curve));
    }
    let path = o.out.join("momentum.png");
    let panel = XyPanel {
        title: "momentum: v_t (1 - gamma), the EMA of the gradients".into(),
        x_desc: "step t (log scale)".into(),
        y_desc: "v_t / (1 / (1 - gamma))".into(),
        series: curves,
        log_x: true,
        ..Default::default()
    };
    plot::xy_panels(&path, &[panel], 1)?;
    say(out, "picture", path.display())?;
    Ok(TrainingReport { layer_grads, init_runs, momentum })
}
