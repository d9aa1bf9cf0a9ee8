//! Backup codes and help-desk bypass codes: what a user types at the
//! verification code prompt when the phone is not at hand, as pure functions
//! on plain data (time is always an argument).
//!
//! - **Backup codes**: [`BACKUP_COUNT`] single-use codes of [`BACKUP_DIGITS`]
//!   digits (shown `1234 5678`), made by `twostep backup-codes USER` (or
//!   `enroll --backup-codes`; a new set replaces the old one), or imported
//!   from the scratch codes of a google-authenticator file. Each works once.
//! - **A bypass code**: [`BYPASS_DIGITS`] digits (shown `123 456 789`), made
//!   by `twostep bypass USER` for the help desk to read out on the phone;
//!   it works `uses_left` more times until `expires`.
//!
//! Both are kept in the user's record (`store/record.rs`) only as salted
//! SHA-256 hashes ([`crate::email_code`]'s), compared in constant time,
//! every stored code each time (no early exit). As for email codes, the hash
//! keeps a glance at the file from yielding a usable code; it does not stop
//! whoever holds the file from trying all 10^8 codes, and that file holds the
//! TOTP secret in the clear anyway: its protection is that it is root's alone.
//!
//! Telling answers apart: by the number of digits once spaces are removed.
//! App, email and text codes have `[totp] digits` (6 to 8), backup codes 8,
//! bypass codes 9 (never an app code). With `[totp] digits = 8`, an 8-digit
//! answer is checked both ways (the app's window and sent codes first, then
//! the backup codes, all of them compared): a match as an app or sent code
//! wins, so no backup code is spent on it.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::email_code::{hash_hex, hash_matches, new_code, new_salt};
use crate::secret::RandomError;
use crate::totp::normalize_answer;

/// Digits of a backup code (also google-authenticator's scratch codes).
pub const BACKUP_DIGITS: u32 = 8;
/// Backup codes in a set.
pub const BACKUP_COUNT: usize = 10;
/// Digits of a help-desk bypass code: more than any app code can have.
pub const BYPASS_DIGITS: u32 = 9;
/// At most this many backup codes left: the user is told after logging in.
pub const FEW_LEFT: usize = 2;
/// Most uses one bypass code may be given.
pub const MAX_BYPASS_USES: u32 = 10;
/// Longest a bypass code may stay valid (seconds): 7 days.
pub const MAX_BYPASS_VALID: u64 = 7 * 86_400;

/// One stored code: never the code, only a salted SHA-256 of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeHash {
    /// Hex random salt.
    pub salt: String,
    /// Hex SHA-256 of `salt:code`.
    pub hash: String,
}

/// A pending help-desk bypass code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bypass {
    pub salt: String,
    pub hash: String,
    /// When it was made (seconds since the epoch).
    pub created: u64,
    /// It works before this time only.
    pub expires: u64,
    /// Logins it still lets in.
    pub uses_left: u32,
    /// The administrator who made it (`SUDO_USER`, else the login name).
    pub by: String,
}

impl Bypass {
    /// Whether it can still let someone in at `now`.
    pub fn is_live(&self, now: u64) -> bool {
        self.uses_left > 0 && now < self.expires
    }
}

/// Seals `code` (digits, no spaces) for storing.
pub fn seal(code: &str) -> Result<CodeHash, RandomError> {
    let salt = new_salt()?;
    let hash = hash_hex(&salt, code);
    Ok(CodeHash { salt, hash })
}

/// A new set of backup codes, all different: the codes (shown once) and what is stored.
pub fn new_set() -> Result<(Vec<Zeroizing<String>>, Vec<CodeHash>), RandomError> {
    let mut codes: Vec<Zeroizing<String>> = Vec::with_capacity(BACKUP_COUNT);
    while codes.len() < BACKUP_COUNT {
        let code = new_code(BACKUP_DIGITS)?;
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    let sealed = seal_all(&codes)?;
    Ok((codes, sealed))
}

/// Seals every code of `codes` (e.g. google-authenticator scratch codes).
pub fn seal_all(codes: &[Zeroizing<String>]) -> Result<Vec<CodeHash>, RandomError> {
    codes.iter().map(|c| seal(c)).collect()
}

/// The position of the backup code `answer` is (spaces allowed), if any.
/// Every code is compared, in constant time, whatever matched before.
pub fn find_backup(codes: &[CodeHash], answer: &str) -> Option<usize> {
    let answer = normalize_answer(answer, BACKUP_DIGITS)?;
    let mut found = None;
    for (i, c) in codes.iter().enumerate() {
        if hash_matches(&c.salt, &c.hash, &answer) && found.is_none() {
            found = Some(i);
        }
    }
    found
}

/// A new bypass code valid from `now` for `valid_for` seconds and `uses`
/// logins, made by `by`: the code (shown once) and what is stored.
pub fn new_bypass(now: u64, valid_for: u64, uses: u32, by: &str) -> Result<(Zeroizing<String>, Bypass), RandomError> {
    let code = new_code(BYPASS_DIGITS)?;
    let CodeHash { salt, hash } = seal(&code)?;
    let bypass = Bypass {
        salt,
        hash,
        created: now,
        expires: now.saturating_add(valid_for),
        uses_left: uses,
        by: by.to_string(),
    };
    Ok((code, bypass))
}

/// How an answer compares with the pending bypass code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BypassCheck {
    /// The code, with uses left, before it expires.
    Valid,
    /// The code, but after it expired.
    Expired,
    /// Not the code, or the code with no use left.
    Wrong,
}

