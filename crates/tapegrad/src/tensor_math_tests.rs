//! Tests of the eager tensor maths: each method against a naive loop or a hand computation, broadcasting,
//! every error, and bit-identity with the tape ops that share its kernel.

use crate::ops::testing::{broadcast_partner, random_shape, random_tensor};
use crate::{Error, Float, Shape, Tape, Tensor, tensor};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// `f` applied by NumPy's broadcasting rule, one output element at a time: (output dims, values).
fn broadcast_naive(a: &Tensor<f64>, b: &Tensor<f64>, f: impl Fn(f64, f64) -> f64) -> (Vec<usize>, Vec<f64>) {
    let r = a.rank().max(b.rank());
    let pad = |d: &[usize]| [vec![1; r - d.len()], d.to_vec()].concat();
    let (da, db) = (pad(a.dims()), pad(b.dims()));
    let out: Vec<usize> = da.iter().zip(&db).map(|(&x, &y)| x.max(y)).collect();
    let mut vals = Vec::new();
    for flat in 0..out.iter().product() {
        let mut idx = vec![0; r];
        let mut rem = flat;
        for ax in (0..r).rev() {
            idx[ax] = rem % out[ax];
            rem /= out[ax];
        }
        let at = |d: &[usize], t: &Tensor<f64>| {
            let o = (0..r).fold(0, |o, ax| o * d[ax] + if d[ax] == 1 { 0 } else { idx[ax] });
            t.data()[o]
        };
        vals.push(f(at(&da, a), at(&db, b)));
    }
    (out, vals)
}

/// A result and the scalar function it should have applied.
type Case = (Tensor<f64>, fn(f64, f64) -> f64);

fn seq(dims: &[usize], scale: f64) -> Tensor<f64> {
    let n: usize = dims.iter().product();
    Tensor::from_vec((0..n).map(|i| (i as f64 + 1.0) * scale).collect(), dims).unwrap()
}

#[test]
fn arithmetic_broadcasts_like_a_naive_loop() {
    let pairs: [(&[usize], &[usize]); 6] =
        [(&[2, 3], &[3]), (&[2, 1, 3], &[4, 1]), (&[3], &[2, 3]), (&[], &[2, 2]), (&[2, 2], &[]), (&[1, 4], &[3, 1])];
    for (sa, sb) in pairs {
        let (a, b) = (seq(sa, 0.5), seq(sb, -0.25));
        let cases: [Case; 4] = [
            (a.add(&b).unwrap(), |x, y| x + y),
            (a.sub(&b).unwrap(), |x, y| x - y),
            (a.mul(&b).unwrap(), |x, y| x * y),
            (a.div(&b).unwrap(), |x, y| x / y),
        ];
        for (got, f) in cases {
            let (dims, want) = broadcast_naive(&a, &b, f);
            assert_eq!(got.dims(), &dims[..], "{sa:?} with {sb:?}");
            assert_eq!(got.to_vec(), want, "{sa:?} with {sb:?}");
        }
    }
}

#[test]
fn operators_agree_with_the_methods_for_owned_and_borrowed_operands() {
    let a = seq(&[2, 3], 1.0);
    let b = seq(&[3], 0.5);
    let want = a.mul(&b).unwrap();
    assert_eq!(&a * &b, want);
    assert_eq!(a.clone() * &b, want);
    assert_eq!(&a * b.clone(), want);
    assert_eq!(a.clone() * b.clone(), want);
    assert_eq!(&a + &b, a.add(&b).unwrap());
    assert_eq!(a.clone() - b.clone(), a.sub(&b).unwrap());
    assert_eq!(&a / b.clone(), a.div(&b).unwrap());
    // The left operand is not changed by an operator that reused its buffer elsewhere.
    let kept = a.clone();
    let _ = kept.clone() + &b;
    assert_eq!(kept, a);
}

