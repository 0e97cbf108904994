//! Digits, the main job: an MLP 64-128-64-10 learns the 8x8 handwritten digits (1797 images, bundled as
//! `examples/data/digits.csv.gz`).
//!
//! `cargo run --release -p tapegrad-examples --example digits` trains with the defaults and writes into
//! `out/digits/`: the model (`model.safetensors`), the curves (`curves.png`, `curves.svg`), how much each
//! first-layer weight changed in training (`weights.png`) and the misclassified test digits
//! (`misclassified.png`). `... --example digits -- predict` predicts with the saved model; `--help` lists the
//! flags.
//!
//! The default run is the lecture's setup: a stratified 80/20 split with a fixed seed, pixels scaled from
//! `0..16` to `[0, 1]`, an MLP 64-128-64-10 with ReLU, softmax cross-entropy, Adam (lr 1e-3), mini-batches of
//! 32. [`train`] runs it; [`predict`] loads a saved model. `--optimizer` takes every first-order optimizer of
//! `nn` and the full-batch methods that fit a 17k-parameter net (module `optimizers`, beside this file).

#[path = "digits/optimizers.rs"]
pub mod optimizers;

use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use optimizers::{OptimizerKind, build_full_batch, build_optimizer};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tapegrad::Tensor;
use tapegrad_examples::digits::{CLASSES, PIXELS, load_split};
use tapegrad_examples::error::{Error, Result, ensure_trained, io_err, prepare_out_dir, stop_reason};
use tapegrad_examples::heatmap::{self, Scale, Section, Tile};
use tapegrad_examples::plot::{self, Panel};
use tapegrad_nn::Module;
use tapegrad_nn::data::{Batching, Dataset};
use tapegrad_nn::layers::{Activation, Mlp, MlpConfig};
use tapegrad_nn::metrics::{ConfusionMatrix, predict_classes};
use tapegrad_nn::train::{EpochStats, FitConfig, History, Loss, fit};

/// Epochs of the default run (enough for at least 97% test accuracy on the default seed).
pub const DEFAULT_EPOCHS: usize = 60;
/// Largest network the command line builds: 100 million parameters are 1.6 GB in `f32` with their
/// gradients and Adam's two moments, so a network that cannot fit in memory is refused up front.
pub const MAX_PARAMS: usize = 100_000_000;
/// Most hidden layers the command line takes.
pub const MAX_HIDDEN_LAYERS: usize = 64;
/// The `--data` default: the bundled file, relative to the workspace root (see [`resolve_data`]).
pub const DEFAULT_DATA: &str = "examples/data/digits.csv.gz";

/// The command line of the digits example.
#[derive(Debug, Clone, Parser)]
#[command(name = "digits", about = "Train an MLP on the 8x8 handwritten digits, or predict with a saved one")]
pub struct DigitsArgs {
    /// Predict with a saved model instead of training.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Training options.
    #[command(flatten)]
    pub train: TrainArgs,
}

/// The second mode.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Load a saved model and predict a digit from a CSV row, or the whole test split.
    Predict(PredictArgs),
}

