//! Higher-order derivatives: Hessian-vector products, Jacobians and Hessians against closed forms.

use tapegrad::{Tape, Tensor, hessian, hvp, jacobian};

/// Rosenbrock f(x, y) = (1 - x)^2 + 100 (y - x^2)^2 on a tensor [2].
fn rosenbrock<'t>(_t: &'t Tape<f64>, v: &[tapegrad::Var<'t, f64>]) -> tapegrad::Result<tapegrad::Var<'t, f64>> {
    let x = v[0].narrow(0, 0, 1)?;
    let y = v[0].narrow(0, 1, 1)?;
    let a = (1.0 - x).square();
    let b = (y - x.square()).square() * 100.0;
    Ok((a + b).sum())
}

fn rosenbrock_hessian(x: f64, y: f64) -> [f64; 4] {
    [2.0 - 400.0 * (y - 3.0 * x * x), -400.0 * x, -400.0 * x, 200.0]
}

#[test]
fn hessian_of_rosenbrock_matches_the_closed_form() {
    let p = Tensor::from_vec(vec![-1.2, 1.0], [2]).unwrap();
    let h = hessian(rosenbrock, &[p]).unwrap();
    let want = rosenbrock_hessian(-1.2, 1.0);
    for (a, b) in h.data().iter().zip(want) {
        assert!((a - b).abs() < 1e-9, "{a} vs {b}");
    }
}

#[test]
fn hvp_equals_the_hessian_times_the_vector() {
    let p = Tensor::from_vec(vec![0.3, 0.7], [2]).unwrap();
    let v = Tensor::from_vec(vec![1.5, -2.0], [2]).unwrap();
    let (loss, hv) = hvp(rosenbrock, std::slice::from_ref(&p), std::slice::from_ref(&v)).unwrap();
    assert!((loss - (0.49 + 100.0 * (0.7f64 - 0.09).powi(2))).abs() < 1e-12);
    let h = rosenbrock_hessian(0.3, 0.7);
    let want = [h[0] * 1.5 + h[1] * -2.0, h[2] * 1.5 + h[3] * -2.0];
    for (a, b) in hv[0].data().iter().zip(want) {
        assert!((a - b).abs() < 1e-9, "{a} vs {b}");
    }
}

#[test]
fn jacobian_of_a_matrix_map_is_the_matrix() {
    let a = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [3, 2]).unwrap();
    let x = Tensor::from_vec(vec![0.5, -0.5], [2, 1]).unwrap();
    let j = jacobian(|t, v| t.constant(a.clone()).matmul(v[0]), &[x]).unwrap();
    assert_eq!(j.dims(), &[3, 2]);
    assert_eq!(j.data(), a.data());
}

#[test]
fn third_derivative_through_two_recorded_gradients() {
    // f = x^4: f' = 4x^3, f'' = 12x^2, f''' = 24x.
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::scalar(1.5));
    let f = x.powf(4.0).unwrap();
    let d1 = tape.grad_graph(f, &[x]).unwrap()[0];
    let d2 = tape.grad_graph(d1, &[x]).unwrap()[0];
    let d3 = tape.grad(d2, &[x]).unwrap();
    assert!((d1.item().unwrap() - 4.0 * 1.5f64.powi(3)).abs() < 1e-12);
    assert!((d2.item().unwrap() - 12.0 * 2.25).abs() < 1e-12);
    assert!((d3[0].item().unwrap() - 36.0).abs() < 1e-12);
}

#[test]
fn first_order_backward_records_nothing_new() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::from_vec(vec![0.1, 0.2], [2]).unwrap());
    let y = x.tanh().sum();
    let before = tape.len();
    let _ = y.backward().unwrap();
    assert_eq!(tape.len(), before);
    let _ = tape.grad_graph(y, &[x]).unwrap();
    assert!(tape.len() > before);
}

/// The digits-MLP loss of the h1 workload, small: `softmax CE(relu(relu(x W1 + b1) W2 + b2) W3 + b3)`.
fn relu_mlp<'t>(t: &'t Tape<f64>, p: &[tapegrad::Var<'t, f64>]) -> tapegrad::Result<tapegrad::Var<'t, f64>> {
    let x = Tensor::from_vec((0..15).map(|i| ((i * 7 % 11) as f64 - 5.0) / 4.0).collect(), [5, 3])?;
    let mut h = t.input(x);
    for layer in 0..3 {
        h = h.matmul(p[2 * layer])?.add(p[2 * layer + 1])?;
        if layer < 2 {
            h = h.relu();
        }
    }
    h.softmax_cross_entropy(&[0, 1, 2, 1, 0])
}

/// Parameters of `relu_mlp` (3 -> 4 -> 4 -> 3) away from every relu kink, and a direction.
fn mlp_point(seed: usize) -> Vec<Tensor<f64>> {
    let dims = [3, 4, 4, 3];
    let val = |i: usize| (((i * 31 + seed * 17) % 29) as f64 - 14.0) / 15.0;
    (0..3)
        .flat_map(|l| {
            let w = Tensor::from_vec(
                (0..dims[l] * dims[l + 1]).map(|i| val(i + 100 * l)).collect(),
                [dims[l], dims[l + 1]],
            );
            let b =
                Tensor::from_vec((0..dims[l + 1]).map(|i| 0.5 + val(i + 50 + 100 * l) / 4.0).collect(), [dims[l + 1]]);
            [w.unwrap(), b.unwrap()]
        })
        .collect()
}

#[test]
fn hvp_of_a_relu_mlp_equals_the_hessian_times_the_vector() {
    let (p, v) = (mlp_point(1), mlp_point(2));
    let (_, hv) = hvp(relu_mlp, &p, &v).unwrap();
    // The Hessian, built element by element from the recorded gradient graph, times v.
    let h = hessian(relu_mlp, &p).unwrap();
    let n = h.dims()[0];
    let flat_v: Vec<f64> = v.iter().flat_map(|t| t.to_vec()).collect();
    let flat_hv: Vec<f64> = hv.iter().flat_map(|t| t.to_vec()).collect();
    assert_eq!(flat_hv.len(), n);
    let mut worst = 0.0f64;
    for (row, got) in h.data().chunks_exact(n).zip(&flat_hv) {
        let want: f64 = row.iter().zip(&flat_v).map(|(a, b)| a * b).sum();
        worst = worst.max((got - want).abs());
    }
    assert!(worst < 1e-12, "H v differs by {worst}");
    assert!(flat_hv.iter().any(|x| x.abs() > 1e-3), "a vanishing H v would prove nothing");
}

#[test]
fn hvp_of_a_relu_mlp_records_only_the_gradient_graph() {
    // The forward is 7 leaves and 9 ops; its gradient graph needs the seed, the loss's derivative (one op),
    // three bias sums, five products (no input gradient) and two relu derivatives: 12 nodes. The HVP's
    // second walk records nothing.
    let p = mlp_point(3);
    let tape = Tape::new();
    let vars: Vec<_> = p.iter().map(|t| tape.leaf(t.clone())).collect();
    let loss = relu_mlp(&tape, &vars).unwrap();
    assert_eq!(tape.len(), 16);
    tape.hvp(loss, &vars, &mlp_point(4)).unwrap();
    assert_eq!(tape.len(), 16 + 12);
}
