//! Dense, row-major, n-dimensional tensors with shared storage.

use crate::error::{Error, Result};
use crate::float::Float;
use crate::shape::Shape;
use rand::Rng;
use rand_distr::{Distribution, Normal, Uniform};
use std::fmt;
use std::sync::Arc;

/// Tensors with at most this many elements keep them inline ([`Float::Inline`]: four `f32` or two `f64`):
/// scalars and tiny vectors, the bulk of the values in graphs of small tensors, cost no heap allocation.
fn inline_cap<T: Float>() -> usize {
    std::mem::size_of::<T::Inline>() / std::mem::size_of::<T>()
}

/// An empty buffer with room for exactly `n` elements of a tensor whose size a caller chose: the allocator's
/// refusal is [`Error::Allocation`] naming `op`, not an abort. `n` must have passed
/// [`Shape::checked_bytes`], so the byte count cannot overflow.
pub(crate) fn try_buffer<T: 'static>(op: &'static str, n: usize) -> Result<Vec<T>> {
    if let Some(v) = crate::tensor_pool::take(n) {
        return Ok(v);
    }
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| Error::Allocation { op, bytes: n.saturating_mul(std::mem::size_of::<T>()) })?;
    Ok(v)
}

/// `n` copies of `v` in a buffer allocated with [`try_buffer`].
pub(crate) fn try_filled<T: Clone + 'static>(op: &'static str, n: usize, v: T) -> Result<Vec<T>> {
    let mut out = try_buffer(op, n)?;
    out.resize(n, v);
    Ok(out)
}

/// A buffer of `n` elements for a result the caller overwrites in full before anything reads it. A buffer
/// recycled from the thread's pool keeps the values it held (only a tail it lacks is filled with `fill`);
/// a fresh one is filled. Saves the pass over memory [`try_filled`] spends on zeroing, which on a
/// convolution's output of megabytes is a pass through DRAM.
pub(crate) fn try_overwritten<T: Copy + 'static>(op: &'static str, n: usize, fill: T) -> Result<Vec<T>> {
    match crate::tensor_pool::take_dirty(n) {
        Some(mut v) => {
            v.truncate(n);
            v.resize(n, fill);
            Ok(v)
        }
        None => try_filled(op, n, fill),
    }
}

/// The element count of a tensor of `shape` with elements of type `T`, checked ([`Shape::checked_bytes`]).
pub(crate) fn checked_numel<T>(op: &'static str, shape: &Shape) -> Result<usize> {
    shape.checked_bytes(op, std::mem::size_of::<T>())
}

/// The elements: inline for tiny tensors, otherwise a shared heap buffer (copy-on-write).
#[derive(Clone)]
enum Storage<T: Float> {
    Inline { len: u32, buf: T::Inline },
    Heap(Arc<Pooled<T>>),
}

/// A heap buffer that goes back to its thread's pool when dropped ([`crate::tensor_pool`]).
struct Pooled<T: 'static>(Vec<T>);

impl<T: 'static> Drop for Pooled<T> {
    fn drop(&mut self) {
        crate::tensor_pool::give(std::mem::take(&mut self.0));
    }
}

impl<T: Copy + 'static> Clone for Pooled<T> {
    fn clone(&self) -> Self {
        let mut v = crate::tensor_pool::take(self.0.len()).unwrap_or_else(|| Vec::with_capacity(self.0.len()));
        v.extend_from_slice(&self.0);
        Pooled(v)
    }
}

/// A heap storage of exactly `len` elements from `it`, in a pooled buffer when one fits.
fn pooled<T: Float>(len: usize, it: impl Iterator<Item = T>) -> Arc<Pooled<T>> {
    let mut v = crate::tensor_pool::take(len).unwrap_or_else(|| Vec::with_capacity(len));
    v.extend(it);
    Arc::new(Pooled(v))
}

impl<T: Float> Storage<T> {
    fn from_vec(v: Vec<T>) -> Self {
        if v.len() <= inline_cap::<T>() {
            Self::from_iter(v.len(), v.into_iter())
        } else {
            Storage::Heap(Arc::new(Pooled(v)))
        }
    }

