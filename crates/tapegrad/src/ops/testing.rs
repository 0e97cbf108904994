//! Shared helpers for the ops' property tests: random shapes (broadcast pairs included), random values in a
//! range that keeps away from kinks, and the first- and second-order finite-difference checks.

use crate::grad_check::{GradCheckConfig, check_gradients, check_second_order};
use crate::{Result, Shape, Tape, Tensor, Var};
use proptest::test_runner::TestCaseError;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// A random shape of rank 0..=3 with dimensions 1..=4.
pub fn random_shape(rng: &mut StdRng, min_rank: usize) -> Shape {
    let rank = rng.random_range(min_rank..=3);
    Shape::new(&(0..rank).map(|_| rng.random_range(1..=4)).collect::<Vec<_>>())
}

/// A shape that broadcasts with `s`: some leading axes dropped, some axes set to 1.
pub fn broadcast_partner(rng: &mut StdRng, s: &Shape) -> Shape {
    let drop = rng.random_range(0..=s.rank());
    Shape::new(&s.dims()[drop..].iter().map(|&d| if rng.random_bool(0.3) { 1 } else { d }).collect::<Vec<_>>())
}

/// Uniform values in `range`.
pub fn random_tensor(rng: &mut StdRng, s: &Shape, range: (f64, f64)) -> Tensor<f64> {
    Tensor::rand_uniform(s.clone(), range.0, range.1, rng).expect("invariant: valid range")
}

fn fail(e: crate::Error) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

/// First- and second-order checks of `f` at `xs`.
pub fn check_both<F>(f: F, xs: &[Tensor<f64>]) -> std::result::Result<(), TestCaseError>
where
    F: for<'t> Fn(&'t Tape<f64>, &[Var<'t, f64>]) -> Result<Var<'t, f64>>,
{
    let cfg = GradCheckConfig::default();
    check_gradients(&f, xs, cfg).map_err(fail)?;
    check_second_order(&f, xs, cfg).map_err(fail)
}

/// Checks a unary op over a random shape of rank >= `min_rank`, and reused as `f(x) * x`.
pub fn check_unary_rank<F>(
    seed: u64,
    f: F,
    range: (f64, f64),
    min_rank: usize,
) -> std::result::Result<(), TestCaseError>
where
    F: for<'t> Fn(Var<'t, f64>) -> Result<Var<'t, f64>>,
{
    let mut rng = StdRng::seed_from_u64(seed);
    let s = random_shape(&mut rng, min_rank);
    let x = random_tensor(&mut rng, &s, range);
    check_both(|_t, v| f(v[0]), std::slice::from_ref(&x))?;
    check_both(|_t, v| f(v[0])?.sum().mul(v[0]), &[x])
}

/// Checks a unary op over a random shape of any rank.
pub fn check_unary<F>(seed: u64, f: F, range: (f64, f64)) -> std::result::Result<(), TestCaseError>
where
    F: for<'t> Fn(Var<'t, f64>) -> Result<Var<'t, f64>>,
{
    check_unary_rank(seed, f, range, 0)
}

/// Checks a broadcasting binary op over a random broadcast pair (either order) and with a reused node.
pub fn check_binary<F>(seed: u64, f: F, ra: (f64, f64), rb: (f64, f64)) -> std::result::Result<(), TestCaseError>
where
    F: for<'t> Fn(Var<'t, f64>, Var<'t, f64>) -> Result<Var<'t, f64>>,
{
    let mut rng = StdRng::seed_from_u64(seed);
    let s = random_shape(&mut rng, 0);
    let p = broadcast_partner(&mut rng, &s);
    let (sa, sb) = if rng.random_bool(0.5) { (s, p) } else { (p, s) };
    let a = random_tensor(&mut rng, &sa, ra);
    let b = random_tensor(&mut rng, &sb, rb);
    check_both(|_t, v| f(v[0], v[1]), &[a.clone(), b])?;
    // A reused node: f(a, a') where both come from the same leaf, in a diamond.
    let c = random_tensor(&mut rng, &sa, intersect(ra, rb));
    check_both(|_t, v| f(v[0], v[0]), std::slice::from_ref(&c))?;
    check_both(|_t, v| f(v[0], v[0])?.add(v[0]), &[c])
}

/// The common part of two ranges, so a reused node is valid as both operands.
fn intersect(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    (a.0.max(b.0), a.1.min(b.1))
}
