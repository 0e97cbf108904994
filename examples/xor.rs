//! XOR: the lecture's logic-gate neurons on the tape, why one neuron cannot do XOR, the extra feature
//! `x1 x2`, and trained 2-2-1 and 2-4-1 networks.
//!
//! `cargo run --release -p tapegrad-examples --example xor` prints every step and writes the graphs of the
//! trained networks into `out/xor/` (DOT, and SVG when Graphviz is installed); `--help` lists the flags.
//!
//! A threshold neuron is `step(w . x + b)` (1 when `w . x + b > 0`). With the lecture's weights
//! AND = `[x1 + x2 - 1.5 > 0]`, OR = `[x1 + x2 - 0.5 > 0]`, NOT x1 = `[-x1 + 0.5 > 0]`, and XOR is the
//! slide's two-layer network `[(x1 OR x2) - (x1 AND x2) - 1/2 > 0]`: a hidden layer of two neurons (OR, AND)
//! and one output neuron.

use clap::Parser;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::io::Write;
use std::path::{Path, PathBuf};
use tapegrad::{DotOptions, Param, Tape, Tensor, Var};
use tapegrad_examples::error::{Error, Result, io_err, prepare_out_dir};
use tapegrad_nn::Module;
use tapegrad_nn::layers::{Activation, Mlp};
use tapegrad_nn::optim::{Optimizer, Sgd, SgdConfig};

/// The command line.
#[derive(Debug, Clone, Parser)]
#[command(name = "xor", about = "Logic-gate neurons, why one neuron cannot do XOR, and trained XOR networks")]
pub struct XorArgs {
    /// Full-batch gradient-descent steps for each trained network.
    #[arg(long, default_value_t = 2000)]
    pub steps: usize,
    /// Seed of the 2-2-1 network's initialisation (the 2-4-1 starts from the bundled `data/xor_init.txt`).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print the loss every this many steps (0: only the last).
    #[arg(long, default_value_t = 250)]
    pub log_every: usize,
    /// Folder for the graphs (created if missing).
    #[arg(long, default_value = "out/xor")]
    pub out: PathBuf,
}

/// The four points, one per row: (0,0), (0,1), (1,0), (1,1).
pub const POINTS: [[f64; 2]; 4] = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
/// XOR of each point.
pub const XOR: [f64; 4] = [0.0, 1.0, 1.0, 0.0];

/// One trained network.
#[derive(Debug, Clone)]
pub struct Trained {
    /// `2-2-1` or `2-4-1`.
    pub name: String,
    /// Mean squared error after the last step.
    pub final_loss: f64,
    /// Fraction of the four points classified right (output > 0.5 means 1).
    pub accuracy: f64,
    /// The network's outputs on the four points.
    pub outputs: Vec<f64>,
}

/// What a run found (the tests read it).
#[derive(Debug, Clone)]
pub struct XorReport {
    /// Truth tables (outputs on the four points) of AND, OR, NOT x1 and the two-layer XOR.
    pub gates: Vec<(String, Vec<f64>)>,
    /// Most points any single threshold neuron of the weight grid gets right (3: never all four).
    pub best_single_neuron: usize,
    /// Outputs of the one neuron on `(x1, x2, x1 x2)`.
    pub with_product_feature: Vec<f64>,
    /// The trained networks.
    pub trained: Vec<Trained>,
    /// Files written (DOT, and SVG when Graphviz is installed).
    pub files: Vec<PathBuf>,
}

fn main() -> std::process::ExitCode {
    tapegrad_examples::error::report(run(&XorArgs::parse(), &mut std::io::stdout()).map(|_| ()))
}

