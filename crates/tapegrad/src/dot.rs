//! Graph pictures: any tape as Graphviz DOT (node kind, op name, shape; optionally values and gradients),
//! like micrograd's `draw_dot` and keras's `plot_model`.

use crate::error::{Error, Result};
use crate::float::Float;
use crate::tape::{Gradients, NodeKind, Tape};
use std::fmt::Write;

/// What to print inside each node besides kind, op and shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct DotOptions {
    /// Print values of tensors with at most 8 elements.
    pub values: bool,
}

impl<T: Float> Tape<T> {
    /// The tape as a Graphviz `digraph`, edges from inputs to the ops that use them. Pass the gradients of
    /// a backward pass of this tape to print them beside small values.
    ///
    /// # Errors
    /// [`Error::ForeignVar`] when `grads` came from another tape (or from this one before
    /// [`Tape::clear`]).
    pub fn to_dot(&self, opts: DotOptions, grads: Option<&Gradients<T>>) -> Result<String> {
        if grads.is_some_and(|g| !g.is_from(self)) {
            return Err(Error::ForeignVar { op: "to_dot" });
        }
        let nodes = self.nodes.borrow();
        let mut s = String::from("digraph tape {\n  rankdir=LR;\n  node [shape=record, fontname=\"Helvetica\"];\n");
        for (i, n) in nodes.iter().enumerate() {
            let (kind, color) = match n.kind {
                NodeKind::Param(_) => ("param", "lightblue"),
                NodeKind::Input => ("input", "lightgrey"),
                NodeKind::Constant => ("const", "white"),
                NodeKind::Leaf => ("leaf", "lightblue"),
                NodeKind::Op => ("op", "lightyellow"),
            };
            let mut label = format!("#{i} {kind}: {} | {}", n.name(), n.value.shape());
            if opts.values && n.value.numel() <= 8 {
                let v: Vec<String> = n.value.data().iter().map(|x| format!("{x:.4}")).collect();
                let _ = write!(label, " | value {}", v.join(" "));
                if let Some(g) = grads.and_then(|g| g.node(i)) {
                    let gv: Vec<String> = g.data().iter().map(|x| format!("{x:.4}")).collect();
                    let _ = write!(label, " | grad {}", gv.join(" "));
                }
            }
            let _ = writeln!(s, "  n{i} [label=\"{{{label}}}\", style=filled, fillcolor={color}];");
            for &j in &n.inputs {
                let _ = writeln!(s, "  n{j} -> n{i};");
            }
        }
        s.push_str("}\n");
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::DotOptions;
    use crate::{Tape, Tensor};

    #[test]
    fn dot_lists_every_node_and_edge() {
        let tape = Tape::<f64>::new();
        let x = tape.leaf(Tensor::scalar(2.0));
        let y = (x * x).tanh();
        let g = y.backward().unwrap();
        let dot = tape.to_dot(DotOptions { values: true }, Some(&g)).unwrap();
        assert!(dot.starts_with("digraph tape {"));
        assert!(dot.contains("n0 -> n1;") && dot.contains("n1 -> n2;"));
        assert!(dot.contains("#2 op: tanh | []"));
        assert!(dot.contains("grad"));
    }
}
