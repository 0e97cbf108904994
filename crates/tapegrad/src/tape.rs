//! The tape: an append-only arena of nodes in creation order, and the variables that point into it.
//!
//! Creation order is a topological order (an op's inputs exist before it), so backward walks the arena in
//! reverse with a plain loop: no sort, no recursion, no reference-counted graph.

use crate::error::{Error, Result};
use crate::float::Float;
use crate::param::{Param, ParamId};
use crate::tensor::Tensor;
use crate::val::{BackwardCx, Val};
use smallbox::space::S1;
use smallbox::{SmallBox, smallbox};
use smallvec::SmallVec;
use std::cell::{Cell, Ref, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use crate::gradients::Gradients;

/// The gradients an op returns, one per input, `None` where an input gets nothing.
///
/// Not to be confused with [`Gradients`], what a backward pass returns to the user.
pub type OpGrads<T> = SmallVec<[Option<Val<T>>; 2]>;

/// The old name of [`OpGrads`], kept for one release.
#[deprecated(since = "0.2.0", note = "renamed `OpGrads` (it was easy to confuse with `Gradients`)")]
pub type Grads<T> = OpGrads<T>;

/// An operation on the tape: its name and its derivative.
///
/// The forward runs before the node is recorded (see [`Tape::record`]); the node keeps the inputs' ids and
/// the output value. `backward` receives the gradient of the loss with respect to the output and returns
/// one gradient per input, each written with the differentiable operations of [`BackwardCx`]: the same
/// formula runs eagerly on tensors for first-order gradients and is recorded on the tape when a gradient
/// graph is requested, which is how every op gets derivatives of any order.
pub trait Op<T: Float>: 'static {
    /// The op's name, as printed in errors, anomaly reports and graph pictures.
    fn name(&self) -> &'static str;

    /// Gradients of the loss with respect to each input, given `g`, the gradient with respect to the output.
    ///
    /// Use `cx`'s operations only: during first-order backward the tape being differentiated is borrowed
    /// for the whole walk, and `cx` is the way to read it.
    ///
    /// # Errors
    /// Any error of the operations it uses (a broken op; never expected for valid shapes).
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>>;

    /// The op's constant arguments as graph pictures print them after its name (`p = 3` for `powf`,
    /// `c = 0.5` for `mul_scalar`); `None` (the default) when it has none worth printing.
    fn attributes(&self) -> Option<String> {
        None
    }
}

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A parameter; gradients are reported under its [`ParamId`].
    Param(ParamId),
    /// Data: never gets a gradient.
    Input,
    /// A constant: never gets a gradient.
    Constant,
    /// A tensor that asked for its gradient (PyTorch's `requires_grad=True` leaf).
    Leaf,
    /// The result of an operation.
    Op,
}

pub(crate) struct Node<T: Float> {
    pub(crate) value: Tensor<T>,
    pub(crate) kind: NodeKind,
    /// The op of an op node (recorded or not; `None` for leaves). Stored inline when its state fits in one
    /// word (unit structs and ops holding one scalar: most of them), boxed otherwise.
    pub(crate) op: Option<OpBox<T>>,
    /// Input ids, inline up to four (`linear` with a bias has three).
    pub(crate) inputs: InputIds,
    pub(crate) requires_grad: bool,
    pub(crate) retain: bool,
}

/// An op, inline up to one word of state.
pub(crate) type OpBox<T> = SmallBox<dyn Op<T>, S1>;

impl<T: Float> Node<T> {
    /// The op's name, or the kind of leaf.
    pub(crate) fn name(&self) -> &'static str {
        match (&self.op, self.kind) {
            (Some(op), _) => op.name(),
            (None, NodeKind::Param(_)) => "param",
            (None, NodeKind::Input) => "input",
            (None, NodeKind::Constant) => "constant",
            (None, NodeKind::Leaf) => "leaf",
            (None, NodeKind::Op) => "op",
        }
    }

    /// Whether backward runs this node's derivative.
    fn recorded(&self) -> bool {
        self.requires_grad && self.op.is_some()
    }

    /// Whether backward keeps this node's gradient: leaves, parameters and retained nodes.
    fn keeps_grad(&self) -> bool {
        self.retain || matches!(self.kind, NodeKind::Param(_) | NodeKind::Leaf)
    }
}

