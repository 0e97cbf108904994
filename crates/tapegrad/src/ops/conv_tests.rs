use super::{Padding, Window2d};
use crate::ops::testing::{check_both, random_tensor};
use crate::{Error, Shape, Tape, Tensor, conv_output_size};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// A direct convolution by definition, one multiply-add at a time.
fn conv_oracle(x: &Tensor<f64>, w: &Tensor<f64>, b: Option<&Tensor<f64>>, win: &Window2d) -> Tensor<f64> {
    let (&[n, c, h, wd], &[o, _, kh, kw]) = (x.dims(), w.dims()) else { unreachable!() };
    let d = win.check("oracle", x.shape()).unwrap();
    let mut out = Vec::new();
    for ni in 0..n {
        for oi in 0..o {
            for oy in 0..d.oh {
                for ox in 0..d.ow {
                    let mut s = b.map_or(0.0, |b| b.data()[oi]);
                    for ci in 0..c {
                        for ki in 0..kh {
                            for kj in 0..kw {
                                let iy = (oy * win.sh + ki) as isize - win.top as isize;
                                let ix = (ox * win.sw + kj) as isize - win.left as isize;
                                if iy < 0 || ix < 0 || iy as usize >= h || ix as usize >= wd {
                                    continue;
                                }
                                let xv = x.data()[((ni * c + ci) * h + iy as usize) * wd + ix as usize];
                                s += xv * w.data()[((oi * c + ci) * kh + ki) * kw + kj];
                            }
                        }
                    }
                    out.push(s);
                }
            }
        }
    }
    Tensor::from_vec(out, [n, o, d.oh, d.ow]).unwrap()
}

/// A random convolution problem: N, C, O, H, W, kernel, stride and padding, the kernel fitting the padded
/// input.
pub(crate) struct Problem {
    pub(crate) x: Tensor<f64>,
    pub(crate) w: Tensor<f64>,
    pub(crate) b: Tensor<f64>,
    pub(crate) stride: (usize, usize),
    pub(crate) padding: Padding,
}

impl Problem {
    /// The window of this problem's convolution.
    pub(crate) fn window(&self) -> Window2d {
        Window2d::new((self.w.dims()[2], self.w.dims()[3]), self.stride, self.padding)
    }
}

fn random_padding(rng: &mut StdRng) -> Padding {
    match rng.random_range(0..5) {
        0 => Padding::Valid,
        1 => Padding::Same,
        2 => Padding::Full,
        3 => Padding::symmetric(rng.random_range(0..=2), rng.random_range(0..=2)),
        _ => Padding::Explicit {
            top: rng.random_range(0..=2),
            bottom: rng.random_range(0..=2),
            left: rng.random_range(0..=2),
            right: rng.random_range(0..=2),
        },
    }
}

pub(crate) fn problem(rng: &mut StdRng) -> Problem {
    loop {
        let (n, c, o) = (rng.random_range(1..=2), rng.random_range(1..=3), rng.random_range(1..=3));
        let (h, w) = (rng.random_range(1..=6), rng.random_range(1..=6));
        let (kh, kw) = (rng.random_range(1..=3), rng.random_range(1..=3));
        let stride = (rng.random_range(1..=3), rng.random_range(1..=3));
        let padding = random_padding(rng);
        let win = Window2d::new((kh, kw), stride, padding);
        if win.check("problem", &Shape::new(&[n, c, h, w])).is_err() {
            continue;
        }
        return Problem {
            x: random_tensor(rng, &Shape::new(&[n, c, h, w]), (-1.0, 1.0)),
            w: random_tensor(rng, &Shape::new(&[o, c, kh, kw]), (-1.0, 1.0)),
            b: random_tensor(rng, &Shape::new(&[o]), (-1.0, 1.0)),
            stride,
            padding,
        };
    }
}

#[test]
fn the_simplest_convolution_by_hand() {
    // Image [[1, 2, 0], [0, 1, 3], [2, 1, 0]], kernel [[1, 0], [0, 1]], bias 0.5: each output is
    // x[i, j] + x[i + 1, j + 1] + 0.5.
    let tape = Tape::<f64>::new();
    let x = tape.input(Tensor::from_vec(vec![1., 2., 0., 0., 1., 3., 2., 1., 0.], [1, 1, 3, 3]).unwrap());
    let w = tape.input(Tensor::from_vec(vec![1., 0., 0., 1.], [1, 1, 2, 2]).unwrap());
    let b = tape.input(Tensor::from_vec(vec![0.5], [1]).unwrap());
    let y = x.conv2d(w, Some(b), (1, 1), Padding::Valid).unwrap();
    assert_eq!(y.value().dims(), &[1, 1, 2, 2]);
    assert_eq!(y.value().to_vec(), vec![2.5, 5.5, 1.5, 1.5]);
    // Stride 2 keeps the top-left output only; full padding puts the kernel over every overlap.
    assert_eq!(x.conv2d(w, Some(b), (2, 2), Padding::Valid).unwrap().value().to_vec(), vec![2.5]);
    let full = x.conv2d(w, None, (1, 1), Padding::Full).unwrap().value();
    assert_eq!(full.dims(), &[1, 1, 4, 4]);
    assert_eq!(full.to_vec()[..4], [1., 2., 0., 0.]); // row 0: the kernel's bottom-right over the image's row 0
}

