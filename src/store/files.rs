//! A directory of per-user state files: the records and the tallies both use it.
//!
//! It ties together the user-name encoding ([`crate::user`]), the trusted file
//! helpers ([`crate::trusted_fs`]) and the on-disk format: TOML with a `version` key.
//! A file written by a newer twostep is an error (never silently reset), and a
//! file that does not parse is an error naming the file; only a missing file
//! means "no state yet".

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use super::error::StoreError;
use crate::trusted_fs::{self, ChildPath, Durability, FileId, Owner, Trust, UserLock};
use crate::user;

/// A checked directory of per-user files (owned by `owner`, 0700, not a symlink).
#[derive(Debug, Clone)]
pub struct UserFiles {
    dir: Arc<Path>,
    owner: Owner,
}

/// State files up to this size are read into a buffer on the stack (a
/// login's record and tally are a few hundred bytes; a record with backup
/// codes is longer and read into memory).
const READ_ON_STACK: usize = 1024;

/// A state file's format version, checked before its contents are trusted.
pub trait Versioned: Sized {
    fn version(&self) -> u32;

    /// The value of a text in exactly the form twostep writes it, read
    /// without a parser ([`super::canonical`]); `None` for any other text,
    /// which then goes to the full decoder. Never a different value than that
    /// decoder's ([`canonical_agrees`]).
    fn canonical(_text: &str) -> Option<Self> {
        None
    }
}

impl UserFiles {
    /// Opens an existing directory after checking it.
    pub fn open(dir: impl Into<Arc<Path>>, owner: Owner) -> Result<UserFiles, StoreError> {
        let dir = dir.into();
        trusted_fs::check_dir(&dir, Trust::Private(owner))?;
        Ok(UserFiles { dir, owner })
    }

    /// Opens the directory, creating it 0700 first if needed.
    pub fn create(dir: impl Into<Arc<Path>>, owner: Owner) -> Result<UserFiles, StoreError> {
        let dir = dir.into();
        trusted_fs::ensure_private_dir(&dir, owner)?;
        Ok(UserFiles { dir, owner })
    }

    /// The path of `user`'s file (for messages).
    pub fn file_of(&self, user: &str) -> Result<PathBuf, StoreError> {
        Ok(self.path_of(user)?.to_path_buf())
    }

    /// [`UserFiles::file_of`] without the allocation, for the file's own use.
    fn path_of(&self, user: &str) -> Result<ChildPath, StoreError> {
        Ok(trusted_fs::child(&self.dir, "", &user::file_name_of(user)?, ""))
    }

    /// Reads and decodes `user`'s file; `Ok(None)` if it does not exist.
    pub fn read<T: DeserializeOwned + Versioned>(&self, user: &str, supported: u32) -> Result<Option<T>, StoreError> {
        Ok(self.read_with_id(user, supported)?.map(|(value, _)| value))
    }

    /// [`UserFiles::read`], also returning the id of the file read (see [`UserFiles::id_of`]).
    pub fn read_with_id<T: DeserializeOwned + Versioned>(
        &self,
        user: &str,
        supported: u32,
    ) -> Result<Option<(T, FileId)>, StoreError> {
        let path = self.path_of(user)?;
        let trust = Trust::Private(self.owner);
        let Some(file) = trusted_fs::open_trusted(&path, trust, trusted_fs::MAX_STATE_FILE)? else {
            return Ok(None);
        };
        let id = file.id;
        let mut buf = [0u8; READ_ON_STACK];
        let bytes = file.read_into(&mut buf)?;
        Ok(Some((decode(&path, &bytes, supported)?, id)))
    }

    /// Which file `user`'s path names now, without reading it (`None`: no file):
    /// an id equal to one returned by [`UserFiles::read_with_id`] means the file
    /// has not been replaced or changed since.
    pub fn id_of(&self, user: &str) -> Result<Option<FileId>, StoreError> {
        Ok(trusted_fs::file_id(&self.path_of(user)?)?)
    }

    /// Encodes and atomically writes `user`'s file.
    pub fn write<T: Serialize>(&self, user: &str, value: &T) -> Result<(), StoreError> {
        self.write_as(user, value, Durability::Durable)
    }

    /// [`UserFiles::write`], durable only after [`UserFiles::sync`] (see
    /// [`trusted_fs::write_atomic_unsynced`]).
    pub fn write_unsynced<T: Serialize>(&self, user: &str, value: &T) -> Result<(), StoreError> {
        self.write_as(user, value, Durability::Deferred)
    }

    /// [`UserFiles::write`] with a choice of [`Durability`].
    pub fn write_as<T: Serialize>(&self, user: &str, value: &T, durability: Durability) -> Result<(), StoreError> {
        let text = Zeroizing::new(toml::to_string(value).map_err(|e| StoreError::Corrupt {
            path: self.file_of(user).unwrap_or_default(),
            message: format!("cannot encode: {e}"),
        })?);
        self.write_bytes_as(user, text.as_bytes(), durability)
    }

    /// [`UserFiles::write_as`] of a text already encoded.
    pub fn write_bytes_as(&self, user: &str, text: &[u8], durability: Durability) -> Result<(), StoreError> {
        let name = user::file_name_of(user)?;
        trusted_fs::write_atomic_as(&self.dir, &name, text, durability)?;
        Ok(())
    }

    /// Makes every file written here so far durable (one fsync of the directory).
    pub fn sync(&self) -> Result<(), StoreError> {
        Ok(trusted_fs::sync_filesystem(&self.dir)?)
    }

    /// Makes `user`'s file, written with [`Durability::Deferred`], durable (one fsync of the file).
    pub fn sync_one(&self, user: &str) -> Result<(), StoreError> {
        Ok(trusted_fs::sync_file(&self.dir, &user::file_name_of(user)?)?)
    }

