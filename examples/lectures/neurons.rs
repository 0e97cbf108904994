//! Lecture 001/004, the neuron: every activation with its derivative (from the tape, checked against
//! central differences), the stochastic binary neuron, a PReLU slope learned by the tape, the bias as the
//! weight of a constant input `x0 = -1`, and a sign neuron classifying `+-1` labels with the perceptron rule.

use super::Opts;
use super::util::{clouds, gd_step, labelled_points, line, line_in_box, say};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::io::Write;
use tapegrad::{Param, Tape, Tensor, Var};
use tapegrad_examples::error::{Error, Result};
use tapegrad_examples::plot::{self, PlanePanel, XyPanel};
use tapegrad_nn::Module;
use tapegrad_nn::layers::PRelu;

/// The activations drawn, with the names printed.
pub const ACTIVATIONS: [&str; 8] =
    ["sigmoid", "tanh", "relu", "leaky_relu(0.1)", "softplus", "step", "threshold(t>=0)", "sign"];

/// The numbers the demonstration prints.
#[derive(Debug, Clone)]
pub struct NeuronsReport {
    /// Largest `|tape derivative - central difference|` over all activations and grid points (|x| > 0.05).
    pub max_derivative_error: f64,
    /// `(activation, f(0), f'(1) from the tape)`.
    pub at_points: Vec<(String, f64, f64)>,
    /// `(s, sigmoid(s), measured firing frequency)` of the stochastic neuron.
    pub stochastic: Vec<(f64, f64, f64)>,
    /// The teacher's slope and the PReLU slope learned from 0.25.
    pub prelu_slope: (f64, f64),
    /// Largest difference between the separate-bias and the `x0 = -1` neuron: outputs, then gradients.
    pub bias_as_weight_diff: (f64, f64),
    /// Training accuracy of the sign neuron and the number of perceptron epochs it took.
    pub sign_neuron: (f64, usize),
}

/// Applies the named activation.
fn apply<'t>(name: &str, x: Var<'t, f64>) -> Result<Var<'t, f64>> {
    Ok(match name {
        "sigmoid" => x.sigmoid(),
        "tanh" => x.tanh(),
        "relu" => x.relu(),
        "leaky_relu(0.1)" => x.leaky_relu(1.0, 0.1)?,
        "softplus" => x.softplus(),
        "step" => x.step(),
        "threshold(t>=0)" => x.heaviside(1.0),
        "sign" => x.sign(),
        other => return Err(Error::Input { what: "activation".into(), msg: format!("unknown {other}") }),
    })
}

/// Values and tape derivatives of the named activation at `xs`.
fn value_and_derivative(name: &str, xs: &[f64]) -> Result<(Vec<f64>, Vec<f64>)> {
    let tape = Tape::new();
    let x = tape.leaf(Tensor::from_vec(xs.to_vec(), [xs.len()])?);
    let y = apply(name, x)?;
    let g = y.sum().backward()?;
    let d = g.get(x)?.map(|t| t.to_vec()).unwrap_or_else(|| vec![0.0; xs.len()]);
    Ok((y.value().to_vec(), d))
}

