//! The `lectures` example end to end: every demonstration runs with its (small) defaults or fewer epochs,
//! and the numbers it prints are the lecture's claims; every command `docs/lectures.md` lists parses.

use clap::Parser;
use tapegrad_e2e::{is_png, scratch};
use tapegrad_examples::plot;

#[allow(dead_code)] // the example's `main`
#[path = "../examples/lectures.rs"]
mod lectures;

use lectures::{LecturesArgs, Opts};

fn opts(name: &str, epochs: Option<usize>) -> Opts {
    Opts { out: scratch(name), seed: 0, epochs }
}

fn text(buf: Vec<u8>) -> String {
    String::from_utf8(buf).unwrap()
}

#[test]
fn neurons_show_derivatives_the_stochastic_neuron_prelu_the_bias_input_and_the_sign_neuron() {
    let o = opts("lectures-neurons", None);
    let mut out = Vec::new();
    let r = lectures::neurons::run(&o, &mut out).unwrap();
    assert!(r.max_derivative_error < 1e-6, "tape vs central differences: {}", r.max_derivative_error);
    let at = |n: &str| r.at_points.iter().find(|p| p.0 == n).cloned().unwrap();
    assert_eq!(at("step").1, 0.0, "step fires only for t > 0");
    assert_eq!(at("threshold(t>=0)").1, 1.0, "the slides' neuron fires at t = 0");
    assert!((at("sigmoid").2 - 0.25f64.min(1.0f64.exp() / (1.0 + 1.0f64.exp()).powi(2))).abs() < 1e-12);
    assert!((at("tanh").2 - (1.0 - 1.0f64.tanh().powi(2))).abs() < 1e-12);
    for (s, p, freq) in &r.stochastic {
        // 20000 draws: standard error <= 0.0036; 5 of them is 0.018.
        assert!((freq - p).abs() < 0.018, "s = {s}: sigmoid {p}, measured {freq}");
    }
    assert!((r.prelu_slope.1 - r.prelu_slope.0).abs() < 1e-6, "PReLU slope {:?}", r.prelu_slope);
    assert!(r.bias_as_weight_diff.0 < 1e-14 && r.bias_as_weight_diff.1 < 1e-14, "{:?}", r.bias_as_weight_diff);
    assert_eq!(r.sign_neuron.0, 1.0, "separable clouds: the perceptron rule classifies all");
    let t = text(out);
    assert!(t.contains("threshold(t>=0): f(0)=1") && t.contains("step: f(0)=0"), "{t}");
    assert!(t.contains("sign_neuron_accuracy=1.0000"), "{t}");
    for png in ["activations.png", "sign_neuron.png"] {
        assert!(is_png(&o.out.join(png)), "{png}");
    }
}

#[test]
fn logic_builds_xor_as_on_the_slide_every_boolean_function_and_collapses_linear_layers() {
    let o = opts("lectures-logic", None);
    let mut out = Vec::new();
    let r = lectures::logic::run(&o, &mut out).unwrap();
    assert_eq!(r.xor_outputs, vec![0.0, 1.0, 1.0, 0.0]);
    assert_eq!(r.boolean_functions_exact, 256);
    assert_eq!(r.max_hidden, 8);
    assert!(r.linear_collapse_diff < 1e-12, "deep linear vs one matrix: {}", r.linear_collapse_diff);
    assert_eq!(r.product.0.len(), 6);
    assert!(r.product.0.iter().any(|v| v.abs() > 0.1), "a non-trivial product {:?}", r.product.0);
    let t = text(out);
    assert!(t.contains("boolean_functions_exact=256/256") && t.contains("xor(1, 1)=0"), "{t}");
    assert!(t.contains("product_W=["), "{t}");
    assert!(is_png(&o.out.join("xor.png")));
}

