//! One regression test per reliability finding of issue 11 (the engine's part): sizes that overflow or do not
//! fit in memory, variables and gradients of another tape, custom ops that misbehave, NaN at the edges.
//!
//! Sizes asked of the allocator here are beyond 2^47 bytes, the user address space of x86-64 Linux, so the
//! allocation fails whatever the machine's overcommit policy (a 4 TiB request could succeed lazily under
//! `vm.overcommit_memory = 1` and then be killed while being filled).

use smallvec::smallvec;
use tapegrad::kernels::gemm::{Gemm, MatRef};
use tapegrad::{BackwardCx, Error, Op, OpGrads, Result, Shape, Tape, Tensor, Val, Var, concat};

/// 2^46 elements: 2^48 bytes of `f32`, 2^49 of `f64`; both fit in `isize` and neither in an address space.
const HUGE: usize = 1 << 46;

fn is_alloc(e: &Error) -> bool {
    matches!(e, Error::Allocation { .. })
}

// ---- sizes ----

#[test]
fn numel_overflow_is_an_error_not_a_segfault() {
    // 2 * (2^63 + 65) wraps to 130 in usize: the buffer of 130 elements was accepted before.
    let e = Tensor::<f32>::from_vec(vec![1.0; 130], [2, (1 << 63) + 65]).unwrap_err();
    assert!(matches!(e, Error::TooLarge { op: "from_vec", .. }), "{e}");
    assert!(e.to_string().starts_with("from_vec: 2 x 9223372036854775873 (more than usize::MAX) elements"), "{e}");
    assert!(matches!(Tensor::<f64>::from_slice(&[0.0; 130], [2, (1 << 63) + 65]), Err(Error::TooLarge { .. })));
    // A shape with a zero dimension has no elements, but its other dimensions must still multiply without
    // overflow (strides and offsets are products of them).
    assert!(matches!(Tensor::<f32>::from_vec(vec![], [0, 1 << 40, 1 << 40]), Err(Error::TooLarge { .. })));
    assert_eq!(Tensor::<f32>::from_vec(vec![], [0, 1 << 20, 1 << 20]).unwrap().numel(), 0);
}

#[test]
fn a_shape_whose_bytes_exceed_isize_is_too_large_even_when_its_count_fits() {
    // 2^62 f32 elements are 2^64 bytes.
    let e = Tensor::<f32>::zeros([1 << 62]).unwrap_err();
    assert!(matches!(e, Error::TooLarge { op: "zeros", .. }), "{e}");
    assert!(Shape::new(&[1 << 62]).checked_numel("x").is_ok());
    assert!(Shape::new(&[1 << 62]).checked_bytes("x", 4).is_err());
}

#[test]
fn zeros_whose_count_wraps_to_zero_is_refused_not_an_empty_tensor() {
    // 2^32 * 2^32 wrapped to 0 elements before, and `get` then panicked.
    for r in [
        Tensor::<f32>::zeros([1 << 32, 1 << 32]),
        Tensor::ones([1 << 32, 1 << 32]),
        Tensor::full([1 << 32, 1 << 32], 2.0),
    ] {
        assert!(matches!(r, Err(Error::TooLarge { .. })));
    }
}

#[test]
fn zeros_beyond_the_address_space_is_an_allocation_error_not_an_abort() {
    let e = Tensor::<f32>::zeros([HUGE]).unwrap_err();
    assert_eq!(e, Error::Allocation { op: "zeros", bytes: HUGE * 4 });
    assert_eq!(e.to_string(), format!("zeros: could not allocate {} bytes", HUGE * 4));
    assert!(is_alloc(&Tensor::<f64>::ones([HUGE]).unwrap_err()));
    assert!(is_alloc(&Tensor::<f64>::full([HUGE], 1.0).unwrap_err()));
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1);
    assert!(is_alloc(&Tensor::<f32>::randn([HUGE], 0.0, 1.0, &mut rng).unwrap_err()));
    assert!(is_alloc(&Tensor::<f32>::rand_uniform([HUGE], 0.0, 1.0, &mut rng).unwrap_err()));
}

