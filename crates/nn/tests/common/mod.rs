//! Helpers shared by the lecture-003 test files (each test file is its own crate and includes this module).

/// Asserts that the weights after each step, `got`, match the hand-computed `want` to 1e-12 relative.
pub fn assert_steps(got: &[Vec<f64>], want: &[[f64; 2]]) {
    assert_eq!(got.len(), want.len());
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        for i in 0..2 {
            let tol = 1e-12 * (1.0 + w[i].abs());
            assert!((g[i] - w[i]).abs() <= tol, "step {}: w{i} = {:e}, by hand {:e}", k + 1, g[i], w[i]);
        }
    }
}
