//! Lecture 004's initialisation advice for sigmoid units: He initialisation, offered beside the default
//! (Xavier) by `Init::for_activation_lecture`. The measured effect: in a deep sigmoid network the gradient that
//! reaches the first layer is larger with He than with Xavier.

use rand::SeedableRng;
use tapegrad::{Tape, Tensor};
use tapegrad_nn::init::Init;
use tapegrad_nn::layers::MlpConfig;
use tapegrad_nn::{Activation, Mlp, Module};

/// The norm of the loss gradient of the first and the last weight matrix of a 10-layer sigmoid MLP.
fn first_and_last_grad_norms(init: Init, seed: u64) -> (f64, f64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut sizes = vec![16];
    sizes.extend([32; 9]);
    sizes.push(1);
    let cfg = MlpConfig {
        sizes,
        hidden: Activation::Sigmoid,
        output: Activation::Identity,
        init: Some(init),
        ..Default::default()
    };
    let net = Mlp::<f64>::from_config(cfg, &mut rng).unwrap();
    let x = Tensor::randn([64, 16], 0.0, 1.0, &mut rng).unwrap();
    let y = Tensor::randn([64, 1], 0.0, 1.0, &mut rng).unwrap();
    let tape = Tape::new();
    let loss = net.forward(&tape, tape.input(x)).unwrap().mse(tape.input(y)).unwrap();
    let grads = loss.backward().unwrap();
    let weights: Vec<_> = net.params().into_iter().filter(|(name, _)| name.ends_with("weight")).collect();
    let norm = |p: &tapegrad::Param<f64>| grads.param(p).unwrap().data().iter().map(|g| g * g).sum::<f64>().sqrt();
    (norm(weights[0].1), norm(weights[weights.len() - 1].1))
}

#[test]
fn lecture_004_gives_sigmoid_he_and_the_default_keeps_xavier() {
    assert_eq!(Init::for_activation_lecture(Activation::Sigmoid), Init::HeNormal);
    assert_eq!(Init::for_activation(Activation::Sigmoid), Init::XavierUniform);
    assert_eq!(Init::for_activation_lecture(Activation::Relu), Init::HeNormal);
    assert_eq!(Init::for_activation_lecture(Activation::Tanh), Init::for_activation(Activation::Tanh));
}

#[test]
fn he_lets_more_gradient_reach_the_first_layer_of_a_deep_sigmoid_net() {
    for seed in 0..3 {
        let (x_first, x_last) = first_and_last_grad_norms(Init::XavierUniform, seed);
        let (h_first, h_last) = first_and_last_grad_norms(Init::for_activation_lecture(Activation::Sigmoid), seed);
        println!(
            "seed {seed}: first-layer / last-layer gradient norm, Xavier {:.3e} ({x_first:.3e} / {x_last:.3e}), \
             He {:.3e} ({h_first:.3e} / {h_last:.3e})",
            x_first / x_last,
            h_first / h_last
        );
        assert!(h_first / h_last > 2.0 * (x_first / x_last), "seed {seed}");
    }
}