#[test]
fn reshape_to_a_wrapping_shape_is_refused() {
    let x = Tensor::<f32>::from_vec(vec![0.0; 6], [6]).unwrap();
    // 2 * (2^63 + 3) wraps to 6.
    assert!(matches!(x.reshape([2, (1 << 63) + 3]), Err(Error::TooLarge { op: "reshape", .. })));
    let tape = Tape::new();
    assert!(matches!(tape.input(x).reshape([2, (1 << 63) + 3]), Err(Error::TooLarge { op: "reshape", .. })));
}

#[test]
fn matmul_of_wrapping_shapes_is_refused() {
    let tape = Tape::<f32>::new();
    // Empty operands whose product would have 2^64 elements.
    let a = tape.input(Tensor::zeros([1 << 32, 0]).unwrap());
    let b = tape.input(Tensor::zeros([0, 1 << 32]).unwrap());
    assert!(matches!(a.matmul(b), Err(Error::TooLarge { op: "matmul", .. })));
    // Small operands whose product does not fit in memory.
    let a = tape.input(Tensor::zeros([1 << 24, 1]).unwrap());
    let b = tape.input(Tensor::zeros([1, 1 << 24]).unwrap());
    assert!(is_alloc(&a.matmul(b).unwrap_err()));
    let w = tape.input(Tensor::zeros([1 << 24, 1]).unwrap());
    assert!(is_alloc(&a.linear(w, None).unwrap_err()));
}

#[test]
#[should_panic(expected = "invariant: gemm views inside their slices")]
fn the_gemm_bounds_check_cannot_wrap() {
    // The view of the segfault: 2 rows of 2^63 + 65 columns, whose end wrapped to 130 (the slice's
    // length) in the old assert. The public kernel must refuse it, not read out of bounds.
    let cols = (1usize << 63) + 65;
    let a = vec![1.0f32; 130];
    let av = MatRef { rows: 2, cols, offset: 0, rs: cols, cs: 1 };
    let bv = MatRef { rows: cols, cols: 2, offset: 0, rs: 2, cs: 1 };
    let mut c = vec![0.0f32; 4];
    f32::gemm(1.0, &a, av, &a, bv, 0.0, &mut c, 0);
}

#[test]
fn narrow_and_pad_past_usize_max_are_errors_not_overflow_panics() {
    let tape = Tape::<f32>::new();
    let x = tape.input(Tensor::zeros([2, 3]).unwrap());
    assert!(matches!(x.narrow(1, usize::MAX, 2), Err(Error::BadShape { op: "narrow", .. })));
    assert!(matches!(x.narrow(1, 2, usize::MAX), Err(Error::BadShape { op: "narrow", .. })));
    assert!(matches!(x.pad(1, usize::MAX, 4), Err(Error::BadShape { op: "pad", .. })));
    assert!(matches!(x.pad(1, 1, usize::MAX), Err(Error::TooLarge { op: "pad", .. })));
}

#[test]
fn broadcast_to_pad_and_index_add_with_huge_outputs_are_allocation_errors() {
    let tape = Tape::<f32>::new();
    let x = tape.input(Tensor::zeros([1, 1]).unwrap());
    assert!(is_alloc(&x.broadcast_to(&Shape::new(&[HUGE, 1])).unwrap_err()));
    assert!(is_alloc(&x.pad(0, 0, HUGE).unwrap_err()));
    assert!(is_alloc(&x.index_add(&[0], HUGE).unwrap_err()));
    assert!(matches!(x.broadcast_to(&Shape::new(&[1 << 40, 1 << 40])), Err(Error::TooLarge { .. })));
    assert!(matches!(x.index_add(&[0], usize::MAX), Err(Error::TooLarge { op: "index_add", .. })));
    // index_select with a caller-sized index list: a large list of valid rows is fine, the size is checked.
    assert_eq!(x.index_select(&[0; 5]).unwrap().shape(), Shape::new(&[5, 1]));
}

