//! Tests of the window kernels: `unfold` against its definition, `fold` as its adjoint (and its staged path
//! against the clipped loops), the short copies, and the argmax of max pooling.

use super::*;

/// im2col by definition, one element at a time.
fn unfold_oracle(x: &[f64], d: &WindowDims, win: &Window2d) -> Vec<f64> {
    let mut out = Vec::new();
    for p in 0..d.n * d.c {
        for ki in 0..win.kh {
            for kj in 0..win.kw {
                for oy in 0..d.oh {
                    for ox in 0..d.ow {
                        let iy = (oy * win.sh + ki) as isize - win.top as isize;
                        let ix = (ox * win.sw + kj) as isize - win.left as isize;
                        let inside = iy >= 0 && ix >= 0 && (iy as usize) < d.h && (ix as usize) < d.w;
                        out.push(if inside { x[p * d.h * d.w + iy as usize * d.w + ix as usize] } else { 0.0 });
                    }
                }
            }
        }
    }
    out
}

#[test]
fn unfold_matches_its_definition_and_fold_is_its_adjoint_for_all_small_windows() {
    let mut checked = 0;
    for (h, w) in [(1, 1), (3, 4), (5, 2), (4, 6), (2, 19), (3, 37)] {
        for (kh, kw) in [(1, 1), (2, 3), (3, 2), (4, 4)] {
            for (sh, sw) in [(1, 1), (2, 1), (1, 3), (3, 2)] {
                for pad in [(0, 0, 0, 0), (1, 1, 1, 1), (0, 2, 1, 0), (3, 1, 0, 2)] {
                    let win = Window2d { kh, kw, sh, sw, top: pad.0, bottom: pad.1, left: pad.2, right: pad.3 };
                    let Ok(d) = win.check("t", &Shape::new(&[2, 2, h, w])) else { continue };
                    let x: Vec<f64> = (0..2 * 2 * h * w).map(|i| (i as f64 * 0.37).sin()).collect();
                    let cols = unfold(&x, &d, &win).unwrap();
                    assert_eq!(cols, unfold_oracle(&x, &d, &win), "{win:?} on {h}x{w}");
                    // A reused buffer holding anything (here NaN) is overwritten everywhere.
                    let mut reused = vec![f64::NAN; cols.len()];
                    unfold_into(&x, &d, &win, &mut reused);
                    assert_eq!(reused, cols, "{win:?} on {h}x{w}");
                    // <unfold(x), y> = <x, fold(y)>
                    let y: Vec<f64> = (0..cols.len()).map(|i| (i as f64 * 0.71).cos()).collect();
                    let lhs: f64 = cols.iter().zip(&y).map(|(a, b)| a * b).sum();
                    let rhs: f64 = x.iter().zip(fold(&y, &d, &win).unwrap()).map(|(a, b)| a * b).sum();
                    assert!((lhs - rhs).abs() < 1e-12, "{win:?}");
                    // fold_into adds to what its buffer holds.
                    let mut acc = x.clone();
                    fold_into(&y, &d, &win, &mut acc);
                    for ((a, xv), f) in acc.iter().zip(&x).zip(fold(&y, &d, &win).unwrap()) {
                        assert!((a - xv - f).abs() < 1e-12, "{win:?}");
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 100);
}

#[test]
fn staged_fold_is_bit_identical_to_the_clipped_loops() {
    let mut staged = 0;
    for (c, h, w) in [(1, 8, 8), (16, 4, 4), (3, 5, 7), (40, 3, 2), (2, 30, 6)] {
        for (kh, kw) in [(1, 1), (3, 3), (2, 3), (5, 5)] {
            for pad in [(0, 0, 0, 0), (1, 1, 1, 1), (2, 0, 1, 3)] {
                let win = Window2d { kh, kw, sh: 1, sw: 1, top: pad.0, bottom: pad.1, left: pad.2, right: pad.3 };
                let Ok(d) = win.check("t", &Shape::new(&[1, c, h, w])) else { continue };
                let (rows, l) = (c * kh * kw, d.oh * d.ow);
                // Two images side by side (row stride 2 l), this one second; values of mixed sign and scale.
                let rs = 2 * l;
                let cols: Vec<f32> = (0..rows * rs).map(|i| ((i * 7919 % 1000) as f32 - 500.0) * 1e-3).collect();
                let (mut got, mut want) = (vec![0.0f32; c * h * w], vec![0.0f32; c * h * w]);
                let applied = fold_image_staged(&cols[l..], rs, &d, &win, &mut got);
                fold_image_clipped(&cols[l..], rs, &d, &win, &mut want);
                if applied {
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&got), bits(&want), "{win:?} on {c}x{h}x{w}");
                    staged += 1;
                }
                let mut via = vec![0.0f32; c * h * w];
                fold_image(&cols[l..], rs, &d, &win, &mut via);
                assert_eq!(via, want, "{win:?} on {c}x{h}x{w}");
            }
        }
    }
    assert!(staged >= 20, "{staged}");
}

#[test]
fn short_copies_and_fills_write_exactly_their_range() {
    for n in 0..70 {
        let src: Vec<f32> = (0..n).map(|i| i as f32 + 1.0).collect();
        let mut dst = vec![-1.0f32; n + 2];
        copy_short(&mut dst[1..n + 1], &src);
        assert_eq!(dst[1..n + 1], src[..], "copy of {n}");
        assert_eq!((dst[0], dst[n + 1]), (-1.0, -1.0), "copy of {n} stays inside");
        fill_short(&mut dst[1..n + 1], 7.0);
        assert!(dst[1..n + 1].iter().all(|&v| v == 7.0), "fill of {n}");
        assert_eq!((dst[0], dst[n + 1]), (-1.0, -1.0), "fill of {n} stays inside");
    }
}

#[test]
fn argmax_prefers_nan_and_ignores_padding() {
    let win = Window2d { kh: 2, kw: 2, sh: 2, sw: 2, top: 1, bottom: 1, left: 1, right: 1 };
    let d = win.check("t", &Shape::new(&[1, 1, 2, 2])).unwrap();
    assert_eq!((d.oh, d.ow), (2, 2));
    // Every window holds one element; negative values still beat the (minus infinity) padding.
    assert_eq!(window_argmax(&[-1.0, -2.0, -3.0, -4.0], &d, &win).unwrap(), vec![0, 1, 2, 3]);
    let win = Window2d { kh: 2, kw: 2, sh: 1, sw: 1, top: 0, bottom: 0, left: 0, right: 0 };
    let d = win.check("t", &Shape::new(&[1, 1, 2, 2])).unwrap();
    assert_eq!(window_argmax(&[1.0, f64::NAN, 3.0, f64::NAN], &d, &win).unwrap(), vec![1]);
    assert_eq!(window_argmax(&[1.0, 3.0, 3.0, 2.0], &d, &win).unwrap(), vec![1]);
}

#[test]
fn argmax_matches_the_first_maximum_or_first_nan_by_definition() {
    let cases = [(2, 2, 2, 2, 0), (3, 3, 1, 1, 1), (2, 3, 1, 2, 1), (3, 2, 2, 1, 0), (2, 2, 1, 1, 0), (2, 2, 3, 2, 0)];
    for (kh, kw, sh, sw, pad) in cases {
        let win = Window2d { kh, kw, sh, sw, top: pad, bottom: pad, left: pad, right: pad };
        let d = win.check("t", &Shape::new(&[2, 3, 5, 6])).unwrap();
        // Few distinct values (many ties), negatives (below the padding's zero), NaN in some planes only.
        let x: Vec<f64> = (0..180usize)
            .map(|i| if (i * 7919) % 23 == 0 && i >= 60 { f64::NAN } else { ((i * 37) % 5) as f64 - 3.0 })
            .collect();
        let mut want = Vec::new();
        for p in 0..6 {
            for oy in 0..d.oh {
                for ox in 0..d.ow {
                    let window = (0..kh).flat_map(|ki| (0..kw).map(move |kj| (ki, kj))).filter_map(|(ki, kj)| {
                        let iy = (oy * sh + ki).checked_sub(pad).filter(|&v| v < 5)?;
                        let ix = (ox * sw + kj).checked_sub(pad).filter(|&v| v < 6)?;
                        Some(p * 30 + iy * 6 + ix)
                    });
                    let idx: Vec<usize> = window.collect();
                    let first_nan = idx.iter().copied().find(|&i| x[i].is_nan());
                    let max = idx.iter().map(|&i| x[i]).fold(f64::NEG_INFINITY, f64::max);
                    want.push(first_nan.unwrap_or_else(|| idx.iter().copied().find(|&i| x[i] == max).unwrap()));
                }
            }
        }
        assert_eq!(window_argmax(&x, &d, &win).unwrap(), want, "{win:?}");
        let (idx, vals) = window_max_and_argmax(&x, &d, &win).unwrap();
        assert_eq!(idx, want, "{win:?}");
        let same = |a: f64, b: f64| a == b || (a.is_nan() && b.is_nan());
        assert!(vals.iter().zip(&want).all(|(&v, &i)| same(v, x[i])), "{win:?}");
    }
}

#[test]
fn results_written_into_recycled_buffers_never_keep_what_those_held() {
    use crate::kernels::conv::winograd::{Policy, set_policy};
    // Sizes whose outputs are pooled (64 KiB and more): LeNet-like chunks of several images, one image per
    // chunk with and without bias, and a Winograd problem with a ragged last tile row and column.
    let cases = [
        ([5, 1, 28, 28], 6, (5, 5), Padding::Same, Policy::Auto),
        ([4, 8, 61, 45], 4, (3, 3), Padding::Valid, Policy::Never),
        ([4, 8, 61, 45], 4, (3, 3), Padding::Same, Policy::Always),
    ];
    for (shape, o, kernel, padding, policy) in cases {
        set_policy(policy);
        let win = Window2d::new(kernel, (1, 1), padding);
        let d = win.check("t", &crate::shape::Shape::new(&shape)).unwrap();
        let x: Vec<f32> = (0..d.n * d.c * d.h * d.w).map(|i| ((i * 37) % 23) as f32 / 7.0 - 1.5).collect();
        let w: Vec<f32> = (0..o * d.c * win.kh * win.kw).map(|i| ((i * 11) % 13) as f32 / 5.0 - 1.0).collect();
        let b: Vec<f32> = (0..o).map(|i| i as f32 - 0.5).collect();
        let pool = Window2d::new((2, 2), (2, 2), Padding::Valid);
        let pd = pool.check("t", &crate::shape::Shape::new(&shape)).unwrap();
        let run = || {
            (
                lowered::conv2d(&x, &w, Some(&b), &d, &win, o).unwrap(),
                lowered::conv2d(&x, &w, None, &d, &win, o).unwrap(),
                window_max_and_argmax(&x, &pd, &pool).unwrap(),
            )
        };
        let clean = run();
        // Leave buffers of exactly those sizes, full of NaN (and of a huge index), in this thread's pool.
        for _ in 0..4 {
            crate::tensor_pool::give(vec![f32::NAN; clean.0.len()]);
            crate::tensor_pool::give(vec![f32::NAN; clean.2.1.len()]);
            crate::tensor_pool::give(vec![usize::MAX; clean.2.0.len()]);
        }
        let dirty = run();
        assert!(clean.0.iter().all(|v| v.is_finite()), "{shape:?}");
        assert!(clean.0 == dirty.0, "{shape:?} with bias");
        assert!(clean.1 == dirty.1, "{shape:?} without bias");
        assert!(clean.2 == dirty.2, "{shape:?} max pooling");
    }
    set_policy(Policy::Auto);
}
