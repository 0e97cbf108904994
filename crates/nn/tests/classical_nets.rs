//! RProp and QuickProp: their first steps against numbers computed by hand from the rules (RProp+ with backtracking, iRProp-, QuickProp), then
//! full-batch training of XOR and of a small MLP on iris. Also the module adapter.

use rand::SeedableRng;
use rand::rngs::StdRng;
use tapegrad::TapeFn;
use tapegrad::{Param, Tape, Tensor, Var, argmax_rows};
use tapegrad_nn::Module;
use tapegrad_nn::optim::driver::{FullBatch, Summary, Tolerances, minimize};
use tapegrad_nn::optim::flat::{FnProblem, ModuleProblem, Problem};
use tapegrad_nn::optim::lbfgs::{Lbfgs, LbfgsConfig};
use tapegrad_nn::optim::quickprop::{Quickprop, QuickpropConfig};
use tapegrad_nn::optim::rprop::{Rprop, RpropConfig, RpropVariant};

type R<'t> = tapegrad::Result<Var<'t, f64>>;

/// `f(w) = (w0 - 1)^2 + 0.5 (w1 - 0.3)^2` for QuickProp; `(w0 - 1)^2 + (w1 + 0.15)^2` for RProp.
fn two_parabolas(c1: f64, t0: f64, t1: f64) -> FnProblem<f64, impl TapeFn<f64>> {
    FnProblem::new(vec![[2].into()], move |tape: &Tape<f64>, v: &[Var<'_, f64>]| {
        let t = tape.constant(Tensor::from_vec(vec![t0, t1], [2])?);
        let c = tape.constant(Tensor::from_vec(vec![1.0, c1], [2])?);
        Ok(((v[0] - t).square() * c).sum())
    })
}

fn steps(method: &mut dyn FullBatch<dyn Problem>, p: &mut (dyn Problem + 'static), k: usize) -> Vec<Vec<f64>> {
    let mut xs = Vec::new();
    let mut x = vec![0.0, 0.0];
    for _ in 0..k {
        let tol = Tolerances { grad_norm: 0.0, rel_loss_change: 0.0, max_iters: 1 };
        x = minimize(method, p, x, &tol).unwrap().point.x;
        xs.push(x.clone());
    }
    xs
}

fn assert_close(got: &[Vec<f64>], want: &[[f64; 2]]) {
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        for i in 0..2 {
            assert!((g[i] - w[i]).abs() < 1e-12, "step {}: w{i} = {}, by hand {}", k + 1, g[i], w[i]);
        }
    }
}

#[test]
fn rprop_first_steps_match_the_hand_computed_rule() {
    // w0 heads for 1 with a gradient that never changes sign: steps 0.1, 0.12, 0.144, 0.1728.
    // w1 heads for -0.15: -0.1 (g = 0.3), -0.12 (g = 0.1, same sign), then g = -0.14 flips the sign:
    // the step size halves to 0.06 and RProp+ (backtracking) undoes the -0.12 (w1 back to -0.1) while iRProp-
    // stays at -0.22; both then see a gradient with remembered sign 0 and move 0.06 toward -0.15.
    let mut p = two_parabolas(1.0, 1.0, -0.15);
    let mut rprop = Rprop::new(RpropConfig::default()).unwrap();
    let xs = steps(&mut rprop, &mut p, 4);
    assert_close(&xs, &[[0.1, -0.1], [0.22, -0.22], [0.364, -0.1], [0.5368, -0.16]]);
    assert!((rprop.step_sizes()[0] - 0.1728).abs() < 1e-12 && (rprop.step_sizes()[1] - 0.06).abs() < 1e-12);

    let cfg = RpropConfig { variant: RpropVariant::IRpropMinus, ..Default::default() };
    let mut irprop = Rprop::new(cfg).unwrap();
    let xs = steps(&mut irprop, &mut p, 4);
    assert_close(&xs, &[[0.1, -0.1], [0.22, -0.22], [0.364, -0.22], [0.5368, -0.16]]);
}

#[test]
fn rprop_step_sizes_stay_within_their_bounds() {
    let mut p = two_parabolas(1.0, 1e6, -1e-9);
    let mut rprop = Rprop::new(RpropConfig::default()).unwrap();
    steps(&mut rprop, &mut p, 60);
    assert_eq!(rprop.step_sizes()[0], 50.0, "grows by 1.2 per step up to the maximum");
    assert!(rprop.step_sizes()[1] >= 1e-6, "shrinks by 0.5 down to the minimum");
    assert!(Rprop::new(RpropConfig { eta_plus: 0.9, ..Default::default() }).is_err());
}