#[test]
fn reducing_an_empty_axis_into_a_huge_result_is_an_allocation_error() {
    // [2^46, 0] holds nothing, but its sums along axis 1 are 2^46 zeros (found by tests/fuzz_shapes.rs:
    // this aborted the process).
    let tape = Tape::<f32>::new();
    let x = tape.leaf(Tensor::zeros([HUGE, 0]).unwrap());
    assert!(is_alloc(&x.sum_axis(1, false).unwrap_err()));
    assert!(is_alloc(&x.mean_axis(1, true).unwrap_err()));
    assert!(is_alloc(&x.logsumexp(1, false).unwrap_err()));
    assert!(is_alloc(&x.sum_to(&Shape::new(&[HUGE, 1])).unwrap_err()));
    // Softmax of nothing is nothing, without a huge temporary; so is narrowing it (no loop over 2^46 rows).
    assert_eq!(x.softmax(1).unwrap().shape(), Shape::new(&[HUGE, 0]));
    assert_eq!(x.narrow(1, 0, 0).unwrap().shape(), Shape::new(&[HUGE, 0]));
    assert_eq!(x.value().to_string(), format!("tensor(shape [{HUGE}, 0], [])"));
}

#[test]
fn broadcasting_two_valid_tensors_to_a_huge_shape_is_an_error() {
    // Each operand is 64 MiB; their broadcast would be 2^48 elements.
    let tape = Tape::<f32>::new();
    let a = tape.input(Tensor::zeros([1 << 24, 1]).unwrap());
    let b = tape.input(Tensor::zeros([1, 1 << 24]).unwrap());
    for r in [a.add(b), a.sub(b), a.mul(b), a.div(b)] {
        assert!(is_alloc(&r.unwrap_err()));
    }
    // Shapes alone: the broadcast of two shapes that each fit can overflow usize.
    let e = Shape::broadcast("add", &Shape::new(&[1 << 40, 1]), &Shape::new(&[1, 1 << 40])).unwrap_err();
    assert!(matches!(e, Error::TooLarge { op: "add", .. }), "{e}");
}

#[test]
fn concat_whose_lengths_overflow_is_refused() {
    let tape = Tape::<f32>::new();
    // [0, 2^59] is a valid empty f32 tensor. Two side by side are too (2^62 bytes of span); four have a span
    // of 2^63 bytes, past isize::MAX; sixty-four have 2^65 columns, more than usize holds.
    let e = tape.input(Tensor::zeros([0, 1 << 59]).unwrap());
    assert_eq!(concat(&[e, e], 1).unwrap().shape(), Shape::new(&[0, 1 << 60]));
    assert!(matches!(concat(&[e; 4], 1), Err(Error::TooLarge { op: "concat", .. })));
    let e = concat(&[e; 64], 1).unwrap_err();
    assert!(e.to_string().contains("add up to more than usize::MAX"), "{e}");
}

#[test]
fn jacobian_and_hessian_too_large_to_hold_are_errors() {
    let x = Tensor::<f32>::zeros([1 << 24]).unwrap();
    let e = tapegrad::hessian(|_t, v| Ok(v[0].sum()), std::slice::from_ref(&x)).unwrap_err();
    assert!(is_alloc(&e), "{e}");
    let e = tapegrad::jacobian(|_t, v| Ok(v[0]), &[x]).unwrap_err();
    assert!(is_alloc(&e), "{e}");
}

// ---- variables and gradients of another tape ----

