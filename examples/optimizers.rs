//! The lecture's comparison of optimizers: the same 4-8-3 tanh MLP on iris, from the same initial weights,
//! trained full batch by every optimizer in `nn` (the first-order ones through `FirstOrder`), for the same
//! number of iterations. Iris rather than digits because Newton, Newton-CG and Levenberg-Marquardt need many
//! backward passes per step; one data set keeps the comparison fair.
//!
//! `cargo run --release -p tapegrad-examples --example optimizers` prints the table and writes
//! `out/optimizers/comparison.{png,svg}`: train loss (log scale) against iterations and against wall time
//! (log scale), one row of panels per family (first-order; classical full-batch); `--help` lists the flags.

use clap::Parser;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tapegrad::{Tape, Tensor, Var, argmax_rows};
use tapegrad_examples::error::{Error, Result, io_err, prepare_out_dir};
use tapegrad_examples::plot::PALETTE;
use tapegrad_nn::optim::driver::{Counted, norm};
use tapegrad_nn::optim::full_batch::{
    Bfgs, BfgsConfig, CgBeta, CgConfig, ConjugateGradient, EvalCounts, FirstOrder, FnLeastSquares, FnProblem,
    FullBatch, Lbfgs, LbfgsConfig, LeastSquares, LevenbergMarquardt, LmConfig, Newton, NewtonCg, NewtonCgConfig,
    NewtonConfig, Point, Problem, Quickprop, QuickpropConfig, Rprop, RpropConfig, RpropVariant, StepOutcome,
};
use tapegrad_nn::optim::{
    AdaDelta, AdaDeltaConfig, AdaGrad, AdaGradConfig, Adam, AdamConfig, AdamW, AdamWConfig, RmsProp, RmsPropConfig,
    Sgd, SgdConfig,
};

/// The command line.
#[derive(Debug, Clone, Parser)]
#[command(name = "optimizers", about = "Every optimizer of nn on one iris MLP from the same weights, compared")]
pub struct OptimizersArgs {
    /// Most iterations (full-batch steps) per method; a method stops earlier when |g| < 1e-10 or it is stuck.
    #[arg(long, default_value_t = 200)]
    pub iters: usize,
    /// Seed of the initial weights (the train/test split is fixed).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Runs of every method; each step's time is the fastest of them (the steps are the same every run), so
    /// a pause of the machine does not show up as a step in the time curves.
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Folder for the chart (created if missing).
    #[arg(long, default_value = "out/optimizers")]
    pub out: PathBuf,
}

/// One method's run: mean train cross-entropy after each step, with the wall time spent so far.
#[derive(Debug, Clone)]
pub struct Run {
    /// The method, as in the table and the legend.
    pub name: &'static str,
    /// Its family (the row of panels it is drawn in).
    pub family: Family,
    /// Mean train cross-entropy at the start and after each step.
    pub loss: Vec<f64>,
    /// Seconds spent by then (the first evaluation at the start included, so every entry is positive); each
    /// step timed as the fastest of `--repeats` runs.
    pub time: Vec<f64>,
    /// Fraction of the training rows classified right at the end.
    pub train_acc: f64,
    /// Fraction of the test rows classified right at the end.
    pub test_acc: f64,
    /// Evaluations the method asked for.
    pub evals: EvalCounts,
}

/// What a run of the example produced (the tests read it).
#[derive(Debug, Clone)]
pub struct OptimizersReport {
    /// One entry per method, in the order of [`methods`].
    pub runs: Vec<Run>,
    /// Files written.
    pub files: Vec<PathBuf>,
}

fn main() -> std::process::ExitCode {
    tapegrad_examples::error::report(run(&OptimizersArgs::parse(), &mut std::io::stdout()).map(|_| ()))
}

