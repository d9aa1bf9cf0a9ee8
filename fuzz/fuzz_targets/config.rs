//! `config::Config::parse`: never panics, an error names the file, what it accepts is in range.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        twostep_fuzz::properties::config_parse(text);
    }
});