#[test]
fn grad_of_a_foreign_var_is_refused() {
    let t1 = Tape::<f64>::new();
    let t2 = Tape::<f64>::new();
    let x = t1.leaf(Tensor::scalar(2.0));
    let loss = (x * x).sum();
    // `v` is node 0 of t2, the position of `x` on t1: it used to get x's gradient.
    let v = t2.leaf(Tensor::scalar(5.0));
    assert_eq!(t1.grad(loss, &[v]).unwrap_err(), Error::ForeignVar { op: "grad" });
    assert_eq!(t1.grad(loss, &[x, v]).unwrap_err(), Error::ForeignVar { op: "grad" });
    // Past the end of t1: used to panic.
    for _ in 0..10 {
        t2.scalar(1.0);
    }
    let far = t2.leaf(Tensor::scalar(1.0));
    assert_eq!(t1.grad(loss, &[far]).unwrap_err(), Error::ForeignVar { op: "grad" });
    assert_eq!(t2.grad(loss, &[far]).unwrap_err(), Error::ForeignVar { op: "grad" });
    assert_eq!(t1.grad(loss, &[x]).unwrap()[0].item().unwrap(), 4.0);
}

#[test]
fn hvp_and_grad_graph_of_a_foreign_var_are_refused() {
    let t1 = Tape::<f64>::new();
    let t2 = Tape::<f64>::new();
    let x = t1.leaf(Tensor::scalar(2.0));
    let loss = (x * x * x).sum();
    let v = t2.leaf(Tensor::scalar(5.0));
    assert!(matches!(t1.hvp(loss, &[v], &[Tensor::scalar(1.0)]), Err(Error::ForeignVar { .. })));
    assert!(matches!(t2.hvp(loss, &[v], &[Tensor::scalar(1.0)]), Err(Error::ForeignVar { .. })));
    assert!(matches!(t1.grad_graph(loss, &[v]), Err(Error::ForeignVar { .. })));
    assert_eq!(t1.hvp(loss, &[x], &[Tensor::scalar(1.0)]).unwrap()[0].item().unwrap(), 12.0);
}

#[test]
fn gradients_get_of_a_foreign_var_is_refused_even_after_the_tape_is_dropped() {
    let g = {
        let t = Tape::<f64>::new();
        let x = t.leaf(Tensor::scalar(3.0));
        (x * x).backward().unwrap()
    };
    // A new tape may reuse the dropped tape's arena and even its address; ids are never reused.
    let t = Tape::<f64>::new();
    let y = t.leaf(Tensor::scalar(3.0));
    assert_eq!(g.get(y).unwrap_err(), Error::ForeignVar { op: "get" });
    let gy = (y * y).backward().unwrap();
    assert_eq!(gy.get(y).unwrap().unwrap().item().unwrap(), 6.0);
    let far = t.leaf(Tensor::scalar(1.0));
    assert_eq!(gy.get(far).unwrap(), None);
    assert!(tapegrad::Gradients::<f64>::default().get(y).is_err());
}

#[test]
fn gradients_from_before_clear_are_foreign_after_it() {
    let mut t = Tape::<f64>::new();
    let g = {
        let x = t.leaf(Tensor::scalar(3.0));
        (x * x).backward().unwrap()
    };
    assert!(g.is_from(&t));
    t.clear();
    assert!(!g.is_from(&t));
    let y = t.leaf(Tensor::scalar(1.0));
    assert!(matches!(g.get(y), Err(Error::ForeignVar { .. })));
    assert!(matches!(t.to_dot(Default::default(), Some(&g)), Err(Error::ForeignVar { op: "to_dot" })));
}

#[test]
fn to_dot_with_gradients_of_another_tape_is_refused() {
    let t1 = Tape::<f64>::new();
    let x = t1.leaf(Tensor::scalar(3.0));
    let g = (x * x).backward().unwrap();
    let t2 = Tape::<f64>::new();
    t2.leaf(Tensor::scalar(3.0));
    assert_eq!(t2.to_dot(Default::default(), Some(&g)).unwrap_err(), Error::ForeignVar { op: "to_dot" });
    assert!(t1.to_dot(Default::default(), Some(&g)).unwrap().contains("n0 -> n1"));
}

