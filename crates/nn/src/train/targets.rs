//! The loss on the tape for each kind of target, the accuracy count, and the checks that data fits the loss,
//! each error naming the dataset row (and the file line for data read from a file).

use super::Loss;
use crate::data::{Dataset, Targets};
use crate::error::{Error, Result};
use tapegrad::{Float, Tape, Tensor, Var};

/// Refuses data the loss cannot take, before any step: a non-finite feature or real target, a class label
/// that is not 0 or 1 for binary cross-entropy, a real target outside `[0, 1]` for it. `part` names the data
/// in the error ("training data", "validation data").
pub(super) fn check_data<T: Float>(loss: Loss, data: &Dataset<T>, part: &str) -> Result<()> {
    let bad = |msg: String| Err(Error::Config { what: "fit", msg: format!("{part}: {msg}") });
    let f = data.num_features().max(1);
    if let Some(i) = data.features().data().iter().position(|v| !v.is_finite()) {
        let v = data.features().data()[i];
        return bad(format!("feature {} of {} is {v:?}, not finite", i % f, data.describe_row(i / f)));
    }
    match data.targets() {
        Targets::Values(t) => {
            let k = t.dims()[1].max(1);
            if let Some(i) = t.data().iter().position(|v| !v.is_finite()) {
                let v = t.data()[i];
                return bad(format!("target {} of {} is {v:?}, not finite", i % k, data.describe_row(i / k)));
            }
            if loss == Loss::BceWithLogits
                && let Some(i) = t.data().iter().position(|v| !(v.f64() >= 0.0 && v.f64() <= 1.0))
            {
                let v = t.data()[i];
                let row = data.describe_row(i / k);
                return bad(format!("binary cross-entropy needs targets in [0, 1], found {v:?} in {row}"));
            }
        }
        Targets::Classes { labels, .. } if loss == Loss::BceWithLogits => {
            if let Some((i, l)) = labels.iter().enumerate().find(|(_, l)| **l > 1) {
                let row = data.describe_row(i);
                return bad(format!("binary cross-entropy needs labels 0 or 1, found {l} in {row}"));
            }
        }
        Targets::Classes { .. } => {}
    }
    Ok(())
}

/// Records `loss` of the model output `out` against `targets`; `row` names a row of `targets` in errors (the
/// dataset row and file line behind a batch row).
pub(super) fn loss_var<'t, T: Float>(
    loss: Loss,
    tape: &'t Tape<T>,
    out: Var<'t, T>,
    targets: &Targets<T>,
    row: &dyn Fn(usize) -> String,
) -> Result<Var<'t, T>> {
    if let (Loss::SoftmaxCrossEntropy | Loss::Mse, Targets::Classes { labels, .. }) = (loss, targets) {
        let outputs = out.shape().dims().get(1).copied().unwrap_or(1);
        if out.shape().rank() == 2
            && let Some((i, l)) = labels.iter().enumerate().find(|(_, l)| **l >= outputs)
        {
            let msg = format!("label {l} of {} is not below the model's {outputs} outputs", row(i));
            return Err(Error::Config { what: "fit", msg });
        }
    }
    let v = match (loss, targets) {
        (Loss::SoftmaxCrossEntropy, Targets::Classes { labels, .. }) => out.softmax_cross_entropy(labels)?,
        (Loss::SoftmaxCrossEntropy, Targets::Values(t)) => out.softmax_cross_entropy_probs(tape.input(t.clone()))?,
        (Loss::Mse, Targets::Values(t)) => out.mse(tape.input(t.clone()))?,
        (Loss::Mse, Targets::Classes { labels, num_classes }) => out.mse(tape.input(one_hot(labels, *num_classes)?))?,
        (Loss::BceWithLogits, Targets::Values(t)) => out.bce_with_logits(tape.input(t.clone()))?,
        (Loss::BceWithLogits, Targets::Classes { labels, .. }) => {
            if let Some((i, l)) = labels.iter().enumerate().find(|(_, l)| **l > 1) {
                let msg = format!("binary cross-entropy needs labels 0 or 1, found {l} in {}", row(i));
                return Err(Error::Config { what: "fit", msg });
            }
            let t = Tensor::from_vec(labels.iter().map(|&l| T::of(l as f64)).collect(), [labels.len(), 1])?;
            out.bce_with_logits(tape.input(t))?
        }
    };
    Ok(v)
}

/// `(correct, counted)` for the loss's notion of accuracy; `None` where it has none (regression).
pub(super) fn count_correct<T: Float>(loss: Loss, out: &Tensor<T>, targets: &Targets<T>) -> Option<(usize, usize)> {
    match (loss, targets) {
        (Loss::SoftmaxCrossEntropy | Loss::Mse, Targets::Classes { labels, .. }) => {
            let pred = tapegrad::argmax_rows(out).ok()?;
            Some((pred.iter().zip(labels).filter(|(p, l)| p == l).count(), labels.len()))
        }
        (Loss::BceWithLogits, Targets::Classes { labels, .. }) if out.numel() == labels.len() => {
            let hits = out.data().iter().zip(labels).filter(|(z, l)| (z.f64() > 0.0) == (**l == 1)).count();
            Some((hits, labels.len()))
        }
        (Loss::BceWithLogits, Targets::Values(t)) if out.numel() == t.numel() => {
            let hits = out.data().iter().zip(t.data()).filter(|(z, y)| (z.f64() > 0.0) == (y.f64() > 0.5)).count();
            Some((hits, t.numel()))
        }
        _ => None,
    }
}

/// One-hot rows `[N, num_classes]`.
fn one_hot<T: Float>(labels: &[usize], num_classes: usize) -> Result<Tensor<T>> {
    let too_large = || Error::Config {
        what: "fit",
        msg: format!("one-hot targets [{}, {num_classes}] do not fit in memory", labels.len()),
    };
    let len = labels.len().checked_mul(num_classes).ok_or_else(too_large)?;
    let mut data = Vec::new();
    data.try_reserve_exact(len).map_err(|_| too_large())?;
    data.resize(len, T::zero());
    for (i, &l) in labels.iter().enumerate() {
        data[i * num_classes + l] = T::one();
    }
    Ok(Tensor::from_vec(data, [labels.len(), num_classes])?)
}
