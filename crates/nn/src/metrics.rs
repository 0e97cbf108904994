//! Classification and regression metrics, computed in `f64` whatever the element type.
//!
//! Conventions (those of scikit-learn): confusion-matrix rows are the actual class and columns the predicted
//! one; a precision, recall or F1 whose denominator is 0 counts as 0; macro averages are unweighted means
//! over the classes that occur in the truth or the predictions; R^2 averages the per-column scores and, for a
//! constant target column, is 1 for a perfect prediction and 0 otherwise.
//!
//! ```
//! use tapegrad_nn::metrics::ConfusionMatrix;
//! let cm = ConfusionMatrix::new(&[0, 0, 1, 1], &[0, 1, 1, 1], 2).unwrap().with_labels(&["cat", "dog"]).unwrap();
//! assert_eq!(cm.accuracy(), 0.75);
//! assert_eq!(cm.precision(1), 2.0 / 3.0);
//! print!("{cm}");
//! ```

use crate::error::{Error, Result};
use std::fmt;
use tapegrad::{Float, Tensor};

fn bad<R>(what: &'static str, msg: String) -> Result<R> {
    Err(Error::Config { what, msg })
}

fn same_len(what: &'static str, truth: usize, pred: usize) -> Result<()> {
    match (truth, pred) {
        (0, _) => bad(what, "no examples".into()),
        (t, p) if t != p => bad(what, format!("{t} true labels but {p} predictions")),
        _ => Ok(()),
    }
}

/// Fraction of predictions equal to the true label.
///
/// # Errors
/// [`Error::Config`] when the lengths differ or are 0.
///
/// ```
/// assert_eq!(tapegrad_nn::metrics::accuracy(&[0, 1, 2, 2], &[0, 1, 1, 2]).unwrap(), 0.75);
/// ```
pub fn accuracy(truth: &[usize], pred: &[usize]) -> Result<f64> {
    same_len("accuracy", truth.len(), pred.len())?;
    Ok(truth.iter().zip(pred).filter(|(a, b)| a == b).count() as f64 / truth.len() as f64)
}

/// The predicted class of each row of logits or probabilities `[N, C]` (the first on ties).
///
/// # Errors
/// Engine error unless the input is rank 2.
pub fn predict_classes<T: Float>(scores: &Tensor<T>) -> Result<Vec<usize>> {
    Ok(tapegrad::argmax_rows(scores)?)
}

/// Mean negative log-likelihood of the true classes: `-mean_i log p_i[y_i]`, with probabilities clipped to
/// `[1e-15, 1 - 1e-15]` so a confident mistake costs about 34.5 instead of infinity. `probs` is `[N, C]`, or
/// `[N, 1]` holding `p(class 1)` for a binary problem.
///
/// # Errors
/// [`Error::Config`] for a shape that is neither, a label count other than `N`, a label out of range, or a
/// probability outside `[0, 1]`.
///
/// ```
/// use tapegrad::Tensor;
/// let p = Tensor::<f64>::from_vec(vec![0.8, 0.2, 0.3, 0.7], [2, 2]).unwrap();
/// let l = tapegrad_nn::metrics::log_loss(&p, &[0, 1]).unwrap();
/// assert!((l + (0.8f64.ln() + 0.7f64.ln()) / 2.0).abs() < 1e-12);
/// ```
pub fn log_loss<T: Float>(probs: &Tensor<T>, truth: &[usize]) -> Result<f64> {
    let what = "log_loss";
    let &[n, c] = probs.dims() else {
        return bad(what, format!("expected probabilities [N, C], got {}", probs.shape()));
    };
    same_len(what, truth.len(), n)?;
    if let Some(p) = probs.data().iter().find(|p| !(0.0..=1.0).contains(&p.f64())) {
        return bad(what, format!("probability {p} outside [0, 1]"));
    }
    let classes = if c == 1 { 2 } else { c };
    if let Some((i, &y)) = truth.iter().enumerate().find(|(_, y)| **y >= classes) {
        return bad(what, format!("label {y} of row {i} out of range for probabilities {}", probs.shape()));
    }
    let eps = 1e-15;
    let nll: f64 = probs
        .data()
        .chunks(c.max(1))
        .zip(truth)
        .map(|(row, &y)| {
            let p = if c == 1 { if y == 1 { row[0].f64() } else { 1.0 - row[0].f64() } } else { row[y].f64() };
            -p.clamp(eps, 1.0 - eps).ln()
        })
        .sum();
    Ok(nll / n as f64)
}

