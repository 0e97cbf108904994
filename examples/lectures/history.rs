//! Lecture 003's comparison: the error history of every optimizer training the same `[2, 8, 1]` tanh net
//! (same initialisation) on seeded 2-D two-class point clouds in an XOR layout, full batch, and the decision
//! region of each final model.

use super::Opts;
use super::paths::methods;
use super::util::{grid, line, say};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::io::Write;
use tapegrad::{Tape, Tensor, Var};
use tapegrad_examples::error::Result;
use tapegrad_examples::plot::{self, PlanePanel, XyPanel};
use tapegrad_nn::Module;
use tapegrad_nn::layers::{Activation, Mlp};
use tapegrad_nn::optim::driver::Counted;
use tapegrad_nn::optim::full_batch::{ModuleProblem, StepOutcome};

/// One optimizer's run.
#[derive(Debug, Clone)]
pub struct HistoryRun {
    /// The method.
    pub method: String,
    /// The loss before each step and after the last.
    pub losses: Vec<f64>,
    /// Training accuracy of the final model.
    pub accuracy: f64,
}

/// Four clouds at `(+-1.2, +-1.2)`, class 1 where the signs differ: `[4n, 2]` features, `[4n, 1]` 0/1 labels.
fn xor_clouds(n: usize, rng: &mut StdRng) -> Result<(Tensor<f64>, Tensor<f64>)> {
    let noise = Tensor::<f64>::randn([4 * n, 2], 0.0, 0.45, rng)?;
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for i in 0..4 * n {
        let (sa, sb) = ([1.0, -1.0][(i / n) % 2], [1.0, -1.0][(i / n) / 2]);
        x.extend([1.2 * sa + noise.data()[2 * i], 1.2 * sb + noise.data()[2 * i + 1]]);
        y.push(f64::from(u8::from(sa != sb)));
    }
    Ok((Tensor::from_vec(x, [4 * n, 2])?, Tensor::from_vec(y, [4 * n, 1])?))
}

/// Fixes a closure's type to a loss of any tape's lifetime (what [`ModuleProblem`] takes).
fn module_loss<F>(f: F) -> F
where
    F: for<'t> Fn(&Mlp<f64>, &'t Tape<f64>) -> tapegrad_nn::Result<Var<'t, f64>>,
{
    f
}

/// Runs the demonstration.
///
/// # Errors
/// Optimizer, engine and drawing errors.
pub fn run(o: &Opts, out: &mut dyn Write) -> Result<Vec<HistoryRun>> {
    let mut rng = StdRng::seed_from_u64(o.seed);
    let (x, y) = xor_clouds(40, &mut rng)?;
    let steps = o.epochs.unwrap_or(200);
    line(out, &format!("# [2, 8, 1] tanh net, bce with logits, XOR clouds (160 points), {steps} full-batch steps"))?;
    let init_seed = o.seed + 1;
    let ext = (-3.0, 3.0, -3.0, 3.0);
    let res = 90;
    let cells = grid(ext, res)?;
    let (mut runs, mut regions) = (Vec::new(), Vec::new());
    let template =
        Mlp::<f64>::new(&[2, 8, 1], Activation::Tanh, Activation::Identity, &mut StdRng::seed_from_u64(init_seed))?;
    for k in 0.. {
        let mut mlp = template.clone();
        let (xc, yc) = (x.clone(), y.clone());
        let loss = module_loss(move |m, t| {
            let z = m.forward(t, t.input(xc.clone()))?;
            Ok(z.bce_with_logits(t.input(yc.clone()))?)
        });
        let mut problem = ModuleProblem::new(&mut mlp, loss);
        let x0 = problem.initial();
        let mut all = methods((0.5, 0.05, 0.1, 0.01, 1.0, 0.02))?;
        let Some(method) = all.get_mut(k) else { break };
        let name = method.name().to_string();
        let mut counted = Counted::new(&mut problem);
        let mut pt = counted.point(x0)?;
        let mut losses = vec![pt.f];
        for _ in 0..steps {
            if method.step(&mut counted, &mut pt)? == StepOutcome::Stuck {
                break;
            }
            losses.push(pt.f);
        }
        drop(all); // the boxed methods borrow the problem, which borrows the net
        problem.write(&pt.x)?;
        let z = mlp.predict(&x)?;
        let right = z.data().iter().zip(y.data()).filter(|(z, y)| (**z > 0.0) == (**y > 0.5)).count();
        let accuracy = right as f64 / y.numel() as f64;
        say(out, &format!("{name}: loss first"), format!("{:.4}", losses[0]))?;
        say(out, &format!("{name}: loss last"), format!("{:.4e}", losses[losses.len() - 1]))?;
        say(out, &format!("{name}: accuracy"), format!("{accuracy:.4}"))?;
        let field = mlp.predict(&cells)?.data().iter().map(|&v| f64::from(u8::from(v > 0.0))).collect();
        let points = (0..y.numel()).map(|i| (x.data()[2 * i], x.data()[2 * i + 1], y.data()[i] as usize)).collect();
        regions.push(PlanePanel {
            title: format!("{name}: {:.1}%", 100.0 * accuracy),
            extent: ext,
            field,
            res,
            points,
            paths: Vec::new(),
        });
        runs.push(HistoryRun { method: name, losses, accuracy });
    }
    let series = |rs: &[HistoryRun]| {
        rs.iter()
            .map(|r| (r.method.clone(), r.losses.iter().enumerate().map(|(i, &l)| (i as f64, l.max(1e-12))).collect()))
            .collect()
    };
    let panel = |title: &str, rs: &[HistoryRun]| XyPanel {
        title: title.into(),
        x_desc: "step".into(),
        y_desc: "loss (log scale)".into(),
        series: series(rs),
        log_y: true,
        ..Default::default()
    };
    let path = o.out.join("error_history.png");
    plot::xy_panels(&path, &[panel("first-order methods", &runs[..7]), panel("classical methods", &runs[7..])], 2)?;
    say(out, "picture", path.display())?;
    let path = o.out.join("error_history_regions.png");
    plot::plane_panels(&path, &regions, 4)?;
    say(out, "picture", path.display())?;
    Ok(runs)
}
