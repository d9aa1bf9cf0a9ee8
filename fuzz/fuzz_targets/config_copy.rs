//! The compiled config's decoder (`config::cache::decode_config`): never panics; what it accepts reads back the same.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| twostep_fuzz::properties::config_copy_decode(data));
