//! Datasets: features `[N, F]` with class-index or real-valued targets, loaded from (gzip-compressed) CSV,
//! split into train and test parts, scaled, and cut into batches.
//!
//! ```
//! use rand::SeedableRng;
//! use tapegrad_nn::data::{Batcher, Batching, CsvOptions, Dataset, StandardScaler};
//!
//! let csv = "1.0,2.0,0\n2.0,1.0,1\n3.0,0.5,1\n0.5,3.0,0\n";
//! let ds = Dataset::<f64>::from_csv_reader(csv.as_bytes(), "toy.csv", &CsvOptions::default()).unwrap();
//! assert_eq!((ds.len(), ds.num_features(), ds.num_classes()), (4, 2, Some(2)));
//!
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let (train, test) = ds.stratified_split(0.5, &mut rng).unwrap();
//! let scaler = StandardScaler::fit(train.features()).unwrap(); // statistics of the training part only
//! let (train, _test) = (scaler.transform_dataset(&train).unwrap(), scaler.transform_dataset(&test).unwrap());
//!
//! let mut batcher = Batcher::new(train.len(), Batching::MiniBatch { size: 1, drop_last: false }).unwrap();
//! for idx in batcher.epoch(&mut rng) {
//!     let batch = train.gather(idx).unwrap();
//!     assert_eq!(batch.features().dims(), &[1, 2]);
//! }
//! ```

mod batch;
mod csv;
mod scale;
mod split;

pub use batch::{Batcher, Batching};
pub use csv::{Column, CsvOptions, Delimiter, EmptyLines, Label, read_matrix, read_matrix_reader};
pub use scale::{MinMaxScaler, StandardScaler};

use crate::error::{Error, Result};
use std::sync::Arc;
use tapegrad::{Float, Tensor};

/// The targets of a dataset: one class index per row, or real values `[N, K]`.
#[derive(Debug, Clone, PartialEq)]
pub enum Targets<T: Float> {
    /// Class indices in `0..num_classes`, one per row.
    Classes {
        /// The class index of each row.
        labels: Vec<usize>,
        /// The number of classes (kept by subsets even when a class is absent from them).
        num_classes: usize,
    },
    /// Real-valued targets, one row of `K` values per example.
    Values(Tensor<T>),
}

