//! The tally: per-user login state the module keeps in `tally_dir`.
//!
//! One root 0600 TOML file per user holding recent failed codes, the lock,
//! the last TOTP step accepted (replay protection), a pending email code (only
//! its salted hash) and the grace logins used. Every change is a
//! read-modify-write under the user's exclusive `flock` ([`TallyStore::update`]),
//! written atomically, so parallel logins never lose a failure and exactly one
//! of two logins racing with the same code wins. A file that cannot be read or
//! parsed is an error: the login is refused, the count is never reset to zero.
//! What the numbers *mean* (lock or not) is decided in [`crate::policy`].
#![forbid(unsafe_code)]

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::store::files::{StoreError, UserFiles};
use crate::trusted_fs::UserLock;

/// Newest tally format this build reads and the one it writes.
pub const TALLY_VERSION: u32 = 1;
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
    /// Grace logins used while not enrolled.
    #[serde(default)]
    pub grace_used: u32,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            version: TALLY_VERSION,
            failures: Vec::new(),
            locked_at: None,
            last_step: None,
            email_code: None,
            grace_used: 0,
        }
    }
}

/// A pending email code: never the code itself, only a salted SHA-256 of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailCode {
    /// Hex SHA-256 of `salt || code`.
    pub hash: String,
    /// Hex random salt.
    pub salt: String,
    pub sent_at: u64,
    pub expires_at: u64,
}

/// The tally directory.
#[derive(Debug, Clone)]
pub struct TallyStore {
    dir: UserFiles,
}

impl TallyStore {
    /// Opens an existing tally directory after checking it.
    pub fn open(dir: &Path) -> Result<TallyStore, StoreError> {
        Ok(TallyStore { dir: UserFiles::open(dir)? })
    }

    /// Opens the tally directory, creating it 0700 if needed.
    pub fn create(dir: &Path) -> Result<TallyStore, StoreError> {
        Ok(TallyStore { dir: UserFiles::create(dir)? })
    }

    /// `user`'s tally as it is now (no lock held; for display and quick checks).
    pub fn load(&self, user: &str) -> Result<Tally, StoreError> {
        Ok(self.dir.read(user, TALLY_VERSION)?.unwrap_or_default())
    }

    /// Applies `change` to `user`'s tally under the user's exclusive lock and
    /// writes the result atomically if it changed. Returns what `change` returned.
    pub fn update<R>(&self, user: &str, change: impl FnOnce(&mut Tally) -> R) -> Result<R, StoreError> {
        let mut held = self.hold(user)?;
        let mut next = held.tally().clone();
        let result = change(&mut next);
        held.save(next)?;
        Ok(result)
    }

    /// Takes `user`'s lock and reads the tally; the lock is held until the
    /// [`HeldTally`] is dropped. For changes written in more than one step: a
    /// login writes the answer down as a failed code before it judges it.
    pub fn hold(&self, user: &str) -> Result<HeldTally<'_>, StoreError> {
        let lock = self.dir.lock(user)?;
        let current = self.dir.read(user, TALLY_VERSION)?.unwrap_or_default();
        Ok(HeldTally { store: self, user: user.to_string(), current, _lock: lock })
    }

    /// Deletes `user`'s tally; returns whether there was one.
    pub fn remove(&self, user: &str) -> Result<bool, StoreError> {
        let _lock = self.dir.lock(user)?;
        self.dir.remove(user)
    }

    /// Runs `f` under `user`'s lock (the one logins and enrollment at login hold)
    /// without reading the tally: for changes to the user's secrets record.
    pub fn locked<T, E: From<StoreError>>(&self, user: &str, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let _lock = self.dir.lock(user)?;
        f()
    }

    /// Under `user`'s lock, runs `also` (e.g. removing the secrets record), then
    /// deletes the tally. Returns `also`'s result and whether there was a tally.
    pub fn remove_with<T>(
        &self,
        user: &str,
        also: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<(T, bool), StoreError> {
        self.locked(user, || Ok((also()?, self.dir.remove(user)?)))
    }

    /// The directory, for where a user's file is.
    pub fn dir(&self) -> &UserFiles {
        &self.dir
    }

    /// Whether `user` has a tally file.
    pub fn exists(&self, user: &str) -> Result<bool, StoreError> {
        self.dir.exists(user)
    }

    /// Every user with a tally file.
    pub fn users(&self) -> Result<Vec<String>, StoreError> {
        self.dir.users()
    }
}

