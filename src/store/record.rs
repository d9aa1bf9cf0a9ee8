//! The secrets store: one file per user in `secrets_dir` holding the TOTP
//! secret, the fallback email address, the phone number for text messages
//! and the enabled flag.
//!
//! Written by the admin command (and by enrollment at login); read by the
//! module. File format (TOML, root 0600):
//!
//! ```toml
//! version = 1
//! secret = "BASE32…"          # absent for an email-only user
//! email = "jane@district.org" # absent when none is on file
//! phone = "+15551234567"      # E.164; absent when none is on file (then version = 1)
//! enabled = true
//! created = 1763880000        # seconds since the epoch
//! disabled_until = 1763966400 # `disable --for`: enabled again from then on (version 3)
//!
//! [[backup_codes]]            # one per unused backup code (version 3)
//! salt = "…"                  # hex; hash = hex SHA-256 of "salt:code"
//! hash = "…"
//!
//! [bypass]                    # a pending help-desk code (version 3)
//! salt = "…"
//! hash = "…"
//! created = 1763880000
//! expires = 1763883600
//! uses_left = 1
//! by = "helpdesk-admin"
//! ```
//!
//! Versions: a record is written with the oldest version that can hold it:
//! 1 without a phone number, 2 with one, 3 with backup codes, a bypass code
//! or a `disabled_until` (see [`crate::backup_codes`]). Older twostep builds
//! refuse a version newer than theirs by name ("written by a newer
//! version"), so after a downgrade the users without the newer keys keep
//! logging in and the others are refused (fail closed) instead of silently
//! losing a method, keeping a used code usable, or tripping over an
//! "unknown field". This build reads all three.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::canonical::Lines;
use super::error::StoreError;
use super::files::{self, UserFiles, Versioned};
use crate::backup_codes::{Bypass, CodeHash};
use crate::secret::TotpSecret;
use crate::trusted_fs::FileId;

/// Newest record format this build reads (2: `phone`; 3: `backup_codes`,
/// `bypass`, `disabled_until`).
pub const RECORD_VERSION: u32 = 3;
/// The version of a record without the newer keys (what older builds read).
pub const RECORD_VERSION_WITHOUT_PHONE: u32 = 1;
/// The version of a record with a phone number and none of version 3's keys.
pub const RECORD_VERSION_WITH_PHONE: u32 = 2;

#[derive(Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct RecordFile {
    version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret: Option<Zeroizing<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    phone: Option<String>,
    enabled: bool,
    #[serde(default)]
    created: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    disabled_until: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    backup_codes: Vec<CodeHash>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bypass: Option<Bypass>,
}

/// One user's second-factor setup.
#[derive(Debug, Clone, Default)]
pub struct UserRecord {
    pub secret: Option<TotpSecret>,
    pub email: Option<String>,
    /// E.164 (`+15551234567`), checked when written; checked again before use.
    pub phone: Option<String>,
    pub enabled: bool,
    pub created: u64,
    /// `twostep disable USER --for`: with `enabled = false`, the record is
    /// disabled only before this time ([`UserRecord::enabled_at`]).
    pub disabled_until: Option<u64>,
    /// The unused backup codes, hashed ([`crate::backup_codes`]).
    pub backup_codes: Vec<CodeHash>,
    /// The pending help-desk bypass code, hashed (possibly expired or used up).
    pub bypass: Option<Bypass>,
}

/// The ways a user can prove the second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Totp,
    Email,
    /// A code by text message (`[sms] command`).
    Sms,
    /// A backup code (never in [`UserRecord::methods`]: they come with one of the above).
    Backup,
    /// A help-desk bypass code (never in [`UserRecord::methods`]).
    Bypass,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Totp => "totp",
            Method::Email => "email",
            Method::Sms => "sms",
            Method::Backup => "backup",
            Method::Bypass => "bypass",
        }
    }
}

impl UserRecord {
    /// Whether the second factor is in force at `now`: enabled, or disabled
    /// with `--for` and the end has come.
    pub fn enabled_at(&self, now: u64) -> bool {
        self.enabled || self.disabled_until.is_some_and(|until| now >= until)
    }

    /// The bypass code that can still let someone in at `now`.
    pub fn live_bypass(&self, now: u64) -> Option<&Bypass> {
        self.bypass.as_ref().filter(|b| b.is_live(now))
    }

    /// The methods this record provides (an address derived from `address_template` is not counted here).
    pub fn methods(&self) -> Vec<Method> {
        let mut m = Vec::new();
        if self.secret.is_some() {
            m.push(Method::Totp);
        }
        if self.email.is_some() {
            m.push(Method::Email);
        }
        if self.phone.is_some() {
            m.push(Method::Sms);
        }
        m
    }

