//! conv2d, max_pool2d and avg_pool2d against PyTorch in float64: outputs and input/weight/bias gradients for
//! the configurations written by `fixtures/conv_torch.py` (stride 2, padding 1, non-square kernels, C > 1,
//! N > 1, 'same' with an even kernel, asymmetric padding, pooling with stride != kernel, 3x3 at stride 1 with
//! 16 channels, which takes the Winograd path).

use std::collections::HashMap;
use tapegrad::kernels::conv::winograd::{Policy, set_policy};
use tapegrad::{Padding, Tape, Tensor};

const TOL: f64 = 1e-10;

struct Case {
    op: String,
    name: String,
    kernel: (usize, usize),
    stride: (usize, usize),
    padding: Padding,
    tensors: HashMap<String, Tensor<f64>>,
}

fn parse_padding(s: &str) -> Padding {
    match s {
        "valid" => Padding::Valid,
        "same" => Padding::Same,
        "full" => Padding::Full,
        _ => {
            let v: Vec<usize> = s.split(',').map(|p| p.parse().unwrap()).collect();
            Padding::Explicit { top: v[0], bottom: v[1], left: v[2], right: v[3] }
        }
    }
}

fn cases() -> Vec<Case> {
    let mut out: Vec<Case> = Vec::new();
    for line in include_str!("fixtures/conv_torch.txt").lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f[0] == "case" {
            let n = |i: usize| f[i].parse::<usize>().unwrap();
            out.push(Case {
                op: f[1].into(),
                name: f[2].into(),
                kernel: (n(3), n(4)),
                stride: (n(5), n(6)),
                padding: parse_padding(f[7]),
                tensors: HashMap::new(),
            });
        } else {
            let dims: Vec<usize> = f[1].split(',').map(|d| d.parse().unwrap()).collect();
            let vals: Vec<f64> = f[2..].iter().map(|v| v.parse().unwrap()).collect();
            let t = Tensor::from_vec(vals, dims).unwrap();
            out.last_mut().unwrap().tensors.insert(f[0].into(), t);
        }
    }
    out
}

fn close(case: &Case, key: &str, got: &Tensor<f64>) {
    let want = &case.tensors[key];
    assert_eq!(got.dims(), want.dims(), "{} {}: {key} shape", case.op, case.name);
    let diff = got.max_abs_diff(want).unwrap();
    assert!(diff <= TOL, "{} {}: {key} differs from PyTorch by {diff:e}", case.op, case.name);
}

#[test]
fn convolution_and_pooling_match_pytorch_in_float64() {
    let cases = cases();
    assert_eq!(cases.len(), 13);
    // The last two are 3x3 at stride 1 with 16 channels (small images: im2col by default; the next test runs
    // every 3x3 stride-1 case through Winograd too).
    assert!(cases.iter().filter(|c| c.name.starts_with("winograd")).all(|c| c.kernel == (3, 3) && c.stride == (1, 1)));
    cases.iter().for_each(check);
}

#[test]
fn every_3x3_stride_1_convolution_matches_pytorch_through_winograd_and_through_im2col() {
    let cases: Vec<Case> = cases().into_iter().filter(|c| c.op == "conv2d").collect();
    let winograd = cases.iter().filter(|c| c.kernel == (3, 3) && c.stride == (1, 1)).count();
    assert_eq!(winograd, 3, "full_n3 and the two winograd cases");
    for policy in [Policy::Always, Policy::Never] {
        set_policy(policy);
        cases.iter().for_each(check);
    }
    set_policy(Policy::Auto);
}

/// Runs one case's op forward and backward and compares every tensor with PyTorch's.
fn check(case: &Case) {
    let tape = Tape::<f64>::new();
    let t = &case.tensors;
    let x = tape.leaf(t["x"].clone());
    let (w, b) = (t.get("w").map(|w| tape.leaf(w.clone())), t.get("b").map(|b| tape.leaf(b.clone())));
    let y = match case.op.as_str() {
        "conv2d" => x.conv2d(w.unwrap(), b, case.stride, case.padding).unwrap(),
        "max_pool2d" => x.max_pool2d(case.kernel, case.stride, case.padding).unwrap(),
        "avg_pool2d" => x.avg_pool2d(case.kernel, case.stride, case.padding).unwrap(),
        other => panic!("unknown op {other}"),
    };
    close(case, "y", &y.value());
    let loss = y.mul(tape.constant(t["g"].clone())).unwrap().sum();
    let grads = loss.backward().unwrap();
    close(case, "dx", grads.get(x).unwrap().unwrap());
    if let Some(w) = w {
        close(case, "dw", grads.get(w).unwrap().unwrap());
    }
    if let Some(b) = b {
        close(case, "db", grads.get(b).unwrap().unwrap());
    }
}
