//! google-authenticator files ([`google_file`]): no panic, the scratch codes
//! kept, and no piece of the secret in what is said.

use super::leak::{assert_no_leak, rotate_spans};
use crate::config::TotpConfig;

/// `GaFile::parse` never panics; refuses exactly the files that are not UTF-8;
/// keeps the distinct 8-digit lines as scratch codes; and neither its errors nor what
/// `decide` says of a parsed file contain a [`LEAK_WINDOW`]-character piece of
/// the secret line or a scratch code (unless it also appears elsewhere in the
/// file, e.g. as an option's argument, which `decide` may show).
pub fn google_file(bytes: &[u8]) {
    use crate::cli::google::{GaError, GaFile, decide};
    let parsed = GaFile::parse(bytes);
    let Ok(text) = std::str::from_utf8(bytes) else {
        assert_eq!(parsed.err(), Some(GaError::NotText));
        return;
    };
    // The first line and every scratch-code line are secret.
    let mut spans = Vec::new();
    let mut start = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let body = line.strip_suffix('\n').unwrap_or(line);
        let body = body.strip_suffix('\r').unwrap_or(body);
        if i == 0 || (body.len() == 8 && body.bytes().all(|b| b.is_ascii_digit())) {
            spans.push((start, start + body.len()));
        }
        start += line.len();
    }
    if spans.is_empty() {
        spans.push((0, 0));
    }
    let says = |parsed: Result<GaFile, GaError>| match parsed {
        Err(e) => {
            assert_ne!(e, GaError::NotText);
            e.to_string()
        }
        Ok(file) => {
            let distinct: std::collections::BTreeSet<&str> = spans[1..].iter().map(|&(a, b)| &text[a..b]).collect();
            assert_eq!(file.scratch_codes.len(), distinct.len(), "{text:?}");
            assert!(!file.secret.to_base32().is_empty());
            let totp = TotpConfig { digits: 6, period: 30, skew: 1 };
            match decide(&file, &totp) {
                Ok(notes) => notes.join("\n"),
                Err(e) => e.to_string(),
            }
        }
    };
    let message = says(parsed);
    let rotated = rotate_spans(text, &spans);
    let again = says(GaFile::parse(rotated.as_bytes()));
    assert_no_leak(&message, text, &spans, &[&again]);
    assert_eq!(again, message, "what is said depends on the secret\n input: {text:?}\n other: {rotated:?}");
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::properties::{base32, proptest_config};

    /// google-authenticator files: a secret line, options, scratch codes, junk.
    fn google_text() -> impl Strategy<Value = String> {
        let line = prop_oneof![
            Just("\" TOTP_AUTH".to_string()),
            (1u32..30).prop_map(|n| format!("\" WINDOW_SIZE {n}")),
            Just("\" RATE_LIMIT 3 30 1763880000".to_string()),
            (0u64..100_000_000).prop_map(|n| format!("\" DISALLOW_REUSE {n}")),
            "[0-9]{1,4}".prop_map(|n| format!("\" STEP_SIZE {n}")),
            Just("\" HOTP_COUNTER 1".to_string()),
            "\" [A-Za-z_]{0,12}( [ -~]{0,12})?",
            "[0-9]{8}",
            "[0-9]{7,9}",
            "[ -~\t\r]{0,16}",
        ];
        (base32(), prop::collection::vec(line, 0..8), any::<bool>()).prop_map(|(secret, lines, crlf)| {
            let end = if crlf { "\r\n" } else { "\n" };
            format!("{secret}{end}{}", lines.join(end))
        })
    }

    proptest! {
        #![proptest_config(proptest_config())]

        #[test]
        fn google_authenticator_files_never_panic_or_echo_the_secret(text in google_text()) {
            google_file(text.as_bytes());
        }
    }

    /// Found by the `google` fuzz target: a false alarm of the first leak
    /// check, which also counted pieces with a space ("AAAAAAA " = the end of
    /// an option name shown in a note plus the note's space).
    #[test]
    fn a_word_of_the_file_shown_in_a_note_is_not_a_leak_of_the_secret() {
        google_file(b"33AAAAJAAAe=eAAAAAAAA                   \r\n\" TOTP_AUTH\r\n\" STP_AUTAAAAAAAAA");
    }
}
