//! The logic of tapegrad's runnable examples, shared by the example binaries (`examples/*.rs`) and the
//! end-to-end tests (`tests/`), so that a test runs exactly what a user runs, only with fewer epochs.
//!
//! Each module is one example: [`backprop`] (the lecture's deltas against the tape), [`digits`] (the main job: an MLP
//! on the handwritten digits, its pictures and model file), [`xor`] (logic-gate
//! neurons and a trained XOR net).

#[path = "lib/backprop.rs"]
pub mod backprop;
#[path = "lib/binary.rs"]
pub mod binary;
#[path = "lib/digits.rs"]
pub mod digits;
#[path = "lib/digits_classical.rs"]
pub mod digits_classical;
#[path = "lib/digits_report.rs"]
pub mod digits_report;
#[path = "lib/error.rs"]
pub mod error;
#[path = "lib/heatmap.rs"]
pub mod heatmap;
#[path = "lib/optim_choice.rs"]
pub mod optim_choice;
#[path = "lib/plot.rs"]
pub mod plot;
#[path = "lib/regression.rs"]
pub mod regression;
#[path = "lib/xor.rs"]
pub mod xor;

pub use error::{Error, Result};
