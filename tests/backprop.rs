//! The backprop walkthrough: the lecture's deltas agree with the tape.

use tapegrad_examples::backprop::{TOLERANCE, run};

#[test]
fn hand_computed_deltas_match_the_tape_for_several_weight_draws() {
    for seed in 0..5 {
        let mut out = Vec::new();
        let report = run(seed, &mut out).unwrap();
        assert!(report.max_diff <= TOLERANCE, "seed {seed}: max difference {}", report.max_diff);
        let names: Vec<&str> = report.rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["C", "delta2 = dC/dz2", "dC/db2", "dC/dW2", "delta1 = dC/dz1", "dC/db1", "dC/dW1"]);
        // dC/dW is delta a^T: 2x4 for the output layer, 4x3 for the hidden one.
        assert_eq!(report.rows[3].by_tape.len(), 8);
        assert_eq!(report.rows[6].by_tape.len(), 12);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("largest difference"), "{text}");
    }
}

#[test]
fn the_gradients_are_not_trivially_zero() {
    let report = run(0, &mut Vec::new()).unwrap();
    for row in &report.rows {
        assert!(row.by_tape.iter().any(|v| v.abs() > 1e-9), "{} is all zero", row.name);
    }
}