/// A user's tally read under the user's lock (see [`TallyStore::hold`]).
#[derive(Debug)]
pub struct HeldTally<'a> {
    store: &'a TallyStore,
    user: String,
    /// What the file holds now.
    current: Tally,
    _lock: UserLock,
}

impl HeldTally<'_> {
    /// The tally as it is on disk now.
    pub fn tally(&self) -> &Tally {
        &self.current
    }

    /// Writes `next` (atomically, fsynced) if it differs from what is on disk.
    /// When this returns `Ok`, `next` is durable.
    pub fn save(&mut self, mut next: Tally) -> Result<(), StoreError> {
        if next.failures.len() > MAX_FAILURES_KEPT {
            let excess = next.failures.len() - MAX_FAILURES_KEPT;
            next.failures.drain(..excess);
        }
        if next != self.current {
            next.version = TALLY_VERSION;
            self.store.dir.write(&self.user, &next)?;
            self.current = next;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tally_is_empty_and_updates_persist() {
        let d = crate::trusted_fs::private_tempdir();
        let t = TallyStore::open(d.path()).unwrap();
        assert_eq!(t.load("alice").unwrap(), Tally::default());
        t.update("alice", |t| t.failures.push(10)).unwrap();
        t.update("alice", |t| t.failures.push(11)).unwrap();
        assert_eq!(t.load("alice").unwrap().failures, vec![10, 11]);
        assert!(t.remove("alice").unwrap());
        assert_eq!(t.load("alice").unwrap(), Tally::default());
    }

    #[test]
    fn an_unchanged_tally_is_not_rewritten() {
        let d = crate::trusted_fs::private_tempdir();
        let t = TallyStore::open(d.path()).unwrap();
        t.update("alice", |_| ()).unwrap();
        assert!(!d.path().join("alice").exists());
    }

    #[test]
    fn a_corrupt_tally_is_an_error_and_is_left_alone() {
        let d = crate::trusted_fs::private_tempdir();
        crate::trusted_fs::write_atomic(d.path(), "alice", b"version = 1\nfailures = \"lots\"\n").unwrap();
        let t = TallyStore::open(d.path()).unwrap();
        assert!(t.load("alice").is_err());
        assert!(t.update("alice", |t| t.failures.clear()).is_err());
        assert_eq!(std::fs::read(d.path().join("alice")).unwrap(), b"version = 1\nfailures = \"lots\"\n");
    }

    #[test]
    fn the_failure_list_is_bounded() {
        let d = crate::trusted_fs::private_tempdir();
        let t = TallyStore::open(d.path()).unwrap();
        t.update("alice", |t| t.failures.extend(0..(MAX_FAILURES_KEPT as u64 + 50))).unwrap();
        let kept = t.load("alice").unwrap().failures;
        assert_eq!(kept.len(), MAX_FAILURES_KEPT);
        assert_eq!(kept[0], 50);
    }

    #[test]
    fn concurrent_updates_lose_nothing() {
        let d = crate::trusted_fs::private_tempdir();
        let path = d.path().to_path_buf();
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let t = TallyStore::open(&path).unwrap();
                    for j in 0..10 {
                        t.update("bob", |t| t.failures.push(i * 100 + j)).unwrap();
                    }
                })
            })
            .collect();
        for th in threads {
            th.join().unwrap();
        }
        assert_eq!(TallyStore::open(&path).unwrap().load("bob").unwrap().failures.len(), 80);
    }
}
