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

/// The pending code's salted hash lives with the code rules; the tally keeps it.
pub use crate::email_code::EmailCode;

use super::files::{self, StoreError, UserFiles, Versioned};
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
    files.write_as(user, tally, durability)
}
