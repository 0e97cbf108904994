//! Batch normalisation over the feature axis of `[n, features]` inputs.

use crate::error::{Error, Result};
use crate::module::Module;
use std::sync::{Mutex, MutexGuard};
use tapegrad::{Float, Param, Tape, Tensor, Var};

/// Options of a [`BatchNorm1d`] layer (PyTorch's defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchNormConfig {
    /// Added to the variance before the square root (default 1e-5).
    pub eps: f64,
    /// Weight of the newest batch in the running statistics: `running = (1 - m) running + m batch`
    /// (default 0.1).
    pub momentum: f64,
}

impl Default for BatchNormConfig {
    fn default() -> Self {
        BatchNormConfig { eps: 1e-5, momentum: 0.1 }
    }
}

/// Batch normalisation: `y = (x - mean) / sqrt(var + eps) * weight + bias` per feature.
///
/// In training mode `mean` and `var` are the batch's (biased variance), the gradient flows through them,
/// and the running statistics move towards them (with the unbiased variance, as PyTorch does). In
/// evaluation mode the running statistics are used as constants. Built from engine ops only. Parameters
/// `weight` (gamma, ones) and `bias` (beta, zeros); buffers `running_mean` (zeros) and `running_var` (ones),
/// held in `Mutex`es because `forward` takes `&self` and a trained layer is shared between threads for
/// inference (`Send + Sync`). Starts in training mode.
///
/// A batch whose mean or variance is not finite (a NaN or infinite input) is refused in training mode with
/// an [`Error::Layer`] naming the layer, and the running statistics are left as they were: one such batch
/// would otherwise poison them for every later evaluation.
///
/// ```
/// use tapegrad::Tensor;
/// use tapegrad_nn::{layers::BatchNorm1d, Module};
/// let bn = BatchNorm1d::<f64>::new(1).unwrap();
/// let y = bn.predict(&Tensor::from_vec(vec![1.0, 3.0], [2, 1]).unwrap()).unwrap();
/// // mean 2, variance 1: normalised to -1 and 1 (up to eps).
/// assert!((y.data()[0] + 1.0).abs() < 1e-4 && (y.data()[1] - 1.0).abs() < 1e-4);
/// ```
#[derive(Debug)]
pub struct BatchNorm1d<T: Float> {
    weight: Param<T>,
    bias: Param<T>,
    running_mean: Mutex<Tensor<T>>,
    running_var: Mutex<Tensor<T>>,
    cfg: BatchNormConfig,
    train: bool,
}

/// A copy with the same parameters (same ids), running statistics, options and mode.
impl<T: Float> Clone for BatchNorm1d<T> {
    fn clone(&self) -> Self {
        BatchNorm1d {
            weight: self.weight.clone(),
            bias: self.bias.clone(),
            running_mean: Mutex::new(self.running_mean()),
            running_var: Mutex::new(self.running_var()),
            cfg: self.cfg,
            train: self.train,
        }
    }
}

/// The buffer behind `m`; a panic in another thread while it held the lock cannot leave a half-written
/// tensor (updates replace whole values element by element under the lock), so a poisoned lock is used as is.
fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<T: Float> BatchNorm1d<T> {
    /// A layer over `features` features with the default configuration.
    ///
    /// # Errors
    /// [`Error::Config`] when `features` is zero.
    pub fn new(features: usize) -> Result<Self> {
        Self::with_config(features, BatchNormConfig::default())
    }

    /// A layer with explicit options.
    ///
    /// # Errors
    /// [`Error::Config`] when `features` is zero, `eps` is not positive or `momentum` is not in `[0, 1]`.
    pub fn with_config(features: usize, cfg: BatchNormConfig) -> Result<Self> {
        let bad = |msg: String| Err(Error::Config { what: "BatchNorm1d", msg });
        if features == 0 {
            return bad("features must be positive".into());
        }
        if !(cfg.eps > 0.0 && cfg.eps.is_finite()) {
            return bad(format!("eps {} must be finite and > 0", cfg.eps));
        }
        if !(0.0..=1.0).contains(&cfg.momentum) {
            return bad(format!("momentum {} is not in [0, 1]", cfg.momentum));
        }
        Ok(BatchNorm1d {
            weight: Param::with_name(Tensor::ones([features])?, "weight"),
            bias: Param::with_name(Tensor::zeros([features])?, "bias"),
            running_mean: Mutex::new(Tensor::zeros([features])?),
            running_var: Mutex::new(Tensor::ones([features])?),
            cfg,
            train: true,
        })
    }

    /// Number of features.
    pub fn features(&self) -> usize {
        self.weight.value().numel()
    }

    /// The running mean (a copy).
    pub fn running_mean(&self) -> Tensor<T> {
        locked(&self.running_mean).clone()
    }

    /// The running variance (a copy).
    pub fn running_var(&self) -> Tensor<T> {
        locked(&self.running_var).clone()
    }

    fn describe(&self) -> String {
        format!("BatchNorm1d {}", self.features())
    }

    /// `running = (1 - m) running + m batch`, elementwise.
    fn update(&self, running: &Mutex<Tensor<T>>, batch: &Tensor<T>, scale: f64) {
        let m = T::of(self.cfg.momentum);
        let mut r = locked(running);
        for (r, &b) in r.data_mut().iter_mut().zip(batch.data()) {
            *r = (T::one() - m) * *r + m * b * T::of(scale);
        }
    }
}

