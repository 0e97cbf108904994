//! The c3 workload of `docs/performance.md`: one 3x3 convolution, 64 -> 64 channels, padding 1, on
//! x [32, 64, 32, 32] (f32), forward + backward with a given output gradient (input and weight gradients),
//! and its parts: `unfold` (im2col) and `fold` (col2im) alone, and the per-image kernels behind `conv2d` and
//! its two derivative ops with their GEMMs alone (the breakdown in `docs/performance.md`).
//!
//! `BENCH_THREADS=1 cargo bench --bench conv` caps the GEMM's threads (default: every core).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::hint::black_box;
use tapegrad::kernels::conv::{fold, fold_into, lowered, unfold, unfold_into, winograd};
use tapegrad::kernels::gemm::{Gemm, MatRef};
use tapegrad::kernels::matmul;
use tapegrad::{Padding, Shape, Tape, Tensor, Window2d};

fn conv(c: &mut Criterion) {
    if let Some(t) = std::env::var("BENCH_THREADS").ok().and_then(|v| v.parse().ok()) {
        tapegrad::set_num_threads(t);
    }
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
            black_box(grads.get(x).unwrap().unwrap().data()[0] + grads.get(w).unwrap().unwrap().data()[0])
        })
    });
    g.throughput(Throughput::Elements((32 * 64 * 9 * 1024) as u64));
    g.bench_function("unfold", |b| b.iter(|| black_box(unfold(x0.data(), &d, &win).unwrap().len())));
    let mut buf = vec![0.0f32; 32 * 64 * 9 * 1024];
    g.bench_function("unfold_into_reused_buffer", |b| {
        b.iter(|| {
            buf.fill(0.0);
            unfold_into(x0.data(), &d, &win, &mut buf);
            black_box(buf[0])
        })
    });
    let cols = unfold(x0.data(), &d, &win).unwrap();
    g.bench_function("fold", |b| b.iter(|| black_box(fold(&cols, &d, &win).unwrap().len())));
    // The forward product alone ([32] x [64, 576] · [576, 1024]), to compare the whole with the GEMM's rate.
    let wb = Tensor::<f32>::rand_uniform([32, 64, 576], -0.1, 0.1, &mut rng).unwrap();
    let cols = Tensor::from_vec(cols, [32, 576, 1024]).unwrap();
    g.throughput(Throughput::Elements(2 * 64 * 576 * 1024 * 32));
    g.bench_function("forward_gemm", |b| b.iter(|| black_box(matmul(&wb, &cols, false, false).unwrap().numel())));
    // The per-image kernels: conv2d and its two derivative ops, then their parts. One image's patches are
    // [576, 1024]; the products are [64, 576] · [576, 1024], [576, 64] · [64, 1024] and [64, 1024] · [1024, 576].
    let (ck, l, img) = (576, 1024, 64 * 1024);
    let one = tapegrad::kernels::conv::WindowDims { n: 1, ..d };
    g.throughput(Throughput::Elements(2 * 64 * 576 * 1024 * 32));
    // The im2col kernels (`Policy::Never`) against the Winograd ones, each called alone.
    winograd::set_policy(winograd::Policy::Never);
    g.bench_function("lowered_conv2d", |b| {
        b.iter(|| black_box(lowered::conv2d(x0.data(), w0.data(), None, &d, &win, 64).unwrap()[0]))
    });
    g.bench_function("lowered_input_grad", |b| {
        b.iter(|| black_box(lowered::conv_input_grad(g0.data(), w0.data(), &d, &win, 64).unwrap()[0]))
    });
    g.bench_function("lowered_weight_grad", |b| {
        b.iter(|| black_box(lowered::conv_weight_grad(x0.data(), g0.data(), &d, &win, 64).unwrap()[0]))
    });
    winograd::set_policy(winograd::Policy::Auto);
    g.bench_function("winograd_conv2d", |b| {
        b.iter(|| black_box(winograd::conv2d(x0.data(), w0.data(), None, &d, &win, 64).unwrap()[0]))
    });
    g.bench_function("winograd_input_grad", |b| {
        b.iter(|| black_box(winograd::conv_input_grad(g0.data(), w0.data(), &d, &win, 64).unwrap()[0]))
    });
    g.bench_function("winograd_weight_grad", |b| {
        b.iter(|| black_box(winograd::conv_weight_grad(x0.data(), g0.data(), &d, &win, 64).unwrap()[0]))
    });
    let mut cols = vec![0.0f32; ck * l];
    let mut out = vec![0.0f32; 32 * 64 * 1024];
    g.bench_function("gemm_forward_per_image", |b| {
        b.iter(|| {
            for i in 0..32 {
                let (wv, uv) = (MatRef::row_major(64, ck, 0, false), MatRef::row_major(ck, l, 0, false));
                f32::gemm(1.0, w0.data(), wv, &cols, uv, 0.0, &mut out, i * 64 * l);
            }
            black_box(out[0])
        })
    });
    g.bench_function("gemm_input_grad_per_image", |b| {
        b.iter(|| {
            for i in 0..32 {
                let (wv, gv) = (MatRef::row_major(64, ck, 0, true), MatRef::row_major(64, l, i * 64 * l, false));
                f32::gemm(1.0, w0.data(), wv, g0.data(), gv, 0.0, &mut cols, 0);
            }
            black_box(cols[0])
        })
    });
    let mut dw = vec![0.0f32; 64 * ck];
    g.bench_function("gemm_weight_grad_per_image", |b| {
        b.iter(|| {
            for i in 0..32 {
                let (gv, uv) = (MatRef::row_major(64, l, i * 64 * l, false), MatRef::row_major(ck, l, 0, true));
                f32::gemm(1.0, g0.data(), gv, &cols, uv, if i == 0 { 0.0 } else { 1.0 }, &mut dw, 0);
            }
            black_box(dw[0])
        })
    });
    g.throughput(Throughput::Elements((32 * 64 * 9 * 1024) as u64));
    g.bench_function("unfold_per_image", |b| {
        b.iter(|| {
            for i in 0..32 {
                unfold_into(&x0.data()[i * img..(i + 1) * img], &one, &win, &mut cols);
            }
            black_box(cols[0])
        })
    });
    let mut dx = vec![0.0f32; 32 * img];
    g.bench_function("fold_per_image", |b| {
        b.iter(|| {
            dx.fill(0.0);
            for i in 0..32 {
                fold_into(&cols, &one, &win, &mut dx[i * img..(i + 1) * img]);
            }
            black_box(dx[0])
        })
    });
    g.finish();
}

criterion_group!(benches, conv);
criterion_main!(benches);
