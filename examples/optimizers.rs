//! The lecture's comparison of optimizers: the same 4-8-3 tanh MLP on iris, from the same initial weights,
//! trained full batch by every optimizer in `nn` (first-order ones through `FirstOrder`), for the same number
//! of iterations. Iris rather than digits because Newton-CG and Levenberg-Marquardt need many backward passes
//! per step; one data set keeps the comparison fair.
//!
//! `cargo run --release -p tapegrad-examples --example optimizers` prints the table and writes
//! `out/optimizers/comparison.{png,svg}`: train loss (log scale) against iterations and against wall time.

use plotters::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tapegrad::{Tape, Tensor, Var, argmax_rows};
use tapegrad_examples::{Error, Result};
use tapegrad_nn::optim::bfgs::{Bfgs, BfgsConfig};
use tapegrad_nn::optim::cg::{CgBeta, CgConfig, ConjugateGradient};
use tapegrad_nn::optim::driver::{Counted, EvalCounts, FullBatch, StepOutcome, norm};
use tapegrad_nn::optim::first_order::FirstOrder;
use tapegrad_nn::optim::flat::{FnLeastSquares, FnProblem, LeastSquares, Problem};
use tapegrad_nn::optim::lbfgs::{Lbfgs, LbfgsConfig};
use tapegrad_nn::optim::lm::{LevenbergMarquardt, LmConfig};
use tapegrad_nn::optim::newton::{NewtonCg, NewtonCgConfig};
use tapegrad_nn::optim::quickprop::{Quickprop, QuickpropConfig};
use tapegrad_nn::optim::rprop::{Rprop, RpropConfig};
use tapegrad_nn::optim::*;

const HIDDEN: usize = 8;
const ITERS: usize = 200;

/// Iris split 120 / 30 by a seeded shuffle, features standardised with the training statistics.
struct Data {
    x_train: Tensor<f64>,
    y_train: Vec<usize>,
    x_test: Tensor<f64>,
    y_test: Vec<usize>,
}

fn load_iris(seed: u64) -> Result<Data> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/iris.csv");
    let text = std::fs::read_to_string(path).map_err(tapegrad_examples::error::io_err(path))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let f: Vec<f64> = line
            .split(',')
            .map(|t| t.trim().parse::<f64>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::Input { what: format!("{path}:{}", i + 1), msg: e.to_string() })?;
        rows.push(f);
    }
    rows.shuffle(&mut StdRng::seed_from_u64(seed));
    let (train, test) = rows.split_at(120);
    let mean: Vec<f64> = (0..4).map(|j| train.iter().map(|r| r[j]).sum::<f64>() / 120.0).collect();
    let sd: Vec<f64> =
        (0..4).map(|j| (train.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>() / 120.0).sqrt()).collect();
    let split = |rows: &[Vec<f64>]| -> Result<(Tensor<f64>, Vec<usize>)> {
        let x = rows.iter().flat_map(|r| (0..4).map(|j| (r[j] - mean[j]) / sd[j]).collect::<Vec<_>>()).collect();
        Ok((Tensor::from_vec(x, [rows.len(), 4])?, rows.iter().map(|r| r[4] as usize).collect()))
    };
    let ((x_train, y_train), (x_test, y_test)) = (split(train)?, split(test)?);
    Ok(Data { x_train, y_train, x_test, y_test })
}

fn shapes() -> Vec<tapegrad::Shape> {
    vec![[HIDDEN, 4].into(), [HIDDEN].into(), [3, HIDDEN].into(), [3].into()]
}

fn logits<'t>(tape: &'t Tape<f64>, v: &[Var<'t, f64>], x: &Tensor<f64>) -> tapegrad::Result<Var<'t, f64>> {
    tape.input(x.clone()).linear(v[0], Some(v[1]))?.tanh().linear(v[2], Some(v[3]))
}

/// Per-sample residuals `sqrt(2 CE_i)`: half their squared norm is the summed cross-entropy, so
/// Levenberg-Marquardt minimises the same loss as everyone else (up to the factor N).
fn ce_residuals<'t>(
    tape: &'t Tape<f64>,
    v: &[Var<'t, f64>],
    x: &Tensor<f64>,
    onehot: &Tensor<f64>,
) -> tapegrad::Result<Var<'t, f64>> {
    let logp = logits(tape, v, x)?.log_softmax(1)?;
    let ce = -(logp * tape.input(onehot.clone())).sum_axis(1, false)?;
    Ok(ce.mul_scalar(2.0).sqrt())
}

/// Every method, each with its own problem (LM needs the least-squares form).
enum Method {
    Plain(Box<dyn FullBatch<dyn Problem>>),
    Lm(LevenbergMarquardt),
}

