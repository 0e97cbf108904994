//! Regression with MSE: the diabetes data (442 patients, 10 features, disease progression after one year).
//!
//! `cargo run --release -p tapegrad-examples --example regression` prints the test scores and writes the
//! loss curve (`loss.png`, `loss.svg`) into `out/regression/`; `--help` lists the flags.
//!
//! Features and target are standardised with statistics of the training part only; an MLP 10-16-1 (tanh) is
//! trained on the mean squared error with Adam, and its test MSE and R^2 (in the target's own units) are
//! compared with the mean predictor and with ordinary least squares, solved in this file from the normal
//! equations.

use clap::Parser;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::io::Write;
use std::path::PathBuf;
use tapegrad::Tensor;
use tapegrad_examples::error::{Error, Result, ensure_trained, io_err, prepare_out_dir, stop_reason};
use tapegrad_examples::plot::{self, Panel};
use tapegrad_nn::Module;
use tapegrad_nn::data::{Batching, CsvOptions, Dataset, Delimiter, StandardScaler, Targets, read_matrix};
use tapegrad_nn::layers::{Activation, Mlp};
use tapegrad_nn::metrics::{mse, r2};
use tapegrad_nn::optim::{Adam, AdamConfig};
use tapegrad_nn::train::{FitConfig, Loss, fit};

/// The command line.
#[derive(Debug, Clone, Parser)]
#[command(name = "regression", about = "Regression on the diabetes data: an MLP against least squares and the mean")]
pub struct RegressionArgs {
    /// Training epochs.
    #[arg(long, default_value_t = 60)]
    pub epochs: usize,
    /// Seed of the split, the initialisation and the batch order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Folder for the pictures (created if missing).
    #[arg(long, default_value = "out/regression")]
    pub out: PathBuf,
}

/// Test-set scores of one predictor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    /// Mean squared error in the target's units.
    pub mse: f64,
    /// Coefficient of determination (1 is perfect, 0 is the mean predictor).
    pub r2: f64,
}

/// What [`run`] found on the test part.
#[derive(Debug, Clone)]
pub struct RegressionReport {
    /// The MLP.
    pub mlp: Scores,
    /// Ordinary least squares with an intercept.
    pub least_squares: Scores,
    /// Predicting the training mean for everyone.
    pub mean: Scores,
    /// Files written.
    pub files: Vec<PathBuf>,
}

fn main() -> std::process::ExitCode {
    tapegrad_examples::error::report(run(&RegressionArgs::parse(), &mut std::io::stdout()).map(|_| ()))
}

/// Trains and compares; prints a table to `out` and writes the loss curve into `args.out`.
///
/// # Errors
/// Data, training, drawing and file errors.
pub fn run(args: &RegressionArgs, out: &mut dyn Write) -> Result<RegressionReport> {
    if args.epochs == 0 {
        return Err(Error::Input { what: "--epochs".into(), msg: "must be at least 1".into() });
    }
    prepare_out_dir(&args.out)?;
    let data = load()?;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let (train, test) = data.train_test_split(0.2, &mut rng)?;
    let values = |d: &Dataset<f64>| {
        d.targets().values().cloned().ok_or_else(|| Error::Check("regression targets missing".into()))
    };
    let (y_train, y_test) = (values(&train)?, values(&test)?);
    let xs = StandardScaler::fit(train.features())?;
    let ys = StandardScaler::fit(&y_train)?;
    let scaled = |d: &Dataset<f64>, y: &Tensor<f64>| -> Result<Dataset<f64>> {
        Ok(Dataset::new(xs.transform(d.features())?, Targets::Values(ys.transform(y)?))?)
    };
    let (train_s, test_s) = (scaled(&train, &y_train)?, scaled(&test, &y_test)?);

    let mut model = Mlp::<f64>::new(&[10, 16, 1], Activation::Tanh, Activation::Identity, &mut rng)?;
    let mut opt = Adam::new(AdamConfig { lr: 2e-3, ..Default::default() })?;
    let cfg = FitConfig {
        validation: Some(&test_s),
        rng: Some(&mut rng),
        epochs: args.epochs,
        batching: Batching::MiniBatch { size: 32, drop_last: false },
        loss: Loss::Mse,
        ..Default::default()
    };
    let history = fit(&mut model, &mut opt, &train_s, cfg)?;
    writeln!(out, "training: {}", stop_reason(&history)).map_err(io_err("stdout"))?;
    ensure_trained(&history, &model)?;
    let pred = ys.inverse_transform(&model.predict(test_s.features())?)?;
    let mlp = score(&pred, &y_test)?;

    let w = least_squares(train.features(), y_train.data())?;
    let f = test.num_features();
    let ls_pred: Vec<f64> =
        test.features().data().chunks(f).map(|r| r.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>() + w[f]).collect();
    let least_squares = score(&Tensor::from_vec(ls_pred, [test.len(), 1])?, &y_test)?;
    let train_mean = y_train.data().iter().sum::<f64>() / train.len() as f64;
    let mean = score(&Tensor::full([test.len(), 1], train_mean)?, &y_test)?;

    let say = |out: &mut dyn Write, msg: String| writeln!(out, "{msg}").map_err(io_err("stdout"));
    say(
        out,
        format!(
            "diabetes: {} train / {} test, MLP 10-16-1 tanh, MSE, Adam, {} epochs",
            train.len(),
            test.len(),
            args.epochs
        ),
    )?;
    say(out, format!("{:<22} {:>10} {:>8}", "test set", "MSE", "R^2"))?;
    for (name, s) in [("MLP", mlp), ("least squares", least_squares), ("mean of train targets", mean)] {
        say(out, format!("{name:<22} {:>10.1} {:>8.4}", s.mse, s.r2))?;
    }
    let (tr, te) = (history.train_loss(), history.val_loss());
    let panel = Panel { title: "MSE (standardised target)", series: vec![("train", &tr), ("test", &te)] };
    let files = plot::curves(&args.out.join("loss"), &[panel])?;
    for f in &files {
        say(out, format!("wrote {}", f.display()))?;
    }
    say(out, format!("test_r2={:.4}", mlp.r2))?;
    Ok(RegressionReport { mlp, least_squares, mean, files })
}

