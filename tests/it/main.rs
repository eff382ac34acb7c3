//! Integration tests, one binary (one link of Bevy): they drive the real `twin` executable as a user or a CI
//! job would, and build the headless app directly where they need to look inside the world.

mod approvals;
mod batch;
mod change;
mod check;
mod expect;
mod fleet;
mod fuzz_corpora;
#[cfg(feature = "gui")]
mod gui;
mod headless;
mod layers;
mod live_change;
mod opcua;
mod replay;
mod scale;
mod serve;
mod sparkplug;
mod store;
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

/// One test suite of a JUnit file: its name, its counts (tests, failures, errors) and its cases, each with the
/// message of its failure or error (none when it passed).
#[derive(Debug)]
pub struct JunitSuite {
    pub name: String,
    pub counts: (u64, u64, u64),
    pub cases: Vec<(String, Option<String>)>,
}

/// A JUnit file as a CI server reads it (parsed by roxmltree, not by the library that wrote it): the root's counts
/// (tests, failures, errors) and its suites.
pub fn junit(path: &Path) -> ((u64, u64, u64), Vec<JunitSuite>) {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{}: not XML: {e}\n{text}", path.display()));
    let n = |node: roxmltree::Node, a: &str| node.attribute(a).map_or(0, |v| v.parse::<u64>().unwrap());
    let counts = |node| (n(node, "tests"), n(node, "failures"), n(node, "errors"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites", "{text}");
    let suites = root
        .children()
        .filter(|c| c.has_tag_name("testsuite"))
        .map(|s| JunitSuite {
            name: s.attribute("name").unwrap_or_default().to_string(),
            counts: counts(s),
            cases: s
                .children()
                .filter(|c| c.has_tag_name("testcase"))
                .map(|c| {
                    let bad = c.children().find(|x| x.has_tag_name("failure") || x.has_tag_name("error"));
                    (
                        c.attribute("name").unwrap_or_default().to_string(),
                        bad.and_then(|b| b.attribute("message")).map(str::to_string),
                    )
                })
                .collect(),
        })
        .collect();
    (counts(root), suites)
}
