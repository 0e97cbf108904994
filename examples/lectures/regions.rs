//! Lecture 001, what layers can do: threshold networks whose decision region is a half-plane (1 layer), a
//! convex polygon (2 layers: AND of half-planes) and a non-convex or disconnected region (3 layers: OR of
//! convex polygons), each checked against the geometry on random points; and universal approximation: one
//! hidden tanh layer fitting `sin(2x)` on `[-3, 3]`, the error falling with the width.

use super::Opts;
use super::util::{column, grid, line, say};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::io::Write;
use tapegrad::{Tape, Tensor};
use tapegrad_examples::error::Result;
use tapegrad_examples::plot::{self, PlanePanel, XyPanel};
use tapegrad_nn::Module;
use tapegrad_nn::layers::{Activation, Linear, Mlp, Sequential};
use tapegrad_nn::optim::{Adam, AdamConfig, Optimizer};

/// A half-plane `a . x + c > 0`.
type HalfPlane = ([f64; 2], f64);

/// The numbers the demonstration prints.
#[derive(Debug, Clone)]
pub struct RegionsReport {
    /// `(region, layers, fraction of random points where the network agrees with the geometry, fraction
    /// inside)`.
    pub regions: Vec<(String, usize, f64, f64)>,
    /// `(width, RMS error)` of the one-hidden-layer fits.
    pub approximation: Vec<(usize, f64)>,
}

fn linear(w: Vec<f64>, b: Vec<f64>, inputs: usize) -> Result<Linear<f64>> {
    let out = b.len();
    Ok(Linear::from_tensors(Tensor::from_vec(w, [out, inputs])?, Some(Tensor::from_vec(b, [out])?))?)
}

/// A threshold network for the union of convex polygons, each the intersection of half-planes: one layer
/// for a single half-plane, two for one polygon (AND), three for a union (OR of ANDs).
fn region_net(polygons: &[Vec<HalfPlane>]) -> Result<(Sequential<f64>, usize)> {
    let planes: Vec<HalfPlane> = polygons.iter().flatten().copied().collect();
    let first = linear(planes.iter().flat_map(|p| p.0).collect(), planes.iter().map(|p| p.1).collect(), 2)?;
    let mut net = Sequential::new().with(first).with(Activation::Step);
    if planes.len() == 1 {
        return Ok((net, 1));
    }
    // AND of the k half-planes of each polygon: [sum h - (k - 1/2) > 0].
    let (mut w, mut b, mut start) = (Vec::new(), Vec::new(), 0);
    for poly in polygons {
        w.extend((0..planes.len()).map(|j| f64::from(u8::from(j >= start && j < start + poly.len()))));
        b.push(0.5 - poly.len() as f64);
        start += poly.len();
    }
    net.push(linear(w, b, planes.len())?);
    net.push(Activation::Step);
    if polygons.len() == 1 {
        return Ok((net, 2));
    }
    // OR of the polygons: [sum a - 1/2 > 0].
    net.push(linear(vec![1.0; polygons.len()], vec![-0.5], polygons.len())?);
    net.push(Activation::Step);
    Ok((net, 3))
}

fn inside(polygons: &[Vec<HalfPlane>], x: f64, y: f64) -> bool {
    polygons.iter().any(|poly| poly.iter().all(|(a, c)| a[0] * x + a[1] * y + c > 0.0))
}

