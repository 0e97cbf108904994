//! Per-shape GEMM rates through `tapegrad::kernels::gemm`, for comparison with NumPy/OpenBLAS on the same
//! views: `gemm_shapes SET THREADS [REPEATS]` prints one JSON line per product (SET: `big` for the w3 and m1
//! products, `mid` for products between 2^18 and 2^23 multiply-adds, `h1` for the products of one h1 HVP).
//!
//! THREADS `1v2` alternates one and two threads sample by sample in the same process and prints both rates
//! and the 2-thread efficiency (1-thread time / 2-thread time of the same sample pair, 2.0 ideal): on a
//! shared machine whose load drifts, paired samples compare what separate runs cannot.

use std::time::Instant;
use tapegrad::kernels::gemm::{Gemm, MatRef};

/// name, m, k, n, a transposed, b transposed. A name starting with `linear` runs the fully-connected
/// layer's product (`Gemm::linear_fresh`, with a bias, into a new buffer per call as `Var::linear` does).
type Shape = (&'static str, usize, usize, usize, bool, bool);

const BIG: &[Shape] = &[
    ("m1 A B", 1024, 1024, 1024, false, false),
    ("m1 G B^T", 1024, 1024, 1024, false, true),
    ("m1 A^T G", 1024, 1024, 1024, true, false),
    ("w3 x W1^T", 256, 784, 1024, false, true),
    ("w3 h1 W2^T", 256, 1024, 1024, false, true),
    ("w3 G W2", 256, 1024, 1024, false, false),
    ("w3 G^T h1", 1024, 256, 1024, true, false),
    ("w3 G^T x", 1024, 256, 784, true, false),
    ("linear w3 x W1^T + b", 256, 784, 1024, false, true),
    ("linear w3 h1 W2^T + b", 256, 1024, 1024, false, true),
];

const MID: &[Shape] = &[
    ("w1/h1 x W1", 32, 64, 128, false, false),
    ("w1/h1 G W1^T", 32, 128, 64, false, true),
    ("w1/h1 x^T G", 64, 32, 128, true, false),
    ("c2 fc1 x W^T", 64, 400, 120, false, true),
    ("c2 fc1 G^T x", 120, 64, 400, true, false),
    ("c2 fc1 G W", 64, 120, 400, false, false),
    ("c2 conv1 W cols", 6, 25, 50176, false, false),
    ("c2 conv2 W cols", 16, 150, 6400, false, false),
    ("c2 conv2 G cols^T", 16, 6400, 150, false, true),
    ("c2 conv2 W^T G", 150, 16, 6400, true, false),
    ("16 x 6400 x 150 nn", 16, 6400, 150, false, false),
    ("16 x 6400 x 150 tt", 16, 6400, 150, true, true),
    ("16 x 6400 x 150 tn", 16, 6400, 150, true, false),
    ("6 x 50176 x 25 nt", 6, 50176, 25, false, true),
    ("16 x 1600 x 150 nt", 16, 1600, 150, false, true),
    ("16 x 400 x 150 nt", 16, 400, 150, false, true),
    ("128^3", 128, 128, 128, false, false),
    ("256 x 128 x 128", 256, 128, 128, false, false),
    ("256 x 256 x 128", 256, 256, 128, false, false),
    ("256^3", 256, 256, 256, false, false),
];

/// The distinct products of one h1 HVP (22 in all: the count in the name), with the flags the tape uses.
const H1: &[Shape] = &[
    ("h1 2x 32x64x128 nn", 32, 64, 128, false, false),
    ("h1 3x 32x128x64 nn", 32, 128, 64, false, false),
    ("h1 3x 32x64x10 nn", 32, 64, 10, false, false),
    ("h1 3x 32x10x64 nt", 32, 10, 64, false, true),
    ("h1 3x 64x32x10 tn", 64, 32, 10, true, false),
    ("h1 3x 32x64x128 nt", 32, 64, 128, false, true),
    ("h1 3x 128x32x64 tn", 128, 32, 64, true, false),
    ("h1 2x 64x32x128 tn", 64, 32, 128, true, false),
];

/// The operands and output of one product, filled deterministically.
struct Case {
    a: Vec<f32>,
    b: Vec<f32>,
    av: MatRef,
    bv: MatRef,
    c: Vec<f32>,
    /// `Some(bias)`: the product through `Gemm::linear_fresh`.
    bias: Option<Vec<f32>>,
    /// Calls per sample: about 5 ms of work at 100 GFLOP/s.
    calls: usize,
    flops: f64,
}

impl Case {
    fn new(&(name, m, k, n, ta, tb): &Shape) -> Case {
        let a: Vec<f32> = (0..m * k).map(|i| ((i * 37) % 23) as f32 / 7.0 - 1.5).collect();
        let b: Vec<f32> = (0..k * n).map(|i| ((i * 41) % 29) as f32 / 9.0 - 1.5).collect();
        let av = if ta { MatRef::row_major(k, m, 0, true) } else { MatRef::row_major(m, k, 0, false) };
        let bv = if tb { MatRef::row_major(n, k, 0, true) } else { MatRef::row_major(k, n, 0, false) };
        let calls = (250_000_000 / (m * k * n)).max(1);
        let bias = name.starts_with("linear").then(|| (0..n).map(|j| (j % 7) as f32 / 7.0).collect());
        Case { a, b, av, bv, c: vec![0.0; m * n], bias, calls, flops: 2.0 * (m * k * n) as f64 }
    }

    /// Seconds per call over one sample.
    fn sample(&mut self) -> f64 {
        let t = Instant::now();
        for _ in 0..self.calls {
            match &self.bias {
                Some(bias) => {
                    let mut out = Vec::with_capacity(self.c.len());
                    f32::linear_fresh(&self.a, self.av, &self.b, self.bv, Some(bias), &mut out);
                    self.c = out;
                }
                None => f32::gemm(1.0, &self.a, self.av, &self.b, self.bv, 0.0, &mut self.c, 0),
            }
        }
        t.elapsed().as_secs_f64() / self.calls as f64
    }

    fn checksum(&self) -> f64 {
        self.c.iter().map(|&x| f64::from(x)).sum()
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let set = match args.get(1).map(String::as_str) {
        Some("mid") => MID,
        Some("h1") => H1,
        _ => BIG,
    };
    let threads_arg = args.get(2).map_or("1", String::as_str);
    let repeats: usize = args.get(3).and_then(|t| t.parse().ok()).unwrap_or(15).max(1);
    if threads_arg == "1v2" {
        return paired(set, repeats);
    }
    let threads: usize = threads_arg.parse().unwrap_or(1);
    tapegrad::set_num_threads(threads);
    for shape in set {
        let &(name, m, k, n, _, _) = shape;
        let mut case = Case::new(shape);
        let mut times = Vec::with_capacity(repeats);
        for r in 0..repeats + 3 {
            let t = case.sample();
            if r >= 3 {
                times.push(t);
            }
        }
        let best = times.iter().copied().fold(f64::INFINITY, f64::min);
        let med = median(times);
        println!(
            "{{\"name\":\"{name}\",\"m\":{m},\"k\":{k},\"n\":{n},\"threads\":{threads},\"best_gflops\":{:.1},\"median_gflops\":{:.1},\"median_us\":{:.2},\"checksum\":{:.6}}}",
            case.flops / best / 1e9,
            case.flops / med / 1e9,
            med * 1e6,
            case.checksum()
        );
    }
}

/// One and two threads alternated sample by sample: both medians, the best samples, and the median of the
/// per-pair efficiency `t1 / t2`; `same` says whether both thread counts gave the same bits.
fn paired(set: &[Shape], repeats: usize) {
    for shape in set {
        let &(name, m, k, n, _, _) = shape;
        let mut case = Case::new(shape);
        let (mut t1, mut t2, mut eff) = (Vec::new(), Vec::new(), Vec::new());
        let mut sums = [0.0; 2];
        for r in 0..repeats + 3 {
            let mut pair = [0.0; 2];
            for (i, threads) in [1, 2].into_iter().enumerate() {
                tapegrad::set_num_threads(threads);
                pair[i] = case.sample();
                sums[i] = case.checksum();
            }
            if r >= 3 {
                t1.push(pair[0]);
                t2.push(pair[1]);
                eff.push(pair[0] / pair[1]);
            }
        }
        let best = |v: &[f64]| case.flops / v.iter().copied().fold(f64::INFINITY, f64::min) / 1e9;
        let (b1, b2) = (best(&t1), best(&t2));
        println!(
            "{{\"name\":\"{name}\",\"m\":{m},\"k\":{k},\"n\":{n},\"median_gflops_1\":{:.1},\"median_gflops_2\":{:.1},\"best_gflops_1\":{b1:.1},\"best_gflops_2\":{b2:.1},\"median_efficiency\":{:.3},\"same\":{}}}",
            case.flops / median(t1) / 1e9,
            case.flops / median(t2) / 1e9,
            median(eff),
            sums[0] == sums[1]
        );
    }
}
