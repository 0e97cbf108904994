//! Plain tensor math, no graph: broadcasting elementwise loops, axis reductions, permutes and the batched
//! matrix product. Ops call these for their forwards; first-order backward calls them through [`crate::Val`].

pub mod conv;
pub mod gemm;
mod gemm_small;
pub mod reduce;

use crate::error::{Error, Result};
use crate::float::Float;
use crate::parallel;
use crate::shape::Shape;
use crate::tensor::{Tensor, checked_numel, try_buffer};
use gemm::MatRef;
use smallvec::SmallVec;

/// Elements from which an elementwise loop or a bias gradient's column sums are split across threads
/// ([`crate::parallel::chunks_mut`]): w3's `256 x 1024` activations (relu, its derivative, the bias
/// gradient) took about 0.3 ms of each 2-thread step on the calling thread alone while the other core
/// waited. Below this the loop takes a few microseconds, about what handing half of it over costs.
pub(crate) const PAR_MIN: usize = 1 << 16;

/// `f(a, b)` elementwise with NumPy broadcasting. Reuses `a`'s buffer when it is unshared and already has
/// the output's shape.
///
/// # Errors
/// [`Error::ShapeMismatch`] naming `op` when the shapes do not broadcast; [`Error::TooLarge`] or
/// [`Error::Allocation`] when their broadcast does not fit in memory.
pub fn zip<T: Float>(op: &'static str, a: Tensor<T>, b: &Tensor<T>, f: impl Fn(T, T) -> T + Sync) -> Result<Tensor<T>> {
    // Dimension by dimension: `Shape`'s `==` calls `memcmp`, a cost on one-element tensors.
    if a.rank() == b.rank() && a.dims().iter().zip(b.dims()).all(|(x, y)| x == y) {
        let bd = b.data();
        let split = bd.len() >= PAR_MIN;
        if a.is_unique() {
            let mut a = a;
            parallel::chunks_mut(a.data_mut(), 1, split, |at, xs| {
                for (x, &y) in xs.iter_mut().zip(&bd[at..]) {
                    *x = f(*x, y);
                }
            });
            return Ok(a);
        }
        if split {
            let ad = a.data();
            let mut out = crate::tensor::try_overwritten(op, ad.len(), T::zero())?;
            parallel::chunks_mut(&mut out, 1, true, |at, os| {
                for ((o, &x), &y) in os.iter_mut().zip(&ad[at..]).zip(&bd[at..]) {
                    *o = f(x, y);
                }
            });
            return Ok(Tensor::from_parts(out, a.shape().clone()));
        }
        return Ok(Tensor::from_iter_exact(a.shape().clone(), a.data().iter().zip(bd).map(|(&x, &y)| f(x, y))));
    }
    if b.numel() == 1 && b.rank() <= a.rank() {
        let y = b.data()[0];
        return Ok(a.map_inplace(|x| f(x, y)));
    }
    // `b` repeated along leading axes of `a` (a bias row added to a batch, `[n, m]` and `[m]` or `[1, m]`):
    // row by row over `a`'s buffer, in place when it is unshared; the inner loop vectorises.
    let lead = b.dims().iter().take_while(|&&d| d == 1).count();
    let tail = &b.dims()[lead..];
    if b.numel() > 0 && b.rank() <= a.rank() && tail == &a.dims()[a.rank() - tail.len()..] {
        let bd = b.data();
        let mut a = a;
        let split = a.numel() >= PAR_MIN;
        parallel::chunks_mut(a.data_mut(), bd.len(), split, |_, rows| {
            for row in rows.chunks_exact_mut(bd.len()) {
                for (x, &y) in row.iter_mut().zip(bd) {
                    *x = f(*x, y);
                }
            }
        });
        return Ok(a);
    }
    let out = Shape::broadcast(op, a.shape(), b.shape())?;
    if a.numel() == 1 && a.rank() <= b.rank() {
        let x = a.data()[0];
        return Ok(Tensor::from_iter_exact(out, b.data().iter().map(|&y| f(x, y))));
    }
    let sa = a.shape().broadcast_strides(&out);
    let sb = b.shape().broadcast_strides(&out);
    let (ad, bd) = (a.data(), b.data());
    let mut data = try_buffer(op, checked_numel::<T>(op, &out)?)?;
    let dims = out.dims();
    let r = dims.len();
    // Iterate the output in row-major order; the innermost axis runs as a tight loop.
    let inner = dims[r - 1];
    let (ia, ib) = (sa[r - 1], sb[r - 1]);
    let mut idx: SmallVec<[usize; 4]> = SmallVec::from_elem(0, r);
    let outer = out.numel() / inner.max(1);
    for _ in 0..outer {
        let oa: usize = idx.iter().zip(&sa).map(|(i, s)| i * s).sum();
        let ob: usize = idx.iter().zip(&sb).map(|(i, s)| i * s).sum();
        for j in 0..inner {
            data.push(f(ad[oa + j * ia], bd[ob + j * ib]));
        }
        for ax in (0..r.saturating_sub(1)).rev() {
            idx[ax] += 1;
            if idx[ax] < dims[ax] {
                break;
            }
            idx[ax] = 0;
        }
    }
    Ok(Tensor::from_parts(data, out))
}

