//! XOR: logic-gate neurons on the tape, why one neuron cannot do XOR, and trained 2-2-1 / 2-4-1 networks.
//!
//! `cargo run --release -p tapegrad-examples --example xor` writes the trained graphs to `out/xor/`.

fn main() -> std::process::ExitCode {
    tapegrad_examples::error::report(run())
}

fn run() -> tapegrad_examples::Result<()> {
    let opts = tapegrad_examples::xor::XorOptions::default();
    tapegrad_examples::xor::run(&opts, &mut std::io::stdout())?;
    Ok(())
}