/// Loads the bundled diabetes data.
///
/// # Errors
/// File and parse errors with path, line and column.
pub fn load() -> Result<Dataset<f64>> {
    let ws = CsvOptions { delimiter: Delimiter::Whitespace, ..Default::default() };
    let x = read_matrix::<f64>(tapegrad_examples::data_file("diabetes_data_raw.csv.gz"), &ws)?;
    let y = read_matrix::<f64>(tapegrad_examples::data_file("diabetes_target.csv.gz"), &ws)?;
    Ok(Dataset::new(x, Targets::Values(y))?)
}

/// Ordinary least squares with an intercept: solves `(A^T A) w = A^T y` for `A = [X, 1]` by Gaussian
/// elimination with partial pivoting; returns `w` (the intercept last).
///
/// # Errors
/// [`Error::Check`] when the normal equations are singular.
pub fn least_squares(x: &Tensor<f64>, y: &[f64]) -> Result<Vec<f64>> {
    let (n, f) = (x.dims()[0], x.dims()[1]);
    let k = f + 1;
    let row = |i: usize| x.data()[i * f..(i + 1) * f].iter().copied().chain([1.0]);
    // Augmented system [A^T A | A^T y], k x (k + 1).
    let mut m = vec![0.0; k * (k + 1)];
    for (i, &yi) in y.iter().enumerate().take(n) {
        let a: Vec<f64> = row(i).collect();
        for r in 0..k {
            for c in 0..k {
                m[r * (k + 1) + c] += a[r] * a[c];
            }
            m[r * (k + 1) + k] += a[r] * yi;
        }
    }
    for col in 0..k {
        let pivot = (col..k).max_by(|&a, &b| m[a * (k + 1) + col].abs().total_cmp(&m[b * (k + 1) + col].abs()));
        let p = pivot.unwrap_or(col);
        if m[p * (k + 1) + col].abs() < 1e-12 {
            return Err(Error::Check("least squares: the normal equations are singular".into()));
        }
        for c in 0..=k {
            m.swap(col * (k + 1) + c, p * (k + 1) + c);
        }
        for r in (0..k).filter(|&r| r != col) {
            let factor = m[r * (k + 1) + col] / m[col * (k + 1) + col];
            for c in col..=k {
                m[r * (k + 1) + c] -= factor * m[col * (k + 1) + c];
            }
        }
    }
    Ok((0..k).map(|r| m[r * (k + 1) + k] / m[r * (k + 1) + r]).collect())
}

/// Scores `pred` against `truth` (both `[N, 1]`).
fn score(pred: &Tensor<f64>, truth: &Tensor<f64>) -> Result<Scores> {
    Ok(Scores { mse: mse(pred, truth)?, r2: r2(pred, truth)? })
}
