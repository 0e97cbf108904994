//! Lecture 003, the optimizers drawn: the path of each method from the same start on a quadratic valley
//! `f = a^2 / 2 + 5 b^2` (condition number 10) and on Rosenbrock's banana `100 (b - a^2)^2 + (1 - a)^2`,
//! over the contour lines of `log f`. The first-order methods run in their textbook/PyTorch form (see
//! `docs/optimizers.md`), the classical ones (RProp, CG, BFGS, Newton) through the full-batch driver.

use super::Opts;
use super::util::{line, say};
use std::io::Write;
use tapegrad::{Tape, Var};
use tapegrad_examples::error::Result;
use tapegrad_examples::plot::{self, PlanePanel};
use tapegrad_nn::optim::driver::Counted;
use tapegrad_nn::optim::full_batch::{
    Bfgs, BfgsConfig, CgConfig, ConjugateGradient, FirstOrder, FnProblem, FullBatch, Newton, NewtonConfig, Problem,
    Rprop, RpropConfig, StepOutcome,
};
use tapegrad_nn::optim::{
    AdaDelta, AdaDeltaConfig, AdaGrad, AdaGradConfig, Adam, AdamConfig, RmsProp, RmsPropConfig, Sgd, SgdConfig,
};

/// One method's run on one surface.
#[derive(Debug, Clone)]
pub struct PathRun {
    /// `valley` or `rosenbrock`.
    pub surface: String,
    /// The method.
    pub method: String,
    /// The points visited, the start first.
    pub path: Vec<[f64; 2]>,
    /// `f` at the last point.
    pub final_loss: f64,
}

/// The learning rates of the first-order methods on one surface: `(gd, momentum/nesterov, adagrad,
/// rmsprop, adadelta, adam)`.
pub type Rates = (f64, f64, f64, f64, f64, f64);

/// The eleven methods, first-order ones with the given rates, classical ones with their defaults.
///
/// # Errors
/// A rate the optimizers refuse.
pub fn methods<P: Problem>(r: Rates) -> Result<Vec<Box<dyn FullBatch<P>>>> {
    let (gd, mom, ada, rms, delta, adam) = r;
    let sgd = |lr, momentum, nesterov| Sgd::new(SgdConfig { lr, momentum, nesterov, ..Default::default() });
    Ok(vec![
        Box::new(FirstOrder::new("gd", sgd(gd, 0.0, false)?)),
        Box::new(FirstOrder::new("momentum 0.9", sgd(mom, 0.9, false)?)),
        Box::new(FirstOrder::new("nesterov 0.9", sgd(mom, 0.9, true)?)),
        Box::new(FirstOrder::new("adagrad", AdaGrad::new(AdaGradConfig { lr: ada, ..Default::default() })?)),
        Box::new(FirstOrder::new("rmsprop", RmsProp::new(RmsPropConfig { lr: rms, ..Default::default() })?)),
        Box::new(FirstOrder::new("adadelta", AdaDelta::new(AdaDeltaConfig { lr: delta, ..Default::default() })?)),
        Box::new(FirstOrder::new("adam", Adam::new(AdamConfig { lr: adam, ..Default::default() })?)),
        Box::new(Rprop::new(RpropConfig::default())?),
        Box::new(ConjugateGradient::new(CgConfig::default())?),
        Box::new(Bfgs::new(BfgsConfig::default())?),
        Box::new(Newton::new(NewtonConfig::default())?),
    ])
}

/// Runs `method` for at most `steps` steps (fewer when the gradient vanishes or it cannot move).
fn path_of<P: Problem>(
    method: &mut dyn FullBatch<P>,
    p: &mut P,
    x0: [f64; 2],
    steps: usize,
) -> Result<(Vec<[f64; 2]>, f64)> {
    let mut counted = Counted::new(p);
    let mut pt = counted.point(x0.to_vec())?;
    let mut path = vec![x0];
    for _ in 0..steps {
        if pt.g.iter().map(|g| g * g).sum::<f64>().sqrt() < 1e-10 {
            break;
        }
        if method.step(&mut counted, &mut pt)? == StepOutcome::Stuck {
            break;
        }
        path.push([pt.x[0], pt.x[1]]);
    }
    Ok((path, pt.f))
}

/// One method's `(name, path, final f)`.
type Run = (String, Vec<[f64; 2]>, f64);

/// Every method's path on problem `p`.
fn all_paths<P: Problem>(p: &mut P, rates: Rates, x0: [f64; 2], steps: usize) -> Result<Vec<Run>> {
    let mut out = Vec::new();
    for mut m in methods::<P>(rates)? {
        let (path, f) = path_of(m.as_mut(), p, x0, steps)?;
        out.push((m.name().to_string(), path, f));
    }
    Ok(out)
}

