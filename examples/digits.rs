//! Digits, the main job: an MLP 64-128-64-10 learns the 8x8 handwritten digits.
//!
//! `cargo run --release -p tapegrad-examples --example digits` trains with the defaults and writes curves,
//! weight tiles, misclassified digits and the model into `out/digits/`; `--help` lists the flags.
//! `cargo run --release -p tapegrad-examples --example digits -- predict` predicts with the saved model.

use clap::Parser;
use tapegrad_examples::digits::{self, Command, DigitsArgs};

fn main() -> std::process::ExitCode {
    tapegrad_examples::error::report(run())
}

fn run() -> tapegrad_examples::Result<()> {
    let args = DigitsArgs::parse();
    let mut out = std::io::stdout();
    match &args.command {
        Some(Command::Predict(p)) => {
            digits::predict(p, &mut out)?;
        }
        None => {
            digits::train(&args.train, &mut out)?;
        }
    }
    Ok(())
}