/// The record of one forward pass. Create one per step; dropping it (or [`Tape::clear`]) frees everything.
///
/// ```
/// use tapegrad::{Tape, Tensor};
/// let tape = Tape::<f64>::new();
/// let x = tape.leaf(Tensor::scalar(3.0));
/// let y = x * x + x; // y = x^2 + x
/// let g = y.backward().unwrap();
/// assert_eq!(g.get(x).unwrap().unwrap().item().unwrap(), 7.0); // dy/dx = 2x + 1
/// ```
pub struct Tape<T: Float> {
    /// Unique in the process (and renewed by [`Tape::clear`]): a [`Gradients`] store remembers the tape it
    /// came from by this id, which stays meaningful after the tape is dropped (an address would not).
    pub(crate) id: u64,
    pub(crate) nodes: RefCell<Vec<Node<T>>>,
    /// Parameter id to node, sorted by id (binary search; no hashing on the per-step path).
    params: RefCell<Vec<(ParamId, usize)>>,
    /// The names of the named parameters on the tape, by node (for graph pictures).
    pub(crate) param_names: RefCell<Vec<(usize, Arc<str>)>>,
    grad_enabled: Cell<bool>,
    /// Backward keeps every node's gradient, not only those of leaves, parameters and retained nodes.
    retain_all: Cell<bool>,
    anomaly: Cell<bool>,
    /// The first anomaly (or other failure) found by an op that returns its result directly (`exp`,
    /// `relu`, ...): reported by the next fallible call on this tape (`backward`, `grad`, any op returning
    /// `Result` while anomaly mode is on) and by [`Tape::check`].
    pending: RefCell<Option<Box<Error>>>,
}

/// The next tape id; 0 is never handed out (a default [`Gradients`] store belongs to no tape).
static NEXT_TAPE: AtomicU64 = AtomicU64::new(1);

fn fresh_tape_id() -> u64 {
    NEXT_TAPE.fetch_add(1, Ordering::Relaxed)
}

/// Puts a `Cell<bool>` back to its previous value when dropped, also while unwinding from a panic.
struct RestoreFlag<'a> {
    cell: &'a Cell<bool>,
    prev: bool,
}

impl<'a> RestoreFlag<'a> {
    fn set(cell: &'a Cell<bool>, v: bool) -> Self {
        RestoreFlag { cell, prev: cell.replace(v) }
    }
}

impl Drop for RestoreFlag<'_> {
    fn drop(&mut self) {
        self.cell.set(self.prev);
    }
}

impl<T: Float> Default for Tape<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// A handle to a node on a tape: cheap to copy, borrows the tape.
#[derive(Clone, Copy)]
pub struct Var<'t, T: Float> {
    pub(crate) tape: &'t Tape<T>,
    pub(crate) id: usize,
}

impl<T: Float> Tape<T> {
    /// An empty tape with gradients enabled and anomaly mode off.
    pub fn new() -> Self {
        Tape {
            id: fresh_tape_id(),
            nodes: RefCell::new(crate::tape_pool::spare_nodes()),
            params: RefCell::new(Vec::new()),
            param_names: RefCell::new(Vec::new()),
            grad_enabled: Cell::new(true),
            retain_all: Cell::new(false),
            anomaly: Cell::new(false),
            pending: RefCell::new(None),
        }
    }

    /// An empty tape with room for `n` nodes before it reallocates.
    pub fn with_capacity(n: usize) -> Self {
        let t = Self::new();
        t.nodes.borrow_mut().reserve(n);
        t
    }