/// The whole example: gates, the single-neuron search, the product feature, two trained networks, graphs.
///
/// # Errors
/// `--steps 0`; [`Error::Check`] when a result contradicts the lecture (a gate's truth table, a single
/// neuron solving XOR); engine, `nn` and file errors.
pub fn run(args: &XorArgs, out: &mut dyn Write) -> Result<XorReport> {
    if args.steps == 0 {
        return Err(Error::Input { what: "--steps".into(), msg: "must be at least 1".into() });
    }
    prepare_out_dir(&args.out)?;
    let mut say = |msg: String| writeln!(out, "{msg}").map_err(io_err("stdout"));

    // 1. Gates from threshold neurons, and XOR as two layers of them.
    say("Threshold neurons on the four points (0,0) (0,1) (1,0) (1,1):".into())?;
    let gates = gates()?;
    for (name, table) in &gates {
        say(format!("  {name:<34} {table:?}"))?;
    }
    if gates.last().map(|g| g.1.as_slice()) != Some(XOR.as_slice()) {
        return Err(Error::Check("the two-layer network does not give XOR".into()));
    }

    // 2. No single neuron does it.
    let best = best_single_neuron()?;
    say(format!("\nOne neuron step(w1 x1 + w2 x2 + b), all 41^3 weights on [-2, 2]: at best {best} of 4 right."))?;
    say("  Why: (0,0)->0 needs b <= 0; (1,0)->1 and (0,1)->1 need w1 + b > 0 and w2 + b > 0;".into())?;
    say("  adding these, w1 + w2 + b > -b >= 0, so (1,1) gives 1, not 0. No line separates XOR.".into())?;
    if best >= 4 {
        return Err(Error::Check("a single threshold neuron solved XOR".into()));
    }

    // 3. Unless it gets the product x1 x2 as a third input.
    let product = with_product_feature()?;
    say(format!("\nOne neuron on (x1, x2, x1 x2): step(x1 + x2 - 2 x1 x2 - 0.5) = {product:?}"))?;

    // 4. Learning XOR: smooth activations, so gradients flow.
    say("\nTrained networks (tanh hidden, sigmoid output, MSE, full-batch gradient descent lr 0.5):".into())?;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut small = Mlp::new(&[2, 2, 1], Activation::Tanh, Activation::Sigmoid, &mut rng)?;
    let mut wide = Mlp::new(&[2, 4, 1], Activation::Tanh, Activation::Sigmoid, &mut rng)?;
    for ((_, p), t) in wide.params_mut().into_iter().zip(read_xor_init(&xor_init_path())?) {
        p.set(t); // the side-by-side benchmark's start, so its final loss can be compared with PyTorch's
    }
    let trained = vec![train("2-2-1", &mut small, args, &mut say)?, train("2-4-1", &mut wide, args, &mut say)?];
    for t in &trained {
        say(format!("  {}: accuracy {:.0}%, final loss {:.6}", t.name, 100.0 * t.accuracy, t.final_loss))?;
    }

    // 5. The graphs of the trained networks' losses, with values and gradients.
    let mut files = write_graph(&small, &args.out, "xor_2_2_1")?;
    files.extend(write_graph(&wide, &args.out, "xor_2_4_1")?);
    for f in &files {
        say(format!("wrote {}", f.display()))?;
    }
    Ok(XorReport { gates, best_single_neuron: best, with_product_feature: product, trained, files })
}

/// A layer of threshold neurons with fixed weights `w` (`[out, in]`, row-major) and biases `b`:
/// `step(x W^T + b)`.
fn threshold<'t>(tape: &'t Tape<f64>, x: Var<'t, f64>, w: &[f64], b: &[f64]) -> Result<Var<'t, f64>> {
    let inputs = x.shape().dims()[1];
    let w = tape.constant(Tensor::from_vec(w.to_vec(), [b.len(), inputs])?);
    let b = tape.constant(Tensor::from_vec(b.to_vec(), [b.len()])?);
    Ok(x.linear(w, Some(b))?.step())
}

/// The four points as a `[4, 2]` input.
fn points(tape: &Tape<f64>) -> Result<Var<'_, f64>> {
    Ok(tape.input(Tensor::from_vec(POINTS.concat(), [4, 2])?))
}

