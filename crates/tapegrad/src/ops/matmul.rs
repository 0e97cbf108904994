//! Matrix products: `matmul` (2-D and batched 3-D) with optional transposes, and `linear`, the fused
//! fully-connected layer `x W^T + b` (one GEMM with the bias folded in).
//!
//! With `C = op(A) op(B)`, where `op` transposes when its flag is set:
//! `dA = G op(B)^T` (or its transpose when A was read transposed) and `dB = op(A)^T G` likewise. Each is
//! itself a `matmul` with flags, so no transpose is ever copied and the formula is differentiable again.

use crate::error::{Error, Result};
use crate::float::Float;
use crate::kernels::{self, gemm::MatRef};
use crate::shape::Shape;
use crate::tape::{Op, OpGrads, Var};
use crate::tensor::{Tensor, checked_numel, try_buffer};
use crate::val::{BackwardCx, Val};
use smallvec::smallvec;

// ---- matmul: C = op(A) op(B) ----

struct MatMulOp {
    ta: bool,
    tb: bool,
}
impl<T: Float> Op<T> for MatMulOp {
    fn name(&self) -> &'static str {
        "matmul"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        let (ta, tb) = (self.ta, self.tb);
        let da = if !cx.needs(0) {
            None
        } else if ta {
            Some(cx.matmul(cx.input(1), g.clone(), tb, true)?) // dA = op(B) G^T
        } else {
            Some(cx.matmul(g.clone(), cx.input(1), false, !tb)?) // dA = G op(B)^T
        };
        let db = if !cx.needs(1) {
            None
        } else if tb {
            Some(cx.matmul(g, cx.input(0), true, ta)?) // dB = G^T op(A)
        } else {
            Some(cx.matmul(cx.input(0), g, !ta, false)?) // dB = op(A)^T G
        };
        Ok(smallvec![da, db])
    }
}

// ---- linear: y = x W^T + b  (x [n, in], W [out, in], b [out]) ----
// dx = G W, dW = G^T x, db = column sums of G.

fn linear_t<T: Float>(x: &Tensor<T>, w: &Tensor<T>, b: Option<&Tensor<T>>) -> Result<Tensor<T>> {
    let (_, n, k, m) = kernels::matmul_dims(x.shape(), w.shape(), false, true).map_err(|_| Error::ShapeMismatch {
        op: "linear",
        msg: "expected input [n, in] and weight [out, in]".into(),
        lhs: x.shape().clone(),
        rhs: w.shape().clone(),
    })?;
    if x.rank() != 2 {
        return Err(Error::BadShape { op: "linear", msg: "expected input [n, in]".into(), shape: x.shape().clone() });
    }
    let shape = Shape::new(&[n, m]);
    let len = checked_numel::<T>("linear", &shape)?;
    let mut out = try_buffer("linear", len)?;
    let (xv, wv) = (MatRef::row_major(n, k, 0, false), MatRef::row_major(m, k, 0, true));
    if let Some(b) = b
        && b.dims() != [m]
    {
        return Err(Error::ShapeMismatch {
            op: "linear",
            msg: "bias must be [out]".into(),
            lhs: w.shape().clone(),
            rhs: b.shape().clone(),
        });
    }
    T::linear_fresh(x.data(), xv, w.data(), wv, b.map(|b| b.data()), &mut out);
    Ok(Tensor::from_parts(out, shape))
}

struct LinearOp;
impl<T: Float> Op<T> for LinearOp {
    fn name(&self) -> &'static str {
        "linear"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        let dx = if cx.needs(0) { Some(cx.matmul(g.clone(), cx.input(1), false, false)?) } else { None };
        let dw = if cx.needs(1) { Some(cx.matmul(g.clone(), cx.input(0), true, false)?) } else { None };
        let mut out: OpGrads<T> = smallvec![dx, dw];
        if cx.num_inputs() == 3 {
            out.push(if cx.needs(2) { Some(cx.sum_to(g, &cx.input_shape(2))?) } else { None });
        }
        Ok(out)
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// The matrix product `self @ rhs`: `[m, k] · [k, n]`, or batched `[b, m, k] · [b, k, n]`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when inner dimensions or batch sizes differ, [`Error::BadShape`] for other
    /// ranks, e.g. `matmul: inner dimensions differ; expected [m, k] · [k, n] ([2, 3] and [4, 5])`.
    pub fn matmul(self, rhs: Var<'t, T>) -> Result<Self> {
        self.matmul_t(rhs, false, false)
    }

