//! What derivative formulas are written with: a value that is a plain tensor during first-order backward
//! and a node on the tape when a gradient graph is being recorded, and the differentiable operations on it.
//!
//! Each method below dispatches to the same forward the op's public method uses; the graph branch records
//! that op, so the derivative of a derivative uses the op's own formula again. First-order backward takes the
//! tensor branch only and records nothing.

use crate::error::{Error, Result};
use crate::float::Float;
use crate::kernels;
use crate::ops;
use crate::shape::Shape;
use crate::tape::{Node, Tape, Var, shapes_of};
use crate::tensor::Tensor;
use std::sync::Arc;

/// A value inside a derivative formula: a tensor (first-order backward) or a tape node (`create_graph`).
///
/// A custom op's formula receives and returns these and combines them with [`BackwardCx`]'s operations
/// ([`BackwardCx::constant`] makes one from a tensor); it never needs to look inside.
#[derive(Clone, Debug)]
pub enum Val<T: Float> {
    /// A plain tensor.
    Tensor(Tensor<T>),
    /// A node on the tape being differentiated, by position: made and read by [`BackwardCx`]'s operations
    /// only (a formula never needs to build one; hidden from the documentation for that reason).
    #[doc(hidden)]
    Node(usize),
}

/// The context an [`crate::Op`]'s backward runs in: the node's inputs and output, and the operations a
/// derivative formula may use.
pub struct BackwardCx<'a, T: Float> {
    tape: &'a Tape<T>,
    /// The arena, borrowed for the whole walk when nothing is recorded (first order); `None` when formulas
    /// record on the tape, which then borrows it per access.
    nodes: Option<&'a [Node<T>]>,
    node: usize,
    inputs: &'a [u32],
    graph: bool,
}

type Binary<T> = fn(Tensor<T>, &Tensor<T>) -> Result<Tensor<T>>;
type BinaryVar<'t, T> = fn(Var<'t, T>, Var<'t, T>) -> Result<Var<'t, T>>;

impl<'a, T: Float> BackwardCx<'a, T> {
    pub(crate) fn new(
        tape: &'a Tape<T>,
        nodes: Option<&'a [Node<T>]>,
        node: usize,
        inputs: &'a [u32],
        graph: bool,
    ) -> Self {
        BackwardCx { tape, nodes, node, inputs, graph }
    }

    /// Reads node `id` through the walk's borrow, or borrows the arena for the read.
    fn with_node<R>(&self, id: usize, f: impl FnOnce(&Node<T>) -> R) -> R {
        match self.nodes {
            Some(nodes) => f(&nodes[id]),
            None => f(&self.tape.node_ref(id)),
        }
    }

    /// The node whose derivative this is.
    pub(crate) fn node(&self) -> usize {
        self.node
    }

    /// The tape position of input `i`.
    pub(crate) fn input_id(&self, i: usize) -> usize {
        self.inputs[i] as usize
    }

