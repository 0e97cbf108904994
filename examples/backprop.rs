//! The backprop walkthrough: a 3-4-2 sigmoid network on one sample, its deltas computed by hand from the
//! lecture's formulas next to what the tape's backward gives.
//!
//! `cargo run --release -p tapegrad-examples --example backprop` prints the two side by side and writes them
//! to `out/backprop/deltas.csv`; `--help` lists the flags.
//!
//! With column vectors, `z_l = W_l a_{l-1} + b_l`, `a_l = sigma(z_l)`, cost `C = 1/2 |a_L - y|^2`:
//!
//! - `delta_L = sigma'(z_L) o (a_L - y)`
//! - `delta_l = sigma'(z_l) o W_{l+1}^T delta_{l+1}`
//! - `dC/db_l = delta_l`, `dC/dW_l = delta_l a_{l-1}^T`
//!
//! The tape never sees these formulas: it differentiates `linear`, `sigmoid`, `sub`, `square` and `sum`
//! one op at a time, and [`run`] checks that the two agree to rounding.

use clap::Parser;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::io::Write;
use std::path::PathBuf;
use tapegrad::{Param, Tape, Tensor};
use tapegrad_examples::error::{Error, Result, io_err, prepare_out_dir};

/// The command line.
#[derive(Debug, Clone, Parser)]
#[command(name = "backprop", about = "The lecture's backprop deltas by hand next to the tape's gradients")]
pub struct BackpropArgs {
    /// Seed of the random weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Folder for `deltas.csv` (created if missing).
    #[arg(long, default_value = "out/backprop")]
    pub out: PathBuf,
}

/// One quantity computed both ways.
#[derive(Debug, Clone)]
pub struct Row {
    /// What it is, e.g. `dC/dW2`.
    pub name: String,
    /// From the lecture's formulas.
    pub by_hand: Vec<f64>,
    /// From the tape.
    pub by_tape: Vec<f64>,
}

/// What [`run`] found.
#[derive(Debug, Clone)]
pub struct Report {
    /// Every delta and gradient, both ways.
    pub rows: Vec<Row>,
    /// The largest absolute difference over all rows.
    pub max_diff: f64,
}

/// Largest difference the check accepts: both sides do the same few float operations in another order.
pub const TOLERANCE: f64 = 1e-12;

fn main() -> std::process::ExitCode {
    tapegrad_examples::error::report(run(&BackpropArgs::parse(), &mut std::io::stdout()).map(|_| ()))
}