thread_local! {
    /// A tape that outlives every other (leaked), as a global one would.
    static OUTER: &'static Tape<f64> = Box::leak(Box::new(Tape::new()));
}

/// A function of variables that returns a variable of another tape than the one it is given.
fn foreign<'t>(_t: &'t Tape<f64>, _v: &[Var<'t, f64>]) -> Result<Var<'t, f64>> {
    Ok(OUTER.with(|t| t.leaf(Tensor::scalar(1.0))))
}

#[test]
fn a_function_returning_a_variable_of_another_tape_is_refused_by_the_helpers() {
    let x = Tensor::scalar(2.0);
    assert!(matches!(tapegrad::jacobian(foreign, std::slice::from_ref(&x)), Err(Error::ForeignVar { .. })));
    assert!(matches!(tapegrad::hessian(foreign, std::slice::from_ref(&x)), Err(Error::ForeignVar { .. })));
    assert!(matches!(
        tapegrad::hvp(foreign, std::slice::from_ref(&x), std::slice::from_ref(&x)),
        Err(Error::ForeignVar { .. })
    ));
    let cfg = tapegrad::GradCheckConfig::default();
    assert!(matches!(tapegrad::check_gradients(foreign, &[x], cfg), Err(Error::ForeignVar { .. })));
}

// ---- custom ops ----

/// A custom op whose backward returns a gradient of the wrong shape.
struct WrongShape;
impl Op<f64> for WrongShape {
    fn name(&self) -> &'static str {
        "wrong_shape"
    }
    fn backward(&self, _cx: &BackwardCx<'_, f64>, _g: Val<f64>) -> Result<OpGrads<f64>> {
        Ok(smallvec![Some(Val::Tensor(Tensor::zeros([3]).unwrap()))])
    }
}

#[test]
fn a_custom_gradient_of_the_wrong_shape_is_an_error_naming_the_op_input_and_shapes() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::from_vec(vec![1.0, 2.0], [2]).unwrap());
    let y = tape.record(WrongShape, &[x], x.value()).unwrap();
    let e = y.sum().backward().unwrap_err();
    assert_eq!(
        e,
        Error::GradientShape { op: "wrong_shape", input: 0, expected: Shape::new(&[2]), got: Shape::new(&[3]) }
    );
    assert_eq!(e.to_string(), "wrong_shape: backward returned a gradient of shape [3] for input 0 of shape [2]");
    // The same check guards recorded (second-order) backward.
    let loss = y.sum();
    assert!(matches!(tape.grad_graph(loss, &[x]), Err(Error::GradientShape { .. })));
}

/// A custom op whose backward hands back a node that is not on the tape.
struct DanglingNode;
impl Op<f64> for DanglingNode {
    fn name(&self) -> &'static str {
        "dangling"
    }
    fn backward(&self, cx: &BackwardCx<'_, f64>, g: Val<f64>) -> Result<OpGrads<f64>> {
        let _ = cx.add(g, Val::Node(usize::MAX))?;
        Ok(smallvec![None])
    }
}

#[test]
fn a_formula_using_a_node_that_is_not_on_the_tape_is_an_error_not_a_panic() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::scalar(1.0));
    let y = tape.record(DanglingNode, &[x], x.value()).unwrap();
    assert!(matches!(y.backward(), Err(Error::InvalidArgument { op: "backward", .. })));
    assert!(matches!(tape.grad_graph(y, &[x]), Err(Error::InvalidArgument { op: "backward", .. })));
}

/// A custom op that captured a variable of its own tape (a `'static` tape here: leaked, as a global or a
/// thread-local one would be) and computes with it during backward, instead of through its `BackwardCx`.
struct Sneaky(Var<'static, f64>);
impl Op<f64> for Sneaky {
    fn name(&self) -> &'static str {
        "sneaky"
    }
    fn backward(&self, _cx: &BackwardCx<'_, f64>, g: Val<f64>) -> Result<OpGrads<f64>> {
        self.0.mul(self.0)?;
        Ok(smallvec![Some(g)])
    }
}