/// Options of `digits predict`.
#[derive(Debug, Clone, Args)]
pub struct PredictArgs {
    /// The model file written by training.
    #[arg(long, default_value = "out/digits/model.safetensors")]
    pub model: PathBuf,
    /// 64 comma-separated pixel values 0..16 (a 65th value, the label, is allowed and ignored); without
    /// it, the test split of `--data` with `--seed` is predicted.
    #[arg(long)]
    pub row: Option<String>,
    /// The data file for the test split.
    #[arg(long, default_value = DEFAULT_DATA)]
    pub data: PathBuf,
    /// Seed of the split (use the training seed).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Options of a training run; the defaults are the main job's.
#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// The data file (CSV or .csv.gz, 64 pixels then the label per row).
    #[arg(long, default_value = DEFAULT_DATA)]
    pub data: PathBuf,
    /// The optimizer.
    #[arg(long, value_enum, default_value_t = OptimizerKind::Adam)]
    pub optimizer: OptimizerKind,
    /// Learning rate (default: the optimizer's usual one, 1e-3 for Adam).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Hidden layer sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "128,64")]
    pub hidden: Vec<usize>,
    /// Hidden activation.
    #[arg(long, value_enum, default_value_t = ActivationKind::Relu)]
    pub activation: ActivationKind,
    /// Epochs.
    #[arg(long, default_value_t = DEFAULT_EPOCHS)]
    pub epochs: usize,
    /// Batch size: 1 is stochastic, 0 or "full" is full batch.
    #[arg(long, default_value = "32", value_parser = parse_batching)]
    pub batch_size: Batching,
    /// Dropout probability after each hidden layer.
    #[arg(long, default_value_t = 0.0)]
    pub dropout: f64,
    /// Seed of the split, the initialisation, dropout and the batch order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Folder for pictures and the model.
    #[arg(long, default_value = "out/digits")]
    pub out: PathBuf,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

impl Default for TrainArgs {
    fn default() -> Self {
        DigitsArgs::parse_from(["digits"]).train
    }
}

/// The hidden activations the command line offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ActivationKind {
    /// `max(0, x)`.
    Relu,
    /// Hyperbolic tangent.
    Tanh,
    /// Logistic sigmoid.
    Sigmoid,
    /// Leaky relu with slope 0.01 below zero.
    LeakyRelu,
    /// `ln(1 + e^x)`.
    Softplus,
}

impl ActivationKind {
    /// The `nn` activation.
    pub fn activation(self) -> Activation {
        match self {
            ActivationKind::Relu => Activation::Relu,
            ActivationKind::Tanh => Activation::Tanh,
            ActivationKind::Sigmoid => Activation::Sigmoid,
            ActivationKind::LeakyRelu => Activation::leaky(0.01),
            ActivationKind::Softplus => Activation::Softplus,
        }
    }
}

/// Parses a batch size: `full` or `0` is full batch, `1` stochastic, anything else mini-batches.
///
/// # Errors
/// A message when it is neither `full` nor a number.
pub fn parse_batching(s: &str) -> std::result::Result<Batching, String> {
    match s.trim() {
        "full" | "0" => Ok(Batching::Full),
        "1" => Ok(Batching::Stochastic),
        n => n
            .parse::<usize>()
            .map(|size| Batching::MiniBatch { size, drop_last: false })
            .map_err(|_| format!("batch size must be a number or \"full\", got {n:?}")),
    }
}

/// What a training run produced.
#[derive(Debug)]
pub struct DigitsReport {
    /// Accuracy on the test split after the last epoch.
    pub test_accuracy: f64,
    /// Loss and accuracy per epoch.
    pub history: History,
    /// Test-set confusion matrix.
    pub confusion: ConfusionMatrix,
    /// Mean wall time of one epoch (training and test evaluation).
    pub epoch_time: Duration,
    /// The trained model.
    pub model: Mlp<f32>,
    /// The first layer's weights after training minus before, `[hidden, 64]` (drawn as `weights.png`).
    pub weight_change: Tensor<f32>,
    /// The pixels that are 0 in every training image (their weights get no gradient).
    pub blank_pixels: Vec<usize>,
    /// Files written into the output folder.
    pub files: Vec<PathBuf>,
}

fn main() -> std::process::ExitCode {
    let args = DigitsArgs::parse();
    let mut out = std::io::stdout();
    let result = match &args.command {
        Some(Command::Predict(p)) => predict(p, &mut out).map(|_| ()),
        None => train(&args.train, &mut out).map(|_| ()),
    };
    tapegrad_examples::error::report(result)
}

