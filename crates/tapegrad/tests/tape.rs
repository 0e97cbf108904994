//! Tape semantics: deep chains, repeated backward, unused parameters, no-grad mode, memory, custom ops.

use smallvec::smallvec;
use tapegrad::{
    BackwardCx, Error, GradCheckConfig, Op, OpGrads, Param, Result, Tape, Tensor, Val, check_gradients,
    check_second_order,
};

#[test]
fn a_100k_op_chain_runs_backward_without_recursion() {
    let tape = Tape::<f64>::with_capacity(100_001);
    let x = tape.leaf(Tensor::scalar(0.5));
    let mut y = x;
    for _ in 0..100_000 {
        y = y.mul_scalar(1.0);
    }
    let g = y.backward().unwrap();
    assert_eq!(g.get(x).unwrap().unwrap().item().unwrap(), 1.0);
    assert_eq!(tape.len(), 100_001);
}

#[test]
fn backward_is_idempotent() {
    let w = Param::new(Tensor::from_vec(vec![0.3, -0.7], [2]).unwrap());
    let tape = Tape::<f64>::new();
    let p = tape.param(&w);
    let loss = (p * p).tanh().sum();
    let g1 = loss.backward().unwrap();
    let g2 = loss.backward().unwrap();
    assert_eq!(g1.param(&w).unwrap(), g2.param(&w).unwrap());
}

#[test]
fn gradients_of_a_reused_node_are_summed() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::scalar(3.0));
    let a = x * x; // 2x
    let b = a + x; // 2x + 1
    let c = b * a; // d/dx (x^2 + x) x^2 = 4x^3 + 3x^2 = 108 + 27
    let g = c.backward().unwrap();
    assert_eq!(g.get(x).unwrap().unwrap().item().unwrap(), 135.0);
}

#[test]
fn an_unused_parameter_gets_no_gradient() {
    let used = Param::new(Tensor::scalar(1.0f32));
    let unused = Param::new(Tensor::scalar(2.0f32));
    let tape = Tape::new();
    let _ = tape.param(&unused);
    let loss = tape.param(&used) * 3.0;
    let g = loss.backward().unwrap();
    assert_eq!(g.param(&used).unwrap().item().unwrap(), 3.0);
    assert!(g.param(&unused).is_none());
}

#[test]
fn only_nodes_that_need_a_gradient_get_one() {
    let tape = Tape::<f64>::new();
    let data = tape.input(Tensor::scalar(2.0));
    let c = tape.constant(Tensor::scalar(5.0));
    let x = tape.leaf(Tensor::scalar(1.0));
    let y = (data * c).exp() + x;
    assert!(!(data * c).requires_grad());
    let g = y.backward().unwrap();
    assert!(g.get(data).unwrap().is_none() && g.get(c).unwrap().is_none());
    assert_eq!(g.get(x).unwrap().unwrap().item().unwrap(), 1.0);
}

#[test]
fn no_grad_mode_records_no_operation() {
    let w = Param::new(Tensor::ones([3, 2]).unwrap());
    let tape = Tape::<f32>::new();
    let y = tape.no_grad(|| {
        let x = tape.input(Tensor::ones([4, 3]).unwrap());
        x.matmul(tape.param(&w)).unwrap().relu().sum()
    });
    assert_eq!(tape.recorded_ops(), 0);
    assert_eq!(y.item().unwrap(), 24.0);
    assert!(!y.requires_grad());
    assert!(tape.grad_enabled());
}

#[test]
fn a_scalar_loss_is_required() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::zeros([2]).unwrap());
    assert_eq!(
        x.backward().unwrap_err().to_string(),
        "backward: the loss must have exactly one element (got shape [2])"
    );
}

#[test]
fn dropping_the_tape_releases_parameter_storage_for_in_place_updates() {
    let mut w = Param::new(Tensor::<f32>::ones([256]).unwrap());
    let ptr = w.value().data().as_ptr();
    for _ in 0..1000 {
        let tape = Tape::new();
        let loss = tape.param(&w).square().sum();
        let g = loss.backward().unwrap().param(&w).unwrap().clone();
        drop(tape);
        for (v, d) in w.value_mut().data_mut().iter_mut().zip(g.data()) {
            *v -= 0.001 * d;
        }
        assert_eq!(w.value().data().as_ptr(), ptr, "the update copied the parameter");
    }
    assert!(w.value().is_unique());
}

#[test]
fn clearing_the_tape_frees_its_nodes() {
    let mut tape = Tape::<f64>::new();
    for _ in 0..3 {
        {
            let x = tape.leaf(Tensor::ones([100]).unwrap());
            let _ = x.exp().sum().backward().unwrap();
        }
        assert_eq!(tape.len(), 3); // leaf, exp, sum: backward adds nothing
        tape.clear();
        assert!(tape.is_empty());
    }
}

