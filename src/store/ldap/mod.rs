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

pub mod client;

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use client::{Client, LdifEntry, base64_encode, code, filter_escape};

use super::error::{DirectoryError, StoreError};
use super::record::{Method, UserRecord};
use super::tally::{ContactCode, EmailCode, MAX_FAILURES_KEPT, Tally};
use crate::backup_codes::{Bypass, CodeHash};
use crate::config::LdapConfig;
use crate::secret::TotpSecret;
use crate::trusted_fs::{self, Owner, Trust};

/// Attribute and class names (the one place they are spelled).
pub mod attr {
    pub const SECRET: &str = "oathSecret";
    pub const TOKEN_DN: &str = "oathTOTPToken";
    pub const PARAMS_DN: &str = "oathTOTPParams";
    pub const LAST_STEP: &str = "oathTOTPLastTimeStep";
    pub const FAILURE_COUNT: &str = "oathFailureCount";
    pub const LAST_FAILURE: &str = "oathLastFailure";
    /// The fallback address for email codes (not `mail`: clearing it must not
    /// touch the account's own address).
    pub const EMAIL: &str = "twostepEmail";
    /// E.164 number for text codes (not `mobile`, for the same reason).
    pub const PHONE: &str = "twostepPhone";
    pub const DISABLED: &str = "twostepDisabled";
    pub const CREATED: &str = "twostepCreated";
    /// Recent failure times, space-separated seconds since the epoch.
    pub const FAILURES: &str = "twostepFailures";
    pub const LOCKED_AT: &str = "twostepLockedAt";
    pub const GRACE_USED: &str = "twostepGraceUsed";
    /// "HASH SALT SENT_AT EXPIRES_AT" of a pending email / text code.
    pub const EMAIL_CODE: &str = "twostepEmailCode";
    pub const TEXT_CODE: &str = "twostepTextCode";
    /// "HOLDER EXPIRES_AT": who changes this entry now.
    pub const LOCK: &str = "twostepLock";
    /// `disable --for`: enabled again from then on (seconds since the epoch).
    pub const DISABLED_UNTIL: &str = "twostepDisabledUntil";
    /// Unused backup codes, "SALT:HASH" space-separated (one value: replaced as a whole).
    pub const BACKUP_CODES: &str = "twostepBackupCodes";
    /// A pending help-desk code, "SALT HASH CREATED EXPIRES USES_LEFT BY" (BY may hold spaces).
    pub const BYPASS: &str = "twostepBypass";
    /// The code confirming a contact typed at enrollment, not yet typed back:
    /// "METHOD TO TRIES HASH SALT SENT_AT EXPIRES_AT" (TO: the salted hash of the contact).
    pub const CONTACT_CODE: &str = "twostepContactCode";
    /// When codes to typed contacts went out recently, space-separated seconds since the epoch.
    pub const CONTACT_SENDS: &str = "twostepContactSends";

    pub const CLASS_USER: &str = "oathTOTPUser";
    pub const CLASS_TOKEN: &str = "oathTOTPToken";
    pub const CLASS_TWOSTEP: &str = "twostepUser";

    pub const RECORD: [&str; 10] =
        [SECRET, TOKEN_DN, PARAMS_DN, EMAIL, PHONE, DISABLED, CREATED, DISABLED_UNTIL, BACKUP_CODES, BYPASS];
    pub const TALLY: [&str; 10] = [
        LAST_STEP,
        FAILURE_COUNT,
        LAST_FAILURE,
        FAILURES,
        LOCKED_AT,
        GRACE_USED,
        EMAIL_CODE,
        TEXT_CODE,
        CONTACT_CODE,
        CONTACT_SENDS,
    ];
}

/// The directory store for one `[ldap]` table.
#[derive(Debug)]
pub struct DirectoryStore {
    client: Client,
    /// The entry an unlocked `record` read, reused by the next `tally` of the
    /// same user (one search for the lock gate's two reads).
    last_read: Mutex<Option<(String, Option<LdifEntry>)>>,
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
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