impl<T: Float> Module<T> for BatchNorm1d<T> {
    fn forward<'t>(&self, tape: &'t Tape<T>, x: Var<'t, T>) -> Result<Var<'t, T>> {
        let shape = x.shape();
        let f = self.features();
        if shape.rank() != 2 || shape.dims()[1] != f {
            return Err(Error::Layer {
                layer: self.describe(),
                msg: format!("input {shape} does not fit weight {}; expected [n, {f}]", self.weight.value().shape()),
            });
        }
        let (gamma, beta) = (tape.param(&self.weight), tape.param(&self.bias));
        let eps = T::of(self.cfg.eps);
        let normalised = if self.train {
            let n = shape.dims()[0];
            if n < 2 {
                return Err(Error::Layer {
                    layer: self.describe(),
                    msg: format!("training mode needs at least 2 rows to estimate a variance (got input {shape})"),
                });
            }
            let mean = x.mean_axis(0, true)?;
            let centred = x.sub(mean)?;
            let var = centred.square().mean_axis(0, true)?;
            let (mv, vv) = (mean.value(), var.value());
            if let Some(j) = (0..f).find(|&j| !(mv.data()[j].is_finite() && vv.data()[j].is_finite())) {
                return Err(Error::Layer {
                    layer: self.describe(),
                    msg: format!(
                        "feature {j} of batch {shape} has mean {} and variance {}: a batch with NaN or infinite \
                         values; running statistics left unchanged",
                        mv.data()[j].f64(),
                        vv.data()[j].f64()
                    ),
                });
            }
            self.update(&self.running_mean, &mean.value(), 1.0);
            self.update(&self.running_var, &var.value(), n as f64 / (n as f64 - 1.0));
            centred.div(var.add_scalar(eps).sqrt())?
        } else {
            let mean = tape.constant(self.running_mean());
            let std = tape.constant(self.running_var().map(|v| (v + eps).sqrt()));
            x.sub(mean)?.div(std)?
        };
        Ok(normalised.mul(gamma)?.add(beta)?)
    }

    fn params(&self) -> Vec<(String, &Param<T>)> {
        vec![("weight".into(), &self.weight), ("bias".into(), &self.bias)]
    }

    fn params_mut(&mut self) -> Vec<(String, &mut Param<T>)> {
        vec![("weight".into(), &mut self.weight), ("bias".into(), &mut self.bias)]
    }

    fn param_refs_mut(&mut self) -> Vec<&mut Param<T>> {
        vec![&mut self.weight, &mut self.bias]
    }

    fn set_train(&mut self, train: bool) {
        self.train = train;
    }

    fn buffers(&self) -> Vec<(String, Tensor<T>)> {
        vec![("running_mean".into(), self.running_mean()), ("running_var".into(), self.running_var())]
    }

