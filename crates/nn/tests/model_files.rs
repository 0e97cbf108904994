//! Saving and loading models in safetensors: bit-exact round trips, and a typed error (never a panic, never
//! a half-loaded model) for every kind of bad file.

use rand::SeedableRng;
use rand::rngs::StdRng;
use std::path::PathBuf;
use tapegrad::{Float, Tensor};
use tapegrad_nn::layers::{Activation, Linear, Mlp, MlpConfig};
use tapegrad_nn::{Error, Module, io};

fn mlp<T: Float>(sizes: &[usize], seed: u64) -> Mlp<T> {
    Mlp::new(sizes, Activation::Tanh, Activation::Identity, &mut StdRng::seed_from_u64(seed)).unwrap()
}

fn values<T: Float, M: Module<T>>(m: &M) -> Vec<(String, Vec<T>)> {
    let mut out: Vec<_> = m.params().into_iter().map(|(n, p)| (n, p.value().to_vec())).collect();
    out.extend(m.buffers().into_iter().map(|(n, b)| (n, b.to_vec())));
    out
}

fn bits<T: Float>(v: &[(String, Vec<T>)]) -> Vec<(String, Vec<u64>)> {
    v.iter().map(|(n, xs)| (n.clone(), xs.iter().map(|x| x.f64().to_bits()).collect())).collect()
}

/// A path in the system's temporary directory, unique to this test and process.
fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("tapegrad-nn-{}-{name}.safetensors", std::process::id()))
}

fn model_file_error(r: tapegrad_nn::Result<()>) -> String {
    match r {
        Err(e @ Error::ModelFile { .. }) => e.to_string(),
        other => panic!("expected a model-file error, got {other:?}"),
    }
}

