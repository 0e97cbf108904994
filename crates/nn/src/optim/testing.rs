//! Helpers for the optimizers' unit tests: a tiny quadratic whose gradient is easy to write by hand.

use tapegrad::{Gradients, Param, Tape, Tensor};

/// Gradients of `E(w) = sum(a * (w - c)^2)`, whose gradient is `2 a (w - c)`.
pub(crate) fn quadratic_grads(w: &Param<f64>, a: &[f64], c: &[f64]) -> Gradients<f64> {
    let tape = Tape::new();
    let a = tape.constant(Tensor::from_slice(a, [a.len()]).unwrap());
    let c = tape.constant(Tensor::from_slice(c, [c.len()]).unwrap());
    let loss = (a * (tape.param(w) - c).square()).sum();
    loss.backward().unwrap()
}

/// The fixed problem of the hand-computed tests: `w0 = [1, -2]`, `a = [0.5, 2]`, `c = [3, 1]`, so the first
/// gradient is `2 a (w0 - c) = [-2, -12]`.
pub(crate) const W0: [f64; 2] = [1.0, -2.0];
/// See [`W0`].
pub(crate) const A: [f64; 2] = [0.5, 2.0];
/// See [`W0`].
pub(crate) const C: [f64; 2] = [3.0, 1.0];

/// The hand-computed gradient `2 a (w - c)`.
pub(crate) fn grad_by_hand(w: &[f64]) -> [f64; 2] {
    [2.0 * A[0] * (w[0] - C[0]), 2.0 * A[1] * (w[1] - C[1])]
}

/// Runs two steps of `opt` on the fixed problem and returns the parameter after each.
pub(crate) fn two_steps(opt: &mut dyn super::Optimizer<f64>) -> [Vec<f64>; 2] {
    let mut w = Param::new(Tensor::from_slice(&W0, [2]).unwrap());
    let g = quadratic_grads(&w, &A, &C);
    opt.step(&mut [&mut w], &g).unwrap();
    let w1 = w.value().to_vec();
    let g = quadratic_grads(&w, &A, &C);
    opt.step(&mut [&mut w], &g).unwrap();
    [w1, w.value().to_vec()]
}

/// Asserts two vectors agree to `1e-12` (they are computed by the same formulas in a different order).
pub(crate) fn assert_close(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= 1e-12 * (1.0 + w.abs()), "element {i}: got {g}, want {w}");
    }
}
