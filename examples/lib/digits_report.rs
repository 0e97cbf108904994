//! What the digits example prints and draws after training: per-class metrics, the curves, the first
//! layer's weights as 8x8 tiles, the misclassified test digits, and the model file.

use crate::error::{Error, Result, io_err};
use crate::plot::{self, Panel};
use std::io::Write;
use std::path::{Path, PathBuf};
use tapegrad_nn::Module;
use tapegrad_nn::data::Dataset;
use tapegrad_nn::layers::Mlp;
use tapegrad_nn::metrics::ConfusionMatrix;
use tapegrad_nn::train::History;

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

/// Writes `model.safetensors` first (a failed picture must not lose the model), then `curves.{png,svg}`,
/// `weights.png` and `misclassified.png` into `dir`.
///
/// # Errors
/// Folder, drawing and model-file errors.
pub fn write_outputs(
    dir: &Path,
    history: &History,
    model: &Mlp<f32>,
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

    let (_, w) = model.params().into_iter().next().ok_or_else(|| Error::Check("the model has no parameters".into()))?;
    let w = w.value();
    let inputs = w.dims().get(1).copied().unwrap_or(0);
    let tiles: Vec<Vec<f64>> =
        w.data().chunks(inputs.max(1)).map(|r| r.iter().map(|&v| f64::from(v)).collect()).collect();
    let side = (inputs as f64).sqrt() as usize;
    files.push(plot::weight_tiles(&dir.join("weights.png"), &tiles, side, 16)?);

    let truth = test.labels().ok_or_else(|| Error::Check("digits test set without labels".into()))?;
    let x = test.features();
    let n = x.dims()[1];
    let wrong: Vec<usize> = (0..truth.len()).filter(|&i| truth[i] != pred[i]).take(MAX_MISTAKES).collect();
    let images: Vec<Vec<f64>> =
        wrong.iter().map(|&i| x.data()[i * n..(i + 1) * n].iter().map(|&v| f64::from(v)).collect()).collect();
    let captions: Vec<String> = wrong.iter().map(|&i| format!("{} (true {})", pred[i], truth[i])).collect();
    files.push(plot::image_grid(&dir.join("misclassified.png"), &images, side, 8, &captions)?);
    Ok(files)
}
