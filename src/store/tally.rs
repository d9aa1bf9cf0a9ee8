//! The tally: per-user login state the module keeps in `tally_dir`.
//!
//! One root 0600 TOML file per user holding recent failed codes, the lock,
//! the last TOTP step accepted (replay protection), the pending email and
//! text-message codes (only their salted hashes, one per method, each with
//! its own resend throttle), the grace logins used, and, while a user sets
//! up a phone number or address at login, the code sent to confirm it and
//! when such codes went out (their own throttle). Every change is a
//! read-modify-write under the user's exclusive `flock` ([`super::UserStore::change`]),
//! written atomically, so parallel logins never lose a failure and exactly one
//! of two logins racing with the same code wins. A file that cannot be read or
//! parsed is an error: the login is refused, the count is never reset to zero.
//! What the numbers *mean* (lock or not) is decided in [`crate::policy`].

use std::path::Path;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The pending code's salted hash lives with the code rules; the tally keeps it.
pub use crate::email_code::EmailCode;

use super::canonical::Lines;
use super::error::StoreError;
use super::files::{self, UserFiles, Versioned};
use crate::trusted_fs::{Durability, FileId};

/// Newest tally format this build reads (2: `sms_code`; 3: `contact_code`
/// and `contact_sends`). Like the record, a tally is written with the oldest
/// version that holds it: 1 unless a text code is pending, 3 while a contact
/// is being confirmed (see `record.rs` for why).
pub const TALLY_VERSION: u32 = 3;
/// The version of a tally with a pending text code and no contact being confirmed.
pub const TALLY_VERSION_WITHOUT_CONTACT: u32 = 2;
/// The version of a tally without a pending text code.
pub const TALLY_VERSION_WITHOUT_SMS: u32 = 1;
/// Most failure timestamps kept per user (bounds the file size whatever `deny` is).
pub const MAX_FAILURES_KEPT: usize = 1000;

/// One user's tally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tally {
    pub version: u32,
    /// When each recent failed code was entered (seconds since the epoch), oldest first.
    #[serde(default)]
    pub failures: Vec<u64>,
    /// When the lock was engaged, if the user is (or was) locked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_at: Option<u64>,
    /// The TOTP time step of the last accepted code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_step: Option<u64>,
    /// The email code that was sent and not yet used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_code: Option<EmailCode>,
    /// The text-message code that was sent and not yet used (same rules as email).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_code: Option<EmailCode>,
    /// Grace logins used while not enrolled.
    #[serde(default)]
    pub grace_used: u32,
    /// The code sent to a phone number or address typed at enrollment, not
    /// yet confirmed. Never accepted as a login code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_code: Option<ContactCode>,
    /// When codes to typed contacts went out recently (the hourly cap), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contact_sends: Vec<u64>,
}

/// A code sent to confirm a phone number or address typed at enrollment: the
/// code (salted hash) and the contact it belongs to (a salted hash too, so
/// that a code confirms only the contact it was sent to).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactCode {
    /// `sms` or `email` (a [`crate::store::record::Method`] name).
    pub method: String,
    /// Hex SHA-256 of `code.salt || ":" || contact`.
    pub to: String,
    /// Wrong answers given to this code so far.
    #[serde(default)]
    pub tries: u32,
    pub code: EmailCode,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            version: TALLY_VERSION_WITHOUT_SMS,
            failures: Vec::new(),
            locked_at: None,
            last_step: None,
            email_code: None,
            sms_code: None,
            grace_used: 0,
            contact_code: None,
            contact_sends: Vec::new(),
        }
    }
}

impl Tally {
    /// The oldest format version that holds this tally (what it is written
    /// as, and what the directory, which has no version, reads it back as).
    pub fn oldest_version(&self) -> u32 {
        if self.contact_code.is_some() || !self.contact_sends.is_empty() {
            TALLY_VERSION
        } else if self.sms_code.is_some() {
            TALLY_VERSION_WITHOUT_CONTACT
        } else {
            TALLY_VERSION_WITHOUT_SMS
        }
    }
}

impl Versioned for Tally {
    fn version(&self) -> u32 {
        self.version
    }

