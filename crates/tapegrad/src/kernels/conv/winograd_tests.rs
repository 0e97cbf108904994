use super::*;
use crate::Tape;
use crate::kernels::conv::Padding;
use crate::ops::testing::{check_both, random_tensor};
use crate::shape::Shape;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// A 3x3, stride-1 problem: `[n, c, h, w]`, `o`, the window; `h` or `w` may be smaller than a tile.
fn problem(rng: &mut StdRng, max_c: usize, max_hw: usize) -> (WindowDims, Window2d, usize) {
    loop {
        let (n, c, o) = (rng.random_range(1..=3), rng.random_range(1..=max_c), rng.random_range(1..=max_c));
        let (h, w) = (rng.random_range(1..=max_hw), rng.random_range(1..=max_hw));
        let padding = match rng.random_range(0..5) {
            0 => Padding::Valid,
            1 => Padding::Same,
            2 => Padding::Full,
            3 => Padding::symmetric(rng.random_range(0..=3), rng.random_range(0..=3)),
            _ => Padding::Explicit {
                top: rng.random_range(0..=3),
                bottom: rng.random_range(0..=3),
                left: rng.random_range(0..=3),
                right: rng.random_range(0..=3),
            },
        };
        let win = Window2d::new((3, 3), (1, 1), padding);
        if let Ok(d) = win.check("t", &Shape::new(&[n, c, h, w])) {
            return (d, win, o);
        }
    }
}

