//! The direct path against the definition of the convolution (in f64) for one and two vectors per row and
//! every channel block, with an infinite input where only masked lanes read it, and across thread counts.

use super::*;
use crate::kernels::conv::Padding;
use crate::kernels::conv::lowered::PARALLEL_MIN;
use crate::kernels::conv::winograd::GROUPS;
use crate::shape::Shape;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// `y` and `dw` by definition, in f64: `y[i, o, r, c] = b[o] + sum x[i, r + ki - top, c + kj - left]
/// w[o, ki, kj]` (zero outside the image), `dw[o, ki, kj] = sum over i, r, c of g[i, o, r, c] x[...]`.
fn oracle(
    x: &[f32],
    w: &[f32],
    b: &[f32],
    g: &[f32],
    d: &WindowDims,
    win: &Window2d,
    o: usize,
) -> (Vec<f64>, Vec<f64>) {
    let (k, l) = (win.kh * win.kw, d.oh * d.ow);
    let mut y = vec![0.0; d.n * o * l];
    let mut dw = vec![0.0; o * k];
    for i in 0..d.n {
        for oo in 0..o {
            for r in 0..d.oh {
                for c in 0..d.ow {
                    let mut acc = b[oo] as f64;
                    for ki in 0..win.kh {
                        for kj in 0..win.kw {
                            let (iy, ix) =
                                ((r + ki) as isize - win.top as isize, (c + kj) as isize - win.left as isize);
                            if iy < 0 || ix < 0 || iy as usize >= d.h || ix as usize >= d.w {
                                continue;
                            }
                            let xv = x[i * d.h * d.w + iy as usize * d.w + ix as usize] as f64;
                            acc += xv * w[oo * k + ki * win.kw + kj] as f64;
                            dw[oo * k + ki * win.kw + kj] += g[((i * o + oo) * d.oh + r) * d.ow + c] as f64 * xv;
                        }
                    }
                    y[((i * o + oo) * d.oh + r) * d.ow + c] = acc;
                }
            }
        }
    }
    (y, dw)
}

/// A problem the direct path takes: one channel, stride 1, rows of 9 to 32 outputs.
fn random_problem(rng: &mut StdRng) -> (WindowDims, Window2d, usize) {
    loop {
        let (n, o) = (rng.random_range(1..=3), rng.random_range(1..=9));
        let (kh, kw) = (rng.random_range(1..=5), rng.random_range(1..=5));
        let (h, w) = (rng.random_range(1..=20), rng.random_range(5..=34));
        let padding = match rng.random_range(0..4) {
            0 => Padding::Valid,
            1 => Padding::Same,
            2 => Padding::Full,
            _ => Padding::Explicit {
                top: rng.random_range(0..=2),
                bottom: rng.random_range(0..=2),
                left: rng.random_range(0..=2),
                right: rng.random_range(0..=2),
            },
        };
        let win = Window2d::new((kh, kw), (1, 1), padding);
        if let Ok(d) = win.check("t", &Shape::new(&[n, 1, h, w]))
            && applies::<f32>(&d, &win)
        {
            return (d, win, o);
        }
    }
}

