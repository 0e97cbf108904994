//! Moving elements without arithmetic: reshape, permute/transpose, broadcast_to and its derivative sum_to,
//! narrow (slice) and its derivative pad, concat, and row gathers (index_select) with their derivative
//! index_add.

use crate::error::{Error, Result};
use crate::float::Float;
use crate::kernels;
use crate::shape::Shape;
use crate::tape::{Op, OpGrads, Var};
use crate::tensor::{Tensor, checked_numel, try_buffer};
use crate::val::{BackwardCx, Val};
use smallvec::smallvec;

// ---- reshape: same elements, new shape;  dx = reshape(g, shape(x)) ----

struct ReshapeOp;
impl<T: Float> Op<T> for ReshapeOp {
    fn name(&self) -> &'static str {
        "reshape"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        Ok(smallvec![Some(cx.reshape(g, &cx.input_shape(0))?)])
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// The same elements under another shape with as many elements.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the element counts differ.
    pub fn reshape(self, shape: impl Into<Shape>) -> Result<Self> {
        let v = self.value().reshape(shape)?;
        if v.shape() == &self.shape() {
            return Ok(self);
        }
        self.tape.record(ReshapeOp, &[self], v)
    }
}

// ---- permute: y[i_perm] = x[i];  dx = permute(g, inverse(perm)) ----

struct PermuteOp(Vec<usize>);
impl<T: Float> Op<T> for PermuteOp {
    fn name(&self) -> &'static str {
        "permute"
    }
    fn attributes(&self) -> Option<String> {
        Some(format!("perm = {:?}", self.0))
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        let mut inv = vec![0; self.0.len()];
        for (i, &p) in self.0.iter().enumerate() {
            inv[p] = i;
        }
        Ok(smallvec![Some(cx.permute(g, &inv)?)])
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Reorders axes: output axis `i` is input axis `perm[i]`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `perm` is not a permutation of the axes.
    pub fn permute(self, perm: &[usize]) -> Result<Self> {
        let v = kernels::permute(&self.value(), perm)?;
        self.tape.record(PermuteOp(perm.to_vec()), &[self], v)
    }

    /// Swaps two axes (negative axes count from the end).
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`].
    pub fn transpose(self, a: isize, b: isize) -> Result<Self> {
        let s = self.shape();
        let (a, b) = (s.axis("transpose", a)?, s.axis("transpose", b)?);
        let mut perm: Vec<usize> = (0..s.rank()).collect();
        perm.swap(a, b);
        self.permute(&perm)
    }

    /// The transpose of a matrix (the last two axes swapped).
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`] for rank below 2.
    pub fn t(self) -> Result<Self> {
        self.transpose(-2, -1)
    }
}

// ---- broadcast_to: repeat along size-1 axes;  dx = sum_to(g, shape(x)) ----

struct BroadcastToOp;
impl<T: Float> Op<T> for BroadcastToOp {
    fn name(&self) -> &'static str {
        "broadcast_to"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        Ok(smallvec![Some(cx.sum_to(g, &cx.input_shape(0))?)])
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Repeats along size-1 (or missing leading) axes up to `shape`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the shape does not broadcast.
    pub fn broadcast_to(self, shape: &Shape) -> Result<Self> {
        let v = kernels::broadcast_to(&self.value(), shape)?;
        if v.shape() == &self.shape() {
            return Ok(self);
        }
        self.tape.record(BroadcastToOp, &[self], v)
    }
}

// ---- sum_to: sum over broadcast axes;  dx = broadcast_to(g, shape(x)) ----

struct SumToOp;
impl<T: Float> Op<T> for SumToOp {
    fn name(&self) -> &'static str {
        "sum_to"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        Ok(smallvec![Some(cx.broadcast_to(g, &cx.input_shape(0))?)])
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Sums over the axes along which `shape` would be broadcast to this variable's shape.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when `shape` does not broadcast to this shape.
    pub fn sum_to(self, shape: &Shape) -> Result<Self> {
        if *shape == self.shape() {
            return Ok(self);
        }
        let v = kernels::sum_to(&self.value(), shape)?;
        self.tape.record(SumToOp, &[self], v)
    }
}

// ---- narrow: elements start..start+len along axis;  dx = pad(g, axis, start, dim(x, axis)) ----

