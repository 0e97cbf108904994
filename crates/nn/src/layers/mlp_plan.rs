//! The layout of an [`Mlp`](super::Mlp) computed from its configuration without allocating any tensor:
//! which layer sits at which position and which named tensors (with shapes) it owns. [`super::Mlp::from_config`]
//! builds from it, and [`super::Mlp::load`] checks a file against it before building anything, so a header
//! that claims a huge network is refused by comparing it with the tensors the file actually holds.

use super::MlpConfig;
use crate::error::{Error, Result};
use crate::layers::Activation;

/// One layer of the chain.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Block {
    /// `Linear inp -> out`.
    Linear { inp: usize, out: usize },
    /// `BatchNorm1d` over `features`.
    BatchNorm(usize),
    /// A parameter-free activation.
    Act(Activation),
    /// A dropout layer.
    Dropout,
}

fn config_error(msg: String) -> Error {
    Error::Config { what: "Mlp", msg }
}

impl MlpConfig {
    /// The number of trainable parameters the configuration describes (weights, biases and batch-norm scales
    /// and shifts), computed with checked arithmetic: `None` when it does not fit in a `usize`. Nothing is
    /// allocated, so a caller can refuse a network before building it.
    ///
    /// ```
    /// use tapegrad_nn::layers::MlpConfig;
    /// let cfg = MlpConfig { sizes: vec![64, 128, 64, 10], ..Default::default() };
    /// assert_eq!(cfg.num_params(), Some(64 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10));
    /// let huge = MlpConfig { sizes: vec![usize::MAX, 2], ..Default::default() };
    /// assert_eq!(huge.num_params(), None);
    /// ```
    pub fn num_params(&self) -> Option<usize> {
        let mut total = 0usize;
        let last = self.sizes.len().saturating_sub(2);
        for (i, pair) in self.sizes.windows(2).enumerate() {
            let weight = pair[0].checked_mul(pair[1])?;
            let bias = if self.bias { pair[1] } else { 0 };
            let norm = if self.batch_norm && i != last { pair[1].checked_mul(2)? } else { 0 };
            total = total.checked_add(weight)?.checked_add(bias)?.checked_add(norm)?;
        }
        Some(total)
    }

    /// Checks sizes, dropout and activations, and that the parameters fit in the address space.
    pub(crate) fn validate(&self) -> Result<()> {
        let sizes = &self.sizes;
        if sizes.len() < 2 || sizes.contains(&0) {
            let shown = crate::io::clipped(&format!("{sizes:?}"));
            return Err(config_error(format!(
                "sizes must list at least input and output widths, all positive (got {shown})"
            )));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(config_error(format!("dropout {} is not in [0, 1)", self.dropout)));
        }
        for act in [self.hidden, self.output] {
            act.validate()?;
        }
        // Every parameter is 8 bytes at most; beyond isize::MAX bytes no allocation can succeed.
        let max = isize::MAX as usize / 8;
        match self.num_params() {
            Some(n) if n <= max => Ok(()),
            Some(n) => Err(config_error(format!(
                "{} parameters cannot be allocated (at most {} fit in the address space)",
                crate::io::thousands(n),
                crate::io::thousands(max)
            ))),
            None => Err(config_error(format!(
                "sizes {} describe more than {} parameters",
                crate::io::clipped(&format!("{sizes:?}")),
                crate::io::thousands(usize::MAX)
            ))),
        }
    }

    /// The layers in order: `Linear -> [BatchNorm1d] -> activation -> [Dropout]` per hidden layer, then
    /// `Linear -> output activation`; identity activations add no layer. Call [`MlpConfig::validate`] first.
    pub(crate) fn blocks(&self) -> Vec<Block> {
        let mut out = Vec::with_capacity(4 * self.sizes.len());
        let last = self.sizes.len().saturating_sub(2);
        for (i, pair) in self.sizes.windows(2).enumerate() {
            out.push(Block::Linear { inp: pair[0], out: pair[1] });
            let act = if i == last { self.output } else { self.hidden };
            if i != last && self.batch_norm {
                out.push(Block::BatchNorm(pair[1]));
            }
            if act != Activation::Identity {
                out.push(Block::Act(act));
            }
            if i != last && self.dropout > 0.0 {
                out.push(Block::Dropout);
            }
        }
        out
    }

    /// Every named tensor of the network (parameters then buffers, as [`crate::Module::params`] and
    /// [`crate::Module::buffers`] list them) with its shape.
    pub(crate) fn tensors(&self) -> Vec<(String, Vec<usize>)> {
        let blocks = self.blocks();
        let mut params = Vec::new();
        let mut buffers = Vec::new();
        for (i, b) in blocks.iter().enumerate() {
            match *b {
                Block::Linear { inp, out } => {
                    params.push((format!("layers.{i}.weight"), vec![out, inp]));
                    if self.bias {
                        params.push((format!("layers.{i}.bias"), vec![out]));
                    }
                }
                Block::BatchNorm(f) => {
                    params.push((format!("layers.{i}.weight"), vec![f]));
                    params.push((format!("layers.{i}.bias"), vec![f]));
                    buffers.push((format!("layers.{i}.running_mean"), vec![f]));
                    buffers.push((format!("layers.{i}.running_var"), vec![f]));
                }
                Block::Act(_) | Block::Dropout => {}
            }
        }
        params.extend(buffers);
        params
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Mlp, MlpConfig};
    use crate::Module;
    use crate::layers::Activation;
    use rand::SeedableRng;

    #[test]
    fn the_plan_lists_exactly_the_tensors_the_built_network_has() {
        for (bn, dropout, bias, hidden) in [
            (false, 0.0, true, Activation::Relu),
            (true, 0.3, false, Activation::Identity),
            (true, 0.0, true, Activation::Tanh),
        ] {
            let cfg = MlpConfig {
                sizes: vec![3, 5, 4, 2],
                batch_norm: bn,
                dropout,
                bias,
                hidden,
                output: Activation::Softmax,
                ..Default::default()
            };
            let mlp = Mlp::<f32>::from_config(cfg.clone(), &mut rand::rngs::StdRng::seed_from_u64(0)).unwrap();
            let mut built: Vec<(String, Vec<usize>)> =
                mlp.params().into_iter().map(|(n, p)| (n, p.value().dims().to_vec())).collect();
            built.extend(mlp.buffers().into_iter().map(|(n, b)| (n, b.dims().to_vec())));
            assert_eq!(cfg.tensors(), built, "{cfg:?}");
            assert_eq!(cfg.num_params(), Some(mlp.num_params()));
        }
    }

    #[test]
    fn a_network_whose_parameter_count_overflows_is_refused_before_allocating() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        let cfg = MlpConfig { sizes: vec![usize::MAX, 2], ..Default::default() };
        let err = Mlp::<f32>::from_config(cfg, &mut rng).unwrap_err().to_string();
        assert!(err.starts_with("Mlp: sizes [18446744073709551615, 2] describe more than"), "{err}");
        let cfg = MlpConfig { sizes: vec![1 << 31, 1 << 31], ..Default::default() };
        let err = Mlp::<f32>::from_config(cfg, &mut rng).unwrap_err().to_string();
        assert!(err.contains("4,611,686,020,574,871,552 parameters cannot be allocated"), "{err}");
    }
}
