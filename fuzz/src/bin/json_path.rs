//! libFuzzer entry of the `json_path` target (see targets.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| twin_fuzz::json_path(data));
