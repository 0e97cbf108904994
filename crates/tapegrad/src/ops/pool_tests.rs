use crate::ops::testing::{check_both, random_tensor};
use crate::{Error, Padding, Shape, Tape, Tensor};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

#[test]
fn max_pool_with_stride_below_the_kernel_and_padding() {
    // 3x3 windows at stride 2 with one row/column of padding on a 4x4 image 0..16.
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::from_vec((0..16).map(f64::from).collect(), [1, 1, 4, 4]).unwrap());
    let y = x.max_pool2d((3, 3), (2, 2), Padding::symmetric(1, 1)).unwrap();
    assert_eq!(y.value().dims(), &[1, 1, 2, 2]);
    assert_eq!(y.value().to_vec(), vec![5.0, 7.0, 13.0, 15.0]);
    // The gradient goes to the winners only.
    let g = y.sum().backward().unwrap();
    let mut want = vec![0.0; 16];
    for i in [5, 7, 13, 15] {
        want[i] = 1.0;
    }
    assert_eq!(g.get(x).unwrap().unwrap().to_vec(), want);
}

#[test]
fn max_pool_propagates_nan_and_routes_its_gradient_there() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::from_vec(vec![1.0, f64::NAN, 3.0, 2.0], [1, 1, 2, 2]).unwrap());
    let y = x.max_pool2d((2, 2), (2, 2), Padding::Valid).unwrap();
    assert!(y.value().data()[0].is_nan());
    let g = y.backward().unwrap();
    assert_eq!(g.get(x).unwrap().unwrap().to_vec(), vec![0.0, 1.0, 0.0, 0.0]);
}

#[test]
fn avg_pool_counts_padding_as_zeros() {
    // count_include_pad: a 2x2 window over one corner pixel of ones and three padding zeros averages 1/4.
    let tape = Tape::<f64>::new();
    let x = tape.input(Tensor::ones([1, 1, 2, 2]).unwrap());
    let y = x.avg_pool2d((2, 2), (1, 1), Padding::symmetric(1, 1)).unwrap().value();
    assert_eq!(y.dims(), &[1, 1, 3, 3]);
    assert_eq!(y.to_vec(), vec![0.25, 0.5, 0.25, 0.5, 1.0, 0.5, 0.25, 0.5, 0.25]);
    let x = tape.input(Tensor::from_vec((0..12).map(f64::from).collect(), [1, 1, 3, 4]).unwrap());
    let y = x.avg_pool2d((2, 3), (1, 1), Padding::Valid).unwrap().value();
    assert_eq!(y.to_vec(), vec![3.0, 4.0, 7.0, 8.0]); // (0 + 1 + 2 + 4 + 5 + 6) / 6 = 3, ...
}

#[test]
fn pool_and_gather_errors_name_the_op() {
    let tape = Tape::<f64>::new();
    let x = tape.input(Tensor::zeros([1, 1, 4, 4]).unwrap());
    assert_eq!(
        x.max_pool2d((2, 2), (2, 2), Padding::symmetric(2, 0)).unwrap_err().to_string(),
        "max_pool2d: padding (top 2, bottom 2, left 0, right 0) must be smaller than the kernel 2x2 on each side, so every window holds an input element"
    );
    assert!(matches!(x.avg_pool2d((5, 1), (1, 1), Padding::Valid), Err(Error::BadShape { op: "avg_pool2d", .. })));
    assert!(matches!(
        x.max_pool2d((2, 2), (0, 2), Padding::Valid),
        Err(Error::InvalidArgument { op: "max_pool2d", .. })
    ));
    let v = tape.input(Tensor::zeros([4, 4]).unwrap());
    assert!(matches!(v.max_pool2d((2, 2), (2, 2), Padding::Valid), Err(Error::BadShape { op: "max_pool2d", .. })));
    assert!(matches!(v.gather(vec![16], [1]), Err(Error::IndexOutOfRange { op: "gather", index: 16, bound: 16 })));
    assert!(matches!(v.gather(vec![1, 2], [3]), Err(Error::LengthMismatch { op: "gather", .. })));
    assert_eq!(v.scatter_add(vec![0; 16], [3]).unwrap().value().dims(), &[3]);
    assert!(matches!(v.scatter_add(vec![0; 15], [3]), Err(Error::LengthMismatch { op: "scatter_add", .. })));
    assert!(matches!(
        v.scatter_add(vec![3; 16], [3]),
        Err(Error::IndexOutOfRange { op: "scatter_add", index: 3, bound: 3 })
    ));
}

/// Distinct values at least 0.05 apart in a random order: no ties within a finite-difference step.
fn untied(rng: &mut StdRng, s: &Shape) -> Tensor<f64> {
    let mut v: Vec<f64> = (0..s.numel()).map(|i| i as f64 * 0.1 - 1.0 + rng.random_range(0.0..0.05)).collect();
    v.shuffle(rng);
    Tensor::from_vec(v, s.clone()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn pool_gradients_match_finite_differences(seed in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let (n, c) = (rng.random_range(1..=2), rng.random_range(1..=3));
        let (h, w) = (rng.random_range(1..=6), rng.random_range(1..=6));
        let kernel = (rng.random_range(1..=h.min(3)), rng.random_range(1..=w.min(3)));
        let stride = (rng.random_range(1..=3), rng.random_range(1..=3));
        let pad = match rng.random_range(0..3) {
            0 => Padding::Valid,
            1 => Padding::Same,
            _ => Padding::Explicit {
                top: rng.random_range(0..kernel.0),
                bottom: rng.random_range(0..kernel.0),
                left: rng.random_range(0..kernel.1),
                right: rng.random_range(0..kernel.1),
            },
        };
        let s = Shape::new(&[n, c, h, w]);
        let x = untied(&mut rng, &s);
        check_both(|_t, v| v[0].max_pool2d(kernel, stride, pad), std::slice::from_ref(&x))?;
        check_both(|_t, v| { let y = v[0].max_pool2d(kernel, stride, pad)?; y.mul(y) }, std::slice::from_ref(&x))?;
        let x = random_tensor(&mut rng, &s, (-1.0, 1.0));
        check_both(|_t, v| { let y = v[0].avg_pool2d(kernel, stride, pad)?; y.mul(y) }, std::slice::from_ref(&x))?;
        let idx: Vec<usize> = (0..7).map(|_| rng.random_range(0..s.numel())).collect();
        let i2 = idx.clone();
        check_both(move |_t, v| { let y = v[0].gather(i2.clone(), [7])?; y.mul(y) }, std::slice::from_ref(&x))?;
        let g = random_tensor(&mut rng, &Shape::new(&[7]), (-1.0, 1.0));
        let sc = s.clone();
        check_both(move |_t, v| { let y = v[0].scatter_add(idx.clone(), sc.clone())?; y.mul(y) }, &[g])?;
    }
}