#[test]
fn scalar_operators_work_on_either_side_for_both_float_types() {
    let x = tensor![1.0, 2.0, 4.0];
    assert_eq!(&x * 2.0, tensor![2.0, 4.0, 8.0]);
    assert_eq!(2.0 * &x, tensor![2.0, 4.0, 8.0]);
    assert_eq!(&x + 1.0, tensor![2.0, 3.0, 5.0]);
    assert_eq!(1.0 + x.clone(), tensor![2.0, 3.0, 5.0]);
    assert_eq!(x.clone() - 1.0, tensor![0.0, 1.0, 3.0]);
    assert_eq!(1.0 - &x, tensor![0.0, -1.0, -3.0]);
    assert_eq!(&x / 4.0, tensor![0.25, 0.5, 1.0]);
    assert_eq!(4.0 / x.clone(), tensor![4.0, 2.0, 1.0]);
    assert_eq!(-&x, tensor![-1.0, -2.0, -4.0]);
    assert_eq!(-x.clone(), tensor![-1.0, -2.0, -4.0]);
    let y: Tensor<f32> = tensor![[1.0, 2.0], [3.0, 6.0]];
    assert_eq!(3.0f32 / &y * 2.0, tensor![[6.0, 3.0], [2.0, 1.0]]);
    assert_eq!(&y - 1.0f32, tensor![[0.0, 1.0], [2.0, 5.0]]);
    // x / c divides (NumPy), it does not multiply by 1 / c.
    let z = tensor![1.0, 10.0];
    assert_eq!((&z / 3.0).to_vec(), vec![1.0 / 3.0, 10.0 / 3.0]);
}

#[test]
fn named_methods_return_typed_errors_naming_the_op_and_both_shapes() {
    let a = Tensor::<f32>::zeros([2, 3]).unwrap();
    let b = Tensor::<f32>::zeros([4]).unwrap();
    let e = a.add(&b).unwrap_err();
    assert_eq!(e.to_string(), "add: shapes cannot be broadcast together ([2, 3] and [4])");
    assert!(matches!(a.sub(&b), Err(Error::ShapeMismatch { op: "sub", .. })));
    assert!(matches!(a.mul(&b), Err(Error::ShapeMismatch { op: "mul", .. })));
    assert!(matches!(a.div(&b), Err(Error::ShapeMismatch { op: "div", .. })));
}

#[test]
#[should_panic(expected = "add: shapes cannot be broadcast together ([2] and [3])")]
fn add_operator_panics_with_the_method_message() {
    let _ = Tensor::<f32>::zeros([2]).unwrap() + Tensor::<f32>::zeros([3]).unwrap();
}

#[test]
#[should_panic(expected = "sub: shapes cannot be broadcast together ([2, 3] and [2])")]
fn sub_operator_on_references_panics_with_the_method_message() {
    let _ = &Tensor::<f64>::zeros([2, 3]).unwrap() - &Tensor::<f64>::zeros([2]).unwrap();
}

#[test]
#[should_panic(expected = "mul: shapes cannot be broadcast together ([4] and [5])")]
fn mul_operator_panics_with_the_method_message() {
    let _ = &Tensor::<f32>::zeros([4]).unwrap() * Tensor::<f32>::zeros([5]).unwrap();
}

#[test]
#[should_panic(expected = "div: shapes cannot be broadcast together ([3, 1] and [2, 2])")]
fn div_operator_panics_with_the_method_message() {
    let _ = Tensor::<f64>::zeros([3, 1]).unwrap() / &Tensor::<f64>::zeros([2, 2]).unwrap();
}

fn naive_matmul(a: &Tensor<f64>, b: &Tensor<f64>) -> Vec<f64> {
    let (m, k, n) = (a.dims()[0], a.dims()[1], b.dims()[1]);
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).map(|l| a.data()[i * k + l] * b.data()[l * n + j]).sum();
        }
    }
    c
}

#[test]
fn matmul_matches_a_triple_loop_and_batches() {
    let mut rng = StdRng::seed_from_u64(5);
    for (m, k, n) in [(1, 1, 1), (2, 3, 4), (5, 1, 3), (3, 4, 0), (7, 6, 5)] {
        let a = random_tensor(&mut rng, &Shape::new(&[m, k]), (-1.0, 1.0));
        let b = random_tensor(&mut rng, &Shape::new(&[k, n]), (-1.0, 1.0));
        let c = a.matmul(&b).unwrap();
        assert_eq!(c.dims(), &[m, n]);
        assert!(c.max_abs_diff(&Tensor::from_vec(naive_matmul(&a, &b), [m, n]).unwrap()).unwrap() < 1e-12);
    }
    let a = random_tensor(&mut rng, &Shape::new(&[3, 2, 4]), (-1.0, 1.0));
    let b = random_tensor(&mut rng, &Shape::new(&[3, 4, 5]), (-1.0, 1.0));
    let c = a.matmul(&b).unwrap();
    assert_eq!(c.dims(), &[3, 2, 5]);
    for i in 0..3 {
        let ai = Tensor::from_slice(&a.data()[i * 8..(i + 1) * 8], [2, 4]).unwrap();
        let bi = Tensor::from_slice(&b.data()[i * 20..(i + 1) * 20], [4, 5]).unwrap();
        let ci = Tensor::from_slice(&c.data()[i * 10..(i + 1) * 10], [2, 5]).unwrap();
        assert!(ci.max_abs_diff(&Tensor::from_vec(naive_matmul(&ai, &bi), [2, 5]).unwrap()).unwrap() < 1e-12);
    }
}

