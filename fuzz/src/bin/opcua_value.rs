//! libFuzzer entry of the `opcua_value` target (see targets.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| twin_fuzz::opcua_value(data));
