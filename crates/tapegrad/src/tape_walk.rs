//! The reverse walk over the tape's arena: first-order backward (one shared borrow for the whole walk),
//! the gradient graph (`create_graph`, formulas recorded on the same tape), the walk seeded with a direction
//! for Hessian-vector products, and the retention of intermediate gradients. A child module of `tape` so
//! that it reaches the arena directly; `tape.rs` keeps the arena and recording.

use super::*;

impl<T: Float> Tape<T> {
    /// Reverse walk from `loss`: returns, per node, the gradient of `loss` (only nodes that need one and are
    /// leaves or retained keep it). With `create_graph`, the derivative formulas are recorded on this tape.
    pub(crate) fn run_backward(&self, loss: usize, create_graph: bool) -> Result<Vec<Option<Val<T>>>> {
        self.check()?;
        let (shape, rg) = {
            let nodes = self.nodes.borrow();
            (nodes[loss].value.shape().clone(), nodes[loss].requires_grad)
        };
        if create_graph && self.nodes.try_borrow_mut().is_err() {
            // A gradient graph records on this tape, which a running first-order walk holds.
            return Err(Error::TapeBusy { op: "grad_graph" });
        }
        if shape.numel() != 1 {
            return Err(Error::NonScalarLoss { shape });
        }
        if !rg {
            let mut grads: Vec<Option<Val<T>>> = Vec::new();
            grads.resize_with(loss + 1, || None);
            return Ok(grads);
        }
        let seed = Tensor::filled(shape, T::one());
        let seed = if create_graph { Val::Node(self.constant(seed).id) } else { Val::Tensor(seed) };
        self.walk(vec![(loss, seed)], create_graph)
    }

    /// First-order reverse walk seeded with the gradients `seeds` (node id, tensor of that node's shape),
    /// as if they flowed in from a loss above them: the vector-Jacobian product through the tape. A seed on a
    /// node that needs no gradient contributes nothing; seeds on the same node add up. [`Tape::hvp`] seeds
    /// the gradient graph with the direction `v` instead of recording `<grad, v>` and walking back from it.
    pub(crate) fn run_backward_seeded(&self, seeds: Vec<(usize, Tensor<T>)>) -> Result<Vec<Option<Val<T>>>> {
        self.check()?;
        let seeds = {
            let nodes = self.nodes.borrow();
            seeds.into_iter().filter(|(id, _)| nodes[*id].requires_grad).map(|(id, t)| (id, Val::Tensor(t))).collect()
        };
        self.walk(seeds, false)
    }

    /// The reverse walk from `seeds` (each a node that requires a gradient, with its incoming gradient).
    fn walk(&self, seeds: Vec<(usize, Val<T>)>, create_graph: bool) -> Result<Vec<Option<Val<T>>>> {
        // One slot per node: the gradient flowing into it during the walk, and afterwards the gradients
        // that are kept (leaves, parameters, retained nodes); every other slot is emptied as the walk passes.
        let keep_all = self.retain_all.get();
        let mut grads: Vec<Option<Val<T>>> = Vec::new();
        let Some(loss) = seeds.iter().map(|s| s.0).max() else {
            return Ok(grads);
        };
        grads.resize_with(loss + 1, || None);
        for (id, g) in seeds {
            grads[id] = Some(match grads[id].take() {
                None => g,
                Some(acc) => BackwardCx::new(self, None, id, &[], create_graph).add(acc, g)?,
            });
        }
        if create_graph {
            for i in (0..=loss).rev() {
                let Some(g) = grads[i].take() else { continue };
                // The formulas record on this tape, which may grow the arena: the op is moved out while its
                // backward runs and put back after, and no borrow of the arena is held meanwhile.
                let (op, inputs, keep) = {
                    let mut nodes = self.nodes.borrow_mut();
                    let n = &mut nodes[i];
                    (n.op.take(), n.inputs.clone(), n.keeps_grad() || keep_all)
                };
                let Some(op) = op else {
                    grads[i] = Some(g);
                    continue;
                };
                let cx = BackwardCx::new(self, None, i, &inputs, true);
                let r = self.backward_node(&cx, &*op, g, keep, &mut grads[..=i]);
                self.nodes.borrow_mut()[i].op = Some(op);
                r?;
            }
        } else {
            // First order records nothing: one shared borrow of the arena serves the whole walk.
            let nodes = self.nodes.borrow();
            for i in (0..=loss).rev() {
                let Some(g) = grads[i].take() else { continue };
                let n = &nodes[i];
                let Some(op) = n.op.as_deref() else {
                    grads[i] = Some(g);
                    continue;
                };
                let cx = BackwardCx::new(self, Some(&nodes), i, &n.inputs, false);
                self.backward_node(&cx, op, g, n.keeps_grad() || keep_all, &mut grads[..=i])?;
            }
        }
        Ok(grads)
    }

