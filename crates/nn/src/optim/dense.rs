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

#[cfg(test)]
mod tests {
    use super::*;

    /// A small SPD matrix `B B^T + n I` with fixed entries, row-major.
    fn spd(n: usize) -> Vec<f64> {
        let b: Vec<f64> = (0..n * n).map(|k| ((k * 37 % 11) as f64 - 5.0) / 5.0).collect();
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] =
                    (0..n).map(|k| b[i * n + k] * b[j * n + k]).sum::<f64>() + if i == j { n as f64 } else { 0.0 };
            }
        }
        a
    }

    fn matvec(a: &[f64], n: usize, x: &[f64]) -> Vec<f64> {
        (0..n).map(|i| (0..n).map(|j| a[i * n + j] * x[j]).sum()).collect()
    }

    #[test]
    fn cholesky_solve_inverts_small_spd_systems_with_and_without_a_shift() {
        for n in 1..=7 {
            let a = spd(n);
            let x: Vec<f64> = (0..n).map(|i| (i as f64 + 1.0).sin()).collect();
            let shift: Vec<f64> = (0..n).map(|i| 0.5 * i as f64).collect();
            let mut shifted = a.clone();
            (0..n).for_each(|i| shifted[i * n + i] += shift[i]);
            for (mat, s) in [(&a, vec![0.0; n]), (&shifted, shift)] {
                let got = cholesky_solve(&a, n, &s, &matvec(mat, n, &x)).expect("spd");
                let err = got.iter().zip(&x).map(|(g, w)| (g - w).abs()).fold(0.0, f64::max);
                assert!(err < 1e-12, "n = {n}: error {err:e}");
            }
        }
    }

    #[test]
    fn cholesky_solve_reports_an_indefinite_matrix_as_none() {
        let a = [1.0, 2.0, 2.0, 1.0];
        assert!(cholesky_solve(&a, 2, &[0.0, 0.0], &[1.0, 1.0]).is_none());
        assert!(cholesky_solve(&a, 2, &[1.5, 1.5], &[1.0, 1.0]).is_some(), "a shift of 1.5 makes it definite");
    }

    #[test]
    fn normal_equations_match_the_naive_products() {
        let (m, n) = (5, 3);
        let j: Vec<f64> = (0..m * n).map(|k| (k as f64 * 0.7).cos()).collect();
        let r: Vec<f64> = (0..m).map(|i| i as f64 - 2.0).collect();
        let (jtj, jtr) = normal_equations(&j, m, n, &r);
        for a in 0..n {
            let want: f64 = (0..m).map(|i| j[i * n + a] * r[i]).sum();
            assert!((jtr[a] - want).abs() < 1e-12);
            for b in 0..n {
                let want: f64 = (0..m).map(|i| j[i * n + a] * j[i * n + b]).sum();
                assert!((jtj[a * n + b] - want).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn symmetric_updates_match_the_naive_formulas() {
        let n = 4;
        let u = [1.0, -2.0, 0.5, 3.0];
        let v = [0.3, 0.0, -1.0, 2.0];
        let mut m = DenseSym::scaled_identity(n, 2.0);
        m.add_sym_rank2(0.5, &u, &v);
        m.add_rank1(-0.25, &u);
        let got = m.to_row_major();
        for i in 0..n {
            for j in 0..n {
                let eye = if i == j { 2.0 } else { 0.0 };
                let want = eye + 0.5 * (u[i] * v[j] + v[i] * u[j]) - 0.25 * u[i] * u[j];
                assert!((got[i * n + j] - want).abs() < 1e-12);
            }
        }
        let x = [1.0, 2.0, 3.0, 4.0];
        let mv = m.mul_vec(&x);
        let want = matvec(&got, n, &x);
        assert!(mv.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-12));
    }
}
