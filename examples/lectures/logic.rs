//! Lecture 001, expressive power: XOR in the slide's two-layer form `[(x1 or x2) - (x1 and x2) - 1/2 > 0]`,
//! a two-layer threshold network for every Boolean function of three inputs built from its truth table,
//! and a deep network with linear activations collapsing to one matrix.

use super::Opts;
use super::util::{grid, line, say};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::io::Write;
use tapegrad::Tensor;
use tapegrad_examples::error::Result;
use tapegrad_examples::plot::{self, PlanePanel};
use tapegrad_nn::Module;
use tapegrad_nn::layers::{Linear, LinearConfig, Sequential};
use tapegrad_nn::logic::{boolean_network, truth_table_row, xor_network};

/// The numbers the demonstration prints.
#[derive(Debug, Clone)]
pub struct LogicReport {
    /// The slide's XOR network on (0,0), (0,1), (1,0), (1,1).
    pub xor_outputs: Vec<f64>,
    /// How many of the 256 Boolean functions of 3 inputs the construction computed exactly.
    pub boolean_functions_exact: usize,
    /// The largest number of hidden neurons the construction used (the number of ones in the table).
    pub max_hidden: usize,
    /// The product `W4 W3 W2 W1` of the deep linear network, `[2, 3]` row-major, and its folded bias.
    pub product: (Vec<f64>, Vec<f64>),
    /// Largest difference between the deep linear network and the single affine map on random inputs.
    pub linear_collapse_diff: f64,
}

/// Runs the demonstration.
///
/// # Errors
/// Engine and drawing errors.
pub fn run(o: &Opts, out: &mut dyn Write) -> Result<LogicReport> {
    line(out, "# XOR as on the slide: h1 = [x1 + x2 - 1/2 > 0] (or), h2 = [x1 + x2 - 3/2 > 0] (and),")?;
    line(out, "#   y = [h1 - h2 - 1/2 > 0]")?;
    let xor = xor_network::<f64>();
    let pts = Tensor::from_vec(vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], [4, 2])?;
    let xor_outputs = xor.predict(&pts)?.to_vec();
    for (i, y) in xor_outputs.iter().enumerate() {
        say(out, &format!("xor({}, {})", pts.data()[2 * i], pts.data()[2 * i + 1]), y)?;
    }
    let ext = (-0.5, 1.5, -0.5, 1.5);
    let res = 120;
    let field = xor.predict(&grid(ext, res)?)?.to_vec();
    let points = (0..4).map(|i| (pts.data()[2 * i], pts.data()[2 * i + 1], xor_outputs[i] as usize)).collect();
    let path = o.out.join("xor.png");
    let panel = PlanePanel {
        title: "XOR: the slide's network, orange = 1".into(),
        extent: ext,
        field,
        res,
        points,
        paths: vec![
            ("x1 + x2 = 1/2 (or)".into(), vec![(-0.5, 1.0), (1.0, -0.5)]),
            ("x1 + x2 = 3/2 (and)".into(), vec![(0.0, 1.5), (1.5, 0.0)]),
        ],
    };
    plot::plane_panels(&path, &[panel], 1)?;
    say(out, "picture", path.display())?;

    line(out, "# every Boolean function of 3 inputs as a two-layer threshold network (one hidden neuron per 1)")?;
    let rows: Vec<f64> = (0..8).flat_map(|r| truth_table_row(3, r)).map(|b| f64::from(u8::from(b))).collect();
    let x3 = Tensor::from_vec(rows, [8, 3])?;
    let (mut exact, mut max_hidden) = (0, 0);
    for f in 0u32..256 {
        let table: Vec<bool> = (0..8).map(|i| (f >> i) & 1 == 1).collect();
        let net = boolean_network::<f64>(3, &table)?;
        let want: Vec<f64> = table.iter().map(|&b| f64::from(u8::from(b))).collect();
        if net.predict(&x3)?.to_vec() == want {
            exact += 1;
        }
        max_hidden = max_hidden.max(table.iter().filter(|&&b| b).count());
    }
    say(out, "boolean_functions_exact", format!("{exact}/256"))?;
    say(out, "max_hidden_neurons", max_hidden)?;

    line(out, "# a deep network with linear activations is one affine map: W = W4 W3 W2 W1")?;
    let mut rng = StdRng::seed_from_u64(o.seed);
    let sizes = [3, 5, 4, 6, 2];
    let mut deep = Sequential::<f64>::new();
    let mut layers = Vec::new();
    for k in 0..4 {
        let cfg = LinearConfig { bias_init: tapegrad_nn::init::Init::SmallNormal { std: 0.5 }, ..Default::default() };
        let l = Linear::with_config(sizes[k], sizes[k + 1], cfg, &mut rng)?;
        layers.push((l.weight().value().clone(), l.bias().map(|b| b.value().clone())));
        deep.push(l);
    }
    // Fold: y = W x + c with W = W4 W3 W2 W1 and c = W4 (W3 (W2 b1 + b2) + b3) + b4, computed by
    // running the identity and the zero input through the layers as plain tensors.
    let mut w = Tensor::<f64>::eye(3)?;
    let mut c = Tensor::<f64>::zeros([1, 3])?;
    for (wk, bk) in &layers {
        w = wk.matmul(&w)?;
        c = c.matmul(&transpose(wk)?)?;
        if let Some(b) = bk {
            c = c.add(&b.reshape([1, b.numel()])?)?;
        }
    }
    say(out, "product_W", format!("{:?}", w.data().iter().map(|v| format!("{v:.4}")).collect::<Vec<_>>()))?;
    say(out, "product_bias", format!("{:?}", c.data().iter().map(|v| format!("{v:.4}")).collect::<Vec<_>>()))?;
    let xr = Tensor::<f64>::randn([16, 3], 0.0, 1.0, &mut rng)?;
    let deep_y = deep.predict(&xr)?;
    let one_y = xr.matmul(&transpose(&w)?)?.add(&c)?;
    let diff = deep_y.data().iter().zip(one_y.data()).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    say(out, "linear_collapse_diff", format!("{diff:.3e}"))?;
    Ok(LogicReport {
        xor_outputs,
        boolean_functions_exact: exact,
        max_hidden,
        product: (w.to_vec(), c.to_vec()),
        linear_collapse_diff: diff,
    })
}

/// The transpose of a matrix.
fn transpose(m: &Tensor<f64>) -> Result<Tensor<f64>> {
    let (r, c) = (m.dims()[0], m.dims()[1]);
    Ok(Tensor::from_vec((0..r * c).map(|k| m.data()[(k % r) * c + k / r]).collect(), [c, r])?)
}