/// Trains with `args`, prints the results to `out` (the last line is `test_accuracy=0.XXXX`) and writes the
/// model, then the curves, the weight tiles and the misclassified digits into `args.out`.
///
/// The flags are checked and `args.out` is created and checked writable before the data is loaded. A run
/// that diverges prints why, saves nothing and returns [`Error::Diverged`] (the command exits non-zero).
///
/// # Errors
/// Bad options ([`Error::Input`] or `nn`'s config errors), data, training, drawing and file errors;
/// [`Error::Diverged`].
pub fn train(args: &TrainArgs, out: &mut dyn Write) -> Result<DigitsReport> {
    let say = |out: &mut dyn Write, msg: String| writeln!(out, "{msg}").map_err(io_err("stdout"));
    let cfg = validate(args)?;
    prepare_out_dir(&args.out)?;
    // Pixels 0..16 scaled to [0, 1], a stratified 80/20 split (shared with the `cnn` example).
    let (train_set, test_set) = load_split(&resolve_data(&args.data), args.seed)?;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let sizes = cfg.sizes.clone();
    let mut model = Mlp::<f32>::from_config(cfg, &mut rng)?;
    let initial = first_layer(&model)?; // kept to draw what training changed
    let full_batch = build_full_batch(args.optimizer, model.num_params())?;
    let mut opt = if full_batch.is_none() { Some(build_optimizer::<f32>(args.optimizer, args.lr)?) } else { None };
    let batching = match (args.batch_size, &full_batch) {
        (_, Some(_)) => "full batch, one iteration per epoch".to_string(),
        (Batching::Full, None) => "full batch".to_string(),
        (Batching::Stochastic, None) => "stochastic (batch 1)".to_string(),
        (Batching::MiniBatch { size, .. }, None) => format!("mini-batch {size}"),
    };
    let lr = opt.as_ref().map(|o| format!(" lr {}", o.lr())).unwrap_or_default();
    let act = args.activation.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default();
    let optimizer = args.optimizer.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default();
    say(
        out,
        format!(
            "digits: {} train / {} test; MLP {sizes:?} {act}, {} parameters; {optimizer}{lr}, {batching}, {} epochs",
            train_set.len(),
            test_set.len(),
            model.num_params(),
            args.epochs,
        ),
    )?;

    let bar = if args.quiet { ProgressBar::hidden() } else { ProgressBar::new(args.epochs as u64) };
    bar.set_style(
        ProgressStyle::with_template("{bar:30.cyan/blue} epoch {pos}/{len} {msg} [{elapsed}]")
            .map_err(|e| Error::Input { what: "progress bar".into(), msg: e.to_string() })?,
    );
    let mut on_epoch = |e: &EpochStats| {
        bar.set_position(e.epoch as u64 + 1); // epochs count from 0, the bar from 1
        bar.set_message(format!(
            "loss {:.4} acc {:.4} | test loss {:.4} acc {:.4}",
            e.train_loss,
            e.train_acc.unwrap_or(f64::NAN),
            e.val_loss.unwrap_or(f64::NAN),
            e.val_acc.unwrap_or(f64::NAN)
        ));
        ControlFlow::Continue(())
    };
    let history = match (full_batch, opt.as_mut()) {
        (Some(mut method), _) => {
            optimizers::train_full_batch(&mut model, &mut method, &train_set, &test_set, args.epochs, &mut on_epoch)?
        }
        (None, Some(opt)) => {
            let fit_cfg = FitConfig {
                epochs: args.epochs,
                batching: args.batch_size,
                loss: Loss::SoftmaxCrossEntropy,
                validation: Some(&test_set),
                rng: Some(&mut rng),
                on_epoch: Some(&mut on_epoch),
                ..Default::default()
            };
            fit(&mut model, &mut **opt, &train_set, fit_cfg)?
        }
        (None, None) => return Err(Error::Check("no optimizer was built".into())),
    };
    bar.finish();
    model.set_train(false);
    say(out, format!("training: {}", stop_reason(&history)))?;
    ensure_trained(&history, &model)?;

    let truth = test_set.labels().ok_or_else(|| Error::Check("digits test set without labels".into()))?.to_vec();
    let logits = model.predict(test_set.features())?;
    let pred = predict_classes(&logits)?;
    let confusion = ConfusionMatrix::new(&truth, &pred, CLASSES)?;
    let epochs = history.len().max(1) as u32;
    let epoch_time = history.total_time / epochs;
    if let Some(last) = history.last() {
        say(
            out,
            format!(
                "epoch {}: train loss {:.4}, train accuracy {:.4}, test loss {:.4}; {:.1} ms per epoch",
                last.epoch + 1,
                last.train_loss,
                last.train_acc.unwrap_or(f64::NAN),
                last.val_loss.unwrap_or(f64::NAN),
                epoch_time.as_secs_f64() * 1e3
            ),
        )?;
    }
    print_metrics(out, &confusion).map_err(io_err("stdout"))?;
    // What training changed in the first layer: zero wherever a pixel is blank in every training image.
    let trained = first_layer(&model)?;
    let change: Vec<f32> = trained.data().iter().zip(initial.data()).map(|(a, b)| a - b).collect();
    let weight_change = Tensor::from_vec(change, trained.dims())?;
    let x = train_set.features();
    let blank_pixels: Vec<usize> = (0..PIXELS).filter(|&j| x.data().chunks(PIXELS).all(|r| r[j] == 0.0)).collect();
    let change = weight_change.data();
    let mean_change = change.iter().map(|v| f64::from(v.abs())).sum::<f64>() / change.len().max(1) as f64;
    let still = change.chunks(PIXELS).filter(|unit| unit.iter().all(|v| v.abs() < 0.01)).count();
    say(
        out,
        format!(
            "first layer, trained minus initial: mean |change| {mean_change:.4}; {still} of {} units changed by less \
             than 0.01 everywhere; pixels {blank_pixels:?} are 0 in every training image (no gradient, no change)",
            change.len() / PIXELS
        ),
    )?;
    let files = write_outputs(&args.out, &history, &model, &weight_change, &test_set, &pred)?;
    for f in &files {
        say(out, format!("wrote {}", f.display()))?;
    }
    let test_accuracy = confusion.accuracy();
    say(out, format!("test_accuracy={test_accuracy:.4}"))?;
    Ok(DigitsReport { test_accuracy, history, confusion, epoch_time, model, weight_change, blank_pixels, files })
}