/// AND, OR and NOT as single threshold neurons, and XOR as the slide's two-layer network: a hidden layer
/// `h = [OR, AND]` (one `linear` with two rows of weights) and the output `step(h1 - h2 - 1/2)`. Returns
/// the truth tables.
///
/// # Errors
/// Engine errors (none for these fixed shapes).
pub fn gates() -> Result<Vec<(String, Vec<f64>)>> {
    let tape = Tape::new();
    let x = points(&tape)?;
    let and = threshold(&tape, x, &[1.0, 1.0], &[-1.5])?;
    let or = threshold(&tape, x, &[1.0, 1.0], &[-0.5])?;
    let not_x1 = threshold(&tape, x, &[-1.0, 0.0], &[0.5])?;
    let hidden = threshold(&tape, x, &[1.0, 1.0, 1.0, 1.0], &[-0.5, -1.5])?; // [OR, AND]
    let xor = threshold(&tape, hidden, &[1.0, -1.0], &[-0.5])?;
    Ok(vec![
        ("x1 AND x2".into(), and.value().to_vec()),
        ("x1 OR x2".into(), or.value().to_vec()),
        ("NOT x1".into(), not_x1.value().to_vec()),
        ("XOR = [(x1 OR x2) - (x1 AND x2) - 1/2 > 0]".into(), xor.value().to_vec()),
    ])
}

/// Tries every single threshold neuron with `w1, w2, b` on a grid over `[-2, 2]` (step 0.1) at once, as one
/// `[4, 3] x [3, K]` product on the tape; returns the most points any of them gets right.
///
/// # Errors
/// Engine errors (none for these fixed shapes).
pub fn best_single_neuron() -> Result<usize> {
    let grid: Vec<f64> = (-20..=20).map(|i| f64::from(i) / 10.0).collect();
    let mut w = Vec::new();
    for &w1 in &grid {
        for &w2 in &grid {
            for &b in &grid {
                w.extend([w1, w2, b]);
            }
        }
    }
    let k = w.len() / 3;
    let tape = Tape::new();
    let with_one: Vec<f64> = POINTS.iter().flat_map(|p| [p[0], p[1], 1.0]).collect(); // the bias as a weight
    let x = tape.input(Tensor::from_vec(with_one, [4, 3])?);
    let w = tape.constant(Tensor::from_vec(w, [k, 3])?);
    let out = x.matmul_t(w, false, true)?.step().value();
    let best = (0..k).map(|j| (0..4).filter(|&i| out.data()[i * k + j] == XOR[i]).count()).max();
    Ok(best.unwrap_or(0))
}

/// The lecture's other way out: one neuron on `(x1, x2, x1 x2)`, `step(x1 + x2 - 2 x1 x2 - 0.5)`.
///
/// # Errors
/// Engine errors (none for these fixed shapes).
pub fn with_product_feature() -> Result<Vec<f64>> {
    let tape = Tape::new();
    let x = points(&tape)?;
    let (x1, x2) = (x.narrow(1, 0, 1)?, x.narrow(1, 1, 1)?);
    let features = tapegrad::concat(&[x1, x2, x1 * x2], 1)?;
    Ok(threshold(&tape, features, &[1.0, 1.0, -2.0], &[-0.5])?.value().to_vec())
}

/// Mean squared error of `net` on the four points, recorded on `tape`; returns the outputs and the loss.
fn xor_loss<'t>(tape: &'t Tape<f64>, net: &Mlp<f64>) -> Result<(Var<'t, f64>, Var<'t, f64>)> {
    let x = points(tape)?;
    let y = tape.input(Tensor::from_vec(XOR.to_vec(), [4, 1])?);
    let out = net.forward(tape, x)?;
    Ok((out, out.mse(y)?))
}

