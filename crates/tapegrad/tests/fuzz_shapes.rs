//! Fuzzing the engine's shape arithmetic: tensor constructors and layout ops with extreme dimensions (near
//! `usize::MAX`, products that wrap, zero) and every binary entry point with mismatched shapes. Nothing may
//! panic or abort; every failure is a typed error with a short message, and every success is a tensor that
//! keeps the size invariant (its element count fits in memory's address space and matches its buffer).
//!
//! Cases per property: `TAPEGRAD_FUZZ_CASES` (default 64, a few seconds); set it to thousands for long runs.
//!
//! Dimensions are small (0 to 4) or huge (2^46 and up): a shape that passes the size checks either has at
//! most a few hundred elements or asks for at least 2^48 bytes, more than the user address space of x86-64
//! Linux, so the allocation fails whatever the machine's overcommit policy and nothing large is ever filled.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use tapegrad::{Error, Shape, Tape, Tensor, Var, concat};

fn config() -> ProptestConfig {
    let cases = std::env::var("TAPEGRAD_FUZZ_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(64);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// Dimensions that are tiny, zero, or huge enough that products wrap (2 (2^63 + 65) wraps to 130, 4 * 2^62
/// and 2 * 2^63 to 0).
fn dim() -> impl Strategy<Value = usize> {
    prop_oneof![
        6 => 0usize..=4,
        1 => prop::sample::select(vec![1usize << 46, (1 << 47) + 1, 1 << 62, 1 << 63, (1 << 63) + 65, usize::MAX - 1, usize::MAX]),
    ]
}

fn dims(max_rank: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(dim(), 0..=max_rank)
}

/// Small dimensions only (for values that are really built).
fn small_dims(max_rank: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0usize..=4, 0..=max_rank)
}

/// A tensor that exists: small, or empty with huge dimensions.
fn existing(d: &[usize]) -> Option<Tensor<f32>> {
    let t = Tensor::<f32>::zeros(d).ok()?;
    (t.numel() <= 4096).then_some(t)
}

/// A short, typed error: the variant is the type, the message names the op.
fn typed(e: &Error) -> Result<(), TestCaseError> {
    let msg = e.to_string();
    prop_assert!(msg.len() < 600, "error message of {} bytes: {msg:.200}", msg.len());
    prop_assert!(msg.contains(':'), "message does not name its op: {msg}");
    Ok(())
}

/// The size invariant of every tensor.
fn sound(t: &Tensor<f32>) -> Result<(), TestCaseError> {
    prop_assert_eq!(t.numel(), t.shape().numel());
    prop_assert!(t.shape().checked_bytes("fuzz", 4).is_ok(), "tensor of shape {} escaped the size check", t.shape());
    Ok(())
}

fn check_tensor(r: tapegrad::Result<Tensor<f32>>) -> Result<(), TestCaseError> {
    match r {
        Ok(t) => sound(&t),
        Err(e) => typed(&e),
    }
}

fn check_var(r: tapegrad::Result<Var<'_, f32>>) -> Result<(), TestCaseError> {
    match r {
        Ok(v) => sound(&v.value()),
        Err(e) => typed(&e),
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn constructors_refuse_what_does_not_fit(d in dims(4), len in 0usize..300, v in any::<f32>()) {
        check_tensor(Tensor::zeros(d.as_slice()))?;
        check_tensor(Tensor::ones(d.as_slice()))?;
        check_tensor(Tensor::full(d.as_slice(), v))?;
        check_tensor(Tensor::from_vec(vec![v; len], d.as_slice()))?;
        check_tensor(Tensor::from_slice(&vec![v; len][..], d.as_slice()))?;
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(len as u64);
        check_tensor(Tensor::randn(d.as_slice(), 0.0, 1.0, &mut rng))?;
        check_tensor(Tensor::rand_uniform(d.as_slice(), -1.0, 1.0, &mut rng))?;
        // A wrapped count must never be mistaken for the buffer's length.
        if let Ok(t) = Tensor::<f32>::from_vec(vec![v; len], d.as_slice()) {
            prop_assert_eq!(Some(len), d.iter().try_fold(1usize, |a, &x| a.checked_mul(x)));
            prop_assert_eq!(t.numel(), len);
        }
        let s = Shape::new(&d);
        prop_assert_eq!(s.checked_numel("fuzz").is_ok(), s.checked_bytes("fuzz", 1).is_ok());
        let _ = s.strides();
    }

    #[test]
    fn layout_ops_with_extreme_arguments_return_typed_errors(
        src in dims(3),
        target in dims(4),
        axis in -4isize..4,
        a in dim(),
        b in dim(),
        index in prop::collection::vec(dim(), 0..6),
        perm in prop::collection::vec(0usize..5, 0..5),
    ) {
        let Some(x) = existing(&src) else { return Ok(()) };
        let tape = Tape::<f32>::new();
        let xv = tape.leaf(x.clone());
        let ts = Shape::new(&target);
        check_tensor(x.reshape(target.as_slice()))?;
        check_var(xv.reshape(target.as_slice()))?;
        check_var(xv.broadcast_to(&ts))?;
        check_var(xv.sum_to(&ts))?;
        check_var(xv.narrow(axis, a, b))?;
        check_var(xv.pad(axis, a, b))?;
        check_var(xv.index_select(&index))?;
        check_var(xv.index_add(&index, a))?;
        check_var(xv.permute(&perm))?;
        check_var(xv.transpose(axis, axis.wrapping_add(1)))?;
        check_var(concat(&[xv, xv], axis))?;
        check_var(xv.sum_axis(axis, a % 2 == 0))?;
        check_var(xv.max_axis(axis, true))?;
        check_var(xv.softmax(axis))?;
        // A successful op's gradient has its input's shape (backward of the same extreme arguments).
        if let Ok(y) = xv.narrow(axis, a, b).and_then(|y| y.pad(axis, a, b)).map(Var::sum) {
            let g = y.backward().map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(g.get(xv).unwrap().unwrap().shape(), x.shape());
        }
    }

    #[test]
    fn matmul_of_extreme_shapes_returns_typed_errors(
        da in dims(3),
        db in dims(3),
        ta in any::<bool>(),
        tb in any::<bool>(),
    ) {
        let (Some(a), Some(b)) = (existing(&da), existing(&db)) else { return Ok(()) };
        let tape = Tape::<f32>::new();
        let (av, bv) = (tape.leaf(a), tape.leaf(b));
        check_var(av.matmul_t(bv, ta, tb))?;
        check_var(av.linear(bv, None))?;
    }

    #[test]
    fn every_binary_entry_point_refuses_mismatched_shapes(da in small_dims(3), db in small_dims(3), seed in any::<u64>()) {
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
        let a = Tensor::<f32>::rand_uniform(da.as_slice(), 0.0, 1.0, &mut rng).unwrap();
        let b = Tensor::<f32>::rand_uniform(db.as_slice(), 0.0, 1.0, &mut rng).unwrap();
        let tape = Tape::<f32>::new();
        let (x, y) = (tape.leaf(a), tape.leaf(b));
        for r in [x.add(y), x.sub(y), x.mul(y), x.div(y), x.matmul(y), x.mse(y), x.bce(y), x.bce_with_logits(y),
                  x.kl_div(y), x.softmax_cross_entropy_probs(y), x.linear(y, None), x.linear(y, Some(y)),
                  concat(&[x, y], 0), concat(&[x, y], -1), x.softmax_cross_entropy(&db)] {
            check_var(r)?;
        }
        // Through backward too: whatever succeeded forward differentiates to gradients of the inputs' shapes.
        if let Ok(l) = x.mul(y).map(Var::sum) {
            let g = l.backward().map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(g.get(x).unwrap().unwrap().shape(), &x.shape());
            prop_assert_eq!(g.get(y).unwrap().unwrap().shape(), &y.shape());
        }
        // Plain tensor kernels take the same shapes.
        check_tensor(tapegrad::kernels::zip("fuzz", x.value(), &y.value(), |p, q| p + q))?;
        check_tensor(tapegrad::kernels::matmul(&x.value(), &y.value(), false, false))?;
        let ys = y.shape();
        check_tensor(tapegrad::kernels::sum_to(&x.value(), &ys))?;
        check_tensor(tapegrad::kernels::broadcast_to(&x.value(), &ys))?;
    }
}
