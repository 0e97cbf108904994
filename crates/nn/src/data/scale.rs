//! Feature scaling fitted on the training part only: standardisation and min-max scaling.
//!
//! Statistics are accumulated in `f64` whatever the element type. A constant column (zero spread) gets a
//! scale of 1, so it maps to 0 (standard) or to the low end of the range (min-max) instead of dividing by
//! zero, as scikit-learn does.

use super::Dataset;
use crate::error::{Error, Result};
use tapegrad::{Float, Tensor};

/// Per-column `(x - mean) / std` with the population standard deviation of the fitted data.
#[derive(Debug, Clone, PartialEq)]
pub struct StandardScaler {
    mean: Vec<f64>,
    scale: Vec<f64>,
}

/// Per-column `lo + (x - min) * (hi - lo) / (max - min)`, `[0, 1]` by default.
#[derive(Debug, Clone, PartialEq)]
pub struct MinMaxScaler {
    min: Vec<f64>,
    factor: Vec<f64>,
    lo: f64,
}

impl StandardScaler {
    /// Learns each column's mean and standard deviation from `x` `[N, F]`.
    ///
    /// # Errors
    /// [`Error::Config`] unless `x` is `[N, F]` with `N >= 1`, or naming the column when a value is NaN or
    /// infinite.
    ///
    /// # Examples
    /// ```
    /// use tapegrad::Tensor;
    /// use tapegrad_nn::data::StandardScaler;
    /// let x = Tensor::<f64>::from_vec(vec![1.0, 5.0, 3.0, 5.0], [2, 2]).unwrap();
    /// let s = StandardScaler::fit(&x).unwrap();
    /// assert_eq!(s.transform(&x).unwrap().data(), &[-1.0, 0.0, 1.0, 0.0]); // constant column -> 0
    /// ```
    pub fn fit<T: Float>(x: &Tensor<T>) -> Result<Self> {
        let (n, f) = dims("StandardScaler::fit", x)?;
        let mut mean = vec![0.0; f];
        for row in x.data().chunks(f.max(1)) {
            row.iter().zip(&mut mean).for_each(|(v, m)| *m += v.f64());
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mut var = vec![0.0; f];
        for row in x.data().chunks(f.max(1)) {
            row.iter().zip(&mean).zip(&mut var).for_each(|((v, m), s)| *s += (v.f64() - m).powi(2));
        }
        let scale = var
            .iter()
            .zip(&mean)
            .map(|(s, m)| {
                let std = (s / n as f64).sqrt();
                // rounding leaves a tiny spread on a constant column of large values: treat it as zero
                if std <= 10.0 * f64::EPSILON * m.abs().max(1.0) { 1.0 } else { std }
            })
            .collect();
        Ok(StandardScaler { mean, scale })
    }

    /// The fitted column means.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// The fitted column scales (standard deviations, 1 for constant columns).
    pub fn scale(&self) -> &[f64] {
        &self.scale
    }

    /// Standardises `x` `[M, F]` with the fitted statistics.
    ///
    /// # Errors
    /// [`Error::Config`] naming both shapes when the column count differs from the fitted one, or naming the
    /// column when a value is NaN or infinite.
    pub fn transform<T: Float>(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        check_width("StandardScaler::transform", x, self.mean.len())?;
        Ok(per_column(x, |j, v| (v - self.mean[j]) / self.scale[j]))
    }

    /// Undoes [`StandardScaler::transform`] (for predictions of a standardised regression target).
    ///
    /// # Errors
    /// As for [`StandardScaler::transform`].
    pub fn inverse_transform<T: Float>(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        check_width("StandardScaler::inverse_transform", x, self.mean.len())?;
        Ok(per_column(x, |j, v| v * self.scale[j] + self.mean[j]))
    }

    /// A copy of `ds` with standardised features.
    ///
    /// # Errors
    /// As for [`StandardScaler::transform`].
    pub fn transform_dataset<T: Float>(&self, ds: &Dataset<T>) -> Result<Dataset<T>> {
        ds.with_features(self.transform(ds.features())?)
    }
}

impl MinMaxScaler {
    /// Learns each column's minimum and maximum from `x` `[N, F]`, to map them onto `[0, 1]`.
    ///
    /// # Errors
    /// [`Error::Config`] unless `x` is `[N, F]` with `N >= 1`, or naming the column when a value is NaN or
    /// infinite.
    ///
    /// # Examples
    /// ```
    /// use tapegrad::Tensor;
    /// use tapegrad_nn::data::MinMaxScaler;
    /// let x = Tensor::<f32>::from_vec(vec![2.0, 7.0, 4.0, 7.0, 6.0, 7.0], [3, 2]).unwrap();
    /// let s = MinMaxScaler::fit(&x).unwrap();
    /// assert_eq!(s.transform(&x).unwrap().data(), &[0.0, 0.0, 0.5, 0.0, 1.0, 0.0]);
    /// ```
    pub fn fit<T: Float>(x: &Tensor<T>) -> Result<Self> {
        Self::fit_range(x, 0.0, 1.0)
    }