    /// Number of nodes recorded.
    pub fn len(&self) -> usize {
        self.nodes.borrow().len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of nodes that carry a derivative (operations recorded for backward).
    pub fn recorded_ops(&self) -> usize {
        self.nodes.borrow().iter().filter(|n| n.recorded()).count()
    }

    /// Frees every node; the tape can be reused. Needs `&mut`, so no variable of it is alive. The tape
    /// gets a new identity: gradients computed before are foreign to it afterwards (node positions are
    /// reused).
    pub fn clear(&mut self) {
        self.nodes.get_mut().clear();
        self.params.get_mut().clear();
        self.param_names.get_mut().clear();
        self.id = fresh_tape_id();
    }

    /// Whether operations are recorded for backward (see [`Tape::no_grad`]).
    pub fn grad_enabled(&self) -> bool {
        self.grad_enabled.get()
    }

    /// Runs `f` with recording off: nodes keep their values only (no derivative, no inputs), and nothing
    /// computed inside requires a gradient. For evaluation and inference. The previous state comes back
    /// when `f` returns or panics (a drop guard).
    pub fn no_grad<R>(&self, f: impl FnOnce() -> R) -> R {
        let _restore = RestoreFlag::set(&self.grad_enabled, false);
        f()
    }

    /// Turns anomaly mode on or off. When on, the first op whose forward or backward produces a NaN or an
    /// infinity is reported as [`Error::NonFinite`] with its name, tape position and input shapes.
    ///
    /// Ops that return a [`Result`] report it at once. Ops that return their [`Var`] directly (elementwise
    /// maths and activations: they cannot fail otherwise) keep the first report on the tape; the next call
    /// that returns a `Result` (an op such as `mul` or `mse`, [`Var::backward`], [`Tape::grad`], ...) returns
    /// it, and [`Tape::check`] asks for it explicitly:
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// tape.set_anomaly(true);
    /// let x = tape.leaf(Tensor::from_vec(vec![1.0, -1.0], [2]).unwrap());
    /// let y = x.log().sum(); // log(-1) is NaN: noted, not returned
    /// let e = y.backward().unwrap_err();
    /// assert_eq!(e.to_string(), "anomaly: forward of log (node 1, inputs [2]) produced a non-finite value");
    /// assert!(tape.check().is_err());
    /// ```
    pub fn set_anomaly(&self, on: bool) {
        self.anomaly.set(on);
    }

    /// The first failure noted by an op that returns its value directly (see [`Tape::set_anomaly`]), if
    /// any; it stays noted for the tape's life.
    ///
    /// # Errors
    /// That failure ([`Error::NonFinite`] in anomaly mode).
    pub fn check(&self) -> Result<()> {
        match &*self.pending.borrow() {
            Some(e) => Err((**e).clone()),
            None => Ok(()),
        }
    }

    /// Notes `e` unless an earlier failure is noted already.
    fn note(&self, e: Error) {
        let mut p = self.pending.borrow_mut();
        if p.is_none() {
            *p = Some(Box::new(e));
        }
    }

    /// Whether anomaly mode is on.
    pub fn anomaly(&self) -> bool {
        self.anomaly.get()
    }

    /// Makes [`Var::backward`] keep the gradient of every node that needs one, intermediate results
    /// included, as if [`Var::retain_grad`] had been called on each (for looking inside a graph and for
    /// pictures: [`Tape::to_dot`]). Off by default: backward frees intermediate gradients as it passes them.
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// tape.set_retain_grads(true);
    /// let x = tape.leaf(Tensor::scalar(3.0));
    /// let h = x * x; // an intermediate node
    /// let y = h.sin();
    /// let g = y.backward().unwrap();
    /// assert_eq!(g.get(h).unwrap().unwrap().item().unwrap(), 9f64.cos()); // dy/dh = cos h
    /// ```
    pub fn set_retain_grads(&self, on: bool) {
        self.retain_all.set(on);
    }

    /// Whether backward keeps every node's gradient (see [`Tape::set_retain_grads`]).
    pub fn retain_grads(&self) -> bool {
        self.retain_all.get()
    }

    /// Appends a node. The arena is borrowed for the whole of a first-order backward walk, so an op's
    /// backward that reaches its tape by another way than its [`BackwardCx`] gets [`Error::TapeBusy`].
    fn push(&self, op: &'static str, node: Node<T>) -> Result<Var<'_, T>> {
        let mut nodes = self.nodes.try_borrow_mut().map_err(|_| Error::TapeBusy { op })?;
        nodes.push(node);
        Ok(Var { tape: self, id: nodes.len() - 1 })
    }

    #[track_caller]
    fn leafish(&self, value: Tensor<T>, kind: NodeKind, requires_grad: bool) -> Var<'_, T> {
        let node = Node { value, kind, op: None, inputs: SmallVec::new(), requires_grad, retain: false };
        let name = node.name();
        self.push(name, node).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Data: a node that never gets a gradient (PyTorch's tensor with `requires_grad=False`).
    ///
    /// The same as [`Tape::constant`] except for its label in graph pictures; to differentiate with respect
    /// to a tensor, put it on the tape with [`Tape::leaf`] (or [`Tape::param`] for a model's parameter).
    ///
    /// # Panics
    /// When called from inside an op's first-order backward on the tape being differentiated (the walk
    /// holds the arena; a derivative formula makes constants with [`BackwardCx::constant`]), with
    /// [`Error::TapeBusy`]'s message. Every fallible way to record returns that error instead.
    #[track_caller]
    pub fn input(&self, value: Tensor<T>) -> Var<'_, T> {
        self.leafish(value, NodeKind::Input, false)
    }

    /// A constant: a node that never gets a gradient.
    ///
    /// Behaves exactly as [`Tape::input`] (neither can be differentiated with respect to; use
    /// [`Tape::leaf`] or [`Tape::param`] for that): the two names only label the node differently in
    /// graph pictures and `Debug` output, `input` for data fed to the computation, `constant` for fixed
    /// numbers of the formula (what derivative formulas record, and [`Tape::scalar`]).
    ///
    /// # Panics
    /// As [`Tape::input`].
    #[track_caller]
    pub fn constant(&self, value: Tensor<T>) -> Var<'_, T> {
        self.leafish(value, NodeKind::Constant, false)
    }

    /// A scalar constant.
    ///
    /// # Panics
    /// As [`Tape::input`].
    #[track_caller]
    pub fn scalar(&self, v: T) -> Var<'_, T> {
        self.constant(Tensor::scalar(v))
    }