    /// `len` elements from `it`, which must yield exactly that many.
    fn from_iter(len: usize, it: impl Iterator<Item = T>) -> Self {
        if len <= inline_cap::<T>() {
            let mut buf = T::Inline::default();
            let mut n = 0;
            for (d, x) in buf.as_mut().iter_mut().zip(it) {
                *d = x;
                n += 1;
            }
            debug_assert_eq!(n, len, "invariant: iterator yields len elements");
            Storage::Inline { len: n as u32, buf }
        } else {
            let v = pooled(len, it);
            debug_assert_eq!(v.0.len(), len, "invariant: iterator yields len elements");
            Storage::Heap(v)
        }
    }

    fn as_slice(&self) -> &[T] {
        match self {
            Storage::Inline { len, buf } => &buf.as_ref()[..*len as usize],
            Storage::Heap(v) => &v.0,
        }
    }

    fn as_mut_slice(&mut self) -> &mut [T] {
        match self {
            Storage::Inline { len, buf } => &mut buf.as_mut()[..*len as usize],
            Storage::Heap(v) => Arc::make_mut(v).0.as_mut_slice(),
        }
    }

    /// `f` applied to every element: an inline copy for tiny tensors, a new buffer otherwise.
    fn map(&self, f: impl Fn(T) -> T) -> Self {
        match self {
            Storage::Inline { len, buf } => {
                let mut out = *buf;
                for x in &mut out.as_mut()[..*len as usize] {
                    *x = f(*x);
                }
                Storage::Inline { len: *len, buf: out }
            }
            Storage::Heap(v) => Storage::Heap(pooled(v.0.len(), v.0.iter().map(|&x| f(x)))),
        }
    }

    fn is_unique(&self) -> bool {
        match self {
            Storage::Inline { .. } => true,
            Storage::Heap(v) => Arc::strong_count(v) == 1,
        }
    }

    fn into_vec(self) -> Vec<T> {
        match self {
            Storage::Inline { len, buf } => buf.as_ref()[..len as usize].to_vec(),
            Storage::Heap(v) => match Arc::try_unwrap(v) {
                Ok(mut p) => std::mem::take(&mut p.0),
                Err(a) => a.0.clone(),
            },
        }
    }
}

/// A dense row-major tensor of `f32` or `f64`.
///
/// Invariant: a tensor's shape always passes [`Shape::checked_bytes`] for its element type, that is its
/// element count times the element size (and every partial product of its dimensions, zeros counted as 1)
/// fits in `isize::MAX` bytes, and its storage holds exactly that many elements. Every constructor checks
/// it ([`Error::TooLarge`]) and allocates caller-sized storage fallibly ([`Error::Allocation`]), so code
/// holding a tensor may use [`Tensor::numel`], strides and offsets inside it without overflow checks.
///
/// Cloning is cheap: the storage is shared (`Arc`), or copied when the tensor has at most 16 bytes of elements
/// (those live inline, without a heap allocation). Writing through [`Tensor::data_mut`] copies the storage
/// only when it is shared, so an optimizer updates an unshared parameter in place.
///
/// ```
/// use tapegrad::Tensor;
/// let t = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], [2, 2]).unwrap();
/// assert_eq!(t.get(&[1, 0]).unwrap(), 3.0);
/// assert!(Tensor::<f32>::from_vec(vec![1.0], [2, 2]).is_err());
/// ```
pub struct Tensor<T: Float> {
    data: Storage<T>,
    shape: Shape,
}

impl<T: Float> Tensor<T> {
    /// A tensor from a buffer and a shape.
    ///
    /// # Errors
    /// [`Error::TooLarge`] when the shape's size overflows; [`Error::LengthMismatch`] when `data.len()` is
    /// not the number of elements of `shape`.
    pub fn from_vec(data: Vec<T>, shape: impl Into<Shape>) -> Result<Self> {
        let shape = shape.into();
        checked_numel::<T>("from_vec", &shape)?;
        if data.len() != shape.numel() {
            return Err(Error::LengthMismatch { op: "from_vec", len: data.len(), expected: shape.numel(), shape });
        }
        Ok(Tensor { data: Storage::from_vec(data), shape })
    }

