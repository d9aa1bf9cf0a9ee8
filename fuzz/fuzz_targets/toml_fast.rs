//! `toml_fast::parse`: whatever the fast path accepts, `toml` accepts and reads the same.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        pam_twostep::toml_fast::agrees_with_toml(text);
    }
});
