//! Shapes, strides and NumPy broadcasting: every shape check of the engine lives here.

use crate::error::{Error, Result};
use smallvec::SmallVec;
use std::fmt;

/// The dimensions of a tensor, outermost first (row-major). Stored inline up to rank 3 (a tensor is then
/// 56 bytes, and a tape node fits in two cache lines).
#[derive(PartialEq, Eq, Hash, Default)]
pub struct Shape(SmallVec<[usize; 3]>);

/// Ranks up to 3 are copied from fixed-size arrays, which compiles to a few moves (`SmallVec`'s own clone
/// extends element by element, and a slice copy calls `memcpy`): every op on a tiny tensor clones shapes.
impl Clone for Shape {
    #[inline]
    fn clone(&self) -> Self {
        match *self.dims() {
            [] => Shape::scalar(),
            [a] => Shape::from([a]),
            [a, b] => Shape::from([a, b]),
            [a, b, c] => Shape::from([a, b, c]),
            _ => Shape(self.0.clone()),
        }
    }
}

impl Shape {
    /// A shape from its dimensions.
    #[inline]
    pub fn new(dims: &[usize]) -> Self {
        Shape(SmallVec::from_slice(dims))
    }

    /// The shape of a scalar (rank 0, one element).
    #[inline]
    pub fn scalar() -> Self {
        Shape(SmallVec::new())
    }

    /// The dimensions.
    #[inline]
    pub fn dims(&self) -> &[usize] {
        &self.0
    }

    /// Number of dimensions.
    #[inline]
    pub fn rank(&self) -> usize {
        self.0.len()
    }

    /// Number of elements (1 for a scalar). Saturates at `usize::MAX` instead of wrapping, so it is exact
    /// for every shape that passes [`Shape::checked_numel`] (the shape of every [`crate::Tensor`]) and
    /// never small for one that does not.
    #[inline]
    pub fn numel(&self) -> usize {
        self.0.iter().fold(1usize, |a, &d| a.saturating_mul(d))
    }

    /// Number of elements, checked: the product of the dimensions, a zero dimension counted as 1 (so that
    /// every stride and every partial product of a tensor of this shape is representable too), must fit in
    /// `isize::MAX`. This is the bound of a tensor of one-byte elements; [`Shape::checked_bytes`] is the
    /// bound for a given element size.
    ///
    /// # Errors
    /// [`Error::TooLarge`] naming `op` and the shape.
    #[inline]
    pub fn checked_numel(&self, op: &'static str) -> Result<usize> {
        self.checked_bytes(op, 1)
    }

    /// Number of elements of a tensor of this shape whose elements take `elem_bytes` bytes each, checked:
    /// the product of the dimensions (zeros counted as 1, see [`Shape::checked_numel`]) times `elem_bytes`
    /// must fit in `isize::MAX`, Rust's limit for the size of any allocation. Every tensor's shape passes
    /// this check for its element type, so code holding a tensor may use [`Shape::numel`], strides and
    /// offsets inside it without overflow checks.
    ///
    /// # Errors
    /// [`Error::TooLarge`] naming `op` and the shape.
    pub fn checked_bytes(&self, op: &'static str, elem_bytes: usize) -> Result<usize> {
        let span = self.0.iter().try_fold(elem_bytes.max(1), |a, &d| a.checked_mul(d.max(1)));
        match span {
            Some(b) if b <= isize::MAX as usize => Ok(self.numel()),
            _ => Err(Error::TooLarge {
                op,
                msg: format!(
                    "{} elements of {} bytes do not fit in memory (the limit is isize::MAX = {} bytes)",
                    self.numel_text(),
                    elem_bytes,
                    isize::MAX
                ),
                shape: self.clone(),
            }),
        }
    }

    /// The element count for a message: exact, or the product written out when it overflows.
    fn numel_text(&self) -> String {
        match self.0.iter().try_fold(1usize, |a, &d| a.checked_mul(d)) {
            Some(n) => n.to_string(),
            None => {
                let d: Vec<String> = self.0.iter().map(ToString::to_string).collect();
                format!("{} (more than usize::MAX)", d.join(" x "))
            }
        }
    }

    /// Row-major strides in elements. Exact for every shape that passes [`Shape::checked_numel`]; saturates
    /// instead of wrapping for one that does not.
    pub fn strides(&self) -> SmallVec<[usize; 4]> {
        let mut s: SmallVec<[usize; 4]> = SmallVec::from_elem(1, self.rank());
        for i in (0..self.rank().saturating_sub(1)).rev() {
            s[i] = s[i + 1].saturating_mul(self.0[i + 1]);
        }
        s
    }

