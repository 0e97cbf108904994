//! Graph pictures: any tape as Graphviz DOT, top to bottom like micrograd's `draw_dot` and keras's
//! `plot_model`: each node's kind, op name with its constants, parameter name and shape; optionally values
//! and gradients.

use crate::error::{Error, Result};
use crate::float::Float;
use crate::tape::{Gradients, NodeKind, Tape};
use crate::tensor::Tensor;
use std::fmt::Write;

/// What to print inside each node besides kind, op (with its constants), parameter name and shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct DotOptions {
    /// Print values: every element of tensors with at most 8 elements, the largest magnitude of bigger ones.
    pub values: bool,
}

/// Tensors up to this many elements are printed in full.
const SMALL: usize = 8;

impl<T: Float> Tape<T> {
    /// The tape as a Graphviz `digraph`, laid out top to bottom (inputs above the ops that use them; render
    /// with `dot -Tsvg tape.dot -o tape.svg`, or `dot -Grankdir=LR ...` for left to right).
    ///
    /// Each node shows its position, kind, shape and name: the op with its constant arguments
    /// (`powf p = 2`, `mul_scalar c = 0.5`), a parameter's [`Param::name`](crate::Param::name)
    /// (`layers.0.weight` for `tapegrad-nn` models), else its kind. Pass the gradients of a backward pass
    /// of this tape to print each node's gradient where the store has one: parameters and leaves always;
    /// intermediate results when asked for, with [`Tape::set_retain_grads`] before the backward pass (every
    /// node) or [`Var::retain_grad`](crate::Var::retain_grad) (some).
    ///
    /// ```
    /// use tapegrad::{DotOptions, Param, Tape, Tensor};
    /// let w = Param::with_name(Tensor::from_vec(vec![0.5, -1.0], [2]).unwrap(), "w");
    /// let tape = Tape::<f64>::new();
    /// tape.set_retain_grads(true);
    /// let x = tape.input(Tensor::from_vec(vec![1.0, 2.0], [2]).unwrap());
    /// let loss = (x * tape.param(&w)).powf(2.0).unwrap().sum();
    /// let grads = loss.backward().unwrap();
    /// let dot = tape.to_dot(DotOptions { values: true }, Some(&grads)).unwrap();
    /// assert!(dot.contains("rankdir=TB"));
    /// assert!(dot.contains("#1 param w | [2]"));
    /// assert!(dot.contains("#3 op: powf p = 2 | [2] | value 0.2500 4.0000 | grad 1.0000 1.0000"));
    /// ```
    ///
    /// # Errors
    /// [`Error::ForeignVar`] when `grads` came from another tape (or from this one before
    /// [`Tape::clear`]).
    pub fn to_dot(&self, opts: DotOptions, grads: Option<&Gradients<T>>) -> Result<String> {
        if grads.is_some_and(|g| !g.is_from(self)) {
            return Err(Error::ForeignVar { op: "to_dot" });
        }
        let nodes = self.nodes.borrow();
        let names = self.param_names.borrow();
        let mut s = String::from("digraph tape {\n  rankdir=TB;\n  node [shape=record, fontname=\"Helvetica\"];\n");
        for (i, n) in nodes.iter().enumerate() {
            let (kind, color) = match n.kind {
                NodeKind::Param(_) => ("param", "lightblue"),
                NodeKind::Input => ("input", "lightgrey"),
                NodeKind::Constant => ("const", "white"),
                NodeKind::Leaf => ("leaf", "lightblue"),
                NodeKind::Op => ("op", "lightyellow"),
            };
            let title = match (&n.op, n.kind) {
                (Some(op), _) => match op.attributes() {
                    Some(a) => format!("op: {} {a}", op.name()),
                    None => format!("op: {}", op.name()),
                },
                (None, NodeKind::Param(_)) => match names.iter().rev().find(|e| e.0 == i) {
                    Some((_, name)) => format!("param {name}"),
                    None => "param".to_owned(),
                },
                (None, _) => kind.to_owned(),
            };
            let mut label = format!("#{i} {} | {}", escape(&title), n.value.shape());
            if opts.values {
                let _ = write!(label, " | value {}", summary(&n.value));
            }
            if let Some(g) = grads.and_then(|g| g.node(i)) {
                let _ = write!(label, " | grad {}", summary(g));
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

/// Every element of a small tensor, or the largest magnitude of a bigger one.
fn summary<T: Float>(t: &Tensor<T>) -> String {
    if t.numel() <= SMALL {
        let v: Vec<String> = t.data().iter().map(|x| format!("{x:.4}")).collect();
        v.join(" ")
    } else {
        let m = t.data().iter().fold(T::zero(), |m, &x| if x.abs() > m || x.is_nan() { x.abs() } else { m });
        format!("max abs {m:.4}")
    }
}

/// Escapes the characters a Graphviz record label gives a meaning to.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '{' | '}' | '|' | '<' | '>' | '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::DotOptions;
    use crate::{Param, Tape, Tensor};

    #[test]
    fn dot_lists_every_node_and_edge_top_to_bottom() {
        let tape = Tape::<f64>::new();
        let x = tape.leaf(Tensor::scalar(2.0));
        let y = (x * x).tanh();
        let g = y.backward().unwrap();
        let dot = tape.to_dot(DotOptions { values: true }, Some(&g)).unwrap();
        assert!(dot.starts_with("digraph tape {\n  rankdir=TB;"));
        assert!(dot.contains("n0 -> n1;") && dot.contains("n1 -> n2;"));
        assert!(dot.contains("#2 op: tanh | []"));
        // The leaf's gradient is printed; the intermediate product's was not kept.
        assert!(dot.contains("#0 leaf | [] | value 2.0000 | grad"), "{dot}");
        assert!(dot.contains("#1 op: mul | [] | value 4.0000}\""), "{dot}");
    }

    #[test]
    fn intermediate_gradients_are_printed_when_retained() {
        let tape = Tape::<f64>::new();
        tape.set_retain_grads(true);
        let x = tape.leaf(Tensor::scalar(2.0));
        let h = x * x;
        let y = h.mul_scalar(3.0);
        let g = y.backward().unwrap();
        let dot = tape.to_dot(DotOptions::default(), Some(&g)).unwrap();
        // dy/dh = 3, dy/dx = 3 * 2x = 12.
        assert!(dot.contains("#1 op: mul | [] | grad 3.0000}\""), "{dot}");
        assert!(dot.contains("#0 leaf | [] | grad 12.0000}\""), "{dot}");
        assert!(dot.contains("#2 op: mul_scalar c = 3 | []"), "{dot}");
        assert!(!dot.contains("value"));
    }

    #[test]
    fn leaky_relu_shows_both_slopes() {
        let tape = Tape::<f64>::new();
        let x = tape.leaf(Tensor::scalar(-2.0));
        let _ = x.leaky_relu(0.5, 0.25).unwrap();
        let dot = tape.to_dot(DotOptions::default(), None).unwrap();
        assert!(dot.contains("#1 op: leaky_relu alpha = 0.5, beta = 0.25"), "{dot}");
    }

    #[test]
    fn parameters_show_their_names_and_constants_their_values() {
        let w = Param::with_name(Tensor::<f64>::ones([3, 4]).unwrap(), "layers.0.weight");
        let b = Param::new(Tensor::<f64>::zeros([4]).unwrap());
        let tape = Tape::new();
        let x = tape.input(Tensor::ones([1, 3]).unwrap());
        let z = x.matmul(tape.param(&w)).unwrap() + tape.param(&b);
        let y = z.add_scalar(-0.5).powf(3.0).unwrap().sum();
        let g = y.backward().unwrap();
        let dot = tape.to_dot(DotOptions { values: true }, Some(&g)).unwrap();
        assert!(dot.contains("#1 param layers.0.weight | [3, 4] | value max abs 1.0000 | grad max abs"), "{dot}");
        assert!(dot.contains("#3 param | [4]"), "{dot}");
        assert!(dot.contains("op: add_scalar c = -0.5 |"), "{dot}");
        assert!(dot.contains("op: powf p = 3 |"), "{dot}");
    }

    #[test]
    fn record_characters_in_names_are_escaped() {
        let w = Param::with_name(Tensor::<f64>::scalar(1.0), "a|b{c}");
        let tape = Tape::new();
        tape.param(&w);
        let dot = tape.to_dot(DotOptions::default(), None).unwrap();
        assert!(dot.contains(r"#0 param a\|b\{c\} | []"), "{dot}");
    }
}