#[test]
fn matmul_rejects_bad_shapes_naming_both() {
    let a = Tensor::<f32>::zeros([2, 3]).unwrap();
    assert_eq!(
        a.matmul(&Tensor::zeros([4, 5]).unwrap()).unwrap_err().to_string(),
        "matmul: inner dimensions differ; expected [m, k] · [k, n] ([2, 3] and [4, 5])"
    );
    assert!(matches!(a.matmul(&Tensor::zeros([3]).unwrap()), Err(Error::BadShape { op: "matmul", .. })));
    let b3 = Tensor::<f32>::zeros([2, 3, 4]).unwrap();
    assert!(matches!(b3.matmul(&Tensor::zeros([3, 4, 5]).unwrap()), Err(Error::ShapeMismatch { op: "matmul", .. })));
    assert!(matches!(a.matmul(&b3), Err(Error::ShapeMismatch { op: "matmul", .. })));
}

#[test]
fn reductions_along_every_axis_match_by_hand_values() {
    // [[[1, 9], [4, 4]], [[7, 2], [0, 5]]], shape [2, 2, 2]
    let x = Tensor::from_vec(vec![1.0, 9.0, 4.0, 4.0, 7.0, 2.0, 0.0, 5.0], [2, 2, 2]).unwrap();
    assert_eq!(x.sum(), 32.0);
    assert_eq!(x.mean(), 4.0);
    assert_eq!((x.max().unwrap(), x.argmax().unwrap()), (9.0, 1));
    assert_eq!((x.min().unwrap(), x.argmin().unwrap()), (0.0, 6));
    assert_eq!(x.sum_axis(0, false).unwrap(), tensor![[8.0, 11.0], [4.0, 9.0]]);
    assert_eq!(x.sum_axis(-1, true).unwrap(), tensor![[[10.0], [8.0]], [[9.0], [5.0]]]);
    assert_eq!(x.mean_axis(1, false).unwrap(), tensor![[2.5, 6.5], [3.5, 3.5]]);
    assert_eq!(x.max_axis(2, false).unwrap(), tensor![[9.0, 4.0], [7.0, 5.0]]);
    assert_eq!(x.min_axis(-3, true).unwrap(), tensor![[[1.0, 2.0], [0.0, 4.0]]]);
    // Ties (4, 4) go to the first index.
    assert_eq!(x.argmax_axis(-1).unwrap(), vec![1, 0, 0, 1]);
    assert_eq!(x.argmin_axis(-1).unwrap(), vec![0, 0, 1, 0]);
    assert_eq!(x.argmax_axis(0).unwrap(), vec![1, 0, 0, 1]);
}

#[test]
fn max_min_and_their_indices_propagate_nan_as_pytorch() {
    let n = f32::NAN;
    let x: Tensor<f32> = tensor![[3.0, n, 1.0, n], [0.0, 2.0, 5.0, 1.0]];
    assert!(x.max().unwrap().is_nan() && x.min().unwrap().is_nan());
    assert_eq!((x.argmax().unwrap(), x.argmin().unwrap()), (1, 1));
    let m = x.max_axis(1, false).unwrap();
    assert!(m.data()[0].is_nan());
    assert_eq!(m.data()[1], 5.0);
    assert_eq!(x.argmax_axis(1).unwrap(), vec![1, 2]);
    assert_eq!(x.argmin_axis(1).unwrap(), vec![1, 0]);
    assert!(x.sum().is_nan());
}

#[test]
fn reductions_reject_bad_axes_and_empty_inputs() {
    let x = Tensor::<f32>::zeros([2, 3]).unwrap();
    assert_eq!(
        x.sum_axis(2, false).unwrap_err().to_string(),
        "sum: axis 2 is out of range for a tensor of rank 2 (shape [2, 3])"
    );
    assert!(matches!(x.mean_axis(-3, false), Err(Error::AxisOutOfRange { op: "mean", .. })));
    assert!(matches!(x.max_axis(5, false), Err(Error::AxisOutOfRange { op: "max", .. })));
    assert!(matches!(x.argmin_axis(-4), Err(Error::AxisOutOfRange { op: "argmin", .. })));
    let e = Tensor::<f64>::zeros([2, 0]).unwrap();
    assert!(matches!(e.max(), Err(Error::BadShape { op: "max", .. })));
    assert!(matches!(e.min(), Err(Error::BadShape { op: "min", .. })));
    assert!(matches!(e.argmax(), Err(Error::BadShape { op: "argmax", .. })));
    assert!(matches!(e.argmin(), Err(Error::BadShape { op: "argmin", .. })));
    assert!(matches!(e.max_axis(1, true), Err(Error::BadShape { op: "max", .. })));
    assert!(matches!(e.argmax_axis(-1), Err(Error::BadShape { op: "argmax", .. })));
    // Sums of nothing are 0, along a kept non-empty axis too.
    assert_eq!(e.sum(), 0.0);
    assert_eq!(e.sum_axis(0, false).unwrap().dims(), &[0]);
    assert_eq!(e.sum_axis(1, false).unwrap(), tensor![0.0, 0.0]);
}

