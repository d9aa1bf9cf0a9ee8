//! `user::from_file_name`: only the file names `file_name` writes are read as users.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        twostep_fuzz::properties::file_name_canonical(text);
    }
});