/// Repeats `x` along its size-1 (or missing leading) axes to `shape`.
///
/// # Errors
/// [`Error::ShapeMismatch`] when `x` does not broadcast to `shape`; [`Error::TooLarge`] or
/// [`Error::Allocation`] when `shape` does not fit in memory.
pub fn broadcast_to<T: Float>(x: &Tensor<T>, shape: &Shape) -> Result<Tensor<T>> {
    if x.shape() == shape {
        return Ok(x.clone());
    }
    if !x.shape().broadcasts_to(shape) {
        return Err(Error::ShapeMismatch {
            op: "broadcast_to",
            msg: "cannot broadcast".into(),
            lhs: x.shape().clone(),
            rhs: shape.clone(),
        });
    }
    // Fast path: `x` repeated along new or size-1 leading axes only (`[m]` or `[1, m]` to `[n, m]`, the
    // derivative of a bias gradient's `sum_to`): whole copies of its data, one after another.
    let lead = x.dims().iter().take_while(|&&d| d == 1).count();
    let tail = &x.dims()[lead..];
    let n = checked_numel::<T>("broadcast_to", shape)?;
    if x.numel() > 0 && tail.len() <= shape.rank() && tail == &shape.dims()[shape.rank() - tail.len()..] {
        let mut out = try_buffer("broadcast_to", n)?;
        for _ in 0..n / x.numel() {
            out.extend_from_slice(x.data());
        }
        return Ok(Tensor::from_parts(out, shape.clone()));
    }
    zip("broadcast_to", Tensor::try_full("broadcast_to", shape.clone(), T::zero())?, x, |_, v| v)
}