    /// A leaf that wants its gradient (`requires_grad=True` in PyTorch); read it with [`Gradients::get`].
    ///
    /// # Panics
    /// As [`Tape::input`].
    #[track_caller]
    pub fn leaf(&self, value: Tensor<T>) -> Var<'_, T> {
        let rg = self.grad_enabled.get();
        self.leafish(value, NodeKind::Leaf, rg)
    }

    /// A parameter's current value on this tape. Asking twice for the same parameter gives the same node.
    ///
    /// # Panics
    /// As [`Tape::input`].
    #[track_caller]
    pub fn param(&self, p: &Param<T>) -> Var<'_, T> {
        let rg = self.grad_enabled.get();
        let pid = p.id();
        let slot = self.params.borrow().binary_search_by_key(&pid, |e| e.0);
        if let Ok(k) = slot {
            let id = self.params.borrow()[k].1;
            // A node made under `no_grad` must not stand in for one that needs a gradient.
            if self.nodes.borrow()[id].requires_grad == rg {
                return Var { tape: self, id };
            }
        }
        let v = self.leafish(p.value().clone(), NodeKind::Param(pid), rg);
        if let Some(name) = p.name_arc() {
            self.param_names.borrow_mut().push((v.id, name.clone()));
        }
        match slot {
            Ok(k) => self.params.borrow_mut()[k].1 = v.id,
            Err(k) => self.params.borrow_mut().insert(k, (pid, v.id)),
        }
        v
    }

    /// Makes `v` stand for the parameter `p` on this tape: later [`Tape::param`] calls for `p` (a module's
    /// forward pass) return `v`. A function of a module's parameter values can then be differentiated,
    /// checked or evaluated at other values without changing the parameters; `nn`'s
    /// `check_module_gradients` passes the parameters to [`crate::check_gradients`] this way. `v` must have
    /// been made in the same grad mode as the later `param` calls (a leaf made under
    /// [`Tape::no_grad`] stands in only under `no_grad`).
    ///
    /// ```
    /// use tapegrad::{Param, Tape, Tensor};
    /// let p = Param::new(Tensor::scalar(1.0_f64));
    /// let tape = Tape::new();
    /// let w = tape.leaf(Tensor::scalar(3.0));
    /// tape.bind_param(&p, w)?;
    /// let y = tape.param(&p).square(); // the module would read the parameter here
    /// assert_eq!(y.item()?, 9.0);
    /// assert_eq!(y.backward()?.get(w)?.unwrap().item()?, 6.0);
    /// # Ok::<(), tapegrad::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::ForeignVar`] when `v` belongs to another tape; [`Error::InvalidArgument`] when its shape is
    /// not the parameter's.
    pub fn bind_param<'t>(&'t self, p: &Param<T>, v: Var<'t, T>) -> Result<()> {
        self.owns("bind_param", v)?;
        let (want, got) = (p.value().shape().clone(), v.shape());
        if want != got {
            let msg = format!("the parameter has shape {want}, the variable {got}");
            return Err(Error::InvalidArgument { op: "bind_param", msg });
        }
        let pid = p.id();
        let mut params = self.params.borrow_mut();
        match params.binary_search_by_key(&pid, |e| e.0) {
            Ok(k) => params[k].1 = v.id,
            Err(k) => params.insert(k, (pid, v.id)),
        }
        Ok(())
    }

    /// Records the result of an operation: `value` computed from `inputs` by `op`. Every built-in op goes
    /// through here, and so can user-defined ones.
    ///
    /// # Errors
    /// [`Error::ForeignVar`] when an input belongs to another tape; [`Error::NonFinite`] in anomaly mode when
    /// `value` holds a NaN or an infinity; [`Error::TapeBusy`] when called from inside an op's first-order
    /// backward on the tape being differentiated (formulas use [`BackwardCx`]'s operations).
    pub fn record<'t>(&'t self, op: impl Op<T>, inputs: &[Var<'t, T>], value: Tensor<T>) -> Result<Var<'t, T>> {
        for v in inputs {
            if !std::ptr::eq(v.tape, self) {
                return Err(Error::ForeignVar { op: op.name() });
            }
        }
        let requires_grad = self.grad_enabled.get() && {
            let nodes = self.nodes.borrow();
            inputs.iter().any(|v| nodes[v.id].requires_grad)
        };
        if self.anomaly.get() {
            self.check()?;
        }
        if self.anomaly.get() && !value.all_finite() {
            let nodes = self.nodes.borrow();
            return Err(Error::NonFinite {
                phase: "forward",
                op: op.name(),
                node: nodes.len(),
                inputs: shapes_of(&nodes, inputs.iter().map(|v| v.id)),
            });
        }
        // SAFETY (the one `unsafe` block this macro expands to, `SmallBox::new_unchecked(val, ptr)`): the
        // crate requires `ptr` to point to `val` itself, with `val`'s type coerced to `dyn Op<T>`; the
        // macro builds exactly that pointer (`addr_of!(val)`) from the value it then moves in, and no size
        // or offset computed by this crate is involved.
        let op: OpBox<T> = smallbox!(op);
        let inputs = if requires_grad { ids(op.name(), inputs)? } else { SmallVec::new() };
        let name = op.name();
        self.push(name, Node { value, kind: NodeKind::Op, op: Some(op), inputs, requires_grad, retain: false })
    }

    /// Records the result of an op of one variable of this tape that cannot fail (elementwise maths,
    /// activations): a failure (a non-finite value in anomaly mode) is noted on the tape instead of returned,
    /// and reported by the next fallible call (see [`Tape::set_anomaly`]). Panics with [`Error::TapeBusy`]'s
    /// message when called from inside an op's first-order backward on this tape, as [`Tape::input`] does.
    #[track_caller]
    pub(crate) fn record_infallible<'t>(&'t self, op: impl Op<T>, x: Var<'t, T>, value: Tensor<T>) -> Var<'t, T> {
        let requires_grad = self.grad_enabled.get() && self.nodes.borrow()[x.id].requires_grad;
        if self.anomaly.get() && !value.all_finite() {
            let nodes = self.nodes.borrow();
            let e = Error::NonFinite {
                phase: "forward",
                op: op.name(),
                node: nodes.len(),
                inputs: shapes_of(&nodes, std::iter::once(x.id)),
            };
            drop(nodes);
            self.note(e);
        }
        let op: OpBox<T> = smallbox!(op);
        let inputs = if requires_grad {
            ids(op.name(), &[x]).unwrap_or_else(|e| {
                self.note(e);
                SmallVec::new()
            })
        } else {
            SmallVec::new()
        };
        let name = op.name();
        let node = Node { value, kind: NodeKind::Op, op: Some(op), inputs, requires_grad, retain: false };
        self.push(name, node).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Checks that `v` lives on this tape.
    ///
    /// # Errors
    /// [`Error::ForeignVar`] naming `op` otherwise.
    pub fn owns(&self, op: &'static str, v: Var<'_, T>) -> Result<()> {
        if std::ptr::eq(v.tape, self) { Ok(()) } else { Err(Error::ForeignVar { op }) }
    }

    pub(crate) fn node_ref(&self, id: usize) -> Ref<'_, Node<T>> {
        Ref::map(self.nodes.borrow(), |n| &n[id])
    }
}