    fn input_ids(&self) -> impl Iterator<Item = usize> + '_ {
        self.inputs.iter().map(|&j| j as usize)
    }

    /// The inputs' shapes, for error messages.
    pub(crate) fn input_shapes(&self) -> String {
        match self.nodes {
            Some(nodes) => shapes_of(nodes, self.input_ids()),
            None => shapes_of(&self.tape.nodes.borrow(), self.input_ids()),
        }
    }

    /// Whether gradients are being recorded (second order and up).
    pub fn is_recording(&self) -> bool {
        self.graph
    }

    /// Number of inputs of the op.
    pub fn num_inputs(&self) -> usize {
        self.inputs.len()
    }

    /// The `i`-th input as a value of this formula.
    ///
    /// # Panics
    /// When `i >= num_inputs()`, like indexing a slice past its end (a bug in the op, found by its first
    /// test). The same holds for the other per-input accessors below.
    pub fn input(&self, i: usize) -> Val<T> {
        let id = self.input_id(i);
        if self.graph { Val::Node(id) } else { Val::Tensor(self.with_node(id, |n| n.value.clone())) }
    }

    /// The op's output as a value of this formula (sigmoid' = y (1 - y) reuses it).
    pub fn output(&self) -> Val<T> {
        if self.graph { Val::Node(self.node) } else { Val::Tensor(self.with_node(self.node, |n| n.value.clone())) }
    }

    /// The `i`-th input's value as a plain tensor, for quantities with zero derivative (masks, argmax).
    pub fn input_value(&self, i: usize) -> Tensor<T> {
        self.with_node(self.input_id(i), |n| n.value.clone())
    }

    /// The output's value as a plain tensor.
    pub fn output_value(&self) -> Tensor<T> {
        self.with_node(self.node, |n| n.value.clone())
    }

    /// The `i`-th input's shape.
    pub fn input_shape(&self, i: usize) -> Shape {
        self.with_node(self.input_id(i), |n| n.value.shape().clone())
    }

    /// Whether input `i` needs a gradient: ops skip the work for inputs that do not.
    pub fn needs(&self, i: usize) -> bool {
        self.with_node(self.input_id(i), |n| n.requires_grad)
    }

    /// A constant inside a formula (derivative zero).
    pub fn constant(&self, t: Tensor<T>) -> Val<T> {
        if self.graph { Val::Node(self.tape.constant(t).id) } else { Val::Tensor(t) }
    }

    /// The plain tensor behind a value.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a [`Val::Node`] that is not on the tape.
    pub fn value(&self, v: &Val<T>) -> Result<Tensor<T>> {
        match v {
            Val::Tensor(t) => Ok(t.clone()),
            Val::Node(id) => self.checked_node(*id, |n| n.value.clone()),
        }
    }

    /// Reads node `id`, which a formula (possibly a user's) handed in: checked against the tape's length.
    fn checked_node<R>(&self, id: usize, f: impl FnOnce(&Node<T>) -> R) -> Result<R> {
        let outside = || Error::InvalidArgument {
            op: "backward",
            msg: format!("a formula used node {id}, which is not on the tape"),
        };
        match self.nodes {
            Some(nodes) => nodes.get(id).map(f).ok_or_else(outside),
            None => {
                let nodes = self.tape.nodes.borrow();
                nodes.get(id).map(f).ok_or_else(outside)
            }
        }
    }

    pub(crate) fn is_finite(&self, v: &Val<T>) -> Result<bool> {
        match v {
            Val::Tensor(t) => Ok(t.all_finite()),
            Val::Node(id) => self.checked_node(*id, |n| n.value.all_finite()),
        }
    }

    /// Checks that `g`, the gradient `op`'s backward returned for input `k`, has that input's shape.
    ///
    /// # Errors
    /// [`Error::GradientShape`] naming the op, the input and both shapes.
    pub(crate) fn check_grad_shape(&self, op: &'static str, k: usize, g: &Val<T>) -> Result<()> {
        let differs = |got: &crate::shape::Shape| {
            self.with_node(self.input_id(k), |n| {
                (n.value.shape() != got).then(|| Error::GradientShape {
                    op,
                    input: k,
                    expected: n.value.shape().clone(),
                    got: got.clone(),
                })
            })
        };
        let bad = match g {
            Val::Tensor(t) => differs(t.shape()),
            Val::Node(id) => differs(&self.checked_node(*id, |n| n.value.shape().clone())?),
        };
        bad.map_or(Ok(()), Err)
    }

    /// A value as a plain tensor, for first-order formulas (which record nothing).
    fn tensor(&self, v: Val<T>) -> Result<Tensor<T>> {
        match v {
            Val::Tensor(t) => Ok(t),
            Val::Node(id) => self.checked_node(id, |n| n.value.clone()),
        }
    }

    /// A value as a node, for recorded formulas: tensors become constants.
    fn var(&self, v: Val<T>) -> Result<Var<'a, T>> {
        match v {
            Val::Node(id) => self.checked_node(id, |_| Var { tape: self.tape, id }),
            Val::Tensor(t) => Ok(self.tape.constant(t)),
        }
    }

    // First order evaluates on tensors whatever the values are (a user's formula may hand in a node): it
    // never records, so it never needs the arena the walk is holding.
    fn binary(&self, a: Val<T>, b: Val<T>, eager: Binary<T>, graph: BinaryVar<'a, T>) -> Result<Val<T>> {
        if self.graph {
            Ok(Val::Node(graph(self.var(a)?, self.var(b)?)?.id))
        } else {
            Ok(Val::Tensor(eager(self.tensor(a)?, &self.tensor(b)?)?))
        }
    }

    fn unary(
        &self,
        a: Val<T>,
        eager: impl FnOnce(Tensor<T>) -> Result<Tensor<T>>,
        graph: impl FnOnce(Var<'a, T>) -> Result<Var<'a, T>>,
    ) -> Result<Val<T>> {
        if self.graph { Ok(Val::Node(graph(self.var(a)?)?.id)) } else { Ok(Val::Tensor(eager(self.tensor(a)?)?)) }
    }

    /// `a + b` with broadcasting.
    pub fn add(&self, a: Val<T>, b: Val<T>) -> Result<Val<T>> {
        self.binary(a, b, ops::binary::add_t, Var::add)
    }

    /// `a - b` with broadcasting.
    pub fn sub(&self, a: Val<T>, b: Val<T>) -> Result<Val<T>> {
        self.binary(a, b, ops::binary::sub_t, Var::sub)
    }

    /// `a * b` with broadcasting.
    pub fn mul(&self, a: Val<T>, b: Val<T>) -> Result<Val<T>> {
        self.binary(a, b, ops::binary::mul_t, Var::mul)
    }

    /// `a / b` with broadcasting.
    pub fn div(&self, a: Val<T>, b: Val<T>) -> Result<Val<T>> {
        self.binary(a, b, ops::binary::div_t, Var::div)
    }

    /// `-a`.
    pub fn neg(&self, a: Val<T>) -> Result<Val<T>> {
        self.unary(a, |a| Ok(a.map_inplace(|x| -x)), |a| Ok(a.neg()))
    }

    /// `c * a` for a constant `c`.
    pub fn scale(&self, a: Val<T>, c: T) -> Result<Val<T>> {
        self.unary(a, |a| Ok(a.map_inplace(|x| x * c)), |a| Ok(a.mul_scalar(c)))
    }

    /// `a + c` for a constant `c`.
    pub fn add_scalar(&self, a: Val<T>, c: T) -> Result<Val<T>> {
        self.unary(a, |a| Ok(a.map_inplace(|x| x + c)), |a| Ok(a.add_scalar(c)))
    }

    /// `c * a + d` for constants `c` and `d` (one pass over the elements in first-order backward).
    pub fn affine(&self, a: Val<T>, c: T, d: T) -> Result<Val<T>> {
        self.unary(a, |a| Ok(a.map_inplace(|x| x * c + d)), |a| Ok(a.mul_scalar(c).add_scalar(d)))
    }

    /// `a * a`.
    pub fn square(&self, a: Val<T>) -> Result<Val<T>> {
        self.unary(a, |a| Ok(a.map_inplace(|x| x * x)), |a| a.mul(a))
    }

    /// `a ^ p` for a constant `p`.
    pub fn powf(&self, a: Val<T>, p: T) -> Result<Val<T>> {
        // p = 1 is the derivative of `square`: the identity, without a call to `powf` per element.
        let one = p == T::one();
        self.unary(a, |a| Ok(if one { a } else { a.map_inplace(|x| x.powf(p)) }), |a| a.powf(p))
    }

    /// `exp(a)`.
    pub fn exp(&self, a: Val<T>) -> Result<Val<T>> {
        self.unary(a, |a| Ok(a.map_inplace(T::exp)), |a| Ok(a.exp()))
    }

    /// `ln(a)`.
    pub fn log(&self, a: Val<T>) -> Result<Val<T>> {
        self.unary(a, |a| Ok(a.map_inplace(T::ln)), |a| Ok(a.log()))
    }

    /// `sin(a)`.
    pub fn sin(&self, a: Val<T>) -> Result<Val<T>> {
        self.unary(a, |a| Ok(a.map_inplace(T::sin)), |a| Ok(a.sin()))
    }

    /// `cos(a)`.
    pub fn cos(&self, a: Val<T>) -> Result<Val<T>> {
        self.unary(a, |a| Ok(a.map_inplace(T::cos)), |a| Ok(a.cos()))
    }

    /// `sigmoid(a)`.
    pub fn sigmoid(&self, a: Val<T>) -> Result<Val<T>> {
        self.unary(a, |a| Ok(a.map_inplace(ops::activation::sigmoid_f)), |a| Ok(a.sigmoid()))
    }

    /// `g [y > 0]`: relu's derivative for the gradient `g` of a relu's output `y`, in one pass (one node when
    /// recorded).
    pub fn relu_grad(&self, g: Val<T>, y: Val<T>) -> Result<Val<T>> {
        self.binary(g, y, ops::activation::relu_grad_t, Var::relu_grad)
    }

    /// `g / N (softmax(z) - onehot(labels))` for logits `z` `[N, C]` and a scalar `g`: the derivative of
    /// `softmax_cross_entropy` in one pass (one node when recorded).
    pub(crate) fn softmax_cross_entropy_grad(&self, z: Val<T>, g: Val<T>, labels: &Arc<[usize]>) -> Result<Val<T>> {
        if self.graph {
            Ok(Val::Node(self.var(z)?.softmax_cross_entropy_grad(self.var(g)?, labels.clone())?.id))
        } else {
            Ok(Val::Tensor(ops::loss::softmax_cross_entropy_grad_t(&self.tensor(z)?, &self.tensor(g)?, labels)?))
        }
    }

    /// `op(a) @ op(b)` where `op` transposes the last two axes when its flag is set.
    pub fn matmul(&self, a: Val<T>, b: Val<T>, ta: bool, tb: bool) -> Result<Val<T>> {
        if self.graph {
            Ok(Val::Node(self.var(a)?.matmul_t(self.var(b)?, ta, tb)?.id))
        } else {
            Ok(Val::Tensor(kernels::matmul(&self.tensor(a)?, &self.tensor(b)?, ta, tb)?))
        }
    }

    /// Sums over the axes broadcasting stretched: the derivative of broadcasting.
    pub fn sum_to(&self, a: Val<T>, shape: &Shape) -> Result<Val<T>> {
        self.unary(a, |a| kernels::sum_to(&a, shape), |a| a.sum_to(shape))
    }

    /// Repeats along size-1 axes up to `shape`.
    pub fn broadcast_to(&self, a: Val<T>, shape: &Shape) -> Result<Val<T>> {
        self.unary(a, |a| kernels::broadcast_to(&a, shape), |a| a.broadcast_to(shape))
    }

    /// The same elements under another shape.
    pub fn reshape(&self, a: Val<T>, shape: &Shape) -> Result<Val<T>> {
        self.unary(a, |a| a.reshape(shape.clone()), |a| a.reshape(shape.clone()))
    }

    /// Reorders axes.
    pub fn permute(&self, a: Val<T>, perm: &[usize]) -> Result<Val<T>> {
        self.unary(a, |a| kernels::permute(&a, perm), |a| a.permute(perm))
    }

    /// Sum along one axis.
    pub fn sum_axis(&self, a: Val<T>, axis: usize, keepdim: bool) -> Result<Val<T>> {
        self.unary(
            a,
            |a| kernels::reduce_axis("sum", &a, axis, keepdim, T::zero(), |x, y| x + y),
            |a| a.sum_axis(axis as isize, keepdim),
        )
    }

    /// Softmax along an axis.
    pub fn softmax(&self, a: Val<T>, axis: usize) -> Result<Val<T>> {
        self.unary(a, |a| ops::activation::softmax_t(&a, axis), |a| a.softmax(axis as isize))
    }

    /// Elements `start..start + len` along `axis`.
    pub fn narrow(&self, a: Val<T>, axis: usize, start: usize, len: usize) -> Result<Val<T>> {
        self.unary(a, |a| ops::layout::narrow_t(&a, axis, start, len), |a| a.narrow(axis as isize, start, len))
    }

    /// Zero padding along `axis`: `before` zeros, then `a`, then zeros up to `total` (the derivative of
    /// `narrow`).
    pub fn pad(&self, a: Val<T>, axis: usize, before: usize, total: usize) -> Result<Val<T>> {
        self.unary(a, |a| ops::layout::pad_t(&a, axis, before, total), |a| a.pad(axis as isize, before, total))
    }

    /// Rows of `a` (axis 0) picked by `index`.
    pub fn index_select(&self, a: Val<T>, index: &[usize]) -> Result<Val<T>> {
        self.unary(a, |a| ops::layout::index_select_t(&a, index), |a| a.index_select(index))
    }

    /// Rows of `a` added into a zero tensor of `rows` rows at `index` (the derivative of `index_select`).
    pub fn index_add(&self, a: Val<T>, index: &[usize], rows: usize) -> Result<Val<T>> {
        self.unary(a, |a| ops::layout::index_add_t(&a, index, rows), |a| a.index_add(index, rows))
    }

    /// im2col under `win` (the derivative of `fold`).
    pub fn unfold(&self, a: Val<T>, win: &ops::conv::Window2d) -> Result<Val<T>> {
        self.unary(a, |a| ops::conv::unfold_t(&a, win), |a| a.unfold(*win))
    }

    /// col2im under `win` into an `output = (H, W)` image (the derivative of `unfold`).
    pub fn fold(&self, a: Val<T>, win: &ops::conv::Window2d, output: (usize, usize)) -> Result<Val<T>> {
        self.unary(a, |a| ops::conv::fold_t(&a, win, output), |a| a.fold(output, *win))
    }

    /// `conv2d(x, w)` without bias under `win` (a derivative of `conv_input_grad` and `conv_weight_grad`).
    pub fn conv2d(&self, x: Val<T>, w: Val<T>, win: &ops::conv::Window2d) -> Result<Val<T>> {
        self.binary_with(x, w, |x, w| ops::conv::conv2d_t(x, w, None, win), |x, w| x.conv2d_win(w, None, *win))
    }

    /// The input gradient of `conv2d` under `win` for an input of `input_hw = (H, W)` (the derivative of
    /// `conv2d` with respect to its input, and of `conv_weight_grad` with respect to `x`).
    pub fn conv_input_grad(
        &self,
        g: Val<T>,
        w: Val<T>,
        win: &ops::conv::Window2d,
        input_hw: (usize, usize),
    ) -> Result<Val<T>> {
        self.binary_with(
            g,
            w,
            |g, w| ops::conv_grad::conv_input_grad_t(g, w, win, input_hw),
            |g, w| g.conv_input_grad(w, *win, input_hw),
        )
    }

    /// The weight gradient of `conv2d` under `win` (the derivative of `conv2d` with respect to its weight,
    /// and of `conv_input_grad` with respect to `w`).
    pub fn conv_weight_grad(&self, x: Val<T>, g: Val<T>, win: &ops::conv::Window2d) -> Result<Val<T>> {
        self.binary_with(x, g, |x, g| ops::conv_grad::conv_weight_grad_t(x, g, win), |x, g| x.conv_weight_grad(g, *win))
    }

    /// A two-input formula whose forward needs more than a function pointer carries.
    fn binary_with(
        &self,
        a: Val<T>,
        b: Val<T>,
        eager: impl FnOnce(&Tensor<T>, &Tensor<T>) -> Result<Tensor<T>>,
        graph: impl FnOnce(Var<'a, T>, Var<'a, T>) -> Result<Var<'a, T>>,
    ) -> Result<Val<T>> {
        match (a, b) {
            (Val::Tensor(a), Val::Tensor(b)) if !self.graph => Ok(Val::Tensor(eager(&a, &b)?)),
            (a, b) => Ok(Val::Node(graph(self.var(a)?, self.var(b)?)?.id)),
        }
    }

    /// Elements at flat positions `index`, shaped `shape` (the derivative of `scatter_add`).
    pub fn gather(&self, a: Val<T>, index: &Arc<[usize]>, shape: &Shape) -> Result<Val<T>> {
        self.gather_index(a, &ops::pool::Index::Shared(index.clone()), shape)
    }

    /// [`BackwardCx::gather`] with the engine's index type.
    pub(crate) fn gather_index(&self, a: Val<T>, index: &ops::pool::Index, shape: &Shape) -> Result<Val<T>> {
        self.unary(a, |a| ops::pool::gather_t(&a, index, shape), |a| a.gather_index(index.clone(), shape.clone()))
    }

    /// Zeros of `shape` with element `i` of `a` added at flat position `index[i]` (the derivative of
    /// `gather`).
    pub fn scatter_add(&self, a: Val<T>, index: &Arc<[usize]>, shape: &Shape) -> Result<Val<T>> {
        self.scatter_add_index(a, &ops::pool::Index::Shared(index.clone()), shape)
    }

    /// [`BackwardCx::scatter_add`] with the engine's index type.
    pub(crate) fn scatter_add_index(&self, a: Val<T>, index: &ops::pool::Index, shape: &Shape) -> Result<Val<T>> {
        self.unary(
            a,
            |a| ops::pool::scatter_add_t(&a, index, shape),
            |a| a.scatter_add_index(index.clone(), shape.clone()),
        )
    }
}
