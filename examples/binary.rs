//! See the module docs of `tapegrad_examples::binary`.
//!
//! `cargo run --release -p tapegrad-examples --example binary`

fn main() -> std::process::ExitCode {
    tapegrad_examples::error::report(run())
}

fn run() -> tapegrad_examples::Result<()> {
    let opts = tapegrad_examples::binary::BinaryOptions::default();
    tapegrad_examples::binary::run(&opts, &mut std::io::stdout())?;
    Ok(())
}