    /// Resolves a possibly negative axis (`-1` is the last) against this shape.
    ///
    /// # Errors
    /// [`Error::AxisOutOfRange`] when the axis does not exist.
    pub fn axis(&self, op: &'static str, axis: isize) -> Result<usize> {
        let rank = self.rank() as isize;
        let a = if axis < 0 { axis + rank } else { axis };
        if a < 0 || a >= rank {
            return Err(Error::AxisOutOfRange { op, axis, rank: self.rank(), shape: self.clone() });
        }
        Ok(a as usize)
    }

    /// The shape with dimension `axis` set to 1 (`keepdim`) or removed.
    ///
    /// # Panics
    /// When `axis >= rank` (resolve it with [`Shape::axis`] first).
    pub fn reduced(&self, axis: usize, keepdim: bool) -> Shape {
        let mut d = self.0.clone();
        if keepdim {
            d[axis] = 1;
        } else {
            d.remove(axis);
        }
        Shape(d)
    }

    /// The NumPy broadcast of two shapes: align on the right, each pair of dimensions equal or one of them 1.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] naming `op` when a pair is neither equal nor 1; [`Error::TooLarge`] when the
    /// result has too many elements (two shapes that each fit, `[2^33, 1]` and `[1, 2^33]`, can broadcast to
    /// one that does not).
    pub fn broadcast(op: &'static str, a: &Shape, b: &Shape) -> Result<Shape> {
        if a == b {
            return Ok(a.clone());
        }
        let r = a.rank().max(b.rank());
        let mut out: SmallVec<[usize; 3]> = SmallVec::from_elem(1, r);
        for i in 0..r {
            let da = if i < r - a.rank() { 1 } else { a.0[i - (r - a.rank())] };
            let db = if i < r - b.rank() { 1 } else { b.0[i - (r - b.rank())] };
            out[i] = if da == db || db == 1 {
                da
            } else if da == 1 {
                db
            } else {
                return Err(Error::ShapeMismatch {
                    op,
                    msg: "shapes cannot be broadcast together".into(),
                    lhs: a.clone(),
                    rhs: b.clone(),
                });
            };
        }
        let out = Shape(out);
        out.checked_numel(op)?;
        Ok(out)
    }

    /// Whether `self` broadcasts to `target` (used by `broadcast_to` and its derivative `sum_to`).
    #[inline]
    pub fn broadcasts_to(&self, target: &Shape) -> bool {
        self.rank() <= target.rank() && self.0.iter().rev().zip(target.0.iter().rev()).all(|(&s, &t)| s == t || s == 1)
    }

    /// Strides of `self` viewed inside the broadcast `target`: 0 where `self` is stretched.
    pub fn broadcast_strides(&self, target: &Shape) -> SmallVec<[usize; 4]> {
        let own = self.strides();
        let off = target.rank() - self.rank();
        (0..target.rank()).map(|i| if i < off || self.0[i - off] == 1 { 0 } else { own[i - off] }).collect()
    }
}

impl From<&[usize]> for Shape {
    #[inline]
    fn from(d: &[usize]) -> Self {
        Shape::new(d)
    }
}

impl<const N: usize> From<[usize; N]> for Shape {
    #[inline]
    fn from(d: [usize; N]) -> Self {
        Shape::new(&d)
    }
}

impl From<Vec<usize>> for Shape {
    #[inline]
    fn from(d: Vec<usize>) -> Self {
        Shape(SmallVec::from_vec(d))
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{d}")?;
        }
        write!(f, "]")
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_gives_an_equal_shape_for_every_rank() {
        for rank in 0..=6 {
            let dims: Vec<usize> = (1..=rank).collect();
            let s = Shape::new(&dims);
            assert_eq!(s.clone(), s);
            assert_eq!(s.clone().dims(), &dims[..]);
        }
    }

    #[test]
    fn broadcast_follows_numpy_rules() {
        let s = |d: &[usize]| Shape::new(d);
        assert_eq!(Shape::broadcast("add", &s(&[2, 1, 3]), &s(&[4, 1])).unwrap(), s(&[2, 4, 3]));
        assert_eq!(Shape::broadcast("add", &s(&[]), &s(&[2])).unwrap(), s(&[2]));
        let e = Shape::broadcast("add", &s(&[2, 3]), &s(&[4])).unwrap_err();
        assert_eq!(e.to_string(), "add: shapes cannot be broadcast together ([2, 3] and [4])");
    }

    #[test]
    fn negative_axis_counts_from_the_end() {
        let s = Shape::new(&[2, 3, 4]);
        assert_eq!(s.axis("sum", -1).unwrap(), 2);
        assert!(s.axis("sum", 3).is_err());
        assert!(s.axis("sum", -4).is_err());
    }

    #[test]
    fn broadcast_strides_are_zero_on_stretched_axes() {
        let s = Shape::new(&[3, 1]);
        assert_eq!(s.broadcast_strides(&Shape::new(&[2, 3, 4])).as_slice(), &[0, 1, 0]);
    }
}