fn values(rng: &mut StdRng, len: usize) -> Vec<f64> {
    (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
}

/// The three convolution kernels by definition, in f64: `y` (with bias), `dx` and `dw`, and for each the
/// sum of the magnitudes of its terms (the scale of its rounding error).
#[allow(clippy::type_complexity, clippy::needless_range_loop)]
fn direct(
    x: &[f64],
    w: &[f64],
    b: &[f64],
    g: &[f64],
    d: &WindowDims,
    win: &Window2d,
    o: usize,
) -> [(Vec<f64>, Vec<f64>); 3] {
    let WindowDims { n, c, h, w: wd, oh, ow } = *d;
    let (mut y, mut ys) = (vec![0.0; n * o * oh * ow], vec![0.0; n * o * oh * ow]);
    let (mut dx, mut dxs) = (vec![0.0; n * c * h * wd], vec![0.0; n * c * h * wd]);
    let (mut dw, mut dws) = (vec![0.0; o * c * 9], vec![0.0; o * c * 9]);
    for ni in 0..n {
        for oi in 0..o {
            for oy in 0..oh {
                for ox in 0..ow {
                    let yi = ((ni * o + oi) * oh + oy) * ow + ox;
                    y[yi] = b[oi];
                    ys[yi] = b[oi].abs();
                    for ci in 0..c {
                        for ki in 0..3 {
                            for kj in 0..3 {
                                let iy = (oy + ki) as isize - win.top as isize;
                                let ix = (ox + kj) as isize - win.left as isize;
                                if iy < 0 || ix < 0 || iy as usize >= h || ix as usize >= wd {
                                    continue;
                                }
                                let xi = ((ni * c + ci) * h + iy as usize) * wd + ix as usize;
                                let wi = (oi * c + ci) * 9 + ki * 3 + kj;
                                y[yi] += x[xi] * w[wi];
                                ys[yi] += (x[xi] * w[wi]).abs();
                                dx[xi] += g[yi] * w[wi];
                                dxs[xi] += (g[yi] * w[wi]).abs();
                                dw[wi] += g[yi] * x[xi];
                                dws[wi] += (g[yi] * x[xi]).abs();
                            }
                        }
                    }
                }
            }
        }
    }
    [(y, ys), (dx, dxs), (dw, dws)]
}

/// The largest error of `got` against `want` relative to the largest sum of term magnitudes of any element
/// (the transforms mix neighbouring positions, so an element whose own terms are all zero, one that reads
/// only padding, still gets its tile's rounding).
fn worst(got: &[f64], (want, scale): &(Vec<f64>, Vec<f64>)) -> f64 {
    assert_eq!(got.len(), want.len());
    let s = scale.iter().copied().fold(f64::MIN_POSITIVE, f64::max);
    got.iter().zip(want).map(|(a, b)| (a - b).abs() / s).fold(0.0, f64::max)
}

#[test]
fn winograd_matches_the_direct_convolution_in_f64_for_every_padding_and_size() {
    let mut rng = StdRng::seed_from_u64(7);
    for i in 0..300 {
        // Every tenth problem wide enough for several blocks of four tiles per tile row.
        let (d, win, o) = problem(&mut rng, 5, if i % 10 == 0 { 40 } else { 9 });
        let x = values(&mut rng, d.n * d.c * d.h * d.w);
        let (w, b) = (values(&mut rng, o * d.c * 9), values(&mut rng, o));
        let g = values(&mut rng, d.n * o * d.oh * d.ow);
        let want = direct(&x, &w, &b, &g, &d, &win, o);
        let got = [
            conv2d(&x, &w, Some(&b), &d, &win, o).unwrap(),
            conv_input_grad(&g, &w, &d, &win, o).unwrap(),
            conv_weight_grad(&x, &g, &d, &win, o).unwrap(),
        ];
        for (name, (got, want)) in ["y", "dx", "dw"].iter().zip(got.iter().zip(&want)) {
            let e = worst(got, want);
            assert!(e < 1e-13, "{name}: {e:e} relative, {d:?} {win:?} o {o}");
        }
    }
}

#[test]
fn winograd_in_f32_stays_within_about_one_epsilon_of_the_terms_magnitude() {
    // Measured over these problems (C and O up to 64): at most 1.5e-7 (y), 1.2e-7 (dx), 1.8e-7 (dw) of the
    // largest sum of term magnitudes, about one f32 epsilon (1.19e-7); the bound asserted is 1e-6.
    let mut rng = StdRng::seed_from_u64(11);
    let mut seen = [0.0f64; 3];
    for round in 0..40 {
        let (d, win, o) = problem(&mut rng, if round % 4 == 0 { 64 } else { 12 }, 12);
        let x = values(&mut rng, d.n * d.c * d.h * d.w);
        let (w, b) = (values(&mut rng, o * d.c * 9), values(&mut rng, o));
        let g = values(&mut rng, d.n * o * d.oh * d.ow);
        let want = direct(&x, &w, &b, &g, &d, &win, o);
        let f = |v: &[f64]| v.iter().map(|&a| a as f32).collect::<Vec<f32>>();
        let (xf, wf, bf, gf) = (f(&x), f(&w), f(&b), f(&g));
        let got = [
            conv2d(&xf, &wf, Some(&bf), &d, &win, o).unwrap(),
            conv_input_grad(&gf, &wf, &d, &win, o).unwrap(),
            conv_weight_grad(&xf, &gf, &d, &win, o).unwrap(),
        ];
        for (k, (got, want)) in got.iter().zip(&want).enumerate() {
            let got: Vec<f64> = got.iter().map(|&v| f64::from(v)).collect();
            seen[k] = seen[k].max(worst(&got, want));
        }
    }
    assert!(seen.iter().all(|&e| e < 1e-6), "relative errors (y, dx, dw): {seen:?}");
}

#[test]
fn the_cut_into_groups_and_chunks_gives_the_same_bits_on_any_thread_count() {
    // 11 images of 9 x 13 (5 x 7 = 35 tiles each): groups of 1-2 images, chunks crossing image boundaries.
    let mut rng = StdRng::seed_from_u64(3);
    let win = Window2d::new((3, 3), (1, 1), Padding::Explicit { top: 1, bottom: 0, left: 2, right: 1 });
    let (o, d) = (5, win.check("t", &Shape::new(&[11, 4, 9, 13])).unwrap());
    let geo = forward_geom(&d, &win);
    let x: Vec<f32> = values(&mut rng, d.n * d.c * d.h * d.w).into_iter().map(|v| v as f32).collect();
    let w: Vec<f32> = values(&mut rng, o * d.c * 9).into_iter().map(|v| v as f32).collect();
    let g: Vec<f32> = values(&mut rng, d.n * o * d.oh * d.ow).into_iter().map(|v| v as f32).collect();
    let u = transform_kernels(&w, o, d.c, false);
    let (groups, _) = geo.plan(o);
    assert_eq!(groups, GROUPS);
    let y1 = correlate_planned("t", &x, &geo, &u, o, None, (groups, 1)).unwrap();
    let dw1 = weight_grad_planned(&x, &g, &d, &win, o, (groups, 1)).unwrap();
    for threads in 2..=3 {
        assert_eq!(correlate_planned("t", &x, &geo, &u, o, None, (groups, threads)).unwrap(), y1);
        assert_eq!(weight_grad_planned(&x, &g, &d, &win, o, (groups, threads)).unwrap(), dw1);
    }
    // Every tile of every image lies in exactly one segment of one chunk.
    let (th, tw) = geo.tiles();
    for imgs in [1, 2, 4] {
        let mut seen = Vec::new();
        for r in chunks(imgs, th * tw) {
            assert!(r.len() <= TILES);
            for s in segments(r.clone(), tw) {
                assert_eq!(s.col, s.row * tw + s.tx0 - r.start);
                seen.extend((s.tx0..s.tx1).map(|tx| s.row * tw + tx));
            }
        }
        assert_eq!(seen, (0..imgs * th * tw).collect::<Vec<_>>());
    }
}

#[test]
fn the_policy_decides_which_convolutions_qualify() {
    let win = Window2d::new((3, 3), (1, 1), Padding::Same);
    let dims = |c: usize, hw: usize| win.check("t", &Shape::new(&[2, c, hw, hw])).unwrap();
    let (big, small) = (dims(64, 32), dims(MIN_CHANNELS, MIN_SIZE));
    assert!(applies(&big, &win, 64) && applies(&small, &win, MIN_CHANNELS));
    assert!(!applies(&dims(1, 32), &win, 64) && !applies(&big, &win, 8) && !applies(&dims(64, 4), &win, 64));
    let strided = Window2d::new((3, 3), (2, 2), Padding::Same);
    assert!(!applies(&strided.check("t", &Shape::new(&[2, 64, 32, 32])).unwrap(), &strided, 64));
    let wide = Window2d::new((3, 2), (1, 1), Padding::Same);
    assert!(!applies(&wide.check("t", &Shape::new(&[2, 64, 32, 32])).unwrap(), &wide, 64));
    set_policy(Policy::Always);
    let five = Window2d::new((5, 5), (1, 1), Padding::Same);
    assert!(applies(&dims(1, 1), &win, 1) && !applies(&five.check("t", &Shape::new(&[1, 1, 5, 5])).unwrap(), &five, 1));
    set_policy(Policy::Never);
    assert!(!applies(&big, &win, 64));
    set_policy(Policy::Auto);
}

/// Runs `f` with this thread's policy set to `Always`.
fn always<R>(f: impl FnOnce() -> R) -> R {
    set_policy(Policy::Always);
    let r = f();
    set_policy(Policy::Auto);
    r
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn the_ops_through_winograd_match_finite_differences_to_second_order(seed in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let (d, win, o) = problem(&mut rng, 3, 6);
        let pad = Padding::Explicit { top: win.top, bottom: win.bottom, left: win.left, right: win.right };
        let x = random_tensor(&mut rng, &Shape::new(&[d.n, d.c, d.h, d.w]), (-1.0, 1.0));
        let w = random_tensor(&mut rng, &Shape::new(&[o, d.c, 3, 3]), (-1.0, 1.0));
        let b = random_tensor(&mut rng, &Shape::new(&[o]), (-1.0, 1.0));
        let g = random_tensor(&mut rng, &Shape::new(&[d.n, o, d.oh, d.ow]), (-1.0, 1.0));
        let hw = (d.h, d.w);
        always(|| -> std::result::Result<(), TestCaseError> {
            check_both(|_t, v| Ok(v[0].conv2d(v[1], Some(v[2]), (1, 1), pad)?.tanh()), &[x.clone(), w.clone(), b.clone()])?;
            check_both(|_t, v| Ok(v[0].conv_input_grad(v[1], win, hw)?.tanh()), &[g.clone(), w.clone()])?;
            check_both(|_t, v| Ok(v[0].conv_weight_grad(v[1], win)?.tanh()), &[x.clone(), g.clone()])?;
            Ok(())
        })?;
        // The values are the im2col path's, to rounding.
        let tape = Tape::<f64>::new();
        let (xv, wv) = (tape.input(x.clone()), tape.input(w.clone()));
        let ours = always(|| xv.conv2d(wv, None, (1, 1), pad).unwrap().value());
        set_policy(Policy::Never);
        let theirs = xv.conv2d(wv, None, (1, 1), pad).unwrap().value();
        set_policy(Policy::Auto);
        prop_assert!(ours.max_abs_diff(&theirs).unwrap() < 1e-12);
    }
}
