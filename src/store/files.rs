//! A directory of per-user state files: the secrets store and the tally both use it.
//!
//! It ties together the user-name encoding ([`crate::user`]), the trusted file
//! helpers ([`crate::trusted_fs`]) and the on-disk format: TOML with a `version` key.
//! A file written by a newer twostep is an error (never silently reset), and a
//! file that does not parse is an error naming the file; only a missing file
//! means "no state yet".
#![forbid(unsafe_code)]

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::trusted_fs::{self, FsError, Trust, UserLock};
use crate::user::{self, UserNameError};

/// A problem with a state directory or one of its files.
#[derive(Debug)]
pub enum StoreError {
    Fs(FsError),
    UserName(UserNameError),
    Corrupt { path: PathBuf, message: String },
    NewerVersion { path: PathBuf, found: i64, supported: u32 },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Fs(e) => e.fmt(f),
            StoreError::UserName(e) => e.fmt(f),
            StoreError::Corrupt { path, message } => {
                write!(f, "{} is corrupt ({message}); inspect it, then repair or remove it", path.display())
            }
            StoreError::NewerVersion { path, found, supported } => write!(
                f,
                "{} has format version {found}, but this twostep understands only up to {supported}; upgrade twostep",
                path.display()
            ),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<FsError> for StoreError {
    fn from(e: FsError) -> Self {
        StoreError::Fs(e)
    }
}

impl From<UserNameError> for StoreError {
    fn from(e: UserNameError) -> Self {
        StoreError::UserName(e)
    }
}

/// A checked directory of per-user files (root, 0700, not a symlink).
#[derive(Debug, Clone)]
pub struct UserFiles {
    dir: PathBuf,
}

impl UserFiles {
    /// Opens an existing directory after checking it.
    pub fn open(dir: &Path) -> Result<UserFiles, StoreError> {
        trusted_fs::check_dir(dir, Trust::Private)?;
        Ok(UserFiles { dir: dir.to_path_buf() })
    }

    /// Opens the directory, creating it 0700 first if needed (admin command and enrollment).
    pub fn create(dir: &Path) -> Result<UserFiles, StoreError> {
        trusted_fs::ensure_private_dir(dir)?;
        Ok(UserFiles { dir: dir.to_path_buf() })
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The path of `user`'s file (for messages).
    pub fn file_of(&self, user: &str) -> Result<PathBuf, StoreError> {
        Ok(self.dir.join(user::file_name(user)?))
    }

    /// Reads and decodes `user`'s file; `Ok(None)` if it does not exist.
    pub fn read<T: DeserializeOwned>(&self, user: &str, supported: u32) -> Result<Option<T>, StoreError> {
        let path = self.file_of(user)?;
        let Some(bytes) = trusted_fs::read_trusted(&path, Trust::Private, trusted_fs::MAX_STATE_FILE)? else {
            return Ok(None);
        };
        let bytes = Zeroizing::new(bytes);
        decode(&path, &bytes, supported).map(Some)
    }

    /// Encodes and atomically writes `user`'s file.
    pub fn write<T: Serialize>(&self, user: &str, value: &T) -> Result<(), StoreError> {
        let name = user::file_name(user)?;
        let text =
            Zeroizing::new(toml::to_string(value).map_err(|e| StoreError::Corrupt {
                path: self.dir.join(&name),
                message: format!("cannot encode: {e}"),
            })?);
        trusted_fs::write_atomic(&self.dir, &name, text.as_bytes())?;
        Ok(())
    }

    /// Deletes `user`'s file; returns whether it existed.
    pub fn remove(&self, user: &str) -> Result<bool, StoreError> {
        Ok(trusted_fs::remove(&self.dir, &user::file_name(user)?)?)
    }

    /// Takes the exclusive lock on `user`'s state, for a read-modify-write.
    pub fn lock(&self, user: &str) -> Result<UserLock, StoreError> {
        Ok(trusted_fs::lock(&self.dir, &user::file_name(user)?)?)
    }

    /// Whether `user` has a file here (it is not read; a file that cannot even be
    /// looked at counts as there, so that using it reports the problem).
    pub fn exists(&self, user: &str) -> Result<bool, StoreError> {
        match std::fs::symlink_metadata(self.file_of(user)?) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            _ => Ok(true),
        }
    }

    /// Every user that has a file here (file names that are not ours are skipped).
    pub fn users(&self) -> Result<Vec<String>, StoreError> {
        Ok(trusted_fs::list_names(&self.dir)?.iter().filter_map(|n| user::from_file_name(n)).collect())
    }
}

/// Decodes one state file, checking its `version` before anything else so that a
/// newer format is reported as such rather than as an unknown key.
fn decode<T: DeserializeOwned>(path: &Path, bytes: &[u8], supported: u32) -> Result<T, StoreError> {
    let corrupt = |message: String| StoreError::Corrupt { path: path.to_path_buf(), message };
    let text = std::str::from_utf8(bytes).map_err(|_| corrupt("not UTF-8".into()))?;
    let table: toml::Table = toml::from_str(text).map_err(|e| corrupt(one_line(&e.to_string())))?;
    match table.get("version").and_then(toml::Value::as_integer) {
        None => return Err(corrupt("no version".into())),
        Some(v) if v > i64::from(supported) => {
            return Err(StoreError::NewerVersion { path: path.to_path_buf(), found: v, supported });
        }
        Some(v) if v < 1 => return Err(corrupt(format!("bad version {v}"))),
        Some(_) => {}
    }
    table.try_into().map_err(|e: toml::de::Error| corrupt(one_line(&e.to_string())))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Thing {
        version: u32,
        n: u64,
    }

    #[test]
    fn values_round_trip_under_encoded_names() {
        let d = crate::trusted_fs::private_tempdir();
        let s = UserFiles::open(d.path()).unwrap();
        s.write("DOMAIN\\bob", &Thing { version: 1, n: 7 }).unwrap();
        assert!(d.path().join("DOMAIN%5Cbob").exists());
        assert_eq!(s.read::<Thing>("DOMAIN\\bob", 1).unwrap(), Some(Thing { version: 1, n: 7 }));
        assert_eq!(s.users().unwrap(), vec!["DOMAIN\\bob".to_string()]);
        assert_eq!(s.read::<Thing>("alice", 1).unwrap(), None);
    }

    #[test]
    fn garbage_and_newer_versions_are_errors_not_resets() {
        let d = crate::trusted_fs::private_tempdir();
        let s = UserFiles::open(d.path()).unwrap();
        trusted_fs::write_atomic(d.path(), "a", b"\xff\xfe").unwrap();
        trusted_fs::write_atomic(d.path(), "b", b"version = 1\nn = \"x\"").unwrap();
        trusted_fs::write_atomic(d.path(), "c", b"version = 9\nn = 1\nfuture = true").unwrap();
        trusted_fs::write_atomic(d.path(), "d", b"n = 1").unwrap();
        for u in ["a", "b", "d"] {
            assert!(matches!(s.read::<Thing>(u, 1), Err(StoreError::Corrupt { .. })), "{u}");
        }
        let e = s.read::<Thing>("c", 1).unwrap_err();
        assert!(matches!(e, StoreError::NewerVersion { found: 9, .. }), "{e}");
    }

    #[test]
    fn an_open_directory_must_be_private() {
        let d = crate::trusted_fs::private_tempdir();
        std::fs::set_permissions(d.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        assert!(UserFiles::open(d.path()).is_err());
        assert!(UserFiles::open(&d.path().join("missing")).is_err());
    }
}
