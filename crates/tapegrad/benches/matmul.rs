//! Matrix product forward + backward at n = 64, 256, 1024 (square f32): `C = A @ B`, loss `sum(C * G)`,
//! gradients for both A and B (three GEMMs), as the m1 workload of `docs/performance.md` at n = 1024.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::hint::black_box;
use tapegrad::{Tape, Tensor};

fn matmul(c: &mut Criterion) {
    let mut g = c.benchmark_group("matmul_forward_backward");
    for n in [64usize, 256, 1024] {
        let mut rng = StdRng::seed_from_u64(0);
        let a0 = Tensor::<f32>::rand_uniform([n, n], 0.0, 1.0, &mut rng).unwrap();
        let b0 = Tensor::<f32>::rand_uniform([n, n], 0.0, 1.0, &mut rng).unwrap();
        let g0 = Tensor::<f32>::rand_uniform([n, n], 0.0, 1.0, &mut rng).unwrap();
        // Three GEMMs of 2 n^3 flops each; criterion prints them as "elements" per second.
        g.throughput(Throughput::Elements(6 * (n as u64).pow(3)));
        if n == 1024 {
            g.sample_size(10);
        }
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |bch, _| {
            bch.iter(|| {
                let tape = Tape::new();
                let a = tape.leaf(a0.clone());
                let b = tape.leaf(b0.clone());
                let gv = tape.input(g0.clone());
                let loss = (a.matmul(b).unwrap() * gv).sum();
                let grads = loss.backward().unwrap();
                black_box(grads.get(a).unwrap().unwrap().data()[0] + grads.get(b).unwrap().unwrap().data()[0])
            })
        });
    }
    g.finish();
}

criterion_group!(benches, matmul);
criterion_main!(benches);
