//! Regression (diabetes, MSE) and binary classification (breast cancer, sigmoid + BCE) end to end.

use tapegrad::Tensor;
use tapegrad_e2e::{is_png, scratch};
use tapegrad_examples::binary::{self, BinaryOptions};
use tapegrad_examples::regression::{self, RegressionOptions, least_squares};

#[test]
fn regression_beats_the_mean_predictor_and_writes_its_curve() {
    let dir = scratch("regression");
    let report =
        regression::run(&RegressionOptions { out_dir: dir.clone(), ..Default::default() }, &mut Vec::new()).unwrap();
    assert!(report.mlp.mse < report.mean.mse, "MLP {:?} vs mean {:?}", report.mlp, report.mean);
    assert!(report.mlp.r2 > 0.3, "MLP R^2 {}", report.mlp.r2);
    // The linear model is the known strong baseline on this data (R^2 about 0.5).
    assert!(report.least_squares.r2 > 0.4, "least squares R^2 {}", report.least_squares.r2);
    assert!(report.mean.r2.abs() < 0.05, "mean predictor R^2 {}", report.mean.r2);
    assert!(is_png(&dir.join("loss.png")));
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
    let report = binary::run(&BinaryOptions { out_dir: dir.clone(), ..Default::default() }, &mut Vec::new()).unwrap();
    assert!(report.accuracy > 0.93, "accuracy {}", report.accuracy);
    assert!(report.precision > 0.85 && report.recall > 0.85, "{report:?}");
    assert!(report.log_loss < 0.3, "log-loss {}", report.log_loss);
    assert!(is_png(&dir.join("curves.png")));
}
