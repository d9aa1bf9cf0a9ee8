//! Per-user state: the second-factor record and the login tally, one file per
//! user each, and the one owner of the per-user lock ([`UserStore`]).
//!
//! - this file: [`UserStore`] and [`Entry`], the seam the rest of the crate
//!   uses, handing each call to the backend `[store] backend` names;
//! - [`file_store`]: the file store (the default): the records and tally
//!   directories, and what the unlocked reads saw;
//! - [`ldap`]: the directory backend;
//! - [`files`]: a directory of per-user versioned TOML files (name encoding,
//!   safe open, atomic write, the lock file).
//! - [`record`]: the second-factor setup (secret, address, enabled flag),
//!   written by the admin command and by enrollment at login.
//! - [`tally`]: what the module keeps per user (failures, lock, last step,
//!   pending email code, grace logins used).
//! - [`error`]: [`StoreError`], and [`DirectoryError`] within it.
//!
//! Every change to a user's record or tally, by a login or by the admin
//! command, goes through [`UserStore::change`], which holds that user's lock
//! for the whole read-modify-write: parallel logins never lose a failure, and
//! an admin's reset cannot interleave with a login's judging.

/// The state files as twostep writes them, read without a parser.
mod canonical;
pub mod error;
pub mod file_store;
pub mod files;
pub mod ldap;
pub mod record;
pub mod tally;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use error::{DirectoryError, StoreError};
use file_store::{FileEntry, FileStore};
use record::UserRecord;
use tally::Tally;

use crate::config::{Backend, Config, LdapConfig};
use crate::trusted_fs::{Durability, Owner};

/// Where records and tallies are: the file store (the default) or the
/// directory ([`ldap`], `[store] backend = "ldap"`). Both give the same
/// guarantees to the code above: reads, and [`UserStore::change`] under the
/// user's lock.
#[derive(Debug)]
pub struct UserStore(Backing);

#[derive(Debug)]
enum Backing {
    Files(FileStore),
    Directory(ldap::DirectoryStore),
}

impl UserStore {
    /// For a login: the records directory must exist (the module never makes one up).
    pub fn for_login(
        records: impl Into<Arc<Path>>,
        tallies: impl Into<Arc<Path>>,
        owner: Owner,
    ) -> Result<UserStore, StoreError> {
        Ok(UserStore(Backing::Files(FileStore::for_login(records, tallies, owner)?)))
    }

    /// For the admin command: the records directory is created 0700 when missing.
    pub fn for_admin(records: &Path, tallies: &Path, owner: Owner) -> Result<UserStore, StoreError> {
        Ok(UserStore(Backing::Files(FileStore::for_admin(records, tallies, owner)?)))
    }

    /// The store `cfg` names, for a login ([`UserStore::for_login`] or the directory).
    pub fn open_for_login(cfg: &Config, owner: Owner) -> Result<UserStore, StoreError> {
        match (&cfg.backend, &cfg.ldap) {
            (Backend::Ldap, Some(l)) => UserStore::directory(l, owner),
            // The config's paths shared, not copied.
            _ => UserStore::for_login(cfg.secrets_dir.clone(), cfg.tally_dir.clone(), owner),
        }
    }

    /// The store `cfg` names, for the admin command ([`UserStore::for_admin`] or the directory).
    pub fn open_for_admin(cfg: &Config, owner: Owner) -> Result<UserStore, StoreError> {
        match (&cfg.backend, &cfg.ldap) {
            (Backend::Ldap, Some(l)) => UserStore::directory(l, owner),
            _ => UserStore::for_admin(&cfg.secrets_dir, &cfg.tally_dir, owner),
        }
    }

    /// The directory `ldap` describes (its files checked; nothing contacted yet).
    pub fn directory(ldap: &LdapConfig, owner: Owner) -> Result<UserStore, StoreError> {
        Ok(UserStore(Backing::Directory(ldap::DirectoryStore::open(ldap, owner)?)))
    }

