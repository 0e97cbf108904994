use super::{Conv2d, Conv2dConfig, LocallyConnected2d};
use crate::layers::{Activation, AvgPool2d, Flatten, Linear, MaxPool2d, Sequential, Unflatten};
use crate::{Error, Module, check_module_gradients};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tapegrad::{GradCheckConfig, Padding, Tensor};

#[test]
fn conv2d_starts_he_normal_with_fan_in_c_kh_kw_and_zero_bias() {
    let mut rng = StdRng::seed_from_u64(0);
    let conv = Conv2d::<f64>::new(32, 64, (3, 3), &mut rng).unwrap();
    let w = conv.weight().value();
    assert_eq!(w.dims(), &[64, 32, 3, 3]);
    let var = w.data().iter().map(|v| v * v).sum::<f64>() / w.numel() as f64;
    let want = 2.0 / (32.0 * 9.0);
    assert!((var / want - 1.0).abs() < 0.05, "variance {var} vs {want}");
    assert!(conv.bias().unwrap().value().data().iter().all(|&b| b == 0.0));
    let names: Vec<String> = conv.params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["weight", "bias"]);
}

#[test]
fn conv_layers_name_themselves_in_errors() {
    let mut rng = StdRng::seed_from_u64(0);
    let conv = Conv2d::<f32>::new(3, 4, (3, 3), &mut rng).unwrap();
    let err = conv.predict(&Tensor::zeros([1, 2, 5, 5]).unwrap()).unwrap_err();
    assert!(matches!(err, Error::Layer { .. }));
    assert_eq!(
        err.to_string(),
        "Conv2d 3 -> 4, 3x3, stride (1, 1), Valid: input [1, 2, 5, 5] does not fit; expected [N, 3, H, W]"
    );
    let err = conv.predict(&Tensor::zeros([1, 3, 2, 5]).unwrap()).unwrap_err().to_string();
    assert!(err.starts_with("Conv2d 3 -> 4, 3x3, stride (1, 1), Valid: conv2d: kernel 3x3 is larger"), "{err}");
    let lc = LocallyConnected2d::<f32>::new(1, 2, (5, 5), (3, 3), Conv2dConfig::default(), &mut rng).unwrap();
    assert!(
        lc.predict(&Tensor::zeros([1, 1, 6, 5]).unwrap()).unwrap_err().to_string().contains("expected [N, 1, 5, 5]")
    );
    assert!(LocallyConnected2d::<f32>::new(1, 2, (2, 2), (3, 3), Conv2dConfig::default(), &mut rng).is_err());
    assert!(Conv2d::<f32>::new(0, 2, (3, 3), &mut rng).is_err());
    let pool = MaxPool2d::new((2, 2)).padding(Padding::symmetric(2, 2));
    assert!(
        Module::<f32>::predict(&pool, &Tensor::zeros([1, 1, 4, 4]).unwrap())
            .unwrap_err()
            .to_string()
            .starts_with("MaxPool2d 2x2")
    );
}

#[test]
fn a_locally_connected_layer_with_equal_kernels_everywhere_is_a_convolution() {
    let mut rng = StdRng::seed_from_u64(1);
    let cfg = Conv2dConfig { stride: (2, 1), padding: Padding::symmetric(1, 0), ..Default::default() };
    let conv = Conv2d::<f64>::with_config(2, 3, (3, 2), cfg, &mut rng).unwrap().stride((2, 1));
    let conv = conv.padding(Padding::symmetric(1, 0));
    let mut lc = LocallyConnected2d::<f64>::new(2, 3, (5, 4), (3, 2), cfg, &mut rng).unwrap();
    let wd = lc.weight().value().dims().to_vec();
    assert_eq!(wd, [3, 3, 3, 2, 3, 2]); // oh = (5 + 2 - 3) / 2 + 1 = 3, ow = 4 - 2 + 1 = 3
    let kernel = conv.weight().value().data().to_vec();
    let bias = Tensor::rand_uniform([3], -1.0, 1.0, &mut rng).unwrap();
    let conv = Conv2d::from_tensors(conv.weight().value().clone(), Some(bias.clone())).unwrap();
    let conv = conv.stride((2, 1)).padding(Padding::symmetric(1, 0));
    {
        let mut ps = lc.params_mut();
        let w = ps[0].1.value_mut().data_mut();
        for chunk in w.chunks_mut(kernel.len()) {
            chunk.copy_from_slice(&kernel);
        }
        let b = ps[1].1.value_mut().data_mut();
        for (i, v) in b.iter_mut().enumerate() {
            *v = bias.data()[i / 9];
        }
    }
    let x = Tensor::rand_uniform([2, 2, 5, 4], -1.0, 1.0, &mut rng).unwrap();
    let (a, b) = (conv.predict(&x).unwrap(), lc.predict(&x).unwrap());
    assert_eq!(a.dims(), b.dims());
    assert!(a.max_abs_diff(&b).unwrap() < 1e-12);
    // Changing one position's kernel changes that position only.
    // Element 2 is o 0, c 0, ki 1, kj 0 of position (0, 0) (ki 0 reads the top padding there).
    lc.params_mut()[0].1.value_mut().data_mut()[2] += 1.0;
    let c = lc.predict(&x).unwrap();
    let changed: Vec<usize> = (0..c.numel()).filter(|&i| (c.data()[i] - b.data()[i]).abs() > 0.0).collect();
    assert!(changed.iter().all(|&i| i % 9 == 0 && (i / 9) % 3 == 0), "{changed:?}");
    assert!(!changed.is_empty());
}