    /// A tensor from a slice and a shape (copies).
    ///
    /// # Errors
    /// As [`Tensor::from_vec`].
    pub fn from_slice(data: &[T], shape: impl Into<Shape>) -> Result<Self> {
        let shape = shape.into();
        checked_numel::<T>("from_slice", &shape)?;
        if data.len() != shape.numel() {
            return Self::from_vec(data.to_vec(), shape);
        }
        Ok(Tensor { data: Storage::from_iter(data.len(), data.iter().copied()), shape })
    }

    /// Builds a tensor whose length is right by construction (engine-internal): the buffer exists, so its
    /// size fits; the shape must also pass [`Shape::checked_bytes`] (zero dimensions).
    pub(crate) fn from_parts(data: Vec<T>, shape: Shape) -> Self {
        debug_assert_eq!(data.len(), shape.numel(), "invariant: buffer length matches shape");
        debug_assert!(checked_numel::<T>("from_parts", &shape).is_ok(), "invariant: shape size fits");
        Tensor { data: Storage::from_vec(data), shape }
    }

    /// Builds a tensor from an iterator that yields exactly `shape.numel()` elements (engine-internal);
    /// tiny tensors are filled in place without a heap allocation.
    pub(crate) fn from_iter_exact(shape: Shape, it: impl Iterator<Item = T>) -> Self {
        Tensor { data: Storage::from_iter(shape.numel(), it), shape }
    }

    /// A rank-0 tensor holding one value.
    pub fn scalar(v: T) -> Self {
        Tensor { data: Storage::from_iter(1, std::iter::once(v)), shape: Shape::scalar() }
    }

    /// A tensor filled with `v`.
    ///
    /// # Errors
    /// [`Error::TooLarge`] when the shape's size overflows; [`Error::Allocation`] when the allocator refuses
    /// the buffer (`Tensor::<f32>::full([1 << 40], 0.0)` asks for 4 TiB).
    pub fn full(shape: impl Into<Shape>, v: T) -> Result<Self> {
        Self::try_full("full", shape.into(), v)
    }

    /// A tensor of zeros.
    ///
    /// # Errors
    /// As [`Tensor::full`].
    pub fn zeros(shape: impl Into<Shape>) -> Result<Self> {
        Self::try_full("zeros", shape.into(), T::zero())
    }

    /// A tensor of ones.
    ///
    /// # Errors
    /// As [`Tensor::full`].
    pub fn ones(shape: impl Into<Shape>) -> Result<Self> {
        Self::try_full("ones", shape.into(), T::one())
    }

    /// A tensor of zeros with this tensor's shape. Cannot fail for size: the shape is one that exists.
    pub fn zeros_like(&self) -> Self {
        Self::filled(self.shape.clone(), T::zero())
    }

    /// A tensor of `v` with this tensor's shape. Cannot fail for size: the shape is one that exists.
    pub fn full_like(&self, v: T) -> Self {
        Self::filled(self.shape.clone(), v)
    }

    /// `full` for a caller-chosen shape, errors naming `op`.
    pub(crate) fn try_full(op: &'static str, shape: Shape, v: T) -> Result<Self> {
        let n = checked_numel::<T>(op, &shape)?;
        if n <= inline_cap::<T>() {
            return Ok(Tensor { data: Storage::from_iter(n, std::iter::repeat_n(v, n)), shape });
        }
        let mut buf = try_buffer(op, n)?;
        buf.resize(n, v);
        Ok(Tensor { data: Storage::Heap(Arc::new(Pooled(buf))), shape })
    }

    /// `full` for a shape known to be valid (that of an existing tensor, or one element): infallible.
    pub(crate) fn filled(shape: Shape, v: T) -> Self {
        debug_assert!(checked_numel::<T>("filled", &shape).is_ok(), "invariant: shape of an existing tensor");
        let n = shape.numel();
        Tensor { data: Storage::from_iter(n, std::iter::repeat_n(v, n)), shape }
    }

    /// Independent draws from U(lo, hi) with an explicit, seedable RNG.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `lo < hi` and both are finite; [`Error::TooLarge`] and
    /// [`Error::Allocation`] as for [`Tensor::full`].
    pub fn rand_uniform<R: Rng + ?Sized>(shape: impl Into<Shape>, lo: f64, hi: f64, rng: &mut R) -> Result<Self> {
        let shape = shape.into();
        let d = Uniform::new(lo, hi)
            .map_err(|e| Error::InvalidArgument { op: "rand_uniform", msg: format!("bounds [{lo}, {hi}): {e}") })?;
        let n = checked_numel::<T>("rand_uniform", &shape)?;
        let mut data = try_buffer("rand_uniform", n)?;
        data.extend((0..n).map(|_| T::of(d.sample(rng))));
        Ok(Tensor::from_parts(data, shape))
    }