/// Checks `answer` (spaces allowed) against `pending` at `now`, in constant time.
pub fn check_bypass(pending: &Bypass, answer: &str, now: u64) -> BypassCheck {
    let Some(answer) = normalize_answer(answer, BYPASS_DIGITS) else {
        return BypassCheck::Wrong;
    };
    if !hash_matches(&pending.salt, &pending.hash, &answer) || pending.uses_left == 0 {
        BypassCheck::Wrong
    } else if now >= pending.expires {
        BypassCheck::Expired
    } else {
        BypassCheck::Valid
    }
}

/// A code grouped for reading aloud: `1234 5678`, `123 456 789`.
pub fn grouped(code: &str) -> Zeroizing<String> {
    let size = if code.len().is_multiple_of(4) { 4 } else { 3 };
    crate::secret::grouped_by(code, size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_is_ten_different_8_digit_codes_stored_only_as_salted_hashes() {
        let (codes, sealed) = new_set().unwrap();
        assert_eq!((codes.len(), sealed.len()), (BACKUP_COUNT, BACKUP_COUNT));
        for (i, c) in codes.iter().enumerate() {
            assert!(c.len() == 8 && c.bytes().all(|b| b.is_ascii_digit()), "{c:?}");
            assert!(codes[..i].iter().all(|d| d != c), "all different");
            assert!(!sealed[i].hash.contains(c.as_str()) && !sealed[i].salt.contains(c.as_str()));
        }
        assert_ne!(seal("12345678").unwrap(), seal("12345678").unwrap(), "salted");
    }

    #[test]
    fn a_backup_code_is_found_with_or_without_spaces_and_nothing_else_is() {
        let (codes, sealed) = new_set().unwrap();
        assert_eq!(find_backup(&sealed, &codes[3]), Some(3));
        assert_eq!(find_backup(&sealed, &grouped(&codes[7])), Some(7));
        let other = (0..100_000_000u32).map(|n| format!("{n:08}")).find(|n| !codes.iter().any(|c| c.as_str() == n));
        assert_eq!(find_backup(&sealed, &other.unwrap()), None);
        for not_one in ["", "backup", &codes[0][..6], &format!("{}0", &*codes[0])] {
            assert_eq!(find_backup(&sealed, not_one), None, "{not_one:?}");
        }
    }

    #[test]
    fn a_bypass_code_works_before_it_expires_while_uses_are_left() {
        let (code, mut b) = new_bypass(1000, 3600, 2, "helpdesk").unwrap();
        assert_eq!(code.len(), 9);
        assert_eq!((b.created, b.expires, b.uses_left, b.by.as_str()), (1000, 4600, 2, "helpdesk"));
        assert_eq!(check_bypass(&b, &code, 1000), BypassCheck::Valid);
        assert_eq!(check_bypass(&b, &grouped(&code), 4599), BypassCheck::Valid);
        assert_eq!(check_bypass(&b, &code, 4600), BypassCheck::Expired);
        assert_eq!(check_bypass(&b, &code[..8], 1000), BypassCheck::Wrong);
        assert!(b.is_live(4599) && !b.is_live(4600));
        b.uses_left = 0;
        assert_eq!(check_bypass(&b, &code, 1000), BypassCheck::Wrong);
        assert!(!b.is_live(1000));
    }

    #[test]
    fn codes_are_grouped_for_reading() {
        assert_eq!(&*grouped("12345678"), "1234 5678");
        assert_eq!(&*grouped("123456789"), "123 456 789");
    }
}
