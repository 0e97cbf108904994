//! The digits command line at its edges: bad flags are refused before anything is trained or
//! allocated, an unwritable `--out` before training, a diverged run exits with an error and saves nothing,
//! and `predict` refuses hostile model files and non-finite rows with a clear error instead of aborting.

use clap::Parser;
use tapegrad_e2e::scratch;
use tapegrad_examples::Error;
use tapegrad_examples::digits::default_data_path;

#[allow(dead_code)] // the example's `main`
#[path = "../examples/digits.rs"]
mod digits;

use digits::{DigitsArgs, PredictArgs, TrainArgs};

fn args(dir: &std::path::Path, flags: &[&str]) -> TrainArgs {
    let out = dir.to_str().unwrap();
    let head = ["digits", "--quiet", "--out", out];
    DigitsArgs::parse_from(head.iter().chain(flags).copied()).train
}

fn input_error(r: tapegrad_examples::Result<digits::DigitsReport>) -> String {
    match r {
        Err(e @ Error::Input { .. }) => e.to_string(),
        Err(e) => panic!("expected a flag error, got {e}"),
        Ok(_) => panic!("expected a flag error, the run trained"),
    }
}

#[test]
fn digits_refuses_a_learning_rate_infinite_in_f32_and_writes_no_model() {
    let dir = scratch("digits-lr-1e39");
    let err = input_error(digits::train(&args(&dir, &["--lr", "1e39"]), &mut Vec::new()));
    assert_eq!(err, "--lr: 1e39 must be finite and > 0 in f32, the model's type");
    for lr in ["--lr=0", "--lr=-1", "--lr=nan", "--lr=inf", "--lr=1e-50"] {
        assert!(digits::train(&args(&dir, &[lr]), &mut Vec::new()).is_err(), "{lr}");
    }
    assert!(!dir.join("model.safetensors").exists());
}

#[test]
fn a_diverged_digits_run_reports_the_reason_exits_with_an_error_and_saves_nothing() {
    let dir = scratch("digits-diverged");
    let mut out = Vec::new();
    let flags = ["--optimizer", "sgd", "--lr", "1e30", "--epochs", "3"];
    let err = digits::train(&args(&dir, &flags), &mut out).unwrap_err();
    assert!(matches!(err, Error::Diverged(_)), "{err}");
    assert!(err.to_string().starts_with("training diverged: a loss or a parameter became NaN or infinite in epoch"));
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("training: diverged in epoch"), "{text}");
    assert!(!dir.join("model.safetensors").exists(), "a diverged run must not save a model");
    assert!(!dir.join("curves.png").exists());
}

#[test]
fn an_unwritable_out_folder_is_refused_before_training() {
    let dir = scratch("digits-unwritable");
    let file = dir.join("a-file");
    std::fs::write(&file, b"not a folder").unwrap();
    // --epochs 1000 would take a minute: the error must come first.
    let err = digits::train(&args(&file.join("out"), &["--epochs", "1000"]), &mut Vec::new()).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(err.to_string().contains("a-file"), "{err}");
}

#[test]
fn network_sizes_that_cannot_fit_are_refused_naming_the_parameter_count() {
    let dir = scratch("digits-hidden");
    let err = input_error(digits::train(&args(&dir, &["--hidden", "18446744073709551615"]), &mut Vec::new()));
    assert_eq!(
        err,
        "--hidden: an MLP [64, 18446744073709551615, 10] has more than 18,446,744,073,709,551,615 parameters"
    );
    let err = input_error(digits::train(&args(&dir, &["--hidden", "100000,100000"]), &mut Vec::new()));
    assert_eq!(
        err,
        "--hidden: an MLP [64, 100000, 100000, 10] has 10,007,600,010 parameters; at most 100,000,000 fit (with \
         gradients and optimizer state)"
    );
    assert!(digits::train(&args(&dir, &["--hidden", "0"]), &mut Vec::new()).is_err());
    assert!(digits::train(&args(&dir, &["--epochs", "0"]), &mut Vec::new()).is_err());
    assert!(digits::train(&args(&dir, &["--dropout", "nan"]), &mut Vec::new()).is_err());
}

/// A safetensors file with `Mlp::save`'s metadata claiming `sizes`, holding one small tensor.
fn hostile_model(sizes: &str) -> Vec<u8> {
    use std::collections::HashMap;
    let meta: HashMap<String, String> = [
        ("tapegrad.mlp.sizes", sizes),
        ("tapegrad.mlp.hidden", "relu"),
        ("tapegrad.mlp.output", "identity"),
        ("tapegrad.mlp.bias", "true"),
        ("tapegrad.mlp.dropout", "0"),
        ("tapegrad.mlp.batch_norm", "false"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    // The header is JSON: tensors and metadata, written by hand (no safetensors dependency here).
    let mut fields: Vec<String> = meta.iter().map(|(k, v)| format!("\"{k}\":\"{v}\"")).collect::<Vec<_>>();
    fields.sort();
    let header = format!(
        "{{\"__metadata__\":{{{}}},\"layers.0.weight\":{{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}}}",
        fields.join(",")
    );
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header.as_bytes());
    bytes.extend([0u8; 16]);
    bytes
}

#[test]
fn digits_predict_refuses_a_hostile_model_file_with_a_clear_error() {
    let dir = scratch("digits-hostile-model");
    for (i, sizes) in ["1000000,1000000", "30000,30000", "18446744073709551615,2", &vec!["2"; 200_003].join(",")]
        .into_iter()
        .enumerate()
    {
        let path = dir.join(format!("model{i}.safetensors"));
        std::fs::write(&path, hostile_model(sizes)).unwrap();
        let p = PredictArgs { model: path, row: None, data: default_data_path(), seed: 0 };
        let err = digits::predict(&p, &mut Vec::new()).unwrap_err().to_string();
        assert!(err.contains("model") && err.len() < 400, "{} bytes: {err}", err.len());
    }
}

#[test]
fn digits_predict_refuses_non_finite_pixels() {
    for bad in ["nan", "inf", "-inf", "1e39"] {
        let row = vec![bad; 64].join(",");
        let err = digits::parse_row(&row).unwrap_err().to_string();
        assert!(err.starts_with("--row: column 1: ") && err.contains("is not a finite pixel value"), "{err}");
    }
}
