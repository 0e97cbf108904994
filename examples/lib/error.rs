//! The examples' error type: engine and `nn` errors, file errors with their path, and failed checks.

use thiserror::Error;

/// Everything an example can fail with.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// An engine operation failed (boxed: engine errors are large).
    #[error(transparent)]
    Engine(Box<tapegrad::Error>),
    /// An `nn` operation failed (layers, optimizers, data, model files).
    #[error(transparent)]
    Nn(Box<tapegrad_nn::Error>),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Drawing a picture failed.
    #[error("plot {path}: {msg}")]
    Plot {
        /// The picture being drawn.
        path: String,
        /// What went wrong.
        msg: String,
    },
    /// A bad command-line value or input row.
    #[error("{what}: {msg}")]
    Input {
        /// The flag or input.
        what: String,
        /// What is wrong.
        msg: String,
    },
    /// A check the example makes on itself failed (e.g. hand-computed and tape gradients differ).
    #[error("check failed: {0}")]
    Check(String),
    /// Training diverged (a loss or a parameter became NaN or infinite); nothing was saved.
    #[error("training diverged: {0}")]
    Diverged(String),
}

impl From<tapegrad::Error> for Error {
    fn from(e: tapegrad::Error) -> Self {
        Error::Engine(Box::new(e))
    }
}

impl From<tapegrad_nn::Error> for Error {
    fn from(e: tapegrad_nn::Error) -> Self {
        Error::Nn(Box::new(e))
    }
}

/// Shorthand for results of the examples.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Wraps an I/O error with its path.
pub fn io_err(path: impl AsRef<std::path::Path>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.as_ref().display().to_string();
    move |source| Error::Io { path, source }
}

/// Creates the output folder `dir` and checks that a file can be written in it, before any training: an
/// unwritable folder found only at the end would lose the whole run.
///
/// # Errors
/// [`Error::Io`] naming the folder, or the probe file that could not be written.
pub fn prepare_out_dir(dir: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let probe = dir.join(format!(".tapegrad-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"ok").map_err(io_err(&probe))?;
    std::fs::remove_file(&probe).map_err(io_err(&probe))
}

/// Refuses a run that [`tapegrad_nn::train::fit`] stopped as diverged (its parameters were put back to the
/// last finite ones, but they are not a trained model), and any model holding a NaN or infinite
/// parameter, so that nothing non-finite is saved or reported as a result.
///
/// # Errors
/// [`Error::Diverged`] naming the epoch or the parameter.
pub fn ensure_trained<T: tapegrad::Float, M: tapegrad_nn::Module<T> + ?Sized>(
    history: &tapegrad_nn::train::History,
    model: &M,
) -> Result<()> {
    if let tapegrad_nn::train::StopReason::Diverged { epoch } = history.stop {
        return Err(Error::Diverged(format!(
            "a loss or a parameter became NaN or infinite in epoch {epoch} (try a smaller --lr); no model was saved"
        )));
    }
    for (name, p) in model.params() {
        if let Some(v) = p.value().data().iter().find(|v| !v.is_finite()) {
            return Err(Error::Diverged(format!("parameter {name} holds {}; no model was saved", v.f64())));
        }
    }
    Ok(())
}

/// Why training stopped, in words, for the examples' output (epochs counted from 1 there, as progress bars do).
pub fn stop_reason(history: &tapegrad_nn::train::History) -> String {
    use tapegrad_nn::train::StopReason;
    match history.stop {
        StopReason::Completed => format!("completed {} epochs", history.len()),
        StopReason::EarlyStopping { epoch, best_epoch } => {
            let best = best_epoch.map_or("none (every loss NaN)".to_string(), |b| (b + 1).to_string());
            format!("early stopping after epoch {} (best epoch {best})", epoch + 1)
        }
        StopReason::Callback { epoch } => format!("stopped by the callback after epoch {}", epoch + 1),
        StopReason::Diverged { epoch } => {
            format!("diverged in epoch {}; parameters put back to the start of that epoch", epoch + 1)
        }
    }
}

/// Ends an example's `main`: prints the error with its message (not its debug form) and fails.
pub fn report(result: Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
