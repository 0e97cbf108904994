//! Small products with one short dimension (an MLP's last layer: `32 x 64 x 10` and its transposes) through
//! `nano-gemm`, the small-matrix kernels of the `gemm` crate's author: generated register-blocked kernels
//! for every remainder, chosen once per call, with no packing buffer to allocate or fill. The `gemm` crate
//! packs an operand for these shapes (a 10-row panel padded to its 64-row kernel) and takes twice as long
//! (`docs/performance.md`, "Second order (h1), third round").
//!
//! The answer is the same bit for bit as the `gemm` crate's at every shape measured (both sum each element
//! along `k` in order with fused multiply-adds); the tests check it against the triple loop for every shape
//! up to 6 and the transposes, in f32 and f64.

use super::gemm::MatRef;

/// Products whose largest dimension is at most this take the small path (when their smallest is short).
const MAX_DIM: usize = 256;

/// ... and whose smallest dimension is at most this: the shapes where `nano-gemm` measured faster than the
/// `gemm` crate (h1's `k = 10` and `n = 10` products: 0.85 against 1.1-1.8 us; with every dimension 32 or
/// more the two were even, so those stay on the `gemm` crate).
const MAX_SHORT: usize = 16;

/// Element types with a `nano-gemm` kernel.
pub(crate) trait Small: Copy + 'static {
    /// The kernel plan for the column-major product `dst (m x n) = alpha dst + beta lhs (m x k) rhs (k x n)`;
    /// `col_major` when the left operand's columns and `dst`'s are contiguous (the direct kernel; otherwise
    /// the plan copies the left operand into a column-major block first).
    fn plan(m: usize, n: usize, k: usize, col_major: bool) -> nano_gemm::Plan<Self>;
}

impl Small for f32 {
    fn plan(m: usize, n: usize, k: usize, col_major: bool) -> nano_gemm::Plan<f32> {
        if col_major {
            nano_gemm::Plan::new_colmajor_lhs_and_dst_f32(m, n, k)
        } else {
            nano_gemm::Plan::new_f32(m, n, k)
        }
    }
}

impl Small for f64 {
    fn plan(m: usize, n: usize, k: usize, col_major: bool) -> nano_gemm::Plan<f64> {
        if col_major {
            nano_gemm::Plan::new_colmajor_lhs_and_dst_f64(m, n, k)
        } else {
            nano_gemm::Plan::new_f64(m, n, k)
        }
    }
}

/// Whether an `m x k x n` product takes [`small_product`].
pub(crate) fn takes_small(m: usize, k: usize, n: usize) -> bool {
    m.max(k).max(n) <= MAX_DIM && m.min(k).min(n) <= MAX_SHORT
}

