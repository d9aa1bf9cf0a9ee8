//! The record decoder (`store::record::decode`): never panics, accepts no newer version, never echoes the secret.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| twostep_fuzz::properties::record_decode(data));
