use crate::ops::conv::tests::problem;
use crate::ops::testing::{check_both, random_tensor};
use crate::{Error, Padding, Shape, Tape, Tensor, Var, Window2d};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// `conv2d` as the unfold + batched matmul formulation it replaced: `reshape(w, [O, C kh kw])` broadcast
/// over the batch, times `unfold(x)`, plus the bias.
fn conv_by_unfold<'t>(x: Var<'t, f64>, w: Var<'t, f64>, b: Var<'t, f64>, win: Window2d) -> crate::Result<Var<'t, f64>> {
    let (xd, wd) = (x.shape(), w.shape());
    let (n, o, ck) = (xd.dims()[0], wd.dims()[0], wd.dims()[1] * wd.dims()[2] * wd.dims()[3]);
    let d = win.check("test", &xd)?;
    let wb = w.reshape([o, ck])?.broadcast_to(&Shape::new(&[n, o, ck]))?;
    wb.matmul(x.unfold(win)?)?.reshape([n, o, d.oh, d.ow])?.add(b.reshape([1, o, 1, 1])?)
}

fn dot(a: &Tensor<f64>, b: &Tensor<f64>) -> f64 {
    a.data().iter().zip(b.data()).map(|(x, y)| x * y).sum()
}

#[test]
fn conv_input_grad_and_conv_weight_grad_by_hand() {
    // x = [[1, 2], [3, 4]], 2x2 kernel, valid: one output. g = 2 spreads 2 w over the window for dx and
    // 2 x for dw.
    let tape = Tape::<f64>::new();
    let win = Window2d::new((2, 2), (1, 1), Padding::Valid);
    let x = tape.input(Tensor::from_vec(vec![1., 2., 3., 4.], [1, 1, 2, 2]).unwrap());
    let w = tape.input(Tensor::from_vec(vec![1., 0., -1., 0.5], [1, 1, 2, 2]).unwrap());
    let g = tape.input(Tensor::from_vec(vec![2.], [1, 1, 1, 1]).unwrap());
    assert_eq!(g.conv_input_grad(w, win, (2, 2)).unwrap().value().to_vec(), vec![2., 0., -2., 1.]);
    assert_eq!(x.conv_weight_grad(g, win).unwrap().value().to_vec(), vec![2., 4., 6., 8.]);
    // Stride 2 over a 3x3 input leaves the last row and column uncovered: their input gradient is zero.
    let win = Window2d::new((2, 2), (2, 2), Padding::Valid);
    let dx = g.conv_input_grad(w, win, (3, 3)).unwrap().value();
    assert_eq!(dx.to_vec(), vec![2., 0., 0., -2., 1., 0., 0., 0., 0.]);
}