    /// Runs one node's derivative and adds the input gradients into `grads` (whose last slot is the node's).
    fn backward_node(
        &self,
        cx: &BackwardCx<'_, T>,
        op: &dyn Op<T>,
        g: Val<T>,
        keep: bool,
        grads: &mut [Option<Val<T>>],
    ) -> Result<()> {
        if keep {
            grads[cx.node()] = Some(g.clone());
        }
        let name = op.name();
        let mut gs = op.backward(cx, g)?;
        if gs.len() != cx.num_inputs() {
            return Err(Error::InvalidArgument {
                op: name,
                msg: format!("backward returned {} gradients for {} inputs", gs.len(), cx.num_inputs()),
            });
        }
        for (k, gi) in gs.iter_mut().enumerate() {
            let Some(gi) = gi.take() else { continue };
            if !cx.needs(k) {
                continue;
            }
            // A wrong shape would be broadcast into the input's slot or passed on silently: a user-defined
            // op's bug becomes an error naming it (one shape comparison per input).
            cx.check_grad_shape(name, k, &gi)?;
            if self.anomaly.get() && !cx.is_finite(&gi)? {
                return Err(Error::NonFinite {
                    phase: "backward",
                    op: name,
                    node: cx.node(),
                    inputs: cx.input_shapes(),
                });
            }
            let slot = &mut grads[cx.input_id(k)];
            *slot = Some(match slot.take() {
                None => gi,
                Some(acc) => cx.add(acc, gi)?,
            });
        }
        Ok(())
    }

    /// Gradients of `loss` with respect to `wrt`, recorded on this tape so they can be differentiated again
    /// (PyTorch's `create_graph=True`). A variable that `loss` does not depend on gets a zero constant.
    ///
    /// # Errors
    /// [`Error::NonScalarLoss`] unless `loss` has one element; [`Error::ForeignVar`] for variables of another
    /// tape.
    pub fn grad_graph<'t>(&'t self, loss: Var<'t, T>, wrt: &[Var<'t, T>]) -> Result<Vec<Var<'t, T>>> {
        self.owns("grad_graph", loss)?;
        for &w in wrt {
            self.owns("grad_graph", w)?;
        }
        let mut kept = {
            let _restore = RestoreFlag::set(&self.grad_enabled, true);
            self.with_retained("grad_graph", wrt, || self.run_backward(loss.id, true))??
        };
        wrt.iter()
            .map(|w| match kept.get_mut(w.id).and_then(Option::take) {
                Some(Val::Node(id)) => Ok(Var { tape: self, id }),
                Some(Val::Tensor(t)) => Ok(self.constant(t)),
                None => Ok(self.constant(w.value().zeros_like())),
            })
            .collect()
    }

    /// Runs `f` with the nodes of `vars` (variables of this tape) marked as retained, and restores their
    /// flags afterwards, also when `f` panics.
    ///
    /// # Errors
    /// [`Error::TapeBusy`] naming `op` during a first-order backward walk of this tape.
    pub(crate) fn with_retained<R>(&self, op: &'static str, vars: &[Var<'_, T>], f: impl FnOnce() -> R) -> Result<R> {
        struct Unretain<'a, T: Float> {
            tape: &'a Tape<T>,
            saved: Vec<(usize, bool)>,
        }
        impl<T: Float> Drop for Unretain<'_, T> {
            fn drop(&mut self) {
                if let Ok(mut nodes) = self.tape.nodes.try_borrow_mut() {
                    for &(id, p) in &self.saved {
                        nodes[id].retain = p;
                    }
                }
            }
        }
        let saved: Vec<(usize, bool)> = {
            let mut nodes = self.nodes.try_borrow_mut().map_err(|_| Error::TapeBusy { op })?;
            vars.iter().map(|v| (v.id, std::mem::replace(&mut nodes[v.id].retain, true))).collect()
        };
        let _unretain = Unretain { tape: self, saved };
        Ok(f())
    }
}