    /// Whether this record sets up a second factor at all (enabled or not): the
    /// one answer to "is this user enrolled?".
    pub fn is_enrolled(&self) -> bool {
        self.secret.is_some() || self.email.is_some() || self.phone.is_some()
    }

    /// The number text-message codes go to: the one on file when it is valid
    /// E.164 (a damaged one is never handed to the command).
    pub fn code_phone(&self) -> Option<&str> {
        self.phone.as_deref().filter(|p| crate::phone::validate_phone(p).is_ok())
    }

    /// Where email codes for `user` go: the address on file, else the
    /// `address_template` one (`from_template`), else none. An enrolled record
    /// only: the template never makes an unenrolled user enrolled.
    pub fn code_address(&self, template: &str, user: &str) -> Option<CodeAddress> {
        if !self.is_enrolled() {
            return None;
        }
        let address = crate::address::address_for(self.email.as_deref(), template, user)?;
        Some(CodeAddress { from_template: self.email.is_none(), address })
    }
}

/// An address codes go to, and whether it comes from `address_template`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeAddress {
    pub address: String,
    pub from_template: bool,
}

impl Versioned for RecordFile {
    fn version(&self) -> u32 {
        self.version
    }

    /// What `toml` writes for a record without backup codes or a bypass code.
    fn canonical(text: &str) -> Option<RecordFile> {
        let mut l = Lines::new(text);
        let file = RecordFile {
            version: l.small("version")?,
            secret: l.optional_string("secret")?.map(|s| Zeroizing::new(s.to_owned())),
            email: l.optional_string("email")?.map(str::to_owned),
            phone: l.optional_string("phone")?.map(str::to_owned),
            enabled: l.boolean("enabled")?,
            created: l.number("created")?,
            disabled_until: l.optional_number("disabled_until")?,
            backup_codes: Vec::new(),
            bypass: None,
        };
        l.done().then_some(file)
    }
}

/// `user`'s record in `files`, or `None` when the user is not enrolled.
pub(super) fn read(files: &UserFiles, user: &str) -> Result<Option<UserRecord>, StoreError> {
    Ok(read_with_id(files, user)?.0)
}

/// [`read`], with the id of the file read (`None` when there is none).
pub(super) fn read_with_id(files: &UserFiles, user: &str) -> Result<(Option<UserRecord>, Option<FileId>), StoreError> {
    let Some((file, id)) = files.read_with_id::<RecordFile>(user, RECORD_VERSION)? else {
        return Ok((None, None));
    };
    // The path only for a message: not built unless the secret is bad.
    Ok((Some(from_file(file, || files.file_of(user).unwrap_or_default())?), Some(id)))
}

/// Decodes the bytes of a record file exactly as [`read`] does after reading
/// them (`path` is only used in messages): for the fuzz targets (`fuzz/`) and
/// the property tests.
pub fn decode(path: &Path, bytes: &[u8]) -> Result<UserRecord, StoreError> {
    from_file(files::decode::<RecordFile>(path, bytes, RECORD_VERSION)?, || path.to_path_buf())
}

/// Panics if [`Versioned::canonical`] reads `text` differently than `toml`
/// ([`files::canonical_agrees`]): for the fuzz targets and the property tests.
pub fn canonical_agrees_with_toml(text: &str) {
    files::canonical_agrees::<RecordFile>(text);
}

fn from_file(file: RecordFile, path: impl FnOnce() -> PathBuf) -> Result<UserRecord, StoreError> {
    let secret = match &file.secret {
        None => None,
        Some(b32) => Some(
            TotpSecret::from_base32(b32)
                .map_err(|e| StoreError::Corrupt { path: path(), message: format!("secret: {e}") })?,
        ),
    };
    Ok(UserRecord {
        secret,
        email: file.email,
        phone: file.phone,
        enabled: file.enabled,
        created: file.created,
        disabled_until: file.disabled_until,
        backup_codes: file.backup_codes,
        bypass: file.bypass,
    })
}

/// Writes `user`'s record atomically.
pub(super) fn write(files: &UserFiles, user: &str, record: &UserRecord) -> Result<(), StoreError> {
    write_unsynced(files, user, record)?;
    files.sync()
}

