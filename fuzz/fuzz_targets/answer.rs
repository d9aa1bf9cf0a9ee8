//! `totp::normalize_answer`, `totp::check`, `email_code::check`: only `digits` ASCII digits count.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some(case) = twostep_fuzz::properties::AnswerCase::from_bytes(data) {
        twostep_fuzz::properties::answer(&case);
    }
});
