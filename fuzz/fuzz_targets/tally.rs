//! The tally decoder (`store::tally::decode`): never panics, accepts no newer version, never echoes an email code's hash or salt.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| twostep_fuzz::properties::tally_decode(data));
