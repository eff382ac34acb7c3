//! The fuzz corpora replayed: every input under `fuzz/corpus/<target>/` (the seeds, and each input a fuzzer
//! found that crashed, hung or grew without bound, kept after its fix) goes through the same target function as
//! the libFuzzer binaries of `fuzz/` (scripts/fuzz.sh), and none may panic.

#[path = "../../fuzz/targets.rs"]
mod targets;

use std::panic::{AssertUnwindSafe, catch_unwind};

#[test]
fn every_fuzz_corpus_input_goes_through_its_parser_without_a_panic() {
    let corpus = super::root().join("fuzz/corpus");
    let mut failures = Vec::new();
    for (name, target) in targets::TARGETS {
        let dir = corpus.join(name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{}: no seeds", dir.display());
        for file in files {
            let data = std::fs::read(&file).unwrap();
            if catch_unwind(AssertUnwindSafe(|| target(&data))).is_err() {
                failures.push(file.display().to_string());
            }
        }
    }
    assert!(failures.is_empty(), "inputs that panicked: {failures:#?}");
}