#[test]
fn quickprop_first_steps_match_the_hand_computed_rule() {
    // eps = 0.1, mu = 1.75, so the growth test uses mu / (1 + mu) = 0.63636...
    // w0, f = (w0 - 1)^2: S = -2 -> gradient step 0.2. S = -1.6 <= 0.636 * -2: the secant step (0.8) would
    // grow more than mu, so mu * 0.2 = 0.35, plus the linear term 0.16: w0 = 0.71. S = -0.58: secant
    // 0.51 * -0.58 / (-1.6 + 0.58) = 0.29 plus linear 0.058: w0 = 1.058.
    // w1, f = 0.5 (w1 - 0.3)^2: S = -0.3 -> 0.03. S = -0.27 <= 0.636 * -0.3: 1.75 * 0.03 + 0.027: w1 = 0.1095.
    let mut p = two_parabolas(0.5, 1.0, 0.3);
    let mut qp = Quickprop::new(QuickpropConfig::default()).unwrap();
    let xs = steps(&mut qp, &mut p, 3);
    // w1 again: S = -0.1905 <= 0.636 * -0.27 = -0.1718, so mu * 0.0795 = 0.139125 plus 0.01905: 0.267675.
    assert_close(&xs, &[[0.2, 0.03], [0.71, 0.1095], [1.058, 0.267675]]);
}

#[test]
fn quickprop_weight_decay_adds_to_the_slope() {
    let mut p = two_parabolas(1.0, 1.0, 0.0);
    let mut qp = Quickprop::new(QuickpropConfig { weight_decay: 0.5, ..Default::default() }).unwrap();
    let tol = Tolerances { grad_norm: 0.0, rel_loss_change: 0.0, max_iters: 1 };
    let x = minimize(&mut qp, &mut p, vec![2.0, 2.0], &tol).unwrap().point.x;
    // S = 2 (w - t) + 0.5 w: w0: 2 + 1 = 3 -> 2 - 0.3; w1: 4 + 1 = 5 -> 2 - 0.5.
    assert!((x[0] - 1.7).abs() < 1e-12 && (x[1] - 1.5).abs() < 1e-12, "{x:?}");
}

/// A one-hidden-layer tanh network: parameters `[W1 [h, i], b1 [h], W2 [o, h], b2 [o]]`.
fn mlp<'t>(tape: &'t Tape<f64>, v: &[Var<'t, f64>], x: &Tensor<f64>) -> R<'t> {
    tape.input(x.clone()).linear(v[0], Some(v[1]))?.tanh().linear(v[2], Some(v[3]))
}

fn shapes(i: usize, h: usize, o: usize) -> Vec<tapegrad::Shape> {
    vec![[h, i].into(), [h].into(), [o, h].into(), [o].into()]
}

fn xor_data() -> (Tensor<f64>, Tensor<f64>) {
    let x = Tensor::from_vec(vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], [4, 2]).unwrap();
    let t = Tensor::from_vec(vec![0.0, 1.0, 1.0, 0.0], [4, 1]).unwrap();
    (x, t)
}

fn xor_problem() -> FnProblem<f64, impl TapeFn<f64>> {
    let (x, t) = xor_data();
    FnProblem::new(shapes(2, 4, 1), move |tape: &Tape<f64>, v: &[Var<'_, f64>]| {
        mlp(tape, v, &x)?.sigmoid().mse(tape.input(t.clone()))
    })
}

/// The XOR benchmark's initial weights (`examples/data/xor_init.txt`).
fn xor_init() -> Vec<f64> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/data/xor_init.txt");
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .flat_map(|l| l.split_whitespace().map(|t| t.parse().unwrap()))
        .collect()
}

fn xor_correct(p: &FnProblem<f64, impl TapeFn<f64>>, w: &[f64]) -> usize {
    let (x, t) = xor_data();
    let tape = Tape::new();
    let v: Vec<_> = p.tensors(w).unwrap().into_iter().map(|t| tape.input(t)).collect();
    let y = mlp(&tape, &v, &x).unwrap().sigmoid().value();
    y.data().iter().zip(t.data()).filter(|(y, t)| (**y > 0.5) == (**t > 0.5)).count()
}

