//! The directory backend: records and tallies kept in the user's own LDAP
//! entry, shared by every server (`[store] backend = "ldap"`).
//!
//! Schema (documented for administrators in `pam-config/ldap/README.md`):
//! the OATH-LDAP classes that slapd's `otp` overlay also reads, on the user's
//! entry — `oathTOTPUser` (`oathTOTPToken`: a DN pointing to the entry
//! itself) and `oathTOTPToken` (`oathSecret` raw bytes, `oathTOTPParams` the
//! shared parameters entry, `oathTOTPLastTimeStep` the replay state,
//! `oathFailureCount` and `oathLastFailure` mirrored from the tally) — plus
//! the auxiliary class `twostepUser` for what OATH-LDAP has no place for
//! (see [`attr`]: contacts, the disabled flag and `disable --for`, backup
//! codes and a help-desk code as hashes, the rest of the tally).
//!
//! Concurrency: a change ([`DirectoryStore::change`]) holds the user's
//! directory lock, `twostepLock` (single-valued: adding it fails while
//! another login holds it; a lease that ran out is taken over by a
//! compare-and-swap). Every write of the change is one modify that also
//! deletes and re-adds our exact lock value (so it fails if the lease was
//! lost) and deletes each old value it replaces (so it fails if anyone, the
//! `otp` overlay included, changed that value meanwhile): a write either
//! applies to exactly the state that was read, or not at all (a
//! [`DirectoryError::Conflict`], refused, fail closed). Within one provider
//! this makes the failure count exact and a time step usable once; across
//! providers of a multi-provider setup see `docs/security.md`.
//!
//! This file: [`DirectoryStore`] (the searches, the unlocked reads, a change
//! under the lock) and the checks of the files `[ldap]` names
//! ([`file_problems`]). [`entry`]: the writes of a change; [`lock`]: the
//! lock's lease; [`values`]: records and tallies as attribute values;
//! [`attr`]: the names; [`client`]: running ldap-utils; [`ldif`]: the text
//! exchanged with them.

pub mod attr;
pub mod client;
mod entry;
pub mod ldif;
mod lock;
mod values;

use std::sync::Mutex;

use client::Client;
pub use entry::DirEntry;
use ldif::{LdifEntry, filter_escape};
use values::{record_of, tally_of};

use super::error::{DirectoryError, StoreError};
use super::record::UserRecord;
use super::tally::Tally;
use crate::config::LdapConfig;
use crate::trusted_fs::{self, Owner, Trust};

/// The directory store for one `[ldap]` table.
#[derive(Debug)]
pub struct DirectoryStore {
    client: Client,
    /// The entry an unlocked `record` read, reused by the next `tally` of the
    /// same user (one search for the lock gate's two reads).
    last_read: Mutex<Option<(String, Option<LdifEntry>)>>,
}

impl DirectoryStore {
    /// Checks the files `[ldap]` names ([`file_problems`]) and makes the
    /// client. Nothing is contacted yet.
    pub fn open(cfg: &LdapConfig, owner: Owner) -> Result<DirectoryStore, StoreError> {
        if let Some(problem) = file_problems(cfg, owner).into_iter().next() {
            return Err(problem.error);
        }
        Ok(DirectoryStore { client: Client::new(cfg.clone()), last_read: Mutex::new(None) })
    }

    /// Asks every URI in `uris`, one by one, for `base_dn` with the service
    /// bind (bounded by `timeout` each): what each said (`twostep check`).
    pub fn probe(&self) -> Vec<(String, Result<(), DirectoryError>)> {
        self.client.probe(&self.cfg().base_dn)
    }

    fn cfg(&self) -> &LdapConfig {
        self.client.config()
    }

    /// The user's entry (all attributes), `None` when no entry matches.
    fn find(&self, user: &str) -> Result<Option<LdifEntry>, StoreError> {
        let filter = self.cfg().user_filter.replace("{user}", &filter_escape(user));
        let mut found = self.client.search(&self.cfg().base_dn, "sub", &filter, &["*"])?;
        match found.len() {
            0 => Ok(None),
            1 => Ok(found.pop()),
            count => Err(DirectoryError::Ambiguous { filter, count }.into()),
        }
    }

    fn read_dn(&self, dn: &str) -> Result<Option<LdifEntry>, StoreError> {
        Ok(self.client.search(dn, "base", "(objectClass=*)", &["*"])?.pop())
    }

