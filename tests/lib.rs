//! End-to-end tests live in this package; see the `[[test]]` targets. Each example's test includes the
//! example's own file (`#[path = "../examples/NAME.rs"] mod NAME;`) and calls its `run` with arguments parsed
//! by its clap parser, so these tests run exactly what `cargo run --example NAME` runs.
//!
//! Helpers for the tests: a fresh scratch folder per test.

use std::path::PathBuf;

/// A fresh, empty folder under the system temp dir for one test's output files.
///
/// # Panics
/// When the folder cannot be created (a test-environment failure, not a library one).
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tapegrad-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("test setup: create a scratch folder");
    dir
}

/// Whether `path` is a non-empty PNG file (checks the 8-byte signature).
pub fn is_png(path: &std::path::Path) -> bool {
    std::fs::read(path).is_ok_and(|b| b.len() > 100 && b.starts_with(b"\x89PNG\r\n\x1a\n"))
}

/// The README's code, compiled and run as doc-tests (so the 15-line example cannot rot).
pub mod readme {
    #![doc = include_str!("../README.md")]
}

/// The tutorial (`docs/tutorial.md`): every Rust block is a doc-test.
pub mod tutorial {
    #![doc = include_str!("../docs/tutorial.md")]
}
