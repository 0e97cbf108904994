//! The logic of tapegrad's runnable examples, shared by the example binaries (`examples/*.rs`) and the
//! end-to-end tests (`tests/`), so that a test runs exactly what a user runs, only with fewer epochs.
//!
//! Each module is one example: [`backprop`] (the lecture's deltas against the tape).

#[path = "lib/backprop.rs"]
pub mod backprop;
#[path = "lib/error.rs"]
pub mod error;
#[path = "lib/plot.rs"]
pub mod plot;

pub use error::{Error, Result};
