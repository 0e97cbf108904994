//! `tapegrad-bench WORKLOAD THREADS`: runs one side-by-side workload (w1 w2 w3 w4 m1 c1 c2 c3 h1) with at
//! most THREADS threads and prints one JSON line with the keys `../shared/bench/compare.py` reads.
//!
//! The workloads, the data and the warm-up/repeat scheme follow the reference scripts (`torch_ref.py`,
//! `numpy_ref.py`) exactly; see `docs/performance.md` for the results.

mod cnn;
mod data;
mod engine;
mod hvp;
mod report;
mod training;

use std::process::ExitCode;

const USAGE: &str =
    "usage: tapegrad-bench WORKLOAD THREADS   (WORKLOAD one of w1 w2 w3 w4 m1 c1 c2 c3 h1, THREADS >= 1)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (workload, threads) = match args.as_slice() {
        [w, t] => match t.parse::<usize>() {
            Ok(t) if t >= 1 => (w.as_str(), t),
            _ => {
                eprintln!("tapegrad-bench: THREADS must be a positive integer, got {t:?}\n{USAGE}");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    // THREADS caps every pool the library uses: the GEMM's is the only one.
    tapegrad::set_num_threads(threads);
    use tapegrad::kernels::conv::winograd::{Policy, set_policy};
    match std::env::var("TAPEGRAD_WINOGRAD").as_deref() {
        Ok("never") => set_policy(Policy::Never),
        Ok("always") => set_policy(Policy::Always),
        _ => {}
    }
    let result = match workload {
        "w1" => training::w1(threads).map_err(|e| e.to_string()),
        "w2" => engine::w2(threads).map_err(|e| e.to_string()),
        "w3" => training::w3(threads).map_err(|e| e.to_string()),
        "w4" => training::w4(threads).map_err(|e| e.to_string()),
        "m1" => engine::m1(threads).map_err(|e| e.to_string()),
        "c1" => cnn::c1(threads).map_err(|e| e.to_string()),
        "c2" => cnn::c2(threads).map_err(|e| e.to_string()),
        "c3" => cnn::c3(threads).map_err(|e| e.to_string()),
        "h1" => hvp::h1(threads).map_err(|e| e.to_string()),
        other => Err(format!("unknown workload {other:?}\n{USAGE}")),
    };
    match result {
        Ok(fields) => {
            println!("{}", report::json_line(&fields));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tapegrad-bench {workload}: {e}");
            ExitCode::FAILURE
        }
    }
}