/// Sums `x` over the axes along which `shape` was broadcast to `x`'s shape: the derivative of broadcasting.
///
/// # Errors
/// [`Error::ShapeMismatch`] when `shape` does not broadcast to `x`'s shape; [`Error::Allocation`] when the
/// target does not fit in memory (possible only for an empty `x`).
pub fn sum_to<T: Float>(x: &Tensor<T>, shape: &Shape) -> Result<Tensor<T>> {
    if x.shape() == shape {
        return Ok(x.clone());
    }
    if !shape.broadcasts_to(x.shape()) {
        return Err(Error::ShapeMismatch {
            op: "sum_to",
            msg: "target does not broadcast to the source".into(),
            lhs: x.shape().clone(),
            rhs: shape.clone(),
        });
    }
    // Fast paths: a total sum, and sums over leading axes only (the bias gradient of a batch: [n, m] to [m]
    // or [1, m]), which are contiguous row additions.
    // The target can be larger than the source when the source is empty ([2^46, 0] to [2^46, 1]).
    let n = checked_numel::<T>("sum_to", shape)?;
    let zeros = |n: usize| -> Result<Vec<T>> {
        let mut v = try_buffer("sum_to", n)?;
        v.resize(n, T::zero());
        Ok(v)
    };
    if n == 0 {
        // Nothing to sum into (and `chunks_exact(0)` below would panic): `[2, 0]` to `[0]`.
        return Ok(Tensor::from_parts(Vec::new(), shape.clone()));
    }
    if n == 1 {
        let total: T = x.data().iter().copied().sum();
        return Ok(Tensor::filled(shape.clone(), total));
    }
    let lead = shape.dims().iter().take_while(|&&d| d == 1).count();
    let tail = &shape.dims()[lead..];
    if tail.len() <= x.rank() && tail == &x.dims()[x.rank() - tail.len()..] {
        let mut out = zeros(n)?;
        // Split by columns: each thread adds its columns of every row in row order, as one thread would.
        let xd = x.data();
        parallel::chunks_mut(&mut out, 16, xd.len() >= PAR_MIN, |at, cols| {
            for row in xd.chunks_exact(n) {
                for (o, &v) in cols.iter_mut().zip(&row[at..]) {
                    *o += v;
                }
            }
        });
        return Ok(Tensor::from_parts(out, shape.clone()));
    }
    // One kept block of axes followed by summed ones (the bias gradient of a convolution: [n, o, h, w] to
    // [o, 1, 1]): `x` as [outer, n, inner], each contiguous run of `inner` summed into its slot.
    let trail = tail.iter().rev().take_while(|&&d| d == 1).count();
    let kept = &tail[..tail.len() - trail];
    if trail > 0 && !kept.is_empty() && tail.len() <= x.rank() {
        let at = x.rank() - tail.len();
        let inner: usize = x.dims()[at + kept.len()..].iter().product();
        if kept == &x.dims()[at..at + kept.len()] && inner > 0 {
            let mut out = zeros(n)?;
            for (k, run) in x.data().chunks_exact(inner).enumerate() {
                out[k % n] += sum_run(run);
            }
            return Ok(Tensor::from_parts(out, shape.clone()));
        }
    }
    let xs = x.shape();
    let st = shape.broadcast_strides(xs);
    let mut out = zeros(n)?;
    let dims = xs.dims();
    let r = dims.len();
    let inner = dims[r - 1];
    let is = st[r - 1];
    let mut idx: SmallVec<[usize; 4]> = SmallVec::from_elem(0, r);
    let xd = x.data();
    for chunk in xd.chunks(inner.max(1)) {
        let o: usize = idx.iter().zip(&st).map(|(i, s)| i * s).sum();
        if is == 0 {
            let s: T = chunk.iter().copied().sum();
            out[o] += s;
        } else {
            for (j, &v) in chunk.iter().enumerate() {
                out[o + j] += v;
            }
        }
        for ax in (0..r.saturating_sub(1)).rev() {
            idx[ax] += 1;
            if idx[ax] < dims[ax] {
                break;
            }
            idx[ax] = 0;
        }
    }
    Ok(Tensor::from_parts(out, shape.clone()))
}