    /// What [`encode`] writes for a tally without a pending code: five or six lines.
    fn canonical(text: &str) -> Option<Tally> {
        let mut l = Lines::new(text);
        let tally = Tally {
            version: l.small("version")?,
            failures: l.numbers("failures")?,
            locked_at: l.optional_number("locked_at")?,
            last_step: l.optional_number("last_step")?,
            grace_used: l.small("grace_used")?,
            contact_sends: l.optional_numbers("contact_sends")?,
            email_code: None,
            sms_code: None,
            contact_code: None,
        };
        l.done().then_some(tally)
    }
}

/// `user`'s tally in `files` (the empty tally when there is no file yet) and
/// the id of the file read.
pub(super) fn read(files: &UserFiles, user: &str) -> Result<(Tally, Option<FileId>), StoreError> {
    Ok(match files.read_with_id(user, TALLY_VERSION)? {
        Some((t, id)) => (t, Some(id)),
        None => (Tally::default(), None),
    })
}

/// Decodes the bytes of a tally file exactly as [`read`] does after reading
/// them (`path` is only used in messages): for the fuzz targets (`fuzz/`) and
/// the property tests.
pub fn decode(path: &Path, bytes: &[u8]) -> Result<Tally, StoreError> {
    files::decode(path, bytes, TALLY_VERSION)
}

/// Panics if [`Versioned::canonical`] reads `text` differently than `toml`
/// ([`files::canonical_agrees`]): for the fuzz targets and the property tests.
pub fn canonical_agrees_with_toml(text: &str) {
    files::canonical_agrees::<Tally>(text);
}

/// Writes `tally` for `user`, keeping at most [`MAX_FAILURES_KEPT`] failures.
pub(super) fn write(
    files: &UserFiles,
    user: &str,
    tally: &mut Tally,
    durability: Durability,
) -> Result<(), StoreError> {
    if tally.failures.len() > MAX_FAILURES_KEPT {
        let excess = tally.failures.len() - MAX_FAILURES_KEPT;
        tally.failures.drain(..excess);
    }
    tally.version = tally.oldest_version();
    // A login's tally fits on the stack; a longer one is encoded into memory.
    let room = room(tally);
    let mut stack = [0u8; 512];
    let mut heap = Zeroizing::new(Vec::new());
    let buf: &mut [u8] = if room <= stack.len() {
        &mut stack
    } else {
        heap.resize(room, 0);
        &mut heap
    };
    match encode_into(tally, Text { buf, len: 0, overflow: false }) {
        Some(text) => files.write_bytes_as(user, text.bytes(), durability),
        None => files.write_as(user, tally, durability),
    }
}

/// Bytes written into a buffer that never grows (a growing one could leave
/// copies of the hashes behind when it moves); wiped when dropped.
struct Text<'b> {
    buf: &'b mut [u8],
    len: usize,
    /// Something did not fit (never, with [`room`]'s size): the text is not used.
    overflow: bool,
}

impl Text<'_> {
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        match self.buf.get_mut(self.len..self.len + bytes.len()) {
            Some(to) => {
                to.copy_from_slice(bytes);
                self.len += bytes.len();
            }
            None => self.overflow = true,
        }
    }

    fn push(&mut self, byte: u8) {
        self.extend_from_slice(&[byte]);
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for Text<'_> {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.buf[..self.len]);
    }
}

/// The longest text [`encode_into`] can make of `t`.
fn room(t: &Tally) -> usize {
    let code_room = |c: &EmailCode| 120 + c.hash.len() + c.salt.len();
    200 + 22 * (t.failures.len() + t.contact_sends.len())
        + t.email_code.as_ref().map_or(0, code_room)
        + t.sms_code.as_ref().map_or(0, code_room)
        + t.contact_code.as_ref().map_or(0, |c| 80 + c.method.len() + c.to.len() + code_room(&c.code))
}

/// [`encode_into`] into memory (for the tests).
#[cfg(test)]
fn encode(t: &Tally) -> Option<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(vec![0u8; room(t)]);
    let text = encode_into(t, Text { buf: &mut buf, len: 0, overflow: false })?;
    Some(Zeroizing::new(text.bytes().to_vec()))
}