#[test]
fn allclose_follows_numpy() {
    let b = tensor![1.0, 100.0, f64::INFINITY];
    // |a - b| <= atol + rtol |b|: rtol scales with b.
    assert!(tensor![1.0 + 1e-6, 100.0 + 1e-3, f64::INFINITY].allclose(&b, 1e-5, 1e-8).unwrap());
    assert!(!tensor![1.0 + 1e-4, 100.0, f64::INFINITY].allclose(&b, 1e-5, 1e-8).unwrap());
    assert!(!tensor![1.0, 100.0, f64::NEG_INFINITY].allclose(&b, 1e-5, 1e-8).unwrap());
    assert!(!tensor![1.0, 100.0, 1e308].allclose(&b, 1e-5, f64::INFINITY).unwrap());
    assert!(tensor![0.0, 1e-9].allclose(&tensor![0.0, 0.0], 0.0, 1e-8).unwrap());
    // Broadcasting, and NaN never close.
    assert!(tensor![[2.0, 2.0], [2.0, 2.0]].allclose(&Tensor::scalar(2.0), 0.0, 0.0).unwrap());
    assert!(!tensor![f32::NAN, 1.0].allclose(&tensor![f32::NAN, 1.0], 1.0, 1.0).unwrap());
    assert!(matches!(b.allclose(&tensor![1.0, 2.0], 1e-5, 1e-8), Err(Error::ShapeMismatch { op: "allclose", .. })));
    assert!(matches!(b.allclose(&b, -1.0, 0.0), Err(Error::InvalidArgument { op: "allclose", .. })));
    assert!(matches!(b.allclose(&b, 0.0, f64::NAN), Err(Error::InvalidArgument { op: "allclose", .. })));
}

#[test]
fn max_abs_diff_is_nan_when_an_element_is_nan() {
    let a = tensor![1.0, 2.0, 3.0];
    assert_eq!(a.max_abs_diff(&tensor![1.5, 2.0, 1.0]).unwrap(), 2.0);
    assert!(a.max_abs_diff(&tensor![1.0, f64::NAN, 3.0]).unwrap().is_nan());
    assert!(tensor![f64::NAN, 5.0].max_abs_diff(&tensor![0.0, 0.0]).unwrap().is_nan());
}