/// The sum of a run in eight interleaved partial sums (they vectorise; one running sum does not).
fn sum_run<T: Float>(run: &[T]) -> T {
    let mut acc = [T::zero(); 8];
    let mut lanes = run.chunks_exact(8);
    for c in &mut lanes {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    let tail: T = lanes.remainder().iter().copied().sum();
    acc.iter().copied().sum::<T>() + tail
}

/// Splits a shape around `axis` into (outer, len, inner) block sizes.
///
/// # Panics
/// When `axis >= rank` (resolve axes with [`Shape::axis`] first).
pub fn split_at_axis(shape: &Shape, axis: usize) -> (usize, usize, usize) {
    let d = shape.dims();
    (d[..axis].iter().product(), d[axis], d[axis + 1..].iter().product())
}

/// Folds `x` along `axis` with `f` starting from `init`; the axis is kept with size 1 or removed.
///
/// # Errors
/// [`Error::Allocation`] naming `op` when the result does not fit in memory: reducing an empty axis gives
/// a result larger than its input (`[2^46, 0]` summed along axis 1 has 2^46 elements).
///
/// # Panics
/// When `axis >= rank` (resolve axes with [`Shape::axis`] first).
pub fn reduce_axis<T: Float>(
    op: &'static str,
    x: &Tensor<T>,
    axis: usize,
    keepdim: bool,
    init: T,
    f: impl Fn(T, T) -> T,
) -> Result<Tensor<T>> {
    let (outer, len, inner) = split_at_axis(x.shape(), axis);
    let xd = x.data();
    let shape = x.shape().reduced(axis, keepdim);
    // `outer inner` divides the span of `x`'s shape, so the count fits; only the allocation can fail.
    let n = checked_numel::<T>(op, &shape)?;
    let mut out = try_buffer(op, n)?;
    out.resize(n, init);
    // An empty axis or empty rows leave `out` as it is; `outer` alone may be huge ([2^62, 0]).
    for o in 0..if len * inner > 0 { outer } else { 0 } {
        let dst = &mut out[o * inner..(o + 1) * inner];
        for l in 0..len {
            let src = &xd[(o * len + l) * inner..(o * len + l + 1) * inner];
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = f(*d, s);
            }
        }
    }
    Ok(Tensor::from_parts(out, shape))
}

/// Copies `x` with its axes reordered: output axis `i` is input axis `perm[i]`.
///
/// # Errors
/// [`Error::InvalidArgument`] when `perm` is not a permutation of `0..rank`.
pub fn permute<T: Float>(x: &Tensor<T>, perm: &[usize]) -> Result<Tensor<T>> {
    let r = x.rank();
    let mut seen = vec![false; r];
    if perm.len() != r || perm.iter().any(|&p| p >= r || std::mem::replace(&mut seen[p], true)) {
        return Err(Error::InvalidArgument {
            op: "permute",
            msg: format!("{perm:?} is not a permutation of the {r} axes of {}", x.shape()),
        });
    }
    let dims: SmallVec<[usize; 4]> = perm.iter().map(|&p| x.dims()[p]).collect();
    let in_strides = x.shape().strides();
    let st: SmallVec<[usize; 4]> = perm.iter().map(|&p| in_strides[p]).collect();
    let out_shape = Shape::new(&dims);
    let n = x.numel();
    let xd = x.data();
    let mut data = Vec::with_capacity(n);
    if n > 0 {
        let mut idx: SmallVec<[usize; 4]> = SmallVec::from_elem(0, r);
        for _ in 0..n {
            let o: usize = idx.iter().zip(&st).map(|(i, s)| i * s).sum();
            data.push(xd[o]);
            for ax in (0..r).rev() {
                idx[ax] += 1;
                if idx[ax] < dims[ax] {
                    break;
                }
                idx[ax] = 0;
            }
        }
    }
    Ok(Tensor::from_parts(data, out_shape))
}

