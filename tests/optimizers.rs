//! The `optimizers` example with few iterations: it runs every method the README lists (full Newton and
//! iRProp- included), every one lowers the loss from the same start, the chart is written, `--help` works.

use clap::Parser;
use tapegrad_e2e::{is_png, scratch};

#[allow(dead_code)] // the example's `main`
#[path = "../examples/optimizers.rs"]
mod optimizers;

use optimizers::{Family, OptimizersArgs, run};

fn args(dir: &std::path::Path, flags: &[&str]) -> OptimizersArgs {
    let head = ["optimizers", "--out", dir.to_str().unwrap()];
    OptimizersArgs::try_parse_from(head.iter().chain(flags)).unwrap()
}

/// The method names in the README's row for the example: the list in parentheses.
fn readme_methods() -> Vec<String> {
    let readme = include_str!("../README.md");
    let row = readme
        .lines()
        .find(|l| l.trim_start().starts_with("| `optimizers` |"))
        .expect("the README has an optimizers row");
    let list = row.split_once('(').and_then(|(_, r)| r.split_once(')')).expect("a list in parentheses").0;
    list.split([',', ';']).map(|n| n.trim().to_string()).filter(|n| !n.is_empty()).collect()
}

#[test]
fn every_method_the_readme_lists_runs_from_the_same_start_and_lowers_the_loss() {
    let dir = scratch("optimizers");
    let mut out = Vec::new();
    let report = run(&args(&dir, &["--iters", "40"]), &mut out).unwrap();
    let names: Vec<&str> = report.runs.iter().map(|r| r.name).collect();
    let listed = readme_methods();
    assert!(listed.len() >= 18, "README lists {listed:?}");
    for name in &listed {
        assert!(names.contains(&name.as_str()), "README lists {name}, the example runs {names:?}");
    }
    assert_eq!(names.len(), listed.len(), "the example runs {names:?}, the README lists {listed:?}");
    for must in ["Newton", "iRProp-", "Newton-CG", "LM", "RProp"] {
        assert!(names.contains(&must), "{must} missing from {names:?}");
    }

    let start = report.runs[0].loss[0];
    for r in &report.runs {
        assert_eq!(r.loss[0], start, "{}: not the same start", r.name);
        assert!(r.loss.len() >= 2 && r.loss.len() <= 41, "{}: {} points", r.name, r.loss.len());
        assert!(*r.loss.last().unwrap() < start, "{}: loss {:?}", r.name, r.loss);
        assert!(r.time.iter().all(|t| *t > 0.0) && r.time.windows(2).all(|w| w[0] <= w[1]), "{}", r.name);
    }
    // Second-order methods get far further in 40 steps than plain gradient descent.
    let last = |n: &str| *report.runs.iter().find(|r| r.name == n).unwrap().loss.last().unwrap();
    for n in ["Newton", "Newton-CG", "LM", "L-BFGS"] {
        assert!(last(n) < last("SGD") / 10.0, "{n} {} vs SGD {}", last(n), last("SGD"));
    }
    let first_order = report.runs.iter().filter(|r| r.family == Family::FirstOrder).count();
    assert_eq!(first_order, 8);

    assert!(is_png(&dir.join("comparison.png")));
    let svg = std::fs::read_to_string(dir.join("comparison.svg")).unwrap();
    for name in &listed {
        assert!(svg.contains(&format!("\n{name}\n</text>")), "{name} missing from the chart's legend");
    }
    assert!(report.files.iter().all(|f| f.starts_with(&dir)), "{:?}", report.files);
    let text = String::from_utf8(out).unwrap();
    assert!(text.lines().any(|l| l.starts_with("iRProp- ")), "{text}");
}

#[test]
fn help_shows_relative_defaults_and_zero_iterations_write_nothing() {
    let help = OptimizersArgs::try_parse_from(["optimizers", "--help"]).unwrap_err();
    assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
    let text = help.to_string();
    assert!(text.contains("[default: out/optimizers]") && text.contains("[default: 200]"), "{text}");
    let dir = scratch("optimizers-bad").join("never");
    let err = run(&args(&dir, &["--iters", "0"]), &mut Vec::new()).unwrap_err().to_string();
    assert!(err.starts_with("--iters"), "{err}");
    assert!(!dir.exists());
}