    /// Whether this is the file store.
    pub fn is_files(&self) -> bool {
        matches!(self.0, Backing::Files(_))
    }

    /// `user`'s record as it is now (no lock held), `None` when there is none.
    pub fn record(&self, user: &str) -> Result<Option<UserRecord>, StoreError> {
        match &self.0 {
            Backing::Files(f) => f.record(user),
            Backing::Directory(d) => d.record(user),
        }
    }

    /// Makes every record saved with [`Entry::save_record_unsynced`] so far
    /// durable (the file store: one fsync of the records directory; the
    /// directory: nothing to do, each write is the server's).
    pub fn sync_records(&self) -> Result<(), StoreError> {
        match &self.0 {
            Backing::Files(f) => f.sync_records(),
            Backing::Directory(_) => Ok(()),
        }
    }

    /// `user`'s tally as it is now (no lock held): the lock gate and display.
    pub fn tally(&self, user: &str) -> Result<Tally, StoreError> {
        match &self.0 {
            Backing::Files(f) => f.tally(user),
            Backing::Directory(d) => d.tally(user),
        }
    }

    /// Whether `user` has a tally (not read: one that cannot be read counts).
    pub fn has_tally(&self, user: &str) -> Result<bool, StoreError> {
        match &self.0 {
            Backing::Files(f) => f.has_tally(user),
            Backing::Directory(d) => d.has_tally(user),
        }
    }

    /// Every user with a record.
    pub fn enrolled_users(&self) -> Result<Vec<String>, StoreError> {
        match &self.0 {
            Backing::Files(f) => f.enrolled_users(),
            Backing::Directory(d) => d.users(true),
        }
    }

    /// Every user with a tally (a login state, possibly without a record).
    pub fn tally_users(&self) -> Result<Vec<String>, StoreError> {
        match &self.0 {
            Backing::Files(f) => f.tally_users(),
            Backing::Directory(d) => d.users(false),
        }
    }

    /// The directory's answer at each URI ([`ldap::DirectoryStore::probe`]);
    /// `None` for the file store.
    pub fn probe_directory(&self) -> Option<Vec<(String, Result<(), DirectoryError>)>> {
        match &self.0 {
            Backing::Files(_) => None,
            Backing::Directory(d) => Some(d.probe()),
        }
    }

    /// Where `user`'s record and tally files are (for messages); `None` for the directory.
    pub fn files_of(&self, user: &str) -> Result<Option<(PathBuf, PathBuf)>, StoreError> {
        match &self.0 {
            Backing::Files(f) => f.files_of(user).map(Some),
            Backing::Directory(_) => Ok(None),
        }
    }

    /// Runs `change` on `user`'s record and tally under the user's exclusive
    /// lock (a `flock` for files, the entry's `twostepLock` in the directory).
    /// What `change` reads is read under the lock, what it saves is durable
    /// when the save returns, and nobody else changes either until `change`
    /// returns. Neither is read unless `change` asks for it, so a damaged
    /// tally does not block a change to the record alone.
    pub fn change<R, E: From<StoreError>>(
        &self,
        user: &str,
        change: impl FnOnce(&mut Entry<'_>) -> Result<R, E>,
    ) -> Result<R, E> {
        match &self.0 {
            Backing::Files(f) => f.change(user, change),
            Backing::Directory(d) => {
                d.change(user, |dir| change(&mut Entry(EntryOf::Directory(DirView { dir, record: None, tally: None }))))
            }
        }
    }
}

/// One user's record and tally, under the user's lock (see [`UserStore::change`]).
#[derive(Debug)]
pub struct Entry<'a>(EntryOf<'a>);

#[derive(Debug)]
enum EntryOf<'a> {
    Files(FileEntry<'a>),
    Directory(DirView<'a>),
}

/// The directory entry, with the values handed out by reference.
#[derive(Debug)]
struct DirView<'a> {
    dir: ldap::DirEntry<'a>,
    record: Option<Option<UserRecord>>,
    tally: Option<Tally>,
}