/// Runs the demonstration.
///
/// # Errors
/// Engine and drawing errors.
pub fn run(o: &Opts, out: &mut dyn Write) -> Result<NeuronsReport> {
    let mut rng = StdRng::seed_from_u64(o.seed);
    line(out, "# activations f(x) and f'(x) from the tape, against central differences (h = 1e-6)")?;
    let xs: Vec<f64> = (0..=400).map(|i| -4.0 + 8.0 * i as f64 / 400.0).collect();
    let h = 1e-6;
    let (mut panels, mut at_points) = (Vec::new(), Vec::new());
    let mut max_err = 0.0f64;
    for name in ACTIVATIONS {
        let (y, d) = value_and_derivative(name, &xs)?;
        let plus: Vec<f64> = xs.iter().map(|x| x + h).collect();
        let minus: Vec<f64> = xs.iter().map(|x| x - h).collect();
        let (yp, _) = value_and_derivative(name, &plus)?;
        let (ym, _) = value_and_derivative(name, &minus)?;
        for i in 0..xs.len() {
            if xs[i].abs() > 0.05 {
                max_err = max_err.max((d[i] - (yp[i] - ym[i]) / (2.0 * h)).abs());
            }
        }
        let (f0, _) = value_and_derivative(name, &[0.0])?;
        let (_, d1) = value_and_derivative(name, &[1.0])?;
        say(out, &format!("{name}: f(0)"), f0[0])?;
        say(out, &format!("{name}: f'(1)"), format!("{:.6}", d1[0]))?;
        at_points.push((name.to_string(), f0[0], d1[0]));
        panels.push(XyPanel {
            title: name.to_string(),
            x_desc: "x".into(),
            y_desc: String::new(),
            series: vec![
                ("f(x)".into(), xs.iter().copied().zip(y).collect()),
                ("f'(x), tape".into(), xs.iter().copied().zip(d).collect()),
            ],
            ..Default::default()
        });
    }
    say(out, "max_derivative_error", format!("{max_err:.3e}"))?;
    let path = o.out.join("activations.png");
    plot::xy_panels(&path, &panels, 4)?;
    say(out, "picture", path.display())?;

    line(out, "# stochastic binary neuron: fires with probability sigmoid(s)")?;
    let draws = 20_000;
    let mut stochastic = Vec::new();
    for s in [-2.0, -1.0, 0.0, 1.0, 2.0f64] {
        let p = 1.0 / (1.0 + (-s).exp());
        let fired = (0..draws).filter(|_| rng.random::<f64>() < p).count();
        let freq = fired as f64 / draws as f64;
        say(out, &format!("s={s}: sigmoid(s)={p:.4} measured"), format!("{freq:.4}"))?;
        stochastic.push((s, p, freq));
    }

    line(out, "# PReLU: the slope a of max(0, x) + a min(0, x) learned by the tape (teacher a = 0.05)")?;
    let teacher = 0.05;
    let x = Tensor::<f64>::rand_uniform([200, 1], -3.0, 3.0, &mut rng)?;
    let y = x.map(|v| if v > 0.0 { v } else { teacher * v });
    let mut prelu = PRelu::<f64>::new(1, 0.25)?;
    for _ in 0..o.epochs.unwrap_or(100) {
        let tape = Tape::new();
        let loss = prelu.forward(&tape, tape.input(x.clone()))?.mse(tape.input(y.clone()))?;
        let grads = loss.backward()?;
        drop(tape);
        gd_step(&mut prelu.param_refs_mut(), &grads, 0.2)?;
    }
    let learned = prelu.weight().value().data()[0];
    say(out, "prelu_slope_learned", format!("{learned:.6}"))?;

    line(out, "# the bias as the weight of a constant input x0 = -1: w.x + b = [w, -b].[x, -1]")?;
    let w = Tensor::<f64>::randn([3, 2], 0.0, 1.0, &mut rng)?;
    let b = Tensor::<f64>::randn([3], 0.0, 1.0, &mut rng)?;
    let xb = Tensor::<f64>::randn([5, 2], 0.0, 1.0, &mut rng)?;
    let r = Tensor::<f64>::randn([5, 3], 0.0, 1.0, &mut rng)?;
    let (wp, bp) = (Param::new(w.clone()), Param::new(b.clone()));
    let mut aug_w = Vec::new();
    for j in 0..3 {
        aug_w.extend_from_slice(&w.data()[2 * j..2 * j + 2]);
        aug_w.push(-b.data()[j]);
    }
    let ap = Param::new(Tensor::from_vec(aug_w, [3, 3])?);
    let aug_x: Vec<f64> = (0..5).flat_map(|i| [xb.data()[2 * i], xb.data()[2 * i + 1], -1.0]).collect();
    let tape = Tape::new();
    let y1 = tape.input(xb.clone()).linear(tape.param(&wp), Some(tape.param(&bp)))?;
    let y2 = tape.input(Tensor::from_vec(aug_x, [5, 3])?).linear(tape.param(&ap), None)?;
    let out_diff = y1.value().data().iter().zip(y2.value().data()).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    let g1 = y1.mul(tape.input(r.clone()))?.sum().backward()?;
    let g2 = y2.mul(tape.input(r))?.sum().backward()?;
    let (gb, ga) = (g1.param(&bp).cloned(), g2.param(&ap).cloned());
    let (gb, ga) = gb.zip(ga).ok_or_else(|| Error::Check("bias gradients missing".into()))?;
    // d/d(-b) = -d/db: the gradient of the x0 weight is minus the bias gradient.
    let grad_diff = (0..3).fold(0.0f64, |m, j| m.max((ga.data()[3 * j + 2] + gb.data()[j]).abs()));
    say(out, "bias_as_weight_output_diff", format!("{out_diff:.3e}"))?;
    say(out, "bias_as_weight_gradient_diff", format!("{grad_diff:.3e}"))?;

    line(out, "# a sign neuron sign(w.x - theta) trained with the perceptron rule on +-1 labels")?;
    let (xs2, labels) = clouds(50, [-1.5, -1.0], [1.5, 1.0], 0.5, &mut rng)?;
    let (mut wv, mut theta) = ([0.0f64; 2], 0.0f64);
    let mut epochs_used = 0;
    let predict = |wv: [f64; 2], theta: f64| -> Result<Vec<f64>> {
        let tape = Tape::new();
        let s = tape.input(xs2.clone()).matmul(tape.input(Tensor::from_vec(wv.to_vec(), [2, 1])?))?;
        Ok(s.add_scalar(-theta).sign().value().to_vec())
    };
    for epoch in 1..=100 {
        let pred = predict(wv, theta)?;
        let mut errors = 0;
        for (i, (&p, &y)) in pred.iter().zip(&labels).enumerate() {
            if p != y {
                errors += 1;
                wv[0] += y * xs2.data()[2 * i];
                wv[1] += y * xs2.data()[2 * i + 1];
                theta -= y;
            }
        }
        epochs_used = epoch;
        if errors == 0 {
            break;
        }
    }
    let pred = predict(wv, theta)?;
    let acc = pred.iter().zip(&labels).filter(|(p, y)| p == y).count() as f64 / labels.len() as f64;
    say(out, "sign_neuron_accuracy", format!("{acc:.4}"))?;
    say(out, "sign_neuron_epochs", epochs_used)?;
    let ext = (-3.5, 3.5, -3.5, 3.5);
    let line_pts = line_in_box(wv[0], wv[1], -theta, ext);
    let path = o.out.join("sign_neuron.png");
    let panel = PlanePanel {
        title: format!("sign neuron after {epochs_used} perceptron epochs"),
        extent: ext,
        points: labelled_points(&xs2, &labels),
        paths: vec![("w.x = theta".into(), line_pts)],
        ..Default::default()
    };
    plot::plane_panels(&path, &[panel], 1)?;
    say(out, "picture", path.display())?;
    Ok(NeuronsReport {
        max_derivative_error: max_err,
        at_points,
        stochastic,
        prelu_slope: (teacher, learned),
        bias_as_weight_diff: (out_diff, grad_diff),
        sign_neuron: (acc, epochs_used),
    })
}
