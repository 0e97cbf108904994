//! Unit tests of the tape's internals (arena reuse, node size, inline ops, gradient lookup).

use super::*;
use crate::tape_pool::SPARE_MAX;

#[test]
fn a_new_tape_reuses_the_emptied_arena_of_a_dropped_one() {
    {
        let t = Tape::<f32>::new();
        for _ in 0..100 {
            t.scalar(1.0);
        }
    }
    let t = Tape::<f32>::new();
    assert!(t.is_empty());
    assert!(t.nodes.borrow().capacity() >= 100);
    // Another element type does not take it.
    assert_eq!(Tape::<f64>::new().nodes.borrow().capacity(), 0);
}

#[test]
fn ops_with_at_most_one_word_of_state_are_stored_inline() {
    let t = Tape::<f64>::new();
    let x = t.leaf(Tensor::ones([2, 3]).unwrap());
    let s = x.mul_scalar(2.0);
    let p = x.permute(&[1, 0]).unwrap();
    let q = t.no_grad(|| x.tanh());
    let nodes = t.nodes.borrow();
    assert!(!nodes[s.id].op.as_ref().unwrap().is_heap());
    assert!(nodes[p.id].op.as_ref().unwrap().is_heap());
    assert_eq!((nodes[s.id].name(), nodes[p.id].name(), nodes[x.id].name()), ("mul_scalar", "permute", "leaf"));
    // Made under no_grad: named, but not recorded for backward.
    assert_eq!(nodes[q.id].name(), "tanh");
    drop(nodes);
    assert_eq!(t.recorded_ops(), 2);
}

#[test]
fn a_node_fits_in_two_cache_lines() {
    // Larger nodes are moved onto the arena with a `memcpy` call instead of a few vector moves.
    assert!(std::mem::size_of::<Node<f32>>() <= 128, "{}", std::mem::size_of::<Node<f32>>());
    assert!(std::mem::size_of::<Node<f64>>() <= 128, "{}", std::mem::size_of::<Node<f64>>());
}

#[test]
fn oversized_arenas_are_freed_not_kept() {
    drop(Tape::<f64>::with_capacity(SPARE_MAX + 1));
    assert_eq!(Tape::<f64>::new().nodes.borrow().capacity(), 0);
}

#[test]
fn gradients_are_found_by_parameter_and_by_node_whatever_the_order_of_use() {
    let ps: Vec<Param<f64>> = (0..5).map(|i| Param::new(Tensor::scalar(i as f64 + 1.0))).collect();
    let tape = Tape::new();
    // Use the parameters in reverse creation order, so node order and id order differ.
    let vars: Vec<Var<'_, f64>> = ps.iter().rev().map(|p| tape.param(p)).collect();
    let x = tape.leaf(Tensor::scalar(2.0));
    let mut loss = x;
    for &v in &vars {
        loss = loss.mul(v).unwrap();
    }
    let mut g = loss.backward().unwrap();
    let prod: f64 = 2.0 * 120.0;
    for (i, p) in ps.iter().enumerate() {
        let want = prod / (i as f64 + 1.0);
        assert_eq!(g.param(p).unwrap().item().unwrap(), want);
        assert_eq!(g.by_id(p.id()).unwrap().item().unwrap(), want);
    }
    assert_eq!(g.get(x).unwrap().unwrap().item().unwrap(), 120.0);
    let ids: Vec<ParamId> = g.param_ids().collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "param ids ascend");
    assert_eq!(g.num_params(), 5);
    assert_eq!(g.take(ps[2].id()).unwrap().item().unwrap(), prod / 3.0);
    assert!(g.param(&ps[2]).is_none());
    assert_eq!(g.num_params(), 4);
    assert!(g.take(ps[2].id()).is_none());
}

#[test]
fn bind_param_stands_in_for_the_parameter_and_refuses_foreign_or_misshapen_vars() {
    let p = crate::Param::new(Tensor::from_vec(vec![1.0_f64, 2.0], [2]).unwrap());
    let tape = Tape::new();
    let w = tape.leaf(Tensor::from_vec(vec![3.0, 4.0], [2]).unwrap());
    tape.bind_param(&p, w).unwrap();
    let y = tape.param(&p).mul(w).unwrap().sum(); // w * w through the parameter: gradient 2w
    assert_eq!(y.item().unwrap(), 25.0);
    assert_eq!(y.backward().unwrap().get(w).unwrap().unwrap().data(), &[6.0, 8.0]);
    assert_eq!(p.value().data(), &[1.0, 2.0], "the parameter itself is unchanged");
    let e = tape.bind_param(&p, tape.leaf(Tensor::zeros([3]).unwrap())).unwrap_err();
    assert_eq!(e.to_string(), "bind_param: the parameter has shape [2], the variable [3]");
    let other = Tape::new();
    let e = tape.bind_param(&p, other.leaf(Tensor::zeros([2]).unwrap())).unwrap_err();
    assert!(matches!(e, crate::Error::ForeignVar { op: "bind_param" }), "{e}");
}

#[test]
fn backward_with_a_gradient_equals_backward_of_the_weighted_sum() {
    let t = Tape::<f64>::new();
    let a = t.leaf(Tensor::from_vec(vec![0.5, -1.0, 2.0, 0.25, 1.5, -0.75], [2, 3]).unwrap());
    let p = crate::Param::new(Tensor::from_vec(vec![1.0, -2.0, 0.5, 3.0, -1.0, 0.1], [3, 2]).unwrap());
    let w = t.param(&p);
    let y = a.matmul(w).unwrap().tanh();
    let g = Tensor::from_vec(vec![1.0, -3.0, 0.5, 2.0], [2, 2]).unwrap();
    let seeded = y.backward_with(g.clone()).unwrap();
    let summed = (y * t.input(g)).sum().backward().unwrap();
    for v in [a, w] {
        let (x, z) = (seeded.get(v).unwrap().unwrap(), summed.get(v).unwrap().unwrap());
        assert!(x.max_abs_diff(z).unwrap() < 1e-12, "{x:?} vs {z:?}");
    }
    assert_eq!(seeded.param(&p), summed.param(&p));
    // The seed must have the variable's shape.
    let err = y.backward_with(Tensor::zeros([4]).unwrap()).unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { op: "backward_with", .. }), "{err}");
    // A variable that needs no gradient gives none.
    let c = t.input(Tensor::ones([2]).unwrap());
    assert!(c.mul_scalar(2.0).backward_with(Tensor::ones([2]).unwrap()).unwrap().get(c).unwrap().is_none());
}
