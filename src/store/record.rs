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
#![forbid(unsafe_code)]

use std::path::Path;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::secret::TotpSecret;
use crate::store::files::{StoreError, UserFiles};

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
}

/// The secrets directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: UserFiles,
}

impl Store {
    /// Opens an existing store directory (the module never creates it).
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Ok(Store { dir: UserFiles::open(dir)? })
    }

    /// Opens the store, creating the directory 0700 if needed (admin command).
    pub fn create(dir: &Path) -> Result<Store, StoreError> {
        Ok(Store { dir: UserFiles::create(dir)? })
    }

    pub fn dir(&self) -> &UserFiles {
        &self.dir
    }

    /// `user`'s record, or `None` when the user is not enrolled.
    pub fn load(&self, user: &str) -> Result<Option<UserRecord>, StoreError> {
        let Some(file) = self.dir.read::<RecordFile>(user, RECORD_VERSION)? else {
            return Ok(None);
        };
        let secret = match &file.secret {
            None => None,
            Some(b32) => Some(TotpSecret::from_base32(b32).map_err(|e| StoreError::Corrupt {
                path: self.dir.file_of(user).unwrap_or_default(),
                message: format!("secret: {e}"),
            })?),
        };
        Ok(Some(UserRecord { secret, email: file.email, enabled: file.enabled, created: file.created }))
    }

    /// Writes `user`'s record atomically.
    pub fn save(&self, user: &str, record: &UserRecord) -> Result<(), StoreError> {
        let file = RecordFile {
            version: RECORD_VERSION,
            secret: record.secret.as_ref().map(TotpSecret::to_base32),
            email: record.email.clone(),
            enabled: record.enabled,
            created: record.created,
        };
        self.dir.write(user, &file)
    }

    /// Deletes `user`'s record; returns whether there was one.
    pub fn remove(&self, user: &str) -> Result<bool, StoreError> {
        self.dir.remove(user)
    }

    /// Every enrolled user.
    pub fn users(&self) -> Result<Vec<String>, StoreError> {
        self.dir.users()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_its_file_is_private() {
        let d = crate::trusted_fs::private_tempdir();
        let store = Store::open(d.path()).unwrap();
        let rec = UserRecord {
            secret: Some(TotpSecret::from_base32("JBSWY3DPEHPK3PXP").unwrap()),
            email: Some("jane@district.org".into()),
            enabled: true,
            created: 42,
        };
        store.save("jane", &rec).unwrap();
        let back = store.load("jane").unwrap().unwrap();
        assert_eq!(&*back.secret.unwrap().to_base32(), "JBSWY3DPEHPK3PXP");
        assert_eq!(back.email.as_deref(), Some("jane@district.org"));
        assert!(back.enabled);
        assert_eq!(back.created, 42);
        assert!(store.load("john").unwrap().is_none());
    }

    #[test]
    fn a_record_with_a_broken_secret_is_corrupt() {
        let d = crate::trusted_fs::private_tempdir();
        crate::trusted_fs::write_atomic(d.path(), "jane", b"version = 1\nsecret = \"!!\"\nenabled = true\n").unwrap();
        let e = Store::open(d.path()).unwrap().load("jane").unwrap_err().to_string();
        assert!(e.contains("jane") && e.contains("corrupt") && !e.contains("!!"), "{e}");
    }
}