fn leaked_tape() -> &'static Tape<f64> {
    Box::leak(Box::new(Tape::new()))
}

#[test]
fn recording_on_the_tape_during_first_order_backward_is_a_typed_error() {
    let tape = leaked_tape();
    let x = tape.leaf(Tensor::scalar(0.5));
    let y = tape.record(Sneaky(x), &[x], x.value()).unwrap();
    let e = y.backward().unwrap_err();
    assert_eq!(e, Error::TapeBusy { op: "mul" });
    assert!(e.to_string().starts_with("mul: cannot record on a tape during its first-order backward walk"));
    // The tape is usable afterwards, and a recorded (second-order) backward may record: nothing is borrowed.
    assert_eq!(tape.grad_graph(y, &[x]).unwrap()[0].item().unwrap(), 1.0);
    assert_eq!((x * x).backward().unwrap().get(x).unwrap().unwrap().item().unwrap(), 1.0);
}

/// Like [`Sneaky`], through the entry points that return their value directly (constants here; the
/// elementwise ops such as `exp` behave the same): they panic with the typed error's message.
struct SneakyConstant(&'static Tape<f64>);
impl Op<f64> for SneakyConstant {
    fn name(&self) -> &'static str {
        "sneaky_constant"
    }
    fn backward(&self, _cx: &BackwardCx<'_, f64>, g: Val<f64>) -> Result<OpGrads<f64>> {
        self.0.scalar(1.0);
        Ok(smallvec![Some(g)])
    }
}

#[test]
fn making_a_constant_during_first_order_backward_panics_with_the_typed_message() {
    let tape = leaked_tape();
    let x = tape.leaf(Tensor::scalar(0.5));
    let y = tape.record(SneakyConstant(tape), &[x], x.value()).unwrap();
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| y.backward())).unwrap_err();
    let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert_eq!(msg, Error::TapeBusy { op: "constant" }.to_string());
    // The walk's borrow was released while unwinding: the tape records again.
    let n = tape.len();
    tape.scalar(2.0);
    assert_eq!(tape.len(), n + 1);
}

#[test]
fn no_grad_restores_the_previous_state_when_its_closure_panics() {
    let tape = Tape::<f64>::new();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tape.no_grad(|| panic!("inside no_grad"))));
    assert!(r.is_err());
    assert!(tape.grad_enabled());
    let x = tape.leaf(Tensor::scalar(2.0));
    assert!((x * x).requires_grad());
    // Nested: the inner guard restores "off", the outer "on".
    tape.no_grad(|| {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tape.no_grad(|| panic!("nested"))));
        assert!(!tape.grad_enabled());
    });
    assert!(tape.grad_enabled());
}

// ---- NaN and the edges of the losses ----

#[test]
fn relu_propagates_nan_as_pytorch_does() {
    let tape = Tape::<f32>::new();
    let x = tape.leaf(Tensor::from_vec(vec![f32::NAN, -1.0, 2.0], [3]).unwrap());
    let y = x.relu();
    let v = y.value().to_vec();
    assert!(v[0].is_nan() && v[1] == 0.0 && v[2] == 2.0, "{v:?}");
    // The gradient passes through the NaN element (PyTorch masks only y <= 0).
    let g = y.sum().backward().unwrap();
    assert_eq!(g.get(x).unwrap().unwrap().to_vec(), vec![1.0, 0.0, 1.0]);
    assert!(x.leaky_relu(1.0, 0.01).unwrap().value().data()[0].is_nan());
}

