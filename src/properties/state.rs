//! The state decoders' invariants ([`record_decode`], [`tally_decode`]):
//! no panic, no newer version accepted, no secret value echoed.

use std::path::Path;

use super::STATE_PATH;
use super::leak::{assert_no_leak, rotate_spans};
use crate::store::StoreError;
use crate::store::{record, tally};

/// The record decoder (`store::record::decode`, what `UserFiles::read` runs),
/// and its reader of the canonical form agreeing with `toml`.
pub fn record_decode(bytes: &[u8]) {
    state_decode(bytes, record::RECORD_VERSION, |p, b| record::decode(p, b).map(drop));
    if let Ok(text) = std::str::from_utf8(bytes) {
        record::canonical_agrees_with_toml(text);
    }
}

/// The tally decoder (`store::tally::decode`, what `UserFiles::read` runs),
/// and its reader of the canonical form agreeing with `toml`.
pub fn tally_decode(bytes: &[u8]) {
    state_decode(bytes, tally::TALLY_VERSION, |p, b| tally::decode(p, b).map(drop));
    if let Ok(text) = std::str::from_utf8(bytes) {
        tally::canonical_agrees_with_toml(text);
    }
}

/// Keys whose values are secret or lead to one: the TOTP secret, and an email
/// code's salted hash and salt (10^digits guesses give the code back).
const SECRET_KEYS: [&str; 3] = ["secret", "hash", "salt"];

/// A state decoder never panics; never accepts a file whose `version` is newer
/// than `supported` (and says so: `NewerVersion`); never accepts a file that is
/// not TOML with a `version` from 1 to `supported`; and its error text does not
/// depend on the secret values in the file: it is the same when every letter
/// and digit of the `secret`/`hash`/`salt` values is replaced by another of
/// the same kind (which keeps base32 valid and the same length), and no
/// [`LEAK_WINDOW`]-character piece of those values appears in it, unless that
/// piece is also in the file outside the secret values, in the path, or in the
/// error for the file with the other secret (the words of a message, such as
/// the field names serde lists).
fn state_decode(bytes: &[u8], supported: u32, decode: impl Fn(&Path, &[u8]) -> Result<(), StoreError>) {
    let path = Path::new(STATE_PATH);
    let result = decode(path, bytes);
    let text = std::str::from_utf8(bytes).ok();
    let version = text.and_then(|t| toml::from_str::<toml::Table>(t).ok()).map(|t| t.get("version").cloned());
    match (&result, &version) {
        (Ok(()), Some(Some(toml::Value::Integer(v)))) => {
            assert!((1..=i64::from(supported)).contains(v), "accepted a file with version {v}")
        }
        (Ok(()), v) => panic!("accepted a file that is not TOML with an integer version: {v:?}"),
        (Err(e), Some(Some(toml::Value::Integer(v)))) if *v > i64::from(supported) => {
            assert!(matches!(e, StoreError::NewerVersion { found, .. } if found == v), "version {v}: {e}")
        }
        (Err(_), _) => {}
    }
    let (Err(e), Some(text)) = (result, text) else {
        return;
    };
    let message = e.to_string();
    let spans = secret_spans(text);
    let rotated = rotate_spans(text, &spans);
    let again = decode(path, rotated.as_bytes()).err().map(|e| e.to_string()).unwrap_or_default();
    assert_no_leak(&message, text, &spans, &[STATE_PATH, &again]);
    assert_eq!(again, message, "the error depends on the secret's content\n input: {text:?}\n other: {rotated:?}");
}

