//! The config parser's invariants ([`config_parse`]) and the compiled copy's
//! ([`config_copy_decode`], [`config_copy_round_trip`]).

use std::path::Path;

use super::CONFIG_PATH;
use crate::config::Config;
use crate::config::cache::{decode_config, encode_config};

/// [`Config::parse`] never panics; an error names the file; what it accepts is
/// within the documented ranges.
pub fn config_parse(text: &str) {
    match Config::parse(Path::new(CONFIG_PATH), text) {
        Err(e) => {
            let m = e.to_string();
            assert!(m.starts_with(CONFIG_PATH), "the error does not name the file: {m}");
        }
        Ok(c) => {
            assert!((6..=8).contains(&c.totp.digits), "{:?}", c.totp);
            assert!((10..=300).contains(&c.totp.period), "{:?}", c.totp);
            assert!(c.totp.skew <= 10, "{:?}", c.totp);
            assert!(c.secrets_dir.is_absolute() && c.tally_dir.is_absolute() && c.secrets_dir != c.tally_dir);
            assert!(!c.issuer.trim().is_empty() && c.issuer.len() <= 100 && !c.issuer.contains(':'));
            assert!((10..=3600).contains(&c.lockout.answer_timeout) && c.lockout.deny <= 1000);
            assert!(c.lockout.deny == 0 || c.lockout.fail_interval > 0);
            assert!(c.email.command.first().is_some_and(|p| Path::new(p).is_absolute()));
            assert!((60..=86400).contains(&c.email.code_valid) && c.email.resend_after <= c.email.code_valid);
            assert!((1..=300).contains(&c.email.timeout));
        }
    }
}

/// The compiled copy's decoder never panics, and what it accepts reads back
/// the same through the encoder.
pub fn config_copy_decode(bytes: &[u8]) {
    if let Some(config) = decode_config(bytes) {
        assert_eq!(decode_config(&encode_config(&config)).as_ref(), Some(&config));
    }
}

/// Every config the parser accepts reads back from its copy as it was.
pub fn config_copy_round_trip(text: &str) {
    if let Ok(config) = Config::parse(Path::new(CONFIG_PATH), text) {
        let bytes = encode_config(&config);
        assert_eq!(decode_config(&bytes).as_ref(), Some(&config), "{text}");
        for cut in [0, bytes.len() / 2, bytes.len().saturating_sub(1)] {
            assert_eq!(decode_config(&bytes[..cut]), None, "cut at {cut}");
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::properties::{proptest_config, toml_value};

    const CONFIG_KEYS: &[&str] = &[
        "issuer",
        "secrets_dir",
        "tally_dir",
        "digits",
        "period",
        "skew",
        "deny",
        "fail_interval",
        "unlock_time",
        "even_deny_root",
        "answer_timeout",
        "command",
        "from",
        "code_valid",
        "resend_after",
        "timeout",
        "address_template",
        "required",
        "grace_logins",
        "enroll_at_login",
        "required_groups",
        "exempt_groups",
    ];
    const CONFIG_TABLES: &[&str] =
        &["totp", "lockout", "email", "policy", "services.sshd", "services", "services.\"a b\"", "policy.x"];

    /// TOML-ish configuration text: known and unknown tables and keys, values
    /// of every type, broken lines, and any text at all.
    fn config_text() -> impl Strategy<Value = String> {
        let line = prop_oneof![
            (prop::sample::select(CONFIG_KEYS), toml_value()).prop_map(|(k, v)| format!("{k} = {v}")),
            ("[a-z_.]{1,12}", toml_value()).prop_map(|(k, v)| format!("{k} = {v}")),
            prop::sample::select(CONFIG_TABLES).prop_map(|t| format!("[{t}]")),
            prop::sample::select(CONFIG_TABLES).prop_map(|t| format!("[[{t}]]")),
            "[ -~\t]{0,30}",
            "# [^\n]{0,20}",
            Just(String::new()),
        ];
        prop_oneof![
            4 => prop::collection::vec(line, 0..16).prop_map(|l| l.join("\n")),
            1 => any::<String>(),
        ]
    }

    proptest! {
        #![proptest_config(proptest_config())]

        #[test]
        fn config_parse_never_panics_and_errors_name_the_file(text in config_text()) {
            config_parse(&text);
        }

        #[test]
        fn every_parsed_config_reads_back_from_its_copy(text in config_text()) {
            config_copy_round_trip(&text);
        }

        #[test]
        fn the_copy_decoder_never_panics_on_damaged_copies(
            text in config_text(),
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
            noise in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            let mut bytes = Config::parse(Path::new(CONFIG_PATH), &text).map(|c| encode_config(&c)).unwrap_or(noise);
            for (at, byte) in flips {
                if !bytes.is_empty() {
                    let i = at.index(bytes.len());
                    bytes[i] = byte;
                }
            }
            config_copy_decode(&bytes);
        }
    }
}