    fn set_buffer(&mut self, name: &str, value: Tensor<T>) -> Result<()> {
        let slot = match name {
            "running_mean" => &mut self.running_mean,
            "running_var" => &mut self.running_var,
            _ => return Err(Error::Layer { layer: self.describe(), msg: format!("no buffer named {name:?}") }),
        };
        let slot = slot.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        if value.dims() != slot.dims() {
            return Err(Error::Layer {
                layer: format!("BatchNorm1d {}", self.weight.value().numel()),
                msg: format!("buffer {name} must have shape {}, got {}", slot.shape(), value.shape()),
            });
        }
        *slot = value;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{BatchNorm1d, BatchNormConfig};
    use crate::{Error, Module, check_module_gradients};
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use tapegrad::{GradCheckConfig, Tensor};

    fn column_stats(t: &Tensor<f64>, j: usize) -> (f64, f64) {
        let (n, f) = (t.dims()[0], t.dims()[1]);
        let col: Vec<f64> = (0..n).map(|i| t.data()[i * f + j]).collect();
        let mean = col.iter().sum::<f64>() / n as f64;
        (mean, col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64)
    }

    #[test]
    fn train_mode_normalises_each_feature_with_batch_statistics() {
        let mut rng = StdRng::seed_from_u64(1);
        let x = Tensor::<f64>::randn([50, 3], 4.0, 3.0, &mut rng).unwrap();
        let y = BatchNorm1d::<f64>::new(3).unwrap().predict(&x).unwrap();
        for j in 0..3 {
            let (mean, var) = column_stats(&y, j);
            let (_, xv) = column_stats(&x, j);
            assert!(mean.abs() < 1e-12, "feature {j}: mean {mean}");
            assert!((var - xv / (xv + 1e-5)).abs() < 1e-12, "feature {j}: variance {var}");
        }
    }

    #[test]
    fn running_statistics_move_by_momentum_with_the_unbiased_variance() {
        let bn = BatchNorm1d::<f64>::with_config(2, BatchNormConfig { momentum: 0.25, ..Default::default() }).unwrap();
        // Feature 0: [1, 3, 5] mean 3, unbiased variance 4. Feature 1: [0, 0, 6] mean 2, unbiased variance 12.
        let x = Tensor::from_vec(vec![1.0, 0.0, 3.0, 0.0, 5.0, 6.0], [3, 2]).unwrap();
        bn.predict(&x).unwrap();
        assert_eq!(bn.running_mean().to_vec(), vec![0.75, 0.5]);
        assert_eq!(bn.running_var().to_vec(), vec![0.75 + 1.0, 0.75 + 3.0]);
        bn.predict(&x).unwrap();
        assert_eq!(bn.running_mean().to_vec(), vec![0.75 * 0.75 + 0.75, 0.75 * 0.5 + 0.5]);
    }

    #[test]
    fn eval_mode_uses_running_statistics_and_leaves_them_alone() {
        let mut bn = BatchNorm1d::<f64>::new(2).unwrap();
        bn.set_buffer("running_mean", Tensor::from_vec(vec![1.0, -2.0], [2]).unwrap()).unwrap();
        bn.set_buffer("running_var", Tensor::from_vec(vec![4.0, 0.25], [2]).unwrap()).unwrap();
        bn.params_mut()[0].1.set(Tensor::from_vec(vec![2.0, 1.0], [2]).unwrap());
        bn.params_mut()[1].1.set(Tensor::from_vec(vec![0.5, 0.0], [2]).unwrap());
        bn.set_train(false);
        let y = bn.predict(&Tensor::from_vec(vec![3.0, -1.0], [1, 2]).unwrap()).unwrap();
        let expect = [(3.0 - 1.0) / (4.0f64 + 1e-5).sqrt() * 2.0 + 0.5, 1.0 / (0.25f64 + 1e-5).sqrt()];
        assert!((y.data()[0] - expect[0]).abs() < 1e-12 && (y.data()[1] - expect[1]).abs() < 1e-12, "{y}");
        assert_eq!(bn.running_mean().to_vec(), vec![1.0, -2.0]);
    }

    #[test]
    fn train_mode_gradients_match_finite_differences() {
        let mut rng = StdRng::seed_from_u64(2);
        let mut bn = BatchNorm1d::<f64>::new(3).unwrap();
        for (_, p) in bn.params_mut() {
            p.set(Tensor::randn([3], 0.5, 1.0, &mut rng).unwrap());
        }
        let x = Tensor::randn([6, 3], 1.0, 2.0, &mut rng).unwrap();
        check_module_gradients(&mut bn, &x, GradCheckConfig::default()).unwrap();
        bn.set_train(false);
        check_module_gradients(&mut bn, &x, GradCheckConfig::default()).unwrap();
    }

    #[test]
    fn batchnorm_rejects_wrong_widths_single_rows_and_bad_buffers() {
        let mut bn = BatchNorm1d::<f32>::new(4).unwrap();
        let err = bn.predict(&Tensor::zeros([8, 3]).unwrap()).unwrap_err();
        assert_eq!(err.to_string(), "BatchNorm1d 4: input [8, 3] does not fit weight [4]; expected [n, 4]");
        let err = bn.predict(&Tensor::zeros([1, 4]).unwrap()).unwrap_err();
        assert!(err.to_string().contains("at least 2 rows"), "{err}");
        let err = bn.set_buffer("running_var", Tensor::ones([3]).unwrap()).unwrap_err();
        assert_eq!(err.to_string(), "BatchNorm1d 4: buffer running_var must have shape [4], got [3]");
        assert!(matches!(bn.set_buffer("num_batches", Tensor::ones([4]).unwrap()), Err(Error::Layer { .. })));
        bn.set_train(false);
        assert_eq!(bn.predict(&Tensor::zeros([1, 4]).unwrap()).unwrap().dims(), &[1, 4], "eval mode takes one row");
        assert!(BatchNorm1d::<f32>::with_config(2, BatchNormConfig { momentum: 1.5, ..Default::default() }).is_err());
    }

    #[test]
    fn a_non_finite_batch_is_refused_and_leaves_the_running_statistics_alone() {
        let bn = BatchNorm1d::<f64>::new(2).unwrap();
        bn.predict(&Tensor::from_vec(vec![1.0, 2.0, 3.0, 5.0], [2, 2]).unwrap()).unwrap();
        let before = bn.buffers();
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, f64::MAX] {
            let x = Tensor::from_vec(vec![1.0, bad, 3.0, 5.0], [2, 2]).unwrap();
            let err = bn.predict(&x).unwrap_err();
            assert!(matches!(err, Error::Layer { .. }), "{err}");
            assert!(err.to_string().starts_with("BatchNorm1d 2: feature 1 of batch [2, 2] has mean"), "{err}");
            assert_eq!(bn.buffers(), before, "{bad}: running statistics moved");
        }
    }
}
