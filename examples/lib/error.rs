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