#[test]
fn margin_losses_train_a_linear_classifier() {
    let o = opts("lectures-margins", Some(150));
    let mut out = Vec::new();
    let runs = lectures::margins::run(&o, &mut out).unwrap();
    assert_eq!(runs.len(), 3);
    for r in &runs {
        assert!(r.accuracy >= 0.97, "{}: accuracy {}", r.loss, r.accuracy);
        assert!(r.loss_first_last.1 < r.loss_first_last.0 / 5.0, "{}: {:?}", r.loss, r.loss_first_last);
    }
    // The hinge loss pushes the points it gets right beyond margin 1: ||w|| grows well past the start.
    let hinge = &runs[1];
    assert!(hinge.line.0.hypot(hinge.line.1) > 1.0, "{:?}", hinge.line);
    assert!(text(out).contains("hinge: accuracy="));
    assert!(is_png(&o.out.join("margins.png")));
}

#[test]
fn regions_need_one_two_three_layers_and_wider_nets_approximate_better() {
    let o = opts("lectures-regions", Some(1500));
    let mut out = Vec::new();
    let r = lectures::regions::run(&o, &mut out).unwrap();
    let layers: Vec<usize> = r.regions.iter().map(|g| g.1).collect();
    assert_eq!(layers, vec![1, 2, 3, 3]);
    for (name, _, agree, inside) in &r.regions {
        assert_eq!(*agree, 1.0, "{name}: the network disagrees with the geometry");
        assert!(*inside > 0.05 && *inside < 0.95, "{name}: a region that is all or nothing ({inside})");
    }
    let err = |w: usize| r.approximation.iter().find(|a| a.0 == w).unwrap().1;
    assert!(err(1) > 0.4, "one tanh unit cannot follow sin(2x): {}", err(1));
    assert!(err(16) < err(1) / 4.0 && err(16) < err(2), "{:?}", r.approximation);
    assert!(is_png(&o.out.join("decision_regions.png")) && is_png(&o.out.join("universal_approximation.png")));
}

#[test]
fn training_shows_vanishing_gradients_zero_init_symmetry_and_momentum_averaging() {
    let o = opts("lectures-training", Some(400));
    let mut out = Vec::new();
    let r = lectures::training::run(&o, &mut out).unwrap();
    let ratio = |n: &str| {
        let g = &r.layer_grads.iter().find(|c| c.0 == n).unwrap().1;
        g[0] / g[9]
    };
    assert!(ratio("sigmoid, U(-0.1, 0.1)") < 1e-6, "sigmoid gradients vanish towards the input");
    assert!(ratio("sigmoid, Xavier") < 1e-3, "Xavier does not save a 10-layer sigmoid net");
    assert!(ratio("relu, He") > 1e-2, "relu with He keeps them: {}", ratio("relu, He"));
    for (name, loss, spread) in &r.init_runs {
        if name.ends_with("zeros") {
            assert_eq!(*spread, 0.0, "{name}: hidden units stayed identical");
            assert!(*loss > 0.2, "{name}: XOR is not learned ({loss})");
        } else {
            assert!(*spread > 0.1 && *loss < 0.05, "{name}: loss {loss}, spread {spread}");
        }
    }
    for (gamma, steps, horizon) in &r.momentum {
        assert!((*steps as f64 - horizon).abs() <= 0.1 * horizon, "gamma {gamma}: {steps} vs {horizon}");
    }
    assert!(is_png(&o.out.join("vanishing_gradients.png")) && is_png(&o.out.join("momentum.png")));
}

#[test]
fn losses_match_their_definitions_and_kl_trains_a_classifier() {
    let o = opts("lectures-losses", None);
    let mut out = Vec::new();
    let r = lectures::losses::run(&o, &mut out).unwrap();
    assert!((r.kl.0 - r.kl.1).abs() < 1e-12 && r.kl.0 > 0.1, "{:?}", r.kl);
    let (first, last, acc) = r.kl_training;
    assert!(last < first / 10.0 && acc > 0.95, "{:?}", r.kl_training);
    let (c, m, k) = r.cost_vs_mse;
    assert!((c - k as f64 / 2.0 * m).abs() < 1e-12, "C = K/2 mse: {c} vs {m}");
    for (p, v, want) in &r.norms {
        assert!((v - want).abs() < 1e-12, "p = {p}: {v} vs {want}");
    }
    assert!(text(out).contains("lp_norm(p=0.5)="));
}

