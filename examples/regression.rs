//! See the module docs of `tapegrad_examples::regression`.
//!
//! `cargo run --release -p tapegrad-examples --example regression`

fn main() -> std::process::ExitCode {
    tapegrad_examples::error::report(run())
}

fn run() -> tapegrad_examples::Result<()> {
    let opts = tapegrad_examples::regression::RegressionOptions::default();
    tapegrad_examples::regression::run(&opts, &mut std::io::stdout())?;
    Ok(())
}