/// Node ids as an op node stores them: `u32`, inline up to four (a tape of 2^32 nodes would need half a
/// terabyte; the id is checked anyway).
pub(crate) type InputIds = SmallVec<[u32; 4]>;

/// The ids of `vars` as [`InputIds`] (a plain copy: `collect` into a `SmallVec` costs more).
fn ids<T: Float>(op: &'static str, vars: &[Var<'_, T>]) -> Result<InputIds> {
    let id = |v: &Var<'_, T>| {
        u32::try_from(v.id).map_err(|_| Error::InvalidArgument {
            op,
            msg: format!("an input is node {}; a tape holds at most 2^32 nodes", v.id),
        })
    };
    if vars.len() <= 4 {
        let mut buf = [0; 4];
        for (b, v) in buf.iter_mut().zip(vars) {
            *b = id(v)?;
        }
        Ok(SmallVec::from_buf_and_len(buf, vars.len()))
    } else {
        vars.iter().map(id).collect()
    }
}

pub(crate) fn shapes_of<T: Float>(nodes: &[Node<T>], ids: impl Iterator<Item = usize>) -> String {
    let v: Vec<String> = ids.map(|i| nodes[i].value.shape().to_string()).collect();
    v.join(", ")
}

#[path = "tape_walk.rs"]
mod walk;

#[cfg(test)]
#[path = "tape_tests.rs"]
mod tests;
