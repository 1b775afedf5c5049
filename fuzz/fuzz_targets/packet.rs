#![no_main]
//! Fuzz target: packet (written with the packet decoder).
libfuzzer_sys::fuzz_target!(|_data: &[u8]| {});