#[test]
fn max_and_argmax_propagate_nan_as_pytorch_does() {
    let tape = Tape::<f64>::new();
    let x = tape.leaf(Tensor::from_vec(vec![1.0, f64::NAN, 3.0, 4.0, 5.0, 6.0], [2, 3]).unwrap());
    assert!(x.max().unwrap().item().unwrap().is_nan());
    let rows = x.max_axis(1, false).unwrap().value().to_vec();
    assert!(rows[0].is_nan() && rows[1] == 6.0, "{rows:?}");
    let cols = x.max_axis(0, false).unwrap().value().to_vec();
    assert!(cols[1].is_nan() && cols[0] == 4.0 && cols[2] == 6.0, "{cols:?}");
    // The gradient of a NaN maximum goes to the NaN element.
    let g = x.max().unwrap().backward().unwrap();
    assert_eq!(g.get(x).unwrap().unwrap().to_vec(), vec![0.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
    // argmax picks the first NaN of a row, as torch.argmax does; NaN-free rows are unchanged.
    let t = Tensor::from_vec(vec![1.0, f64::NAN, 9.0, f64::NAN, 7.0, 8.0, 2.0, 1.0], [2, 4]).unwrap();
    assert_eq!(tapegrad::argmax_rows(&t).unwrap(), vec![1, 1]);
    let all_nan = Tensor::from_vec(vec![f64::NAN; 3], [1, 3]).unwrap();
    assert_eq!(tapegrad::argmax_rows(&all_nan).unwrap(), vec![0]);
    let plain = Tensor::from_vec(vec![2.0, 9.0, 9.0, f64::NEG_INFINITY], [1, 4]).unwrap();
    assert_eq!(tapegrad::argmax_rows(&plain).unwrap(), vec![1]);
    // Softmax and logsumexp of a row with a NaN are NaN (no finite value made up).
    assert!(x.softmax(1).unwrap().value().data()[..3].iter().all(|v| v.is_nan()));
    assert!(x.logsumexp(1, false).unwrap().value().data()[0].is_nan());
}

#[test]
fn bce_of_a_saturated_sigmoid_is_zero_with_a_finite_gradient() {
    let tape = Tape::<f32>::new();
    let z = tape.leaf(Tensor::scalar(20.0));
    let p = z.sigmoid();
    assert_eq!(p.item().unwrap(), 1.0, "sigmoid(20) rounds to 1 in f32");
    let one = tape.input(Tensor::scalar(1.0));
    let l = p.bce(one).unwrap();
    assert_eq!(l.item().unwrap(), 0.0);
    let g = l.backward().unwrap();
    assert_eq!(g.get(z).unwrap().unwrap().item().unwrap(), 0.0);
    // The other way round: the clamped log gives PyTorch's 100, and the flat clamp a zero gradient.
    let zero = tape.input(Tensor::scalar(0.0));
    let l = p.bce(zero).unwrap();
    assert_eq!(l.item().unwrap(), 100.0);
    assert!(l.backward().unwrap().get(z).unwrap().unwrap().all_finite());
}

#[test]
fn bce_derivative_is_that_of_the_clamped_forward() {
    let tape = Tape::<f64>::new();
    let p = tape.leaf(Tensor::from_vec(vec![1.0, 0.0, 1.0, 0.0], [4]).unwrap());
    let y = tape.leaf(Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0], [4]).unwrap());
    let l = p.bce(y).unwrap();
    // Terms: 0, 0, 100, 100; mean 50.
    assert_eq!(l.item().unwrap(), 50.0);
    let g = l.backward().unwrap();
    // dL/dp = -(y / p - (1 - y) / (1 - p)) / N where unclamped, 0 where the log is clamped:
    // p = 1, y = 1: -1/4; p = 0, y = 0: 1/4; both clamped terms: 0.
    assert_eq!(g.get(p).unwrap().unwrap().to_vec(), vec![-0.25, 0.25, 0.0, 0.0]);
    // dL/dy = -(lp - lq) / N: lp - lq = 0 - (-100) for p = 1 and -100 - 0 for p = 0.
    assert_eq!(g.get(y).unwrap().unwrap().to_vec(), vec![-25.0, 25.0, -25.0, 25.0]);
}