/// Byte ranges of the values of `SECRET_KEYS` lines: `KEY = "VALUE"` or
/// `KEY = 'VALUE'` at the start of a line (the key may be quoted), the value on
/// that line. A heuristic, not a TOML parser: good enough to find the values a
/// decoder could echo, and harmless where it finds something else.
pub fn secret_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start_matches([' ', '\t']);
        let mut at = line_start + (line.len() - trimmed.len());
        let rest = trimmed;
        let key = SECRET_KEYS.iter().find_map(|k| {
            [format!("\"{k}\""), format!("'{k}'"), (*k).to_string()].into_iter().find(|q| rest.starts_with(q.as_str()))
        });
        if let Some(key) = key {
            at += key.len();
            let after = &text[at..line_start + line.len()];
            let after_eq = after.trim_start_matches([' ', '\t']);
            if let Some(value) = after_eq.strip_prefix('=') {
                let value = value.trim_start_matches([' ', '\t']);
                let open = line_start + line.len() - value.len();
                if let Some(quote @ ('"' | '\'')) = value.chars().next() {
                    let body = &value[1..];
                    if let Some(end) = body.find([quote, '\n']) {
                        spans.push((open + 1, open + 1 + end));
                    } else {
                        spans.push((open + 1, open + 1 + body.len()));
                    }
                }
            }
        }
        line_start += line.len();
    }
    spans
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::properties::{base32, proptest_config, toml_value};

    /// State files as twostep writes them, then damaged: lines dropped,
    /// repeated or changed, a version that is missing, wrong or newer, the
    /// text cut anywhere, a byte changed anywhere.
    fn state_text(secret_lines: Vec<BoxedStrategy<String>>) -> impl Strategy<Value = String> {
        let version = prop_oneof![
            Just("version = 1".to_string()),
            (0i64..5).prop_map(|v| format!("version = {v}")),
            any::<i64>().prop_map(|v| format!("version = {v}")),
            toml_value().prop_map(|v| format!("version = {v}")),
            Just(String::new()),
        ];
        let other = prop_oneof![
            Just("enabled = true".to_string()),
            Just("email = \"jane@district.org\"".to_string()),
            (0u64..2_000_000_000).prop_map(|n| format!("created = {n}")),
            Just("failures = [1763880000, 1763880060]".to_string()),
            Just("locked_at = 1763880100".to_string()),
            Just("last_step = 58796000".to_string()),
            Just("grace_used = 1".to_string()),
            Just("[email_code]".to_string()),
            Just("sent_at = 1763880000".to_string()),
            Just("expires_at = 1763880600".to_string()),
            ("[a-z_]{1,10}", toml_value()).prop_map(|(k, v)| format!("{k} = {v}")),
            "[ -~]{0,20}",
        ];
        let line = prop_oneof![3 => prop::strategy::Union::new(secret_lines), 3 => other];
        (version, prop::collection::vec(line, 0..8), any::<prop::sample::Index>(), any::<u8>(), 0u8..4).prop_map(
            |(version, lines, at, byte, how)| {
                let mut text = format!("{version}\n{}\n", lines.join("\n"));
                crate::properties::damage(&mut text, at, byte, how);
                text
            },
        )
    }

    fn record_text() -> impl Strategy<Value = String> {
        state_text(vec![
            base32().prop_map(|s| format!("secret = \"{s}\"")).boxed(),
            base32().prop_map(|s| format!("secret = '{s}'")).boxed(),
            base32().prop_map(|s| format!("secret = \"{s}")).boxed(),
            (base32(), toml_value()).prop_map(|(s, v)| format!("secret = \"{s}\" {v}")).boxed(),
        ])
    }

    fn tally_text() -> impl Strategy<Value = String> {
        state_text(vec![
            "[0-9a-f]{64}".prop_map(|h| format!("hash = \"{h}\"")).boxed(),
            "[0-9a-f]{32}".prop_map(|s| format!("salt = \"{s}\"")).boxed(),
            "[0-9a-f]{8,40}".prop_map(|s| format!("salt = \"{s}")).boxed(),
            base32().prop_map(|s| format!("secret = \"{s}\"")).boxed(),
        ])
    }

    proptest! {
        #![proptest_config(proptest_config())]

        #[test]
        fn record_decoding_never_panics_accepts_no_newer_version_and_never_echoes_the_secret(text in record_text()) {
            record_decode(text.as_bytes());
        }

        #[test]
        fn tally_decoding_never_panics_accepts_no_newer_version_and_never_echoes_the_code_hash(text in tally_text()) {
            tally_decode(text.as_bytes());
        }
    }

    /// Found by the `tally` fuzz target: a false alarm of the first leak check,
    /// a salt holding `expires_at`, a field name serde lists in its message.
    #[test]
    fn a_field_name_in_a_secret_value_and_in_the_message_is_not_a_leak() {
        tally_decode(
            b"version = 1\n[email_code]\nhash = \"00\"\nsalt = \"0011expires_atff\"\nsent_at = 1\nhxpires_at = 2\n",
        );
    }

    #[test]
    fn the_secret_span_finder_finds_the_values_it_should() {
        let text = "version = 1\nsecret = \"JBSWY3DP\"\n  'salt'='abc'\nhash = \"x\nemail = \"secret = \\\"y\\\"\"\n";
        let spans: Vec<&str> = secret_spans(text).iter().map(|&(s, e)| &text[s..e]).collect();
        assert_eq!(spans, ["JBSWY3DP", "abc", "x"]);
        assert_eq!(
            rotate_spans("secret = \"AZaz27019\"", &secret_spans("secret = \"AZaz27019\"")),
            "secret = \"BAba32180\""
        );
    }
}
