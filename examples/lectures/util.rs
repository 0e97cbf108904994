//! Shared pieces of the lecture demonstrations: seeded 2-D point clouds, output lines, grids for pictures
//! and a plain gradient-descent step.

use rand::Rng;
use std::io::Write;
use tapegrad::{Gradients, Param, Tensor};
use tapegrad_examples::error::{Error, Result, io_err};

/// Writes `name=value` (the format the tests read back).
pub fn say(out: &mut dyn Write, name: &str, value: impl std::fmt::Display) -> Result<()> {
    writeln!(out, "{name}={value}").map_err(io_err("stdout"))
}

/// Writes a line of text.
pub fn line(out: &mut dyn Write, text: &str) -> Result<()> {
    writeln!(out, "{text}").map_err(io_err("stdout"))
}

/// Two Gaussian clouds of `n` points each around `c0` (label -1) and `c1` (label +1) with standard
/// deviation `std`: features `[2n, 2]` and labels `+-1`.
pub fn clouds(n: usize, c0: [f64; 2], c1: [f64; 2], std: f64, rng: &mut impl Rng) -> Result<(Tensor<f64>, Vec<f64>)> {
    let noise = Tensor::<f64>::randn([2 * n, 2], 0.0, std, rng)?;
    let mut x = Vec::with_capacity(4 * n);
    let mut y = Vec::with_capacity(2 * n);
    for i in 0..2 * n {
        let c = if i < n { c0 } else { c1 };
        x.push(c[0] + noise.data()[2 * i]);
        x.push(c[1] + noise.data()[2 * i + 1]);
        y.push(if i < n { -1.0 } else { 1.0 });
    }
    Ok((Tensor::from_vec(x, [2 * n, 2])?, y))
}

/// Points `(x, y, class)` for a picture, class 0 for label `<= 0` and 1 otherwise.
pub fn labelled_points(x: &Tensor<f64>, labels: &[f64]) -> Vec<(f64, f64, usize)> {
    labels.iter().enumerate().map(|(i, &l)| (x.data()[2 * i], x.data()[2 * i + 1], usize::from(l > 0.0))).collect()
}

/// The `res x res` cell centres of the rectangle `(x0, x1, y0, y1)`, row 0 at the bottom, as `[res^2, 2]`.
pub fn grid(extent: (f64, f64, f64, f64), res: usize) -> Result<Tensor<f64>> {
    let (x0, x1, y0, y1) = extent;
    let mut v = Vec::with_capacity(2 * res * res);
    for i in 0..res {
        for j in 0..res {
            v.push(x0 + (j as f64 + 0.5) * (x1 - x0) / res as f64);
            v.push(y0 + (i as f64 + 0.5) * (y1 - y0) / res as f64);
        }
    }
    Ok(Tensor::from_vec(v, [res * res, 2])?)
}

/// One plain gradient-descent step `p -= lr g` on every parameter.
///
/// # Errors
/// [`Error::Check`] when a parameter got no gradient.
pub fn gd_step(params: &mut [&mut Param<f64>], grads: &Gradients<f64>, lr: f64) -> Result<()> {
    for p in params.iter_mut() {
        let g = grads.param(p).ok_or_else(|| Error::Check("a parameter got no gradient".into()))?.clone();
        for (w, g) in p.value_mut().data_mut().iter_mut().zip(g.data()) {
            *w -= lr * g;
        }
    }
    Ok(())
}

/// The `[n, 1]` column of `v`.
pub fn column(v: &[f64]) -> Result<Tensor<f64>> {
    Ok(Tensor::from_vec(v.to_vec(), [v.len(), 1])?)
}

/// The segment of the line `w1 x + w2 y + b = 0` inside the rectangle `(x0, x1, y0, y1)` (empty when the
/// line misses it), so that pictures do not depend on how the plotting library clips.
pub fn line_in_box(w1: f64, w2: f64, b: f64, extent: (f64, f64, f64, f64)) -> Vec<(f64, f64)> {
    let (x0, x1, y0, y1) = extent;
    let mut pts = Vec::new();
    if w2 != 0.0 {
        pts.extend([x0, x1].map(|x| (x, -(w1 * x + b) / w2)));
    }
    if w1 != 0.0 {
        pts.extend([y0, y1].map(|y| (-(w2 * y + b) / w1, y)));
    }
    let eps = 1e-9 * (x1 - x0).abs().max((y1 - y0).abs());
    pts.retain(|&(x, y)| x >= x0 - eps && x <= x1 + eps && y >= y0 - eps && y <= y1 + eps);
    let mut best = Vec::new();
    let mut far = -1.0;
    for (i, a) in pts.iter().enumerate() {
        for b in &pts[i + 1..] {
            let d = (a.0 - b.0).powi(2) + (a.1 - b.1).powi(2);
            if d > far {
                far = d;
                best = vec![*a, *b];
            }
        }
    }
    best
}