#[test]
fn unfold_lays_out_patches_as_pytorch_does() {
    // F.unfold(arange(1, 10).view(1, 1, 3, 3), kernel_size=2): rows are kernel offsets, columns positions.
    let tape = Tape::<f64>::new();
    let x = tape.input(Tensor::from_vec((1..=9).map(f64::from).collect(), [1, 1, 3, 3]).unwrap());
    let p = x.unfold(Window2d::new((2, 2), (1, 1), Padding::Valid)).unwrap().value();
    assert_eq!(p.dims(), &[1, 4, 4]);
    assert_eq!(p.to_vec(), vec![1., 2., 4., 5., 2., 3., 5., 6., 4., 5., 7., 8., 5., 6., 8., 9.]);
    // fold of unfold counts how many windows cover each pixel.
    let ones = tape.input(Tensor::ones([1, 1, 3, 3]).unwrap());
    let win = Window2d::new((2, 2), (1, 1), Padding::Valid);
    let counts = ones.unfold(win).unwrap().fold((3, 3), win).unwrap().value();
    assert_eq!(counts.to_vec(), vec![1., 2., 1., 2., 4., 2., 1., 2., 1.]);
}

#[test]
fn output_sizes_follow_the_lectures_table() {
    // (i, k, s, padding, o): valid p = 0, same p = k - 1 (o = i at stride 1), full p = 2 (k - 1)
    // (o = i + k - 1), and stride s downsampling.
    let table = [
        (5, 3, 1, Padding::Valid, 3),
        (5, 3, 1, Padding::Same, 5),
        (5, 3, 1, Padding::Full, 7),
        (5, 3, 2, Padding::Valid, 2),
        (5, 3, 2, Padding::Same, 3),
        (5, 3, 2, Padding::Full, 4),
        (6, 4, 1, Padding::Same, 6),
        (6, 4, 1, Padding::Full, 9),
        (7, 2, 2, Padding::Valid, 3),
        (32, 5, 1, Padding::symmetric(2, 2), 32),
        (28, 2, 2, Padding::Valid, 14),
        (8, 3, 3, Padding::Same, 3),
    ];
    for (i, k, s, pad, o) in table {
        let (t, b, _, _) = pad.resolve(k, k);
        assert_eq!(conv_output_size(i, k, s, t + b).unwrap(), o, "i {i}, k {k}, s {s}, {pad:?}");
        let tape = Tape::<f64>::new();
        let x = tape.input(Tensor::zeros([1, 1, i, i]).unwrap());
        let w = tape.input(Tensor::zeros([1, 1, k, k]).unwrap());
        assert_eq!(x.conv2d(w, None, (s, s), pad).unwrap().value().dims(), &[1, 1, o, o]);
    }
    // Same with an even kernel puts the extra row and column on the bottom and right.
    assert_eq!(Padding::Same.resolve(4, 2), (1, 2, 0, 1));
    assert!(conv_output_size(2, 3, 1, 0).is_err());
    assert!(conv_output_size(3, 3, 0, 0).is_err());
    assert!(conv_output_size(usize::MAX, 1, 1, 1).is_err());
}

