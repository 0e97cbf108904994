//! Digits end to end: the default run reaches 97%, the files are written, a saved model predicts the
//! same, every optimizer and batching strategy of the command line trains.

use clap::Parser;
use tapegrad::Tensor;
use tapegrad_e2e::{is_png, scratch};
use tapegrad_examples::digits::{default_data_path, load_split};
use tapegrad_nn::data::Batching;
use tapegrad_nn::{Mlp, Module};

#[allow(dead_code)] // the example's `main`
#[path = "../examples/digits.rs"]
mod digits;

use digits::optimizers::OptimizerKind;
use digits::{DigitsArgs, PredictArgs, TrainArgs, parse_batching};

/// The command line with `flags` after the program name, output into `dir`, no progress bar.
fn args(dir: &std::path::Path, flags: &[&str]) -> TrainArgs {
    let out = dir.to_str().unwrap();
    let head = ["digits", "--quiet", "--out", out];
    DigitsArgs::parse_from(head.iter().chain(flags).copied()).train
}

#[test]
fn default_run_reaches_97_percent_and_writes_pictures_and_model() {
    let dir = scratch("digits-default");
    let mut out = Vec::new();
    let report = digits::train(&args(&dir, &[]), &mut out).unwrap();
    assert!(report.test_accuracy >= 0.97, "test accuracy {}", report.test_accuracy);
    assert_eq!(report.history.len(), digits::DEFAULT_EPOCHS);
    assert_eq!(report.model.config().sizes, [64, 128, 64, 10]);

    let text = String::from_utf8(out).unwrap();
    let last = text.lines().last().unwrap();
    assert_eq!(last, format!("test_accuracy={:.4}", report.test_accuracy));
    assert_eq!(last.len(), "test_accuracy=0.XXXX".len());
    assert!(text.contains("actual \\ predicted") && text.contains("precision"), "{text}");

    for png in ["curves.png", "weights.png", "misclassified.png"] {
        assert!(is_png(&dir.join(png)), "{png} missing or not a PNG");
    }
    assert!(report.files.iter().all(|f| f.starts_with(&dir)), "{:?}", report.files);
    let svg = std::fs::read_to_string(dir.join("curves.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("accuracy"));
    assert!(dir.join("model.safetensors").metadata().unwrap().len() > 4 * 17_000);
}

#[test]
fn a_saved_model_reloads_and_predicts_identically() {
    let dir = scratch("digits-reload");
    let report = digits::train(&args(&dir, &["--epochs", "3", "--seed", "7"]), &mut Vec::new()).unwrap();
    let model_path = dir.join("model.safetensors");

    let loaded = Mlp::<f32>::load(&model_path).unwrap();
    let (_, test) = load_split(&default_data_path(), 7).unwrap();
    let a = report.model.predict(test.features()).unwrap();
    let b = loaded.predict(test.features()).unwrap();
    assert_eq!(a.to_vec(), b.to_vec(), "logits differ after reloading");

    // The predict mode on the test split gives the same classes and accuracy as training reported.
    let p = PredictArgs { model: model_path.clone(), row: None, data: default_data_path(), seed: 7 };
    let mut out = Vec::new();
    let pred = digits::predict(&p, &mut out).unwrap();
    assert_eq!(pred, tapegrad::argmax_rows(&a).unwrap());
    let text = String::from_utf8(out).unwrap();
    assert!(text.ends_with(&format!("test_accuracy={:.4}\n", report.test_accuracy)), "{text}");

    // And on one CSV row: the first test digit, unscaled back to 0..16.
    let row: Vec<String> = test.features().data()[..64].iter().map(|v| (v * 16.0).round().to_string()).collect();
    let one = PredictArgs { row: Some(row.join(",")), ..p };
    assert_eq!(digits::predict(&one, &mut Vec::new()).unwrap(), [pred[0]]);
}

#[test]
fn predict_rejects_a_short_row_and_a_missing_model() {
    let err = digits::parse_row("1,2,3").unwrap_err().to_string();
    assert!(err.contains("3 values") && err.contains("64"), "{err}");
    let err = digits::parse_row(&["1"; 63].join(",").replace("1,1,1", "1,x,1")).unwrap_err().to_string();
    assert!(err.contains("column 2"), "{err}");
    let p = PredictArgs {
        model: scratch("digits-missing").join("nope.safetensors"),
        row: None,
        data: default_data_path(),
        seed: 0,
    };
    let err = digits::predict(&p, &mut Vec::new()).unwrap_err().to_string();
    assert!(err.contains("nope.safetensors"), "{err}");
}

#[test]
fn a_row_with_its_label_is_accepted_and_scaled_to_the_unit_range() {
    let row = format!("{},7", ["16"; 64].join(","));
    let x: Tensor<f32> = digits::parse_row(&row).unwrap();
    assert_eq!(x.dims(), &[1, 64]);
    assert!(x.data().iter().all(|&v| v == 1.0));
}

#[test]
fn batch_size_flag_maps_to_the_three_strategies() {
    assert_eq!(parse_batching("full").unwrap(), Batching::Full);
    assert_eq!(parse_batching("0").unwrap(), Batching::Full);
    assert_eq!(parse_batching("1").unwrap(), Batching::Stochastic);
    assert_eq!(parse_batching("32").unwrap(), Batching::MiniBatch { size: 32, drop_last: false });
    assert!(parse_batching("many").unwrap_err().contains("many"));
}

#[test]
fn every_optimizer_trains_a_small_net_well_past_chance() {
    let dir = scratch("digits-optimizers");
    for kind in <OptimizerKind as clap::ValueEnum>::value_variants() {
        let name = clap::ValueEnum::to_possible_value(kind).unwrap().get_name().to_string();
        // First-order: three epochs of mini-batches; full-batch methods: ten iterations over everything.
        let (epochs, want) = if kind.is_full_batch() { ("10", 0.7) } else { ("3", 0.5) };
        let a = args(&dir.join(&name), &["--optimizer", &name, "--epochs", epochs, "--hidden", "32"]);
        let report = digits::train(&a, &mut Vec::new()).unwrap();
        let loss = report.history.train_loss();
        assert!(loss.last().unwrap() < &loss[0], "{name}: loss {loss:?}");
        assert!(report.test_accuracy > want, "{name}: test accuracy {}", report.test_accuracy);
        assert!(is_png(&dir.join(&name).join("curves.png")), "{name}: no curves");
    }
}

#[test]
fn bfgs_refuses_a_net_too_large_for_its_dense_matrix() {
    let dir = scratch("digits-bfgs");
    let err = digits::train(&args(&dir, &["--optimizer", "bfgs"]), &mut Vec::new()).unwrap_err().to_string();
    assert!(err.contains("17226 parameters") && err.contains("lbfgs"), "{err}");
}

#[test]
fn full_batch_methods_refuse_dropout() {
    let dir = scratch("digits-cg-dropout");
    let a = args(&dir, &["--optimizer", "cg", "--dropout", "0.5", "--epochs", "1"]);
    let err = digits::train(&a, &mut Vec::new()).unwrap_err().to_string();
    assert!(err.contains("dropout"), "{err}");
}

#[test]
fn full_batch_stochastic_dropout_and_other_activations_run() {
    let dir = scratch("digits-variants");
    let runs: [&[&str]; 3] = [
        &["--batch-size", "full", "--epochs", "2", "--activation", "tanh"],
        &["--batch-size", "1", "--epochs", "1", "--hidden", "16", "--activation", "sigmoid"],
        &["--dropout", "0.2", "--epochs", "2", "--activation", "leaky-relu", "--hidden", "64,32,16"],
    ];
    for flags in runs {
        let report = digits::train(&args(&dir, flags), &mut Vec::new()).unwrap();
        assert!(report.history.train_loss().iter().all(|l| l.is_finite()), "{flags:?}");
    }
    // One epoch is 1438 steps stochastically but a single step in full batch: the stochastic net has
    // learned most digits, the full-batch one barely started.
    let small = ["--epochs", "1", "--hidden", "16", "--activation", "sigmoid", "--batch-size"];
    let flags = |b: &'static str| small.iter().copied().chain([b]).collect::<Vec<_>>();
    let sgd = digits::train(&args(&dir, &flags("1")), &mut Vec::new()).unwrap();
    let full = digits::train(&args(&dir, &flags("full")), &mut Vec::new()).unwrap();
    assert!(sgd.test_accuracy > 0.6, "stochastic, one epoch: {}", sgd.test_accuracy);
    assert!(
        sgd.test_accuracy > full.test_accuracy + 0.3,
        "stochastic {} vs full batch {}",
        sgd.test_accuracy,
        full.test_accuracy
    );
}

#[test]
fn default_settings_exceed_95_percent_on_other_seeds() {
    let dir = scratch("digits-seeds");
    for seed in ["1", "2", "3", "4"] {
        let report = digits::train(&args(&dir, &["--seed", seed]), &mut Vec::new()).unwrap();
        assert!(report.test_accuracy > 0.95, "seed {seed}: test accuracy {}", report.test_accuracy);
    }
}

#[test]
fn the_weights_picture_shows_the_change_from_initialisation() {
    // The change is trained minus initial: a pixel that is 0 in every training image gives its weights no
    // gradient, so under Adam (no weight decay) they end exactly where they started; the others moved.
    let dir = scratch("digits-weights");
    let report = digits::train(&args(&dir, &["--epochs", "3"]), &mut Vec::new()).unwrap();
    let change = &report.weight_change;
    assert_eq!(change.dims(), &[128, 64]);
    let (train, _) = load_split(&default_data_path(), 0).unwrap();
    let blank: Vec<usize> = (0..64).filter(|&j| train.features().data().chunks(64).all(|r| r[j] == 0.0)).collect();
    assert_eq!(report.blank_pixels, blank);
    assert!(!blank.is_empty() && blank.len() < 10, "blank pixels {blank:?}");
    for j in 0..64 {
        let column_moved = change.data().chunks(64).any(|row| row[j] != 0.0);
        assert_eq!(column_moved, !blank.contains(&j), "pixel {j}");
    }
    // Not the trained weights themselves: those are nowhere zero.
    let trained = report.model.params()[0].1.value().clone();
    assert!(trained.data().iter().all(|&w| w != 0.0));
}

#[test]
fn help_prints_relative_defaults_in_the_flags_format() {
    for argv in [&["digits", "--help"][..], &["digits", "predict", "--help"]] {
        let help = DigitsArgs::try_parse_from(argv).unwrap_err();
        assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
        let text = help.to_string();
        assert!(text.contains("[default: examples/data/digits.csv.gz]"), "{text}");
        assert!(!text.contains(env!("CARGO_MANIFEST_DIR")), "a build-machine path in --help:\n{text}");
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().display().to_string();
        assert!(!text.contains(&root), "a build-machine path in --help:\n{text}");
    }
    let help = DigitsArgs::try_parse_from(["digits", "--help"]).unwrap_err().to_string();
    for shown in ["[default: out/digits]", "[default: adam]", "[default: 128,64]", "[default: 32]", "[default: 60]"] {
        assert!(help.contains(shown), "{shown} missing:\n{help}");
    }
    // Every default shown is accepted back by its flag and gives the same arguments.
    let defaults = DigitsArgs::try_parse_from(["digits"]).unwrap().train;
    let spelled = DigitsArgs::try_parse_from([
        "digits",
        "--data",
        "examples/data/digits.csv.gz",
        "--optimizer",
        "adam",
        "--hidden",
        "128,64",
        "--batch-size",
        "32",
        "--epochs",
        "60",
        "--out",
        "out/digits",
        "--activation",
        "relu",
        "--dropout",
        "0",
        "--seed",
        "0",
    ])
    .unwrap()
    .train;
    assert_eq!(format!("{defaults:?}"), format!("{spelled:?}"));
    // The relative default resolves to the bundled file from any folder.
    assert_eq!(
        std::fs::canonicalize(digits::resolve_data(&defaults.data)).unwrap(),
        std::fs::canonicalize(default_data_path()).unwrap()
    );
    let predict = DigitsArgs::try_parse_from(["digits", "predict"]).unwrap();
    let Some(digits::Command::Predict(p)) = predict.command else { panic!("predict did not parse") };
    assert_eq!(p.model.to_str(), Some("out/digits/model.safetensors"));
}