/// Precision, recall, F1 and support of one class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassScores {
    /// Correct predictions of the class over all predictions of it.
    pub precision: f64,
    /// Correct predictions of the class over all its examples.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Number of examples of the class.
    pub support: usize,
}

/// Most classes a [`ConfusionMatrix`] takes: its counts are dense, `num_classes^2` of them (32 GiB at this
/// bound), and a class count read from a file must not size an allocation unchecked.
pub const MAX_CLASSES: usize = 1 << 16;

/// Counts of (actual, predicted) class pairs, printable as a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfusionMatrix {
    k: usize,
    counts: Vec<usize>,
    labels: Vec<String>,
}

impl ConfusionMatrix {
    /// Counts the pairs of `truth` and `pred` over `num_classes` classes (labelled `0`, `1`, ...).
    ///
    /// # Errors
    /// [`Error::Config`] when the lengths differ or are 0, a class is not below `num_classes`, or
    /// `num_classes` exceeds [`MAX_CLASSES`] (the matrix is dense: `num_classes^2` counts) or its counts
    /// cannot be allocated.
    pub fn new(truth: &[usize], pred: &[usize], num_classes: usize) -> Result<Self> {
        let what = "confusion matrix";
        same_len(what, truth.len(), pred.len())?;
        if let Some((i, &c)) = truth.iter().chain(pred).enumerate().find(|(_, c)| **c >= num_classes) {
            let (side, row) = if i < truth.len() { ("true label", i) } else { ("prediction", i - truth.len()) };
            return bad(what, format!("{side} {c} of row {row} is not below num_classes {num_classes}"));
        }
        if num_classes > MAX_CLASSES {
            let msg = format!("{num_classes} classes: a dense matrix holds at most {MAX_CLASSES} classes");
            return bad(what, msg);
        }
        let cells = num_classes * num_classes; // at most 2^32: cannot overflow
        let mut counts = Vec::new();
        if counts.try_reserve_exact(cells).is_err() {
            return bad(what, format!("{num_classes} classes: {cells} counts do not fit in memory"));
        }
        counts.resize(cells, 0);
        for (&a, &p) in truth.iter().zip(pred) {
            counts[a * num_classes + p] += 1;
        }
        Ok(ConfusionMatrix { k: num_classes, counts, labels: (0..num_classes).map(|c| c.to_string()).collect() })
    }

    /// Names the classes in the printed table: `&["cat", "dog"]`, or a dataset's
    /// [`crate::data::Dataset::class_names`].
    ///
    /// # Errors
    /// [`Error::Config`] unless there is one name per class.
    pub fn with_labels<S: AsRef<str>>(mut self, labels: &[S]) -> Result<Self> {
        if labels.len() != self.k {
            return bad("confusion matrix", format!("{} labels for {} classes", labels.len(), self.k));
        }
        self.labels = labels.iter().map(|s| s.as_ref().to_string()).collect();
        Ok(self)
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.k
    }

    /// Number of examples of class `actual` predicted as `predicted`.
    ///
    /// # Panics
    /// When either class is not below [`ConfusionMatrix::num_classes`], like slice indexing.
    pub fn get(&self, actual: usize, predicted: usize) -> usize {
        assert!(actual < self.k && predicted < self.k, "confusion matrix index ({actual}, {predicted}) out of range");
        self.counts[actual * self.k + predicted]
    }

    /// Total number of examples.
    pub fn total(&self) -> usize {
        self.counts.iter().sum()
    }

    /// Fraction on the diagonal.
    pub fn accuracy(&self) -> f64 {
        (0..self.k).map(|c| self.get(c, c)).sum::<usize>() as f64 / self.total() as f64
    }

