//! The lectures, shown: each subcommand demonstrates claims and formulas of the course with numbers a test
//! checks (`tests/lectures.rs`) and, where one helps, a picture. The table of which lecture item is shown by
//! which command and checked by which test is `docs/lectures.md`.
//!
//! `cargo run --release -p tapegrad-examples --example lectures -- neurons` runs one demonstration (each
//! takes seconds); `--help` lists them, `--out DIR` (default `out/lectures`) decides where pictures go,
//! `--epochs N` overrides the demonstration's number of training steps, `--seed S` its data and inits.
//!
//! The demonstrations live one file per lecture topic in `examples/lectures/`:
//! - `neurons`: activations and their derivatives, the stochastic binary neuron, a trainable PReLU slope,
//!   the bias as the weight of a constant input `x0 = -1`, a sign neuron classifying `+-1` labels;
//! - `logic`: XOR in the slide's form, the threshold network for any Boolean function, a deep linear network
//!   equal to one matrix;
//! - `margins`: a linear classifier trained with the perceptron, hinge and logistic margin losses;
//! - `regions`: decision regions of 1, 2 and 3 layers; universal approximation (error against width);
//! - `training`: vanishing gradients per layer, zero initialisation against He, momentum as a moving average;
//! - `losses`: `kl_div` against `sum p ln(p/q)`, a network trained with KL, the backprop cost against
//!   `mse`, l_p norms;
//! - `paths`: the optimizers' paths on a quadratic valley and on Rosenbrock;
//! - `depth`: MLPs of 1 to 6 layers on the digits;
//! - `history`: the error history of every optimizer on 2-D point clouds, with the decision regions;
//! - `construct`: growing a hidden layer when the running loss stabilises, pruning the smallest weights.

use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use tapegrad_examples::error::{Result, prepare_out_dir};

#[path = "lectures/construct.rs"]
pub mod construct;
#[path = "lectures/depth.rs"]
pub mod depth;
#[path = "lectures/history.rs"]
pub mod history;
#[path = "lectures/logic.rs"]
pub mod logic;
#[path = "lectures/losses.rs"]
pub mod losses;
#[path = "lectures/margins.rs"]
pub mod margins;
#[path = "lectures/neurons.rs"]
pub mod neurons;
#[path = "lectures/paths.rs"]
pub mod paths;
#[path = "lectures/regions.rs"]
pub mod regions;
#[path = "lectures/training.rs"]
pub mod training;
#[path = "lectures/util.rs"]
pub mod util;

/// The command line.
#[derive(Debug, Clone, Parser)]
#[command(name = "lectures", about = "The lectures' claims and formulas, each shown with numbers and a picture")]
pub struct LecturesArgs {
    /// The demonstration to run.
    #[command(subcommand)]
    pub demo: Demo,
    /// Folder for the pictures.
    #[arg(long, global = true, default_value = "out/lectures")]
    pub out: PathBuf,
    /// Seed of the data and the initialisations.
    #[arg(long, global = true, default_value_t = 0)]
    pub seed: u64,
    /// Training steps (epochs) of the demonstration; each has its own small default.
    #[arg(long, global = true)]
    pub epochs: Option<usize>,
}

/// One demonstration per lecture topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum Demo {
    /// Activations and derivatives, stochastic neuron, PReLU, bias as weight of x0 = -1, sign neuron.
    Neurons,
    /// XOR as on the slide, any Boolean function in two layers, deep linear = one matrix.
    Logic,
    /// Linear classifier with the perceptron, hinge and logistic margin losses.
    Margins,
    /// Decision regions of 1, 2, 3 layers; universal approximation error against width.
    Regions,
    /// Vanishing gradients, zero initialisation, momentum as a moving average.
    Training,
    /// KL divergence, a net trained with KL, the backprop cost, l_p norms.
    Losses,
    /// Optimizer paths on a quadratic valley and on Rosenbrock.
    Paths,
    /// MLPs of 1 to 6 layers on the digits: two or three suffice.
    Depth,
    /// Growing a hidden layer when Q stabilises; pruning the smallest weights.
    Construct,
    /// The error history of every optimizer on 2-D point clouds, with the final decision regions.
    History,
}

/// The options every demonstration takes.
#[derive(Debug, Clone)]
pub struct Opts {
    /// Folder for the pictures.
    pub out: PathBuf,
    /// Seed of the data and the initialisations.
    pub seed: u64,
    /// Training steps, `None` for the demonstration's default.
    pub epochs: Option<usize>,
}

#[allow(dead_code)] // the tests call the demonstrations directly
fn main() -> std::process::ExitCode {
    tapegrad_examples::error::report(run(&LecturesArgs::parse(), &mut std::io::stdout()))
}

/// Runs the chosen demonstration: prints its numbers as `name=value` lines and writes its pictures.
///
/// # Errors
/// An output folder that cannot be written; engine, training and drawing errors; a demonstration's check
/// on itself that fails.
pub fn run(args: &LecturesArgs, out: &mut dyn Write) -> Result<()> {
    prepare_out_dir(&args.out)?;
    let o = Opts { out: args.out.clone(), seed: args.seed, epochs: args.epochs };
    match args.demo {
        Demo::Neurons => neurons::run(&o, out).map(|_| ()),
        Demo::Logic => logic::run(&o, out).map(|_| ()),
        Demo::Margins => margins::run(&o, out).map(|_| ()),
        Demo::Regions => regions::run(&o, out).map(|_| ()),
        Demo::Training => training::run(&o, out).map(|_| ()),
        Demo::Losses => losses::run(&o, out).map(|_| ()),
        Demo::Paths => paths::run(&o, out).map(|_| ()),
        Demo::Depth => depth::run(&o, out).map(|_| ()),
        Demo::Construct => construct::run(&o, out).map(|_| ()),
        Demo::History => history::run(&o, out).map(|_| ()),
    }
}