pub(crate) fn narrow_t<T: Float>(x: &Tensor<T>, axis: usize, start: usize, len: usize) -> Result<Tensor<T>> {
    let dim = x.dims()[axis];
    if start.checked_add(len).is_none_or(|end| end > dim) {
        let end = start.checked_add(len).map_or_else(|| format!("{start} + {len}"), |e| e.to_string());
        return Err(Error::BadShape {
            op: "narrow",
            msg: format!("range {start}..{end} exceeds axis {axis} of length {dim}"),
            shape: x.shape().clone(),
        });
    }
    let (outer, _, inner) = kernels::split_at_axis(x.shape(), axis);
    let mut out = Vec::with_capacity(outer * len * inner);
    // An empty slice has nothing to copy, but `outer` may still be huge ([2^62, 0]): no loop then.
    if len * inner > 0 {
        for o in 0..outer {
            let base = (o * dim + start) * inner;
            out.extend_from_slice(&x.data()[base..base + len * inner]);
        }
    }
    let mut d = x.dims().to_vec();
    d[axis] = len;
    Ok(Tensor::from_parts(out, Shape::new(&d)))
}

struct NarrowOp {
    axis: usize,
    start: usize,
}
impl<T: Float> Op<T> for NarrowOp {
    fn name(&self) -> &'static str {
        "narrow"
    }
    fn attributes(&self) -> Option<String> {
        Some(format!("axis = {}, start = {}", self.axis, self.start))
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        let total = cx.input_shape(0).dims()[self.axis];
        Ok(smallvec![Some(cx.pad(g, self.axis, self.start, total)?)])
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Elements `start..start + len` along `axis` (a slice).
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`], or [`Error::BadShape`] when the range exceeds the axis.
    pub fn narrow(self, axis: isize, start: usize, len: usize) -> Result<Self> {
        let axis = self.shape().axis("narrow", axis)?;
        let v = narrow_t(&self.value(), axis, start, len)?;
        self.tape.record(NarrowOp { axis, start }, &[self], v)
    }
}

// ---- pad: zeros around x along axis up to total;  dx = narrow(g, axis, before, dim(x, axis)) ----

pub(crate) fn pad_t<T: Float>(x: &Tensor<T>, axis: usize, before: usize, total: usize) -> Result<Tensor<T>> {
    let len = x.dims()[axis];
    if before.checked_add(len).is_none_or(|end| end > total) {
        return Err(Error::BadShape {
            op: "pad",
            msg: format!("{before} + {len} elements do not fit in {total} along axis {axis}"),
            shape: x.shape().clone(),
        });
    }
    let mut d = x.dims().to_vec();
    d[axis] = total;
    let shape = Shape::new(&d);
    let n = checked_numel::<T>("pad", &shape)?;
    let mut out = try_buffer("pad", n)?;
    out.resize(n, T::zero());
    let (outer, _, inner) = kernels::split_at_axis(x.shape(), axis);
    if len * inner > 0 {
        for o in 0..outer {
            let dst = (o * total + before) * inner;
            out[dst..dst + len * inner].copy_from_slice(&x.data()[o * len * inner..(o + 1) * len * inner]);
        }
    }
    Ok(Tensor::from_parts(out, shape))
}

struct PadOp {
    axis: usize,
    before: usize,
}
impl<T: Float> Op<T> for PadOp {
    fn name(&self) -> &'static str {
        "pad"
    }
    fn attributes(&self) -> Option<String> {
        Some(format!("axis = {}, before = {}", self.axis, self.before))
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        let len = cx.input_shape(0).dims()[self.axis];
        Ok(smallvec![Some(cx.narrow(g, self.axis, self.before, len)?)])
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Zero padding along `axis`: `before` zeros, this variable, then zeros up to `total`.
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`], or [`Error::BadShape`] when it does not fit.
    pub fn pad(self, axis: isize, before: usize, total: usize) -> Result<Self> {
        let axis = self.shape().axis("pad", axis)?;
        let v = pad_t(&self.value(), axis, before, total)?;
        self.tape.record(PadOp { axis, before }, &[self], v)
    }
}

// ---- concat: inputs joined along axis;  dx_i = narrow(g, axis, offset_i, len_i) ----

struct ConcatOp {
    axis: usize,
}
impl<T: Float> Op<T> for ConcatOp {
    fn name(&self) -> &'static str {
        "concat"
    }
    fn attributes(&self) -> Option<String> {
        Some(format!("axis = {}", self.axis))
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        let mut out = OpGrads::new();
        let mut off = 0;
        for i in 0..cx.num_inputs() {
            let len = cx.input_shape(i).dims()[self.axis];
            out.push(if cx.needs(i) { Some(cx.narrow(g.clone(), self.axis, off, len)?) } else { None });
            off += len;
        }
        Ok(out)
    }
}

