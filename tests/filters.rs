//! The `filters` example end to end: the hand-computed convolution, noise suppression, and the output sizes
//! against the formula; its pictures; bad flags.

use clap::Parser;
use tapegrad_e2e::{is_png, scratch};

#[allow(dead_code)] // the example's `main`
#[path = "../examples/filters.rs"]
mod filters;

use filters::{FiltersArgs, run};

fn args(dir: &std::path::Path, flags: &[&str]) -> FiltersArgs {
    FiltersArgs::try_parse_from(["filters", "--out", dir.to_str().unwrap()].iter().chain(flags)).unwrap()
}

#[test]
fn the_demonstrations_compute_what_the_lecture_says() {
    let dir = scratch("filters");
    let mut out = Vec::new();
    let report = run(&args(&dir, &[]), &mut out).unwrap();
    // The simplest convolution of the 5x5 image with the "X" kernel.
    assert_eq!(report.simplest, [4.0, 3.0, 4.0, 2.0, 4.0, 3.0, 2.0, 3.0, 4.0]);
    // Gaussian filtering brings the noisy digit much closer to the clean one.
    assert!(report.noisy_error > 0.25, "noise RMS {}", report.noisy_error);
    assert!(report.filtered_error < 0.6 * report.noisy_error, "{} -> {}", report.noisy_error, report.filtered_error);
    // Output sizes of a 7x7 input: valid, same, full, stride 2 valid/same, same with an even kernel.
    let engine: Vec<usize> = report.sizes.iter().map(|r| r.engine).collect();
    assert_eq!(engine, [5, 7, 9, 3, 4, 7]);
    for r in &report.sizes {
        let (i, k, s, p) = r.iksp;
        assert_eq!((r.by_hand, r.formula), ((i + p - k) / s + 1, r.engine), "{r:?}");
    }
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("y[1,1] = 1*1 + 1*0 + 1*1"), "{text}");
    let last = text.lines().last().unwrap();
    assert_eq!(last, format!("noise_error_before={:.4} after={:.4}", report.noisy_error, report.filtered_error));
    for png in ["simplest", "gaussian", "noise", "edges", "subsampling", "padding"] {
        assert!(is_png(&dir.join(format!("{png}.png"))), "{png}.png missing or not a PNG");
    }
}

#[test]
fn more_noise_more_gain_and_no_noise_no_gain() {
    let quiet = run(&args(&scratch("filters-0"), &["--noise", "0"]), &mut Vec::new()).unwrap();
    assert_eq!(quiet.noisy_error, 0.0);
    assert!(quiet.filtered_error > 0.0, "blurring a clean digit changes it");
    let loud = run(&args(&scratch("filters-1"), &["--noise", "0.6", "--seed", "5"]), &mut Vec::new()).unwrap();
    assert!(loud.filtered_error < 0.4 * loud.noisy_error, "{} -> {}", loud.noisy_error, loud.filtered_error);
}

#[test]
fn help_and_bad_flags() {
    let help = FiltersArgs::try_parse_from(["filters", "--help"]).unwrap_err();
    assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
    assert!(help.to_string().contains("[default: out/filters]"));
    let dir = scratch("filters-bad").join("never");
    for (flags, flag) in [(&["--noise", "-1"][..], "--noise"), (&["--sigma", "0"], "--sigma")] {
        let err = run(&args(&dir, flags), &mut Vec::new()).unwrap_err().to_string();
        assert!(err.starts_with(flag), "{flags:?}: {err}");
    }
    assert!(!dir.exists());
}