impl Entry<'_> {
    /// The record as it is now.
    pub fn record(&mut self) -> Result<Option<&UserRecord>, StoreError> {
        match &mut self.0 {
            EntryOf::Files(f) => f.record(),
            EntryOf::Directory(d) => {
                if d.record.is_none() {
                    d.record = Some(d.dir.record()?);
                }
                Ok(d.record.as_ref().and_then(Option::as_ref))
            }
        }
    }

    /// Writes `record` (durable when this returns).
    pub fn save_record(&mut self, record: UserRecord) -> Result<(), StoreError> {
        match &mut self.0 {
            EntryOf::Files(f) => f.save_record(record),
            EntryOf::Directory(d) => {
                d.dir.save_record(&record)?;
                d.record = Some(Some(record));
                Ok(())
            }
        }
    }

    /// Writes `record`, durable only once [`UserStore::sync_records`] returns
    /// `Ok` (for batches, which must not report a record as saved before).
    pub fn save_record_unsynced(&mut self, record: UserRecord) -> Result<(), StoreError> {
        match &mut self.0 {
            EntryOf::Files(f) => f.save_record_unsynced(record),
            EntryOf::Directory(_) => self.save_record(record),
        }
    }

    /// Deletes the record; returns whether there was one.
    pub fn remove_record(&mut self) -> Result<bool, StoreError> {
        match &mut self.0 {
            EntryOf::Files(f) => f.remove_record(),
            EntryOf::Directory(d) => {
                let existed = d.dir.remove_record()?;
                d.record = Some(None);
                Ok(existed)
            }
        }
    }

    /// The tally as it is now (the empty tally when there is none).
    pub fn tally(&mut self) -> Result<&Tally, StoreError> {
        match &mut self.0 {
            EntryOf::Files(f) => f.tally(),
            EntryOf::Directory(d) => {
                if d.tally.is_none() {
                    d.tally = Some(d.dir.tally()?);
                }
                Ok(d.tally.get_or_insert_default())
            }
        }
    }

    /// Writes `next` if it differs from what is stored: when this returns
    /// `Ok`, `next` is durable.
    pub fn save_tally(&mut self, next: Tally) -> Result<(), StoreError> {
        self.save_tally_as(next, Durability::Durable)
    }

    /// [`Entry::save_tally`] for a write whose loss in a power failure may
    /// bring back the tally saved durably before it (see [`Durability`]; the
    /// directory makes every write durable).
    pub fn save_tally_as(&mut self, next: Tally, durability: Durability) -> Result<(), StoreError> {
        match &mut self.0 {
            EntryOf::Files(f) => f.save_tally_as(next, durability),
            EntryOf::Directory(d) => {
                d.dir.save_tally(&next)?;
                d.tally = Some(next);
                Ok(())
            }
        }
    }

    /// Makes a tally saved [`Durability::Deferred`] durable (its file fsynced;
    /// nothing to do if the last save was synced or there was none; the
    /// directory makes every write durable).
    pub fn sync_tally(&mut self) -> Result<(), StoreError> {
        match &mut self.0 {
            EntryOf::Files(f) => f.sync_tally(),
            EntryOf::Directory(_) => Ok(()),
        }
    }

    /// Applies `f` to a copy of the tally and saves the result; returns what `f` returned.
    pub fn update_tally<R>(&mut self, f: impl FnOnce(&mut Tally) -> R) -> Result<R, StoreError> {
        let mut next = self.tally()?.clone();
        let r = f(&mut next);
        self.save_tally(next)?;
        Ok(r)
    }

    /// Deletes the tally; returns whether there was one.
    pub fn remove_tally(&mut self) -> Result<bool, StoreError> {
        match &mut self.0 {
            EntryOf::Files(f) => f.remove_tally(),
            EntryOf::Directory(d) => {
                let existed = d.dir.remove_tally()?;
                d.tally = Some(Tally::default());
                Ok(existed)
            }
        }
    }
}