    /// Independent draws from N(mean, std^2) with an explicit, seedable RNG.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `std` is negative or not finite; [`Error::TooLarge`] and
    /// [`Error::Allocation`] as for [`Tensor::full`].
    pub fn randn<R: Rng + ?Sized>(shape: impl Into<Shape>, mean: f64, std: f64, rng: &mut R) -> Result<Self> {
        let shape = shape.into();
        if !(std >= 0.0 && std.is_finite() && mean.is_finite()) {
            return Err(Error::InvalidArgument {
                op: "randn",
                msg: format!("mean {mean}, std {std}: std must be finite and >= 0"),
            });
        }
        let d = Normal::new(mean, std)
            .map_err(|e| Error::InvalidArgument { op: "randn", msg: format!("mean {mean}, std {std}: {e}") })?;
        let n = checked_numel::<T>("randn", &shape)?;
        let mut data = try_buffer("randn", n)?;
        data.extend((0..n).map(|_| T::of(d.sample(rng))));
        Ok(Tensor::from_parts(data, shape))
    }

    /// The shape.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// The dimensions (`shape().dims()`).
    pub fn dims(&self) -> &[usize] {
        self.shape.dims()
    }

    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.shape.rank()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.data().len()
    }

    /// The elements in row-major order.
    pub fn data(&self) -> &[T] {
        self.data.as_slice()
    }

    /// Mutable elements; copies the storage first only if it is shared with another tensor.
    pub fn data_mut(&mut self) -> &mut [T] {
        self.data.as_mut_slice()
    }

    /// Whether this tensor is the only owner of its storage (so [`Tensor::data_mut`] will not copy).
    pub fn is_unique(&self) -> bool {
        self.data.is_unique()
    }

    /// Takes the buffer out, copying only if it is shared.
    pub fn into_vec(self) -> Vec<T> {
        self.data.into_vec()
    }

    /// The elements copied into a `Vec`.
    pub fn to_vec(&self) -> Vec<T> {
        self.data().to_vec()
    }

    /// The element at a multi-index.
    ///
    /// # Errors
    /// [`Error::BadShape`] when the index has the wrong rank, [`Error::IndexOutOfRange`] when a component is
    /// too large.
    pub fn get(&self, index: &[usize]) -> Result<T> {
        if index.len() != self.rank() {
            return Err(Error::BadShape {
                op: "get",
                msg: format!("index {index:?} has {} components", index.len()),
                shape: self.shape.clone(),
            });
        }
        let mut flat = 0;
        for ((&i, &d), s) in index.iter().zip(self.dims()).zip(self.shape.strides()) {
            if i >= d {
                return Err(Error::IndexOutOfRange { op: "get", index: i, bound: d });
            }
            flat += i * s;
        }
        Ok(self.data()[flat])
    }

    /// The single value of a one-element tensor (any rank).
    ///
    /// # Errors
    /// [`Error::BadShape`] when the tensor has more or fewer than one element.
    pub fn item(&self) -> Result<T> {
        if self.numel() != 1 {
            return Err(Error::BadShape { op: "item", msg: "expected one element".into(), shape: self.shape.clone() });
        }
        Ok(self.data()[0])
    }

    /// The same data under another shape with as many elements (shares storage).
    ///
    /// # Errors
    /// [`Error::TooLarge`] when the new shape's size overflows (`[2, 2^63 + 3]` "has" 6 elements only by
    /// wrapping); [`Error::ShapeMismatch`] when the element counts differ.
    pub fn reshape(&self, shape: impl Into<Shape>) -> Result<Self> {
        let shape = shape.into();
        checked_numel::<T>("reshape", &shape)?;
        if shape.numel() != self.numel() {
            return Err(Error::ShapeMismatch {
                op: "reshape",
                msg: "element counts differ".into(),
                lhs: self.shape.clone(),
                rhs: shape,
            });
        }
        Ok(Tensor { data: self.data.clone(), shape })
    }

    /// Applies `f` to every element into a new tensor.
    pub fn map(&self, f: impl Fn(T) -> T) -> Self {
        Tensor { data: self.data.map(f), shape: self.shape.clone() }
    }

    /// [`Tensor::map`], split across threads from [`crate::kernels::PAR_MIN`] elements (the ops' forwards).
    pub(crate) fn map_split(&self, f: impl Fn(T) -> T + Sync) -> Self {
        let n = self.numel();
        if n < crate::kernels::PAR_MIN || crate::num_threads() < 2 {
            return self.map(f);
        }
        let Ok(mut out) = try_overwritten("map", n, T::zero()) else { return self.map(f) };
        let src = self.data();
        crate::parallel::chunks_mut(&mut out, 1, true, |at, os| {
            for (o, &x) in os.iter_mut().zip(&src[at..]) {
                *o = f(x);
            }
        });
        Tensor::from_parts(out, self.shape.clone())
    }

    /// Applies `f` to every element, in place when the storage is not shared.
    pub fn map_inplace(mut self, f: impl Fn(T) -> T) -> Self {
        for x in self.data_mut() {
            *x = f(*x);
        }
        self
    }

    /// Converts every element to another float type.
    pub fn cast<U: Float>(&self) -> Tensor<U> {
        Tensor::from_iter_exact(self.shape.clone(), self.data().iter().map(|&x| U::of(x.f64())))
    }

    /// Whether every element is finite.
    pub fn all_finite(&self) -> bool {
        self.data().iter().all(|x| x.is_finite())
    }

    /// The largest absolute elementwise difference from another tensor of the same shape; NaN when either
    /// holds a NaN.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the shapes differ.
    pub fn max_abs_diff(&self, other: &Tensor<T>) -> Result<f64> {
        if self.shape != other.shape {
            return Err(Error::ShapeMismatch {
                op: "max_abs_diff",
                msg: "shapes differ".into(),
                lhs: self.shape.clone(),
                rhs: other.shape.clone(),
            });
        }
        // NaN propagates (`f64::max` would skip it and report two tensors with NaNs as close).
        let diffs = self.data().iter().zip(other.data()).map(|(a, b)| (a.f64() - b.f64()).abs());
        Ok(diffs.fold(0.0, |m, d| if d > m || d.is_nan() { d } else { m }))
    }
}

