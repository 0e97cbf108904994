//! Runs a first-order [`Optimizer`] (SGD, Adam, ...) as a full-batch method over a flat [`Problem`], so
//! that every optimizer in `nn` can be driven by [`super::driver::minimize`] and compared on one footing:
//! one gradient evaluation and one optimizer step per iteration.
//!
//! ```
//! use tapegrad::{Tape, Var};
//! use tapegrad_nn::optim::driver::{Tolerances, minimize};
//! use tapegrad_nn::optim::first_order::FirstOrder;
//! use tapegrad_nn::optim::flat::FnProblem;
//! use tapegrad_nn::optim::{Adam, AdamConfig};
//!
//! // f(x) = sum (x - 3)^2 from x = 0.
//! let mut p = FnProblem::new(vec![[2].into()], |_: &Tape<f64>, v: &[Var<'_, f64>]| {
//!     Ok(v[0].add_scalar(-3.0).square().sum())
//! });
//! let mut adam = FirstOrder::new("adam", Adam::new(AdamConfig { lr: 0.1, ..Default::default() })?);
//! let tol = Tolerances { grad_norm: 1e-6, rel_loss_change: 0.0, max_iters: 2000 };
//! let s = minimize(&mut adam, &mut p, vec![0.0, 0.0], &tol)?;
//! assert!((s.point.x[0] - 3.0).abs() < 1e-6);
//! # Ok::<(), tapegrad_nn::Error>(())
//! ```

use super::driver::{Counted, FullBatch, Point, StepOutcome};
use super::flat::Problem;
use super::{GradSource, Optimizer};
use crate::error::Result;
use tapegrad::{Param, ParamId, Tensor};

/// A first-order optimizer over the flat vector, held as one parameter of shape `[n]`.
pub struct FirstOrder<O> {
    name: &'static str,
    opt: O,
    param: Option<Param<f64>>,
}

impl<O: Optimizer<f64>> FirstOrder<O> {
    /// Wraps `opt`; `name` is what reports and tables call it.
    pub fn new(name: &'static str, opt: O) -> Self {
        FirstOrder { name, opt, param: None }
    }

    /// The wrapped optimizer (to change its learning rate between steps, say).
    pub fn inner_mut(&mut self) -> &mut O {
        &mut self.opt
    }
}

/// The gradient of the one flat parameter.
struct FlatGrad {
    id: ParamId,
    g: Tensor<f64>,
}

impl GradSource<f64> for FlatGrad {
    fn grad(&self, id: ParamId) -> Option<&Tensor<f64>> {
        (id == self.id).then_some(&self.g)
    }
}

impl<O: Optimizer<f64>, P: Problem + ?Sized> FullBatch<P> for FirstOrder<O> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn step(&mut self, problem: &mut Counted<'_, P>, pt: &mut Point) -> Result<StepOutcome> {
        let n = pt.x.len();
        let x = Tensor::from_vec(pt.x.clone(), [n])?;
        // One parameter (one id) for the whole run, so the optimizer's state carries over between steps.
        let param = self.param.get_or_insert_with(|| Param::new(x.clone()));
        param.set(x);
        let grads = FlatGrad { id: param.id(), g: Tensor::from_vec(pt.g.clone(), [n])? };
        self.opt.step(&mut [param], &grads)?;
        *pt = problem.point(param.value().to_vec())?;
        Ok(StepOutcome::Moved)
    }
}
