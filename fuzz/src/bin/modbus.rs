//! libFuzzer entry of the `modbus` target (see targets.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| twin_fuzz::modbus(data));
