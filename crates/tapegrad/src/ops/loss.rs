//! Losses: mean squared error, binary cross-entropy (on probabilities and, stably, on logits), softmax
//! cross-entropy fused with log-sum-exp (class indices or probability targets) and KL divergence.
//!
//! All reduce by the mean over the batch, as PyTorch does by default. Only the class-index softmax
//! cross-entropy is a fused op of its own (one pass, no `[N, C]` log-probability temporary kept); the others
//! are compositions of ops whose derivatives are already checked.

use crate::error::{Error, Result};
use crate::float::Float;
use crate::kernels::reduce::logsumexp_row;
use crate::ops::activation::softmax_t;
use crate::tape::{Op, OpGrads, Var};
use crate::tensor::Tensor;
use crate::val::{BackwardCx, Val};
use smallvec::smallvec;
use std::sync::Arc;

fn same_shape<T: Float>(op: &'static str, a: &Var<'_, T>, b: &Var<'_, T>) -> Result<()> {
    a.tape.owns(op, *b)?;
    let (sa, sb) = (a.shape(), b.shape());
    if sa != sb {
        return Err(Error::ShapeMismatch { op, msg: "prediction and target shapes differ".into(), lhs: sa, rhs: sb });
    }
    Ok(())
}

// ---- softmax cross-entropy with class indices: L = mean_i (lse(z_i) - z_i[y_i]) ----
// dz = softmax_cross_entropy_grad(z, g) = g / N * (softmax(z) - onehot(y)), one fused op.

struct SoftmaxCrossEntropyOp {
    labels: Arc<[usize]>,
}
impl<T: Float> Op<T> for SoftmaxCrossEntropyOp {
    fn name(&self) -> &'static str {
        "softmax_cross_entropy"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        Ok(smallvec![Some(cx.softmax_cross_entropy_grad(cx.input(0), g, &self.labels)?)])
    }
}

/// `g / N (softmax(z) - onehot(labels))` for logits `[N, C]` (labels checked by the loss) and a scalar `g`.
pub(crate) fn softmax_cross_entropy_grad_t<T: Float>(
    z: &Tensor<T>,
    g: &Tensor<T>,
    labels: &[usize],
) -> Result<Tensor<T>> {
    let op = "softmax_cross_entropy_grad";
    if z.rank() != 2 || g.numel() != 1 || labels.len() != z.dims()[0] {
        return Err(Error::ShapeMismatch {
            op,
            msg: format!("expected logits [N, C], a scalar gradient and N labels ({} labels)", labels.len()),
            lhs: z.shape().clone(),
            rhs: g.shape().clone(),
        });
    }
    let (n, c) = (z.dims()[0], z.dims()[1]);
    if let Some(&bad) = labels.iter().find(|&&y| y >= c) {
        return Err(Error::IndexOutOfRange { op, index: bad, bound: c });
    }
    let s = g.data()[0] / T::of(n.max(1) as f64);
    let mut p = softmax_t(z, 1)?.into_vec();
    for (row, &y) in p.chunks_exact_mut(c.max(1)).zip(labels) {
        row[y] -= T::one();
    }
    for x in &mut p {
        *x *= s;
    }
    Ok(Tensor::from_parts(p, z.shape().clone()))
}

// ---- softmax_cross_entropy_grad(z, g) = g / N (p - onehot), p = softmax(z) along the classes:
// with u = gbar g / N:  dz = p (u - sum(u p, classes)) (softmax's derivative applied to u),
// dg = sum(gbar (p - onehot)) / N = sum(gbar * softmax_cross_entropy_grad(z, 1)). ----