    /// `op(self) @ op(rhs)`, where `op` transposes the last two axes when its flag is set (no copy).
    ///
    /// # Errors
    /// As [`Var::matmul`].
    pub fn matmul_t(self, rhs: Var<'t, T>, ta: bool, tb: bool) -> Result<Self> {
        self.tape.owns("matmul", rhs)?;
        let v = kernels::matmul(&self.value(), &rhs.value(), ta, tb)?;
        self.tape.record(MatMulOp { ta, tb }, &[self, rhs], v)
    }

    /// The fully-connected layer `self W^T + b` for input `[n, in]`, weight `[out, in]`, bias `[out]`:
    /// one GEMM with the bias folded in.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] naming both shapes when the widths disagree or the bias is not `[out]`.
    pub fn linear(self, weight: Var<'t, T>, bias: Option<Var<'t, T>>) -> Result<Self> {
        self.tape.owns("linear", weight)?;
        let bv = bias.map(|b| b.value());
        let v = linear_t(&self.value(), &weight.value(), bv.as_ref())?;
        match bias {
            Some(b) => {
                self.tape.owns("linear", b)?;
                self.tape.record(LinearOp, &[self, weight, b], v)
            }
            None => self.tape.record(LinearOp, &[self, weight], v),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::kernels;
    use crate::ops::testing::{check_both, random_tensor};
    use crate::{Error, Shape, Tape, Tensor};
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn naive<T: crate::Float>(a: &Tensor<T>, b: &Tensor<T>) -> Vec<T> {
        let (m, k, n) = (a.dims()[0], a.dims()[1], b.dims()[1]);
        let mut c = vec![T::zero(); m * n];
        for i in 0..m {
            for j in 0..n {
                for l in 0..k {
                    c[i * n + j] += a.data()[i * k + l] * b.data()[l * n + j];
                }
            }
        }
        c
    }

    fn against_naive<T: crate::Float>(m: usize, k: usize, n: usize, tol: f64, rng: &mut StdRng) {
        let a = Tensor::<T>::rand_uniform([m, k], -1.0, 1.0, rng).unwrap();
        let b = Tensor::<T>::rand_uniform([k, n], -1.0, 1.0, rng).unwrap();
        let c = kernels::matmul(&a, &b, false, false).unwrap();
        assert_eq!(c.dims(), &[m, n]);
        let want = Tensor::from_vec(naive(&a, &b), [m, n]).unwrap();
        assert!(c.max_abs_diff(&want).unwrap() <= tol, "{m}x{k}x{n}");
        // The transposed forms read the same numbers through swapped strides.
        let at = kernels::permute(&a, &[1, 0]).unwrap();
        let bt = kernels::permute(&b, &[1, 0]).unwrap();
        assert!(kernels::matmul(&at, &bt, true, true).unwrap().max_abs_diff(&want).unwrap() <= tol);
        assert!(kernels::matmul(&at, &b, true, false).unwrap().max_abs_diff(&want).unwrap() <= tol);
        assert!(kernels::matmul(&a, &bt, false, true).unwrap().max_abs_diff(&want).unwrap() <= tol);
    }

    #[test]
    fn matmul_matches_a_naive_triple_loop_for_all_small_sizes() {
        let mut rng = StdRng::seed_from_u64(1);
        for m in 0..=6 {
            for k in 0..=6 {
                for n in 0..=6 {
                    against_naive::<f64>(m, k, n, 1e-12, &mut rng);
                    against_naive::<f32>(m, k, n, 1e-5, &mut rng);
                }
            }
        }
        for (m, k, n) in [(67, 129, 33), (1, 257, 1), (100, 1, 99), (33, 64, 130)] {
            against_naive::<f64>(m, k, n, 1e-10, &mut rng);
            against_naive::<f32>(m, k, n, 1e-3, &mut rng);
        }
    }

    #[test]
    fn matmul_rejects_mismatched_inner_dims() {
        let tape = Tape::<f32>::new();
        let a = tape.input(Tensor::zeros([2, 3]).unwrap());
        let b = tape.input(Tensor::zeros([4, 5]).unwrap());
        assert_eq!(
            a.matmul(b).unwrap_err().to_string(),
            "matmul: inner dimensions differ; expected [m, k] · [k, n] ([2, 3] and [4, 5])"
        );
        let c = tape.input(Tensor::zeros([2]).unwrap());
        assert!(matches!(a.matmul(c), Err(Error::BadShape { op: "matmul", .. })));
        let d = tape.input(Tensor::zeros([2, 3, 4]).unwrap());
        let e = tape.input(Tensor::zeros([3, 4, 5]).unwrap());
        assert!(matches!(d.matmul(e), Err(Error::ShapeMismatch { op: "matmul", .. })));
        assert!(matches!(a.matmul(d), Err(Error::ShapeMismatch { op: "matmul", .. })));
    }

    #[test]
    fn linear_rejects_wrong_widths_naming_both_shapes() {
        let tape = Tape::<f32>::new();
        let x = tape.input(Tensor::zeros([4, 3]).unwrap());
        let w = tape.input(Tensor::zeros([2, 5]).unwrap());
        assert_eq!(
            x.linear(w, None).unwrap_err().to_string(),
            "linear: expected input [n, in] and weight [out, in] ([4, 3] and [2, 5])"
        );
        let w = tape.input(Tensor::zeros([2, 3]).unwrap());
        let b = tape.input(Tensor::zeros([3]).unwrap());
        assert!(matches!(x.linear(w, Some(b)), Err(Error::ShapeMismatch { op: "linear", .. })));
    }

    #[test]
    fn linear_equals_matmul_plus_bias() {
        let mut rng = StdRng::seed_from_u64(3);
        let tape = Tape::<f64>::new();
        let x = tape.input(random_tensor(&mut rng, &Shape::new(&[5, 3]), (-1.0, 1.0)));
        let w = tape.input(random_tensor(&mut rng, &Shape::new(&[4, 3]), (-1.0, 1.0)));
        let b = tape.input(random_tensor(&mut rng, &Shape::new(&[4]), (-1.0, 1.0)));
        let fused = x.linear(w, Some(b)).unwrap().value();
        let plain = (x.matmul(w.t().unwrap()).unwrap() + b).value();
        assert!(fused.max_abs_diff(&plain).unwrap() < 1e-12);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn matmul_gradients_match_finite_differences(m in 1usize..4, k in 1usize..4, n in 1usize..4, seed in any::<u64>()) {
            let mut rng = StdRng::seed_from_u64(seed);
            let a = random_tensor(&mut rng, &Shape::new(&[m, k]), (-1.0, 1.0));
            let b = random_tensor(&mut rng, &Shape::new(&[k, n]), (-1.0, 1.0));
            check_both(|_t, v| v[0].matmul(v[1]), &[a.clone(), b.clone()])?;
            let at = kernels::permute(&a, &[1, 0]).unwrap();
            let bt = kernels::permute(&b, &[1, 0]).unwrap();
            check_both(|_t, v| v[0].matmul_t(v[1], true, true), &[at.clone(), bt.clone()])?;
            check_both(|_t, v| v[0].matmul_t(v[1], true, false), &[at, b.clone()])?;
            check_both(|_t, v| v[0].matmul_t(v[1], false, true), &[a.clone(), bt])?;
            let sq = random_tensor(&mut rng, &Shape::new(&[m, m]), (-1.0, 1.0));
            check_both(|_t, v| v[0].matmul(v[0]), &[sq])?;
            let ba = random_tensor(&mut rng, &Shape::new(&[2, m, k]), (-1.0, 1.0));
            let bb = random_tensor(&mut rng, &Shape::new(&[2, k, n]), (-1.0, 1.0));
            check_both(|_t, v| v[0].matmul(v[1]), &[ba, bb])?;
            let w = random_tensor(&mut rng, &Shape::new(&[n, k]), (-1.0, 1.0));
            let bias = random_tensor(&mut rng, &Shape::new(&[n]), (-1.0, 1.0));
            check_both(|_t, v| v[0].linear(v[1], Some(v[2])), &[a.clone(), w.clone(), bias])?;
            check_both(|_t, v| v[0].linear(v[1], None), &[a, w])?;
        }
    }
}
