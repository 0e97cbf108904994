//! The `regression` (diabetes, MSE) and `binary` (breast cancer, sigmoid + BCE) examples end to end.

use clap::Parser;
use tapegrad::Tensor;
use tapegrad_e2e::{is_png, scratch};

#[allow(dead_code)] // the example's `main`
#[path = "../examples/binary.rs"]
mod binary;
#[allow(dead_code)] // the example's `main`
#[path = "../examples/regression.rs"]
mod regression;

use binary::BinaryArgs;
use regression::{RegressionArgs, least_squares};

#[test]
fn regression_beats_the_mean_predictor_and_writes_its_curve() {
    let dir = scratch("regression");
    let args = RegressionArgs::try_parse_from(["regression", "--out", dir.to_str().unwrap()]).unwrap();
    let report = regression::run(&args, &mut Vec::new()).unwrap();
    assert!(report.mlp.mse < report.mean.mse, "MLP {:?} vs mean {:?}", report.mlp, report.mean);
    assert!(report.mlp.r2 > 0.3, "MLP R^2 {}", report.mlp.r2);
    // The linear model is the known strong baseline on this data (R^2 about 0.5).
    assert!(report.least_squares.r2 > 0.4, "least squares R^2 {}", report.least_squares.r2);
    assert!(report.mean.r2.abs() < 0.05, "mean predictor R^2 {}", report.mean.r2);
    assert!(is_png(&dir.join("loss.png")));
    assert!(report.files.iter().all(|f| f.starts_with(&dir)), "{:?}", report.files);
}

#[test]
fn least_squares_recovers_an_exact_linear_function() {
    // y = 2 x1 - x2 + 3 on five points in general position.
    let x = Tensor::from_vec(vec![0.0, 1.0, 1.0, 0.0, 2.0, 3.0, -1.0, 4.0, 0.5, -2.0], [5, 2]).unwrap();
    let y: Vec<f64> = x.data().chunks(2).map(|r| 2.0 * r[0] - r[1] + 3.0).collect();
    let w = least_squares(&x, &y).unwrap();
    for (got, want) in w.iter().zip([2.0, -1.0, 3.0]) {
        assert!((got - want).abs() < 1e-10, "{w:?}");
    }
}

#[test]
fn least_squares_reports_singular_normal_equations() {
    let x = Tensor::from_vec(vec![1.0, 2.0, 2.0, 4.0, 3.0, 6.0], [3, 2]).unwrap();
    let err = least_squares(&x, &[1.0, 2.0, 3.0]).unwrap_err().to_string();
    assert!(err.contains("singular"), "{err}");
}

#[test]
fn breast_cancer_classifier_reaches_93_percent_with_a_low_log_loss() {
    let dir = scratch("binary");
    let args = BinaryArgs::try_parse_from(["binary", "--out", dir.to_str().unwrap()]).unwrap();
    let report = binary::run(&args, &mut Vec::new()).unwrap();
    assert!(report.accuracy > 0.93, "accuracy {}", report.accuracy);
    assert!(report.precision > 0.85 && report.recall > 0.85, "{report:?}");
    assert!(report.log_loss < 0.3, "log-loss {}", report.log_loss);
    assert!(is_png(&dir.join("curves.png")));
    assert!(report.files.iter().all(|f| f.starts_with(&dir)), "{:?}", report.files);
}

#[test]
fn help_shows_relative_defaults_and_zero_epochs_write_nothing() {
    for (help, want) in [
        (RegressionArgs::try_parse_from(["regression", "--help"]).unwrap_err(), "[default: out/regression]"),
        (BinaryArgs::try_parse_from(["binary", "--help"]).unwrap_err(), "[default: out/binary]"),
    ] {
        assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
        assert!(help.to_string().contains(want) && help.to_string().contains("--epochs"), "{help}");
    }
    assert_eq!(RegressionArgs::try_parse_from(["regression"]).unwrap().epochs, 60);
    assert_eq!(BinaryArgs::try_parse_from(["binary"]).unwrap().epochs, 50);

    let dir = scratch("tabular-bad").join("never");
    let flags = |name| [name, "--epochs", "0", "--out", dir.to_str().unwrap()];
    let err = regression::run(&RegressionArgs::try_parse_from(flags("regression")).unwrap(), &mut Vec::new());
    assert!(err.unwrap_err().to_string().starts_with("--epochs"));
    let err = binary::run(&BinaryArgs::try_parse_from(flags("binary")).unwrap(), &mut Vec::new());
    assert!(err.unwrap_err().to_string().starts_with("--epochs"));
    assert!(!dir.exists(), "a rejected run created its output folder");
}