/// Full-batch gradient descent (the benchmark's: MSE, lr 0.5) for `--steps` steps, printing the loss.
fn train(name: &str, net: &mut Mlp<f64>, args: &XorArgs, say: &mut dyn FnMut(String) -> Result<()>) -> Result<Trained> {
    let mut opt = Sgd::new(SgdConfig { lr: 0.5, ..Default::default() })?;
    for step in 0..args.steps {
        let grads = {
            let tape = Tape::new();
            let (_, loss) = xor_loss(&tape, net)?;
            if args.log_every > 0 && step % args.log_every == 0 {
                say(format!("  {name} step {step:>5}  loss {:.6}", loss.item()?))?;
            }
            loss.backward()?
        }; // the tape is dropped here, so the step updates the weights in place
        let mut params: Vec<&mut Param<f64>> = net.params_mut().into_iter().map(|(_, p)| p).collect();
        opt.step(&mut params, &grads)?;
    }
    let tape = Tape::new();
    let (y, loss) = xor_loss(&tape, net)?;
    let outputs = y.value().to_vec();
    let right = outputs.iter().zip(XOR).filter(|&(&o, t)| f64::from(u8::from(o > 0.5)) == t).count();
    let final_loss = loss.item()?;
    say(format!("  {name} step {:>5}  loss {final_loss:.6}  outputs {outputs:.3?}", args.steps))?;
    Ok(Trained { name: name.into(), final_loss, accuracy: right as f64 / 4.0, outputs })
}

/// The benchmark's initial 2-4-1 weights, bundled as `data/xor_init.txt`.
pub fn xor_init_path() -> PathBuf {
    tapegrad_examples::data_file("xor_init.txt")
}

/// Reads `xor_init.txt`: four lines `W1` (4x2, `[out][in]`), `b1` (4), `W2` (1x4), `b2` (1).
///
/// # Errors
/// [`Error::Io`] when unreadable; [`Error::Input`] naming line and column for a bad number or count.
pub fn read_xor_init(path: &Path) -> Result<[Tensor<f64>; 4]> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#')) {
        let mut row = Vec::new();
        for (j, field) in line.split_whitespace().enumerate() {
            row.push(field.parse::<f64>().map_err(|e| Error::Input {
                what: format!("{}:{}:{}", path.display(), i + 1, j + 1),
                msg: format!("{e}: {field:?}"),
            })?);
        }
        rows.push(row);
    }
    if rows.len() != 4 {
        return Err(Error::Input { what: path.display().to_string(), msg: format!("{} rows, expected 4", rows.len()) });
    }
    let shapes: [&[usize]; 4] = [&[4, 2], &[4], &[1, 4], &[1]];
    let mut out = Vec::new();
    for (row, shape) in rows.into_iter().zip(shapes) {
        out.push(
            Tensor::from_vec(row, shape)
                .map_err(|e| Error::Input { what: path.display().to_string(), msg: e.to_string() })?,
        );
    }
    let [w1, b1, w2, b2]: [Tensor<f64>; 4] = out.try_into().expect("invariant: four rows were checked");
    Ok([w1, b1, w2, b2])
}

/// Writes the graph of `net`'s loss on the four points (with values and gradients) as DOT, and as SVG
/// when Graphviz `dot` is on the PATH. Returns the files written.
///
/// # Errors
/// Engine and file errors.
pub fn write_graph(net: &Mlp<f64>, dir: &Path, stem: &str) -> Result<Vec<PathBuf>> {
    let tape = Tape::new();
    tape.set_retain_grads(true); // the picture shows the gradient on every node, intermediate ones too
    let (_, loss) = xor_loss(&tape, net)?;
    let grads = loss.backward()?;
    let dot_path = dir.join(format!("{stem}.dot"));
    std::fs::write(&dot_path, tape.to_dot(DotOptions { values: true }, Some(&grads))?).map_err(io_err(&dot_path))?;
    let mut files = vec![dot_path.clone()];
    let svg_path = dir.join(format!("{stem}.svg"));
    let rendered = std::process::Command::new("dot")
        .arg("-Grankdir=TB")
        .arg("-Tsvg")
        .arg(&dot_path)
        .arg("-o")
        .arg(&svg_path)
        .status();
    if matches!(rendered, Ok(s) if s.success()) {
        files.push(svg_path);
    }
    Ok(files)
}