#[test]
fn cnn_layers_pass_module_gradient_checks() {
    let mut rng = StdRng::seed_from_u64(2);
    let cfg = Conv2dConfig { stride: (2, 1), padding: Padding::Same, ..Default::default() };
    let mut net = Sequential::<f64>::new()
        .with(Conv2d::with_config(2, 3, (3, 2), cfg, &mut rng).unwrap())
        .with(Activation::Tanh)
        .with(AvgPool2d::new((2, 2)).stride((1, 1)))
        .with(LocallyConnected2d::new(3, 2, (2, 4), (2, 2), Conv2dConfig::default(), &mut rng).unwrap())
        .with(Flatten::new())
        .with(Linear::new(6, 2, &mut rng).unwrap());
    let x = Tensor::rand_uniform([2, 2, 5, 5], -1.0, 1.0, &mut rng).unwrap();
    assert_eq!(net.predict(&x).unwrap().dims(), &[2, 2]);
    check_module_gradients(&mut net, &x, GradCheckConfig::default()).unwrap();
    // Max pooling away from ties: distinct inputs, one conv in front.
    let mut net = Sequential::<f64>::new()
        .with(Conv2d::new(1, 2, (2, 2), &mut rng).unwrap())
        .with(MaxPool2d::new((2, 2)))
        .with(Flatten::new());
    let x = Tensor::from_vec((0..25).map(|i| ((i * 7) % 25) as f64 * 0.1).collect(), [1, 1, 5, 5]).unwrap();
    check_module_gradients(&mut net, &x, GradCheckConfig::default()).unwrap();
}

#[test]
fn unflatten_undoes_flatten_and_names_itself_on_bad_rows() {
    let x = Tensor::<f64>::from_vec((0..24).map(f64::from).collect(), [2, 3, 2, 2]).unwrap();
    let rows = Flatten::new().predict(&x).unwrap();
    assert_eq!(rows.dims(), &[2, 12]);
    let back = Unflatten::new([3, 2, 2]).predict(&rows).unwrap();
    assert_eq!((back.dims(), back.to_vec()), (x.dims(), x.to_vec()));
    assert_eq!(Unflatten::new([12]).predict(&rows).unwrap().dims(), &[2, 12]);
    for bad in [Tensor::<f64>::zeros([2, 11]).unwrap(), Tensor::zeros([24]).unwrap(), x.clone()] {
        let err = Unflatten::new([3, 2, 2]).predict(&bad).unwrap_err().to_string();
        assert!(err.contains("Unflatten to [3, 2, 2]") && err.contains("[N, 12]"), "{err}");
    }
    // In a network its gradient is the reshape's: the module check passes through it.
    let mut rng = StdRng::seed_from_u64(4);
    let mut net = Sequential::<f64>::new()
        .with(Unflatten::new([1, 3, 3]))
        .with(Conv2d::new(1, 2, (2, 2), &mut rng).unwrap())
        .with(Flatten::new());
    let rows = Tensor::rand_uniform([2, 9], -1.0, 1.0, &mut rng).unwrap();
    assert_eq!(net.predict(&rows).unwrap().dims(), &[2, 8]);
    check_module_gradients(&mut net, &rows, GradCheckConfig::default()).unwrap();
    assert!(net.summary(&[9]).unwrap().contains("Unflatten to [1, 3, 3]"));
}
