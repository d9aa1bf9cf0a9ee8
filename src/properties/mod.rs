//! The invariants of the parsers and decoders that read what others wrote
//! (the config, the state files, user and file names, answers typed at the
//! prompt, google-authenticator files), as functions that panic when one does
//! not hold.
//!
//! One text, two runners: the property tests in each file (`cargo test --lib`,
//! a few hundred generated cases each) and the fuzz targets in `fuzz/`
//! (`scripts/fuzz`), whose crate includes this module (`#[path]`) and re-exports
//! twostep's modules at its root, so that `crate::…` means the same in both.
//! Compiled into the library only for its tests. One file per area: the
//! config (`config.rs`), the state files (`state.rs`), user and file names
//! (`names.rs`), answers (`answers.rs`), google-authenticator files
//! (`google.rs`), and the leak check two of them share (`leak.rs`).

mod answers;
mod config;
mod google;
mod leak;
mod names;
mod state;

// What the fuzz targets (`fuzz/fuzz_targets/`) call, as `properties::NAME`;
// the library's own tests use some of them only where they are defined.
#[allow(unused_imports)]
pub use answers::{AnswerCase, answer};
#[allow(unused_imports)]
pub use config::{config_copy_decode, config_copy_round_trip, config_parse};
pub use google::google_file;
#[allow(unused_imports)]
pub use names::{file_name_canonical, user_names_from_bytes};
pub use state::{record_decode, tally_decode};

#[cfg(test)]
use proptest::prelude::*;

/// The path given to [`crate::config::Config::parse`]; every error must name it.
pub const CONFIG_PATH: &str = "/etc/security/twostep.toml";
/// The path given to the state decoders (only used in their messages).
pub const STATE_PATH: &str = "/var/lib/twostep/secrets/alice";
/// Shortest piece of a secret whose appearance in an error counts as a leak.
pub const LEAK_WINDOW: usize = 8;

/// How many generated cases each property test runs.
#[cfg(test)]
fn proptest_config() -> ProptestConfig {
    ProptestConfig { cases: 300, ..ProptestConfig::default() }
}

/// A generated text damaged one way: `how` 0 cuts it at `at`, 1 inserts
/// `byte` there (when ASCII), anything else leaves it whole (for the state
/// files' property tests).
#[cfg(test)]
pub(crate) fn damage(text: &mut String, at: prop::sample::Index, byte: u8, how: u8) {
    let i = at.index(text.len() + 1);
    match how {
        0 if text.is_char_boundary(i) => text.truncate(i),
        1 if text.is_char_boundary(i) && byte.is_ascii() => text.insert(i, char::from(byte)),
        _ => {}
    }
}

/// TOML values of every type, and text that is none (for the config and the state files).
#[cfg(test)]
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        (0u64..100_000).prop_map(|n| n.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        "\"[ -~]{0,20}\"",
        "'[^'\n]{0,20}'",
        "\\[(\"[/a-z-]{0,10}\", ?){0,3}\\]",
        "\\{ ?[a-z]{1,8} = [0-9]{1,3} ?\\}",
        "[ -~]{0,12}",
        Just("\"/usr/sbin/sendmail\"".to_string()),
        Just("1979-05-27T07:32:00Z".to_string()),
        Just("inf".to_string()),
    ]
}

/// Base32 secrets, short ones and broken ones (for the state and google-authenticator files).
#[cfg(test)]
fn base32() -> impl Strategy<Value = String> {
    prop_oneof!["[A-Z2-7]{16,40}", "[A-Za-z0-9 =-]{0,40}", "[A-Z2-7]{1,15}", "[^\"\n\\\\]{0,30}"]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_files_pass() {
        config_parse(include_str!("../../pam-config/twostep.toml"));
        config_copy_round_trip(include_str!("../../pam-config/twostep.toml"));
        record_decode(b"version = 1\nsecret = \"JBSWY3DPEHPK3PXP\"\nemail = \"jane@district.org\"\nenabled = true\n");
        tally_decode(
            b"version = 1\nfailures = [1]\n[email_code]\nhash = \"00\"\nsalt = \"11\"\nsent_at = 1\nexpires_at = 2\n",
        );
        google_file(b"JBSWY3DPEHPK3PXP\n\" TOTP_AUTH\n12345678\n");
    }
}