struct SoftmaxCrossEntropyGradOp {
    labels: Arc<[usize]>,
}
impl<T: Float> Op<T> for SoftmaxCrossEntropyGradOp {
    fn name(&self) -> &'static str {
        "softmax_cross_entropy_grad"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, gbar: Val<T>) -> Result<OpGrads<T>> {
        let z_shape = cx.input_shape(0);
        let n = z_shape.dims()[0];
        let inv_n = T::one() / T::of(n.max(1) as f64);
        let dz = if cx.needs(0) {
            let u = cx.mul(gbar.clone(), cx.scale(cx.input(1), inv_n)?)?;
            let p = cx.softmax(cx.input(0), 1)?;
            let dot = cx.sum_axis(cx.mul(u.clone(), p.clone())?, 1, true)?;
            Some(cx.mul(p, cx.sub(u, dot)?)?)
        } else {
            None
        };
        let dg = if cx.needs(1) {
            let one = cx.constant(Tensor::filled(cx.input_shape(1), T::one()));
            let d = cx.softmax_cross_entropy_grad(cx.input(0), one, &self.labels)?;
            Some(cx.sum_to(cx.mul(gbar, d)?, &cx.input_shape(1))?)
        } else {
            None
        };
        Ok(smallvec![dz, dg])
    }
}

// ---- bce on probabilities, logs clamped at -100 as PyTorch does:
// L = -mean(y lp + (1 - y) lq), lp = max(ln p, -100), lq = max(ln(1 - p), -100).
// With the constant masks mp = [ln p > -100], mq = [ln(1 - p) > -100] and pp = p mp + (1 - mp) (p where
// unclamped, 1 where clamped; likewise qq for 1 - p), lp = mp ln(pp) - 100 (1 - mp) and
// dp = -g / N (y mp / pp - (1 - y) mq / qq),  dy = -g / N (lp - lq).
// The clamped region is flat (derivative 0), so the derivative agrees with the clamped forward and never
// divides by zero: bce(1, 1) = 0 with dp = -1, bce(0, 1) = 100 with dp = 0. ----

/// PyTorch's floor for the logs of `binary_cross_entropy`.
const LOG_FLOOR: f64 = -100.0;

/// The mask `[ln x > -100]` and the floored log `max(ln x, -100)` of one probability.
fn floored_log<T: Float>(x: T) -> (T, T) {
    let l = x.ln();
    if l > T::of(LOG_FLOOR) { (T::one(), l) } else { (T::zero(), T::of(LOG_FLOOR)) }
}

struct BceOp;
impl<T: Float> Op<T> for BceOp {
    fn name(&self) -> &'static str {
        "bce"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        let p = cx.input_value(0);
        let mp = p.map(|x| floored_log(x).0);
        let mq = p.map(|x| floored_log(T::one() - x).0);
        // pp = p mp + (1 - mp), qq = (1 - p) mq + (1 - mq): the probability where unclamped, 1 where clamped.
        let pp = cx.add(cx.mul(cx.input(0), cx.constant(mp.clone()))?, cx.constant(mp.map(|m| T::one() - m)))?;
        let q = cx.affine(cx.input(0), -T::one(), T::one())?;
        let qq = cx.add(cx.mul(q, cx.constant(mq.clone()))?, cx.constant(mq.map(|m| T::one() - m)))?;
        let gs = cx.scale(g, -T::one() / T::of(p.numel().max(1) as f64))?;
        let dp = if cx.needs(0) {
            let y = cx.input(1);
            let pos = cx.div(cx.mul(y.clone(), cx.constant(mp.clone()))?, pp.clone())?;
            let neg = cx.div(cx.mul(cx.affine(y, -T::one(), T::one())?, cx.constant(mq.clone()))?, qq.clone())?;
            Some(cx.mul(gs.clone(), cx.sub(pos, neg)?)?)
        } else {
            None
        };
        let dy = if cx.needs(1) {
            let floor = |m: &Tensor<T>| cx.constant(m.map(|m| (T::one() - m) * T::of(LOG_FLOOR)));
            let lp = cx.add(cx.mul(cx.log(pp)?, cx.constant(mp.clone()))?, floor(&mp))?;
            let lq = cx.add(cx.mul(cx.log(qq)?, cx.constant(mq.clone()))?, floor(&mq))?;
            Some(cx.mul(gs, cx.sub(lp, lq)?)?)
        } else {
            None
        };
        Ok(smallvec![dp, dy])
    }
}