/// `n` with thousands separators: `17,226`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Checks every training flag and returns the network's configuration; nothing is allocated or trained
/// before this passes.
///
/// # Errors
/// [`Error::Input`] naming the flag: zero epochs; a learning rate that is not finite and positive in `f32`
/// (`1e39` is infinite there); a dropout outside `[0, 1)`; a zero hidden width, more than
/// [`MAX_HIDDEN_LAYERS`] hidden layers, or a network of more than [`MAX_PARAMS`] parameters (named).
pub fn validate(args: &TrainArgs) -> Result<MlpConfig> {
    let bad = |what: &str, msg: String| Err(Error::Input { what: what.into(), msg });
    if args.epochs == 0 {
        return bad("--epochs", "must be at least 1".into());
    }
    if let Some(lr) = args.lr
        && !(lr.is_finite() && lr > 0.0 && (lr as f32).is_finite() && lr as f32 > 0.0)
    {
        return bad("--lr", format!("{lr:e} must be finite and > 0 in f32, the model's type"));
    }
    if !(0.0..1.0).contains(&args.dropout) {
        return bad("--dropout", format!("{} is not in [0, 1)", args.dropout));
    }
    if args.hidden.len() > MAX_HIDDEN_LAYERS {
        return bad("--hidden", format!("{} layers; at most {MAX_HIDDEN_LAYERS}", args.hidden.len()));
    }
    if args.hidden.contains(&0) {
        return bad("--hidden", format!("widths must be positive, got {:?}", args.hidden));
    }
    let sizes: Vec<usize> = std::iter::once(PIXELS).chain(args.hidden.iter().copied()).chain([CLASSES]).collect();
    let cfg = MlpConfig {
        sizes: sizes.clone(),
        hidden: args.activation.activation(),
        dropout: args.dropout,
        ..Default::default()
    };
    match cfg.num_params() {
        Some(n) if n <= MAX_PARAMS => Ok(cfg),
        Some(n) => bad(
            "--hidden",
            format!(
                "an MLP {sizes:?} has {} parameters; at most {} fit (with gradients and optimizer state)",
                thousands(n),
                thousands(MAX_PARAMS)
            ),
        ),
        None => bad("--hidden", format!("an MLP {sizes:?} has more than {} parameters", thousands(usize::MAX))),
    }
}

