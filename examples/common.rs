//! Boilerplate shared by tapegrad's runnable examples (`examples/*.rs`): the error type and the end of
//! `main` ([`error`]), training curves and digit grids ([`plot`]), tiles on a shared colour scale with a
//! colour bar ([`heatmap`]), and the digits data with the split the digits examples share ([`digits`]).
//!
//! The examples themselves are the files `examples/NAME.rs`, each readable top to bottom; the end-to-end
//! tests include them with `#[path = "../examples/NAME.rs"] mod NAME;`, so a test runs exactly what a user
//! runs.

#[path = "lib/digits.rs"]
pub mod digits;
#[path = "lib/error.rs"]
pub mod error;
#[path = "lib/heatmap.rs"]
pub mod heatmap;
#[path = "lib/plot.rs"]
pub mod plot;

pub use error::{Error, Result};

use std::path::{Path, PathBuf};

/// The bundled data file `examples/data/NAME`. The path is fixed when this library is compiled, so the
/// examples, and the tests that include their files, find the data from any folder (an example file's own
/// `env!("CARGO_MANIFEST_DIR")` would name the tests' package when a test includes it).
pub fn data_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data").join(name)
}

/// The workspace root (the folder above `examples/`), where relative paths in the examples' `--help`
/// defaults such as `examples/data/digits.csv.gz` start.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}
