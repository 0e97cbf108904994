//! XOR end to end: gates, the single-neuron limit, and trained networks reaching 100%.

use tapegrad_e2e::scratch;
use tapegrad_examples::xor::{self, XOR, XorOptions};

#[test]
fn threshold_neurons_compose_into_xor() {
    let gates = xor::gates().unwrap();
    let table = |name: &str| gates.iter().find(|g| g.0.starts_with(name)).unwrap().1.clone();
    assert_eq!(table("x1 AND"), [0.0, 0.0, 0.0, 1.0]);
    assert_eq!(table("x1 OR"), [0.0, 1.0, 1.0, 1.0]);
    assert_eq!(table("NOT"), [1.0, 1.0, 1.0, 0.0]);
    assert_eq!(table("XOR"), XOR);
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
    let opts = XorOptions { out_dir: dir.clone(), log_every: 0, ..Default::default() };
    let mut out = Vec::new();
    let report = xor::run(&opts, &mut out).unwrap();
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
}

#[test]
fn xor_init_file_has_the_benchmark_shapes() {
    let [w1, b1, w2, b2] = xor::read_xor_init(&xor::xor_init_path()).unwrap();
    assert_eq!((w1.dims(), b1.dims(), w2.dims(), b2.dims()), (&[4, 2][..], &[4][..], &[1, 4][..], &[1][..]));
    assert_eq!(w1.data()[0], 0.27392337);
}