#[test]
fn a_round_trip_through_a_file_is_bit_exact_in_f32_and_f64() {
    let a = mlp::<f32>(&[5, 7, 3], 1);
    let mut b = mlp::<f32>(&[5, 7, 3], 2);
    assert_ne!(values(&a), values(&b));
    let path = temp("roundtrip32");
    io::save(&a, &path).unwrap();
    io::load(&mut b, &path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(bits(&values(&a)), bits(&values(&b)));

    let a = mlp::<f64>(&[5, 7, 3], 3);
    let mut b = mlp::<f64>(&[5, 7, 3], 4);
    io::from_bytes(&mut b, &io::to_bytes(&a).unwrap()).unwrap();
    assert_eq!(bits(&values(&a)), bits(&values(&b)));
}

#[test]
fn loading_keeps_parameter_ids_and_the_loaded_model_computes_the_same_outputs() {
    let a = mlp::<f64>(&[4, 6, 2], 5);
    let mut b = mlp::<f64>(&[4, 6, 2], 6);
    let ids: Vec<_> = b.params().into_iter().map(|(_, p)| p.id()).collect();
    io::from_bytes(&mut b, &io::to_bytes(&a).unwrap()).unwrap();
    assert_eq!(ids, b.params().into_iter().map(|(_, p)| p.id()).collect::<Vec<_>>());
    let x = Tensor::randn([3, 4], 0.0, 1.0, &mut StdRng::seed_from_u64(0)).unwrap();
    assert_eq!(a.predict(&x).unwrap(), b.predict(&x).unwrap());
}

#[test]
fn batch_norm_running_statistics_are_saved_and_restored() {
    let cfg = MlpConfig { sizes: vec![3, 4, 2], batch_norm: true, ..Default::default() };
    let a = Mlp::<f32>::from_config(cfg.clone(), &mut StdRng::seed_from_u64(0)).unwrap();
    // One training-mode forward moves the running statistics away from their initial values.
    a.predict(&Tensor::randn([8, 3], 1.0, 2.0, &mut StdRng::seed_from_u64(1)).unwrap()).unwrap();
    let mut b = Mlp::<f32>::from_config(cfg, &mut StdRng::seed_from_u64(0)).unwrap();
    assert_ne!(values(&a), values(&b));
    io::from_bytes(&mut b, &io::to_bytes(&a).unwrap()).unwrap();
    assert_eq!(bits(&values(&a)), bits(&values(&b)));
    assert_eq!(b.buffers()[0].0, "layers.1.running_mean");
}

#[test]
fn a_truncated_file_is_an_error_and_leaves_the_model_unchanged() {
    let bytes = io::to_bytes(&mlp::<f32>(&[5, 7, 3], 1)).unwrap();
    let mut b = mlp::<f32>(&[5, 7, 3], 2);
    let before = values(&b);
    for len in [0, 4, 8, 20, bytes.len() / 2, bytes.len() - 1] {
        let msg = model_file_error(io::from_bytes(&mut b, &bytes[..len]));
        assert!(msg.starts_with("<bytes>: not a valid safetensors file"), "{len}: {msg}");
    }
    assert_eq!(values(&b), before);
}

#[test]
fn a_truncated_file_on_disk_names_its_path() {
    let bytes = io::to_bytes(&mlp::<f32>(&[2, 2], 1)).unwrap();
    let path = temp("truncated");
    std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    let msg = model_file_error(io::load(&mut mlp::<f32>(&[2, 2], 1), &path));
    std::fs::remove_file(&path).unwrap();
    assert!(msg.starts_with(&format!("{}: not a valid safetensors file", path.display())), "{msg}");
}

#[test]
fn a_wrong_shape_is_an_error_naming_the_tensor_and_both_shapes() {
    let bytes = io::to_bytes(&mlp::<f32>(&[5, 8, 3], 1)).unwrap();
    let mut b = mlp::<f32>(&[5, 7, 3], 2);
    let before = values(&b);
    let msg = model_file_error(io::from_bytes(&mut b, &bytes));
    assert_eq!(msg, "<bytes>: layers.0.weight: shape [8, 5] in the file, the model has [7, 5]");
    assert_eq!(values(&b), before, "nothing is loaded when any tensor mismatches");
}

#[test]
fn missing_and_extra_names_are_errors_listing_them() {
    let mut rng = StdRng::seed_from_u64(0);
    let with_bias = Linear::<f32>::new(3, 2, &mut rng).unwrap();
    let cfg = tapegrad_nn::layers::LinearConfig { bias: false, ..Default::default() };
    let mut without_bias = Linear::<f32>::with_config(3, 2, cfg, &mut rng).unwrap();
    let msg = model_file_error(io::from_bytes(&mut without_bias, &io::to_bytes(&with_bias).unwrap()));
    assert_eq!(msg, "<bytes>: names differ from the model's: missing [], unexpected [\"bias\"]");
    let mut with_bias = with_bias;
    let msg = model_file_error(io::from_bytes(&mut with_bias, &io::to_bytes(&without_bias).unwrap()));
    assert_eq!(msg, "<bytes>: names differ from the model's: missing [\"bias\"], unexpected []");
}

#[test]
fn a_dtype_other_than_the_models_is_an_error() {
    let bytes = io::to_bytes(&mlp::<f64>(&[2, 3], 1)).unwrap();
    let msg = model_file_error(io::from_bytes(&mut mlp::<f32>(&[2, 3], 1), &bytes));
    assert_eq!(msg, "<bytes>: layers.0.weight: dtype F64 in the file, the model uses F32");
}

#[test]
fn garbage_bytes_are_an_error() {
    let mut m = mlp::<f32>(&[2, 3], 1);
    let mut garbage = vec![0u8; 64];
    let mut rng = StdRng::seed_from_u64(9);
    for b in garbage.iter_mut() {
        *b = rand::RngExt::random(&mut rng);
    }
    model_file_error(io::from_bytes(&mut m, &garbage));
    model_file_error(io::from_bytes(&mut m, b"{\"not\": \"a model\"}"));
    // A plausible header length followed by text that is not JSON.
    let mut fake = 10u64.to_le_bytes().to_vec();
    fake.extend(b"not json!!");
    model_file_error(io::from_bytes(&mut m, &fake));
}

#[test]
fn no_single_corrupted_byte_makes_loading_panic() {
    let bytes = io::to_bytes(&mlp::<f32>(&[2, 3, 1], 1)).unwrap();
    let mut m = mlp::<f32>(&[2, 3, 1], 2);
    for i in 0..bytes.len() {
        for v in [0u8, b'9', b'"', b'}', 0xff] {
            let mut bad = bytes.clone();
            bad[i] = v;
            // Either an error or a load of (possibly different) values: never a panic.
            let _ = io::from_bytes(&mut m, &bad);
        }
    }
}

#[test]
fn a_missing_file_is_an_io_error_with_its_path() {
    let err = io::load(&mut mlp::<f32>(&[2, 2], 1), "/nonexistent/dir/model.safetensors").unwrap_err();
    assert!(matches!(err, Error::Io { .. }));
    assert!(err.to_string().starts_with("/nonexistent/dir/model.safetensors: "), "{err}");
}

#[test]
fn read_tensors_lists_every_tensor_of_a_file() {
    let a = mlp::<f64>(&[3, 4, 2], 1);
    let path = temp("read_tensors");
    io::save(&a, &path).unwrap();
    let all = io::read_tensors::<f64>(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let names: Vec<&str> = all.keys().map(|k| k.as_str()).collect();
    assert_eq!(names, ["layers.0.bias", "layers.0.weight", "layers.2.bias", "layers.2.weight"]);
    assert_eq!(&all["layers.2.weight"], a.params()[2].1.value());
}

#[test]
fn a_file_in_pytorch_layout_loads_into_the_matching_mlp() {
    // Written by fixtures/torch_layout_mlp.py in the layout safetensors.torch.save_file gives the state
    // dict of a PyTorch module with `self.layers = Sequential(Linear(3, 4), Tanh(), Linear(4, 2))`.
    let bytes = include_bytes!("fixtures/torch_layout_mlp.safetensors");
    let expected = include_str!("fixtures/torch_layout_mlp_expected.txt");
    let mut net = mlp::<f32>(&[3, 4, 2], 0);
    io::from_bytes(&mut net, bytes).unwrap();
    let mut rows = 0;
    for line in expected.lines().filter(|l| !l.starts_with('#')) {
        let v: Vec<f64> = line.split_whitespace().map(|s| s.parse().unwrap()).collect();
        let x = Tensor::from_vec(v[..3].iter().map(|&a| a as f32).collect(), [1, 3]).unwrap();
        let y = net.predict(&x).unwrap();
        for (got, want) in y.data().iter().zip(&v[3..]) {
            assert!((*got as f64 - want).abs() < 1e-6, "{got} vs {want}");
        }
        rows += 1;
    }
    assert_eq!(rows, 2);
    // Saving it again gives the same tensors (the header may order its keys differently).
    let again = io::to_bytes(&net).unwrap();
    let mut net2 = mlp::<f32>(&[3, 4, 2], 1);
    io::from_bytes(&mut net2, &again).unwrap();
    assert_eq!(bits(&values(&net)), bits(&values(&net2)));
}

#[test]
fn an_mlp_saved_with_its_architecture_loads_without_knowing_it() {
    let cfg = MlpConfig {
        sizes: vec![5, 6, 4, 3],
        hidden: Activation::LeakyRelu { alpha: 1.5, beta: 0.05 },
        output: Activation::LogSoftmax,
        bias: false,
        dropout: 0.25,
        batch_norm: true,
        ..Default::default()
    };
    let mut a = Mlp::<f64>::from_config(cfg.clone(), &mut StdRng::seed_from_u64(0)).unwrap();
    a.predict(&Tensor::randn([8, 5], 0.0, 1.0, &mut StdRng::seed_from_u64(1)).unwrap()).unwrap();
    let path = temp("mlp_arch");
    a.save(&path).unwrap();
    let meta = io::read_metadata(&path).unwrap();
    let mut b = Mlp::<f64>::load(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(meta["format"], "pt");
    assert_eq!(meta["tapegrad.mlp.sizes"], "5,6,4,3");
    assert_eq!(meta["tapegrad.mlp.hidden"], "leaky_relu(1.5, 0.05)");
    assert_eq!(b.config(), &cfg);
    assert_eq!(bits(&values(&a)), bits(&values(&b)));
    a.set_train(false);
    b.set_train(false);
    let x = Tensor::randn([4, 5], 0.0, 1.0, &mut StdRng::seed_from_u64(2)).unwrap();
    assert_eq!(a.predict(&x).unwrap(), b.predict(&x).unwrap());
}

#[test]
fn loading_an_mlp_from_a_file_without_its_architecture_is_an_error() {
    let path = temp("no_arch");
    io::save(&mlp::<f32>(&[2, 3], 1), &path).unwrap();
    let err = Mlp::<f32>::load(&path).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(err, Error::ModelFile { .. }));
    assert!(err.to_string().ends_with("metadata has no tapegrad.mlp.sizes: not saved by Mlp::save"), "{err}");
}

#[test]
fn metadata_is_written_and_read_back_beside_the_format_key() {
    let path = temp("metadata");
    let meta = [("epochs".to_string(), "30".to_string())].into_iter().collect();
    io::save_with_metadata(&mlp::<f32>(&[2, 3], 1), &path, &meta).unwrap();
    let back = io::read_metadata(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(back.len(), 2);
    assert_eq!((back["epochs"].as_str(), back["format"].as_str()), ("30", "pt"));
}