fn methods() -> Result<Vec<(&'static str, Method)>> {
    let sgd = |lr, momentum, nesterov| Sgd::new(SgdConfig { lr, momentum, nesterov, ..Default::default() });
    let cg = |beta| ConjugateGradient::new(CgConfig { beta, ..Default::default() });
    let plain = |m: Box<dyn FullBatch<dyn Problem>>| Method::Plain(m);
    Ok(vec![
        ("SGD", plain(Box::new(FirstOrder::new("sgd", sgd(0.5, 0.0, false)?)))),
        ("momentum", plain(Box::new(FirstOrder::new("momentum", sgd(0.1, 0.9, false)?)))),
        ("Nesterov", plain(Box::new(FirstOrder::new("nesterov", sgd(0.1, 0.9, true)?)))),
        (
            "AdaGrad",
            plain(Box::new(FirstOrder::new("adagrad", AdaGrad::new(AdaGradConfig { lr: 0.1, ..Default::default() })?))),
        ),
        (
            "RMSProp",
            plain(Box::new(FirstOrder::new(
                "rmsprop",
                RmsProp::new(RmsPropConfig { lr: 0.01, ..Default::default() })?,
            ))),
        ),
        ("AdaDelta", plain(Box::new(FirstOrder::new("adadelta", AdaDelta::new(AdaDeltaConfig::default())?)))),
        ("Adam", plain(Box::new(FirstOrder::new("adam", Adam::new(AdamConfig { lr: 0.01, ..Default::default() })?)))),
        (
            "AdamW",
            plain(Box::new(FirstOrder::new("adamw", AdamW::new(AdamWConfig { lr: 0.01, ..Default::default() })?))),
        ),
        ("RProp", plain(Box::new(Rprop::new(RpropConfig::default())?))),
        ("QuickProp", plain(Box::new(Quickprop::new(QuickpropConfig { epsilon: 0.5, ..Default::default() })?))),
        ("CG-FR", plain(Box::new(cg(CgBeta::FletcherReeves)?))),
        ("CG-PR", plain(Box::new(cg(CgBeta::PolakRibiere)?))),
        ("BFGS", plain(Box::new(Bfgs::new(BfgsConfig::default())?))),
        ("L-BFGS", plain(Box::new(Lbfgs::new(LbfgsConfig::default())?))),
        ("LM", Method::Lm(LevenbergMarquardt::new(LmConfig::default())?)),
        ("Newton-CG", plain(Box::new(NewtonCg::new(NewtonCgConfig::default())?))),
    ])
}

/// One run: mean train cross-entropy after each step, with the wall time spent in steps so far.
struct Run {
    name: &'static str,
    loss: Vec<f64>,
    time: Vec<f64>,
    x: Vec<f64>,
    evals: EvalCounts,
}

/// Steps `method` from `x0` up to `ITERS` times (or until it stops making progress or `|g| < 1e-10`).
fn run_steps<P: Problem + ?Sized>(
    name: &'static str,
    method: &mut dyn FnMut(
        &mut Counted<'_, P>,
        &mut tapegrad_nn::optim::driver::Point,
    ) -> tapegrad_nn::Result<StepOutcome>,
    problem: &mut P,
    x0: Vec<f64>,
    mean_ce: &mut dyn FnMut(&[f64]) -> Result<f64>,
) -> Result<Run> {
    let mut counted = Counted::new(problem);
    let start = Instant::now();
    let mut pt = counted.point(x0)?;
    let (mut loss, mut time) = (vec![mean_ce(&pt.x)?], vec![0.0]);
    let mut spent = start.elapsed().as_secs_f64();
    for _ in 0..ITERS {
        if norm(&pt.g) < 1e-10 {
            break;
        }
        let t = Instant::now();
        let outcome = method(&mut counted, &mut pt)?;
        spent += t.elapsed().as_secs_f64();
        if outcome == StepOutcome::Stuck {
            break;
        }
        loss.push(mean_ce(&pt.x)?);
        time.push(spent);
    }
    Ok(Run { name, loss, time, x: pt.x, evals: counted.counts })
}

fn accuracy(p: &FnProblem<f64, impl tapegrad::TapeFn<f64>>, w: &[f64], x: &Tensor<f64>, y: &[usize]) -> Result<f64> {
    let tape = Tape::new();
    let v: Vec<_> = p.tensors(w)?.into_iter().map(|t| tape.input(t)).collect();
    let pred = argmax_rows(&logits(&tape, &v, x)?.value())?;
    Ok(pred.iter().zip(y).filter(|(a, b)| a == b).count() as f64 / y.len() as f64)
}

fn main() -> std::process::ExitCode {
    tapegrad_examples::error::report(run())
}

