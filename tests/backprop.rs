//! The `backprop` example: the lecture's deltas agree with the tape, the table is written, `--help` works.

use clap::Parser;
use tapegrad_e2e::scratch;

#[allow(dead_code)] // the example's `main`
#[path = "../examples/backprop.rs"]
mod backprop;

use backprop::{BackpropArgs, TOLERANCE, run};

fn args(dir: &std::path::Path, seed: u64) -> BackpropArgs {
    BackpropArgs::try_parse_from(["backprop", "--seed", &seed.to_string(), "--out", dir.to_str().unwrap()]).unwrap()
}

#[test]
fn hand_computed_deltas_match_the_tape_for_several_weight_draws() {
    let dir = scratch("backprop");
    for seed in 0..5 {
        let mut out = Vec::new();
        let report = run(&args(&dir, seed), &mut out).unwrap();
        assert!(report.max_diff <= TOLERANCE, "seed {seed}: max difference {}", report.max_diff);
        let names: Vec<&str> = report.rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["C", "delta2 = dC/dz2", "dC/db2", "dC/dW2", "delta1 = dC/dz1", "dC/db1", "dC/dW1"]);
        // dC/dW is delta a^T: 2x4 for the output layer, 4x3 for the hidden one.
        assert_eq!(report.rows[3].by_tape.len(), 8);
        assert_eq!(report.rows[6].by_tape.len(), 12);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("largest difference") && text.contains("hand and tape agree"), "{text}");
    }
    // 1 + 2 + 2 + 8 + 4 + 4 + 12 values, one line each after the header.
    let csv = std::fs::read_to_string(dir.join("deltas.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 33, "{csv}");
    assert!(csv.starts_with("quantity,index,by_hand,by_tape\nC,0,"), "{csv}");
}

#[test]
fn the_gradients_are_not_trivially_zero() {
    let report = run(&args(&scratch("backprop-zero"), 0), &mut Vec::new()).unwrap();
    for row in &report.rows {
        assert!(row.by_tape.iter().any(|v| v.abs() > 1e-9), "{} is all zero", row.name);
    }
}

#[test]
fn help_shows_the_relative_default_folder() {
    let help = BackpropArgs::try_parse_from(["backprop", "--help"]).unwrap_err();
    assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
    assert!(help.to_string().contains("[default: out/backprop]"), "{help}");
    assert_eq!(BackpropArgs::try_parse_from(["backprop"]).unwrap().out.to_str(), Some("out/backprop"));
}