/// `c = alpha a b + beta c` (the contract of [`super::gemm::Gemm::gemm`]: with `beta` zero `c` is only
/// written) for a product that [`takes_small`].
///
/// # Panics
/// When a view reaches outside its slice or the inner dimensions differ (a broken engine invariant, as for
/// the general entry point).
#[allow(clippy::too_many_arguments)]
pub(crate) fn small_product<T: Small>(
    alpha: T,
    a: &[T],
    av: MatRef,
    b: &[T],
    bv: MatRef,
    beta: T,
    c: &mut [T],
    c_off: usize,
) {
    let (m, k, n) = super::gemm::checked_dims(a, av, b, bv);
    assert!(m <= MAX_DIM && k <= MAX_DIM && n <= MAX_DIM, "invariant: small product");
    let end = c_off.checked_add(m * n);
    assert!(end.is_some_and(|e| e <= c.len()), "invariant: gemm output inside its slice");
    // `nano-gemm` multiplies column-major: the row-major `c` is the column-major `c^T = b^T a^T` (n x m),
    // whose left operand `b^T` has `b`'s column stride as its row stride.
    let plan = T::plan(n, m, k, bv.cs == 1);
    // SAFETY: the kernel reads `b^T` at `bv.offset + j cs + l rs` for j < n, l < k and `a^T` at
    // `av.offset + l cs + i rs` for l < k, i < m: the elements of the views `bv` and `av`, which `checked_dims`
    // above place inside `b` and `a` (checked arithmetic in `MatRef::fits`, which also keeps every stride
    // within `isize`, so the casts keep their values). It writes `c` at `c_off + j + i n` for j < n, i < m,
    // below `c_off + m n <= c.len()` (checked); `m`, `n`, `k` are at most 256, so `n` as `isize` and every
    // product of indices and strides stays small or within the views' checked bounds. `c` is borrowed
    // mutably and `a`, `b` shared, so nothing aliases the output. `dst = alpha_dst dst + beta_prod lhs rhs`
    // with `alpha_dst` our `beta`: when it is zero the generated kernels store without loading `dst`
    // (`nano-gemm-codegen`, the `alpha == 0` branch). The plan was made for exactly these `m n k` and, when
    // `col_major`, for unit row strides of `dst` (1 here) and of `lhs` (`bv.cs == 1`).
    unsafe {
        plan.execute_unchecked(
            n,
            m,
            k,
            c.as_mut_ptr().add(c_off),
            1,
            n as isize,
            b.as_ptr().add(bv.offset),
            bv.cs as isize,
            bv.rs as isize,
            a.as_ptr().add(av.offset),
            av.cs as isize,
            av.rs as isize,
            beta,
            alpha,
            false,
            false,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::gemm::Gemm;
    use crate::kernels::gemm::oracle::{naive, values};

    fn views(m: usize, k: usize, n: usize, ta: bool, tb: bool, oa: usize, ob: usize) -> (MatRef, MatRef) {
        let av = if ta { MatRef::row_major(k, m, oa, true) } else { MatRef::row_major(m, k, oa, false) };
        let bv = if tb { MatRef::row_major(n, k, ob, true) } else { MatRef::row_major(k, n, ob, false) };
        (av, bv)
    }

    /// The small path against the triple loop for one shape, layout and scaling, in `T`.
    #[allow(clippy::too_many_arguments)]
    fn check<T: Small + num_traits::Float + Into<f64>>(
        m: usize,
        k: usize,
        n: usize,
        ta: bool,
        tb: bool,
        alpha: f64,
        beta: f64,
        tol: f64,
    ) {
        let (oa, ob, oc) = (3, 5, 2);
        let (av, bv) = views(m, k, n, ta, tb, oa, ob);
        let (a64, b64, c64) = (values(oa + m * k, 1), values(ob + k * n, 2), values(oc + m * n, 3));
        let cast = |v: &[f64]| v.iter().map(|&x| T::from(x).unwrap()).collect::<Vec<T>>();
        let (a, b) = (cast(&a64), cast(&b64));
        let mut c = cast(&c64);
        if beta == 0.0 {
            c[oc..].fill(T::nan()); // beta = 0 never reads the output
        }
        let want = naive(alpha, &a64, av, &b64, bv, beta, &c64[oc..]);
        let before = c[..oc].to_vec();
        small_product(T::from(alpha).unwrap(), &a, av, &b, bv, T::from(beta).unwrap(), &mut c, oc);
        assert!(c[..oc] == before[..], "wrote before the output offset");
        for (x, y) in c[oc..].iter().zip(&want) {
            let x: f64 = (*x).into();
            assert!(
                (x - y).abs() <= tol * (1.0 + y.abs()),
                "{m}x{k}x{n} ta={ta} tb={tb} a={alpha} b={beta}: {x} vs {y}"
            );
        }
    }

    #[test]
    fn small_products_match_the_triple_loop_for_every_small_shape_and_transpose() {
        for m in 0..=6 {
            for k in 0..=6 {
                for n in 0..=6 {
                    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                        for (alpha, beta) in [(1.0, 0.0), (0.5, 2.0), (-1.0, 1.0)] {
                            check::<f64>(m, k, n, ta, tb, alpha, beta, 1e-12);
                            check::<f32>(m, k, n, ta, tb, alpha, beta, 1e-5);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn small_products_match_the_triple_loop_at_the_mlp_shapes_and_remainders() {
        // h1's and w1's short products, odd sizes around the kernels' register blocks, the largest accepted.
        for (m, k, n) in [(32, 64, 10), (32, 10, 64), (64, 32, 10), (17, 33, 9), (3, 129, 5), (40, 7, 70), (256, 16, 3)]
        {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                for (alpha, beta) in [(1.0, 0.0), (0.5, 2.0)] {
                    check::<f64>(m, k, n, ta, tb, alpha, beta, 1e-12);
                    check::<f32>(m, k, n, ta, tb, alpha, beta, 1e-5);
                }
            }
        }
    }

    #[test]
    fn the_small_path_gives_the_gemm_crates_answer_bit_for_bit_at_the_h1_shapes() {
        // The entry point sends these shapes here; the `gemm` crate's kernel (called directly) sums in the
        // same order, so the switch changed no result.
        for (m, k, n, ta, tb) in [(32, 64, 10, false, false), (32, 10, 64, false, true), (64, 32, 10, true, false)] {
            assert!(takes_small(m, k, n));
            let (av, bv) = views(m, k, n, ta, tb, 0, 0);
            let a: Vec<f32> = values(m * k, 4).into_iter().map(|x| x as f32 * 0.37).collect();
            let b: Vec<f32> = values(k * n, 5).into_iter().map(|x| x as f32 * 1.13).collect();
            let mut small = vec![0.0f32; m * n];
            small_product(1.0, &a, av, &b, bv, 0.0, &mut small, 0);
            let mut general = vec![0.0f32; m * n];
            crate::kernels::gemm::general_for_tests(1.0, &a, av, &b, bv, 0.0, &mut general, 0);
            assert_eq!(small, general, "{m}x{k}x{n}");
            let mut entry = vec![f32::NAN; m * n];
            f32::gemm(1.0, &a, av, &b, bv, 0.0, &mut entry, 0);
            assert_eq!(small, entry);
        }
    }

    #[test]
    fn only_short_products_within_the_size_limit_take_the_small_path() {
        assert!(takes_small(32, 64, 10) && takes_small(16, 256, 256));
        assert!(!takes_small(32, 64, 128) && !takes_small(17, 17, 17) && !takes_small(8, 257, 8));
    }
}