// ---- xlogy's convention inside kl_div and softmax_cross_entropy_probs: y = x where keep, else 0;
// dx = g keep. A term p log q with p = 0 is 0 even where log q = -inf (0 * -inf would be NaN). ----

struct KeepWhereOp<T: Float>(Tensor<T>);
impl<T: Float> Op<T> for KeepWhereOp<T> {
    fn name(&self) -> &'static str {
        "keep_where"
    }
    fn backward(&self, cx: &BackwardCx<'_, T>, g: Val<T>) -> Result<OpGrads<T>> {
        Ok(smallvec![Some(cx.mul(g, cx.constant(self.0.clone()))?)])
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// The elements where `keep` (same shape, 0 or 1) is 1, zero elsewhere, whatever they are.
    fn keep_where(self, keep: Tensor<T>) -> Result<Self> {
        let x = self.value();
        let v = Tensor::from_iter_exact(
            x.shape().clone(),
            x.data().iter().zip(keep.data()).map(|(&a, &k)| if k == T::zero() { T::zero() } else { a }),
        );
        self.tape.record(KeepWhereOp(keep), &[self], v)
    }

    /// `target * self`, with the terms where the target is 0 taken as 0 (xlogy: `0 * log 0 = 0`).
    fn xlogy_terms(self, target: Var<'t, T>) -> Result<Self> {
        let keep = target.value().map(|p| if p == T::zero() { T::zero() } else { T::one() });
        target.mul(self.keep_where(keep)?)
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Mean squared error `mean((self - target)^2)`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the shapes differ (no silent broadcasting in a loss).
    pub fn mse(self, target: Var<'t, T>) -> Result<Self> {
        same_shape("mse", &self, &target)?;
        Ok(self.sub(target)?.square().mean())
    }

    /// Binary cross-entropy on probabilities: `-mean(y log p + (1 - y) log(1 - p))`, each log clamped at
    /// -100 as PyTorch does, so a saturated prediction gives a finite loss and gradient (`bce(1, 1) = 0`;
    /// the derivative is that of the clamped function, 0 where a log is clamped). Prefer
    /// [`Var::bce_with_logits`], which is exact for any logit.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`]; [`Error::InvalidArgument`] when a probability or a target is outside
    /// `[0, 1]` (NaN included).
    pub fn bce(self, target: Var<'t, T>) -> Result<Self> {
        same_shape("bce", &self, &target)?;
        let in_range = |x: &T| (T::zero()..=T::one()).contains(x);
        let (p, y) = (self.value(), target.value());
        if let Some(p) = p.data().iter().find(|p| !in_range(p)) {
            return Err(Error::InvalidArgument { op: "bce", msg: format!("probability {p} is outside [0, 1]") });
        }
        if let Some(y) = y.data().iter().find(|y| !in_range(y)) {
            return Err(Error::InvalidArgument { op: "bce", msg: format!("target {y} is outside [0, 1]") });
        }
        let total: T = p
            .data()
            .iter()
            .zip(y.data())
            .map(|(&p, &y)| y * floored_log(p).1 + (T::one() - y) * floored_log(T::one() - p).1)
            .sum();
        let v = Tensor::scalar(-total / T::of(p.numel().max(1) as f64));
        self.tape.record(BceOp, &[self, target], v)
    }

    /// Binary cross-entropy on logits, stable for any logit: `mean(softplus(z) - y z)`.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`].
    pub fn bce_with_logits(self, target: Var<'t, T>) -> Result<Self> {
        same_shape("bce_with_logits", &self, &target)?;
        Ok(self.softplus().sub(target.mul(self)?)?.mean())
    }

    /// Softmax cross-entropy of logits `[N, C]` against class indices, fused with log-sum-exp:
    /// `mean_i (logsumexp(z_i) - z_i[y_i])`.
    ///
    /// # Errors
    /// [`Error::BadShape`] unless the logits are `[N, C]`; [`Error::InvalidArgument`] when the number of
    /// labels is not N; [`Error::IndexOutOfRange`] for a label `>= C`.
    pub fn softmax_cross_entropy(self, labels: &[usize]) -> Result<Self> {
        let op = "softmax_cross_entropy";
        let z = self.value();
        if z.rank() != 2 {
            return Err(Error::BadShape { op, msg: "expected logits [N, C]".into(), shape: z.shape().clone() });
        }
        let (n, c) = (z.dims()[0], z.dims()[1]);
        if labels.len() != n {
            return Err(Error::InvalidArgument {
                op,
                msg: format!("{} labels for logits {}", labels.len(), z.shape()),
            });
        }
        if let Some(&bad) = labels.iter().find(|&&y| y >= c) {
            return Err(Error::IndexOutOfRange { op, index: bad, bound: c });
        }
        // Row by row (`logsumexp_t(z, 1)`'s arithmetic, without its temporaries).
        let mut total = T::zero();
        for (row, &y) in z.data().chunks_exact(c.max(1)).zip(labels) {
            total += logsumexp_row(row) - row[y];
        }
        let v = Tensor::scalar(total / T::of(n.max(1) as f64));
        self.tape.record(SoftmaxCrossEntropyOp { labels: labels.into() }, &[self], v)
    }

    /// `g / N (softmax(self) - onehot(labels))` for logits `self` `[N, C]` and a scalar `g`: the derivative
    /// of [`Var::softmax_cross_entropy`] as one op (what a gradient graph through the loss records).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] unless the logits are `[N, C]` with N labels and `g` has one element;
    /// [`Error::IndexOutOfRange`] for a label `>= C`.
    pub(crate) fn softmax_cross_entropy_grad(self, g: Var<'t, T>, labels: Arc<[usize]>) -> Result<Self> {
        self.tape.owns("softmax_cross_entropy_grad", g)?;
        let v = softmax_cross_entropy_grad_t(&self.value(), &g.value(), &labels)?;
        self.tape.record(SoftmaxCrossEntropyGradOp { labels }, &[self, g], v)
    }

    /// Softmax cross-entropy of logits `[N, C]` against probability targets `[N, C]` (soft labels):
    /// `-mean_i sum_c t_ic log_softmax(z)_ic`. A term with `t = 0` is 0, also where the log-probability is
    /// `-inf` (xlogy's convention), and passes no gradient.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`]; [`Error::BadShape`] unless rank 2.
    pub fn softmax_cross_entropy_probs(self, target: Var<'t, T>) -> Result<Self> {
        same_shape("softmax_cross_entropy_probs", &self, &target)?;
        let s = self.shape();
        if s.rank() != 2 {
            return Err(Error::BadShape {
                op: "softmax_cross_entropy_probs",
                msg: "expected logits [N, C]".into(),
                shape: s,
            });
        }
        let n = s.dims()[0];
        Ok(self.log_softmax(1)?.xlogy_terms(target)?.sum().mul_scalar(-T::one() / T::of(n.max(1) as f64)))
    }

    /// KL divergence `KL(p || q) = sum p (log p - log q) / N` with `self = log q` (log-probabilities, rank 2
    /// `[N, C]` or rank 1) and `target = p` (probabilities), PyTorch's `kl_div(..., reduction="batchmean")`.
    /// Terms with `p = 0` contribute 0, also where `log q = -inf` (xlogy's convention), and pass no
    /// gradient. The entropy term `p log p` is taken from the target's value: no gradient flows into the
    /// target through it.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`]; [`Error::InvalidArgument`] for a negative or non-finite target.
    pub fn kl_div(self, target: Var<'t, T>) -> Result<Self> {
        same_shape("kl_div", &self, &target)?;
        let p = target.value();
        if let Some(bad) = p.data().iter().find(|&&v| !(v >= T::zero() && v.is_finite())) {
            return Err(Error::InvalidArgument {
                op: "kl_div",
                msg: format!("target probability {bad} is negative or not finite"),
            });
        }
        let n = if p.rank() >= 2 { p.dims()[0] } else { 1 };
        let ent: T = p.data().iter().map(|&v| if v > T::zero() { v * v.ln() } else { T::zero() }).sum();
        let cross = self.xlogy_terms(target)?.sum();
        Ok(cross.mul_scalar(-T::one()).add_scalar(ent).mul_scalar(T::one() / T::of(n.max(1) as f64)))
    }
}

/// Softmax probabilities of logits `[N, C]` along the classes (no tape): for predictions and metrics.
pub fn softmax_rows<T: Float>(logits: &Tensor<T>) -> Result<Tensor<T>> {
    if logits.rank() != 2 {
        return Err(Error::BadShape {
            op: "softmax_rows",
            msg: "expected [N, C]".into(),
            shape: logits.shape().clone(),
        });
    }
    softmax_t(logits, 1)
}

/// Index of the largest element of each row of `[N, C]` (first one on ties). As PyTorch's `argmax`, a NaN
/// counts as the largest: a row holding one gives the index of its first NaN, never a class picked among
/// the other numbers.
///
/// # Errors
/// [`Error::BadShape`] unless the tensor has rank 2.
pub fn argmax_rows<T: Float>(x: &Tensor<T>) -> Result<Vec<usize>> {
    if x.rank() != 2 {
        return Err(Error::BadShape { op: "argmax_rows", msg: "expected [N, C]".into(), shape: x.shape().clone() });
    }
    crate::kernels::reduce::argmax_axis("argmax_rows", x, 1)
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{check_both, random_tensor};
    use crate::{Error, Shape, Tape, Tensor};
    use proptest::prelude::*;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    #[test]
    fn softmax_cross_entropy_matches_a_hand_computation() {
        let tape = Tape::<f64>::new();
        let z = tape.leaf(Tensor::from_vec(vec![1.0, 2.0, 3.0, 1.0, 1.0, 1.0], [2, 3]).unwrap());
        let l = z.softmax_cross_entropy(&[2, 0]).unwrap().item().unwrap();
        let l0 = (1f64.exp() + 2f64.exp() + 3f64.exp()).ln() - 3.0;
        let l1 = 3f64.ln();
        assert!((l - (l0 + l1) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn losses_reject_bad_labels_and_shapes() {
        let tape = Tape::<f32>::new();
        let z = tape.input(Tensor::zeros([2, 3]).unwrap());
        assert_eq!(
            z.softmax_cross_entropy(&[0, 3]).unwrap_err().to_string(),
            "softmax_cross_entropy: index 3 is out of range 0..3"
        );
        assert!(matches!(z.softmax_cross_entropy(&[0]), Err(Error::InvalidArgument { .. })));
        assert!(matches!(
            tape.input(Tensor::zeros([3]).unwrap()).softmax_cross_entropy(&[0, 0, 0]),
            Err(Error::BadShape { .. })
        ));
        let t = tape.input(Tensor::zeros([3, 2]).unwrap());
        assert_eq!(z.mse(t).unwrap_err().to_string(), "mse: prediction and target shapes differ ([2, 3] and [3, 2])");
        assert!(matches!(z.bce(t), Err(Error::ShapeMismatch { op: "bce", .. })));
        assert!(matches!(z.bce_with_logits(t), Err(Error::ShapeMismatch { op: "bce_with_logits", .. })));
        assert!(matches!(z.kl_div(t), Err(Error::ShapeMismatch { op: "kl_div", .. })));
        assert!(matches!(z.softmax_cross_entropy_probs(t), Err(Error::ShapeMismatch { .. })));
        let p = tape.input(Tensor::full([2, 3], 1.5).unwrap());
        assert!(matches!(p.bce(z), Err(Error::InvalidArgument { op: "bce", .. })));
        let neg = tape.input(Tensor::full([2, 3], -0.5).unwrap());
        assert!(matches!(z.kl_div(neg), Err(Error::InvalidArgument { op: "kl_div", .. })));
    }

    #[test]
    fn bce_with_logits_is_stable_and_agrees_with_bce() {
        let tape = Tape::<f64>::new();
        let z = tape.input(Tensor::from_vec(vec![-800.0, 800.0, 0.3], [3]).unwrap());
        let y = tape.input(Tensor::from_vec(vec![1.0, 0.0, 1.0], [3]).unwrap());
        let l = z.bce_with_logits(y).unwrap().item().unwrap();
        assert!(l.is_finite() && (l - (1600.0 + (1.0 + (-0.3f64).exp()).ln()) / 3.0).abs() < 1e-9);
        let zs = tape.input(Tensor::from_vec(vec![0.3, -1.2], [2]).unwrap());
        let ys = tape.input(Tensor::from_vec(vec![1.0, 0.0], [2]).unwrap());
        let a = zs.bce_with_logits(ys).unwrap().item().unwrap();
        let b = zs.sigmoid().bce(ys).unwrap().item().unwrap();
        assert!((a - b).abs() < 1e-12);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn loss_gradients_match_finite_differences(n in 1usize..5, c in 2usize..5, seed in any::<u64>()) {
            let mut rng = StdRng::seed_from_u64(seed);
            let s = Shape::new(&[n, c]);
            let z = random_tensor(&mut rng, &s, (-3.0, 3.0));
            let labels: Vec<usize> = (0..n).map(|_| rng.random_range(0..c)).collect();
            check_both(|_t, v| v[0].softmax_cross_entropy(&labels), std::slice::from_ref(&z))?;
            // The fused derivative as an op of both its inputs (logits and a scalar gradient), and reused.
            let g = random_tensor(&mut rng, &Shape::scalar(), (-2.0, 2.0));
            let ls: std::sync::Arc<[usize]> = labels.clone().into();
            check_both(|_t, v| v[0].softmax_cross_entropy_grad(v[1], ls.clone()), &[z.clone(), g])?;
            check_both(|_t, v| v[0].softmax_cross_entropy_grad(v[1], ls.clone())?.mul(v[0]), &[z.clone(), Tensor::scalar(0.7)])?;
            let y = random_tensor(&mut rng, &s, (0.0, 1.0));
            let p = random_tensor(&mut rng, &s, (0.05, 0.95));
            check_both(|t, v| v[0].mse(t.input(y.clone())), std::slice::from_ref(&z))?;
            check_both(|t, v| v[0].bce(t.input(y.clone())), std::slice::from_ref(&p))?;
            // The target as a variable too (d/dy = -(log p - log(1 - p)) / N), and targets at 0 and 1.
            let y01 = y.map(|v| if v < 0.5 { 0.0 } else { 1.0 });
            check_both(|_t, v| v[0].bce(v[1]), &[p.clone(), y.clone()])?;
            check_both(|t, v| v[0].bce(t.input(y01.clone())), &[p])?;
            check_both(|t, v| v[0].bce_with_logits(t.input(y.clone())), std::slice::from_ref(&z))?;
            check_both(|_t, v| v[0].mse(v[1]), &[z.clone(), y.clone()])?;
            let probs = crate::ops::loss::softmax_rows(&y).unwrap();
            check_both(|t, v| v[0].softmax_cross_entropy_probs(t.input(probs.clone())), std::slice::from_ref(&z))?;
            check_both(|t, v| v[0].log_softmax(1)?.kl_div(t.input(probs.clone())), std::slice::from_ref(&z))?;
            // Targets with zeros (xlogy's convention: those terms are 0 and pass no gradient).
            let sparse = Tensor::from_vec(
                probs.data().iter().enumerate().map(|(i, &v)| if i % c == 0 { 0.0 } else { v }).collect(),
                s.clone(),
            )
            .unwrap();
            check_both(|t, v| v[0].log_softmax(1)?.kl_div(t.input(sparse.clone())), std::slice::from_ref(&z))?;
            check_both(|t, v| v[0].softmax_cross_entropy_probs(t.input(sparse.clone())), &[z])?;
        }
    }
}
