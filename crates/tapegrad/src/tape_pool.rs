//! Emptied node arenas of dropped tapes, kept per thread and reused by the next tape: a training loop that
//! records one tape per step grows its arena once instead of every step.

use crate::float::Float;
use crate::tape::{Node, Tape};
use std::any::Any;
use std::cell::RefCell;

thread_local! {
    /// Emptied node arenas of dropped tapes, reused by the next tape made on the same thread: a training
    /// loop that records one tape per step grows its arena once instead of every step.
    static SPARE_NODES: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
}

/// Arenas with room for more nodes than this are freed, not kept; at most [`SPARE_KEEP`] are kept per
/// thread (about 2.5 MB each at most).
pub(crate) const SPARE_MAX: usize = 1 << 14;
const SPARE_KEEP: usize = 2;

/// An emptied arena from this thread's pool, or a new one.
pub(crate) fn spare_nodes<T: Float>() -> Vec<Node<T>> {
    SPARE_NODES
        .try_with(|s| {
            let mut s = s.borrow_mut();
            let i = s.iter().position(|b| b.is::<Vec<Node<T>>>())?;
            s.swap_remove(i).downcast::<Vec<Node<T>>>().ok().map(|b| *b)
        })
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Frees every node (values, ops) now; only the empty arena may be kept for the next tape.
impl<T: Float> Drop for Tape<T> {
    fn drop(&mut self) {
        let mut nodes = std::mem::take(self.nodes.get_mut());
        nodes.clear();
        if nodes.capacity() == 0 || nodes.capacity() > SPARE_MAX {
            return;
        }
        let _ = SPARE_NODES.try_with(|s| {
            let mut s = s.borrow_mut();
            if s.len() < SPARE_KEEP {
                s.push(Box::new(nodes));
            }
        });
    }
}