/// Trains the iris MLP with every method from the same start, prints the table and draws the chart.
///
/// # Errors
/// `--iters 0`; data, engine, optimizer and drawing errors.
pub fn run(args: &OptimizersArgs, out: &mut dyn Write) -> Result<OptimizersReport> {
    if args.iters == 0 {
        return Err(Error::Input { what: "--iters".into(), msg: "must be at least 1".into() });
    }
    if args.repeats == 0 {
        return Err(Error::Input { what: "--repeats".into(), msg: "must be at least 1".into() });
    }
    prepare_out_dir(&args.out)?;
    let mut say = |msg: String| writeln!(out, "{msg}").map_err(io_err("stdout"));

    // The mean cross-entropy of the 4-8-3 tanh MLP on the training rows, as a function of its weights.
    let data = load_iris(0)?;
    let (xt, yt) = (data.x_train.clone(), data.y_train.clone());
    let mut ce = FnProblem::new(shapes(), move |tape: &Tape<f64>, v: &[Var<'_, f64>]| {
        logits(tape, v, &xt)?.softmax_cross_entropy(&yt)
    });
    // The same loss as least squares for Levenberg-Marquardt: residuals sqrt(2 CE_i).
    let onehot: Vec<f64> =
        data.y_train.iter().flat_map(|&c| (0..3).map(move |k| f64::from(u8::from(k == c)))).collect();
    let onehot = Tensor::from_vec(onehot, [data.y_train.len(), 3])?;
    let xl = data.x_train.clone();
    let mut lsq =
        FnLeastSquares::new(shapes(), move |tape: &Tape<f64>, v: &[Var<'_, f64>]| ce_residuals(tape, v, &xl, &onehot));
    // One start for everyone.
    let x0 = Tensor::<f64>::rand_uniform([ce.dim()], -0.5, 0.5, &mut StdRng::seed_from_u64(args.seed))?.to_vec();
    // The judge: a third copy of the loss, so the curves do not count as the methods' evaluations.
    let mut judge = FnProblem::new(shapes(), {
        let (x, y) = (data.x_train.clone(), data.y_train.clone());
        move |tape: &Tape<f64>, v: &[Var<'_, f64>]| logits(tape, v, &x)?.softmax_cross_entropy(&y)
    });
    let mut mean_ce = |w: &[f64]| -> Result<f64> { Ok(judge.loss(w)?) };

    let mut runs: Vec<Run> = Vec::new();
    for repeat in 0..args.repeats {
        for (i, (name, family, method)) in methods()?.into_iter().enumerate() {
            let (loss, step_times, x, evals) = match method {
                Method::Plain(mut m) => {
                    let mut step = |c: &mut Counted<'_, dyn Problem>, pt: &mut Point| m.step(c, pt);
                    run_steps(&mut step, &mut ce as &mut dyn Problem, x0.clone(), args.iters, &mut mean_ce)?
                }
                Method::Lm(mut m) => {
                    let mut step = |c: &mut Counted<'_, dyn LeastSquares>, pt: &mut Point| m.step(c, pt);
                    run_steps(&mut step, &mut lsq as &mut dyn LeastSquares, x0.clone(), args.iters, &mut mean_ce)?
                }
            };
            if repeat == 0 {
                let train_acc = accuracy(&ce, &x, &data.x_train, &data.y_train)?;
                let test_acc = accuracy(&ce, &x, &data.x_test, &data.y_test)?;
                runs.push(Run { name, family, loss, time: step_times, train_acc, test_acc, evals });
            } else if let Some(r) = runs.get_mut(i).filter(|r| r.loss == loss) {
                r.time.iter_mut().zip(step_times).for_each(|(t, s)| *t = t.min(s));
            } else {
                return Err(Error::Check(format!("{name} took other steps when run again from the same start")));
            }
        }
    }
    for r in &mut runs {
        let mut spent = 0.0;
        r.time.iter_mut().for_each(|t| {
            spent += *t;
            *t = spent;
        });
    }

    say(format!(
        "{:<10} {:>5} {:>12} {:>9} {:>9}  {:<30} {:>9}",
        "method", "steps", "train loss", "train acc", "test acc", "evaluations", "time"
    ))?;
    for r in &runs {
        say(format!(
            "{:<10} {:>5} {:>12.3e} {:>8.1}% {:>8.1}%  {:<30} {:>7.1}ms",
            r.name,
            r.loss.len() - 1,
            r.loss.last().copied().unwrap_or(f64::NAN),
            100.0 * r.train_acc,
            100.0 * r.test_acc,
            evaluations(&r.evals),
            1e3 * r.time.last().copied().unwrap_or(0.0),
        ))?;
    }
    let files = chart(&args.out.join("comparison"), &runs, args.iters)?;
    for path in &files {
        say(format!("wrote {}", path.display()))?;
    }
    Ok(OptimizersReport { runs, files })
}

const HIDDEN: usize = 8;

/// The iris data, split 120 / 30 by a seeded shuffle, features standardised with the training statistics.
struct Data {
    x_train: Tensor<f64>,
    y_train: Vec<usize>,
    x_test: Tensor<f64>,
    y_test: Vec<usize>,
}

fn load_iris(seed: u64) -> Result<Data> {
    let path = tapegrad_examples::data_file("iris.csv");
    let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let f: Vec<f64> = line
            .split(',')
            .map(|t| t.trim().parse::<f64>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::Input { what: format!("{}:{}", path.display(), i + 1), msg: e.to_string() })?;
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

/// The two families, drawn as two rows of panels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// One gradient per step, a learning rate (SGD to AdamW).
    FirstOrder,
    /// The classical full-batch methods (RProp to Newton).
    Classical,
}

/// A method with the problem form it takes: LM needs the least-squares form.
pub enum Method {
    /// Any method on the plain loss.
    Plain(Box<dyn FullBatch<dyn Problem>>),
    /// Levenberg-Marquardt on the residuals.
    Lm(LevenbergMarquardt),
}

/// Every optimizer in `nn`, in the order of the table, with its family.
///
/// # Errors
/// A bad config (none here).
pub fn methods() -> Result<Vec<(&'static str, Family, Method)>> {
    use Family::{Classical, FirstOrder as First};
    let sgd = |lr, momentum, nesterov| Sgd::new(SgdConfig { lr, momentum, nesterov, ..Default::default() });
    let first = |name, opt: Box<dyn FullBatch<dyn Problem>>| (name, First, Method::Plain(opt));
    let classical = |name, opt: Box<dyn FullBatch<dyn Problem>>| (name, Classical, Method::Plain(opt));
    let cg = |beta| ConjugateGradient::new(CgConfig { beta, ..Default::default() });
    let rprop = |variant| Rprop::new(RpropConfig { variant, ..Default::default() });
    Ok(vec![
        first("SGD", Box::new(FirstOrder::new("sgd", sgd(0.5, 0.0, false)?))),
        first("momentum", Box::new(FirstOrder::new("momentum", sgd(0.1, 0.9, false)?))),
        first("Nesterov", Box::new(FirstOrder::new("nesterov", sgd(0.1, 0.9, true)?))),
        first(
            "AdaGrad",
            Box::new(FirstOrder::new("adagrad", AdaGrad::new(AdaGradConfig { lr: 0.1, ..Default::default() })?)),
        ),
        first(
            "RMSProp",
            Box::new(FirstOrder::new("rmsprop", RmsProp::new(RmsPropConfig { lr: 0.01, ..Default::default() })?)),
        ),
        first("AdaDelta", Box::new(FirstOrder::new("adadelta", AdaDelta::new(AdaDeltaConfig::default())?))),
        first("Adam", Box::new(FirstOrder::new("adam", Adam::new(AdamConfig { lr: 0.01, ..Default::default() })?))),
        first("AdamW", Box::new(FirstOrder::new("adamw", AdamW::new(AdamWConfig { lr: 0.01, ..Default::default() })?))),
        classical("RProp", Box::new(rprop(RpropVariant::Backtracking)?)),
        classical("iRProp-", Box::new(rprop(RpropVariant::IRpropMinus)?)),
        classical("QuickProp", Box::new(Quickprop::new(QuickpropConfig { epsilon: 0.5, ..Default::default() })?)),
        classical("CG-FR", Box::new(cg(CgBeta::FletcherReeves)?)),
        classical("CG-PR", Box::new(cg(CgBeta::PolakRibiere)?)),
        classical("BFGS", Box::new(Bfgs::new(BfgsConfig::default())?)),
        classical("L-BFGS", Box::new(Lbfgs::new(LbfgsConfig::default())?)),
        ("LM", Classical, Method::Lm(LevenbergMarquardt::new(LmConfig::default())?)),
        classical("Newton", Box::new(Newton::new(NewtonConfig::default())?)),
        classical("Newton-CG", Box::new(NewtonCg::new(NewtonCgConfig::default())?)),
    ])
}

/// Steps `method` from `x0` up to `iters` times (or until it stops making progress or `|g| < 1e-10`);
/// returns the loss at the start and after each step, the seconds of the first evaluation and of each step,
/// the final weights and the evaluation counts.
#[allow(clippy::type_complexity)]
fn run_steps<P: Problem + ?Sized>(
    method: &mut dyn FnMut(&mut Counted<'_, P>, &mut Point) -> tapegrad_nn::Result<StepOutcome>,
    problem: &mut P,
    x0: Vec<f64>,
    iters: usize,
    mean_ce: &mut dyn FnMut(&[f64]) -> Result<f64>,
) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>, EvalCounts)> {
    let mut counted = Counted::new(problem);
    let start = Instant::now();
    let mut pt = counted.point(x0)?;
    let (mut loss, mut time) = (vec![mean_ce(&pt.x)?], vec![start.elapsed().as_secs_f64()]);
    for _ in 0..iters {
        if norm(&pt.g) < 1e-10 {
            break;
        }
        let t = Instant::now();
        let outcome = method(&mut counted, &mut pt)?;
        let took = t.elapsed().as_secs_f64();
        if outcome == StepOutcome::Stuck {
            break;
        }
        loss.push(mean_ce(&pt.x)?);
        time.push(took);
    }
    Ok((loss, time, pt.x, counted.counts))
}

/// The non-zero evaluation counts, e.g. `118 gradients, 1093 HVPs`.
fn evaluations(e: &EvalCounts) -> String {
    let all = [
        (e.grad, "gradients"),
        (e.loss, "losses"),
        (e.hvp, "HVPs"),
        (e.hessian, "Hessians"),
        (e.jacobian, "Jacobians"),
    ];
    let shown: Vec<String> = all.iter().filter(|(n, _)| *n > 0).map(|(n, what)| format!("{n} {what}")).collect();
    shown.join(", ")
}

/// A label for the log axes at 1, 2 and 5 times a power of ten (`2e-3`), blank between them.
fn decade(v: &f64) -> String {
    let e = v.log10().floor();
    let m = v / 10f64.powf(e);
    match [1.0, 2.0, 5.0, 10.0].into_iter().find(|k| (m - k).abs() < 1e-6 * k) {
        None => String::new(),
        Some(k) if k > 5.0 => format!("1e{}", e + 1.0), // 10 x 10^e, rounding
        Some(k) => format!("{k}e{e}"),
    }
}

/// The fraction of rows of `x` whose largest logit is the label.
fn accuracy(p: &FnProblem<f64, impl tapegrad::TapeFn<f64>>, w: &[f64], x: &Tensor<f64>, y: &[usize]) -> Result<f64> {
    let tape = Tape::new();
    let v: Vec<_> = p.tensors(w)?.into_iter().map(|t| tape.input(t)).collect();
    let pred = argmax_rows(&logits(&tape, &v, x)?.value())?;
    Ok(pred.iter().zip(y).filter(|(a, b)| a == b).count() as f64 / y.len() as f64)
}

// A family has at most ten methods: one colour each from `plot::PALETTE`.
/// Line patterns, cycled beside the colours: `(dash, gap)` in pixels, `None` for solid.
const DASHES: [Option<(u32, u32)>; 3] = [None, Some((10, 5)), Some((3, 4))];

/// Writes `stem.png` and `stem.svg`: per family a row with the loss against iterations, the loss against
/// wall time (both log scale) and the legend beside them.
fn chart(stem: &Path, runs: &[Run], iters: usize) -> Result<Vec<PathBuf>> {
    tapegrad_examples::plot::ensure_font();
    let size = (1500, 980);
    let png = stem.with_extension("png");
    draw(&BitMapBackend::new(&png, size).into_drawing_area(), runs, iters, &png)?;
    let svg = stem.with_extension("svg");
    draw(&SVGBackend::new(&svg, size).into_drawing_area(), runs, iters, &svg)?;
    Ok(vec![png, svg])
}

/// Draws one series in its colour and pattern.
fn series<DB: DrawingBackend, CT: CoordTranslate>(
    chart: &mut ChartContext<'_, DB, CT>,
    points: Vec<CT::From>,
    k: usize,
) -> std::result::Result<(), String>
where
    CT::From: Clone + 'static,
{
    let style = PALETTE[k % PALETTE.len()].stroke_width(2);
    match DASHES[k % DASHES.len()] {
        None => chart.draw_series(LineSeries::new(points, style)).map(|_| ()),
        Some((dash, gap)) => chart.draw_series(DashedLineSeries::new(points, dash, gap, style)).map(|_| ()),
    }
    .map_err(|e| e.to_string())
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    runs: &[Run],
    iters: usize,
    path: &Path,
) -> Result<()> {
    use tapegrad_examples::plot::FONT;
    let err = |e: &dyn std::fmt::Display| Error::Plot { path: path.display().to_string(), msg: e.to_string() };
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let floor = 1e-12; // losses below are drawn at the floor of the log axis
    let rows = root.split_evenly((2, 1));
    let families =
        [(Family::FirstOrder, "first-order (one gradient per step)"), (Family::Classical, "classical full-batch")];
    for ((family, title), row) in families.into_iter().zip(&rows) {
        let mine: Vec<&Run> = runs.iter().filter(|r| r.family == family).collect();
        let losses = || mine.iter().flat_map(|r| r.loss.iter().map(|&l| l.max(floor)));
        let (lo, hi) = (losses().fold(f64::INFINITY, f64::min), losses().fold(0.0, f64::max));
        let (lo, hi) = if lo.is_finite() && hi > lo { (lo, hi) } else { (floor, 1.0) };
        let times = || mine.iter().flat_map(|r| r.time.iter().copied()).filter(|t| *t > 0.0);
        let (t_lo, t_hi) = (times().fold(f64::INFINITY, f64::min), times().fold(0.0, f64::max));
        let (t_lo, t_hi) = if t_lo.is_finite() && t_hi > t_lo { (t_lo, t_hi) } else { (1e-6, 1.0) };
        let (plots, legend) = row.split_horizontally(row.dim_in_pixel().0 - 190);
        let panels = plots.split_evenly((1, 2));

        let mut by_iter = ChartBuilder::on(&panels[0])
            .caption(format!("{title}: train loss against iterations"), (FONT, 18))
            .margin(10)
            .x_label_area_size(38)
            .y_label_area_size(64)
            .build_cartesian_2d(0..iters as i32, (lo * 0.5..hi * 2.0).log_scale())
            .map_err(|e| err(&e))?;
        by_iter
            .configure_mesh()
            .x_desc("iteration (full batch)")
            .y_desc("mean cross-entropy")
            .label_style((FONT, 13))
            .y_label_formatter(&decade)
            .light_line_style(WHITE)
            .draw()
            .map_err(|e| err(&e))?;
        for (k, r) in mine.iter().enumerate() {
            let pts = r.loss.iter().enumerate().map(|(s, &l)| (s as i32, l.max(floor))).collect();
            series(&mut by_iter, pts, k).map_err(|e| err(&e))?;
        }

        let mut by_time = ChartBuilder::on(&panels[1])
            .caption(format!("{title}: train loss against wall time"), (FONT, 18))
            .margin(10)
            .x_label_area_size(38)
            .y_label_area_size(64)
            .build_cartesian_2d((t_lo / 1.5..t_hi * 1.5).log_scale(), (lo * 0.5..hi * 2.0).log_scale())
            .map_err(|e| err(&e))?;
        by_time
            .configure_mesh()
            .x_desc("wall time (s, log scale)")
            .y_desc("mean cross-entropy")
            .label_style((FONT, 13))
            .x_label_formatter(&|v| format!("{v:.0e}"))
            .y_label_formatter(&decade)
            .light_line_style(WHITE)
            .draw()
            .map_err(|e| err(&e))?;
        for (k, r) in mine.iter().enumerate() {
            let pts = r.time.iter().zip(&r.loss).map(|(&t, &l)| (t, l.max(floor))).collect();
            series(&mut by_time, pts, k).map_err(|e| err(&e))?;
        }

        // The legend, outside the data: a sample of each line and the method's name.
        for (k, r) in mine.iter().enumerate() {
            let y = 60 + 26 * k as i32;
            let style = PALETTE[k % PALETTE.len()].stroke_width(2);
            let sample = vec![(10, y), (60, y)];
            match DASHES[k % DASHES.len()] {
                None => legend.draw(&PathElement::new(sample, style)),
                Some((dash, gap)) => legend.draw(&DashedPathElement::new(sample, dash, gap, style)),
            }
            .map_err(|e| err(&e))?;
            legend.draw(&Text::new(r.name, (70, y - 8), (FONT, 15).into_font())).map_err(|e| err(&e))?;
        }
    }
    root.present().map_err(|e| err(&e))
}