/// Shares the storage (or copies it when inline).
impl<T: Float> Clone for Tensor<T> {
    fn clone(&self) -> Self {
        Tensor { data: self.data.clone(), shape: self.shape.clone() }
    }
}

impl<T: Float> fmt::Debug for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tensor{} {}", self.shape, self)
    }
}

/// Prints nested brackets like NumPy; tensors with more than 1000 elements print their shape and the first
/// few values only.
impl<T: Float> fmt::Display for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rank() == 0 {
            return write!(f, "{:.4}", self.data()[0]);
        }
        if self.numel() == 0 && self.rank() > 1 {
            // No nested brackets: an empty tensor's outer dimensions may be huge ([2^62, 0]).
            return write!(f, "tensor(shape {}, [])", self.shape);
        }
        if self.numel() > 1000 {
            let head: Vec<String> = self.data().iter().take(6).map(|x| format!("{x:.4}")).collect();
            return write!(f, "tensor(shape {}, [{}, ...])", self.shape, head.join(", "));
        }
        fn rec<T: Float>(f: &mut fmt::Formatter<'_>, d: &[T], dims: &[usize], depth: usize) -> fmt::Result {
            write!(f, "[")?;
            if dims.len() == 1 {
                for (i, x) in d.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{x:.4}")?;
                }
            } else {
                let chunk = d.len() / dims[0].max(1);
                for i in 0..dims[0] {
                    if i > 0 {
                        write!(f, ",\n{}", " ".repeat(depth + 1))?;
                    }
                    rec(f, &d[i * chunk..(i + 1) * chunk], &dims[1..], depth + 1)?;
                }
            }
            write!(f, "]")
        }
        rec(f, self.data(), self.dims(), 0)
    }
}