#[test]
fn constructors_match_numpy() {
    assert_eq!(Tensor::arange(0.0, 1.0, 0.25).unwrap(), tensor![0.0, 0.25, 0.5, 0.75]);
    assert_eq!(Tensor::<f64>::arange(0.0, 1.0, 0.3).unwrap().to_vec(), vec![0.0, 0.3, 0.6, 0.8999999999999999]);
    assert_eq!(Tensor::<f32>::arange(2.0, 2.0, 1.0).unwrap().dims(), &[0]);
    assert_eq!(Tensor::linspace(-1.0, 1.0, 3).unwrap(), tensor![-1.0, 0.0, 1.0]);
    let l = Tensor::<f64>::linspace(0.0, 0.3, 4).unwrap();
    assert_eq!(l.data()[3], 0.3);
    assert_eq!(Tensor::<f32>::linspace(0.0, 1.0, 0).unwrap().dims(), &[0]);
    assert_eq!(Tensor::<f32>::eye(3).unwrap(), tensor![[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]);
    assert_eq!(Tensor::<f32>::eye(0).unwrap().dims(), &[0, 0]);
    assert_eq!(Tensor::from(vec![1.0, 2.0]), Tensor::from_vec(vec![1.0, 2.0], [2]).unwrap());
    assert_eq!(Tensor::from([[1.0f32], [2.0]]).dims(), &[2, 1]);
    let r4 = tensor![[[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]]];
    assert_eq!((r4.dims(), r4.to_vec()), (&[1, 2, 2, 2][..], (1..=8).map(f64::from).collect()));
}

#[test]
fn constructors_reject_bad_arguments_before_allocating() {
    let bad =
        |r: crate::Result<Tensor<f64>>, op: &str| matches!(r, Err(Error::InvalidArgument { op: o, .. }) if o == op);
    assert!(bad(Tensor::arange(0.0, 1.0, 0.0), "arange"));
    assert!(bad(Tensor::arange(0.0, f64::INFINITY, 1.0), "arange"));
    assert!(bad(Tensor::arange(f64::NAN, 1.0, 1.0), "arange"));
    assert!(bad(Tensor::arange(0.0, 1e300, 1e-300), "arange"));
    assert!(bad(Tensor::linspace(0.0, f64::NAN, 3), "linspace"));
    assert!(bad(Tensor::linspace(0.0, 1.0, usize::MAX), "linspace"));
    assert!(bad(Tensor::eye(1 << 40), "eye"));
    assert!(bad(Tensor::eye(usize::MAX), "eye"));
}

/// The bits of every element (f32 widens exactly) and the shape.
fn bits<T: Float>(t: &Tensor<T>) -> (Vec<usize>, Vec<u64>) {
    (t.dims().to_vec(), t.data().iter().map(|x| x.f64().to_bits()).collect())
}

/// Every eager method against the tape op whose forward kernel it shares, bit for bit.
fn same_bits_as_the_tape<T: Float>(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let sa = random_shape(&mut rng, 0);
    let sb = broadcast_partner(&mut rng, &sa);
    let (sa, sb) = if seed.is_multiple_of(2) { (sa, sb) } else { (sb, sa) };
    let a: Tensor<T> = random_tensor(&mut rng, &sa, (-2.0, 2.0)).cast();
    let b: Tensor<T> = random_tensor(&mut rng, &sb, (0.5, 2.0)).cast();
    let c = T::of(0.7);
    let tape = Tape::<T>::new();
    let (va, vb) = (tape.input(a.clone()), tape.input(b.clone()));
    assert_eq!(bits(&a.add(&b).unwrap()), bits(&va.add(vb).unwrap().value()));
    assert_eq!(bits(&(&a - &b)), bits(&va.sub(vb).unwrap().value()));
    assert_eq!(bits(&(a.clone() * b.clone())), bits(&va.mul(vb).unwrap().value()));
    assert_eq!(bits(&a.div(&b).unwrap()), bits(&va.div(vb).unwrap().value()));
    assert_eq!(bits(&(&a * c)), bits(&va.mul_scalar(c).value()));
    assert_eq!(bits(&(&a + c)), bits(&va.add_scalar(c).value()));
    assert_eq!(bits(&-&a), bits(&va.neg().value()));
    assert_eq!(bits(&Tensor::scalar(a.sum())), bits(&va.sum().value()));
    assert_eq!(bits(&Tensor::scalar(a.mean())), bits(&va.mean().value()));
    assert_eq!(bits(&Tensor::scalar(a.max().unwrap())), bits(&va.max().unwrap().value()));
    for axis in -(a.rank() as isize)..a.rank() as isize {
        for keep in [false, true] {
            assert_eq!(bits(&a.sum_axis(axis, keep).unwrap()), bits(&va.sum_axis(axis, keep).unwrap().value()));
            assert_eq!(bits(&a.mean_axis(axis, keep).unwrap()), bits(&va.mean_axis(axis, keep).unwrap().value()));
            assert_eq!(bits(&a.max_axis(axis, keep).unwrap()), bits(&va.max_axis(axis, keep).unwrap().value()));
        }
    }
    let (m, k, n) = (1 + seed as usize % 5, 1 + seed as usize / 5 % 7, 1 + seed as usize / 35 % 6);
    for dims in [(vec![m, k], vec![k, n]), (vec![3, m, k], vec![3, k, n])] {
        let x: Tensor<T> = random_tensor(&mut rng, &Shape::new(&dims.0), (-1.0, 1.0)).cast();
        let y: Tensor<T> = random_tensor(&mut rng, &Shape::new(&dims.1), (-1.0, 1.0)).cast();
        let want = tape.input(x.clone()).matmul(tape.input(y.clone())).unwrap().value();
        assert_eq!(bits(&x.matmul(&y).unwrap()), bits(&want));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn eager_methods_are_bit_identical_to_the_tape_ops(seed in any::<u64>()) {
        same_bits_as_the_tape::<f64>(seed);
        same_bits_as_the_tape::<f32>(seed);
    }
}