#[test]
fn bce_rejects_targets_outside_zero_one() {
    let tape = Tape::<f32>::new();
    let p = tape.input(Tensor::full([2], 0.5).unwrap());
    for bad in [5.0, -0.1, f32::NAN] {
        let y = tape.input(Tensor::full([2], bad).unwrap());
        let e = p.bce(y).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument { op: "bce", .. }), "{e}");
        assert!(e.to_string().contains("target"), "{e}");
    }
}

#[test]
fn kl_div_and_soft_cross_entropy_take_zero_log_zero_as_zero() {
    let tape = Tape::<f64>::new();
    // log q = -inf where p = 0: the term is 0, not NaN, and passes no gradient.
    let logq = tape.leaf(Tensor::from_vec(vec![f64::NEG_INFINITY, 0.0], [1, 2]).unwrap());
    let p = tape.input(Tensor::from_vec(vec![0.0, 1.0], [1, 2]).unwrap());
    let kl = logq.kl_div(p).unwrap();
    assert_eq!(kl.item().unwrap(), 0.0);
    assert_eq!(kl.backward().unwrap().get(logq).unwrap().unwrap().to_vec(), vec![0.0, -1.0]);
    let z = tape.leaf(Tensor::from_vec(vec![f64::NEG_INFINITY, 0.0, 1.0], [1, 3]).unwrap());
    let t = tape.input(Tensor::from_vec(vec![0.0, 0.5, 0.5], [1, 3]).unwrap());
    let ce = z.softmax_cross_entropy_probs(t).unwrap();
    let lse = (1.0 + 1f64.exp()).ln();
    assert!((ce.item().unwrap() - (0.5 * lse + 0.5 * (lse - 1.0))).abs() < 1e-12);
    let dz = ce.backward().unwrap().get(z).unwrap().unwrap().to_vec();
    assert!(dz.iter().all(|v| v.is_finite()) && dz[0] == 0.0, "{dz:?}");
}

#[test]
fn kl_div_rejects_nan_and_negative_targets() {
    let tape = Tape::<f32>::new();
    let logq = tape.input(Tensor::zeros([2]).unwrap());
    for bad in [f32::NAN, f32::INFINITY, -0.5] {
        let p = tape.input(Tensor::full([2], bad).unwrap());
        assert!(matches!(logq.kl_div(p), Err(Error::InvalidArgument { op: "kl_div", .. })));
    }
}

#[test]
fn scalar_hyper_parameters_must_be_finite() {
    let tape = Tape::<f32>::new();
    let x = tape.input(Tensor::ones([2]).unwrap());
    for (a, b) in [(f32::NAN, 0.1), (1.0, f32::INFINITY), (f32::NEG_INFINITY, 0.0)] {
        assert!(matches!(x.leaky_relu(a, b), Err(Error::InvalidArgument { op: "leaky_relu", .. })));
    }
    assert!(matches!(x.powf(f32::INFINITY), Err(Error::InvalidArgument { op: "powf", .. })));
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1);
    assert!(Tensor::<f32>::randn([2], f64::NAN, 1.0, &mut rng).is_err());
    assert!(Tensor::<f32>::rand_uniform([2], 0.0, f64::INFINITY, &mut rng).is_err());
    let cfg = tapegrad::GradCheckConfig { eps: 0.0, ..Default::default() };
    let e = tapegrad::check_gradients(|_t, v| Ok(v[0].sum()), &[Tensor::ones([1]).unwrap()], cfg).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument { op: "check_gradients", .. }), "{e}");
}

// ---- what may cross threads ----

#[test]
fn tensors_params_gradients_and_errors_are_send_and_sync() {
    fn send_sync<X: Send + Sync>() {}
    send_sync::<Tensor<f32>>();
    send_sync::<tapegrad::Param<f64>>();
    send_sync::<tapegrad::Gradients<f32>>();
    send_sync::<Error>();
    // Tapes and variables are single-threaded by design (a `RefCell` arena): `Tape` is neither `Send` nor
    // `Sync`, which the compiler enforces; one tape per thread is the rule.
}