    fn row(&self, c: usize) -> usize {
        (0..self.k).map(|p| self.get(c, p)).sum()
    }

    fn col(&self, c: usize) -> usize {
        (0..self.k).map(|a| self.get(a, c)).sum()
    }

    /// Precision of class `c` (0 when it is never predicted).
    pub fn precision(&self, c: usize) -> f64 {
        ratio(self.get(c, c), self.col(c))
    }

    /// Recall of class `c` (0 when it never occurs).
    pub fn recall(&self, c: usize) -> f64 {
        ratio(self.get(c, c), self.row(c))
    }

    /// F1 score of class `c` (0 when precision and recall are both 0).
    pub fn f1(&self, c: usize) -> f64 {
        let (p, r) = (self.precision(c), self.recall(c));
        if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) }
    }

    /// Precision, recall, F1 and support of every class.
    pub fn per_class(&self) -> Vec<ClassScores> {
        (0..self.k)
            .map(|c| ClassScores {
                precision: self.precision(c),
                recall: self.recall(c),
                f1: self.f1(c),
                support: self.row(c),
            })
            .collect()
    }

    /// Macro averages `(precision, recall, f1)` over the classes present in truth or predictions.
    pub fn macro_avg(&self) -> (f64, f64, f64) {
        let present: Vec<usize> = (0..self.k).filter(|&c| self.row(c) + self.col(c) > 0).collect();
        let n = present.len().max(1) as f64;
        let mean = |f: &dyn Fn(usize) -> f64| present.iter().map(|&c| f(c)).sum::<f64>() / n;
        (mean(&|c| self.precision(c)), mean(&|c| self.recall(c)), mean(&|c| self.f1(c)))
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

impl fmt::Display for ConfusionMatrix {
    /// Rows are actual classes, columns predicted ones, numbers right-aligned under their label.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let corner = "actual \\ predicted";
        let first = self.labels.iter().map(String::len).chain([corner.len()]).max().unwrap_or(0);
        let widths: Vec<usize> = (0..self.k).map(|p| self.labels[p].len().max(self.col_width(p))).collect();
        write!(f, "{corner:<first$}")?;
        for (l, w) in self.labels.iter().zip(&widths) {
            write!(f, "  {l:>w$}")?;
        }
        writeln!(f)?;
        for a in 0..self.k {
            write!(f, "{:<first$}", self.labels[a])?;
            for (p, w) in widths.iter().enumerate() {
                write!(f, "  {:>w$}", self.get(a, p))?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// Per-class precision, recall, F1 and support with the macro averages and the accuracy, printable as a
/// table (scikit-learn's `classification_report`). Made by [`ConfusionMatrix::report`].
#[derive(Debug, Clone, PartialEq)]
pub struct ClassificationReport {
    /// Class names, in class order.
    pub labels: Vec<String>,
    /// The scores of each class.
    pub classes: Vec<ClassScores>,
    /// Macro averages `(precision, recall, f1)`.
    pub macro_avg: (f64, f64, f64),
    /// Fraction classified correctly.
    pub accuracy: f64,
    /// Number of examples.
    pub total: usize,
}

impl ConfusionMatrix {
    /// The per-class scores and averages as a printable report.
    ///
    /// ```
    /// use tapegrad_nn::metrics::ConfusionMatrix;
    /// let cm = ConfusionMatrix::new(&[0, 0, 1, 1], &[0, 1, 1, 1], 2).unwrap();
    /// let text = cm.report().to_string();
    /// assert!(text.lines().last().unwrap().starts_with("accuracy"));
    /// ```
    pub fn report(&self) -> ClassificationReport {
        ClassificationReport {
            labels: self.labels.clone(),
            classes: self.per_class(),
            macro_avg: self.macro_avg(),
            accuracy: self.accuracy(),
            total: self.total(),
        }
    }
}

impl fmt::Display for ClassificationReport {
    /// One row per class, then the macro average and the accuracy; scores with 4 decimals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = self.labels.iter().map(String::len).chain(["macro avg".len()]).max().unwrap_or(0);
        writeln!(f, "{:<w$}  {:>9}  {:>6}  {:>6}  {:>7}", "class", "precision", "recall", "f1", "support")?;
        for (l, c) in self.labels.iter().zip(&self.classes) {
            writeln!(f, "{l:<w$}  {:>9.4}  {:>6.4}  {:>6.4}  {:>7}", c.precision, c.recall, c.f1, c.support)?;
        }
        let (p, r, f1) = self.macro_avg;
        writeln!(f, "{:<w$}  {p:>9.4}  {r:>6.4}  {f1:>6.4}  {:>7}", "macro avg", self.total)?;
        writeln!(f, "{:<w$}  {:>9}  {:>6}  {:>6.4}  {:>7}", "accuracy", "", "", self.accuracy, self.total)
    }
}

impl ConfusionMatrix {
    fn col_width(&self, p: usize) -> usize {
        (0..self.k).map(|a| self.get(a, p).to_string().len()).max().unwrap_or(1)
    }
}

fn regression_pair<T: Float>(what: &'static str, pred: &Tensor<T>, target: &Tensor<T>) -> Result<()> {
    if pred.shape() != target.shape() {
        return bad(what, format!("predictions {} and targets {} differ in shape", pred.shape(), target.shape()));
    }
    if pred.numel() == 0 {
        return bad(what, "no examples".into());
    }
    Ok(())
}

/// Mean squared error over all elements.
///
/// # Errors
/// [`Error::Config`] when the shapes differ or there are no elements.
pub fn mse<T: Float>(pred: &Tensor<T>, target: &Tensor<T>) -> Result<f64> {
    regression_pair("mse", pred, target)?;
    Ok(pred.data().iter().zip(target.data()).map(|(p, t)| (p.f64() - t.f64()).powi(2)).sum::<f64>()
        / pred.numel() as f64)
}

/// Mean absolute error over all elements.
///
/// # Errors
/// [`Error::Config`] when the shapes differ or there are no elements.
pub fn mae<T: Float>(pred: &Tensor<T>, target: &Tensor<T>) -> Result<f64> {
    regression_pair("mae", pred, target)?;
    Ok(pred.data().iter().zip(target.data()).map(|(p, t)| (p.f64() - t.f64()).abs()).sum::<f64>() / pred.numel() as f64)
}

/// Coefficient of determination `1 - SS_res / SS_tot`, per column of `[N, K]` (or of a vector `[N]`) and
/// averaged over the columns.
///
/// # Errors
/// [`Error::Config`] when the shapes differ, there are no elements, or the rank is above 2.
///
/// ```
/// use tapegrad::Tensor;
/// let y = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], [4, 1]).unwrap();
/// let p = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 5.0], [4, 1]).unwrap();
/// assert!((tapegrad_nn::metrics::r2(&p, &y).unwrap() - 0.8).abs() < 1e-12);
/// ```
pub fn r2<T: Float>(pred: &Tensor<T>, target: &Tensor<T>) -> Result<f64> {
    regression_pair("r2", pred, target)?;
    let k = match target.dims() {
        [_] => 1,
        [_, k] => *k,
        _ => return bad("r2", format!("expected targets [N] or [N, K], got {}", target.shape())),
    };
    let n = target.numel() / k;
    let score = |j: usize| {
        let col = |t: &Tensor<T>, i: usize| t.data()[i * k + j].f64();
        let mean = (0..n).map(|i| col(target, i)).sum::<f64>() / n as f64;
        let ss_tot: f64 = (0..n).map(|i| (col(target, i) - mean).powi(2)).sum();
        let ss_res: f64 = (0..n).map(|i| (col(target, i) - col(pred, i)).powi(2)).sum();
        match (ss_res == 0.0, ss_tot == 0.0) {
            (true, _) => 1.0,
            (false, true) => 0.0,
            _ => 1.0 - ss_res / ss_tot,
        }
    };
    Ok((0..k).map(score).sum::<f64>() / k as f64)
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
