//! Tests of the GEMM entry points (`gemm.rs`): every path against the triple loop, the padded copy, fresh
//! outputs, thread-count bit-identity.
use super::THREAD_CAP_LOCK as CAP;
use super::oracle::{naive, values};
use super::*;

#[test]
fn gemm_matches_the_triple_loop_for_transposes_offsets_alpha_and_beta() {
    // Below and above the small-product threshold, both kernels.
    for (m, k, n) in [(1, 1, 1), (3, 5, 2), (4, 4, 16), (7, 1, 9), (17, 33, 9), (4, 0, 3), (300, 0, 2), (64, 48, 40)] {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            for (alpha, beta) in [(1.0, 0.0), (0.5, 2.0), (-1.0, 1.0)] {
                let (oa, ob) = (3, 5);
                let a = values(oa + m * k, 1);
                let b = values(ob + k * n, 2);
                let av = if ta { MatRef::row_major(k, m, oa, true) } else { MatRef::row_major(m, k, oa, false) };
                let bv = if tb { MatRef::row_major(n, k, ob, true) } else { MatRef::row_major(k, n, ob, false) };
                let c0 = values(2 + m * n, 3);
                let want = naive(alpha, &a, av, &b, bv, beta, &c0[2..]);
                let mut c = c0.clone();
                f64::gemm(alpha, &a, av, &b, bv, beta, &mut c, 2);
                assert_eq!(&c[..2], &c0[..2], "gemm wrote before its output offset");
                for (x, y) in c[2..].iter().zip(&want) {
                    assert!((x - y).abs() < 1e-9, "{m}x{k}x{n} ta={ta} tb={tb}: {x} vs {y}");
                }
            }
        }
    }
}

#[test]
fn a_transposed_operand_at_an_aliasing_stride_is_multiplied_through_a_padded_copy() {
    // f32 rows 1024 apart and f64 rows 512 apart (4 KiB), with enough work to take the copy.
    fn check<T: Gemm + Into<f64> + From<f32>>(k: usize) {
        let (m, n, ob) = (64, 70, 3);
        assert!(needs_padded_copy::<T>(&MatRef::row_major(n, k, ob, true), m * k * n));
        let a64 = values(m * k, 1);
        let b64 = values(ob + n * k, 2);
        let (av, bv) = (MatRef::row_major(m, k, 0, false), MatRef::row_major(n, k, ob, true));
        let want = naive(1.0, &a64, av, &b64, bv, 0.0, &vec![0.0; m * n]);
        let a: Vec<T> = a64.iter().map(|&x| T::from(x as f32)).collect();
        let b: Vec<T> = b64.iter().map(|&x| T::from(x as f32)).collect();
        let mut c = vec![T::from(0.0); m * n];
        T::gemm(T::from(1.0), &a, av, &b, bv, T::from(0.0), &mut c, 0);
        for (x, y) in c.iter().zip(&want) {
            let x: f64 = (*x).into();
            assert!((x - y).abs() < 1e-3 * (1.0 + y.abs()), "{x} vs {y}");
        }
    }
    check::<f32>(1024);
    check::<f64>(512);
    // Other strides and untransposed operands take the direct call.
    assert!(!needs_padded_copy::<f32>(&MatRef::row_major(70, 1000, 0, true), 1 << 22));
    assert!(!needs_padded_copy::<f32>(&MatRef::row_major(1024, 70, 0, false), 1 << 22));
}

#[test]
fn gemm_with_beta_zero_ignores_nan_in_the_output_buffer() {
    let a = values(6, 1);
    let b = values(6, 2);
    let mut c = vec![f64::NAN; 4];
    f64::gemm(1.0, &a, MatRef::row_major(2, 3, 0, false), &b, MatRef::row_major(3, 2, 0, false), 0.0, &mut c, 0);
    assert!(c.iter().all(|x| x.is_finite()));
}

#[test]
fn threaded_gemm_gives_the_single_threaded_answer_bit_for_bit() {
    // The crate splits the output among threads and keeps each element's sum in the same order, so the
    // answer does not depend on the thread count: w3's products (transposed, with and without the copy),
    // an odd size with both operands transposed, and a 16-row product (c2's convolution shape).
    for (m, k, n, ta, tb) in [
        (300, 200, 260, false, false),
        (256, 1024, 1024, false, true),
        (256, 784, 1024, false, true),
        (1024, 256, 784, true, false),
        (301, 97, 203, true, true),
        (16, 6400, 150, false, true),
    ] {
        assert!(m * k * n >= THREADED_MIN, "{m}x{k}x{n} would not be offered to the pool");
        let a: Vec<f32> = values(m * k, 4).into_iter().map(|x| x as f32).collect();
        let b: Vec<f32> = values(k * n, 5).into_iter().map(|x| x as f32).collect();
        let av = if ta { MatRef::row_major(k, m, 0, true) } else { MatRef::row_major(m, k, 0, false) };
        let bv = if tb { MatRef::row_major(n, k, 0, true) } else { MatRef::row_major(k, n, 0, false) };
        let _cap = CAP.lock().unwrap_or_else(|e| e.into_inner());
        let run = |threads| {
            let prev = NUM_THREADS.swap(threads, Ordering::Relaxed);
            let mut c = vec![0.0f32; m * n];
            f32::gemm(1.0, &a, av, &b, bv, 0.0, &mut c, 0);
            NUM_THREADS.store(prev, Ordering::Relaxed);
            c
        };
        assert_eq!(run(1), run(2), "{m}x{k}x{n}");
        let split = column_split(gemm::Parallelism::Rayon(2), m, &bv);
        assert_eq!(split.is_some(), m > 64 && (128..=1024).contains(&n), "{m}x{k}x{n}: column split");
    }
}

