//! `user::file_name`: safe file names that round-trip; two different names never share a file.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| twostep_fuzz::properties::user_names_from_bytes(data));