    fn remembered(&self) -> std::sync::MutexGuard<'_, Option<(String, Option<LdifEntry>)>> {
        self.last_read.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn record(&self, user: &str) -> Result<Option<UserRecord>, StoreError> {
        let entry = self.find(user)?;
        let record = entry.as_ref().map(record_of).transpose()?.flatten();
        *self.remembered() = Some((user.to_string(), entry));
        Ok(record)
    }

    pub fn tally(&self, user: &str) -> Result<Tally, StoreError> {
        let entry = match self.remembered().take() {
            Some((u, entry)) if u == user => entry,
            _ => self.find(user)?,
        };
        entry.as_ref().map_or_else(|| Ok(Tally::default()), tally_of)
    }

    pub fn has_tally(&self, user: &str) -> Result<bool, StoreError> {
        Ok(self.find(user)?.is_some_and(|e| attr::TALLY.iter().any(|a| e.first(a).is_some())))
    }

    /// The users (by `user_attribute`) whose entries have the twostep class.
    pub fn users(&self, with_record: bool) -> Result<Vec<String>, StoreError> {
        let ua = self.cfg().user_attribute.clone();
        let filter = format!("(objectClass={})", attr::CLASS_TWOSTEP);
        let mut users = Vec::new();
        for e in self.client.search(&self.cfg().base_dn, "sub", &filter, &["*"])? {
            let keep =
                if with_record { record_of(&e)?.is_some() } else { attr::TALLY.iter().any(|a| e.first(a).is_some()) };
            if let (true, Some(name)) = (keep, e.text(&ua)) {
                users.push(name);
            }
        }
        users.sort();
        Ok(users)
    }

    /// Runs `change` under the user's directory lock (see the module doc).
    pub fn change<R, E: From<StoreError>>(
        &self,
        user: &str,
        change: impl FnOnce(DirEntry<'_>) -> Result<R, E>,
    ) -> Result<R, E> {
        self.remembered().take();
        let Some(found) = self.find(user)? else {
            // No entry: reads see nothing, a write is refused by name.
            return change(DirEntry { store: self, user, lock: None, entry: LdifEntry::default() });
        };
        let lock = self.acquire(&found.dn)?;
        let result = (|| {
            let entry = self.read_dn(&found.dn)?.ok_or_else(|| {
                StoreError::from(DirectoryError::Damaged {
                    dn: found.dn.clone(),
                    message: "the entry vanished during the change".into(),
                })
            })?;
            change(DirEntry { store: self, user, lock: Some(lock.clone()), entry })
        })();
        self.release(&found.dn, &lock);
        result
    }
}

/// A file `[ldap]` names that a login would refuse.
#[derive(Debug)]
pub struct FileProblem {
    /// The `[ldap]` key naming the file (`password_file`, `ca_file`).
    pub key: &'static str,
    pub error: StoreError,
}

/// Every problem with the files `[ldap]` names, each checked exactly as a
/// login checks it: the password file root's alone (no group or other
/// access) and without a final newline, the CA file root's and not writable
/// by group or others; both regular files reached without a symlink.
/// [`DirectoryStore::open`] refuses on the first; `twostep check` reports all.
pub fn file_problems(cfg: &LdapConfig, owner: Owner) -> Vec<FileProblem> {
    let mut problems = Vec::new();
    if let Some(file) = &cfg.password_file {
        let checked = match trusted_fs::read_trusted(file, Trust::Private(owner), 4096) {
            Ok(Some(bytes)) if bytes.ends_with(b"\n") => Err(DirectoryError::BadFile {
                path: file.clone(),
                why: "ends with a newline, which ldap-utils would send as part of the password; \
                      write it with printf '%s'"
                    .into(),
            }
            .into()),
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(trusted_fs::FsError::Missing(file.clone()).into()),
            Err(e) => Err(e.into()),
        };
        if let Err(error) = checked {
            problems.push(FileProblem { key: "password_file", error });
        }
    }
    if let Some(ca) = &cfg.ca_file {
        let checked = match trusted_fs::read_trusted(ca, Trust::Protected(owner), 1 << 20) {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(trusted_fs::FsError::Missing(ca.clone()).into()),
            Err(e) => Err(e.into()),
        };
        if let Err(error) = checked {
            problems.push(FileProblem { key: "ca_file", error });
        }
    }
    problems
}
