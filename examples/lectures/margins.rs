//! Lecture 001, linear classifiers and margins: with labels `y = +-1` and the margin `M = <w, x> y`, a
//! linear classifier trained by gradient descent with the perceptron loss `max(0, -M)`, the hinge loss
//! `max(0, 1 - M)` and the logistic loss `ln(1 + e^-M)` on seeded 2-D two-class data, lines drawn.

use super::Opts;
use super::util::{clouds, column, gd_step, grid, labelled_points, line, line_in_box, say};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::io::Write;
use tapegrad::{Param, Tape, Tensor, Var};
use tapegrad_examples::error::Result;
use tapegrad_examples::plot::{self, PlanePanel};

/// The three margin losses.
pub const LOSSES: [&str; 3] = ["perceptron", "hinge", "logistic"];

/// One trained classifier.
#[derive(Debug, Clone)]
pub struct MarginRun {
    /// The loss it was trained with.
    pub loss: String,
    /// The loss before and after training.
    pub loss_first_last: (f64, f64),
    /// Training accuracy (sign of the score equals the label).
    pub accuracy: f64,
    /// The smallest margin `M / ||w||` over the points (negative when some point is misclassified).
    pub min_geometric_margin: f64,
    /// `(w1, w2, b)`.
    pub line: (f64, f64, f64),
}

fn loss_of<'t>(name: &str, scores: Var<'t, f64>, y: Var<'t, f64>) -> Result<Var<'t, f64>> {
    Ok(match name {
        "perceptron" => scores.perceptron_loss(y)?,
        "hinge" => scores.hinge_loss(y)?,
        _ => scores.logistic_loss(y)?,
    })
}

/// Runs the demonstration.
///
/// # Errors
/// Engine and drawing errors.
pub fn run(o: &Opts, out: &mut dyn Write) -> Result<Vec<MarginRun>> {
    let mut rng = StdRng::seed_from_u64(o.seed);
    let (x, labels) = clouds(100, [-1.0, -0.6], [1.0, 0.8], 0.6, &mut rng)?;
    let y = column(&labels)?;
    let steps = o.epochs.unwrap_or(300);
    line(out, &format!("# linear classifier, labels +-1, {steps} full-batch gradient steps (lr 0.5) per loss"))?;
    let ext = (-3.0, 3.0, -3.0, 3.0);
    let res = 100;
    let cells = grid(ext, res)?;
    let (mut runs, mut panels) = (Vec::new(), Vec::new());
    for name in LOSSES {
        // A small nonzero start: the perceptron loss has zero gradient at w = 0 only if no point is
        // misclassified, which at w = 0 (all margins 0) is not the case, but start alike for all three.
        let mut w = Param::new(Tensor::from_vec(vec![0.1, -0.1], [2, 1])?);
        let mut b = Param::new(Tensor::from_vec(vec![0.0], [1])?);
        let mut first = f64::NAN;
        let mut last = f64::NAN;
        for step in 0..steps {
            let tape = Tape::new();
            let s = tape.input(x.clone()).matmul(tape.param(&w))?.add(tape.param(&b))?;
            let loss = loss_of(name, s, tape.input(y.clone()))?;
            last = loss.item()?;
            if step == 0 {
                first = last;
            }
            let grads = loss.backward()?;
            drop(tape);
            gd_step(&mut [&mut w, &mut b], &grads, 0.5)?;
        }
        let (w1, w2, b0) = (w.value().data()[0], w.value().data()[1], b.value().data()[0]);
        let scores: Vec<f64> =
            (0..labels.len()).map(|i| w1 * x.data()[2 * i] + w2 * x.data()[2 * i + 1] + b0).collect();
        let right = scores.iter().zip(&labels).filter(|(s, y)| s.signum() == **y).count();
        let acc = right as f64 / labels.len() as f64;
        let norm = (w1 * w1 + w2 * w2).sqrt();
        let min_margin = scores.iter().zip(&labels).map(|(s, y)| s * y / norm).fold(f64::INFINITY, f64::min);
        say(out, &format!("{name}: loss first"), format!("{first:.4}"))?;
        say(out, &format!("{name}: loss last"), format!("{last:.4}"))?;
        say(out, &format!("{name}: accuracy"), format!("{acc:.4}"))?;
        say(out, &format!("{name}: line"), format!("{w1:.4} x1 + {w2:.4} x2 + {b0:.4} = 0"))?;
        let field: Vec<f64> = (0..res * res)
            .map(|k| f64::from(u8::from(w1 * cells.data()[2 * k] + w2 * cells.data()[2 * k + 1] + b0 > 0.0)))
            .collect();
        panels.push(PlanePanel {
            title: format!("{name} loss: accuracy {:.1}%", 100.0 * acc),
            extent: ext,
            field,
            res,
            points: labelled_points(&x, &labels),
            paths: vec![("w.x + b = 0".into(), line_in_box(w1, w2, b0, ext))],
        });
        runs.push(MarginRun {
            loss: name.into(),
            loss_first_last: (first, last),
            accuracy: acc,
            min_geometric_margin: min_margin,
            line: (w1, w2, b0),
        });
    }
    let path = o.out.join("margins.png");
    plot::plane_panels(&path, &panels, 3)?;
    say(out, "picture", path.display())?;
    Ok(runs)
}
