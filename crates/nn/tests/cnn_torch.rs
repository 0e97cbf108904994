//! A PyTorch CNN's state dict (safetensors, written by `fixtures/torch_cnn.py`) loads into the equivalent
//! `Sequential` and reproduces its outputs.

use rand::SeedableRng;
use tapegrad::{Padding, Tensor};
use tapegrad_nn::layers::{Activation, AvgPool2d, Conv2d, Flatten, Linear, MaxPool2d, Sequential};
use tapegrad_nn::{Module, io};

fn tensor(line: &str) -> Tensor<f64> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let dims: Vec<usize> = f[1].split(',').map(|d| d.parse().unwrap()).collect();
    Tensor::from_vec(f[2..].iter().map(|v| v.parse().unwrap()).collect(), dims).unwrap()
}

#[test]
fn a_pytorch_cnn_state_dict_loads_and_reproduces_its_outputs() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let mut net = Sequential::<f64>::new()
        .with(Conv2d::new(1, 4, (3, 3), &mut rng).unwrap().padding(Padding::symmetric(1, 1)))
        .with(Activation::Relu)
        .with(MaxPool2d::new((2, 2)))
        .with(Conv2d::new(4, 6, (3, 2), &mut rng).unwrap().stride((1, 2)).padding(Padding::symmetric(1, 0)))
        .with(Activation::Relu)
        .with(AvgPool2d::new((2, 2)))
        .with(Flatten::new())
        .with(Linear::new(12, 3, &mut rng).unwrap());
    io::from_bytes(&mut net, include_bytes!("fixtures/torch_cnn.safetensors")).unwrap();
    let lines: Vec<&str> =
        include_str!("fixtures/torch_cnn_expected.txt").lines().filter(|l| !l.starts_with('#')).collect();
    let (x, want) = (tensor(lines[0]), tensor(lines[1]));
    let y = net.predict(&x).unwrap();
    assert_eq!(y.dims(), &[2, 3]);
    let diff = y.max_abs_diff(&want).unwrap();
    assert!(diff < 1e-12, "differs from PyTorch by {diff:e}");
    let summary = net.summary(&[1, 8, 10]).unwrap();
    assert!(summary.contains("layers.3  Conv2d 4 -> 6, 3x2, stride (1, 2)"), "{summary}");
    assert!(summary.contains("[N, 6, 4, 2]"), "{summary}");
    assert!(summary.ends_with(&format!("{}\n", net.num_params())), "{summary}");
}