/// Runs the walkthrough with weights drawn from `--seed`, prints the side-by-side table to `out` and writes
/// it to `deltas.csv` in `--out`.
///
/// # Errors
/// [`Error::Check`] when hand and tape differ by more than [`TOLERANCE`]; engine and I/O errors.
pub fn run(args: &BackpropArgs, out: &mut dyn Write) -> Result<Report> {
    prepare_out_dir(&args.out)?;
    let (n_in, n_hid, n_out) = (3, 4, 2);
    let mut rng = StdRng::seed_from_u64(args.seed);
    let w1 = Tensor::<f64>::randn([n_hid, n_in], 0.0, 1.0, &mut rng)?;
    let b1 = Tensor::<f64>::randn([n_hid], 0.0, 1.0, &mut rng)?;
    let w2 = Tensor::<f64>::randn([n_out, n_hid], 0.0, 1.0, &mut rng)?;
    let b2 = Tensor::<f64>::randn([n_out], 0.0, 1.0, &mut rng)?;
    let x = vec![0.5, -1.0, 2.0];
    let y = vec![1.0, 0.0];

    // By hand, with column vectors as on the slides.
    let z1: Vec<f64> = matvec(w1.data(), &x).iter().zip(b1.data()).map(|(a, b)| a + b).collect();
    let a1: Vec<f64> = z1.iter().map(|&z| sigma(z)).collect();
    let z2: Vec<f64> = matvec(w2.data(), &a1).iter().zip(b2.data()).map(|(a, b)| a + b).collect();
    let a2: Vec<f64> = z2.iter().map(|&z| sigma(z)).collect();
    let dsig = |z: f64| sigma(z) * (1.0 - sigma(z));
    let delta2: Vec<f64> = z2.iter().zip(a2.iter().zip(&y)).map(|(&z, (&a, &t))| dsig(z) * (a - t)).collect();
    let back = matvec_t(w2.data(), &delta2, n_hid);
    let delta1: Vec<f64> = z1.iter().zip(&back).map(|(&z, &b)| dsig(z) * b).collect();
    let cost: f64 = 0.5 * a2.iter().zip(&y).map(|(a, t)| (a - t).powi(2)).sum::<f64>();

    // On the tape: rows are samples, so z = x W^T + b (the fused `linear`).
    let (pw1, pb1, pw2, pb2) = (Param::new(w1.clone()), Param::new(b1), Param::new(w2.clone()), Param::new(b2));
    let tape = Tape::<f64>::new();
    let xv = tape.input(Tensor::from_vec(x.clone(), [1, n_in])?);
    let yv = tape.input(Tensor::from_vec(y.clone(), [1, n_out])?);
    let tz1 = xv.linear(tape.param(&pw1), Some(tape.param(&pb1)))?.retain_grad();
    let ta1 = tz1.sigmoid();
    let tz2 = ta1.linear(tape.param(&pw2), Some(tape.param(&pb2)))?.retain_grad();
    let ta2 = tz2.sigmoid();
    let loss = ta2.sub(yv)?.square().sum().mul_scalar(0.5);
    let grads = loss.backward()?;
    let got = |t: Option<&Tensor<f64>>, name: &str| {
        t.map(|t| t.to_vec()).ok_or_else(|| Error::Check(format!("the tape gave no gradient for {name}")))
    };

    let rows = vec![
        Row { name: "C".into(), by_hand: vec![cost], by_tape: vec![loss.item()?] },
        Row { name: "delta2 = dC/dz2".into(), by_hand: delta2.clone(), by_tape: got(grads.get(tz2)?, "z2")? },
        Row { name: "dC/db2".into(), by_hand: delta2.clone(), by_tape: got(grads.param(&pb2), "b2")? },
        Row { name: "dC/dW2".into(), by_hand: outer(&delta2, &a1), by_tape: got(grads.param(&pw2), "W2")? },
        Row { name: "delta1 = dC/dz1".into(), by_hand: delta1.clone(), by_tape: got(grads.get(tz1)?, "z1")? },
        Row { name: "dC/db1".into(), by_hand: delta1.clone(), by_tape: got(grads.param(&pb1), "b1")? },
        Row { name: "dC/dW1".into(), by_hand: outer(&delta1, &x), by_tape: got(grads.param(&pw1), "W1")? },
    ];
    let mut max_diff = 0.0f64;
    for r in &rows {
        if r.by_hand.len() != r.by_tape.len() {
            return Err(Error::Check(format!(
                "{}: {} values by hand, {} by tape",
                r.name,
                r.by_hand.len(),
                r.by_tape.len()
            )));
        }
        for (a, b) in r.by_hand.iter().zip(&r.by_tape) {
            max_diff = max_diff.max((a - b).abs());
        }
    }
    print_table(out, &rows, max_diff).map_err(io_err("stdout"))?;
    let csv = args.out.join("deltas.csv");
    std::fs::write(&csv, to_csv(&rows)).map_err(io_err(&csv))?;
    writeln!(out, "wrote {}", csv.display()).map_err(io_err("stdout"))?;
    if max_diff > TOLERANCE {
        return Err(Error::Check(format!("hand and tape differ by {max_diff:e} > {TOLERANCE:e}")));
    }
    writeln!(out, "hand and tape agree: max difference {max_diff:.1e}").map_err(io_err("stdout"))?;
    Ok(Report { rows, max_diff })
}

/// The logistic function.
fn sigma(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// `W v` for a row-major `W` of `rows x v.len()`.
fn matvec(w: &[f64], v: &[f64]) -> Vec<f64> {
    w.chunks(v.len()).map(|row| row.iter().zip(v).map(|(a, b)| a * b).sum()).collect()
}

/// `W^T v` for a row-major `W` of `v.len() x cols`.
fn matvec_t(w: &[f64], v: &[f64], cols: usize) -> Vec<f64> {
    let mut out = vec![0.0; cols];
    for (row, &vi) in w.chunks(cols).zip(v) {
        for (o, &wij) in out.iter_mut().zip(row) {
            *o += wij * vi;
        }
    }
    out
}

/// The outer product `d a^T`, row-major.
fn outer(d: &[f64], a: &[f64]) -> Vec<f64> {
    d.iter().flat_map(|&di| a.iter().map(move |&aj| di * aj)).collect()
}

/// Writes the rows side by side.
fn print_table(out: &mut dyn Write, rows: &[Row], max_diff: f64) -> std::io::Result<()> {
    writeln!(out, "3-4-2 sigmoid network, one sample, C = 1/2 |a2 - y|^2")?;
    writeln!(out, "{:<18} {:>12} {:>12}", "quantity", "by hand", "by tape")?;
    for r in rows {
        for (i, (a, b)) in r.by_hand.iter().zip(&r.by_tape).enumerate() {
            let name = if i == 0 { r.name.as_str() } else { "" };
            writeln!(out, "{name:<18} {a:>12.8} {b:>12.8}")?;
        }
    }
    writeln!(out, "largest difference: {max_diff:.3e} (tolerance {TOLERANCE:e})")
}

/// The rows as CSV: `quantity,index,by_hand,by_tape`, one line per element.
fn to_csv(rows: &[Row]) -> String {
    let mut s = String::from("quantity,index,by_hand,by_tape\n");
    for r in rows {
        for (i, (a, b)) in r.by_hand.iter().zip(&r.by_tape).enumerate() {
            s.push_str(&format!("{},{i},{a:e},{b:e}\n", r.name));
        }
    }
    s
}
