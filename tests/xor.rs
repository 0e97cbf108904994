//! The `xor` example end to end: gates, the single-neuron limit, trained networks reaching 100%, and its
//! command line.

use clap::Parser;
use tapegrad_e2e::scratch;

#[allow(dead_code)] // the example's `main`
#[path = "../examples/xor.rs"]
mod xor;

use xor::{XOR, XorArgs};

fn args(dir: &std::path::Path, flags: &[&str]) -> XorArgs {
    let head = ["xor", "--log-every", "0", "--out", dir.to_str().unwrap()];
    XorArgs::try_parse_from(head.iter().chain(flags)).unwrap()
}

#[test]
fn threshold_neurons_give_the_gates_and_two_layers_give_xor() {
    let gates = xor::gates().unwrap();
    let table = |name: &str| gates.iter().find(|g| g.0.starts_with(name)).unwrap().1.clone();
    assert_eq!(table("x1 AND"), [0.0, 0.0, 0.0, 1.0]);
    assert_eq!(table("x1 OR"), [0.0, 1.0, 1.0, 1.0]);
    assert_eq!(table("NOT x1"), [1.0, 1.0, 0.0, 0.0]);
    assert_eq!(table("XOR = [(x1 OR x2) - (x1 AND x2) - 1/2 > 0]"), XOR);
}

#[test]
fn no_single_threshold_neuron_on_the_grid_solves_xor_but_one_gets_three_right() {
    assert_eq!(xor::best_single_neuron().unwrap(), 3);
}

#[test]
fn one_neuron_with_the_product_feature_solves_xor() {
    assert_eq!(xor::with_product_feature().unwrap(), XOR);
}

#[test]
fn trained_networks_reach_full_accuracy_and_write_their_graphs() {
    let dir = scratch("xor");
    let mut out = Vec::new();
    let report = xor::run(&args(&dir, &[]), &mut out).unwrap();
    assert_eq!(report.trained.len(), 2);
    for t in &report.trained {
        assert_eq!(t.accuracy, 1.0, "{} outputs {:?}", t.name, t.outputs);
        assert!(t.final_loss < 0.01, "{} loss {}", t.name, t.final_loss);
    }
    // The 2-4-1 run is the side-by-side benchmark's workload: PyTorch ends at loss 0.000841.
    let wide = &report.trained[1];
    assert!((wide.final_loss - 0.000841).abs() < 1e-6, "2-4-1 final loss {}", wide.final_loss);
    for stem in ["xor_2_2_1", "xor_2_4_1"] {
        let dot = std::fs::read_to_string(dir.join(format!("{stem}.dot"))).unwrap();
        assert!(dot.starts_with("digraph") && dot.contains("sigmoid") && dot.contains("grad"), "{dot}");
    }
    assert!(report.files.iter().all(|f| f.starts_with(&dir)), "{:?}", report.files);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("at best 3 of 4 right"), "{text}");
}

#[test]
fn xor_init_file_has_the_benchmark_shapes() {
    let [w1, b1, w2, b2] = xor::read_xor_init(&xor::xor_init_path()).unwrap();
    assert_eq!((w1.dims(), b1.dims(), w2.dims(), b2.dims()), (&[4, 2][..], &[4][..], &[1, 4][..], &[1][..]));
    assert_eq!(w1.data()[0], 0.27392337);
}

#[test]
fn help_prints_relative_defaults_and_zero_steps_writes_nothing() {
    let help = XorArgs::try_parse_from(["xor", "--help"]).unwrap_err();
    assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
    let text = help.to_string();
    assert!(text.contains("[default: out/xor]") && text.contains("[default: 2000]"), "{text}");
    let defaults = XorArgs::try_parse_from(["xor"]).unwrap();
    assert_eq!((defaults.out.to_str(), defaults.steps, defaults.seed), (Some("out/xor"), 2000, 1));

    let dir = scratch("xor-bad").join("never");
    let err = xor::run(&args(&dir, &["--steps", "0"]), &mut Vec::new()).unwrap_err().to_string();
    assert!(err.starts_with("--steps"), "{err}");
    assert!(!dir.exists(), "a rejected run created its output folder");
}
