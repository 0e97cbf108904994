//! One training step of a 64-128-64-10 ReLU MLP at batch 32, built from engine ops only: `Var::linear`,
//! `relu`, `softmax_cross_entropy`, backward, and a plain SGD update in place (the tape is dropped first so
//! the parameters' storage is unshared).

use criterion::{Criterion, criterion_group, criterion_main};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::hint::black_box;
use tapegrad::{Param, Tape, Tensor};

struct Mlp {
    /// (weight [out, in], bias [out]) per layer.
    layers: Vec<(Param<f32>, Param<f32>)>,
}

impl Mlp {
    fn new(sizes: &[usize], rng: &mut StdRng) -> Self {
        let layers = sizes
            .windows(2)
            .map(|w| {
                let bound = 1.0 / (w[0] as f64).sqrt();
                let weight = Tensor::rand_uniform([w[1], w[0]], -bound, bound, rng).unwrap();
                let bias = Tensor::rand_uniform([w[1]], -bound, bound, rng).unwrap();
                (Param::new(weight), Param::new(bias))
            })
            .collect();
        Mlp { layers }
    }

    /// Forward, backward and SGD update; returns the loss.
    fn step(&mut self, x: &Tensor<f32>, labels: &[usize], lr: f32) -> f32 {
        let grads = {
            let tape = Tape::new();
            let mut h = tape.input(x.clone());
            let last = self.layers.len() - 1;
            for (i, (w, b)) in self.layers.iter().enumerate() {
                h = h.linear(tape.param(w), Some(tape.param(b))).unwrap();
                if i < last {
                    h = h.relu();
                }
            }
            let loss = h.softmax_cross_entropy(labels).unwrap();
            (loss.item().unwrap(), loss.backward().unwrap())
        };
        let (loss, grads) = grads;
        for (w, b) in &mut self.layers {
            for p in [w, b] {
                let g = grads.param(p).unwrap().clone();
                for (v, d) in p.value_mut().data_mut().iter_mut().zip(g.data()) {
                    *v -= lr * d;
                }
            }
        }
        loss
    }
}

fn mlp_step(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(0);
    let mut mlp = Mlp::new(&[64, 128, 64, 10], &mut rng);
    let x = Tensor::<f32>::rand_uniform([32, 64], 0.0, 1.0, &mut rng).unwrap();
    let labels: Vec<usize> = (0..32).map(|_| rng.random_range(0..10)).collect();
    c.bench_function("mlp_64_128_64_10_batch32_sgd_step", |b| b.iter(|| black_box(mlp.step(&x, &labels, 0.01))));
}

criterion_group!(benches, mlp_step);
criterion_main!(benches);