#[test]
fn conv2d_errors_name_the_op_and_the_shapes() {
    let tape = Tape::<f64>::new();
    let x = tape.input(Tensor::zeros([1, 2, 4, 4]).unwrap());
    let w = tape.input(Tensor::zeros([3, 2, 3, 3]).unwrap());
    let flat = tape.input(Tensor::zeros([2, 4, 4]).unwrap());
    assert_eq!(
        flat.conv2d(w, None, (1, 1), Padding::Valid).unwrap_err().to_string(),
        "conv2d: expected a 4-D input [N, C, H, W] (got [2, 4, 4])"
    );
    assert_eq!(
        x.conv2d(flat, None, (1, 1), Padding::Valid).unwrap_err().to_string(),
        "conv2d: expected a 4-D weight [O, C, kh, kw] (got [2, 4, 4])"
    );
    let w1 = tape.input(Tensor::zeros([3, 1, 3, 3]).unwrap());
    assert_eq!(
        x.conv2d(w1, None, (1, 1), Padding::Valid).unwrap_err().to_string(),
        "conv2d: input channels differ: the input has 2, the weight [O, C, kh, kw] expects 1 ([1, 2, 4, 4] and [3, 1, 3, 3])"
    );
    let big = tape.input(Tensor::zeros([1, 2, 5, 5]).unwrap());
    assert_eq!(
        x.conv2d(big, None, (1, 1), Padding::Valid).unwrap_err().to_string(),
        "conv2d: kernel 5x5 is larger than the padded input (height 4 + padding 0 + 0 = 4) (got [1, 2, 4, 4])"
    );
    assert!(x.conv2d(big, None, (1, 1), Padding::symmetric(1, 1)).is_ok());
    assert_eq!(
        x.conv2d(w, None, (0, 1), Padding::Valid).unwrap_err().to_string(),
        "conv2d: kernel 3x3 and stride (0, 1) must be positive"
    );
    let b = tape.input(Tensor::zeros([2]).unwrap());
    assert!(matches!(x.conv2d(w, Some(b), (1, 1), Padding::Valid), Err(Error::ShapeMismatch { op: "conv2d", .. })));
    // Sizes that overflow are refused before anything is allocated.
    let huge = 1usize << 61;
    let one = tape.input(Tensor::zeros([1, 1, 1, 1]).unwrap());
    let pad = Padding::Explicit { top: huge, bottom: huge, left: huge, right: huge };
    let err = one.unfold(Window2d::new((1, 1), (1, 1), pad)).unwrap_err().to_string();
    assert!(err.starts_with("unfold: the unfolded size 1 x 1 x 1 x 1 x"), "{err}");
    let pad = Padding::Explicit { top: usize::MAX, bottom: 1, left: 0, right: 0 };
    let err = one.unfold(Window2d::new((1, 1), (1, 1), pad)).unwrap_err().to_string();
    assert!(err.contains("overflows"), "{err}");
    let other = Tape::<f64>::new();
    let foreign = other.input(Tensor::zeros([3, 2, 3, 3]).unwrap());
    assert!(matches!(x.conv2d(foreign, None, (1, 1), Padding::Valid), Err(Error::ForeignVar { op: "conv2d" })));
}

#[test]
fn fold_rejects_patches_that_do_not_match_the_window() {
    let tape = Tape::<f64>::new();
    let win = Window2d::new((2, 2), (1, 1), Padding::Valid);
    let p = tape.input(Tensor::zeros([1, 6, 4]).unwrap());
    assert!(p.fold((3, 3), win).unwrap_err().to_string().starts_with("fold: axis 1 (6) is not a multiple"));
    let p = tape.input(Tensor::zeros([1, 4, 5]).unwrap());
    assert_eq!(
        p.fold((3, 3), win).unwrap_err().to_string(),
        "fold: axis 2 must be oh ow = 2 x 2 = 4 for an output of 3 x 3 (got [1, 4, 5])"
    );
    let p = tape.input(Tensor::zeros([4, 5]).unwrap());
    assert!(matches!(p.fold((3, 3), win), Err(Error::BadShape { op: "fold", .. })));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn conv2d_matches_a_direct_convolution(seed in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let p = problem(&mut rng);
        let tape = Tape::<f64>::new();
        let (x, w, b) = (tape.input(p.x.clone()), tape.input(p.w.clone()), tape.input(p.b.clone()));
        let y = x.conv2d(w, Some(b), p.stride, p.padding).unwrap().value();
        let kd = p.w.dims();
        let want = conv_oracle(&p.x, &p.w, Some(&p.b), &Window2d::new((kd[2], kd[3]), p.stride, p.padding));
        prop_assert_eq!(y.dims(), want.dims());
        prop_assert!(y.max_abs_diff(&want).unwrap() < 1e-12);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn conv_gradients_match_finite_differences(seed in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let p = problem(&mut rng);
        let (s, pad) = (p.stride, p.padding);
        check_both(|_t, v| v[0].conv2d(v[1], Some(v[2]), s, pad), &[p.x.clone(), p.w.clone(), p.b.clone()])?;
        check_both(|_t, v| Ok(v[0].conv2d(v[1], None, s, pad)?.tanh()), &[p.x.clone(), p.w.clone()])?;
        let kd = p.w.dims();
        let win = Window2d::new((kd[2], kd[3]), s, pad);
        check_both(|_t, v| v[0].unfold(win)?.mul(v[0].unfold(win)?), std::slice::from_ref(&p.x))?;
        let xd = p.x.dims();
        let cols = random_tensor(&mut rng, &Tape::<f64>::new().input(p.x.clone()).unfold(win).unwrap().shape(), (-1.0, 1.0));
        let hw = (xd[2], xd[3]);
        check_both(|_t, v| { let y = v[0].fold(hw, win)?; y.mul(y) }, &[cols])?;
    }
}
