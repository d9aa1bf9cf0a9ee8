//! The file store, the default backend: the records directory and the tally
//! directory (a [`UserFiles`] each, the tally's created on first use), one
//! user's files under that user's lock ([`FileEntry`]), and what the unlocked
//! reads saw, so that the read under the lock need not parse an unchanged
//! file again.

use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use super::error::StoreError;
use super::files::UserFiles;
use super::record::{self, UserRecord};
use super::tally::{self, Tally};
use super::{Entry, EntryOf};
use crate::trusted_fs::{Durability, FileId, Owner};

/// The records directory and the tally directory, owned by `owner` (root).
#[derive(Debug)]
pub(super) struct FileStore {
    records: UserFiles,
    /// Checked (and created 0700 if missing, as pam_faillock does) on first
    /// use: a login that never needs the tally does not depend on it.
    tally_dir: Arc<Path>,
    owner: Owner,
    tallies: OnceLock<UserFiles>,
    /// What the unlocked reads saw, with the ids of the files they read: a read
    /// under the lock reuses a value only while its file is the very same one
    /// (a file replaced by rename, or removed, is read again). A login reads the
    /// record and the tally before the prompt and again under the lock; this
    /// spares it parsing both twice when nobody changed them meanwhile.
    seen: Mutex<Option<Box<Seen>>>,
}

#[derive(Debug, Default)]
struct Seen {
    records: Slots<Option<UserRecord>>,
    tallies: Slots<Tally>,
}

/// At most this many users' values are kept (a login needs one; `list` reads many once).
const SEEN_MAX: usize = 4;

/// Remembered values in fixed slots (one allocation for all of [`Seen`],
/// made on first use): the oldest makes room for a new user when all are taken.
#[derive(Debug)]
struct Slots<V>([Option<(String, Option<FileId>, V)>; SEEN_MAX]);

impl<V> Default for Slots<V> {
    fn default() -> Self {
        Slots(std::array::from_fn(|_| None))
    }
}

impl<V> Slots<V> {
    fn remember(&mut self, user: &str, id: Option<FileId>, value: V) {
        let slots = &mut self.0;
        let at = match slots.iter().position(|s| s.as_ref().is_some_and(|(u, _, _)| u == user)) {
            Some(at) => at,
            None => slots.iter().position(Option::is_none).unwrap_or_else(|| {
                slots.rotate_left(1);
                SEEN_MAX - 1
            }),
        };
        slots[at] = Some((user.to_string(), id, value));
    }

    /// The value remembered for `user` if its file is still `id`, taken out:
    /// the entry that asks keeps it from then on (no copy), and what it saves
    /// has a new id anyway.
    fn recall(&mut self, user: &str, id: Option<FileId>) -> Option<V> {
        let slot = self.0.iter_mut().find(|s| s.as_ref().is_some_and(|(u, i, _)| u == user && *i == id))?;
        slot.take().map(|(_, _, value)| value)
    }
}

impl FileStore {
    /// For a login: the records directory must exist (the module never makes one up).
    pub(super) fn for_login(
        records: impl Into<Arc<Path>>,
        tallies: impl Into<Arc<Path>>,
        owner: Owner,
    ) -> Result<FileStore, StoreError> {
        Ok(FileStore::new(UserFiles::open(records, owner)?, tallies.into(), owner))
    }

    /// For the admin command: the records directory is created 0700 when missing.
    pub(super) fn for_admin(records: &Path, tallies: &Path, owner: Owner) -> Result<FileStore, StoreError> {
        Ok(FileStore::new(UserFiles::create(records, owner)?, tallies.into(), owner))
    }

    fn new(records: UserFiles, tally_dir: Arc<Path>, owner: Owner) -> FileStore {
        FileStore { records, tally_dir, owner, tallies: OnceLock::new(), seen: Mutex::new(None) }
    }

    fn tallies(&self) -> Result<&UserFiles, StoreError> {
        if let Some(t) = self.tallies.get() {
            return Ok(t);
        }
        let t = UserFiles::create(Arc::clone(&self.tally_dir), self.owner)?;
        Ok(self.tallies.get_or_init(|| t))
    }

    /// `user`'s record as it is now (no lock held), `None` when there is none.
    pub fn record(&self, user: &str) -> Result<Option<UserRecord>, StoreError> {
        let (value, id) = record::read_with_id(&self.records, user)?;
        self.seen().get_or_insert_with(Box::default).records.remember(user, id, value.clone());
        Ok(value)
    }