/// Joins variables along `axis`; all other dimensions must agree.
///
/// # Errors
/// [`Error::InvalidArgument`] for an empty list, [`Error::ShapeMismatch`] naming the first pair that
/// disagrees, [`Error::ForeignVar`]; [`Error::TooLarge`] or [`Error::Allocation`] when the result does not
/// fit in memory.
pub fn concat<'t, T: Float>(xs: &[Var<'t, T>], axis: isize) -> Result<Var<'t, T>> {
    let Some(first) = xs.first() else {
        return Err(Error::InvalidArgument { op: "concat", msg: "needs at least one variable".into() });
    };
    let tape = first.tape;
    let s0 = first.shape();
    let axis = s0.axis("concat", axis)?;
    let mut total = 0;
    for x in xs {
        tape.owns("concat", *x)?;
        let s = x.shape();
        let agree = s.rank() == s0.rank() && (0..s.rank()).all(|i| i == axis || s.dims()[i] == s0.dims()[i]);
        if !agree {
            return Err(Error::ShapeMismatch {
                op: "concat",
                msg: format!("dimensions other than axis {axis} differ"),
                lhs: s0.clone(),
                rhs: s,
            });
        }
        total = usize::checked_add(total, s.dims()[axis]).ok_or_else(|| Error::TooLarge {
            op: "concat",
            msg: format!("the lengths along axis {axis} add up to more than usize::MAX"),
            shape: s.clone(),
        })?;
    }
    let mut d = s0.dims().to_vec();
    d[axis] = total;
    let shape = Shape::new(&d);
    let (outer, _, inner) = kernels::split_at_axis(&s0, axis);
    let vals: Vec<Tensor<T>> = xs.iter().map(|x| x.value()).collect();
    let mut out = try_buffer("concat", checked_numel::<T>("concat", &shape)?)?;
    for o in 0..if total * inner > 0 { outer } else { 0 } {
        for v in &vals {
            let len = v.dims()[axis] * inner;
            out.extend_from_slice(&v.data()[o * len..(o + 1) * len]);
        }
    }
    tape.record(ConcatOp { axis }, xs, Tensor::from_parts(out, shape))
}

// ---- index_select: rows of x (axis 0) at index;  dx = index_add(g, index, rows(x)) ----

pub(crate) fn index_select_t<T: Float>(x: &Tensor<T>, index: &[usize]) -> Result<Tensor<T>> {
    if x.rank() == 0 {
        return Err(Error::BadShape {
            op: "index_select",
            msg: "needs at least one axis".into(),
            shape: x.shape().clone(),
        });
    }
    let rows = x.dims()[0];
    let row = x.numel() / rows.max(1);
    let mut d = x.dims().to_vec();
    d[0] = index.len();
    let shape = Shape::new(&d);
    let mut out = try_buffer("index_select", checked_numel::<T>("index_select", &shape)?)?;
    for &i in index {
        if i >= rows {
            return Err(Error::IndexOutOfRange { op: "index_select", index: i, bound: rows });
        }
        out.extend_from_slice(&x.data()[i * row..(i + 1) * row]);
    }
    Ok(Tensor::from_parts(out, shape))
}

struct IndexSelectOp(Vec<usize>);
impl<T: Float> Op<T> for IndexSelectOp {
    fn name(&self) -> &'static str {
        "index_select"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        Ok(smallvec![Some(cx.index_add(g, &self.0, cx.input_shape(0).dims()[0])?)])
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Rows (axis 0) picked by `index`, repeats allowed: how mini-batches are gathered.
    ///
    /// # Errors
    /// [`Error::IndexOutOfRange`] for an index past the last row; [`Error::BadShape`] for a scalar.
    pub fn index_select(self, index: &[usize]) -> Result<Self> {
        let v = index_select_t(&self.value(), index)?;
        self.tape.record(IndexSelectOp(index.to_vec()), &[self], v)
    }
}

// ---- index_add: zeros with `rows` rows, row index[j] += x[j];  dx = index_select(g, index) ----

pub(crate) fn index_add_t<T: Float>(x: &Tensor<T>, index: &[usize], rows: usize) -> Result<Tensor<T>> {
    if x.rank() == 0 || x.dims()[0] != index.len() {
        return Err(Error::BadShape {
            op: "index_add",
            msg: format!("expected {} rows, one per index", index.len()),
            shape: x.shape().clone(),
        });
    }
    let row = x.numel() / index.len().max(1);
    let mut d = x.dims().to_vec();
    d[0] = rows;
    let shape = Shape::new(&d);
    let n = checked_numel::<T>("index_add", &shape)?;
    if let Some(&bad) = index.iter().find(|&&i| i >= rows) {
        return Err(Error::IndexOutOfRange { op: "index_add", index: bad, bound: rows });
    }
    let mut out = try_buffer("index_add", n)?;
    out.resize(n, T::zero());
    for (j, &i) in index.iter().enumerate() {
        for (d, &s) in out[i * row..(i + 1) * row].iter_mut().zip(&x.data()[j * row..(j + 1) * row]) {
            *d += s;
        }
    }
    Ok(Tensor::from_parts(out, shape))
}

