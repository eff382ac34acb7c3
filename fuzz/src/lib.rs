//! The fuzz targets (shared with the test suite, which replays the corpora through them).

#[path = "../targets.rs"]
mod targets;

pub use targets::*;