fn train<'a>(
    method: &mut dyn FullBatch<dyn Problem + 'a>,
    p: &mut (dyn Problem + 'a),
    x0: Vec<f64>,
    iters: usize,
) -> Summary {
    let tol = Tolerances { grad_norm: 1e-8, rel_loss_change: 0.0, max_iters: iters };
    let s = minimize(method, p, x0, &tol).unwrap();
    println!("{}: {} steps, loss {:.3e}, stop {:?}", method.name(), s.iters(), s.point.f, s.stop);
    s
}

#[test]
fn rprop_and_quickprop_train_xor_to_every_pattern() {
    let methods: Vec<Box<dyn FullBatch<dyn Problem>>> = vec![
        Box::new(Rprop::new(RpropConfig::default()).unwrap()),
        Box::new(Rprop::new(RpropConfig { variant: RpropVariant::IRpropMinus, ..Default::default() }).unwrap()),
        Box::new(Quickprop::new(QuickpropConfig { epsilon: 2.0, ..Default::default() }).unwrap()),
    ];
    for mut m in methods {
        let mut p = xor_problem();
        let s = train(m.as_mut(), &mut p, xor_init(), 500);
        assert_eq!(xor_correct(&p, &s.point.x), 4, "{} got XOR wrong (loss {})", m.name(), s.point.f);
        assert!(s.point.f < 0.01, "{}: loss {}", m.name(), s.point.f);
    }
}

/// Iris, standardised per feature: `[150, 4]` features and labels 0..2.
fn iris() -> (Tensor<f64>, Vec<usize>) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/data/iris.csv");
    let text = std::fs::read_to_string(path).unwrap();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for line in text.lines().skip(1) {
        let f: Vec<f64> = line.split(',').map(|t| t.trim().parse().unwrap()).collect();
        x.extend_from_slice(&f[..4]);
        y.push(f[4] as usize);
    }
    let n = y.len();
    for j in 0..4 {
        let mean = (0..n).map(|i| x[i * 4 + j]).sum::<f64>() / n as f64;
        let sd = ((0..n).map(|i| (x[i * 4 + j] - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
        (0..n).for_each(|i| x[i * 4 + j] = (x[i * 4 + j] - mean) / sd);
    }
    (Tensor::from_vec(x, [n, 4]).unwrap(), y)
}

fn iris_problem(x: Tensor<f64>, y: Vec<usize>) -> FnProblem<f64, impl TapeFn<f64>> {
    FnProblem::new(shapes(4, 8, 3), move |tape: &Tape<f64>, v: &[Var<'_, f64>]| {
        mlp(tape, v, &x)?.softmax_cross_entropy(&y)
    })
}

fn iris_init(dim: usize) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(0);
    Tensor::<f64>::rand_uniform([dim], -0.5, 0.5, &mut rng).unwrap().to_vec()
}

#[test]
fn rprop_and_quickprop_train_an_iris_mlp_full_batch_to_95_percent() {
    let (x, y) = iris();
    let methods: Vec<Box<dyn FullBatch<dyn Problem>>> = vec![
        Box::new(Rprop::new(RpropConfig::default()).unwrap()),
        Box::new(Rprop::new(RpropConfig { variant: RpropVariant::IRpropMinus, ..Default::default() }).unwrap()),
        Box::new(Quickprop::new(QuickpropConfig { epsilon: 0.5, ..Default::default() }).unwrap()),
    ];
    for mut m in methods {
        let mut p = iris_problem(x.clone(), y.clone());
        let x0 = iris_init(p.dim());
        let s = train(m.as_mut(), &mut p, x0, 300);
        let tape = Tape::new();
        let v: Vec<_> = p.tensors(&s.point.x).unwrap().into_iter().map(|t| tape.input(t)).collect();
        let pred = argmax_rows(&mlp(&tape, &v, &x).unwrap().value()).unwrap();
        let acc = pred.iter().zip(&y).filter(|(a, b)| a == b).count() as f64 / y.len() as f64;
        println!("{}: train accuracy {acc}", m.name());
        assert!(acc >= 0.95, "{}: accuracy {acc}", m.name());
    }
}

/// A one-parameter module: `y = x * w` elementwise, to test the module adapter without layers.
struct Scale {
    w: Param<f64>,
    unused: Option<Param<f64>>,
}

impl Module<f64> for Scale {
    fn forward<'t>(&self, tape: &'t Tape<f64>, x: Var<'t, f64>) -> tapegrad_nn::Result<Var<'t, f64>> {
        Ok(x.mul(tape.param(&self.w))?)
    }
    fn params(&self) -> Vec<(String, &Param<f64>)> {
        let mut v = vec![("w".to_string(), &self.w)];
        v.extend(self.unused.iter().map(|p| ("unused".to_string(), p)));
        v
    }
    fn params_mut(&mut self) -> Vec<(String, &mut Param<f64>)> {
        let mut v = vec![("w".to_string(), &mut self.w)];
        v.extend(self.unused.iter_mut().map(|p| ("unused".to_string(), p)));
        v
    }
}

fn scale_loss<'t>(m: &Scale, tape: &'t Tape<f64>) -> tapegrad_nn::Result<Var<'t, f64>> {
    let x = tape.input(Tensor::from_vec(vec![1.0, 2.0], [2])?);
    let t = tape.input(Tensor::from_vec(vec![3.0, -4.0], [2])?);
    Ok(m.forward(tape, x)?.mse(t)?)
}

