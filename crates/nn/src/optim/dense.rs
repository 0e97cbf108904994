//! The dense linear algebra of the classical methods, in one place, through `faer` (chosen over
//! `nalgebra` by measurement: `docs/optimizers.md`, "Dense linear algebra"). Everything runs
//! single-threaded (`Par::Seq`): the machines this runs on are shared, and the sizes here are small.

use faer::linalg::matmul::matmul;
use faer::linalg::solvers::Solve;
use faer::{Accum, Mat, Par, Side};

/// A dense row-major `n x n` matrix as a faer matrix.
fn square(a: &[f64], n: usize) -> Mat<f64> {
    Mat::from_fn(n, n, |i, j| a[i * n + j])
}

fn column(v: &[f64]) -> Mat<f64> {
    Mat::from_fn(v.len(), 1, |i, _| v[i])
}

fn to_vec(c: &Mat<f64>) -> Vec<f64> {
    (0..c.nrows()).map(|i| c[(i, 0)]).collect()
}

/// Solves `(A + diag(shift)) x = b` for symmetric `A` (row-major `n x n`) by Cholesky; `None` when
/// `A + diag(shift)` is not numerically positive definite.
pub fn cholesky_solve(a: &[f64], n: usize, shift: &[f64], b: &[f64]) -> Option<Vec<f64>> {
    let mut m = square(a, n);
    for (i, s) in shift.iter().enumerate() {
        m[(i, i)] += s;
    }
    let llt = m.llt(Side::Lower).ok()?;
    let x = to_vec(&llt.solve(column(b)));
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// `J^T J` (row-major `n x n`) and `J^T r` for `J` row-major `m x n`.
pub fn normal_equations(j: &[f64], m: usize, n: usize, r: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let jm = Mat::from_fn(m, n, |i, k| j[i * n + k]);
    let mut jtj = Mat::<f64>::zeros(n, n);
    matmul(jtj.as_mut(), Accum::Replace, jm.transpose(), jm.as_ref(), 1.0, Par::Seq);
    let mut jtr = Mat::<f64>::zeros(n, 1);
    matmul(jtr.as_mut(), Accum::Replace, jm.transpose(), column(r).as_ref(), 1.0, Par::Seq);
    let flat = (0..n * n).map(|k| jtj[(k / n, k % n)]).collect();
    (flat, to_vec(&jtr))
}

/// A dense symmetric matrix for BFGS's inverse Hessian approximation.
#[derive(Debug, Clone)]
pub struct DenseSym {
    m: Mat<f64>,
}

impl DenseSym {
    /// `scale * I` of size `n`.
    pub fn scaled_identity(n: usize, scale: f64) -> Self {
        DenseSym { m: Mat::from_fn(n, n, |i, j| if i == j { scale } else { 0.0 }) }
    }

    /// The size `n`.
    pub fn dim(&self) -> usize {
        self.m.nrows()
    }

    /// `M v`.
    pub fn mul_vec(&self, v: &[f64]) -> Vec<f64> {
        let mut out = Mat::<f64>::zeros(self.dim(), 1);
        matmul(out.as_mut(), Accum::Replace, self.m.as_ref(), column(v).as_ref(), 1.0, Par::Seq);
        to_vec(&out)
    }

    /// `M += alpha (u v^T + v u^T)`, a symmetric rank-2 update.
    pub fn add_sym_rank2(&mut self, alpha: f64, u: &[f64], v: &[f64]) {
        let (u, v) = (column(u), column(v));
        matmul(self.m.as_mut(), Accum::Add, u.as_ref(), v.transpose(), alpha, Par::Seq);
        matmul(self.m.as_mut(), Accum::Add, v.as_ref(), u.transpose(), alpha, Par::Seq);
    }

    /// `M += alpha u u^T`.
    pub fn add_rank1(&mut self, alpha: f64, u: &[f64]) {
        let u = column(u);
        matmul(self.m.as_mut(), Accum::Add, u.as_ref(), u.transpose(), alpha, Par::Seq);
    }

    /// The entries, row-major.
    pub fn to_row_major(&self) -> Vec<f64> {
        let n = self.dim();
        (0..n * n).map(|k| self.m[(k / n, k % n)]).collect()
    }
}