/// The shape of `op(a) @ op(b)` for rank-2 or rank-3 (batched) operands, where `op` transposes the last two
/// axes when its flag is set. Returns (batch, m, k, n).
///
/// # Errors
/// [`Error::BadShape`] for ranks other than 2 and 3, [`Error::ShapeMismatch`] for differing inner dimensions
/// or batch sizes.
pub fn matmul_dims(a: &Shape, b: &Shape, ta: bool, tb: bool) -> Result<(usize, usize, usize, usize)> {
    let op = "matmul";
    for s in [a, b] {
        if s.rank() != 2 && s.rank() != 3 {
            return Err(Error::BadShape {
                op,
                msg: "expected a matrix [m, k] or a batch [b, m, k]".into(),
                shape: s.clone(),
            });
        }
    }
    if a.rank() != b.rank() {
        return Err(Error::ShapeMismatch {
            op,
            msg: "ranks differ; expected [m, k] · [k, n] or [b, m, k] · [b, k, n]".into(),
            lhs: a.clone(),
            rhs: b.clone(),
        });
    }
    let last2 = |s: &Shape, t: bool| {
        let d = s.dims();
        let (r, c) = (d[d.len() - 2], d[d.len() - 1]);
        if t { (c, r) } else { (r, c) }
    };
    let (m, k) = last2(a, ta);
    let (k2, n) = last2(b, tb);
    let batch = if a.rank() == 3 { a.dims()[0] } else { 1 };
    if a.rank() == 3 && b.dims()[0] != batch {
        return Err(Error::ShapeMismatch { op, msg: "batch sizes differ".into(), lhs: a.clone(), rhs: b.clone() });
    }
    if k != k2 {
        let msg = match (ta, tb) {
            (false, false) => "inner dimensions differ; expected [m, k] · [k, n]",
            _ => "inner dimensions differ after transposition",
        };
        return Err(Error::ShapeMismatch { op, msg: msg.into(), lhs: a.clone(), rhs: b.clone() });
    }
    Ok((batch, m, k, n))
}