#[test]
fn a_module_trains_through_the_flat_view_and_keeps_the_result_in_place() {
    let mut m = Scale { w: Param::new(Tensor::from_vec(vec![0.5, 0.5], [2]).unwrap()), unused: None };
    let mut p = ModuleProblem::new(&mut m, scale_loss);
    let x0 = p.initial();
    assert_eq!(x0, vec![0.5, 0.5]);
    let hv = p.hvp(&x0, &[1.0, 0.0]).unwrap();
    assert_eq!(hv, vec![1.0, 0.0], "H = diag(2 x^2) / 2 for the mean");
    let mut lbfgs = Lbfgs::new(LbfgsConfig::default()).unwrap();
    let s = minimize(&mut lbfgs, &mut p, x0, &Tolerances::default()).unwrap();
    p.write(&s.point.x).unwrap();
    let w = m.w.value().to_vec();
    assert!((w[0] - 3.0).abs() < 1e-8 && (w[1] + 2.0).abs() < 1e-8, "{w:?}");
}

#[test]
fn a_module_parameter_the_loss_never_uses_is_an_error_naming_it() {
    let unused = Some(Param::new(Tensor::zeros([3, 1]).unwrap()));
    let mut m = Scale { w: Param::new(Tensor::ones([2]).unwrap()), unused };
    let mut p = ModuleProblem::new(&mut m, scale_loss);
    let err = p.loss_grad(&[1.0; 5]).unwrap_err().to_string();
    assert!(err.contains("unused") && err.contains("[3, 1]") && err.contains("cut graph"), "{err}");
}

#[test]
fn an_nn_mlp_trains_on_iris_through_the_module_view_with_lbfgs_and_newton_cg() {
    use tapegrad_nn::optim::newton::{NewtonCg, NewtonCgConfig};
    use tapegrad_nn::{Activation, Mlp};
    let (x, y) = iris();
    for second_order in [false, true] {
        let mut rng = StdRng::seed_from_u64(3);
        let mut net = Mlp::<f64>::new(&[4, 8, 3], Activation::Tanh, Activation::Identity, &mut rng).unwrap();
        let before = net.params()[0].1.value().to_vec();
        let (xc, yc) = (x.clone(), y.clone());
        let mut p = ModuleProblem::new(&mut net, move |net, tape| {
            Ok(net.forward(tape, tape.input(xc.clone()))?.softmax_cross_entropy(&yc)?)
        });
        let x0 = p.initial();
        let mut m: Box<dyn FullBatch<dyn Problem + '_>> = if second_order {
            Box::new(NewtonCg::new(NewtonCgConfig::default()).unwrap())
        } else {
            Box::new(Lbfgs::new(LbfgsConfig::default()).unwrap())
        };
        let s = train(m.as_mut(), &mut p as &mut dyn Problem, x0, 100);
        p.write(&s.point.x).unwrap();
        let name = m.name();
        drop(m);
        drop(p);
        assert_ne!(net.params()[0].1.value().to_vec(), before, "{name} left the module untouched");
        let tape = Tape::new();
        let pred = argmax_rows(&net.forward(&tape, tape.input(x.clone())).unwrap().value()).unwrap();
        let acc = pred.iter().zip(&y).filter(|(a, b)| a == b).count() as f64 / y.len() as f64;
        println!("{name} through ModuleProblem: loss {:.3e}, accuracy {acc}", s.point.f);
        assert!(acc >= 0.95, "{name}: accuracy {acc}");
    }
}
