//! libFuzzer entry of the `jsonl_replay` target (see targets.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| twin_fuzz::jsonl_replay(data));