    /// As [`MinMaxScaler::fit`], mapping onto `[lo, hi]`.
    ///
    /// # Errors
    /// [`Error::Config`] unless `x` is `[N, F]` with `N >= 1` and `lo < hi` (both finite).
    pub fn fit_range<T: Float>(x: &Tensor<T>, lo: f64, hi: f64) -> Result<Self> {
        let what = "MinMaxScaler::fit";
        let (_, f) = dims(what, x)?;
        if !(lo < hi && lo.is_finite() && hi.is_finite()) {
            return Err(Error::Config { what, msg: format!("range [{lo}, {hi}] is empty or not finite") });
        }
        let (mut min, mut max) = (vec![f64::INFINITY; f], vec![f64::NEG_INFINITY; f]);
        for row in x.data().chunks(f.max(1)) {
            for (j, v) in row.iter().enumerate() {
                min[j] = min[j].min(v.f64());
                max[j] = max[j].max(v.f64());
            }
        }
        let factor = min.iter().zip(&max).map(|(a, b)| if b > a { (hi - lo) / (b - a) } else { 1.0 }).collect();
        Ok(MinMaxScaler { min, factor, lo })
    }

    /// The fitted column minima.
    pub fn min(&self) -> &[f64] {
        &self.min
    }

    /// Maps `x` `[M, F]` with the fitted minima and ranges; values outside the fitted range land outside
    /// `[lo, hi]` (they are not clipped).
    ///
    /// # Errors
    /// [`Error::Config`] naming both shapes when the column count differs from the fitted one, or naming the
    /// column when a value is NaN or infinite.
    pub fn transform<T: Float>(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        check_width("MinMaxScaler::transform", x, self.min.len())?;
        Ok(per_column(x, |j, v| self.lo + (v - self.min[j]) * self.factor[j]))
    }

    /// A copy of `ds` with scaled features.
    ///
    /// # Errors
    /// As for [`MinMaxScaler::transform`].
    pub fn transform_dataset<T: Float>(&self, ds: &Dataset<T>) -> Result<Dataset<T>> {
        ds.with_features(self.transform(ds.features())?)
    }
}

fn dims<T: Float>(what: &'static str, x: &Tensor<T>) -> Result<(usize, usize)> {
    match x.dims() {
        &[n, f] if n > 0 => finite(what, x).map(|()| (n, f)),
        _ => Err(Error::Config { what, msg: format!("needs data [N, F] with N >= 1, got {}", x.shape()) }),
    }
}

fn check_width<T: Float>(what: &'static str, x: &Tensor<T>, f: usize) -> Result<()> {
    match x.dims() {
        &[_, w] if w == f => finite(what, x),
        _ => Err(Error::Config {
            what,
            msg: format!("fitted on {f} columns, got data {}; expected [M, {f}]", x.shape()),
        }),
    }
}

/// Refuses NaN and infinities, naming the first one's column and row (0-based): one NaN would turn a
/// column's statistics, and with them every scaled value of the column, into NaN.
fn finite<T: Float>(what: &'static str, x: &Tensor<T>) -> Result<()> {
    let f = x.dims()[1].max(1);
    match x.data().iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(k) => Err(Error::Config {
            what,
            msg: format!("column {} holds {} (row {}); the data must be finite", k % f, x.data()[k].f64(), k / f),
        }),
    }
}