#[test]
fn fresh_products_equal_the_entry_points_bit_for_bit_and_never_read_the_buffer() {
    // Every path: tiny loops, the small path, the empty sum, the kernel on one thread, the gemv shapes
    // (one row or one column), the padded copy (a 4 KiB-strided transposed operand) and the pool, at
    // every transpose. The spare capacity holds NaN: a read of it would show in the result.
    let shapes = [
        (2, 3, 4),
        (5, 0, 3),
        (32, 64, 10),
        (7, 9, 11),
        (32, 64, 128),
        (130, 129, 128),
        (1, 300, 200),
        (200, 300, 1),
        (64, 1024, 70),
        (256, 1024, 1024),
    ];
    let _cap = CAP.lock().unwrap_or_else(|e| e.into_inner());
    for threads in [1, 2] {
        let prev = NUM_THREADS.swap(threads, Ordering::Relaxed);
        for (m, k, n) in shapes {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let av = if ta { MatRef::row_major(k, m, 1, true) } else { MatRef::row_major(m, k, 1, false) };
                let bv = if tb { MatRef::row_major(n, k, 2, true) } else { MatRef::row_major(k, n, 2, false) };
                let a: Vec<f32> = values(1 + m * k, 6).into_iter().map(|x| x as f32 * 0.3).collect();
                let b: Vec<f32> = values(2 + k * n, 7).into_iter().map(|x| x as f32 * 0.7).collect();
                let mut want = vec![0.0f32; m * n];
                f32::gemm(1.0, &a, av, &b, bv, 0.0, &mut want, 0);
                let mut out = vec![f32::NAN; m * n + 3];
                out.clear();
                f32::gemm_fresh(&a, av, &b, bv, &mut out);
                assert_eq!(out, want, "{m}x{k}x{n} ta={ta} tb={tb} threads={threads}");
                if m * k * n < 1 << 20 {
                    let (a, b): (Vec<f64>, Vec<f64>) =
                        (a.iter().map(|&x| x.into()).collect(), b.iter().map(|&x| x.into()).collect());
                    let mut want = vec![0.0f64; m * n];
                    f64::gemm(1.0, &a, av, &b, bv, 0.0, &mut want, 0);
                    let mut out = vec![f64::NAN; m * n];
                    out.clear();
                    f64::gemm_fresh(&a, av, &b, bv, &mut out);
                    assert_eq!(out, want, "f64 {m}x{k}x{n} ta={ta} tb={tb}");
                }
            }
        }
        NUM_THREADS.store(prev, Ordering::Relaxed);
    }
    assert!(needs_padded_copy::<f32>(&MatRef::row_major(70, 1024, 2, true), 64 * 1024 * 70));
    const { assert!(256 * 1024 * 1024 >= THREADED_MIN) };
}

#[test]
#[should_panic(expected = "invariant: a fresh output is an empty buffer with room for m n elements")]
fn a_fresh_output_too_small_for_the_product_is_refused() {
    let (a, b) = (values(64 * 64, 1), values(64 * 64, 2));
    let v = MatRef::row_major(64, 64, 0, false);
    f64::gemm_fresh(&a, v, &b, v, &mut Vec::with_capacity(64 * 63));
}

#[test]
fn the_serial_entry_point_gives_the_capped_answer_through_the_padded_copy_too() {
    // 64 x 1024 x 70 with the right operand transposed at a 4 KiB stride: both take the padded copy.
    let (m, k, n) = (64, 1024, 70);
    let a: Vec<f32> = values(m * k, 6).into_iter().map(|x| x as f32).collect();
    let b: Vec<f32> = values(n * k, 7).into_iter().map(|x| x as f32).collect();
    let (av, bv) = (MatRef::row_major(m, k, 0, false), MatRef::row_major(n, k, 0, true));
    assert!(needs_padded_copy::<f32>(&bv, m * k * n));
    let _cap = CAP.lock().unwrap_or_else(|e| e.into_inner());
    let prev = NUM_THREADS.swap(1, Ordering::Relaxed);
    let mut capped = vec![0.0f32; m * n];
    f32::gemm(1.0, &a, av, &b, bv, 0.0, &mut capped, 0);
    NUM_THREADS.store(prev, Ordering::Relaxed);
    let mut serial = vec![f32::NAN; m * n];
    f32::gemm_serial(1.0, &a, av, &b, bv, 0.0, &mut serial, 0);
    assert_eq!(capped, serial);
}

