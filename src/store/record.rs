//! The secrets store: one file per user in `secrets_dir` holding the TOTP
//! secret, the fallback email address and the enabled flag.
//!
//! Written by the admin command (and by enrollment at login); read by the
//! module. File format (TOML, root 0600):
//!
//! ```toml
//! version = 1
//! secret = "BASE32…"          # absent for an email-only user
//! email = "jane@district.org" # absent when none is on file
//! enabled = true
//! created = 1763880000        # seconds since the epoch
//! ```

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::files::{StoreError, UserFiles, Versioned};
use crate::secret::TotpSecret;

/// Newest record format this build reads and the one it writes.
pub const RECORD_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordFile {
    version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret: Option<Zeroizing<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    enabled: bool,
    #[serde(default)]
    created: u64,
}

/// One user's second-factor setup.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub secret: Option<TotpSecret>,
    pub email: Option<String>,
    pub enabled: bool,
    pub created: u64,
}

/// The ways a user can prove the second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Totp,
    Email,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Totp => "totp",
            Method::Email => "email",
        }
    }
}

impl UserRecord {
    /// The methods this record provides (an address derived from `address_template` is not counted here).
    pub fn methods(&self) -> Vec<Method> {
        let mut m = Vec::new();
        if self.secret.is_some() {
            m.push(Method::Totp);
        }
        if self.email.is_some() {
            m.push(Method::Email);
        }
        m
    }

    /// Whether this record sets up a second factor at all (enabled or not): the
    /// one answer to "is this user enrolled?".
    pub fn is_enrolled(&self) -> bool {
        self.secret.is_some() || self.email.is_some()
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
}

/// `user`'s record in `files`, or `None` when the user is not enrolled.
pub(super) fn read(files: &UserFiles, user: &str) -> Result<Option<UserRecord>, StoreError> {
    let Some(file) = files.read::<RecordFile>(user, RECORD_VERSION)? else {
        return Ok(None);
    };
    let secret = match &file.secret {
        None => None,
        Some(b32) => Some(TotpSecret::from_base32(b32).map_err(|e| StoreError::Corrupt {
            path: files.file_of(user).unwrap_or_default(),
            message: format!("secret: {e}"),
        })?),
    };
    Ok(Some(UserRecord { secret, email: file.email, enabled: file.enabled, created: file.created }))
}

/// Writes `user`'s record atomically.
pub(super) fn write(files: &UserFiles, user: &str, record: &UserRecord) -> Result<(), StoreError> {
    write_unsynced(files, user, record)?;
    files.sync()
}

/// [`write`], durable only after [`UserFiles::sync`].
pub(super) fn write_unsynced(files: &UserFiles, user: &str, record: &UserRecord) -> Result<(), StoreError> {
    let file = RecordFile {
        version: RECORD_VERSION,
        secret: record.secret.as_ref().map(TotpSecret::to_base32),
        email: record.email.clone(),
        enabled: record.enabled,
        created: record.created,
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

    #[test]
    fn a_record_round_trips() {
        let (_d, files) = files();
        let rec = UserRecord {
            secret: Some(TotpSecret::from_base32("JBSWY3DPEHPK3PXP").unwrap()),
            email: Some("jane@district.org".into()),
            enabled: true,
            created: 42,
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
    fn a_record_with_a_broken_secret_is_corrupt() {
        let (d, files) = files();
        trusted_fs::write_atomic(d.path(), "jane", b"version = 1\nsecret = \"!!\"\nenabled = true\n").unwrap();
        let e = read(&files, "jane").unwrap_err().to_string();
        assert!(e.contains("jane") && e.contains("corrupt") && !e.contains("!!"), "{e}");
    }

    #[test]
    fn the_template_gives_an_address_only_to_an_enrolled_record() {
        let mut r = UserRecord { secret: None, email: None, enabled: true, created: 0 };
        assert_eq!(r.code_address("{user}@district.org", "bob"), None);
        r.secret = Some(TotpSecret::from_base32("JBSWY3DPEHPK3PXP").unwrap());
        let a = r.code_address("{user}@district.org", "bob").unwrap();
        assert_eq!((a.address.as_str(), a.from_template), ("bob@district.org", true));
        r.email = Some("robert@district.org".into());
        let a = r.code_address("{user}@district.org", "bob").unwrap();
        assert_eq!((a.address.as_str(), a.from_template), ("robert@district.org", false));
    }
}
