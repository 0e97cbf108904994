//! See the module docs of `tapegrad_examples::regression`.
//!
//! `cargo run --release -p tapegrad-examples --example regression`

fn main() -> Result<(), tapegrad_examples::Error> {
    let opts = tapegrad_examples::regression::RegressionOptions::default();
    tapegrad_examples::regression::run(&opts, &mut std::io::stdout())?;
    Ok(())
}