    /// `user`'s tally as it is now (no lock held): the lock gate and display.
    pub fn tally(&self, user: &str) -> Result<Tally, StoreError> {
        let (value, id) = tally::read(self.tallies()?, user)?;
        self.seen().get_or_insert_with(Box::default).tallies.remember(user, id, value.clone());
        Ok(value)
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Option<Box<Seen>>> {
        // A panic while the guard was held left plain data: still usable.
        self.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether `user` has a tally file (not read: one that cannot be read counts).
    pub fn has_tally(&self, user: &str) -> Result<bool, StoreError> {
        self.tallies()?.exists(user)
    }

    /// Every user with a record.
    pub fn enrolled_users(&self) -> Result<Vec<String>, StoreError> {
        self.records.users()
    }

    /// Every user with a tally (a login state, possibly without a record).
    pub fn tally_users(&self) -> Result<Vec<String>, StoreError> {
        self.tallies()?.users()
    }

    /// Where `user`'s record and tally files are (for messages).
    pub fn files_of(&self, user: &str) -> Result<(std::path::PathBuf, std::path::PathBuf), StoreError> {
        Ok((self.records.file_of(user)?, self.tallies()?.file_of(user)?))
    }

    /// Makes every record saved with [`Entry::save_record_unsynced`] so far
    /// durable: one fsync of the records directory for any number of them.
    pub fn sync_records(&self) -> Result<(), StoreError> {
        self.records.sync()
    }

    /// Runs `change` on `user`'s record and tally under the user's exclusive
    /// lock. What `change` reads is read under the lock, what it saves is
    /// durable when the save returns, and nobody else changes either file
    /// until `change` returns. Neither file is read unless `change` asks for it,
    /// so a damaged tally does not block a change to the record alone.
    pub fn change<R, E: From<StoreError>>(
        &self,
        user: &str,
        change: impl FnOnce(&mut Entry<'_>) -> Result<R, E>,
    ) -> Result<R, E> {
        let _lock = self.tallies()?.lock(user)?;
        let mut entry =
            Entry(EntryOf::Files(FileEntry { store: self, user, record: None, tally: None, tally_unsynced: false }));
        change(&mut entry)
    }
}

/// One user's record and tally files, under the user's lock.
#[derive(Debug)]
pub(super) struct FileEntry<'a> {
    store: &'a FileStore,
    user: &'a str,
    /// Read on first use.
    record: Option<Option<UserRecord>>,
    tally: Option<Tally>,
    /// The tally file was last written [`Durability::Deferred`] ([`Entry::sync_tally`]).
    tally_unsynced: bool,
}

impl FileEntry<'_> {
    /// The record as it is on disk now.
    pub fn record(&mut self) -> Result<Option<&UserRecord>, StoreError> {
        if self.record.is_none() {
            let files = &self.store.records;
            let id = files.id_of(self.user)?;
            let seen = self.store.seen().as_mut().and_then(|s| s.records.recall(self.user, id));
            self.record = Some(match seen {
                Some(value) => value,
                None => record::read(files, self.user)?,
            });
        }
        Ok(self.record.as_ref().and_then(Option::as_ref))
    }

    /// Writes `record` (atomically, fsynced).
    pub fn save_record(&mut self, record: UserRecord) -> Result<(), StoreError> {
        record::write(&self.store.records, self.user, &record)?;
        self.record = Some(Some(record));
        Ok(())
    }

    /// Writes `record` atomically, but durable only once [`super::UserStore::sync_records`]
    /// returns `Ok` (the file is whole; its rename may be lost in a crash until
    /// then). For batches, which sync once for many users and must not report a
    /// record as saved before that sync. Others see the record at once.
    pub fn save_record_unsynced(&mut self, record: UserRecord) -> Result<(), StoreError> {
        record::write_unsynced(&self.store.records, self.user, &record)?;
        self.record = Some(Some(record));
        Ok(())
    }

    /// Deletes the record; returns whether there was one.
    pub fn remove_record(&mut self) -> Result<bool, StoreError> {
        let existed = self.store.records.remove(self.user)?;
        self.record = Some(None);
        Ok(existed)
    }

    /// The tally as it is on disk now (the empty tally when there is none).
    pub fn tally(&mut self) -> Result<&Tally, StoreError> {
        if self.tally.is_none() {
            let files = self.store.tallies()?;
            let id = files.id_of(self.user)?;
            let seen = self.store.seen().as_mut().and_then(|s| s.tallies.recall(self.user, id));
            self.tally = Some(match seen {
                Some(value) => value,
                None => tally::read(files, self.user)?.0,
            });
        }
        Ok(self.tally.get_or_insert_default())
    }

    /// [`Entry::save_tally`] for a write whose loss in a power failure may
    /// bring back the tally saved durably before it (see [`Durability`]).
    pub fn save_tally_as(&mut self, mut next: Tally, durability: Durability) -> Result<(), StoreError> {
        if self.tally()? != &next {
            tally::write(self.store.tallies()?, self.user, &mut next, durability)?;
            self.tally = Some(next);
            self.tally_unsynced = durability == Durability::Deferred;
        }
        Ok(())
    }

    pub(super) fn sync_tally(&mut self) -> Result<(), StoreError> {
        if self.tally_unsynced {
            self.store.tallies()?.sync_one(self.user)?;
            self.tally_unsynced = false;
        }
        Ok(())
    }

    /// Deletes the tally; returns whether there was one.
    pub fn remove_tally(&mut self) -> Result<bool, StoreError> {
        let existed = self.store.tallies()?.remove(self.user)?;
        self.tally = Some(Tally::default());
        Ok(existed)
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::UserStore;
    use crate::trusted_fs::{self, private_tempdir};

    fn store() -> (tempfile::TempDir, UserStore) {
        let d = private_tempdir();
        let s = UserStore::for_admin(&d.path().join("r"), &d.path().join("t"), Owner::current()).unwrap();
        (d, s)
    }

    fn failed_at(t: u64) -> impl FnOnce(&mut Entry<'_>) -> Result<(), StoreError> {
        move |e| e.update_tally(|t2| t2.failures.push(t))
    }

    #[test]
    fn a_missing_tally_is_empty_and_changes_persist() {
        let (_d, s) = store();
        assert_eq!(s.tally("alice").unwrap(), Tally::default());
        s.change("alice", failed_at(10)).unwrap();
        s.change("alice", failed_at(11)).unwrap();
        assert_eq!(s.tally("alice").unwrap().failures, vec![10, 11]);
        assert!(s.change("alice", |e| e.remove_tally()).unwrap());
        assert_eq!(s.tally("alice").unwrap(), Tally::default());
    }

    #[test]
    fn an_unchanged_tally_is_not_rewritten() {
        let (d, s) = store();
        s.change("alice", |e| e.update_tally(|_| ())).unwrap();
        assert!(!d.path().join("t/alice").exists());
    }

    #[test]
    fn a_corrupt_tally_is_an_error_left_alone_and_does_not_block_the_record() {
        let (d, s) = store();
        s.tally("nobody").unwrap(); // creates the tally directory
        trusted_fs::write_atomic(&d.path().join("t"), "alice", b"version = 1\nfailures = \"lots\"\n").unwrap();
        assert!(s.tally("alice").is_err());
        assert!(s.change("alice", |e| e.update_tally(|t| t.failures.clear())).is_err());
        assert_eq!(std::fs::read(d.path().join("t/alice")).unwrap(), b"version = 1\nfailures = \"lots\"\n");
        let rec = UserRecord { email: Some("a@b.example".into()), enabled: true, created: 1, ..UserRecord::default() };
        s.change("alice", |e| e.save_record(rec)).unwrap();
        assert!(s.record("alice").unwrap().is_some());
    }

    #[test]
    fn the_failure_list_is_bounded() {
        let (_d, s) = store();
        s.change("alice", |e| e.update_tally(|t| t.failures.extend(0..(tally::MAX_FAILURES_KEPT as u64 + 50))))
            .unwrap();
        let kept = s.tally("alice").unwrap().failures;
        assert_eq!(kept.len(), tally::MAX_FAILURES_KEPT);
        assert_eq!(kept[0], 50);
    }

    #[test]
    fn concurrent_changes_lose_nothing() {
        let (_d, s) = store();
        std::thread::scope(|scope| {
            for i in 0..8 {
                let s = &s;
                scope.spawn(move || {
                    for j in 0..10 {
                        s.change("bob", failed_at(i * 100 + j)).unwrap();
                    }
                });
            }
        });
        assert_eq!(s.tally("bob").unwrap().failures.len(), 80);
    }

    #[test]
    fn remembered_values_are_kept_per_user_and_file_and_the_oldest_goes_first() {
        let d = private_tempdir();
        let ids: Vec<_> = (0..=SEEN_MAX)
            .map(|n| {
                std::fs::write(d.path().join(n.to_string()), b"").unwrap();
                trusted_fs::file_id(d.path().join(n.to_string()).as_path()).unwrap()
            })
            .collect();
        let mut slots = Slots::<usize>::default();
        for (n, id) in ids.iter().enumerate() {
            slots.remember(&format!("u{n}"), *id, n);
        }
        assert_eq!(slots.recall("u0", ids[0]), None, "the oldest made room");
        assert_eq!(slots.recall("u1", ids[2]), None, "another file");
        assert_eq!(slots.recall("u2", ids[1]), None, "another user's file");
        assert_eq!(slots.recall("u1", ids[1]), Some(1));
        assert_eq!(slots.recall("u1", ids[1]), None, "taken out");
        slots.remember("u2", None, 7);
        assert_eq!(slots.recall("u2", ids[2]), None, "replaced for the same user");
        assert_eq!(slots.recall("u2", None), Some(7));
    }

    #[test]
    fn a_value_read_before_the_lock_is_reused_only_while_its_file_is_unchanged() {
        let (d, s) = store();
        let other = UserStore::for_admin(&d.path().join("r"), &d.path().join("t"), Owner::current()).unwrap();
        let rec =
            |email: &str| UserRecord { email: Some(email.into()), enabled: true, created: 1, ..UserRecord::default() };
        s.change("dave", |e| e.save_record(rec("a@x.example"))).unwrap();
        assert_eq!(s.record("dave").unwrap().unwrap().email.as_deref(), Some("a@x.example"));
        // Unchanged: the locked read agrees.
        let seen = s.change("dave", |e| e.record().map(|r| r.cloned())).unwrap();
        assert_eq!(seen.unwrap().email.as_deref(), Some("a@x.example"));
        // Changed by someone else (a new file): read again.
        s.record("dave").unwrap();
        other.change("dave", |e| e.save_record(rec("b@x.example"))).unwrap();
        let seen = s.change("dave", |e| e.record().map(|r| r.cloned())).unwrap();
        assert_eq!(seen.unwrap().email.as_deref(), Some("b@x.example"));
        // Removed by someone else: gone.
        s.record("dave").unwrap();
        other.change("dave", |e| e.remove_record()).unwrap();
        assert!(s.change("dave", |e| e.record().map(|r| r.is_none())).unwrap());
        // The same for the tally.
        s.change("dave", |e| e.update_tally(|t| t.failures.push(5))).unwrap();
        assert_eq!(s.tally("dave").unwrap().failures, vec![5]);
        other.change("dave", |e| e.update_tally(|t| t.failures.push(6))).unwrap();
        assert_eq!(s.change("dave", |e| e.tally().map(|t| t.failures.clone())).unwrap(), vec![5, 6]);
    }

    #[test]
    fn a_deferred_tally_is_in_place_at_once_and_synced_only_when_asked() {
        let (d, s) = store();
        s.change("dave", |e| -> Result<(), StoreError> {
            // Nothing written yet: nothing to sync (no file to open either).
            e.sync_tally()?;
            let mut t = e.tally()?.clone();
            t.failures.push(7);
            e.save_tally_as(t, Durability::Deferred)?;
            // Renamed into place before any fsync: the next reader sees it.
            let on_disk = std::fs::read_to_string(d.path().join("t/dave")).unwrap();
            assert!(on_disk.contains("failures = [7]"), "{on_disk}");
            e.sync_tally()?;
            // Removed behind its back: a second sync has nothing left to do.
            std::fs::remove_file(d.path().join("t/dave")).unwrap();
            e.sync_tally()
        })
        .unwrap();
    }

    #[test]
    fn a_failed_sync_of_a_deferred_tally_is_an_error() {
        let (d, s) = store();
        let r = s.change("erin", |e| -> Result<(), StoreError> {
            let mut t = e.tally()?.clone();
            t.failures.push(7);
            e.save_tally_as(t, Durability::Deferred)?;
            std::fs::remove_file(d.path().join("t/erin")).unwrap();
            e.sync_tally()
        });
        assert!(r.is_err(), "{r:?}");
    }

    #[test]
    fn a_saved_tally_is_durable_before_the_change_goes_on() {
        // The login writes an answer down as a failure, then judges it: the
        // second save must see the first on disk.
        let (d, s) = store();
        s.change("carol", |e| -> Result<(), StoreError> {
            e.update_tally(|t| t.failures.push(1))?;
            let on_disk = std::fs::read_to_string(d.path().join("t/carol")).unwrap();
            assert!(on_disk.contains("failures = [1]"), "{on_disk}");
            e.update_tally(|t| t.failures.clear())
        })
        .unwrap();
        assert!(s.tally("carol").unwrap().failures.is_empty());
    }
}
