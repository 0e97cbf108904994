//! The backprop walkthrough: the lecture's deltas by hand next to the tape's gradients.
//!
//! `cargo run --release -p tapegrad-examples --example backprop`

fn main() -> std::process::ExitCode {
    tapegrad_examples::error::report(run())
}

fn run() -> tapegrad_examples::Result<()> {
    let report = tapegrad_examples::backprop::run(0, &mut std::io::stdout())?;
    println!("hand and tape agree: max difference {:.1e}", report.max_diff);
    Ok(())
}