#[test]
fn conv_grad_errors_name_the_op_and_the_shapes() {
    let tape = Tape::<f64>::new();
    let win = Window2d::new((3, 3), (1, 1), Padding::Valid);
    let x = tape.input(Tensor::zeros([2, 3, 5, 5]).unwrap());
    let w = tape.input(Tensor::zeros([4, 3, 3, 3]).unwrap());
    let g = tape.input(Tensor::zeros([2, 4, 3, 3]).unwrap());
    assert!(g.conv_input_grad(w, win, (5, 5)).is_ok());
    assert!(x.conv_weight_grad(g, win).is_ok());
    let flat = tape.input(Tensor::zeros([4, 3, 3]).unwrap());
    assert_eq!(
        flat.conv_input_grad(w, win, (5, 5)).unwrap_err().to_string(),
        "conv_input_grad: expected a 4-D output gradient [N, O, oh, ow] (got [4, 3, 3])"
    );
    assert_eq!(
        g.conv_input_grad(flat, win, (5, 5)).unwrap_err().to_string(),
        "conv_input_grad: expected a 4-D weight [O, C, kh, kw] (got [4, 3, 3])"
    );
    let w2 = tape.input(Tensor::zeros([4, 3, 2, 3]).unwrap());
    assert_eq!(
        g.conv_input_grad(w2, win, (5, 5)).unwrap_err().to_string(),
        "conv_input_grad: expected a weight [O, C, 3, 3] for a 3x3 window (got [4, 3, 2, 3])"
    );
    assert_eq!(
        g.conv_input_grad(w, win, (6, 5)).unwrap_err().to_string(),
        "conv_input_grad: the output gradient must be [2, O, 4, 3] for this input and a 3x3 window at stride \
         (1, 1) ([2, 3, 6, 5] and [2, 4, 3, 3])"
    );
    let w5 = tape.input(Tensor::zeros([5, 3, 3, 3]).unwrap());
    assert_eq!(
        g.conv_input_grad(w5, win, (5, 5)).unwrap_err().to_string(),
        "conv_input_grad: output channels differ: the gradient has 4, the weight [O, C, kh, kw] has 5 \
         ([2, 4, 3, 3] and [5, 3, 3, 3])"
    );
    assert!(matches!(g.conv_input_grad(w, win, (2, 2)), Err(Error::BadShape { op: "conv_input_grad", .. })));
    let huge = g.conv_input_grad(w, win, (usize::MAX / 2, 3)).unwrap_err().to_string();
    assert!(huge.starts_with("conv_input_grad: the output [2, 3, "), "{huge}");
    let zero = Window2d::new((3, 3), (0, 1), Padding::Valid);
    assert!(matches!(g.conv_input_grad(w, zero, (5, 5)), Err(Error::InvalidArgument { op: "conv_input_grad", .. })));
    // conv_weight_grad: a gradient of the wrong batch or size.
    let g1 = tape.input(Tensor::zeros([1, 4, 3, 3]).unwrap());
    assert!(matches!(x.conv_weight_grad(g1, win), Err(Error::ShapeMismatch { op: "conv_weight_grad", .. })));
    let g4 = tape.input(Tensor::zeros([2, 4, 4, 4]).unwrap());
    assert!(matches!(x.conv_weight_grad(g4, win), Err(Error::ShapeMismatch { op: "conv_weight_grad", .. })));
    assert_eq!(
        flat.conv_weight_grad(g, win).unwrap_err().to_string(),
        "conv_weight_grad: expected a 4-D input [N, C, H, W] (got [4, 3, 3])"
    );
    assert!(matches!(x.conv_weight_grad(flat, win), Err(Error::BadShape { op: "conv_weight_grad", .. })));
    let big = Window2d::new((6, 6), (1, 1), Padding::Valid);
    assert!(matches!(x.conv_weight_grad(g, big), Err(Error::BadShape { op: "conv_weight_grad", .. })));
    let other = Tape::<f64>::new();
    let foreign = other.input(Tensor::zeros([4, 3, 3, 3]).unwrap());
    assert!(matches!(g.conv_input_grad(foreign, win, (5, 5)), Err(Error::ForeignVar { op: "conv_input_grad" })));
    let foreign = other.input(Tensor::zeros([2, 4, 3, 3]).unwrap());
    assert!(matches!(x.conv_weight_grad(foreign, win), Err(Error::ForeignVar { op: "conv_weight_grad" })));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn conv2d_equals_the_unfold_matmul_formulation_and_the_gradients_are_its_adjoints(seed in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let p = problem(&mut rng);
        let win = p.window();
        let tape = Tape::<f64>::new();
        let (x, w, b) = (tape.leaf(p.x.clone()), tape.leaf(p.w.clone()), tape.leaf(p.b.clone()));
        let y = x.conv2d(w, Some(b), p.stride, p.padding).unwrap();
        let want = conv_by_unfold(x, w, b, win).unwrap();
        prop_assert_eq!(y.shape(), want.shape());
        prop_assert!(y.value().max_abs_diff(&want.value()).unwrap() < 1e-12);
        // The derivatives agree with the composite's too.
        let gy = tape.constant(random_tensor(&mut rng, &y.shape(), (-1.0, 1.0)));
        let ours = y.mul(gy).unwrap().sum().backward().unwrap();
        let theirs = want.mul(gy).unwrap().sum().backward().unwrap();
        for v in [x, w, b] {
            prop_assert!(ours.get(v).unwrap().unwrap().max_abs_diff(theirs.get(v).unwrap().unwrap()).unwrap() < 1e-12);
        }
        // <u, conv_input_grad(g, w)> = <conv2d(u, w), g> = <conv_weight_grad(u, g), w>.
        let xd = p.x.dims();
        let u = tape.input(random_tensor(&mut rng, &p.x.shape().clone(), (-1.0, 1.0)));
        let dx = gy.conv_input_grad(w, win, (xd[2], xd[3])).unwrap().value();
        let dw = u.conv_weight_grad(gy, win).unwrap().value();
        let yu = u.conv2d(w, None, p.stride, p.padding).unwrap().value();
        let (a, bb, c) = (dot(&u.value(), &dx), dot(&yu, &gy.value()), dot(&dw, &p.w));
        prop_assert!((a - bb).abs() < 1e-10 && (bb - c).abs() < 1e-10, "{a} {bb} {c}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    #[test]
    fn conv_input_grad_and_conv_weight_grad_match_finite_differences(seed in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let p = problem(&mut rng);
        let win = p.window();
        let xd = p.x.dims().to_vec();
        let hw = (xd[2], xd[3]);
        let tape = Tape::<f64>::new();
        let yshape = tape.input(p.x.clone()).conv2d(tape.input(p.w.clone()), None, p.stride, p.padding).unwrap().shape();
        let g = random_tensor(&mut rng, &yshape, (-1.0, 1.0));
        // Each alone (bilinear), and through tanh so every second derivative is exercised.
        check_both(|_t, v| v[0].conv_input_grad(v[1], win, hw), &[g.clone(), p.w.clone()])?;
        check_both(|_t, v| Ok(v[0].conv_input_grad(v[1], win, hw)?.tanh()), &[g.clone(), p.w.clone()])?;
        check_both(|_t, v| v[0].conv_weight_grad(v[1], win), &[p.x.clone(), g.clone()])?;
        check_both(|_t, v| Ok(v[0].conv_weight_grad(v[1], win)?.tanh()), &[p.x.clone(), g.clone()])?;
        // A reused node: the weight gradient of a convolution's own output, and a two-layer network.
        let (s, pad) = (p.stride, p.padding);
        check_both(|_t, v| v[0].conv_weight_grad(v[0].conv2d(v[1], None, s, pad)?.tanh(), win), &[p.x.clone(), p.w.clone()])?;
        check_both(
            |_t, v| {
                let h = v[0].conv2d(v[1], Some(v[2]), s, pad)?.tanh();
                let w2 = v[1].permute(&[1, 0, 2, 3])?; // O -> C back again: [C, O, kh, kw]
                Ok(h.conv2d(w2, None, (1, 1), Padding::Same)?.sin())
            },
            &[p.x.clone(), p.w.clone(), p.b.clone()],
        )?;
    }
}
