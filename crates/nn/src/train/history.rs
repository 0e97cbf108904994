//! What [`super::fit`] reports: per-epoch statistics and why training stopped.

use std::time::Duration;

/// Loss and accuracy on a dataset (see [`super::evaluate`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    /// Mean loss over the examples.
    pub loss: f64,
    /// Fraction classified correctly; `None` for regression.
    pub accuracy: Option<f64>,
}

/// The numbers of one epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochStats {
    /// The epoch, counted from 0 (the number a schedule gets).
    pub epoch: usize,
    /// Mean training loss over the epoch's batches (weighted by batch size), before each step's update.
    pub train_loss: f64,
    /// The running loss estimate `Q` after the epoch's last batch (see [`History::running_loss`]).
    pub running_loss: f64,
    /// Running training accuracy over the epoch's batches; `None` for regression.
    pub train_acc: Option<f64>,
    /// Validation loss after the epoch, in eval mode; `None` without a validation set.
    pub val_loss: Option<f64>,
    /// Validation accuracy after the epoch; `None` without a validation set or for regression.
    pub val_acc: Option<f64>,
    /// The optimizer's learning rate during the epoch.
    pub lr: f64,
    /// Wall time of the epoch's training steps: shuffle, gather, forward, backward, update.
    pub train_time: Duration,
    /// Wall time of the whole epoch, evaluation included.
    pub time: Duration,
}

/// Why [`super::fit`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StopReason {
    /// All epochs ran.
    #[default]
    Completed,
    /// The monitored loss did not improve for `patience` epochs.
    EarlyStopping {
        /// The last epoch run (counted from 0).
        epoch: usize,
        /// The epoch with the best monitored loss; `None` when every epoch's was NaN.
        best_epoch: Option<usize>,
    },
    /// The callback returned [`std::ops::ControlFlow::Break`] after this epoch.
    Callback {
        /// The last epoch run.
        epoch: usize,
    },
    /// A batch loss, or a parameter after a step, was not finite during this epoch; the parameters were put
    /// back to their values at the start of the epoch.
    Diverged {
        /// The epoch it happened in.
        epoch: usize,
    },
}

/// Per-epoch statistics of a training run, and the running loss estimate per batch, ready to plot.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct History {
    /// One entry per epoch run.
    pub epochs: Vec<EpochStats>,
    /// The running loss estimate of lecture 001 after every batch, in order over all epochs:
    /// `Q_1 = loss_1`, then `Q_k = (1 - eta) Q_(k-1) + eta loss_k` with `eta` =
    /// [`FitConfig::running_loss_eta`](super::FitConfig::running_loss_eta). It follows the loss of the
    /// current weights over the last `~1/eta` batches, without the jump of a per-epoch mean; NaN from a batch
    /// whose loss was not finite on.
    pub running_loss: Vec<f64>,
    /// Why training stopped.
    pub stop: StopReason,
    /// The epoch (counted from 0) with the best monitored loss (validation loss if there was a validation
    /// set, else training loss); `None` when no epoch had one that was not NaN.
    pub best_epoch: Option<usize>,
    /// Wall time of the whole run.
    pub total_time: Duration,
}

impl History {
    /// The last epoch's statistics.
    pub fn last(&self) -> Option<&EpochStats> {
        self.epochs.last()
    }

    /// Number of epochs run.
    pub fn len(&self) -> usize {
        self.epochs.len()
    }

    /// Whether no epoch ran.
    pub fn is_empty(&self) -> bool {
        self.epochs.is_empty()
    }

    /// Training loss per epoch.
    pub fn train_loss(&self) -> Vec<f64> {
        self.epochs.iter().map(|e| e.train_loss).collect()
    }

    /// Validation loss per epoch (`NaN` where there was none).
    pub fn val_loss(&self) -> Vec<f64> {
        self.epochs.iter().map(|e| e.val_loss.unwrap_or(f64::NAN)).collect()
    }

    /// The old name of [`History::val_loss`].
    #[deprecated(note = "the held-out split is the validation set: use `val_loss`")]
    pub fn test_loss(&self) -> Vec<f64> {
        self.val_loss()
    }

    /// Training accuracy per epoch (`NaN` where there was none).
    pub fn train_acc(&self) -> Vec<f64> {
        self.epochs.iter().map(|e| e.train_acc.unwrap_or(f64::NAN)).collect()
    }

    /// Validation accuracy per epoch (`NaN` where there was none).
    pub fn val_acc(&self) -> Vec<f64> {
        self.epochs.iter().map(|e| e.val_acc.unwrap_or(f64::NAN)).collect()
    }

    /// The old name of [`History::val_acc`].
    #[deprecated(note = "the held-out split is the validation set: use `val_acc`")]
    pub fn test_acc(&self) -> Vec<f64> {
        self.val_acc()
    }
}