/// [`write`], durable only after [`UserFiles::sync`].
pub(super) fn write_unsynced(files: &UserFiles, user: &str, record: &UserRecord) -> Result<(), StoreError> {
    let version3 = !record.backup_codes.is_empty() || record.bypass.is_some() || record.disabled_until.is_some();
    let version = match (version3, record.phone.is_some()) {
        (true, _) => RECORD_VERSION,
        (false, true) => RECORD_VERSION_WITH_PHONE,
        (false, false) => RECORD_VERSION_WITHOUT_PHONE,
    };
    let file = RecordFile {
        version,
        secret: record.secret.as_ref().map(TotpSecret::to_base32),
        email: record.email.clone(),
        phone: record.phone.clone(),
        enabled: record.enabled,
        created: record.created,
        disabled_until: record.disabled_until,
        backup_codes: record.backup_codes.clone(),
        bypass: record.bypass.clone(),
    };
    files.write_unsynced(user, &file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trusted_fs::{self, Owner};

    fn files() -> (tempfile::TempDir, UserFiles) {
        let d = trusted_fs::private_tempdir();
        let f = UserFiles::open(d.path(), Owner::current()).unwrap();
        (d, f)
    }

    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![6 => "[a-z0-9.+@-]{0,24}", 1 => "[ -~]{0,12}", 1 => ".{0,6}"]
    }

    fn number() -> impl Strategy<Value = u64> {
        prop_oneof![6 => 0u64..2_000_000_000, 1 => Just(i64::MAX as u64), 1 => Just(i64::MAX as u64 + 1)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// What the writer makes of a record without backup codes or a bypass
        /// is read back by the canonical reader, without a parser; every
        /// record's text, and that text cut or with a byte changed, is read
        /// by it as `toml` reads it or not at all.
        #[test]
        fn the_canonical_reader_reads_what_the_writer_writes_and_nothing_else(
            (version, secret, email, phone) in (1u32..4, prop::option::of("[A-Z2-7]{16,32}"), prop::option::of(text()), prop::option::of(text())),
            (enabled, created, disabled_until) in (any::<bool>(), number(), prop::option::of(number())),
            at in any::<prop::sample::Index>(), byte in any::<u8>(), damage in 0u8..3,
        ) {
            let file = RecordFile {
                version, secret: secret.map(Zeroizing::new), email, phone, enabled, created, disabled_until,
                backup_codes: Vec::new(), bypass: None,
            };
            let Ok(mut text) = toml::to_string(&file) else { return Ok(()) };
            let plain = |s: &Option<String>| s.as_deref().is_none_or(|s| s.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\'));
            let small = |n: u64| n <= i64::MAX as u64;
            if plain(&file.email) && plain(&file.phone) && small(created) && disabled_until.is_none_or(small) {
                prop_assert!(RecordFile::canonical(&text) == Some(file), "not read back: {text:?}");
            }
            crate::properties::damage(&mut text, at, byte, damage);
            canonical_agrees_with_toml(&text);
        }
    }

    #[test]
    fn a_login_record_takes_the_canonical_reader() {
        let text = "version = 1\nsecret = \"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\"\nenabled = true\ncreated = 1763880000\n";
        assert!(RecordFile::canonical(text).is_some());
        canonical_agrees_with_toml(text);
        let with_codes = format!("{text}\n[[backup_codes]]\nsalt = \"00\"\nhash = \"11\"\n");
        assert!(RecordFile::canonical(&with_codes).is_none(), "tables go to the full decoder");
    }

    #[test]
    fn a_record_round_trips() {
        let (_d, files) = files();
        let rec = UserRecord {
            secret: Some(TotpSecret::from_base32("JBSWY3DPEHPK3PXP").unwrap()),
            email: Some("jane@district.org".into()),
            phone: None,
            enabled: true,
            created: 42,
            ..UserRecord::default()
        };
        write(&files, "jane", &rec).unwrap();
        let back = read(&files, "jane").unwrap().unwrap();
        assert_eq!(&*back.secret.unwrap().to_base32(), "JBSWY3DPEHPK3PXP");
        assert_eq!(back.email.as_deref(), Some("jane@district.org"));
        assert!(back.enabled);
        assert_eq!(back.created, 42);
        assert!(read(&files, "john").unwrap().is_none());
    }

    #[test]
    fn a_record_with_a_phone_is_version_2_and_one_without_stays_version_1() {
        let (d, files) = files();
        let mut rec = UserRecord { email: Some("jane@district.org".into()), enabled: true, ..UserRecord::default() };
        write(&files, "jane", &rec).unwrap();
        let text = std::fs::read_to_string(d.path().join("jane")).unwrap();
        assert!(text.starts_with("version = 1\n") && !text.contains("phone"), "{text}");
        rec.phone = Some("+15551234567".into());
        write(&files, "jane", &rec).unwrap();
        let text = std::fs::read_to_string(d.path().join("jane")).unwrap();
        assert!(text.starts_with("version = 2\n") && text.contains("phone = \"+15551234567\""), "{text}");
        let back = read(&files, "jane").unwrap().unwrap();
        assert_eq!(back.phone.as_deref(), Some("+15551234567"));
        assert_eq!(back.methods(), [Method::Email, Method::Sms]);
        // What an older build (RECORD_VERSION 1) makes of it: refused by name.
        let e = files.read_with_id::<RecordFile>("jane", RECORD_VERSION_WITHOUT_PHONE).err().unwrap().to_string();
        assert!(e.contains("format version 2") && e.contains("only up to 1"), "{e}");
    }

    #[test]
    fn backup_codes_a_bypass_or_a_timed_disable_make_version_3_and_older_builds_refuse_it() {
        let (d, files) = files();
        let base = UserRecord {
            secret: Some(TotpSecret::from_base32("JBSWY3DPEHPK3PXP").unwrap()),
            phone: Some("+15551234567".into()),
            enabled: true,
            ..UserRecord::default()
        };
        let (_codes, sealed) = crate::backup_codes::new_set().unwrap();
        let (_code, bypass) = crate::backup_codes::new_bypass(100, 3600, 2, "helpdesk").unwrap();
        let with = [
            UserRecord { backup_codes: sealed.clone(), ..base.clone() },
            UserRecord { bypass: Some(bypass.clone()), ..base.clone() },
            UserRecord { enabled: false, disabled_until: Some(5000), ..base.clone() },
        ];
        for rec in with {
            write(&files, "jane", &rec).unwrap();
            let text = std::fs::read_to_string(d.path().join("jane")).unwrap();
            assert!(text.starts_with("version = 3\n"), "{text}");
            let back = read(&files, "jane").unwrap().unwrap();
            assert_eq!(
                (&back.backup_codes, &back.bypass, back.disabled_until),
                (&rec.backup_codes, &rec.bypass, rec.disabled_until)
            );
            // What the previous build (RECORD_VERSION 2) makes of it: refused by name.
            let e = files.read_with_id::<RecordFile>("jane", RECORD_VERSION_WITH_PHONE).err().unwrap().to_string();
            assert!(e.contains("format version 3") && e.contains("only up to 2"), "{e}");
        }
        // The last code used, the bypass gone: back to what older builds read.
        write(&files, "jane", &base).unwrap();
        let text = std::fs::read_to_string(d.path().join("jane")).unwrap();
        assert!(text.starts_with("version = 2\n") && !text.contains("backup") && !text.contains("bypass"), "{text}");
    }

    #[test]
    fn a_record_disabled_for_a_while_is_enabled_again_from_the_end_on() {
        let r = UserRecord { enabled: false, disabled_until: Some(5000), ..UserRecord::default() };
        assert!(!r.enabled_at(4999) && r.enabled_at(5000));
        let r = UserRecord { disabled_until: None, ..r };
        assert!(!r.enabled_at(u64::MAX), "disabled without an end: until enabled");
    }

    #[test]
    fn a_phone_only_record_is_enrolled_and_a_damaged_number_is_not_used() {
        let mut r = UserRecord { phone: Some("+15551234567".into()), enabled: true, ..UserRecord::default() };
        assert!(r.is_enrolled());
        assert_eq!(r.code_phone(), Some("+15551234567"));
        r.phone = Some("+1555; reboot".into());
        assert_eq!(r.code_phone(), None);
    }

    #[test]
    fn a_record_with_a_broken_secret_is_corrupt() {
        let (d, files) = files();
        trusted_fs::write_atomic(d.path(), "jane", b"version = 1\nsecret = \"!!\"\nenabled = true\n").unwrap();
        let e = read(&files, "jane").unwrap_err().to_string();
        assert!(e.contains("jane") && e.contains("corrupt") && !e.contains("!!"), "{e}");
    }

    #[test]
    fn the_template_gives_an_address_only_to_an_enrolled_record() {
        let mut r = UserRecord { enabled: true, ..UserRecord::default() };
        assert_eq!(r.code_address("{user}@district.org", "bob"), None);
        r.secret = Some(TotpSecret::from_base32("JBSWY3DPEHPK3PXP").unwrap());
        let a = r.code_address("{user}@district.org", "bob").unwrap();
        assert_eq!((a.address.as_str(), a.from_template), ("bob@district.org", true));
        r.email = Some("robert@district.org".into());
        let a = r.code_address("{user}@district.org", "bob").unwrap();
        assert_eq!((a.address.as_str(), a.from_template), ("robert@district.org", false));
    }
}
