//! The `nn` crate's error type; engine errors convert into it with `?`.

use thiserror::Error;

/// Everything `tapegrad-nn` can refuse.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// An engine operation failed.
    #[error(transparent)]
    Engine(#[from] tapegrad::Error),
    /// A layer got an input it cannot take (names the layer and both shapes).
    #[error("{layer}: {msg}")]
    Layer {
        /// The layer, e.g. `layers.0 (Linear 64 -> 128)`.
        layer: String,
        /// What is wrong, with the shapes.
        msg: String,
    },
    /// An optimizer found a parameter without a gradient (a cut graph), or another misuse.
    #[error("{optimizer}: {msg}")]
    Optimizer {
        /// The optimizer's name.
        optimizer: &'static str,
        /// What is wrong.
        msg: String,
    },
    /// A configuration value out of range.
    #[error("{what}: {msg}")]
    Config {
        /// What was being configured.
        what: &'static str,
        /// What is wrong.
        msg: String,
    },
    /// A data file that cannot be read, with its path, line and column.
    #[error("{path}:{line}:{column}: {msg}")]
    Parse {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column (field number for CSV).
        column: usize,
        /// What is wrong.
        msg: String,
    },
    /// An I/O error with the path it happened on.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A model file that does not match the model (names, shapes, dtypes) or is corrupt.
    #[error("{path}: {msg}")]
    ModelFile {
        /// The file.
        path: String,
        /// What is wrong.
        msg: String,
    },
}

/// Shorthand for results of `nn` operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