impl<T: Float> Targets<T> {
    /// Class targets with `num_classes` = largest label + 1 (0 for no labels).
    pub fn classes(labels: Vec<usize>) -> Self {
        let num_classes = labels.iter().max().map_or(0, |m| m + 1);
        Targets::Classes { labels, num_classes }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Targets::Classes { labels, .. } => labels.len(),
            Targets::Values(t) => t.dims().first().copied().unwrap_or(0),
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The class labels, `None` for real-valued targets.
    pub fn labels(&self) -> Option<&[usize]> {
        match self {
            Targets::Classes { labels, .. } => Some(labels),
            Targets::Values(_) => None,
        }
    }

    /// The real-valued targets, `None` for class targets.
    pub fn values(&self) -> Option<&Tensor<T>> {
        match self {
            Targets::Classes { .. } => None,
            Targets::Values(t) => Some(t),
        }
    }

    /// The targets of the given rows, in that order (indices must be in range).
    fn gather(&self, idx: &[usize]) -> Result<Self> {
        Ok(match self {
            Targets::Classes { labels, num_classes } => {
                Targets::Classes { labels: idx.iter().map(|&i| labels[i]).collect(), num_classes: *num_classes }
            }
            Targets::Values(t) => Targets::Values(gather_rows(t, idx)?),
        })
    }
}

/// Features `[N, F]` and their targets, one row per example, with the class names and the file each row
/// came from when the data was loaded from one (kept by subsets, batches and scaling).
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset<T: Float> {
    features: Tensor<T>,
    targets: Targets<T>,
    class_names: Option<Arc<[String]>>,
    origin: Option<Origin>,
}

/// The file rows were read from, and the 1-based line of each row in it.
#[derive(Debug, Clone, PartialEq)]
struct Origin {
    file: Arc<str>,
    lines: Vec<usize>,
}

impl<T: Float> Dataset<T> {
    /// A dataset from features `[N, F]` and targets with `N` rows.
    ///
    /// # Errors
    /// [`Error::Config`] when the features are not rank 2, the real targets are not `[N, K]`, the row counts
    /// differ, or a class label is not below `num_classes`.
    ///
    /// # Examples
    /// ```
    /// use tapegrad::Tensor;
    /// use tapegrad_nn::data::{Dataset, Targets};
    /// let x = Tensor::<f32>::from_vec(vec![0.0, 1.0, 2.0, 3.0], [2, 2]).unwrap();
    /// let ds = Dataset::new(x.clone(), Targets::classes(vec![1, 0])).unwrap();
    /// assert_eq!(ds.num_classes(), Some(2));
    /// assert!(Dataset::new(x, Targets::classes(vec![0])).is_err());
    /// ```
    pub fn new(features: Tensor<T>, targets: Targets<T>) -> Result<Self> {
        let bad = |msg: String| Err(Error::Config { what: "dataset", msg });
        if features.rank() != 2 {
            return bad(format!("features must be [N, F], got {}", features.shape()));
        }
        let n = features.dims()[0];
        match &targets {
            Targets::Classes { labels, num_classes } => {
                if let Some((i, &l)) = labels.iter().enumerate().find(|(_, l)| **l >= *num_classes) {
                    return bad(format!("label {l} of row {i} is not below num_classes {num_classes}"));
                }
            }
            Targets::Values(t) if t.rank() != 2 => {
                return bad(format!("real targets must be [N, K], got {}", t.shape()));
            }
            Targets::Values(_) => {}
        }
        if targets.len() != n {
            return bad(format!("{} target rows for features {}", targets.len(), features.shape()));
        }
        Ok(Dataset { features, targets, class_names: None, origin: None })
    }

    /// The same dataset with names for its classes (printed by [`crate::metrics::ConfusionMatrix`] and
    /// reports). [`Dataset::from_csv`] sets them when the file's first line has them.
    ///
    /// # Errors
    /// [`Error::Config`] for real-valued targets or unless there is one name per class.
    ///
    /// # Examples
    /// ```
    /// use tapegrad::Tensor;
    /// use tapegrad_nn::data::{Dataset, Targets};
    /// let ds = Dataset::new(Tensor::<f32>::zeros([2, 1])?, Targets::classes(vec![0, 1]))?;
    /// let ds = ds.with_class_names(["cat", "dog"])?;
    /// assert_eq!(ds.class_names().unwrap(), ["cat", "dog"]);
    /// # Ok::<(), tapegrad_nn::Error>(())
    /// ```
    pub fn with_class_names<S: AsRef<str>>(mut self, names: impl IntoIterator<Item = S>) -> Result<Self> {
        let names: Vec<String> = names.into_iter().map(|s| s.as_ref().to_string()).collect();
        match self.num_classes() {
            Some(k) if k == names.len() => {
                self.class_names = Some(names.into());
                Ok(self)
            }
            k => Err(Error::Config {
                what: "dataset",
                msg: match k {
                    Some(k) => format!("{} class names for {k} classes", names.len()),
                    None => "class names need class targets, found real-valued ones".into(),
                },
            }),
        }
    }

    /// The class names, one per class index, when known (see [`Dataset::with_class_names`]).
    pub fn class_names(&self) -> Option<&[String]> {
        self.class_names.as_deref()
    }