/// Runs the demonstration.
///
/// # Errors
/// Engine, training and drawing errors.
pub fn run(o: &Opts, out: &mut dyn Write) -> Result<RegionsReport> {
    let mut rng = StdRng::seed_from_u64(o.seed);
    line(out, "# decision regions of threshold networks, checked on 4000 random points of [-2, 2]^2")?;
    let cases: Vec<(&str, Vec<Vec<HalfPlane>>)> = vec![
        ("half-plane x1 + x2 > 1/2", vec![vec![([1.0, 1.0], -0.5)]]),
        ("convex: a triangle", vec![vec![([0.0, 1.0], 1.0), ([1.0, 0.0], 1.0), ([-1.0, -1.0], 0.5)]]),
        (
            "non-convex: an L",
            vec![
                vec![([1.0, 0.0], 1.5), ([-1.0, 0.0], 0.0), ([0.0, 1.0], 1.5), ([0.0, -1.0], 1.5)],
                vec![([1.0, 0.0], 1.5), ([-1.0, 0.0], 1.5), ([0.0, 1.0], 1.5), ([0.0, -1.0], 0.0)],
            ],
        ),
        (
            "disconnected: two triangles",
            vec![
                vec![([1.0, 0.0], 1.8), ([0.0, 1.0], 1.8), ([-1.0, -1.0], -2.0)],
                vec![([-1.0, 0.0], 1.8), ([0.0, -1.0], 1.8), ([1.0, 1.0], -1.0)],
            ],
        ),
    ];
    let pts = Tensor::<f64>::rand_uniform([4000, 2], -2.0, 2.0, &mut rng)?;
    let ext = (-2.0, 2.0, -2.0, 2.0);
    let res = 120;
    let cells = grid(ext, res)?;
    let (mut regions, mut panels) = (Vec::new(), Vec::new());
    for (name, polys) in &cases {
        let (net, layers) = region_net(polys)?;
        let pred = net.predict(&pts)?;
        let mut agree = 0;
        let mut n_in = 0;
        for i in 0..4000 {
            let want = inside(polys, pts.data()[2 * i], pts.data()[2 * i + 1]);
            n_in += usize::from(want);
            agree += usize::from((pred.data()[i] > 0.5) == want);
        }
        let (agree, frac_in) = (agree as f64 / 4000.0, n_in as f64 / 4000.0);
        say(out, &format!("{name}: layers"), layers)?;
        say(out, &format!("{name}: agreement"), format!("{agree:.4}"))?;
        panels.push(PlanePanel {
            title: format!("{layers} layer{}: {name}", if layers > 1 { "s" } else { "" }),
            extent: ext,
            field: net.predict(&cells)?.to_vec(),
            res,
            ..Default::default()
        });
        regions.push((name.to_string(), layers, agree, frac_in));
    }
    let path = o.out.join("decision_regions.png");
    plot::plane_panels(&path, &panels, 4)?;
    say(out, "picture", path.display())?;

    let steps = o.epochs.unwrap_or(2000);
    line(
        out,
        &format!("# universal approximation: [1, width, 1] tanh nets fit sin(2x) on [-3, 3], {steps} Adam steps"),
    )?;
    let xs: Vec<f64> = (0..64).map(|i| -3.0 + 6.0 * i as f64 / 63.0).collect();
    let ys: Vec<f64> = xs.iter().map(|x| (2.0 * x).sin()).collect();
    let (x, y) = (column(&xs)?, column(&ys)?);
    let mut approximation = Vec::new();
    let mut fits = vec![("sin(2x)".to_string(), xs.iter().copied().zip(ys.iter().copied()).collect::<Vec<_>>())];
    for width in [1, 2, 4, 8, 16] {
        let mut mlp = Mlp::<f64>::new(&[1, width, 1], Activation::Tanh, Activation::Identity, &mut rng)?;
        let mut opt = Adam::new(AdamConfig { lr: 0.02, ..Default::default() })?;
        for _ in 0..steps {
            let tape = Tape::new();
            let loss = mlp.forward(&tape, tape.input(x.clone()))?.mse(tape.input(y.clone()))?;
            let grads = loss.backward()?;
            drop(tape);
            opt.step(&mut mlp.param_refs_mut(), &grads)?;
        }
        let pred = mlp.predict(&x)?.to_vec();
        let rms = (pred.iter().zip(&ys).map(|(p, t)| (p - t).powi(2)).sum::<f64>() / 64.0).sqrt();
        say(out, &format!("width={width}: rms error"), format!("{rms:.4}"))?;
        approximation.push((width, rms));
        if width == 2 || width == 16 {
            fits.push((format!("width {width}"), xs.iter().copied().zip(pred).collect()));
        }
    }
    let path = o.out.join("universal_approximation.png");
    let err_panel = XyPanel {
        title: "RMS error against width (log-log)".into(),
        x_desc: "hidden units".into(),
        y_desc: "RMS error".into(),
        series: vec![("error".into(), approximation.iter().map(|&(w, e)| (w as f64, e)).collect())],
        log_x: true,
        log_y: true,
    };
    let fit_panel =
        XyPanel { title: "fits".into(), x_desc: "x".into(), y_desc: "y".into(), series: fits, ..Default::default() };
    plot::xy_panels(&path, &[fit_panel, err_panel], 2)?;
    say(out, "picture", path.display())?;
    Ok(RegionsReport { regions, approximation })
}
