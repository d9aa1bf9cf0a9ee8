//! `cli::google::GaFile::parse` (and `decide`): never panics, never echoes the secret or a scratch code.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| twostep_fuzz::properties::google_file(data));