    /// Seconds a lock is held at most before another login may take it over.
    fn lease(&self) -> u64 {
        4 * self.cfg().timeout + 10
    }

    fn acquire(&self, dn: &str) -> Result<String, StoreError> {
        let host = nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default();
        let mut nonce = [0u8; 6];
        crate::secret::fill_random(&mut nonce).map_err(|e| DirectoryError::Local(e.to_string()))?;
        let holder: String =
            format!("{host}/{}/{}", std::process::id(), hex(&nonce)).chars().filter(|c| c.is_ascii_graphic()).collect();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(self.cfg().timeout);
        let mut added_class = false;
        let mut pause = LOCK_POLL_FIRST_MS;
        loop {
            let token = format!("{holder} {}", now_secs() + self.lease());
            let mut m = Modify::new(dn);
            m.add(attr::LOCK, token.as_bytes());
            match self.client.modify(&m.ldif) {
                Ok(()) => return Ok(token),
                Err(DirectoryError::Refused { code: code::OBJECT_CLASS_VIOLATION, .. }) if !added_class => {
                    added_class = true;
                    let mut m = Modify::new(dn);
                    m.add("objectClass", attr::CLASS_TWOSTEP.as_bytes());
                    match self.client.modify(&m.ldif) {
                        Ok(()) | Err(DirectoryError::Refused { code: code::TYPE_OR_VALUE_EXISTS, .. }) => {}
                        Err(e) => return Err(e.into()),
                    }
                    continue;
                }
                Err(DirectoryError::Refused {
                    code: code::TYPE_OR_VALUE_EXISTS | code::CONSTRAINT_VIOLATION, ..
                }) => {}
                Err(e) => return Err(e.into()),
            }
            // Held by someone: take it over when the lease ran out, else wait.
            let current = self.client.search(dn, "base", "(objectClass=*)", &[attr::LOCK])?;
            let held = current.first().and_then(|e| e.text(attr::LOCK));
            if let Some(held) = &held {
                let expires = held.rsplit(' ').next().and_then(|t| t.parse::<u64>().ok()).unwrap_or(0);
                if expires < now_secs() {
                    let mut m = Modify::new(dn);
                    m.replace(attr::LOCK, Some(held.as_bytes()), Some(token.as_bytes()));
                    match self.client.modify(&m.ldif) {
                        Ok(()) => return Ok(token),
                        Err(DirectoryError::Refused { code: code::NO_SUCH_ATTRIBUTE, .. }) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            if std::time::Instant::now() >= deadline {
                let holder = held.unwrap_or_default();
                return Err(DirectoryError::Busy { dn: dn.to_string(), holder }.into());
            }
            std::thread::sleep(backoff(&mut pause));
        }
    }

    /// Best effort: a lock that cannot be removed runs out with its lease.
    fn release(&self, dn: &str, token: &str) {
        let mut m = Modify::new(dn);
        m.delete(attr::LOCK, token.as_bytes());
        let _ = self.client.modify(&m.ldif);
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

/// The first wait for a held lock, and the longest (milliseconds).
const LOCK_POLL_FIRST_MS: u64 = 10;
const LOCK_POLL_MAX_MS: u64 = 160;

/// How long to wait before asking for a held lock again: doubling from
/// [`LOCK_POLL_FIRST_MS`] up to [`LOCK_POLL_MAX_MS`], each wait drawn at random
/// between half and all of it, so that logins waiting together (30 wrong codes
/// at once) do not ask in step and every try costs two child processes.
fn backoff(pause: &mut u64) -> std::time::Duration {
    let mut r = [0u8; 2];
    let jitter = if crate::secret::fill_random(&mut r).is_ok() { u64::from(u16::from_le_bytes(r)) } else { 0 };
    let wait = *pause / 2 + jitter % (*pause / 2 + 1);
    *pause = (*pause * 2).min(LOCK_POLL_MAX_MS);
    std::time::Duration::from_millis(wait)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One LDIF modify record being built (every value base64: no injection).
struct Modify {
    ldif: Vec<u8>,
    empty: bool,
}

impl Modify {
    fn new(dn: &str) -> Modify {
        Modify {
            ldif: format!("dn:: {}\nchangetype: modify\n", base64_encode(dn.as_bytes())).into_bytes(),
            empty: true,
        }
    }

    fn op(&mut self, op: &str, name: &str, value: Option<&[u8]>) {
        self.ldif.extend_from_slice(format!("{op}: {name}\n").as_bytes());
        if let Some(v) = value {
            self.ldif.extend_from_slice(format!("{name}:: {}\n", base64_encode(v)).as_bytes());
        }
        self.ldif.extend_from_slice(b"-\n");
        self.empty = false;
    }

    fn add(&mut self, name: &str, value: &[u8]) {
        self.op("add", name, Some(value));
    }

    fn delete(&mut self, name: &str, value: &[u8]) {
        self.op("delete", name, Some(value));
    }

    /// `old` → `new` as a compare-and-swap: deleting the exact old value fails
    /// when it is not there any more.
    fn replace(&mut self, name: &str, old: Option<&[u8]>, new: Option<&[u8]>) {
        if let Some(old) = old {
            self.delete(name, old);
        }
        if let Some(new) = new {
            self.add(name, new);
        }
    }
}

/// One user's entry under the user's directory lock (see [`DirectoryStore::change`]).
#[derive(Debug)]
pub struct DirEntry<'a> {
    store: &'a DirectoryStore,
    user: &'a str,
    /// `None`: the user has no entry.
    lock: Option<String>,
    entry: LdifEntry,
}

impl DirEntry<'_> {
    pub fn record(&self) -> Result<Option<UserRecord>, StoreError> {
        if self.lock.is_none() {
            return Ok(None);
        }
        record_of(&self.entry)
    }

    pub fn tally(&self) -> Result<Tally, StoreError> {
        if self.lock.is_none() {
            return Ok(Tally::default());
        }
        tally_of(&self.entry)
    }

    pub fn save_record(&mut self, record: &UserRecord) -> Result<(), StoreError> {
        let dn = self.entry.dn.clone();
        let params = self.store.cfg().totp_params_dn.clone();
        let secret = record.secret.as_ref().map(|s| s.expose().to_vec());
        let has_secret = secret.is_some();
        let values: Vec<(&str, Option<Vec<u8>>)> = vec![
            (attr::SECRET, secret),
            (attr::TOKEN_DN, has_secret.then(|| dn.clone().into_bytes())),
            (attr::PARAMS_DN, has_secret.then(|| params.into_bytes())),
            (attr::EMAIL, record.email.clone().map(String::into_bytes)),
            (attr::PHONE, record.phone.clone().map(String::into_bytes)),
            (attr::DISABLED, (!record.enabled).then(|| b"TRUE".to_vec())),
            (attr::CREATED, Some(record.created.to_string().into_bytes())),
            (attr::DISABLED_UNTIL, record.disabled_until.map(|t| t.to_string().into_bytes())),
            (attr::BACKUP_CODES, backup_codes_value(&record.backup_codes)),
            (attr::BYPASS, record.bypass.as_ref().map(bypass_value).transpose()?),
        ];
        let mut classes = vec![attr::CLASS_TWOSTEP];
        if has_secret {
            classes.extend([attr::CLASS_TOKEN, attr::CLASS_USER]);
        }
        self.write(&classes, &values)
    }

    pub fn remove_record(&mut self) -> Result<bool, StoreError> {
        let existed = self.record()?.is_some();
        if existed {
            let values: Vec<(&str, Option<Vec<u8>>)> = attr::RECORD.iter().map(|a| (*a, None)).collect();
            self.write_removing_class(&values, Some(attr::CLASS_USER))?;
        }
        Ok(existed)
    }

    pub fn save_tally(&mut self, tally: &Tally) -> Result<(), StoreError> {
        let values = tally_values(tally)?;
        self.write(&[attr::CLASS_TWOSTEP, attr::CLASS_TOKEN], &values)
    }

    pub fn remove_tally(&mut self) -> Result<bool, StoreError> {
        let existed = attr::TALLY.iter().any(|a| self.entry.first(a).is_some());
        if existed {
            let values: Vec<(&str, Option<Vec<u8>>)> = attr::TALLY.iter().map(|a| (*a, None)).collect();
            self.write(&[], &values)?;
        }
        Ok(existed)
    }

    fn write(&mut self, classes: &[&str], values: &[(&str, Option<Vec<u8>>)]) -> Result<(), StoreError> {
        let classes: Vec<&str> = classes.iter().copied().filter(|c| !self.entry.has_class(c)).collect();
        self.apply(&classes, values, None)
    }

    fn write_removing_class(
        &mut self,
        values: &[(&str, Option<Vec<u8>>)],
        class: Option<&str>,
    ) -> Result<(), StoreError> {
        let class = class.filter(|c| self.entry.has_class(c));
        self.apply(&[], values, class)
    }

    /// One modify: the lock fence, the classes to add, every changed value as
    /// a compare-and-swap, and a class to remove (after its attributes).
    fn apply(
        &mut self,
        classes: &[&str],
        values: &[(&str, Option<Vec<u8>>)],
        remove_class: Option<&str>,
    ) -> Result<(), StoreError> {
        let Some(lock) = self.lock.clone() else {
            let filter = self.store.cfg().user_filter.replace("{user}", &filter_escape(self.user));
            return Err(DirectoryError::NoEntry { user: self.user.to_string(), filter }.into());
        };
        let dn = self.entry.dn.clone();
        let mut m = Modify::new(&dn);
        for class in classes {
            m.add("objectClass", class.as_bytes());
        }
        let mut changed = false;
        for (name, new) in values {
            let old = self.entry.first(name).map(<[u8]>::to_vec);
            if old != *new {
                m.replace(name, old.as_deref(), new.as_deref());
                changed = true;
            }
        }
        if let Some(class) = remove_class {
            m.delete("objectClass", class.as_bytes());
        }
        if !changed && classes.is_empty() && remove_class.is_none() {
            return Ok(());
        }
        // The fence: fails unless we still hold the lock.
        m.replace(attr::LOCK, Some(lock.as_bytes()), Some(lock.as_bytes()));
        debug_assert!(!m.empty);
        match self.store.client.modify(&m.ldif) {
            Ok(()) => {}
            Err(DirectoryError::Refused {
                code: code::NO_SUCH_ATTRIBUTE | code::TYPE_OR_VALUE_EXISTS | code::CONSTRAINT_VIOLATION,
                ..
            }) => return Err(DirectoryError::Conflict { dn }.into()),
            Err(e) => return Err(e.into()),
        }
        // What the directory holds now.
        for class in classes {
            self.entry.attrs.push(("objectclass".into(), class.as_bytes().to_vec()));
        }
        if let Some(class) = remove_class {
            self.entry.attrs.retain(|(n, v)| !(n == "objectclass" && v.eq_ignore_ascii_case(class.as_bytes())));
        }
        for (name, new) in values {
            let lower = name.to_ascii_lowercase();
            self.entry.attrs.retain(|(n, _)| *n != lower);
            if let Some(v) = new {
                self.entry.attrs.push((lower, v.clone()));
            }
        }
        Ok(())
    }
}

/// Attribute values to write, by name (`None`: the attribute is absent).
type Values = Vec<(&'static str, Option<Vec<u8>>)>;

/// The attribute values holding `tally` (`None`: the attribute is absent);
/// [`tally_of`] reads them back.
fn tally_values(tally: &Tally) -> Result<Values, StoreError> {
    let mut failures = tally.failures.clone();
    if failures.len() > MAX_FAILURES_KEPT {
        failures.drain(..failures.len() - MAX_FAILURES_KEPT);
    }
    let code = |c: &Option<EmailCode>| {
        c.as_ref().map(|c| format!("{} {} {} {}", c.hash, c.salt, c.sent_at, c.expires_at).into_bytes())
    };
    Ok(vec![
        (attr::LAST_STEP, tally.last_step.map(|s| s.to_string().into_bytes())),
        (attr::FAILURE_COUNT, (!failures.is_empty()).then(|| failures.len().to_string().into_bytes())),
        (attr::LAST_FAILURE, failures.last().map(|t| generalized_time(*t).into_bytes())),
        (attr::FAILURES, times_value(&failures)),
        (attr::LOCKED_AT, tally.locked_at.map(|t| t.to_string().into_bytes())),
        (attr::GRACE_USED, (tally.grace_used > 0).then(|| tally.grace_used.to_string().into_bytes())),
        (attr::EMAIL_CODE, code(&tally.email_code)),
        (attr::TEXT_CODE, code(&tally.sms_code)),
        (attr::CONTACT_CODE, tally.contact_code.as_ref().map(contact_code_value).transpose()?),
        (attr::CONTACT_SENDS, times_value(&tally.contact_sends)),
    ])
}

fn generalized_time(secs: u64) -> String {
    chrono::DateTime::from_timestamp(secs as i64, 0).map_or_else(String::new, |t| t.format("%Y%m%d%H%M%SZ").to_string())
}

fn damaged(entry: &LdifEntry, name: &str) -> StoreError {
    DirectoryError::Damaged { dn: entry.dn.clone(), message: format!("{name} is not what twostep writes") }.into()
}

fn number<T: std::str::FromStr>(entry: &LdifEntry, name: &str) -> Result<Option<T>, StoreError> {
    match entry.text(name) {
        None => Ok(None),
        Some(t) => t.trim().parse().map(Some).map_err(|_| damaged(entry, name)),
    }
}

/// The record in `entry`: `None` unless twostep enrolled it (a secret or `twostepCreated`).
fn record_of(entry: &LdifEntry) -> Result<Option<UserRecord>, StoreError> {
    let secret = entry.first(attr::SECRET).map(TotpSecret::from_bytes);
    let created: Option<u64> = number(entry, attr::CREATED)?;
    if secret.is_none() && created.is_none() {
        return Ok(None);
    }
    let disabled = entry.text(attr::DISABLED).is_some_and(|v| v.eq_ignore_ascii_case("TRUE"));
    Ok(Some(UserRecord {
        secret,
        email: entry.text(attr::EMAIL),
        phone: entry.text(attr::PHONE),
        enabled: !disabled,
        created: created.unwrap_or(0),
        disabled_until: number(entry, attr::DISABLED_UNTIL)?,
        backup_codes: backup_codes_of(entry)?,
        bypass: bypass_of(entry)?,
    }))
}

fn backup_codes_value(codes: &[CodeHash]) -> Option<Vec<u8>> {
    let joined: Vec<String> = codes.iter().map(|c| format!("{}:{}", c.salt, c.hash)).collect();
    (!joined.is_empty()).then(|| joined.join(" ").into_bytes())
}

fn backup_codes_of(entry: &LdifEntry) -> Result<Vec<CodeHash>, StoreError> {
    let Some(text) = entry.text(attr::BACKUP_CODES) else { return Ok(Vec::new()) };
    text.split_whitespace()
        .map(|pair| match pair.split_once(':') {
            Some((salt, hash)) if is_hex(salt) && is_hex(hash) => {
                Ok(CodeHash { salt: salt.to_string(), hash: hash.to_string() })
            }
            _ => Err(damaged(entry, attr::BACKUP_CODES)),
        })
        .collect()
}

fn bypass_value(b: &Bypass) -> Result<Vec<u8>, StoreError> {
    if !is_hex(&b.salt) || !is_hex(&b.hash) || b.by.is_empty() || b.by.chars().any(char::is_control) {
        let message = "a help-desk code with an unusual salt, hash or author cannot be stored".to_string();
        return Err(DirectoryError::Local(message).into());
    }
    Ok(format!("{} {} {} {} {} {}", b.salt, b.hash, b.created, b.expires, b.uses_left, b.by).into_bytes())
}

fn bypass_of(entry: &LdifEntry) -> Result<Option<Bypass>, StoreError> {
    let Some(text) = entry.text(attr::BYPASS) else { return Ok(None) };
    let bad = || damaged(entry, attr::BYPASS);
    let parts: Vec<&str> = text.splitn(6, ' ').collect();
    let [salt, hash, created, expires, uses, by] = parts[..] else { return Err(bad()) };
    if !is_hex(salt) || !is_hex(hash) || by.is_empty() {
        return Err(bad());
    }
    Ok(Some(Bypass {
        salt: salt.to_string(),
        hash: hash.to_string(),
        created: created.parse().map_err(|_| bad())?,
        expires: expires.parse().map_err(|_| bad())?,
        uses_left: uses.parse().map_err(|_| bad())?,
        by: by.to_string(),
    }))
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Times as one value, space-separated seconds since the epoch (`None`: no times).
fn times_value(times: &[u64]) -> Option<Vec<u8>> {
    (!times.is_empty()).then(|| times.iter().map(u64::to_string).collect::<Vec<_>>().join(" ").into_bytes())
}

fn times_of(entry: &LdifEntry, name: &str) -> Result<Vec<u64>, StoreError> {
    let Some(text) = entry.text(name) else { return Ok(Vec::new()) };
    let times =
        text.split_whitespace().map(str::parse).collect::<Result<Vec<u64>, _>>().map_err(|_| damaged(entry, name))?;
    Ok(times)
}

fn contact_code_value(c: &ContactCode) -> Result<Vec<u8>, StoreError> {
    let e = &c.code;
    if !is_contact_method(&c.method) || !is_hex(&c.to) || !is_hex(&e.hash) || !is_hex(&e.salt) {
        let message = "a contact confirmation code with an unusual method, tag, hash or salt cannot be stored";
        return Err(DirectoryError::Local(message.to_string()).into());
    }
    Ok(format!("{} {} {} {} {} {} {}", c.method, c.to, c.tries, e.hash, e.salt, e.sent_at, e.expires_at).into_bytes())
}

fn contact_code_of(entry: &LdifEntry) -> Result<Option<ContactCode>, StoreError> {
    let Some(text) = entry.text(attr::CONTACT_CODE) else { return Ok(None) };
    let bad = || damaged(entry, attr::CONTACT_CODE);
    let parts: Vec<&str> = text.split(' ').collect();
    let [method, to, tries, hash, salt, sent, expires] = parts[..] else { return Err(bad()) };
    if !is_contact_method(method) || !is_hex(to) || !is_hex(hash) || !is_hex(salt) {
        return Err(bad());
    }
    Ok(Some(ContactCode {
        method: method.to_string(),
        to: to.to_string(),
        tries: tries.parse().map_err(|_| bad())?,
        code: EmailCode {
            hash: hash.to_string(),
            salt: salt.to_string(),
            sent_at: sent.parse().map_err(|_| bad())?,
            expires_at: expires.parse().map_err(|_| bad())?,
        },
    }))
}

/// The methods a contact typed at enrollment can be for.
fn is_contact_method(method: &str) -> bool {
    method == Method::Email.name() || method == Method::Sms.name()
}

fn tally_of(entry: &LdifEntry) -> Result<Tally, StoreError> {
    let failures = times_of(entry, attr::FAILURES)?;
    let code = |name: &str| -> Result<Option<EmailCode>, StoreError> {
        let Some(t) = entry.text(name) else { return Ok(None) };
        let parts: Vec<&str> = t.split(' ').collect();
        let [hash, salt, sent, expires] = parts[..] else { return Err(damaged(entry, name)) };
        let n = |s: &str| s.parse::<u64>().map_err(|_| damaged(entry, name));
        Ok(Some(EmailCode { hash: hash.into(), salt: salt.into(), sent_at: n(sent)?, expires_at: n(expires)? }))
    };
    let mut tally = Tally {
        failures,
        locked_at: number(entry, attr::LOCKED_AT)?,
        last_step: number(entry, attr::LAST_STEP)?,
        email_code: code(attr::EMAIL_CODE)?,
        sms_code: code(attr::TEXT_CODE)?,
        grace_used: number(entry, attr::GRACE_USED)?.unwrap_or(0),
        contact_code: contact_code_of(entry)?,
        contact_sends: times_of(entry, attr::CONTACT_SENDS)?,
        ..Tally::default()
    };
    tally.version = tally.oldest_version();
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(attrs: &[(&str, &str)]) -> LdifEntry {
        let attrs = attrs.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.as_bytes().to_vec())).collect();
        LdifEntry { dn: "uid=a,dc=x".into(), attrs }
    }

    #[test]
    fn backup_codes_and_a_help_desk_code_round_trip_through_their_values() {
        let codes = vec![
            CodeHash { salt: "00ff".into(), hash: "abcd".into() },
            CodeHash { salt: "01".into(), hash: "ef".into() },
        ];
        let bypass = Bypass {
            salt: "aa".into(),
            hash: "bb".into(),
            created: 1,
            expires: 2,
            uses_left: 3,
            by: "help desk".into(),
        };
        let c = String::from_utf8(backup_codes_value(&codes).unwrap()).unwrap();
        let b = String::from_utf8(bypass_value(&bypass).unwrap()).unwrap();
        assert_eq!((c.as_str(), b.as_str()), ("00ff:abcd 01:ef", "aa bb 1 2 3 help desk"));
        let e =
            entry(&[(attr::CREATED, "5"), (attr::BACKUP_CODES, &c), (attr::BYPASS, &b), (attr::DISABLED_UNTIL, "9")]);
        let r = record_of(&e).unwrap().unwrap();
        assert_eq!((r.backup_codes, r.bypass, r.disabled_until), (codes, Some(bypass), Some(9)));
        assert_eq!(backup_codes_value(&[]), None);
    }

    #[test]
    fn damaged_backup_or_help_desk_values_are_errors_not_empty() {
        for (name, value) in [
            (attr::BACKUP_CODES, "00ff"),
            (attr::BACKUP_CODES, "zz:11"),
            (attr::BYPASS, "aa bb 1 2 3"),
            (attr::BYPASS, "aa bb 1 x 3 me"),
            (attr::DISABLED_UNTIL, "soon"),
        ] {
            assert!(record_of(&entry(&[(attr::CREATED, "5"), (name, value)])).is_err(), "{name}: {value}");
        }
    }

    /// `t` as read back (the directory keeps no version: the oldest that holds it).
    fn versioned(t: Tally) -> Tally {
        Tally { version: t.oldest_version(), ..t }
    }

    /// `values` as the directory would hold them.
    fn entry_of(values: &[(&str, Option<Vec<u8>>)]) -> LdifEntry {
        let attrs = values.iter().filter_map(|(n, v)| Some((n.to_ascii_lowercase(), v.clone()?))).collect();
        LdifEntry { dn: "uid=a,dc=x".into(), attrs }
    }

    #[test]
    fn a_tally_with_a_contact_being_confirmed_round_trips_through_its_values() {
        let sealed =
            |n: u64| EmailCode { hash: "ab".repeat(32), salt: format!("{n:02x}"), sent_at: n, expires_at: n + 600 };
        let tally = Tally {
            failures: vec![7, 8],
            locked_at: Some(9),
            last_step: Some(10),
            email_code: Some(sealed(1)),
            sms_code: None,
            grace_used: 2,
            contact_code: Some(ContactCode { method: "email".into(), to: "cd".repeat(32), tries: 2, code: sealed(3) }),
            contact_sends: vec![1000, 1020],
            ..Tally::default()
        };
        let values = tally_values(&tally).unwrap();
        let contact = values.iter().find(|(n, _)| *n == attr::CONTACT_CODE).unwrap().1.clone().unwrap();
        let want = format!("email {} 2 {} 03 3 603", "cd".repeat(32), "ab".repeat(32));
        assert_eq!(String::from_utf8(contact).unwrap(), want);
        let back = tally_of(&entry_of(&values)).unwrap();
        assert_eq!(back, versioned(tally.clone()));
        assert_eq!(back.version, super::super::tally::TALLY_VERSION);
        // Sends alone (the code used up) and nothing pending at all.
        let sends_only = Tally { contact_code: None, ..tally.clone() };
        assert_eq!(tally_of(&entry_of(&tally_values(&sends_only).unwrap())).unwrap(), versioned(sends_only.clone()));
        let none = Tally { contact_code: None, contact_sends: Vec::new(), ..tally };
        let values = tally_values(&none).unwrap();
        assert!(values.iter().any(|(n, v)| *n == attr::CONTACT_SENDS && v.is_none()), "an empty list is no value");
        assert_eq!(tally_of(&entry_of(&values)).unwrap(), versioned(none));
    }

    #[test]
    fn damaged_contact_values_are_errors_not_empty() {
        let hex = "ab".repeat(32);
        for (name, value) in [
            (attr::CONTACT_CODE, format!("email {hex} 0 {hex} 01 3")),
            (attr::CONTACT_CODE, format!("email {hex} 0 {hex} 01 3 603 9")),
            (attr::CONTACT_CODE, format!("totp {hex} 0 {hex} 01 3 603")),
            (attr::CONTACT_CODE, format!("email zz 0 {hex} 01 3 603")),
            (attr::CONTACT_CODE, format!("email {hex} many {hex} 01 3 603")),
            (attr::CONTACT_CODE, format!("email {hex} 0 {hex} 01 3 soon")),
            (attr::CONTACT_CODE, format!("email  {hex} 0 {hex} 01 3 603")),
            (attr::CONTACT_SENDS, "1000 then".to_string()),
            (attr::CONTACT_SENDS, "-5".to_string()),
        ] {
            assert!(tally_of(&entry(&[(name, &value)])).is_err(), "{name}: {value}");
        }
        let odd = ContactCode {
            method: "email".into(),
            to: "not hex".into(),
            tries: 0,
            code: EmailCode { hash: hex.clone(), salt: "01".into(), sent_at: 1, expires_at: 2 },
        };
        let tally = Tally { contact_code: Some(odd), ..Tally::default() };
        assert!(tally_values(&tally).is_err(), "what could not be read back is not written");
    }

    #[test]
    fn every_attribute_is_in_the_shipped_schema_and_documented_in_the_one_readme() {
        let schema = include_str!("../../../pam-config/ldap/twostep.schema");
        let readme = include_str!("../../../pam-config/ldap/README.md");
        for name in attr::RECORD.iter().chain(attr::TALLY.iter()).chain([&attr::LOCK]) {
            assert!(readme.contains(&format!("`{name}`")), "{name} is not in pam-config/ldap/README.md");
            if name.starts_with("twostep") {
                assert!(schema.contains(&format!("NAME '{name}'")), "{name} is not defined in twostep.schema");
                let class = &schema[schema.find("objectclass").unwrap()..];
                assert!(class.contains(&format!(" {name} ")), "{name} is not in the twostepUser class");
            }
        }
    }
}