/// `op(a) @ op(b)` (see [`matmul_dims`]), through the GEMM kernel; transposes are strides, not copies.
///
/// # Errors
/// As [`matmul_dims`]; [`Error::TooLarge`] or [`Error::Allocation`] when the product does not fit in memory
/// (`[2^20, 1] · [1, 2^20]` has 2^40 elements).
pub fn matmul<T: Float>(a: &Tensor<T>, b: &Tensor<T>, ta: bool, tb: bool) -> Result<Tensor<T>> {
    let (batch, m, k, n) = matmul_dims(a.shape(), b.shape(), ta, tb)?;
    let shape = if a.rank() == 3 { Shape::new(&[batch, m, n]) } else { Shape::new(&[m, n]) };
    // The operands are tensors, so `batch m k` and `batch k n` fit; the output's size is checked here.
    let len = checked_numel::<T>("matmul", &shape)?;
    let mut out = try_buffer("matmul", len)?;
    if batch == 1 {
        let av = if ta { MatRef::row_major(k, m, 0, true) } else { MatRef::row_major(m, k, 0, false) };
        let bv = if tb { MatRef::row_major(n, k, 0, true) } else { MatRef::row_major(k, n, 0, false) };
        T::gemm_fresh(a.data(), av, b.data(), bv, &mut out);
        return Ok(Tensor::from_parts(out, shape));
    }
    out.resize(len, T::zero());
    // An empty product has nothing to compute, but `batch` alone may be huge ([2^62, 0, 3]).
    for i in 0..if len > 0 { batch } else { 0 } {
        let av = if ta { MatRef::row_major(k, m, i * m * k, true) } else { MatRef::row_major(m, k, i * m * k, false) };
        let bv = if tb { MatRef::row_major(n, k, i * k * n, true) } else { MatRef::row_major(k, n, i * k * n, false) };
        T::gemm(T::one(), a.data(), av, b.data(), bv, T::zero(), &mut out, i * m * n);
    }
    Ok(Tensor::from_parts(out, shape))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_elementwise_loops_split_across_threads_give_the_bits_of_one_thread() {
        let values = |n: usize, seed: usize| gemm::oracle::values(n, seed);
        let run = |rows: usize, cols: usize| {
            let a = Tensor::from_vec(values(rows * cols, 1), [rows, cols]).unwrap();
            let b = Tensor::from_vec(values(rows * cols, 2), [rows, cols]).unwrap();
            let bias = Tensor::from_vec(values(cols, 3), [cols]).unwrap();
            let f = |x: f64, y: f64| x * 1.5 - y / 3.0;
            let unique = zip("t", a.map(|x| x), &b, f).unwrap();
            let shared = zip("t", a.clone(), &b, f).unwrap();
            let rows_plus = zip("t", a.map(|x| x), &bias, f).unwrap();
            let sums = sum_to(&a, &Shape::from([cols])).unwrap();
            let mapped = a.map_split(|x| x.sin());
            // Against the definitions, element by element.
            for i in 0..rows * cols {
                let (x, y) = (a.data()[i], b.data()[i]);
                assert_eq!(unique.data()[i].to_bits(), f(x, y).to_bits());
                assert_eq!(shared.data()[i].to_bits(), f(x, y).to_bits());
                assert_eq!(rows_plus.data()[i].to_bits(), f(x, bias.data()[i % cols]).to_bits());
                assert_eq!(mapped.data()[i].to_bits(), x.sin().to_bits());
            }
            for j in 0..cols {
                let want = (0..rows).fold(0.0, |s, r| s + a.data()[r * cols + j]);
                assert_eq!(sums.data()[j].to_bits(), want.to_bits(), "{rows}x{cols} column {j}");
            }
            [unique, shared, rows_plus, sums, mapped].map(|t| t.data().iter().map(|x| x.to_bits()).collect::<Vec<_>>())
        };
        let _cap = gemm::THREAD_CAP_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let before = crate::num_threads();
        // Around the threshold, rows that do not divide it, one long row, many short ones.
        for (rows, cols) in [(256, 1024), (3, PAR_MIN / 3 + 5), (PAR_MIN / 64 + 1, 64), (1, PAR_MIN + 1), (7, 9)] {
            let mut per_threads = Vec::new();
            for threads in [1, 2, 3] {
                crate::set_num_threads(threads);
                per_threads.push(run(rows, cols));
            }
            assert!(per_threads.windows(2).all(|w| w[0] == w[1]), "{rows}x{cols}: threads changed a bit");
        }
        crate::set_num_threads(before);
    }

    /// `sum_to` by definition: every element of `x` added into the output element it broadcast from.
    fn sum_to_oracle(x: &Tensor<f64>, shape: &[usize]) -> Vec<f64> {
        let xd = x.dims();
        let pad = xd.len() - shape.len();
        let mut out = vec![0.0; shape.iter().product()];
        for (flat, &v) in x.data().iter().enumerate() {
            let (mut rem, mut o) = (flat, 0);
            let mut idx = vec![0; xd.len()];
            for ax in (0..xd.len()).rev() {
                idx[ax] = rem % xd[ax];
                rem /= xd[ax];
            }
            for (ax, &d) in shape.iter().enumerate() {
                o = o * d + if d == 1 { 0 } else { idx[pad + ax] };
            }
            out[o] += v;
        }
        out
    }

    #[test]
    fn sum_to_matches_its_definition_on_fast_and_general_paths() {
        let x = Tensor::from_vec((0..24).map(|i| f64::from(i) * 0.5 - 3.0).collect(), [2, 3, 4]).unwrap();
        let targets: [&[usize]; 12] = [
            &[],
            &[1],
            &[1, 1, 1],
            &[4],
            &[3, 4],
            &[1, 3, 4],
            &[1, 1, 4],
            &[2, 1, 4],
            &[2, 3, 1],
            &[3, 1],
            &[1, 3, 1],
            &[2, 1, 1],
        ];
        for t in targets {
            let got = sum_to(&x, &Shape::new(t)).unwrap();
            assert_eq!(got.dims(), t);
            assert_eq!(got.to_vec(), sum_to_oracle(&x, t), "target {t:?}");
        }
        assert!(sum_to(&x, &Shape::new(&[3])).is_err());
    }
}