    /// Deletes `user`'s file; returns whether it existed.
    pub fn remove(&self, user: &str) -> Result<bool, StoreError> {
        Ok(trusted_fs::remove(&self.dir, &user::file_name_of(user)?)?)
    }

    /// Takes the exclusive lock on `user`'s state, for a read-modify-write.
    pub fn lock(&self, user: &str) -> Result<UserLock, StoreError> {
        Ok(trusted_fs::lock(&self.dir, &user::file_name_of(user)?, self.owner)?)
    }

    /// Whether `user` has a file here (it is not read; a file that cannot even be
    /// looked at counts as there, so that using it reports the problem).
    pub fn exists(&self, user: &str) -> Result<bool, StoreError> {
        match std::fs::symlink_metadata(self.path_of(user)?) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            _ => Ok(true),
        }
    }

    /// Every user that has a file here (file names that are not ours are skipped).
    pub fn users(&self) -> Result<Vec<String>, StoreError> {
        Ok(trusted_fs::list_names(&self.dir)?.iter().filter_map(|n| user::from_file_name(n)).collect())
    }
}

/// Decodes one state file. Its `version` is checked before the contents count:
/// a file from a newer twostep is reported as such (it may have keys this one
/// does not know), never as corrupt and never silently reset. The file is
/// parsed once into `T`; only a file that does not fit `T` is looked at again,
/// for its version alone, to say why. `path` is only used in messages.
///
/// Public so that the fuzz targets (`fuzz/`) and the property tests run the
/// decoder that [`UserFiles::read`] runs, on bytes instead of files.
pub fn decode<T: DeserializeOwned + Versioned>(path: &Path, bytes: &[u8], supported: u32) -> Result<T, StoreError> {
    let corrupt = |message: String| StoreError::Corrupt { path: path.to_path_buf(), message };
    let newer = |found: i64| StoreError::NewerVersion { path: path.to_path_buf(), found, supported };
    let text = std::str::from_utf8(bytes).map_err(|_| corrupt("not UTF-8".into()))?;
    let parsed = match T::canonical(text) {
        Some(value) => Ok(value),
        None => crate::toml_fast::from_str::<T>(text),
    };
    match parsed {
        Ok(value) => match value.version() {
            0 => Err(corrupt("bad version 0".into())),
            v if v > supported => Err(newer(i64::from(v))),
            _ => Ok(value),
        },
        Err(e) => {
            #[derive(serde::Deserialize)]
            struct Probe {
                version: Option<toml::Value>,
            }
            match toml::from_str::<Probe>(text).map(|p| p.version) {
                Ok(Some(toml::Value::Integer(v))) if v > i64::from(supported) => Err(newer(v)),
                Ok(Some(toml::Value::Integer(v))) if v < 1 => Err(corrupt(format!("bad version {v}"))),
                Ok(None) => Err(corrupt("no version".into())),
                Ok(Some(v)) if !v.is_integer() => Err(corrupt("the version is not a whole number".into())),
                _ => Err(corrupt(describe_parse_error(text, &e))),
            }
        }
    }
}

/// The property [`Versioned::canonical`] keeps (run by the property tests and
/// the `record`/`tally` fuzz targets): a text it reads, `toml` reads too, into
/// the same value. Panics otherwise (without quoting the values: they may be
/// secret).
pub fn canonical_agrees<T: Versioned + DeserializeOwned + PartialEq>(text: &str) {
    let Some(mine) = T::canonical(text) else { return };
    match toml::from_str::<T>(text) {
        Ok(theirs) => assert!(mine == theirs, "the canonical reader and toml read {} bytes differently", text.len()),
        Err(e) => panic!("the canonical reader accepted {} bytes that toml refuses: {}", text.len(), e.message()),
    }
}

/// Where and why a state file does not parse, without quoting the file: its
/// lines hold the secret or an email code's hash, and this text is logged.
fn describe_parse_error(text: &str, e: &toml::de::Error) -> String {
    let message = one_line(e.message());
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {message}")
        }
        None => message,
    }
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

    impl Versioned for Thing {
        fn version(&self) -> u32 {
            self.version
        }
    }

    #[test]
    fn values_round_trip_under_encoded_names() {
        let d = crate::trusted_fs::private_tempdir();
        let s = UserFiles::open(d.path(), Owner::current()).unwrap();
        s.write("DOMAIN\\bob", &Thing { version: 1, n: 7 }).unwrap();
        assert!(d.path().join("DOMAIN%5Cbob").exists());
        assert_eq!(s.read::<Thing>("DOMAIN\\bob", 1).unwrap(), Some(Thing { version: 1, n: 7 }));
        assert_eq!(s.users().unwrap(), vec!["DOMAIN\\bob".to_string()]);
        assert_eq!(s.read::<Thing>("alice", 1).unwrap(), None);
    }

    #[test]
    fn a_parse_error_never_quotes_the_file() {
        let d = crate::trusted_fs::private_tempdir();
        let s = UserFiles::open(d.path(), Owner::current()).unwrap();
        trusted_fs::write_atomic(d.path(), "a", b"version = 1\nsecret = \"JBSWY3DPEHPK3PXP").unwrap();
        let e = s.read::<Thing>("a", 1).unwrap_err().to_string();
        assert!(!e.contains("JBSWY3DP"), "{e}");
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn garbage_and_newer_versions_are_errors_not_resets() {
        let d = crate::trusted_fs::private_tempdir();
        let s = UserFiles::open(d.path(), Owner::current()).unwrap();
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
        assert!(UserFiles::open(d.path(), Owner::current()).is_err());
        assert!(UserFiles::open(d.path().join("missing").as_path(), Owner::current()).is_err());
    }
}