/// Parses one CSV row of 64 pixel values `0..16` (a 65th value, a label, is ignored) into a `[1, 64]`
/// input scaled to `[0, 1]`.
///
/// # Errors
/// [`Error::Input`] naming the column of a bad or non-finite value (NaN, inf, or a number such as `1e39`
/// that is infinite in `f32`), or the wrong count.
pub fn parse_row(row: &str) -> Result<Tensor<f32>> {
    let bad = |msg: String| Error::Input { what: "--row".into(), msg };
    let values = row
        .split(',')
        .enumerate()
        .map(|(i, f)| {
            f.trim().parse::<f32>().map_err(|_| bad(format!("column {}: not a number: {:?}", i + 1, f.trim())))
        })
        .collect::<Result<Vec<f32>>>()?;
    if values.len() != PIXELS && values.len() != PIXELS + 1 {
        return Err(bad(format!("{} values, expected {PIXELS} pixels (and optionally a label)", values.len())));
    }
    // 1e39 parses as an f32 infinity; NaN and infinities would give a NaN "prediction".
    if let Some(i) = values[..PIXELS].iter().position(|v| !v.is_finite()) {
        return Err(bad(format!("column {}: {} is not a finite pixel value", i + 1, values[i])));
    }
    Ok(Tensor::from_vec(values[..PIXELS].iter().map(|v| v / 16.0).collect(), [1, PIXELS])?)
}

/// Loads a saved model and predicts `args.row`, or the test split (printing its accuracy). Returns the
/// predicted classes; the last line printed is `prediction=D` or `test_accuracy=0.XXXX`.
///
/// # Errors
/// Model-file errors (missing, corrupt, wrong architecture), bad rows, data errors.
pub fn predict(args: &PredictArgs, out: &mut dyn Write) -> Result<Vec<usize>> {
    let say = |out: &mut dyn Write, msg: String| writeln!(out, "{msg}").map_err(io_err("stdout"));
    let mut model = Mlp::<f32>::load(&args.model)?;
    model.set_train(false);
    let sizes = &model.config().sizes;
    if sizes.first() != Some(&PIXELS) || sizes.last() != Some(&CLASSES) {
        return Err(Error::Input {
            what: args.model.display().to_string(),
            msg: format!(
                "an MLP {sizes:?} is not a digits model: it must take {PIXELS} pixels and give {CLASSES} classes"
            ),
        });
    }
    say(out, format!("loaded {} (MLP {:?})", args.model.display(), model.config().sizes))?;
    if let Some(row) = &args.row {
        let probs = tapegrad::softmax_rows(&model.predict(&parse_row(row)?)?)?;
        let pred = predict_classes(&probs)?;
        let shown: Vec<String> = probs.data().iter().enumerate().map(|(c, p)| format!("{c}:{p:.3}")).collect();
        say(out, format!("probabilities {}", shown.join(" ")))?;
        say(out, format!("prediction={}", pred[0]))?;
        return Ok(pred);
    }
    let (_, test_set) = load_split(&resolve_data(&args.data), args.seed)?;
    let pred = predict_classes(&model.predict(test_set.features())?)?;
    let truth = test_set.labels().ok_or_else(|| Error::Check("digits test set without labels".into()))?;
    let confusion = ConfusionMatrix::new(truth, &pred, CLASSES)?;
    say(out, format!("{} test digits", pred.len()))?;
    say(out, format!("test_accuracy={:.4}", confusion.accuracy()))?;
    Ok(pred)
}

/// Most misclassified digits drawn.
pub const MAX_MISTAKES: usize = 40;

