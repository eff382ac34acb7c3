//! libFuzzer entry of the `mqtt_ingest` target (see targets.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| twin_fuzz::mqtt_ingest(data));
