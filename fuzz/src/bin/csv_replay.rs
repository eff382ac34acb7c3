//! libFuzzer entry of the `csv_replay` target (see targets.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| twin_fuzz::csv_replay(data));
