//! The `cnn` example end to end with few epochs: the CNN beats a threshold and the MLP on the same split,
//! prints `test_accuracy=` last, draws its pictures; bad flags fail before anything is written.

use clap::Parser;
use tapegrad_e2e::{is_png, scratch};

#[allow(dead_code)] // the example's `main`
#[path = "../examples/cnn.rs"]
mod cnn;

use cnn::{CnnArgs, run};

fn args(dir: &std::path::Path, flags: &[&str]) -> CnnArgs {
    let head = ["cnn", "--quiet", "--out", dir.to_str().unwrap()];
    CnnArgs::try_parse_from(head.iter().chain(flags)).unwrap()
}

#[test]
fn a_short_run_learns_the_digits_and_draws_its_pictures() {
    let dir = scratch("cnn-short");
    let mut out = Vec::new();
    let report = run(&args(&dir, &["--epochs", "8", "--mlp-epochs", "10", "--seed", "1"]), &mut out).unwrap();
    assert!(report.cnn_accuracy >= 0.96, "CNN test accuracy {}", report.cnn_accuracy);
    assert!(report.mlp_accuracy >= 0.90, "MLP test accuracy {}", report.mlp_accuracy);
    assert_eq!(report.history.len(), 8);
    let losses = report.history.train_loss();
    assert!(losses[7] < losses[0] / 3.0, "training loss {losses:?}");

    let text = String::from_utf8(out).unwrap();
    let last = text.lines().last().unwrap();
    assert_eq!(last, format!("test_accuracy={:.4}", report.cnn_accuracy));
    assert!(text.contains(&format!("mlp_test_accuracy={:.4}", report.mlp_accuracy)), "{text}");
    assert!(text.contains("Conv2d 1 -> 16") && text.contains("[N, 32, 2, 2]"), "summary missing:\n{text}");
    for png in ["kernels.png", "feature_maps.png", "curves.png", "misclassified.png"] {
        assert!(is_png(&dir.join(png)), "{png} missing or not a PNG");
    }
    assert!(report.files.iter().all(|f| f.starts_with(&dir)), "{:?}", report.files);
}

#[test]
fn the_cnn_uses_the_digits_examples_split() {
    // The example loads and splits inline; the test set must be the digits example's for the same seed.
    let dir = scratch("cnn-split");
    let mut out = Vec::new();
    run(&args(&dir, &["--epochs", "1", "--mlp-epochs", "1", "--seed", "3", "--channels", "4"]), &mut out).unwrap();
    let (train, test) =
        tapegrad_examples::digits::load_split(&tapegrad_examples::digits::default_data_path(), 3).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with(&format!("digits: {} train / {} test", train.len(), test.len())), "{text}");
}

#[test]
fn help_and_bad_flags_stop_before_anything_is_written() {
    let help = CnnArgs::try_parse_from(["cnn", "--help"]).unwrap_err();
    assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
    let text = help.to_string();
    assert!(text.contains("[default: out/cnn]") && text.contains("[default: 16,32]"), "{text}");

    let dir = scratch("cnn-bad").join("never");
    for (flags, flag) in [
        (&["--epochs", "0"][..], "--epochs"),
        (&["--lr", "-1"], "--lr"),
        (&["--lr", "NaN"], "--lr"),
        (&["--channels", "8,16,32,64"], "--channels"),
        (&["--channels", "0"], "--channels"),
        (&["--dropout", "1"], "--dropout"),
    ] {
        let err = run(&args(&dir, flags), &mut Vec::new()).unwrap_err().to_string();
        assert!(err.starts_with(flag), "{flags:?}: {err}");
    }
    assert!(!dir.exists(), "a rejected run created its output folder");

    // An output path that is a file fails before training.
    let file = scratch("cnn-file").join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let err = run(&args(&file, &[]), &mut Vec::new()).unwrap_err().to_string();
    assert!(err.contains("a-file"), "{err}");
}
