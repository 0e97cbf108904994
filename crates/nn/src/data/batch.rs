//! The three batching strategies of the lectures and a reusable, seeded epoch order.

use crate::error::{Error, Result};
use rand::Rng;
use rand::seq::SliceRandom;

/// How many examples each optimizer step sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batching {
    /// Full batch (batch gradient descent): one step per epoch on every example, in dataset order.
    Full,
    /// Stochastic gradient descent: one example per step, in a new random order every epoch.
    Stochastic,
    /// Mini-batches of `size` examples in a new random order every epoch; with `drop_last` the final,
    /// smaller batch is left out.
    MiniBatch {
        /// Examples per batch.
        size: usize,
        /// Whether to leave out a final batch smaller than `size`.
        drop_last: bool,
    },
}

impl Batching {
    /// Number of steps one epoch over `n` examples takes.
    ///
    /// ```
    /// use tapegrad_nn::data::Batching;
    /// assert_eq!(Batching::Full.batches_per_epoch(10), 1);
    /// assert_eq!(Batching::Stochastic.batches_per_epoch(10), 10);
    /// assert_eq!(Batching::MiniBatch { size: 4, drop_last: false }.batches_per_epoch(10), 3);
    /// assert_eq!(Batching::MiniBatch { size: 4, drop_last: true }.batches_per_epoch(10), 2);
    /// ```
    pub fn batches_per_epoch(&self, n: usize) -> usize {
        match *self {
            Batching::Full => usize::from(n > 0),
            Batching::Stochastic => n,
            Batching::MiniBatch { size, drop_last: true } => n.checked_div(size).unwrap_or(0),
            Batching::MiniBatch { size, drop_last: false } => n.div_ceil(size.max(1)),
        }
    }
}

/// Cuts `0..n` into index batches, reshuffling (except for [`Batching::Full`]) at every epoch. The order
/// buffer is allocated once; each epoch yields slices of it, so iterating costs no allocation.
///
/// ```
/// use rand::SeedableRng;
/// use tapegrad_nn::data::{Batcher, Batching};
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let mut b = Batcher::new(5, Batching::MiniBatch { size: 2, drop_last: false }).unwrap();
/// let sizes: Vec<usize> = b.epoch(&mut rng).map(|idx| idx.len()).collect();
/// assert_eq!(sizes, [2, 2, 1]);
/// ```
#[derive(Debug, Clone)]
pub struct Batcher {
    order: Vec<usize>,
    batching: Batching,
}

impl Batcher {
    /// A batcher over `n` examples.
    ///
    /// # Errors
    /// [`Error::Config`] when `n` is 0, the mini-batch size is 0, or `drop_last` would leave no batch.
    pub fn new(n: usize, batching: Batching) -> Result<Self> {
        let bad = |msg: String| Err(Error::Config { what: "batching", msg });
        if n == 0 {
            return bad("no examples to batch".into());
        }
        if let Batching::MiniBatch { size, drop_last } = batching {
            if size == 0 {
                return bad("mini-batch size must be at least 1".into());
            }
            if drop_last && size > n {
                return bad(format!("mini-batch size {size} with drop_last leaves no batch of {n} examples"));
            }
        }
        Ok(Batcher { order: (0..n).collect(), batching })
    }

    /// The strategy.
    pub fn batching(&self) -> Batching {
        self.batching
    }

    /// Number of batches each epoch yields.
    pub fn batches_per_epoch(&self) -> usize {
        self.batching.batches_per_epoch(self.order.len())
    }

    /// Starts an epoch: reshuffles with `rng` (full batch keeps the dataset order, which the summed
    /// gradient does not depend on and which lets [`super::Dataset::gather`] share the storage) and yields
    /// the index batches.
    pub fn epoch<R: Rng + ?Sized>(&mut self, rng: &mut R) -> impl Iterator<Item = &[usize]> + '_ {
        let n = self.order.len();
        let (size, drop_last) = match self.batching {
            Batching::Full => (n, false),
            Batching::Stochastic => (1, false),
            Batching::MiniBatch { size, drop_last } => (size, drop_last),
        };
        if self.batching != Batching::Full {
            self.order.shuffle(rng);
        }
        self.order.chunks(size).filter(move |c| !drop_last || c.len() == size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn epoch(b: &mut Batcher, rng: &mut StdRng) -> Vec<Vec<usize>> {
        b.epoch(rng).map(<[usize]>::to_vec).collect()
    }

    fn sorted(batches: &[Vec<usize>]) -> Vec<usize> {
        let mut all = batches.concat();
        all.sort_unstable();
        all
    }

    #[test]
    fn full_batch_is_one_batch_in_dataset_order_every_epoch() {
        let mut rng = StdRng::seed_from_u64(0);
        let mut b = Batcher::new(6, Batching::Full).unwrap();
        for _ in 0..3 {
            assert_eq!(epoch(&mut b, &mut rng), vec![vec![0, 1, 2, 3, 4, 5]]);
        }
    }

    #[test]
    fn stochastic_yields_every_example_once_per_epoch_in_a_new_order() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut b = Batcher::new(20, Batching::Stochastic).unwrap();
        let e1 = epoch(&mut b, &mut rng);
        let e2 = epoch(&mut b, &mut rng);
        assert!(e1.iter().all(|idx| idx.len() == 1));
        assert_eq!(sorted(&e1), (0..20).collect::<Vec<_>>());
        assert_eq!(sorted(&e2), (0..20).collect::<Vec<_>>());
        assert_ne!(e1, e2, "each epoch reshuffles");
    }

    #[test]
    fn mini_batches_cover_every_example_and_drop_last_leaves_out_the_remainder() {
        let mut rng = StdRng::seed_from_u64(2);
        let mut keep = Batcher::new(10, Batching::MiniBatch { size: 4, drop_last: false }).unwrap();
        let e = epoch(&mut keep, &mut rng);
        assert_eq!(e.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4, 2]);
        assert_eq!(sorted(&e), (0..10).collect::<Vec<_>>());
        let mut drop = Batcher::new(10, Batching::MiniBatch { size: 4, drop_last: true }).unwrap();
        let e = epoch(&mut drop, &mut rng);
        assert_eq!(e.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4]);
        assert_eq!(drop.batches_per_epoch(), 2);
        let mut distinct = e.concat();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 8);
    }

    #[test]
    fn the_same_seed_gives_the_same_batches() {
        let run = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut b = Batcher::new(12, Batching::MiniBatch { size: 5, drop_last: false }).unwrap();
            (epoch(&mut b, &mut rng), epoch(&mut b, &mut rng))
        };
        assert_eq!(run(9), run(9));
        assert_ne!(run(9), run(10));
    }

    #[test]
    fn degenerate_configurations_are_rejected() {
        assert!(Batcher::new(0, Batching::Full).is_err());
        let e = Batcher::new(5, Batching::MiniBatch { size: 0, drop_last: false }).unwrap_err().to_string();
        assert_eq!(e, "batching: mini-batch size must be at least 1");
        let e = Batcher::new(5, Batching::MiniBatch { size: 8, drop_last: true }).unwrap_err().to_string();
        assert_eq!(e, "batching: mini-batch size 8 with drop_last leaves no batch of 5 examples");
        assert_eq!(Batcher::new(5, Batching::MiniBatch { size: 8, drop_last: false }).unwrap().batches_per_epoch(), 1);
    }
}
