//! libFuzzer entry of the `approval` target (see targets.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| twin_fuzz::approval(data));