fn run() -> Result<()> {
    let dir = PathBuf::from("out/optimizers");
    tapegrad_examples::error::prepare_out_dir(&dir)?;
    let data = load_iris(0)?;
    let (xt, yt) = (data.x_train.clone(), data.y_train.clone());
    let mut ce = FnProblem::new(shapes(), move |tape: &Tape<f64>, v: &[Var<'_, f64>]| {
        logits(tape, v, &xt)?.softmax_cross_entropy(&yt)
    });
    let onehot: Vec<f64> =
        data.y_train.iter().flat_map(|&c| (0..3).map(move |k| f64::from(u8::from(k == c)))).collect();
    let onehot = Tensor::from_vec(onehot, [data.y_train.len(), 3])?;
    let xl = data.x_train.clone();
    let mut lsq =
        FnLeastSquares::new(shapes(), move |tape: &Tape<f64>, v: &[Var<'_, f64>]| ce_residuals(tape, v, &xl, &onehot));
    let x0 = Tensor::<f64>::rand_uniform([ce.dim()], -0.5, 0.5, &mut StdRng::seed_from_u64(1))?.to_vec();
    let mut judge = FnProblem::new(shapes(), {
        let (x, y) = (data.x_train.clone(), data.y_train.clone());
        move |tape: &Tape<f64>, v: &[Var<'_, f64>]| logits(tape, v, &x)?.softmax_cross_entropy(&y)
    });
    let mut mean_ce = |w: &[f64]| -> Result<f64> { Ok(judge.loss(w)?) };

    let mut runs = Vec::new();
    for (name, method) in methods()? {
        let run = match method {
            Method::Plain(mut m) => {
                let mut step = |c: &mut Counted<'_, dyn Problem>, pt: &mut _| m.step(c, pt);
                run_steps(name, &mut step, &mut ce as &mut dyn Problem, x0.clone(), &mut mean_ce)?
            }
            Method::Lm(mut m) => {
                let mut step = |c: &mut Counted<'_, dyn LeastSquares>, pt: &mut _| m.step(c, pt);
                run_steps(name, &mut step, &mut lsq as &mut dyn LeastSquares, x0.clone(), &mut mean_ce)?
            }
        };
        runs.push(run);
    }

    println!(
        "{:<10} {:>5} {:>12} {:>9} {:>9}  {:<34} {:>9}",
        "method", "steps", "train loss", "train acc", "test acc", "evaluations", "time"
    );
    for r in &runs {
        let e = r.evals;
        let evals = format!("{}g {}l {}hvp {}jac", e.grad, e.loss, e.hvp, e.jacobian);
        println!(
            "{:<10} {:>5} {:>12.3e} {:>8.1}% {:>8.1}%  {:<34} {:>7.1}ms",
            r.name,
            r.loss.len() - 1,
            r.loss.last().copied().unwrap_or(f64::NAN),
            100.0 * accuracy(&ce, &r.x, &data.x_train, &data.y_train)?,
            100.0 * accuracy(&ce, &r.x, &data.x_test, &data.y_test)?,
            evals,
            1e3 * r.time.last().copied().unwrap_or(0.0),
        );
    }
    for path in chart(&dir.join("comparison"), &runs)? {
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Registers the examples' bundled font (no system font library needed).
fn ensure_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("assets/DejaVuSans.ttf");
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
            .unwrap_or_else(|_| panic!("invariant: the bundled font parses"));
    });
}

fn chart(stem: &Path, runs: &[Run]) -> Result<Vec<PathBuf>> {
    ensure_font();
    let size = (1400, 560);
    let png = stem.with_extension("png");
    draw(&BitMapBackend::new(&png, size).into_drawing_area(), runs, &png)?;
    let svg = stem.with_extension("svg");
    draw(&SVGBackend::new(&svg, size).into_drawing_area(), runs, &svg)?;
    Ok(vec![png, svg])
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, plotters::coord::Shift>, runs: &[Run], path: &Path) -> Result<()> {
    let err = |e: &dyn std::fmt::Display| Error::Plot { path: path.display().to_string(), msg: e.to_string() };
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let floor = 1e-12;
    let lo = runs.iter().flat_map(|r| r.loss.iter().copied()).fold(f64::INFINITY, f64::min).max(floor);
    let hi = runs.iter().flat_map(|r| r.loss.iter().copied()).fold(0.0, f64::max);
    let t_max = runs.iter().filter_map(|r| r.time.last().copied()).fold(1e-3, f64::max);
    let panels = root.split_evenly((1, 2));
    for (k, area) in panels.iter().enumerate() {
        let (x_max, x_desc, title) = if k == 0 {
            (ITERS as f64, "iteration (full batch)", "train loss against iterations")
        } else {
            (t_max, "wall time (s)", "train loss against wall time")
        };
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..x_max, (lo * 0.5..hi * 2.0).log_scale())
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc("mean cross-entropy")
            .label_style(("sans-serif", 13))
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .draw()
            .map_err(|e| err(&e))?;
        for (i, r) in runs.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let xs: Vec<f64> = if k == 0 { (0..r.loss.len()).map(|s| s as f64).collect() } else { r.time.clone() };
            let pts = xs.into_iter().zip(r.loss.iter().map(|l| l.max(floor)));
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                .map_err(|e| err(&e))?
                .label(r.name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        }
        if k == 1 {
            chart
                .configure_series_labels()
                .label_font(("sans-serif", 12))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .position(SeriesLabelPosition::UpperRight)
                .draw()
                .map_err(|e| err(&e))?;
        }
    }
    root.present().map_err(|e| err(&e))
}
