//! libFuzzer entry of the `scenario` target (see targets.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| twin_fuzz::scenario(data));
