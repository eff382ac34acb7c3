//! Integration tests, one binary (one link of Bevy): they drive the real `twin` executable as a user or a CI
//! job would, and build the headless app directly where they need to look inside the world.

mod batch;
mod change;
mod check;
mod expect;
#[cfg(feature = "gui")]
mod gui;
mod headless;
mod layers;
mod live_change;
mod replay;
mod sparkplug;
mod sync;
mod telemetry;
mod wear;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (tests run with it as the working directory).
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the `twin` binary with `args` from the repository root.
pub fn twin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_twin")).args(args).current_dir(root()).output().expect("start twin")
}

/// Every scenario bundled in `scenes/`, sorted.
pub fn scenes() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("scenes"))
        .expect("scenes/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
        .collect();
    v.sort();
    assert!(v.len() >= 2, "expected the pump station and at least one larger scenario");
    v
}

/// A fresh directory for a test's outputs, under target/ so CI can keep it as an artifact.
pub fn artifacts(name: &str) -> PathBuf {
    let dir = root().join("target").join("test-artifacts").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create artifact dir");
    dir
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