    /// The file and 1-based line that row `row` was read from, when the data came from a file.
    ///
    /// # Examples
    /// ```
    /// use tapegrad_nn::data::{CsvOptions, Dataset};
    /// let ds = Dataset::<f64>::from_csv_reader("n,f\n1,0\n2,1\n".as_bytes(), "t.csv", &CsvOptions { skip_lines: 1, ..Default::default() })?;
    /// assert_eq!(ds.gather(&[1])?.row_origin(0), Some(("t.csv", 3)));
    /// # Ok::<(), tapegrad_nn::Error>(())
    /// ```
    pub fn row_origin(&self, row: usize) -> Option<(&str, usize)> {
        let o = self.origin.as_ref()?;
        Some((&o.file, *o.lines.get(row)?))
    }

    /// `row 7` or, for data read from a file, `row 7 (iris.csv line 9)`: how errors name a row.
    pub(crate) fn describe_row(&self, row: usize) -> String {
        match self.row_origin(row) {
            Some((file, line)) => format!("row {row} ({file} line {line})"),
            None => format!("row {row}"),
        }
    }

    /// Records the file and the line of every row (the CSV loader).
    pub(crate) fn with_origin(mut self, file: &str, lines: Vec<usize>) -> Self {
        debug_assert_eq!(lines.len(), self.len());
        self.origin = Some(Origin { file: file.into(), lines });
        self
    }

