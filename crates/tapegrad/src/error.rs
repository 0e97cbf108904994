//! The engine's one error type.

use crate::shape::Shape;
use thiserror::Error;

/// Everything an engine operation can refuse. Messages are lowercase, start with the operation's
/// name and print every shape involved.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum Error {
    /// Two shapes that an operation needs to agree do not.
    #[error("{op}: {msg} ({lhs} and {rhs})")]
    ShapeMismatch {
        /// The operation.
        op: &'static str,
        /// What was expected.
        msg: String,
        /// First shape.
        lhs: Shape,
        /// Second shape.
        rhs: Shape,
    },
    /// A single shape that an operation cannot take.
    #[error("{op}: {msg} (got {shape})")]
    BadShape {
        /// The operation.
        op: &'static str,
        /// What was expected.
        msg: String,
        /// The shape given.
        shape: Shape,
    },
    /// A buffer whose length does not match the shape it is given.
    #[error("{op}: data has {len} elements but shape {shape} needs {expected}")]
    LengthMismatch {
        /// The operation.
        op: &'static str,
        /// Elements supplied.
        len: usize,
        /// Elements the shape needs.
        expected: usize,
        /// The shape.
        shape: Shape,
    },
    /// An axis outside `0..rank`.
    #[error("{op}: axis {axis} is out of range for a tensor of rank {rank} (shape {shape})")]
    AxisOutOfRange {
        /// The operation.
        op: &'static str,
        /// The axis given.
        axis: isize,
        /// The tensor's rank.
        rank: usize,
        /// The tensor's shape.
        shape: Shape,
    },
    /// An index or class label outside its range.
    #[error("{op}: index {index} is out of range 0..{bound}")]
    IndexOutOfRange {
        /// The operation.
        op: &'static str,
        /// The index given.
        index: usize,
        /// The exclusive upper bound.
        bound: usize,
    },
    /// A bad scalar argument (a negative probability, a non-finite exponent, ...).
    #[error("{op}: {msg}")]
    InvalidArgument {
        /// The operation.
        op: &'static str,
        /// What is wrong.
        msg: String,
    },
    /// A variable recorded on one tape was used with another.
    #[error("{op}: a variable from another tape was used on this tape")]
    ForeignVar {
        /// The operation.
        op: &'static str,
    },
    /// A shape whose element count, or whose size in bytes, does not fit in memory's address space
    /// (`numel * size_of::<T>()` must fit in `isize::MAX`): refused before anything is allocated.
    #[error("{op}: {msg} (shape {shape})")]
    TooLarge {
        /// The operation.
        op: &'static str,
        /// What overflowed.
        msg: String,
        /// The shape asked for (or, when even its dimensions cannot be formed, the input's).
        shape: Shape,
    },
    /// The allocator refused a buffer whose size a caller chose (PyTorch raises on a failed CPU
    /// allocation too).
    #[error("{op}: could not allocate {bytes} bytes")]
    Allocation {
        /// The operation.
        op: &'static str,
        /// The bytes requested.
        bytes: usize,
    },
    /// A custom op's backward returned a gradient whose shape differs from its input's.
    #[error("{op}: backward returned a gradient of shape {got} for input {input} of shape {expected}")]
    GradientShape {
        /// The operation.
        op: &'static str,
        /// Which input (position in the op's input list).
        input: usize,
        /// The input's shape.
        expected: Shape,
        /// The gradient's shape.
        got: Shape,
    },
    /// A node was recorded on a tape while its first-order backward walk holds the arena (an op's
    /// backward reaching the tape by another way than its [`crate::BackwardCx`]).
    #[error("{op}: cannot record on a tape during its first-order backward walk; use the BackwardCx operations")]
    TapeBusy {
        /// The operation.
        op: &'static str,
    },
    /// `backward` of something that is not a single element.
    #[error("backward: the loss must have exactly one element (got shape {shape})")]
    NonScalarLoss {
        /// The loss's shape.
        shape: Shape,
    },
    /// Anomaly mode found a NaN or an infinity.
    #[error("anomaly: {phase} of {op} (node {node}, inputs {inputs}) produced a non-finite value")]
    NonFinite {
        /// `forward` or `backward`.
        phase: &'static str,
        /// The operation's name.
        op: &'static str,
        /// The node's position on the tape.
        node: usize,
        /// The input shapes, printed.
        inputs: String,
    },
    /// A gradient check found a derivative that disagrees with finite differences.
    #[error(
        "gradient check: input {input} element {element}: analytic {analytic:.6e} vs numeric {numeric:.6e} (atol {atol:e}, rtol {rtol:e})"
    )]
    GradientMismatch {
        /// Which input (position in the list given to the check).
        input: usize,
        /// Flat element index inside that input.
        element: usize,
        /// The value backward gave.
        analytic: f64,
        /// The central finite difference.
        numeric: f64,
        /// Absolute tolerance used.
        atol: f64,
        /// Relative tolerance used.
        rtol: f64,
    },
}

/// Shorthand for results of engine operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
