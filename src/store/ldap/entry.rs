//! One user's entry under the user's directory lock ([`DirEntry`]): reads
//! from the entry read under the lock, and each write one modify fenced by
//! the lock and made of compare-and-swaps on the values read (see the
//! module doc of [`super`]).

use super::DirectoryStore;
use super::attr;
use super::client::code;
use super::ldif::{LdifEntry, Modify, filter_escape};
use super::values::{backup_codes_value, bypass_value, record_of, tally_of, tally_values};
use crate::store::error::{DirectoryError, StoreError};
use crate::store::record::UserRecord;
use crate::store::tally::Tally;

/// One user's entry under the user's directory lock (see [`DirectoryStore::change`]).
#[derive(Debug)]
pub struct DirEntry<'a> {
    pub(super) store: &'a DirectoryStore,
    pub(super) user: &'a str,
    /// `None`: the user has no entry.
    pub(super) lock: Option<String>,
    pub(super) entry: LdifEntry,
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
