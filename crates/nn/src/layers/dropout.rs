//! Inverted dropout.

use crate::error::{Error, Result};
use crate::module::Module;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::sync::Mutex;
use tapegrad::{Float, Param, Tape, Tensor, Var};

/// Inverted dropout: in training mode each element is zeroed with probability `p` and the survivors are
/// scaled by `1 / (1 - p)`, so the expected output equals the input and evaluation needs no rescaling. In
/// evaluation mode it is the identity. The mask comes from an RNG seeded at construction and held inside
/// (a `Mutex`, since `forward` takes `&self` and a layer may be shared between threads), so runs are
/// reproducible.
///
/// Starts in training mode, like PyTorch; switch with [`Module::set_train`].
///
/// ```
/// use tapegrad::Tensor;
/// use tapegrad_nn::{layers::Dropout, Module};
/// let mut drop = Dropout::new(0.5, 7).unwrap();
/// let x = Tensor::<f32>::ones([1, 1000]).unwrap();
/// let y = drop.predict(&x).unwrap();
/// assert!(y.data().iter().all(|&v| v == 0.0 || v == 2.0));
/// drop.set_train(false);
/// assert_eq!(drop.predict(&x).unwrap(), x);
/// ```
#[derive(Debug)]
pub struct Dropout {
    p: f64,
    train: bool,
    rng: Mutex<StdRng>,
}

/// A copy with the same probability and mode whose mask RNG is seeded by one draw from this layer's RNG:
/// the two then give different, equally reproducible masks (the RNG state itself cannot be copied).
impl Clone for Dropout {
    fn clone(&self) -> Self {
        let seed = self.rng.lock().unwrap_or_else(std::sync::PoisonError::into_inner).random::<u64>();
        Dropout { p: self.p, train: self.train, rng: Mutex::new(StdRng::seed_from_u64(seed)) }
    }
}

impl Dropout {
    /// Dropout with probability `p` of zeroing an element, its mask RNG seeded with `seed`.
    ///
    /// # Errors
    /// [`Error::Config`] unless `0 <= p < 1`.
    pub fn new(p: f64, seed: u64) -> Result<Self> {
        if !(0.0..1.0).contains(&p) {
            return Err(Error::Config { what: "Dropout", msg: format!("probability {p} is not in [0, 1)") });
        }
        Ok(Dropout { p, train: true, rng: Mutex::new(StdRng::seed_from_u64(seed)) })
    }

    /// The probability of zeroing an element.
    pub fn p(&self) -> f64 {
        self.p
    }

    /// Whether it is in training mode.
    pub fn is_train(&self) -> bool {
        self.train
    }

    /// Switches between training mode (masking) and evaluation mode (identity); the same as
    /// [`Module::set_train`], callable without naming the element type.
    pub fn set_train(&mut self, train: bool) {
        self.train = train;
    }
}

impl<T: Float> Module<T> for Dropout {
    fn forward<'t>(&self, tape: &'t Tape<T>, x: Var<'t, T>) -> Result<Var<'t, T>> {
        if !self.train || self.p == 0.0 {
            return Ok(x);
        }
        let shape = x.shape();
        let keep = T::of(1.0 / (1.0 - self.p));
        let mut rng = self.rng.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mask: Vec<T> =
            (0..shape.numel()).map(|_| if rng.random::<f64>() < self.p { T::zero() } else { keep }).collect();
        let mask = tape.constant(Tensor::from_vec(mask, shape)?);
        Ok(x.mul(mask)?)
    }

    fn params(&self) -> Vec<(String, &Param<T>)> {
        Vec::new()
    }

    fn params_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        Vec::new()
    }

    fn set_train(&mut self, train: bool) {
        self.train = train;
    }
}

#[cfg(test)]
mod tests {
    use super::Dropout;
    use crate::{Error, Module};
    use tapegrad::{Tape, Tensor};

    #[test]
    fn dropout_zeroes_about_p_and_scales_survivors_by_one_over_one_minus_p() {
        let drop = Dropout::new(0.25, 3).unwrap();
        let x = Tensor::<f64>::full([100, 100], 3.0).unwrap();
        let y = drop.predict(&x).unwrap();
        let zeros = y.data().iter().filter(|&&v| v == 0.0).count();
        assert!(y.data().iter().all(|&v| v == 0.0 || (v - 4.0).abs() < 1e-12), "survivors are 3 / 0.75 = 4");
        // 10,000 Bernoulli(0.25) draws: standard deviation ~43, so 2500 +- 250 is over five sigma.
        assert!((2250..=2750).contains(&zeros), "{zeros} zeros");
        let mean = y.data().iter().sum::<f64>() / 10_000.0;
        assert!((mean - 3.0).abs() < 0.15, "mean {mean} should stay near the input's 3");
    }

    #[test]
    fn dropout_is_the_identity_in_eval_mode() {
        let mut drop = Dropout::new(0.9, 3).unwrap();
        drop.set_train(false);
        let x = Tensor::<f32>::from_vec(vec![1.0, -2.0, 3.0], [1, 3]).unwrap();
        assert_eq!(drop.predict(&x).unwrap(), x);
    }

    #[test]
    fn dropout_gradient_flows_through_the_same_mask() {
        let drop = Dropout::new(0.5, 11).unwrap();
        let tape = Tape::<f64>::new();
        let x = tape.leaf(Tensor::ones([4, 8]).unwrap());
        let y = Module::<f64>::forward(&drop, &tape, x).unwrap();
        let g = y.sum().backward().unwrap();
        assert_eq!(g.get(x).unwrap().unwrap().to_vec(), y.value().to_vec(), "d(sum(x * m))/dx = m");
    }

    #[test]
    fn dropout_with_the_same_seed_repeats_its_masks() {
        let x = Tensor::<f32>::ones([3, 5]).unwrap();
        let (a, b) = (Dropout::new(0.5, 1).unwrap(), Dropout::new(0.5, 1).unwrap());
        assert_eq!(a.predict(&x).unwrap(), b.predict(&x).unwrap());
        assert_ne!(a.predict(&x).unwrap(), a.predict(&x).unwrap(), "consecutive masks differ");
    }

    #[test]
    fn dropout_rejects_a_probability_outside_zero_to_one() {
        for p in [-0.1, 1.0, f64::NAN] {
            assert!(matches!(Dropout::new(p, 0), Err(Error::Config { .. })), "p = {p}");
        }
    }
}
