//! End-to-end tests live in this package; see the `[[test]]` targets.
