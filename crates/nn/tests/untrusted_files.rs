//! Model and data files are untrusted input: a header or a label that claims more than the file holds is a
//! typed error raised before anything is sized by it, and error messages stay short whatever the file says.
//! One test per finding of issue 11 on files (the fuzz suite in `fuzz_loaders.rs` covers the class).

use rand::SeedableRng;
use rand::rngs::StdRng;
use safetensors::tensor::{Dtype, TensorView};
use std::collections::HashMap;
use tapegrad_nn::data::{CsvOptions, Dataset};
use tapegrad_nn::layers::{Activation, Mlp};
use tapegrad_nn::metrics::ConfusionMatrix;
use tapegrad_nn::{Error, Module};

/// A safetensors file holding `tensors` (f32, zero-filled) with the metadata of `Mlp::save`, except for the
/// keys given in `overrides`.
fn mlp_file(tensors: &[(String, Vec<usize>)], overrides: &[(&str, &str)]) -> Vec<u8> {
    let mut meta: HashMap<String, String> = [
        ("tapegrad.mlp.sizes", "4,3,2"),
        ("tapegrad.mlp.hidden", "relu"),
        ("tapegrad.mlp.output", "identity"),
        ("tapegrad.mlp.bias", "true"),
        ("tapegrad.mlp.dropout", "0"),
        ("tapegrad.mlp.batch_norm", "false"),
        ("format", "pt"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in overrides {
        meta.insert(k.to_string(), v.to_string());
    }
    let bytes: Vec<Vec<u8>> = tensors.iter().map(|(_, s)| vec![0u8; 4 * s.iter().product::<usize>()]).collect();
    let views: Vec<(&str, TensorView<'_>)> = tensors
        .iter()
        .zip(&bytes)
        .map(|((n, s), b)| (n.as_str(), TensorView::new(Dtype::F32, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize(views, Some(meta)).unwrap()
}

/// The tensors of a `[4, 3, 2]` relu MLP.
fn small_tensors() -> Vec<(String, Vec<usize>)> {
    vec![
        ("layers.0.weight".into(), vec![3, 4]),
        ("layers.0.bias".into(), vec![3]),
        ("layers.2.weight".into(), vec![2, 3]),
        ("layers.2.bias".into(), vec![2]),
    ]
}

fn model_file_error(bytes: &[u8]) -> String {
    match Mlp::<f32>::from_bytes(bytes) {
        Err(e @ Error::ModelFile { .. }) => e.to_string(),
        other => panic!("expected a model-file error, got {other:?}"),
    }
}

#[test]
fn the_test_file_helper_builds_a_loadable_model() {
    let mlp = Mlp::<f32>::from_bytes(&mlp_file(&small_tensors(), &[])).unwrap();
    assert_eq!(mlp.config().sizes, [4, 3, 2]);
    assert_eq!(mlp.num_params(), 23);
}

#[test]
fn mlp_load_checks_header_sizes_against_the_tensors_before_building() {
    // 1,000,000 x 1,000,000 would be 4 TB; 30,000 x 30,000 took 3.6 GB and 8.7 s before the error.
    for sizes in ["1000000,1000000", "30000,30000", "4,30000,2"] {
        let err = model_file_error(&mlp_file(&small_tensors(), &[("tapegrad.mlp.sizes", sizes)]));
        assert!(err.contains("do not match the recorded architecture") || err.contains("shape"), "{sizes}: {err}");
    }
    // Right names, wrong shapes.
    let err = model_file_error(&mlp_file(&small_tensors(), &[("tapegrad.mlp.sizes", "4,30000,2")]));
    assert_eq!(err, "<bytes>: layers.0.weight: shape [3, 4] in the file, the recorded architecture needs [30000, 4]");
}

#[test]
fn mlp_load_refuses_sizes_that_overflow_instead_of_panicking() {
    for sizes in ["18446744073709551615,2", "4294967296,4294967296", "18446744073709551616,2", "-1,2", "4,,2"] {
        let err = model_file_error(&mlp_file(&small_tensors(), &[("tapegrad.mlp.sizes", sizes)]));
        assert!(err.len() < 300, "{err}");
    }
}

#[test]
fn mlp_load_bounds_the_layer_count_by_the_tensors_in_the_file_and_keeps_the_message_short() {
    // A header claiming 200,002 layers used to produce a 9 MB error message.
    let sizes = vec!["2"; 200_003].join(",");
    let err = model_file_error(&mlp_file(&small_tensors(), &[("tapegrad.mlp.sizes", &sizes)]));
    assert_eq!(
        err,
        "<bytes>: metadata tapegrad.mlp.sizes lists 200,003 layer sizes, but the file holds 4 tensors (each layer \
         needs its weight)"
    );
    // A file that does hold many tensors, none of them the right ones: the lists are cut.
    let many: Vec<(String, Vec<usize>)> = (0..20_000).map(|i| (format!("junk.{i}"), vec![1])).collect();
    let err = model_file_error(&mlp_file(&many, &[("tapegrad.mlp.sizes", &vec!["2"; 5_000].join(","))]));
    assert!(err.len() < 2_000, "{} bytes: {err}", err.len());
    assert!(err.contains("... and 19,992 more]"), "{err}");
}

#[test]
fn mlp_load_refuses_non_finite_activation_slopes_and_dropout_from_the_header() {
    for (key, value) in [
        ("tapegrad.mlp.hidden", "leaky_relu(nan, inf)"),
        ("tapegrad.mlp.hidden", "leaky_relu(1e400)"),
        ("tapegrad.mlp.dropout", "NaN"),
        ("tapegrad.mlp.dropout", "1"),
        ("tapegrad.mlp.output", &"x".repeat(100_000)),
    ] {
        let err = model_file_error(&mlp_file(&small_tensors(), &[(key, value)]));
        assert!(err.len() < 300, "{key}: {err}");
    }
}

#[test]
fn mlp_load_refuses_a_dtype_other_than_the_models() {
    let bytes = mlp_file(&small_tensors(), &[]);
    let err = match Mlp::<f64>::from_bytes(&bytes) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("an f32 file loaded as f64"),
    };
    assert_eq!(err, "<bytes>: layers.0.weight: dtype F32 in the file, the model uses F64");
}

#[test]
fn a_huge_class_label_is_refused_by_the_csv_loader_naming_its_line() {
    // Labels sized one Vec per class up to the label in stratified_split: 24 TB for 999999999999.
    let csv = "1,2,0\n3,4,1\n5,6,999999999999\n7,8,1\n";
    let err = Dataset::<f32>::from_csv_reader(csv.as_bytes(), "big.csv", &CsvOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "big.csv:3:3: class label 999999999999 is not below the number of rows (4): class labels must be \
         indices 0, 1, ... of classes present in the file"
    );
}

#[test]
fn stratified_split_sizes_nothing_by_the_largest_label() {
    use tapegrad_nn::data::Targets;
    let x = tapegrad::Tensor::<f32>::zeros([4, 1]).unwrap();
    let t = Targets::Classes { labels: vec![0, 1, 999_999_999_999, 1], num_classes: 1_000_000_000_000 };
    let ds = Dataset::new(x, t).unwrap();
    let (train, test) = ds.stratified_split(0.5, &mut StdRng::seed_from_u64(0)).unwrap();
    assert_eq!(train.len() + test.len(), 4);
    assert_eq!(test.num_classes(), Some(1_000_000_000_000));
}

#[test]
fn a_confusion_matrix_of_too_many_classes_is_a_typed_error() {
    // 10^6 classes aborted (8 TB); 2^32 wrapped to 0 and panicked on the first count.
    for k in [1_000_000usize, 1 << 32, usize::MAX] {
        let err = ConfusionMatrix::new(&[0, 1], &[1, 0], k).unwrap_err();
        assert!(matches!(err, Error::Config { what: "confusion matrix", .. }), "{k}: {err}");
        assert!(err.to_string().contains("classes"), "{err}");
    }
}

#[test]
fn a_saved_mlp_still_loads_after_the_checks() {
    let mlp = Mlp::<f32>::new(&[5, 7, 3], Activation::leaky(0.2), Activation::Identity, &mut StdRng::seed_from_u64(1));
    let mlp = mlp.unwrap();
    let path = std::env::temp_dir().join(format!("tapegrad-untrusted-{}.safetensors", std::process::id()));
    mlp.save(&path).unwrap();
    let back = Mlp::<f32>::load(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let x = tapegrad::Tensor::ones([2, 5]).unwrap();
    assert_eq!(back.predict(&x).unwrap(), mlp.predict(&x).unwrap());
}