fn per_column<T: Float>(x: &Tensor<T>, g: impl Fn(usize, f64) -> f64) -> Tensor<T> {
    let f = x.dims()[1].max(1);
    let data = x.data().iter().enumerate().map(|(k, v)| T::of(g(k % f, v.f64()))).collect();
    Tensor::from_vec(data, x.shape().clone()).expect("invariant: same length as the input")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Targets;

    fn t(data: &[f64], rows: usize) -> Tensor<f64> {
        Tensor::from_vec(data.to_vec(), [rows, data.len() / rows]).unwrap()
    }

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-12, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn standard_scaler_uses_training_statistics_on_new_data() {
        // column 0: mean 2, population std sqrt(2/3); column 1: mean 20, std sqrt(200/3)
        let train = t(&[1.0, 10.0, 2.0, 20.0, 3.0, 30.0], 3);
        let s = StandardScaler::fit(&train).unwrap();
        close(s.mean(), &[2.0, 20.0]);
        close(s.scale(), &[(2.0f64 / 3.0).sqrt(), (200.0f64 / 3.0).sqrt()]);
        let out = s.transform(&t(&[2.0, 40.0], 1)).unwrap();
        close(out.data(), &[0.0, 20.0 / (200.0f64 / 3.0).sqrt()]);
        let z = s.transform(&train).unwrap();
        close(s.inverse_transform(&z).unwrap().data(), train.data());
    }

    #[test]
    fn constant_columns_do_not_divide_by_zero() {
        let x = t(&[5.0, 1e9, 5.0, 1e9, 5.0, 1e9], 3);
        let s = StandardScaler::fit(&x).unwrap();
        close(s.scale(), &[1.0, 1.0]);
        close(s.transform(&x).unwrap().data(), &[0.0; 6]);
        let m = MinMaxScaler::fit_range(&x, -1.0, 1.0).unwrap();
        close(m.transform(&x).unwrap().data(), &[-1.0; 6]);
    }

    #[test]
    fn min_max_scaler_maps_the_training_range_onto_the_target_range() {
        let x = t(&[0.0, -4.0, 10.0, 4.0], 2);
        let m = MinMaxScaler::fit_range(&x, -1.0, 1.0).unwrap();
        close(m.transform(&t(&[5.0, 0.0, 20.0, 8.0], 2)).unwrap().data(), &[0.0, 0.0, 3.0, 2.0]);
        assert!(MinMaxScaler::fit_range(&x, 1.0, 1.0).is_err());
    }

    #[test]
    fn scalers_reject_wrong_widths_and_empty_data() {
        let s = StandardScaler::fit(&t(&[1.0, 2.0], 1)).unwrap();
        let e = s.transform(&t(&[1.0, 2.0, 3.0], 1)).unwrap_err().to_string();
        assert_eq!(e, "StandardScaler::transform: fitted on 2 columns, got data [1, 3]; expected [M, 2]");
        assert!(StandardScaler::fit(&Tensor::<f64>::zeros([0, 3]).unwrap()).is_err());
        assert!(MinMaxScaler::fit(&Tensor::<f64>::zeros([4]).unwrap()).is_err());
    }

    #[test]
    fn transform_dataset_keeps_the_targets() {
        let ds = Dataset::new(t(&[1.0, 3.0], 2).cast::<f32>(), Targets::classes(vec![1, 0])).unwrap();
        let s = StandardScaler::fit(ds.features()).unwrap();
        let out = s.transform_dataset(&ds).unwrap();
        assert_eq!(out.features().data(), &[-1.0f32, 1.0]);
        assert_eq!(out.labels(), ds.labels());
    }
}