#[test]
fn thread_cap_is_at_least_one() {
    let _cap = CAP.lock().unwrap_or_else(|e| e.into_inner());
    let prev = NUM_THREADS.load(Ordering::Relaxed);
    set_num_threads(0);
    assert_eq!(num_threads(), 1);
    NUM_THREADS.store(prev, Ordering::Relaxed);
}

/// `a b` plus `bias` in every row, by the triple loop in f64.
fn naive_linear(a: &[f64], av: MatRef, b: &[f64], bv: MatRef, bias: Option<&[f64]>) -> Vec<f64> {
    let mut want = naive(1.0, a, av, b, bv, 0.0, &vec![0.0; av.rows * bv.cols]);
    if let Some(bias) = bias {
        for row in want.chunks_mut(bv.cols) {
            row.iter_mut().zip(bias).for_each(|(x, b)| *x += b);
        }
    }
    want
}

#[test]
fn linear_products_equal_the_triple_loop_plus_bias_on_both_paths() {
    // Column-major with the transpose: rows a multiple of 8 and not (the last rows one by one), columns
    // odd; row-major: too small, too few columns, or `b` not transposed. Offsets in both operands, threads
    // 1 to 3 (split by columns from 2), NaN in the output's spare capacity (a read of it would show).
    let _cap = CAP.lock().unwrap_or_else(|e| e.into_inner());
    for threads in [1, 2, 3] {
        let prev = NUM_THREADS.swap(threads, Ordering::Relaxed);
        for (m, k, n, tb, column_major) in [
            (128, 512, 512, true, true),
            (131, 520, 515, true, true),
            (383, 513, 600, true, true),
            (7, 9, 11, true, false),
            (64, 1024, 70, true, false),
            (130, 129, 128, true, false),
            (385, 512, 512, true, false),
            (128, 512, 1025, true, false),
            (131, 520, 515, false, false),
        ] {
            let av = MatRef::row_major(m, k, 1, false);
            let bv = if tb { MatRef::row_major(n, k, 2, true) } else { MatRef::row_major(k, n, 2, false) };
            assert_eq!(linear::takes_column_major(m, k, n, &bv), column_major, "{m}x{k}x{n}");
            // A threaded column-major product is always split in two (it never runs on one thread only).
            assert!(!column_major || column_split(gemm::Parallelism::Rayon(2), m, &bv).is_some(), "{m}x{k}x{n}");
            let (a, b, bias) = (values(1 + m * k, 8), values(2 + k * n, 9), values(n, 10));
            for bias in [None, Some(&bias[..])] {
                let want = naive_linear(&a, av, &b, bv, bias);
                let mut out = vec![f64::NAN; m * n + 5];
                out.clear();
                f64::linear_fresh(&a, av, &b, bv, bias, &mut out);
                assert_eq!(out.len(), m * n);
                for (x, y) in out.iter().zip(&want) {
                    assert!(
                        (x - y).abs() < 1e-9 * (1.0 + y.abs()),
                        "{m}x{k}x{n} tb={tb} threads={threads}: {x} vs {y}"
                    );
                }
            }
        }
        NUM_THREADS.store(prev, Ordering::Relaxed);
    }
}

#[test]
fn linear_products_give_the_single_threaded_answer_bit_for_bit() {
    // w3's forward shapes (column-major, split by columns at 2 and 3 threads) and one row-major shape.
    let _cap = CAP.lock().unwrap_or_else(|e| e.into_inner());
    for (m, k, n) in [(256, 784, 1024), (256, 1024, 1024), (200, 300, 130)] {
        let (av, bv) = (MatRef::row_major(m, k, 0, false), MatRef::row_major(n, k, 0, true));
        assert_eq!(linear::takes_column_major(m, k, n, &bv), n >= 512, "{m}x{k}x{n}");
        let a: Vec<f32> = values(m * k, 11).into_iter().map(|x| x as f32).collect();
        let b: Vec<f32> = values(k * n, 12).into_iter().map(|x| x as f32 * 0.1).collect();
        let bias: Vec<f32> = values(n, 13).into_iter().map(|x| x as f32).collect();
        for bias in [None, Some(&bias[..])] {
            let run = |threads| {
                let prev = NUM_THREADS.swap(threads, Ordering::Relaxed);
                let mut out = Vec::with_capacity(m * n);
                f32::linear_fresh(&a, av, &b, bv, bias, &mut out);
                NUM_THREADS.store(prev, Ordering::Relaxed);
                out
            };
            let one = run(1);
            assert_eq!(one, run(2), "{m}x{k}x{n}");
            assert_eq!(one, run(3), "{m}x{k}x{n}");
        }
    }
}
