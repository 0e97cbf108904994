//! The workloads that need only the engine: w2 (per-op overhead) and m1 (a large matrix product).

use crate::report::{J, base, stats};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::time::Instant;
use tapegrad::{Result, Tape, Tensor};

/// w2: a 1-element f32 leaf, 250 times `y = sin(tanh(y * 1.01 + 0.01))` (1000 ops), then backward.
/// 35 rounds, the first 5 are warm-up; each round records on a fresh tape and drops it inside the timing,
/// as PyTorch frees its graph during backward.
pub fn w2(threads: usize) -> Result<Vec<(&'static str, J)>> {
    let x0 = Tensor::<f32>::from_vec(vec![0.5], [1])?;
    let mut per_op = Vec::new();
    let mut grad = f32::NAN;
    for round in 0..35 {
        let t0 = Instant::now();
        let g = {
            let tape = Tape::new();
            let x = tape.leaf(x0.clone());
            let mut y = x;
            for _ in 0..250 {
                y = y.mul_scalar(1.01).add_scalar(0.01).tanh().sin();
            }
            let grads = y.backward()?;
            grads.get(x).ok().flatten().map(|g| g.data()[0]).unwrap_or(f32::NAN)
        };
        let dt = t0.elapsed().as_secs_f64();
        grad = g;
        if round >= 5 {
            per_op.push(dt * 1e9 / 1000.0);
        }
    }
    let (med, min, max) = stats(&per_op);
    let mut out = base("w2", threads);
    out.extend([
        ("median_ns_per_op", J::F(med)),
        ("min_ns_per_op", J::F(min)),
        ("max_ns_per_op", J::F(max)),
        ("grad", J::F(f64::from(grad))),
    ]);
    Ok(out)
}

/// Floating-point operations of m1: the forward GEMM and the two gradient GEMMs.
pub const M1_FLOPS: f64 = 3.0 * 2.0 * 1024.0 * 1024.0 * 1024.0;

/// m1: `C = A @ B` for 1024x1024 f32 leaves, backward with the output gradient `G` (the gradients of
/// `sum(C * G)`, as PyTorch's `C.backward(G)`). 15 rounds, the first 3 are warm-up.
pub fn m1(threads: usize) -> Result<Vec<(&'static str, J)>> {
    let mut rng = StdRng::seed_from_u64(0);
    let a0 = Tensor::<f32>::rand_uniform([1024, 1024], 0.0, 1.0, &mut rng)?;
    let b0 = Tensor::<f32>::rand_uniform([1024, 1024], 0.0, 1.0, &mut rng)?;
    let g0 = Tensor::<f32>::rand_uniform([1024, 1024], 0.0, 1.0, &mut rng)?;
    let mut times = Vec::new();
    let mut check = 0.0;
    for round in 0..15 {
        let t0 = Instant::now();
        {
            let tape = Tape::new();
            let a = tape.leaf(a0.clone());
            let b = tape.leaf(b0.clone());
            let grads = a.matmul(b)?.backward_with(g0.clone())?;
            check = grads.get(a).ok().flatten().map(|t| f64::from(t.data()[0])).unwrap_or(f64::NAN)
                + grads.get(b).ok().flatten().map(|t| f64::from(t.data()[0])).unwrap_or(f64::NAN);
        }
        let dt = t0.elapsed().as_secs_f64();
        if round >= 3 {
            times.push(dt);
        }
    }
    let (med, min, max) = stats(&times);
    let mut out = base("m1", threads);
    out.extend([
        ("median_s", J::F(med)),
        ("min_s", J::F(min)),
        ("max_s", J::F(max)),
        ("gflops", J::F(M1_FLOPS / med / 1e9)),
        ("check", J::F(check)),
    ]);
    Ok(out)
}