/// The text (UTF-8) `toml::to_string` makes of `tally`, made without serde (a login
/// writes its tally twice); `None` where it would take more than this knows
/// (a string with other characters than letters, digits and `-_.:+/=`, a
/// number beyond TOML's), and the caller then asks `toml`. Byte for byte
/// the same as `toml`'s (property test below).
fn encode_into<'b>(t: &Tally, mut out: Text<'b>) -> Option<Text<'b>> {
    fn decimal(out: &mut Text<'_>, value: u64) {
        out.extend_from_slice(crate::decimal::digits(value, &mut [0; 20]).as_bytes());
    }
    fn number(out: &mut Text<'_>, key: &str, value: u64) -> Option<()> {
        i64::try_from(value).ok()?;
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b" = ");
        decimal(out, value);
        out.push(b'\n');
        Some(())
    }
    fn numbers(out: &mut Text<'_>, key: &str, values: &[u64]) -> Option<()> {
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b" = [");
        for (i, v) in values.iter().enumerate() {
            i64::try_from(*v).ok()?;
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            decimal(out, *v);
        }
        out.extend_from_slice(b"]\n");
        Some(())
    }
    fn string(out: &mut Text<'_>, key: &str, value: &str) -> Option<()> {
        if !value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:+/=".contains(&b)) {
            return None;
        }
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b" = \"");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\"\n");
        Some(())
    }
    fn code(out: &mut Text<'_>, header: &str, c: &EmailCode) -> Option<()> {
        out.extend_from_slice(b"\n[");
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(b"]\n");
        string(out, "hash", &c.hash)?;
        string(out, "salt", &c.salt)?;
        number(out, "sent_at", c.sent_at)?;
        number(out, "expires_at", c.expires_at)
    }
    number(&mut out, "version", u64::from(t.version))?;
    numbers(&mut out, "failures", &t.failures)?;
    if let Some(v) = t.locked_at {
        number(&mut out, "locked_at", v)?;
    }
    if let Some(v) = t.last_step {
        number(&mut out, "last_step", v)?;
    }
    number(&mut out, "grace_used", u64::from(t.grace_used))?;
    if !t.contact_sends.is_empty() {
        numbers(&mut out, "contact_sends", &t.contact_sends)?;
    }
    if let Some(c) = &t.email_code {
        code(&mut out, "email_code", c)?;
    }
    if let Some(c) = &t.sms_code {
        code(&mut out, "sms_code", c)?;
    }
    if let Some(c) = &t.contact_code {
        out.extend_from_slice(b"\n[contact_code]\n");
        string(&mut out, "method", &c.method)?;
        string(&mut out, "to", &c.to)?;
        number(&mut out, "tries", u64::from(c.tries))?;
        code(&mut out, "contact_code.code", &c.code)?;
    }
    debug_assert!(!out.overflow, "the tally text outgrew its buffer");
    (!out.overflow).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn number() -> impl Strategy<Value = u64> {
        prop_oneof![4 => 0u64..2_000_000_000, 1 => Just(i64::MAX as u64), 1 => Just(i64::MAX as u64 + 1), 1 => Just(u64::MAX)]
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![8 => "[0-9a-f]{0,64}", 1 => "[a-z]{1,6}", 1 => ".{0,8}"]
    }

    fn code() -> impl Strategy<Value = EmailCode> {
        (text(), text(), number(), number()).prop_map(|(hash, salt, sent_at, expires_at)| EmailCode {
            hash,
            salt,
            sent_at,
            expires_at,
        })
    }

    fn tally() -> impl Strategy<Value = Tally> {
        (
            (1u32..=3, prop::collection::vec(number(), 0..6), prop::option::of(number()), prop::option::of(number())),
            (prop::option::of(code()), prop::option::of(code()), any::<u32>()),
            (prop::option::of((text(), text(), any::<u32>(), code())), prop::collection::vec(number(), 0..4)),
        )
            .prop_map(
                |(
                    (version, failures, locked_at, last_step),
                    (email_code, sms_code, grace_used),
                    (contact, contact_sends),
                )| {
                    Tally {
                        version,
                        failures,
                        locked_at,
                        last_step,
                        email_code,
                        sms_code,
                        grace_used,
                        contact_code: contact.map(|(method, to, tries, code)| ContactCode { method, to, tries, code }),
                        contact_sends,
                    }
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// What [`encode`] writes is what `toml` writes, byte for byte, and
        /// where it gives up `toml` has something else to say (other quoting,
        /// or an error).
        #[test]
        fn the_encoder_writes_exactly_what_toml_writes(t in tally()) {
            let theirs = toml::to_string(&t);
            match encode(&t) {
                Some(mine) => prop_assert_eq!(Ok(String::from_utf8(mine.to_vec()).unwrap()), theirs.map_err(|e| e.to_string())),
                None => {
                    let plain = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:+/=".contains(&b));
                    let codes = [t.email_code.clone(), t.sms_code.clone(), t.contact_code.as_ref().map(|c| c.code.clone())];
                    let strings_plain = codes.iter().flatten().all(|c| plain(&c.hash) && plain(&c.salt))
                        && t.contact_code.as_ref().is_none_or(|c| plain(&c.method) && plain(&c.to));
                    let big = |v: u64| v > i64::MAX as u64;
                    let numbers_big = t.failures.iter().chain(&t.contact_sends).copied().any(big)
                        || t.locked_at.is_some_and(big)
                        || t.last_step.is_some_and(big)
                        || codes.iter().flatten().any(|c| big(c.sent_at) || big(c.expires_at));
                    prop_assert!(!strings_plain || numbers_big, "gave up on a plain tally: {t:?}");
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// What a login writes (no code pending) is read back by the
        /// canonical reader, without a parser; every tally's text, and that
        /// text cut or with a byte changed, is read by it as `toml` reads it
        /// or not at all.
        #[test]
        fn the_canonical_reader_reads_what_the_encoder_writes_and_nothing_else(
            t in tally(), at in any::<prop::sample::Index>(), byte in any::<u8>(), damage in 0u8..3,
        ) {
            let Some(text) = encode(&t) else { return Ok(()) };
            let mut text = String::from_utf8(text.to_vec()).unwrap();
            let plain = t.email_code.is_none() && t.sms_code.is_none() && t.contact_code.is_none();
            if plain {
                prop_assert!(Tally::canonical(&text).as_ref() == Some(&t), "not read back: {text:?}");
            }
            crate::properties::damage(&mut text, at, byte, damage);
            canonical_agrees_with_toml(&text);
        }
    }

    #[test]
    fn the_canonical_reader_gives_up_on_what_it_does_not_know() {
        for text in [
            "version = 1\nfailures = []\ngrace_used = 0\n",
            "version = 1\nfailures = []\nlast_step = 5\ngrace_used = 0\n",
            "version = 3\nfailures = [1, 2]\nlocked_at = 3\nlast_step = 5\ngrace_used = 1\ncontact_sends = [4]\n",
        ] {
            assert!(Tally::canonical(text).is_some(), "{text:?}");
            canonical_agrees_with_toml(text);
        }
        for text in [
            "version = 1\ngrace_used = 0\nfailures = []\n",
            "version = 1\nfailures = []\ngrace_used = 0\n\n[email_code]\nhash = \"00\"\n",
            "version = 1\nfailures = []\ngrace_used = 0\nunknown = 1\n",
            "version = 1\nfailures = []\ngrace_used = 0",
            "version = 1\nfailures = []\ngrace_used = 0 # note\n",
            "version = 1\nversion = 1\nfailures = []\ngrace_used = 0\n",
            "version = 4294967296\nfailures = []\ngrace_used = 0\n",
        ] {
            assert!(Tally::canonical(text).is_none(), "{text:?}");
        }
    }

    #[test]
    fn a_login_tally_takes_the_encoder() {
        let t = Tally { failures: vec![1_763_880_000], last_step: Some(58_796_000), ..Tally::default() };
        assert_eq!(
            encode(&t).as_deref().map(|text| std::str::from_utf8(text).unwrap()),
            Some("version = 1\nfailures = [1763880000]\nlast_step = 58796000\ngrace_used = 0\n")
        );
    }
}