/// A user-defined op: y = x^3 with its derivative 3 x^2 written with the same differentiable operations as
/// the built-in ops, so second order works too.
struct Cube;
impl Op<f64> for Cube {
    fn name(&self) -> &'static str {
        "cube"
    }
    fn backward(&self, cx: &BackwardCx<'_, f64>, g: Val<f64>) -> Result<OpGrads<f64>> {
        let x = cx.input(0);
        let d = cx.scale(cx.mul(x.clone(), x)?, 3.0)?;
        Ok(smallvec![Some(cx.mul(g, d)?)])
    }
}

/// The same op with a wrong derivative (2 x^2): the checks must catch it.
struct BadCube;
impl Op<f64> for BadCube {
    fn name(&self) -> &'static str {
        "bad_cube"
    }
    fn backward(&self, cx: &BackwardCx<'_, f64>, g: Val<f64>) -> Result<OpGrads<f64>> {
        let x = cx.input(0);
        Ok(smallvec![Some(cx.mul(g, cx.scale(cx.mul(x.clone(), x)?, 2.0)?)?)])
    }
}

fn cube<'t>(tape: &'t Tape<f64>, x: tapegrad::Var<'t, f64>, bad: bool) -> Result<tapegrad::Var<'t, f64>> {
    let v = x.value().map(|a| a * a * a);
    if bad { tape.record(BadCube, &[x], v) } else { tape.record(Cube, &[x], v) }
}

#[test]
fn a_custom_op_passes_first_and_second_order_checks() {
    let x = Tensor::from_vec(vec![0.4, -1.3, 2.1], [3]).unwrap();
    let cfg = GradCheckConfig::default();
    check_gradients(|t, v| cube(t, v[0], false), std::slice::from_ref(&x), cfg).unwrap();
    check_second_order(|t, v| cube(t, v[0], false), std::slice::from_ref(&x), cfg).unwrap();
}

#[test]
fn check_gradients_reports_a_wrong_derivative_with_input_element_and_values() {
    let x = Tensor::from_vec(vec![0.4, -1.3], [2]).unwrap();
    let e = check_gradients(|t, v| cube(t, v[0], true), &[x], GradCheckConfig::default()).unwrap_err();
    let Error::GradientMismatch { input, element, analytic, numeric, .. } = e else { panic!("{e}") };
    assert_eq!((input, element), (0, 0));
    assert!((analytic / numeric - 2.0 / 3.0).abs() < 1e-3, "{analytic} vs {numeric}");
    assert!(e.to_string().starts_with("gradient check: input 0 element 0: analytic"));
}

/// An op whose backward returns two gradients for its one input.
struct TwoGrads;
impl Op<f64> for TwoGrads {
    fn name(&self) -> &'static str {
        "two_grads"
    }
    fn backward(&self, _cx: &BackwardCx<'_, f64>, g: Val<f64>) -> Result<OpGrads<f64>> {
        Ok(smallvec![Some(g.clone()), Some(g)])
    }
}

#[test]
fn a_custom_op_returning_the_wrong_number_of_gradients_is_an_error_naming_it() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::scalar(2.0));
    let y = tape.record(TwoGrads, &[x], x.value()).unwrap();
    let e = y.backward().unwrap_err();
    assert_eq!(e.to_string(), "two_grads: backward returned 2 gradients for 1 inputs");
    // The same with a gradient graph (second order).
    let e = tape.grad_graph(y, &[x]).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument { op: "two_grads", .. }), "{e}");
}

#[test]
fn anomaly_mode_reports_a_non_finite_backward() {
    let tape = Tape::<f64>::new();
    tape.set_anomaly(true);
    let x = tape.leaf(Tensor::scalar(0.0));
    let y = x.sqrt(); // forward 0 is fine, derivative 1 / (2 * 0) is not
    let e = y.backward().unwrap_err();
    assert_eq!(e.to_string(), "anomaly: backward of sqrt (node 1, inputs []) produced a non-finite value");
}

#[test]
fn a_parameter_first_used_under_no_grad_still_gets_its_gradient_later() {
    let w = Param::new(Tensor::scalar(2.0f64));
    let tape = Tape::new();
    let _ = tape.no_grad(|| tape.param(&w) * 3.0);
    let loss = tape.param(&w) * 3.0;
    assert_eq!(loss.backward().unwrap().param(&w).unwrap().item().unwrap(), 3.0);
}