#[test]
fn every_command_in_the_lectures_table_parses_and_help_lists_the_demos() {
    let table = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/lectures.md")).unwrap();
    let mut seen = 0;
    for cmd in table.split('`').filter(|s| s.starts_with("lectures ")) {
        // Cargo passes what follows `--` to the example.
        let argv: Vec<&str> = cmd.split_whitespace().filter(|a| *a != "--").collect();
        LecturesArgs::try_parse_from(&argv).unwrap_or_else(|e| panic!("{cmd}: {e}"));
        seen += 1;
    }
    assert!(seen >= 6, "docs/lectures.md lists only {seen} commands");
    let help = LecturesArgs::try_parse_from(["lectures", "--help"]).unwrap_err().to_string();
    for demo in [
        "neurons",
        "logic",
        "margins",
        "regions",
        "training",
        "losses",
        "paths",
        "depth",
        "construct",
        "--out",
        "--epochs",
    ] {
        assert!(help.contains(demo), "--help lacks {demo}:\n{help}");
    }
    assert!(LecturesArgs::try_parse_from(["lectures", "nonsense"]).is_err());
}

#[test]
fn optimizer_paths_show_second_order_methods_taking_the_shortcut() {
    let o = opts("lectures-paths", None);
    let mut out = Vec::new();
    let runs = lectures::paths::run(&o, &mut out).unwrap();
    assert_eq!(runs.len(), 22, "11 methods on 2 surfaces");
    let get = |s: &str, m: &str| runs.iter().find(|r| r.surface == s && r.method == m).unwrap();
    // A 2-D quadratic: Newton in one step, CG in two (n conjugate directions).
    assert_eq!(get("valley", "newton").path.len(), 2);
    assert!(get("valley", "newton").final_loss < 1e-20);
    assert!(get("valley", "cg-pr+").path.len() <= 3 && get("valley", "cg-pr+").final_loss < 1e-20);
    for r in &runs {
        let start = if r.surface == "valley" { 19.25 } else { 24.2 };
        assert!(r.final_loss < start, "{} on {}: {}", r.method, r.surface, r.final_loss);
    }
    for m in ["cg-pr+", "bfgs", "newton"] {
        let r = get("rosenbrock", m);
        assert!(r.final_loss < 1e-12 && r.path.len() < 100, "{m}: f {} after {}", r.final_loss, r.path.len());
    }
    for m in ["gd", "momentum 0.9", "nesterov 0.9", "adagrad", "adadelta", "adam", "rprop"] {
        let r = get("rosenbrock", m);
        assert!(r.final_loss > 1e-2, "{m} should still be crawling along the valley after 300 steps: {}", r.final_loss);
    }
    let t = text(out);
    assert!(t.contains("valley: newton: steps=1"), "{t}");
    for png in ["optimizer_paths_valley.png", "optimizer_paths_rosenbrock.png"] {
        assert!(is_png(&o.out.join(png)), "{png}");
    }
    for surface in ["valley", "rosenbrock"] {
        let segments = t
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{surface}: contour segments=")))
            .and_then(|n| n.trim().parse::<usize>().ok());
        assert!(segments.is_some_and(|n| n > 500), "{surface}: contour lines drawn: {t}");
    }
}

#[test]
fn contour_lines_trace_the_level_sets() {
    // f = x^2 + y^2 sampled on a 60 x 60 grid over [-2, 2]^2: the level r^2 is the circle of radius r.
    let (res, ext) = (60, (-2.0, 2.0, -2.0, 2.0));
    let at = |k: usize| -2.0 + (k as f64 + 0.5) * 4.0 / res as f64;
    let f: Vec<f64> = (0..res * res).map(|k| at(k % res).powi(2) + at(k / res).powi(2)).collect();
    let radii = [0.5, 1.0, 1.7];
    let levels: Vec<f64> = radii.iter().map(|r| r * r).collect();
    let lines = plot::contour_lines(&f, res, ext, &levels);
    let mut length = [0.0; 3];
    for l in &lines {
        assert_eq!(l.len(), 2, "segments");
        let r = |p: (f64, f64)| p.0.hypot(p.1);
        // The ends lie on the circle up to the linear interpolation's error (grid step 1/15).
        let k = radii.iter().position(|&c| (r(l[0]) - c).abs() < 0.01).expect("an end on one of the circles");
        assert!((r(l[1]) - radii[k]).abs() < 0.01, "{l:?}");
        length[k] += (l[1].0 - l[0].0).hypot(l[1].1 - l[0].1);
    }
    for (k, c) in radii.iter().enumerate() {
        let circumference = 2.0 * std::f64::consts::PI * c;
        assert!((length[k] / circumference - 1.0).abs() < 0.01, "r = {c}: length {} vs {circumference}", length[k]);
    }
    // A level outside the range, a NaN grid and a wrong-sized grid give no lines.
    assert!(plot::contour_lines(&f, res, ext, &[100.0]).is_empty());
    assert!(plot::contour_lines(&vec![f64::NAN; res * res], res, ext, &[1.0]).is_empty());
    assert!(plot::contour_lines(&f[1..], res, ext, &[1.0]).is_empty());
}