    /// Number of examples `N`.
    pub fn len(&self) -> usize {
        self.features.dims()[0]
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of features `F`.
    pub fn num_features(&self) -> usize {
        self.features.dims()[1]
    }

    /// Number of classes for class targets, `None` for real-valued targets.
    pub fn num_classes(&self) -> Option<usize> {
        match &self.targets {
            Targets::Classes { num_classes, .. } => Some(*num_classes),
            Targets::Values(_) => None,
        }
    }

    /// The features `[N, F]`.
    pub fn features(&self) -> &Tensor<T> {
        &self.features
    }

    /// The targets.
    pub fn targets(&self) -> &Targets<T> {
        &self.targets
    }

    /// The class labels, `None` for real-valued targets.
    pub fn labels(&self) -> Option<&[usize]> {
        self.targets.labels()
    }

    /// Splits into features and targets.
    pub fn into_parts(self) -> (Tensor<T>, Targets<T>) {
        (self.features, self.targets)
    }

    /// The same targets, class names and row origins with new features (for example scaled ones).
    ///
    /// # Errors
    /// [`Error::Config`] as for [`Dataset::new`].
    pub fn with_features(&self, features: Tensor<T>) -> Result<Self> {
        let ds = Dataset::new(features, self.targets.clone())?;
        Ok(Dataset { class_names: self.class_names.clone(), origin: self.origin.clone(), ..ds })
    }

    /// The rows `idx`, in that order: a batch or a subset. One copy of the selected rows, no other
    /// allocation beyond the label vector; when `idx` is `0..N` in order the storage is shared, not copied
    /// (full-batch training gathers for free).
    ///
    /// # Errors
    /// [`Error::Config`] naming the index when one is out of range.
    ///
    /// # Examples
    /// ```
    /// use tapegrad::Tensor;
    /// use tapegrad_nn::data::{Dataset, Targets};
    /// let x = Tensor::<f64>::from_vec(vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0], [3, 2]).unwrap();
    /// let ds = Dataset::new(x, Targets::classes(vec![0, 1, 2])).unwrap();
    /// let b = ds.gather(&[2, 0]).unwrap();
    /// assert_eq!(b.features().data(), &[4.0, 5.0, 0.0, 1.0]);
    /// assert_eq!(b.labels(), Some(&[2, 0][..]));
    /// ```
    pub fn gather(&self, idx: &[usize]) -> Result<Self> {
        if let Some(&i) = idx.iter().find(|&&i| i >= self.len()) {
            return Err(Error::Config {
                what: "dataset gather",
                msg: format!("row {i} out of range for {} rows", self.len()),
            });
        }
        if idx.len() == self.len() && idx.iter().enumerate().all(|(k, &i)| k == i) {
            return Ok(self.clone());
        }
        Ok(Dataset {
            features: gather_rows(&self.features, idx)?,
            targets: self.targets.gather(idx)?,
            class_names: self.class_names.clone(),
            origin: self
                .origin
                .as_ref()
                .map(|o| Origin { file: o.file.clone(), lines: idx.iter().map(|&i| o.lines[i]).collect() }),
        })
    }
}

/// Rows `idx` of a rank-2 tensor (indices already checked), copied into one exactly sized buffer.
fn gather_rows<T: Float>(t: &Tensor<T>, idx: &[usize]) -> Result<Tensor<T>> {
    let cols = t.dims()[1];
    let src = t.data();
    let mut out = Vec::with_capacity(idx.len() * cols);
    for &i in idx {
        out.extend_from_slice(&src[i * cols..(i + 1) * cols]);
    }
    Ok(Tensor::from_vec(out, [idx.len(), cols])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> Dataset<f64> {
        let x = Tensor::from_vec((0..8).map(f64::from).collect(), [4, 2]).unwrap();
        Dataset::new(x, Targets::classes(vec![0, 1, 1, 2])).unwrap()
    }

    #[test]
    fn new_rejects_mismatched_row_counts_and_bad_labels() {
        let x = Tensor::<f64>::zeros([3, 2]).unwrap();
        let e = Dataset::new(x.clone(), Targets::classes(vec![0, 1])).unwrap_err().to_string();
        assert!(e.contains("2 target rows for features [3, 2]"), "{e}");
        let t = Targets::Classes { labels: vec![0, 1, 5], num_classes: 3 };
        let e = Dataset::new(x.clone(), t).unwrap_err().to_string();
        assert!(e.contains("label 5 of row 2"), "{e}");
        assert!(Dataset::new(x.clone(), Targets::Values(Tensor::zeros([3]).unwrap())).is_err());
        assert!(Dataset::new(Tensor::<f64>::zeros([3]).unwrap(), Targets::classes(vec![0, 0, 0])).is_err());
        assert!(Dataset::new(x, Targets::Values(Tensor::zeros([3, 1]).unwrap())).is_ok());
    }

    #[test]
    fn gather_copies_the_selected_rows_in_order_and_keeps_num_classes() {
        let b = toy().gather(&[3, 1, 1]).unwrap();
        assert_eq!(b.features().data(), &[6.0, 7.0, 2.0, 3.0, 2.0, 3.0]);
        assert_eq!(b.labels(), Some(&[2, 1, 1][..]));
        assert_eq!(b.num_classes(), Some(3));
        let one = toy().gather(&[1]).unwrap();
        assert_eq!(one.num_classes(), Some(3), "a subset without class 2 still has three classes");
    }

    #[test]
    fn gather_of_all_rows_in_order_shares_storage() {
        let ds = toy();
        let all = ds.gather(&[0, 1, 2, 3]).unwrap();
        assert_eq!(all, ds);
        assert!(!ds.features().is_unique(), "the full batch must share the feature buffer, not copy it");
    }

    #[test]
    fn gather_rejects_an_out_of_range_row() {
        let e = toy().gather(&[0, 4]).unwrap_err().to_string();
        assert!(e.contains("row 4 out of range for 4 rows"), "{e}");
    }

    #[test]
    fn gather_of_real_targets_selects_the_same_rows() {
        let x = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0], [3, 1]).unwrap();
        let y = Tensor::<f32>::from_vec(vec![10.0, 20.0, 30.0, 40.0, 50.0, 60.0], [3, 2]).unwrap();
        let ds = Dataset::new(x, Targets::Values(y)).unwrap();
        let b = ds.gather(&[2, 0]).unwrap();
        assert_eq!(b.targets().values().unwrap().data(), &[50.0, 60.0, 10.0, 20.0]);
        assert_eq!(b.num_classes(), None);
    }
}

#[cfg(test)]
mod proptests;
