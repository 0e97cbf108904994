//! Seeded train/test splits, plain and stratified.

use super::{Dataset, Targets};
use crate::error::{Error, Result};
use rand::Rng;
use rand::seq::SliceRandom;
use tapegrad::Float;

impl<T: Float> Dataset<T> {
    /// Splits into `(train, test)` at random: `round(N * test_fraction)` rows go to the test part. The rows
    /// of each part come in shuffled order.
    ///
    /// # Errors
    /// [`Error::Config`] unless `0 < test_fraction < 1` and both parts get at least one row.
    ///
    /// # Examples
    /// ```
    /// use rand::SeedableRng;
    /// use tapegrad::Tensor;
    /// use tapegrad_nn::data::{Dataset, Targets};
    /// let x = Tensor::<f64>::zeros([10, 3]).unwrap();
    /// let ds = Dataset::new(x, Targets::classes(vec![0; 10])).unwrap();
    /// let (train, test) = ds.train_test_split(0.3, &mut rand::rngs::StdRng::seed_from_u64(1)).unwrap();
    /// assert_eq!((train.len(), test.len()), (7, 3));
    /// ```
    pub fn train_test_split<R: Rng + ?Sized>(&self, test_fraction: f64, rng: &mut R) -> Result<(Self, Self)> {
        let what = "train_test_split";
        check_fraction(what, test_fraction)?;
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(rng);
        let n_test = (self.len() as f64 * test_fraction).round() as usize;
        let (test, train) = order.split_at(n_test);
        self.parts(what, train, test)
    }

    /// Splits into `(train, test)` keeping each class's share in both parts: within every class,
    /// `round(N_c * test_fraction)` of its rows go to the test part. The totals can therefore differ from
    /// [`Dataset::train_test_split`] by the rounding of each class. The rows of each part come in shuffled
    /// order (classes interleaved).
    ///
    /// # Errors
    /// [`Error::Config`] for real-valued targets, and as for [`Dataset::train_test_split`].
    ///
    /// # Examples
    /// ```
    /// use rand::SeedableRng;
    /// use tapegrad::Tensor;
    /// use tapegrad_nn::data::{Dataset, Targets};
    /// let labels: Vec<usize> = (0..20).map(|i| usize::from(i >= 15)).collect(); // 15 of class 0, 5 of class 1
    /// let ds = Dataset::new(Tensor::<f32>::zeros([20, 2]).unwrap(), Targets::classes(labels)).unwrap();
    /// let (_, test) = ds.stratified_split(0.2, &mut rand::rngs::StdRng::seed_from_u64(3)).unwrap();
    /// let ones = test.labels().unwrap().iter().filter(|&&l| l == 1).count();
    /// assert_eq!((test.len(), ones), (4, 1));
    /// ```
    pub fn stratified_split<R: Rng + ?Sized>(&self, test_fraction: f64, rng: &mut R) -> Result<(Self, Self)> {
        let what = "stratified_split";
        check_fraction(what, test_fraction)?;
        let Targets::Classes { labels, num_classes } = self.targets() else {
            return Err(Error::Config { what, msg: "needs class targets, found real-valued ones".into() });
        };
        let _ = num_classes; // nothing is sized by the class count: it may be far larger than the data
        // The rows grouped by class, in class order, each class's rows in file order (a stable sort), which is
        // the order a vector per class would give without allocating one per class up to the largest label.
        let mut order: Vec<usize> = (0..labels.len()).collect();
        order.sort_by_key(|&i| labels[i]);
        let (mut train, mut test) = (Vec::with_capacity(self.len()), Vec::new());
        for rows in order.chunk_by_mut(|&a, &b| labels[a] == labels[b]) {
            rows.shuffle(rng);
            let n_test = (rows.len() as f64 * test_fraction).round() as usize;
            test.extend_from_slice(&rows[..n_test]);
            train.extend_from_slice(&rows[n_test..]);
        }
        train.shuffle(rng);
        test.shuffle(rng);
        self.parts(what, &train, &test)
    }

