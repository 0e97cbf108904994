//! Binary classification with a sigmoid output and binary cross-entropy: the breast-cancer data (569
//! tumours, 30 features, malignant or benign).
//!
//! `cargo run --release -p tapegrad-examples --example binary` prints the test scores and writes the
//! curves (`curves.png`, `curves.svg`) into `out/binary/`; `--help` lists the flags.
//!
//! The network outputs one logit; training minimises binary cross-entropy of `sigmoid(logit)`, computed in
//! the fused, stable form `bce_with_logits`. Reported on the test part: accuracy, precision and recall of
//! the malignant class, and the log-loss of the predicted probabilities.

use clap::Parser;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::io::Write;
use std::path::PathBuf;
use tapegrad::Tensor;
use tapegrad_examples::error::{Error, Result, ensure_trained, io_err, prepare_out_dir, stop_reason};
use tapegrad_examples::plot::{self, Panel};
use tapegrad_nn::Module;
use tapegrad_nn::data::{Batching, CsvOptions, Dataset, StandardScaler};
use tapegrad_nn::layers::{Activation, Mlp};
use tapegrad_nn::metrics::{ConfusionMatrix, log_loss};
use tapegrad_nn::optim::{Adam, AdamConfig};
use tapegrad_nn::train::{FitConfig, Loss, fit};

/// Class index of malignant tumours in the file (benign is 1).
pub const MALIGNANT: usize = 0;

/// The command line.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "binary",
    about = "Binary classification of the breast-cancer data: sigmoid output and binary cross-entropy"
)]
pub struct BinaryArgs {
    /// Training epochs.
    #[arg(long, default_value_t = 50)]
    pub epochs: usize,
    /// Seed of the split, the initialisation and the batch order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Folder for the pictures (created if missing).
    #[arg(long, default_value = "out/binary")]
    pub out: PathBuf,
}

/// What [`run`] found on the test part.
#[derive(Debug, Clone)]
pub struct BinaryReport {
    /// Fraction classified right (probability > 0.5 means benign).
    pub accuracy: f64,
    /// Of the tumours called malignant, the fraction that are.
    pub precision: f64,
    /// Of the malignant tumours, the fraction found.
    pub recall: f64,
    /// Mean negative log-likelihood of the true classes.
    pub log_loss: f64,
    /// Files written.
    pub files: Vec<PathBuf>,
}

fn main() -> std::process::ExitCode {
    tapegrad_examples::error::report(run(&BinaryArgs::parse(), &mut std::io::stdout()).map(|_| ()))
}

/// Trains a 30-16-1 MLP (ReLU) with Adam on BCE, prints and returns the test scores, writes the curves.
///
/// # Errors
/// Data, training, drawing and file errors.
pub fn run(args: &BinaryArgs, out: &mut dyn Write) -> Result<BinaryReport> {
    if args.epochs == 0 {
        return Err(Error::Input { what: "--epochs".into(), msg: "must be at least 1".into() });
    }
    prepare_out_dir(&args.out)?;
    let path = tapegrad_examples::data_file("breast_cancer.csv");
    let data = Dataset::<f64>::from_csv(&path, &CsvOptions { skip_lines: 1, ..Default::default() })?;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let (train, test) = data.stratified_split(0.2, &mut rng)?;
    let scaler = StandardScaler::fit(train.features())?;
    let (train, test) = (scaler.transform_dataset(&train)?, scaler.transform_dataset(&test)?);

    let mut model = Mlp::<f64>::new(&[30, 16, 1], Activation::Relu, Activation::Identity, &mut rng)?;
    let mut opt = Adam::new(AdamConfig { lr: 1e-3, ..Default::default() })?;
    let cfg = FitConfig {
        validation: Some(&test),
        rng: Some(&mut rng),
        epochs: args.epochs,
        batching: Batching::MiniBatch { size: 32, drop_last: false },
        loss: Loss::BceWithLogits,
        ..Default::default()
    };
    let history = fit(&mut model, &mut opt, &train, cfg)?;
    writeln!(out, "training: {}", stop_reason(&history)).map_err(io_err("stdout"))?;
    ensure_trained(&history, &model)?;

    let p_benign: Tensor<f64> = model.predict(test.features())?.map(|z| 1.0 / (1.0 + (-z).exp()));
    let truth = test.labels().ok_or_else(|| Error::Check("breast-cancer labels missing".into()))?;
    let pred: Vec<usize> = p_benign.data().iter().map(|&p| usize::from(p > 0.5)).collect();
    let cm = ConfusionMatrix::new(truth, &pred, 2)?.with_labels(&["malignant", "benign"])?;
    let report_files = {
        let (tl, vl, ta, va) = (history.train_loss(), history.val_loss(), history.train_acc(), history.val_acc());
        plot::curves(
            &args.out.join("curves"),
            &[
                Panel { title: "binary cross-entropy", series: vec![("train", &tl), ("test", &vl)] },
                Panel { title: "accuracy", series: vec![("train", &ta), ("test", &va)] },
            ],
        )?
    };
    let report = BinaryReport {
        accuracy: cm.accuracy(),
        precision: cm.precision(MALIGNANT),
        recall: cm.recall(MALIGNANT),
        log_loss: log_loss(&p_benign, truth)?,
        files: report_files,
    };
    let say = |out: &mut dyn Write, msg: String| writeln!(out, "{msg}").map_err(io_err("stdout"));
    say(
        out,
        format!(
            "breast cancer: {} train / {} test, MLP 30-16-1 relu, sigmoid + BCE, Adam, {} epochs",
            train.len(),
            test.len(),
            args.epochs
        ),
    )?;
    say(out, format!("\nconfusion matrix (test):\n{cm}"))?;
    say(out, format!("accuracy {:.4}", report.accuracy))?;
    say(out, format!("malignant: precision {:.4}, recall {:.4}", report.precision, report.recall))?;
    say(out, format!("log-loss {:.4}", report.log_loss))?;
    for f in &report.files {
        say(out, format!("wrote {}", f.display()))?;
    }
    say(out, format!("test_accuracy={:.4}", report.accuracy))?;
    Ok(report)
}
