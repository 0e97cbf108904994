//! What a variable can tell about itself and how it starts the backward pass.

use crate::error::{Error, Result};
use crate::float::Float;
use crate::gradients::Gradients;
use crate::shape::Shape;
use crate::tape::{NodeKind, Tape, Var};
use crate::tensor::Tensor;
use crate::val::Val;
use std::fmt;

impl<'t, T: Float> Var<'t, T> {
    /// The tape it lives on.
    pub fn tape(&self) -> &'t Tape<T> {
        self.tape
    }

    /// Its position on the tape.
    pub fn id(&self) -> usize {
        self.id
    }

    /// Its value (a cheap clone of shared storage).
    pub fn value(&self) -> Tensor<T> {
        self.tape.node_ref(self.id).value.clone()
    }

    /// `f` applied to every element of its value (no clone of the value first).
    pub(crate) fn map_value(&self, f: impl Fn(T) -> T + Sync) -> Tensor<T> {
        self.tape.node_ref(self.id).value.map_split(f)
    }

    /// Its shape.
    pub fn shape(&self) -> Shape {
        self.tape.node_ref(self.id).value.shape().clone()
    }

    /// Its kind.
    pub fn kind(&self) -> NodeKind {
        self.tape.node_ref(self.id).kind
    }

    /// Whether backward will compute a gradient for it.
    pub fn requires_grad(&self) -> bool {
        self.tape.node_ref(self.id).requires_grad
    }

    /// Asks backward to keep this node's gradient (for intermediate results), like PyTorch's `retain_grad`.
    ///
    /// # Panics
    /// As [`Tape::input`]: when called from inside an op's first-order backward on this variable's tape.
    #[track_caller]
    pub fn retain_grad(self) -> Self {
        let mut nodes =
            self.tape.nodes.try_borrow_mut().unwrap_or_else(|_| panic!("{}", Error::TapeBusy { op: "retain_grad" }));
        nodes[self.id].retain = true;
        drop(nodes);
        self
    }

    /// The single value of a one-element variable.
    ///
    /// # Errors
    /// [`Error::BadShape`] when it has more than one element.
    pub fn item(&self) -> Result<T> {
        self.tape.node_ref(self.id).value.item()
    }

    /// Gradients of this scalar with respect to every parameter, every leaf and every retained node it
    /// depends on. Intermediate gradients are freed as the walk passes them; calling it twice gives the same
    /// result.
    ///
    /// # Errors
    /// [`Error::NonScalarLoss`] unless this has exactly one element; [`Error::NonFinite`] in anomaly mode.
    pub fn backward(&self) -> Result<Gradients<T>> {
        let kept = self.tape.run_backward(self.id, false)?;
        Ok(self.gradients(kept))
    }

    /// Gradients of `sum(self * grad)` (the vector-Jacobian product with `grad`, PyTorch's
    /// `y.backward(grad)`) with respect to every parameter, leaf and retained node this depends on, without
    /// recording the product or the sum: the walk starts from this variable with `grad` as its gradient.
    ///
    /// ```
    /// use tapegrad::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.leaf(Tensor::from_vec(vec![1.0, 2.0], [2]).unwrap());
    /// let y = x * x; // dy_i/dx_i = 2 x_i
    /// let g = y.backward_with(Tensor::from_vec(vec![10.0, 1.0], [2]).unwrap()).unwrap();
    /// assert_eq!(g.get(x).unwrap().unwrap().data(), &[20.0, 4.0]);
    /// ```
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] naming both shapes unless `grad` has this variable's shape;
    /// [`Error::NonFinite`] in anomaly mode.
    pub fn backward_with(&self, grad: Tensor<T>) -> Result<Gradients<T>> {
        let shape = self.tape.node_ref(self.id).value.shape().clone();
        if grad.shape() != &shape {
            return Err(Error::ShapeMismatch {
                op: "backward_with",
                msg: "the output gradient must have the variable's shape".into(),
                lhs: shape,
                rhs: grad.shape().clone(),
            });
        }
        let kept = self.tape.run_backward_seeded(vec![(self.id, grad)])?;
        Ok(self.gradients(kept))
    }

    /// The kept gradients of a walk, by parameter and by node.
    fn gradients(&self, mut kept: Vec<Option<Val<T>>>) -> Gradients<T> {
        let nodes = self.tape.nodes.borrow();
        let mut out = Gradients { tape: self.tape.id, params: Vec::new(), nodes: Vec::new() };
        for (i, g) in kept.iter_mut().enumerate() {
            // Most slots are empty: test in place, move out only what is kept.
            if g.is_none() {
                continue;
            }
            let Some(Val::Tensor(t)) = g.take() else { continue };
            if let NodeKind::Param(pid) = nodes[i].kind {
                out.params.push((pid, t.clone()));
            }
            out.nodes.push((i, t));
        }
        // Node ids ascend by construction; parameter ids follow the order parameters were first used.
        out.params.sort_unstable_by_key(|e| e.0);
        out
    }
}

impl<T: Float> fmt::Debug for Var<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.tape.node_ref(self.id);
        write!(f, "Var#{} {} {:?}", self.id, n.name(), n.value)
    }
}