    fn parts(&self, what: &'static str, train: &[usize], test: &[usize]) -> Result<(Self, Self)> {
        if train.is_empty() || test.is_empty() {
            let msg = format!(
                "{} rows split into {} train and {} test; both must be non-empty",
                self.len(),
                train.len(),
                test.len()
            );
            return Err(Error::Config { what, msg });
        }
        Ok((self.gather(train)?, self.gather(test)?))
    }
}

fn check_fraction(what: &'static str, f: f64) -> Result<()> {
    if f > 0.0 && f < 1.0 {
        Ok(())
    } else {
        Err(Error::Config { what, msg: format!("test_fraction must be in (0, 1), got {f}") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use tapegrad::Tensor;

    /// Row `i` has the single feature `i`, so a split can be traced back to its rows.
    fn traced(labels: Vec<usize>) -> Dataset<f64> {
        let n = labels.len();
        Dataset::new(Tensor::from_vec((0..n).map(|i| i as f64).collect(), [n, 1]).unwrap(), Targets::classes(labels))
            .unwrap()
    }

    fn rows(ds: &Dataset<f64>) -> Vec<usize> {
        ds.features().data().iter().map(|&v| v as usize).collect()
    }

    fn count(ds: &Dataset<f64>, c: usize) -> usize {
        ds.labels().unwrap().iter().filter(|&&l| l == c).count()
    }

    #[test]
    fn random_split_is_a_partition_with_rounded_test_size() {
        let ds = traced((0..25).map(|i| i % 2).collect());
        let (train, test) = ds.train_test_split(0.3, &mut StdRng::seed_from_u64(0)).unwrap();
        assert_eq!((train.len(), test.len()), (17, 8)); // round(7.5) = 8
        let mut all = [rows(&train), rows(&test)].concat();
        all.sort_unstable();
        assert_eq!(all, (0..25).collect::<Vec<_>>());
        for (d, r) in [(&train, rows(&train)), (&test, rows(&test))] {
            assert!(r.iter().zip(d.labels().unwrap()).all(|(&row, &l)| l == row % 2), "labels follow their rows");
        }
    }

    #[test]
    fn splits_are_reproducible_for_a_seed_and_differ_across_seeds() {
        let ds = traced(vec![0; 40]);
        let split = |s| rows(&ds.train_test_split(0.25, &mut StdRng::seed_from_u64(s)).unwrap().1);
        assert_eq!(split(5), split(5));
        assert_ne!(split(5), split(6));
    }

    #[test]
    fn stratified_split_preserves_class_proportions() {
        // 60 / 30 / 10 rows of classes 0 / 1 / 2
        let labels: Vec<usize> = (0..100)
            .map(|i| {
                if i < 60 {
                    0
                } else if i < 90 {
                    1
                } else {
                    2
                }
            })
            .collect();
        let ds = traced(labels);
        for seed in 0..5 {
            let (train, test) = ds.stratified_split(0.2, &mut StdRng::seed_from_u64(seed)).unwrap();
            assert_eq!([count(&test, 0), count(&test, 1), count(&test, 2)], [12, 6, 2]);
            assert_eq!([count(&train, 0), count(&train, 1), count(&train, 2)], [48, 24, 8]);
            let mut all = [rows(&train), rows(&test)].concat();
            all.sort_unstable();
            assert_eq!(all, (0..100).collect::<Vec<_>>());
        }
    }

    #[test]
    fn stratified_split_rejects_real_targets() {
        let ds = Dataset::new(Tensor::<f64>::zeros([4, 1]).unwrap(), Targets::Values(Tensor::zeros([4, 1]).unwrap()))
            .unwrap();
        let e = ds.stratified_split(0.5, &mut StdRng::seed_from_u64(0)).unwrap_err().to_string();
        assert!(e.starts_with("stratified_split: needs class targets"), "{e}");
    }

    #[test]
    fn fractions_outside_the_open_unit_interval_and_empty_parts_are_rejected() {
        let ds = traced(vec![0, 1, 0]);
        let mut rng = StdRng::seed_from_u64(0);
        for f in [0.0, 1.0, -0.1, f64::NAN] {
            assert!(ds.train_test_split(f, &mut rng).is_err(), "fraction {f}");
        }
        let e = ds.train_test_split(0.1, &mut rng).unwrap_err().to_string();
        assert!(e.contains("3 rows split into 3 train and 0 test"), "{e}");
    }
}