#[test]
fn direct_convolution_matches_the_definition_for_one_and_two_vectors_per_row() {
    if !avx512() {
        return; // the path is never taken without AVX-512
    }
    let mut rng = StdRng::seed_from_u64(11);
    let mut vectors_seen = [false; 2];
    for _ in 0..300 {
        let (d, win, o) = random_problem(&mut rng);
        vectors_seen[usize::from(d.ow > 16)] = true;
        let v = |rng: &mut StdRng, n: usize| (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect::<Vec<f32>>();
        let (x, w, b) = (v(&mut rng, d.n * d.h * d.w), v(&mut rng, o * win.kh * win.kw), v(&mut rng, o));
        let g = v(&mut rng, d.n * o * d.oh * d.ow);
        let (want_y, want_dw) = oracle(&x, &w, &b, &g, &d, &win, o);
        let y = conv2d(&x, &w, Some(&b), &d, &win, o).unwrap();
        let y0 = conv2d(&x, &w, None, &d, &win, o).unwrap();
        let dw = conv_weight_grad(&x, &g, &d, &win, o).unwrap();
        let terms = (d.n * d.oh * d.ow).max(win.kh * win.kw) as f64;
        for (name, got, want) in [("y", &y, &want_y), ("dw", &dw, &want_dw)] {
            assert_eq!(got.len(), want.len(), "{name} {d:?} {win:?}");
            let worst = got.iter().zip(want).map(|(&a, &b)| (a as f64 - b).abs()).fold(0.0, f64::max);
            assert!(worst < 4.0 * f32::EPSILON as f64 * terms, "{name} {d:?} {win:?} o {o}: {worst}");
        }
        let biased = y0.iter().enumerate().all(|(i, &v)| y[i] == v + b[i / (d.oh * d.ow) % o]);
        assert!(biased, "the bias is added to the sum: {d:?} {win:?}");
    }
    assert_eq!(vectors_seen, [true; 2], "rows of one and of two vectors");
}

#[test]
fn an_infinite_input_read_only_by_masked_lanes_leaves_the_weight_gradient_finite() {
    if !avx512() {
        return;
    }
    // 1 x 1 x 3 x 12 image, 1x3 kernel, valid: rows of 10 outputs, one vector. Kernel column 0 reads columns
    // 0..10; its lanes past the row would read columns 10 and 11, so an infinity at column 11 of the last row
    // reaches kernel column 0 only through masked lanes: dw[.., 0] stays finite, as by definition.
    let win = Window2d::new((1, 3), (1, 1), Padding::Valid);
    let d = win.check("t", &Shape::new(&[1, 1, 3, 12])).unwrap();
    let mut x = vec![0.5f32; 36];
    x[35] = f32::INFINITY;
    let g = vec![1.0f32; 2 * d.oh * d.ow];
    let dw = conv_weight_grad(&x, &g, &d, &win, 2).unwrap();
    let (_, want) = oracle(&x, &[0.0; 6], &[0.0; 2], &g, &d, &win, 2);
    for (&a, &b) in dw.iter().zip(&want) {
        assert!(a as f64 == b || (a.is_nan() && b.is_nan()), "{dw:?} against {want:?}");
    }
    assert!(dw[0].is_finite() && dw[2].is_infinite());
}

#[test]
fn the_cut_into_groups_gives_the_same_bits_on_any_thread_count() {
    if !avx512() {
        return;
    }
    let win = Window2d::new((5, 5), (1, 1), Padding::Same);
    let d = win.check("t", &Shape::new(&[64, 1, 28, 28])).unwrap();
    let x: Vec<f32> = (0..d.n * 784).map(|i| ((i * 37) % 23) as f32 / 7.0 - 1.5).collect();
    let w: Vec<f32> = (0..6 * 25).map(|i| ((i * 11) % 13) as f32 / 5.0 - 1.0).collect();
    let g: Vec<f32> = (0..d.n * 6 * 784).map(|i| ((i * 7) % 17) as f32 / 9.0 - 0.8).collect();
    let at = |t: usize| {
        let y = conv2d_planned(&x, &w, None, &d, &win, 6, (GROUPS, t)).unwrap();
        (y, weight_grad_planned(&x, &g, &d, &win, 6, (GROUPS, t)).unwrap())
    };
    assert_eq!(plan(d.n, PARALLEL_MIN).0, GROUPS);
    assert!(at(1) == at(2) && at(1) == at(3));
}

#[test]
fn only_single_channel_f32_at_stride_1_with_rows_of_9_to_32_takes_the_path() {
    let dims = |c: usize, hw: usize, win: &Window2d| win.check("t", &Shape::new(&[2, c, hw, hw])).unwrap();
    let same5 = Window2d::new((5, 5), (1, 1), Padding::Same);
    assert_eq!(applies::<f32>(&dims(1, 28, &same5), &same5), avx512());
    assert!(!applies::<f64>(&dims(1, 28, &same5), &same5), "f64 is lowered");
    assert!(!applies::<f32>(&dims(2, 28, &same5), &same5), "two channels are lowered");
    assert!(!applies::<f32>(&dims(1, 8, &same5), &same5), "rows of 8 are lowered");
    assert!(!applies::<f32>(&dims(1, 40, &same5), &same5), "rows of 40 are lowered");
    let strided = Window2d::new((5, 5), (2, 2), Padding::Same);
    assert!(!applies::<f32>(&dims(1, 28, &strided), &strided));
}