fn valley<'t>(_: &'t Tape<f64>, v: &[Var<'t, f64>]) -> tapegrad::Result<Var<'t, f64>> {
    let (a, b) = (v[0].narrow(0, 0, 1)?, v[0].narrow(0, 1, 1)?);
    Ok((a.square().mul_scalar(0.5) + b.square().mul_scalar(5.0)).sum())
}

fn rosenbrock<'t>(_: &'t Tape<f64>, v: &[Var<'t, f64>]) -> tapegrad::Result<Var<'t, f64>> {
    let (a, b) = (v[0].narrow(0, 0, 1)?, v[0].narrow(0, 1, 1)?);
    Ok(((b - a.square()).square().mul_scalar(100.0) + (1.0 - a).square()).sum())
}

/// Runs the demonstration.
///
/// # Errors
/// Optimizer and drawing errors.
pub fn run(o: &Opts, out: &mut dyn Write) -> Result<Vec<PathRun>> {
    let steps = o.epochs.unwrap_or(300);
    line(out, &format!("# optimizer paths, at most {steps} steps each; final f printed (minimum 0)"))?;
    type Surface = (&'static str, fn(f64, f64) -> f64, [f64; 2], (f64, f64, f64, f64), Rates);
    let surfaces: [Surface; 2] = [
        (
            "valley",
            |a, b| 0.5 * a * a + 5.0 * b * b,
            [-4.0, 1.5],
            (-4.5, 4.5, -2.0, 2.0),
            (0.15, 0.02, 1.0, 0.05, 1.0, 0.2),
        ),
        (
            "rosenbrock",
            |a, b| 100.0 * (b - a * a).powi(2) + (1.0 - a).powi(2),
            [-1.2, 1.0],
            (-2.0, 2.0, -1.0, 3.0),
            (1e-3, 2e-4, 0.3, 0.02, 1.0, 0.05),
        ),
    ];
    let mut runs = Vec::new();
    for (name, f, x0, ext, rates) in surfaces {
        let results = if name == "valley" {
            all_paths(&mut FnProblem::new(vec![[2].into()], valley), rates, x0, steps)?
        } else {
            all_paths(&mut FnProblem::new(vec![[2].into()], rosenbrock), rates, x0, steps)?
        };
        let mut paths = Vec::new();
        for (method, path, final_loss) in results {
            say(out, &format!("{name}: {method}: steps"), path.len() - 1)?;
            say(out, &format!("{name}: {method}: final f"), format!("{final_loss:.3e}"))?;
            paths.push((method.clone(), path.len() - 1, final_loss, path.iter().map(|p| (p[0], p[1])).collect()));
            runs.push(PathRun { surface: name.into(), method, path, final_loss });
        }
        let res = 150;
        let (x0g, x1g, y0g, y1g) = ext;
        let raw: Vec<f64> = (0..res * res)
            .map(|k| {
                let (i, j) = (k / res, k % res);
                let a = x0g + (j as f64 + 0.5) * (x1g - x0g) / res as f64;
                let b = y0g + (i as f64 + 0.5) * (y1g - y0g) / res as f64;
                (f(a, b) + 1e-3).ln()
            })
            .collect();
        let (lo, hi) = raw.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
        // The surface shaded by log f, with 12 contour lines at equal steps of log f (so the narrow valley
        // floor gets as many lines as the steep walls); the path is drawn on top.
        let field: Vec<f64> = raw.iter().map(|v| (v - lo) / (hi - lo)).collect();
        let levels: Vec<f64> = (0..12).map(|k| lo + (k as f64 + 0.5) / 12.0 * (hi - lo)).collect();
        let contours: Vec<(String, Vec<(f64, f64)>)> =
            plot::contour_lines(&raw, res, ext, &levels).into_iter().map(|l| (String::new(), l)).collect();
        say(out, &format!("{name}: contour segments"), contours.len())?;
        let panels: Vec<PlanePanel> = paths
            .into_iter()
            .map(|(method, n, f_last, line)| PlanePanel {
                title: format!("{method}: {n} step{}, f = {f_last:.1e}", if n == 1 { "" } else { "s" }),
                extent: ext,
                field: field.clone(),
                res,
                points: vec![(x0[0], x0[1], 2)],
                paths: contours.iter().cloned().chain([("path".into(), line)]).collect(),
            })
            .collect();
        let path = o.out.join(format!("optimizer_paths_{name}.png"));
        plot::plane_panels(&path, &panels, 4)?;
        say(out, "picture", path.display())?;
    }
    Ok(runs)
}
