//! The c3 workload of `docs/performance.md`: one 3x3 convolution, 64 -> 64 channels, padding 1, on
//! x [32, 64, 32, 32] (f32), forward + backward with a given output gradient (input and weight gradients),
//! and its parts: `unfold` (im2col) and `fold` (col2im) alone.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::hint::black_box;
use tapegrad::kernels::conv::{fold, unfold, unfold_into};
use tapegrad::kernels::matmul;
use tapegrad::{Padding, Shape, Tape, Tensor, Window2d};

fn conv(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(0);
    let x0 = Tensor::<f32>::rand_uniform([32, 64, 32, 32], -1.0, 1.0, &mut rng).unwrap();
    let w0 = Tensor::<f32>::rand_uniform([64, 64, 3, 3], -0.1, 0.1, &mut rng).unwrap();
    let g0 = Tensor::<f32>::rand_uniform([32, 64, 32, 32], -1.0, 1.0, &mut rng).unwrap();
    let win = Window2d::new((3, 3), (1, 1), Padding::Same);
    let d = win.check("bench", &Shape::new(&[32, 64, 32, 32])).unwrap();
    let mut g = c.benchmark_group("conv2d_c3");
    g.sample_size(10);
    // Three GEMMs of 2 * 64 * 576 * 1024 * 32 flops each (7.25 GFLOP).
    g.throughput(Throughput::Elements(3 * 2 * 64 * 576 * 1024 * 32));
    g.bench_function("forward_backward", |b| {
        b.iter(|| {
            let tape = Tape::new();
            let x = tape.leaf(x0.clone());
            let w = tape.leaf(w0.clone());
            let y = x.conv2d(w, None, (1, 1), Padding::Same).unwrap();
            let loss = y.mul(tape.input(g0.clone())).unwrap().sum();
            let grads = loss.backward().unwrap();
            black_box(grads.get(x).unwrap().data()[0] + grads.get(w).unwrap().data()[0])
        })
    });
    g.throughput(Throughput::Elements((32 * 64 * 9 * 1024) as u64));
    g.bench_function("unfold", |b| b.iter(|| black_box(unfold(x0.data(), &d, &win).len())));
    let mut buf = vec![0.0f32; 32 * 64 * 9 * 1024];
    g.bench_function("unfold_into_reused_buffer", |b| {
        b.iter(|| {
            buf.fill(0.0);
            unfold_into(x0.data(), &d, &win, &mut buf);
            black_box(buf[0])
        })
    });
    let cols = unfold(x0.data(), &d, &win);
    g.bench_function("fold", |b| b.iter(|| black_box(fold(&cols, &d, &win).len())));
    // The forward product alone ([32] x [64, 576] · [576, 1024]), to compare the whole with the GEMM's rate.
    let wb = Tensor::<f32>::rand_uniform([32, 64, 576], -0.1, 0.1, &mut rng).unwrap();
    let cols = Tensor::from_vec(cols, [32, 576, 1024]).unwrap();
    g.throughput(Throughput::Elements(2 * 64 * 576 * 1024 * 32));
    g.bench_function("forward_gemm", |b| b.iter(|| black_box(matmul(&wb, &cols, false, false).unwrap().numel())));
    g.finish();
}

criterion_group!(benches, conv);
criterion_main!(benches);