impl<T: Float> PartialEq for Tensor<T> {
    fn eq(&self, other: &Self) -> bool {
        self.shape == other.shape && self.data() == other.data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn from_vec_rejects_wrong_length_and_names_shape() {
        let e = Tensor::<f64>::from_vec(vec![1.0; 5], [2, 3]).unwrap_err();
        assert_eq!(e.to_string(), "from_vec: data has 5 elements but shape [2, 3] needs 6");
    }

    #[test]
    fn display_prints_nested_rows() {
        let t = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], [2, 2]).unwrap();
        assert_eq!(t.to_string(), "[[1.0000, 2.0000],\n [3.0000, 4.0000]]");
    }

    #[test]
    fn seeded_random_tensors_repeat() {
        let mut r1 = rand::rngs::StdRng::seed_from_u64(7);
        let mut r2 = rand::rngs::StdRng::seed_from_u64(7);
        let a = Tensor::<f32>::randn([3, 4], 0.0, 1.0, &mut r1).unwrap();
        let b = Tensor::<f32>::randn([3, 4], 0.0, 1.0, &mut r2).unwrap();
        assert_eq!(a, b);
        let u = Tensor::<f64>::rand_uniform([100], -0.5, 0.5, &mut r1).unwrap();
        assert!(u.data().iter().all(|&x| (-0.5..0.5).contains(&x)));
        assert!(Tensor::<f64>::randn([1], 0.0, -1.0, &mut r1).is_err());
    }

    #[test]
    fn data_mut_copies_only_when_shared() {
        let mut a = Tensor::<f32>::zeros([3]).unwrap();
        let p = a.data().as_ptr();
        a.data_mut()[0] = 1.0;
        assert_eq!(a.data().as_ptr(), p);
        let b = a.clone();
        a.data_mut()[1] = 2.0;
        assert_ne!(a.data().as_ptr(), b.data().as_ptr());
        assert_eq!(b.to_vec(), vec![1.0, 0.0, 0.0]);
    }

    #[test]
    fn tiny_tensors_are_inline_and_their_clones_are_independent() {
        let mut a = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], [2, 2]).unwrap();
        assert!(matches!(a.data, Storage::Inline { len: 4, .. }));
        let b = a.clone();
        a.data_mut()[0] = 9.0;
        assert_eq!(b.to_vec(), vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(a.to_vec(), vec![9.0, 2.0, 3.0, 4.0]);
        assert!(a.is_unique() && b.is_unique());
        assert_eq!(a.clone().into_vec(), vec![9.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn storage_kind_does_not_change_values_or_equality() {
        for n in [0usize, 1, 3, 4, 5, 17] {
            let v: Vec<f32> = (0..n).map(|i| i as f32 * 0.5).collect();
            let t = Tensor::from_vec(v.clone(), [n]).unwrap();
            assert_eq!(matches!(t.data, Storage::Inline { .. }), n <= inline_cap::<f32>(), "n = {n}");
            let t64 = Tensor::from_vec(v.iter().map(|&x| f64::from(x)).collect(), [n]).unwrap();
            assert_eq!(matches!(t64.data, Storage::Inline { .. }), n <= 2, "n = {n}");
            assert_eq!(t64.to_vec(), v.iter().map(|&x| f64::from(x)).collect::<Vec<_>>());
            assert_eq!(t.to_vec(), v);
            assert_eq!(t.numel(), n);
            assert_eq!(Tensor::from_slice(&v, [n]).unwrap(), t);
            assert_eq!(t.map(|x| x * 2.0).to_vec(), v.iter().map(|x| x * 2.0).collect::<Vec<_>>());
            assert_eq!(t.cast::<f64>().cast::<f32>(), t);
            assert_eq!(Tensor::<f32>::full([n], 1.5).unwrap().to_vec(), vec![1.5; n]);
            assert_eq!(t.clone().map_inplace(|x| x + 1.0).to_vec(), v.iter().map(|x| x + 1.0).collect::<Vec<_>>());
        }
        assert!(Tensor::<f32>::from_slice(&[1.0, 2.0], [3]).is_err());
    }

    #[test]
    fn get_checks_rank_and_bounds() {
        let t = Tensor::<f32>::zeros([2, 3]).unwrap();
        assert!(matches!(t.get(&[1]), Err(Error::BadShape { .. })));
        assert!(matches!(t.get(&[2, 0]), Err(Error::IndexOutOfRange { .. })));
    }
}
