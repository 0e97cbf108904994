//! Per-op overhead: forward (and backward) of a 1000-op chain on 1-element tensors, the w2 workload of
//! `docs/performance.md`. Divide the reported time by 1000 for the cost of one op.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tapegrad::{Tape, Tensor};

/// `y = sin(tanh(y * 1.01 + 0.01))` 250 times: 1000 recorded ops.
fn chain<'t>(x: tapegrad::Var<'t, f32>) -> tapegrad::Var<'t, f32> {
    let mut y = x;
    for _ in 0..250 {
        y = y.mul_scalar(1.01).add_scalar(0.01).tanh().sin();
    }
    y
}

fn overhead(c: &mut Criterion) {
    let x0 = Tensor::<f32>::from_vec(vec![0.5], [1]).unwrap();
    let mut g = c.benchmark_group("overhead_1000_ops");
    g.bench_function("forward", |b| {
        b.iter(|| {
            let tape = Tape::new();
            let x = tape.leaf(x0.clone());
            black_box(chain(x).item().unwrap())
        })
    });
    g.bench_function("forward_backward", |b| {
        b.iter(|| {
            let tape = Tape::new();
            let x = tape.leaf(x0.clone());
            let grads = chain(x).backward().unwrap();
            black_box(grads.get(x).unwrap().unwrap().data()[0])
        })
    });
    g.bench_function("forward_no_grad", |b| {
        b.iter(|| {
            let tape = Tape::new();
            let x = tape.leaf(x0.clone());
            black_box(tape.no_grad(|| chain(x).item().unwrap()))
        })
    });
    g.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