/// Prints the confusion matrix and precision, recall and F1 per class with their macro averages.
///
/// # Errors
/// Write errors.
pub fn print_metrics(out: &mut dyn Write, cm: &ConfusionMatrix) -> std::io::Result<()> {
    writeln!(out, "\nconfusion matrix (test):\n{cm}")?;
    writeln!(out, "{:>5} {:>9} {:>9} {:>9} {:>8}", "class", "precision", "recall", "f1", "support")?;
    for (c, s) in cm.per_class().iter().enumerate() {
        writeln!(out, "{c:>5} {:>9.4} {:>9.4} {:>9.4} {:>8}", s.precision, s.recall, s.f1, s.support)?;
    }
    let (p, r, f) = cm.macro_avg();
    writeln!(out, "{:>5} {p:>9.4} {r:>9.4} {f:>9.4} {:>8}\n", "macro", cm.total())
}

/// The first layer's weight matrix `[hidden, 64]`, copied.
fn first_layer(model: &Mlp<f32>) -> Result<Tensor<f32>> {
    let (_, w) = model.params().into_iter().next().ok_or_else(|| Error::Check("the model has no parameters".into()))?;
    Ok(w.value().clone())
}

/// A relative `--data` path that does not exist from the current folder is looked up from the workspace
/// root too, so the default works wherever `cargo run` is started.
pub fn resolve_data(path: &Path) -> PathBuf {
    let root = tapegrad_examples::workspace_root();
    if path.is_relative() && !path.exists() && root.join(path).exists() { root.join(path) } else { path.to_path_buf() }
}

/// Writes `model.safetensors` first (a failed picture must not lose the model), then `curves.{png,svg}`,
/// `weights.png` (each hidden unit's change of its 64 input weights as an 8x8 tile, all tiles on one
/// diverging colour scale with its colour bar) and `misclassified.png` into `dir`.
///
/// # Errors
/// Folder, drawing and model-file errors.
pub fn write_outputs(
    dir: &Path,
    history: &History,
    model: &Mlp<f32>,
    weight_change: &Tensor<f32>,
    test: &Dataset<f32>,
    pred: &[usize],
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let model_path = dir.join("model.safetensors");
    model.save(&model_path)?;
    let mut files = vec![model_path];
    let (train_loss, test_loss) = (history.train_loss(), history.val_loss());
    let (train_acc, test_acc) = (history.train_acc(), history.val_acc());
    let panels = [
        Panel { title: "loss (softmax cross-entropy)", series: vec![("train", &train_loss), ("test", &test_loss)] },
        Panel { title: "accuracy", series: vec![("train", &train_acc), ("test", &test_acc)] },
    ];
    files.extend(plot::curves(&dir.join("curves"), &panels)?);

    let side = 8;
    let tiles: Vec<Tile> = weight_change
        .data()
        .chunks(PIXELS)
        .enumerate()
        .map(|(unit, w)| Tile::new(w, side, side, format!("{unit}")))
        .collect();
    let title = format!(
        "first-layer weights: trained minus initial, {} hidden units x 8x8 pixels, one colour scale",
        tiles.len()
    );
    let section = Section { title, scale: Scale::diverging_over(&tiles), tiles, per_row: 16, cell: 8, numbers: false };
    files.push(heatmap::sections(&dir.join("weights.png"), &[section])?);

    let truth = test.labels().ok_or_else(|| Error::Check("digits test set without labels".into()))?;
    let x = test.features();
    let wrong: Vec<usize> = (0..truth.len()).filter(|&i| truth[i] != pred[i]).take(MAX_MISTAKES).collect();
    let images: Vec<Vec<f64>> =
        wrong.iter().map(|&i| x.data()[i * PIXELS..(i + 1) * PIXELS].iter().map(|&v| f64::from(v)).collect()).collect();
    let captions: Vec<String> = wrong.iter().map(|&i| format!("{} (true {})", pred[i], truth[i])).collect();
    files.push(plot::image_grid(&dir.join("misclassified.png"), &images, side, 8, &captions)?);
    Ok(files)
}
