//! A record and a tally as attribute values, both ways: what
//! [`super::entry::DirEntry`] writes ([`tally_values`], [`backup_codes_value`],
//! [`bypass_value`], …) and what reads give back ([`record_of`], [`tally_of`]).
//! A value twostep would not write is an error naming the attribute (the
//! entry is damaged), never an empty value.

use super::attr;
use super::ldif::LdifEntry;
use crate::backup_codes::{Bypass, CodeHash};
use crate::secret::TotpSecret;
use crate::store::error::{DirectoryError, StoreError};
use crate::store::record::{Method, UserRecord};
use crate::store::tally::{ContactCode, EmailCode, MAX_FAILURES_KEPT, Tally};

/// Attribute values to write, by name (`None`: the attribute is absent).
pub(super) type Values = Vec<(&'static str, Option<Vec<u8>>)>;

/// The attribute values holding `tally` (`None`: the attribute is absent);
/// [`tally_of`] reads them back.
pub(super) fn tally_values(tally: &Tally) -> Result<Values, StoreError> {
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
pub(super) fn record_of(entry: &LdifEntry) -> Result<Option<UserRecord>, StoreError> {
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

pub(super) fn backup_codes_value(codes: &[CodeHash]) -> Option<Vec<u8>> {
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

pub(super) fn bypass_value(b: &Bypass) -> Result<Vec<u8>, StoreError> {
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

pub(super) fn tally_of(entry: &LdifEntry) -> Result<Tally, StoreError> {
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
        assert_eq!(back.version, crate::store::tally::TALLY_VERSION);
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
}