#[test]
fn depth_on_the_digits_two_or_three_layers_suffice() {
    let o = opts("lectures-depth", None);
    let mut out = Vec::new();
    let r = lectures::depth::run(&o, &mut out).unwrap();
    let acc = |l: usize| r.iter().find(|d| d.0 == l).unwrap().1;
    assert!(acc(2) >= 0.96 && acc(2) > acc(1) + 0.01, "a hidden layer helps: {r:?}");
    let shallow = acc(2).max(acc(3));
    assert!(acc(4).max(acc(6)) <= shallow + 0.01, "more layers do not help: {r:?}");
    assert!(text(out).contains("layers=6: test accuracy="));
}

#[test]
fn construct_grows_units_when_q_stabilises_and_prunes_small_weights() {
    let o = opts("lectures-construct", None);
    let mut out = Vec::new();
    let r = lectures::construct::run(&o, &mut out).unwrap();
    assert!(r.growths.len() >= 2, "{:?}", r.growths);
    for (i, (step, h, before, after)) in r.growths.iter().enumerate() {
        assert_eq!(*h, i + 2, "one unit at a time");
        assert!((before - after).abs() < 1e-12, "step {step}: a new unit with outgoing weight 0 changes nothing");
    }
    let (plateau, last) = r.grow_loss;
    assert!(last < plateau / 100.0, "growing beats the first plateau: {plateau} -> {last}");
    let acc = |f: f64| r.pruning.iter().find(|p| p.0 == f).unwrap().1;
    assert!(acc(0.0) >= 0.96, "{:?}", r.pruning);
    assert!(acc(0.5) >= acc(0.0) - 0.05, "half the weights pruned cost little: {:?}", r.pruning);
    assert!(acc(0.99) < 0.5, "pruning almost all destroys the net: {:?}", r.pruning);
    let (xavier, linear) = r.linear_init[0];
    assert!(linear > 0.9 && linear > xavier + 0.5, "linear-model init starts trained: {:?}", r.linear_init);
    let (xavier, linear) = *r.linear_init.last().unwrap();
    assert!(linear > xavier, "and stays ahead after 3 epochs: {:?}", r.linear_init);
    assert!(text(out).contains("pruned 50%: test accuracy="));
}

#[test]
fn error_history_of_every_optimizer_on_point_clouds() {
    let o = opts("lectures-history", None);
    let mut out = Vec::new();
    let runs = lectures::history::run(&o, &mut out).unwrap();
    assert_eq!(runs.len(), 11);
    for r in &runs {
        let (first, last) = (r.losses[0], *r.losses.last().unwrap());
        assert!(last < first / 5.0 && r.accuracy >= 0.98, "{}: {first} -> {last}, accuracy {}", r.method, r.accuracy);
    }
    let last = |m: &str| *runs.iter().find(|r| r.method == m).unwrap().losses.last().unwrap();
    let best_first_order = runs[..7].iter().map(|r| *r.losses.last().unwrap()).fold(f64::INFINITY, f64::min);
    assert!(last("bfgs") < best_first_order / 100.0 && last("cg-pr+") < best_first_order / 100.0);
    assert!(text(out).contains("newton: accuracy="));
    for png in ["error_history.png", "error_history_regions.png"] {
        assert!(is_png(&o.out.join(png)), "{png}");
    }
}