struct IndexAddOp(Vec<usize>);
impl<T: Float> Op<T> for IndexAddOp {
    fn name(&self) -> &'static str {
        "index_add"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        Ok(smallvec![Some(cx.index_select(g, &self.0)?)])
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Adds row `j` of this variable into row `index[j]` of a zero tensor with `rows` rows.
    ///
    /// # Errors
    /// [`Error::BadShape`] when the row count differs from `index.len()`; [`Error::IndexOutOfRange`].
    pub fn index_add(self, index: &[usize], rows: usize) -> Result<Self> {
        let v = index_add_t(&self.value(), index, rows)?;
        self.tape.record(IndexAddOp(index.to_vec()), &[self], v)
    }
}

#[cfg(test)]
mod tests {
    use super::concat;
    use crate::ops::testing::{check_both, check_unary_rank, random_tensor};
    use crate::{Error, Shape, Tape, Tensor};
    use proptest::prelude::*;
    use rand::SeedableRng;

    #[test]
    fn narrow_and_concat_round_trip() {
        let tape = Tape::<f64>::new();
        let x = tape.input(Tensor::from_vec((0..12).map(f64::from).collect(), [3, 4]).unwrap());
        let a = x.narrow(1, 0, 1).unwrap();
        let b = x.narrow(1, 1, 3).unwrap();
        assert_eq!(a.value().to_vec(), vec![0., 4., 8.]);
        assert_eq!(concat(&[a, b], 1).unwrap().value(), x.value());
    }

    #[test]
    fn layout_errors_name_the_op_and_shape() {
        let tape = Tape::<f32>::new();
        let x = tape.input(Tensor::zeros([2, 3]).unwrap());
        assert_eq!(
            x.narrow(1, 2, 2).unwrap_err().to_string(),
            "narrow: range 2..4 exceeds axis 1 of length 3 (got [2, 3])"
        );
        assert_eq!(x.reshape([4]).unwrap_err().to_string(), "reshape: element counts differ ([2, 3] and [4])");
        assert!(matches!(x.index_select(&[2]), Err(Error::IndexOutOfRange { op: "index_select", index: 2, bound: 2 })));
        assert!(matches!(x.permute(&[0, 0]), Err(Error::InvalidArgument { op: "permute", .. })));
        assert!(matches!(x.transpose(0, 2), Err(Error::AxisOutOfRange { op: "transpose", .. })));
        assert!(matches!(x.broadcast_to(&Shape::new(&[3, 3])), Err(Error::ShapeMismatch { op: "broadcast_to", .. })));
        let y = tape.input(Tensor::zeros([3, 3]).unwrap());
        assert!(matches!(concat(&[x, y], 1), Err(Error::ShapeMismatch { op: "concat", .. })));
        assert!(matches!(x.pad(1, 2, 4), Err(Error::BadShape { op: "pad", .. })));
        assert!(matches!(x.index_add(&[0], 2), Err(Error::BadShape { op: "index_add", .. })));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn layout_gradients_match_finite_differences(seed in any::<u64>()) {
            check_unary_rank(seed, |x| x.t(), (-2.0, 2.0), 2)?;
            check_unary_rank(seed, |x| { let n = x.shape().numel(); x.reshape([n]) }, (-2.0, 2.0), 0)?;
            check_unary_rank(seed, |x| x.narrow(0, 0, 1), (-2.0, 2.0), 1)?;
            check_unary_rank(seed, |x| x.pad(-1, 1, x.shape().dims()[x.shape().rank() - 1] + 2), (-2.0, 2.0), 1)?;
            check_unary_rank(seed, |x| x.index_select(&[0, 0]), (-2.0, 2.0), 1)?;
            check_unary_rank(seed, |x| { let r = x.shape().dims()[0]; x.index_add(&vec![0; r], r + 1) }, (-2.0, 2.0), 1)?;
            check_unary_rank(seed, |x| { let n = x.shape().rank(); x.permute(&(0..n).rev().collect::<Vec<_>>()) }, (-2.0, 2.0), 0)?;
            check_unary_rank(seed, |x| { let mut d = vec![2]; d.extend_from_slice(x.shape().dims()); x.broadcast_to(&Shape::new(&d)) }, (-2.0, 2.0), 0)?;
            check_unary_rank(seed, |x| x.sum_to(&Shape::new(&x.shape().dims()[1..])), (-2.0, 2.0), 1)?;
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let a = random_tensor(&mut rng, &Shape::new(&[2, 3]), (-1.0, 1.0));
            let b = random_tensor(&mut rng, &Shape::new(&[2, 2]), (-1.0, 1.0));
            check_both(|_t, v| concat(&[v[0], v[1], v[0]], 1), &[a, b])?;
        }
    }
}
