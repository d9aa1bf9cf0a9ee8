//! The email fallback's code rules, as pure functions on plain data: one-time
//! codes (drawn from the OS CSPRNG, kept in the tally only as a salted SHA-256,
//! checked in constant time, single use, expiring, with a resend throttle).
//!
//! Addresses are [`crate::address`]'s; composing and sending the message is
//! [`crate::sendmail`]'s; when to ask,
//! send and check is [`crate::auth`]'s. Time is always an argument.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::secret::{RandomError, fill_random};

/// Bytes of random salt per code.
const SALT_LEN: usize = 16;

/// A fresh code of `digits` decimal digits, uniformly drawn from the OS CSPRNG.
pub fn new_code(digits: u32) -> Result<Zeroizing<String>, RandomError> {
    let modulus = 10u64.pow(digits);
    // Rejection sampling: only values below the largest multiple of `modulus` are used,
    // so every code is equally likely.
    let limit = u64::MAX - u64::MAX % modulus;
    loop {
        let mut bytes = Zeroizing::new([0u8; 8]);
        fill_random(&mut bytes[..])?;
        let v = u64::from_le_bytes(*bytes);
        if v < limit {
            return Ok(Zeroizing::new(format!("{:0width$}", v % modulus, width = digits as usize)));
        }
    }
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn digest(salt_hex: &str, code: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt_hex.as_bytes());
    h.update(b":");
    h.update(code.as_bytes());
    h.finalize().into()
}

/// A fresh random salt, hex (for [`crate::backup_codes`] too).
pub(crate) fn new_salt() -> Result<String, RandomError> {
    let mut salt = [0u8; SALT_LEN];
    fill_random(&mut salt)?;
    Ok(to_hex(&salt))
}

/// Whether `code` hashed with `salt_hex` is `hash_hex`, in constant time
/// (for [`crate::backup_codes`] too).
pub(crate) fn hash_matches(salt_hex: &str, hash_hex: &str, code: &str) -> bool {
    let got = to_hex(&digest(salt_hex, code));
    bool::from(got.as_bytes().ct_eq(hash_hex.as_bytes()))
}

/// Hex salted SHA-256 of `code` (for [`crate::backup_codes`] too).
pub(crate) fn hash_hex(salt_hex: &str, code: &str) -> String {
    to_hex(&digest(salt_hex, code))
}

/// A pending sent code (email or text message): never the code itself, only
/// a salted SHA-256 of it.
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

/// What the tally keeps of `code` sent at `now`: a salted hash, never the code.
///
/// What the hash protects against, and what not: someone who sees the tally
/// (a backup, a debugging session, a root shell over a shoulder) does not read
/// a usable code off it, and equal codes of two users do not look alike. It
/// does not stop anyone who holds the file from trying all 10^digits codes in
/// a moment: the code's own protection is that the tally is root's alone, and
/// that the code is single use and expires in `code_valid` seconds.
pub fn seal(code: &str, now: u64, valid_for: u64) -> Result<EmailCode, RandomError> {
    let mut salt = [0u8; SALT_LEN];
    fill_random(&mut salt)?;
    let salt = to_hex(&salt);
    let hash = to_hex(&digest(&salt, code));
    Ok(EmailCode { hash, salt, sent_at: now, expires_at: now.saturating_add(valid_for) })
}

/// The tag that ties `sealed` (a code sent to a contact typed at
/// enrollment) to that contact: a salted hash of it, never the contact.
pub fn contact_tag(sealed: &EmailCode, contact: &str) -> String {
    to_hex(&digest(&sealed.salt, &format!("contact:{contact}")))
}

/// Whether `tag` is [`contact_tag`] of `sealed` and `contact` (constant time).
pub fn is_contact(sealed: &EmailCode, tag: &str, contact: &str) -> bool {
    bool::from(contact_tag(sealed, contact).as_bytes().ct_eq(tag.as_bytes()))
}

/// How an answer compares with the pending email code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    /// The answer is the code and it is still valid.
    Valid,
    /// The answer is the code, but it has expired.
    Expired,
    /// The answer is not the code (or not a code at all).
    Wrong,
}

/// Checks `answer` (spaces allowed, as for TOTP) against `pending` at `now`, in constant time.
pub fn check(pending: &EmailCode, answer: &str, digits: u32, now: u64) -> CodeCheck {
    let Some(answer) = crate::totp::normalize_answer(answer, digits) else {
        return CodeCheck::Wrong;
    };
    let want = pending.hash.as_bytes();
    let got = to_hex(&digest(&pending.salt, &answer));
    if !bool::from(got.as_bytes().ct_eq(want)) {
        CodeCheck::Wrong
    } else if now >= pending.expires_at {
        CodeCheck::Expired
    } else {
        CodeCheck::Valid
    }
}

/// Whether a new code may be sent at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resend {
    /// Send a new code (there is none, or the last one is old enough).
    Allowed,
    /// Too soon: the code sent at `sent_at` still works; a new one from `next_at` on.
    TooSoon { sent_at: u64, next_at: u64 },
}

/// The resend throttle: no new code sooner than `resend_after` seconds after the last
/// one, unless the last one has already expired (then a fresh one is always allowed).
pub fn may_resend(pending: Option<&EmailCode>, resend_after: u64, now: u64) -> Resend {
    match pending {
        Some(p) if now < p.expires_at && now < p.sent_at.saturating_add(resend_after) => {
            Resend::TooSoon { sent_at: p.sent_at, next_at: p.sent_at.saturating_add(resend_after) }
        }
        _ => Resend::Allowed,
    }
}

/// "10 minutes", "1 minute", "90 seconds": how long a code is valid, for people.
pub fn describe_duration(secs: u64) -> String {
    match secs {
        s if s % 3600 == 0 && s >= 3600 => plural(s / 3600, "hour"),
        s if s % 60 == 0 && s >= 60 => plural(s / 60, "minute"),
        s => plural(s, "second"),
    }
}

fn plural(n: u64, unit: &str) -> String {
    if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_the_configured_digits_and_vary() {
        for digits in [6, 7, 8] {
            let c = new_code(digits).unwrap();
            assert_eq!(c.len(), digits as usize);
            assert!(c.bytes().all(|b| b.is_ascii_digit()));
        }
        let many: std::collections::HashSet<String> = (0..50).map(|_| new_code(6).unwrap().to_string()).collect();
        assert!(many.len() > 45, "50 random 6-digit codes should almost never collide");
    }

    #[test]
    fn a_sealed_code_keeps_no_trace_of_the_code() {
        let sealed = seal("123456", 1000, 600).unwrap();
        assert!(!sealed.hash.contains("123456") && !sealed.salt.contains("123456"));
        assert_eq!(sealed.hash.len(), 64);
        assert_eq!((sealed.sent_at, sealed.expires_at), (1000, 1600));
        // Same code, different salt, different hash.
        assert_ne!(seal("123456", 1000, 600).unwrap().hash, sealed.hash);
    }

    #[test]
    fn a_code_is_valid_until_it_expires_and_only_that_code() {
        let sealed = seal("123456", 1000, 600).unwrap();
        assert_eq!(check(&sealed, "123456", 6, 1000), CodeCheck::Valid);
        assert_eq!(check(&sealed, "123 456", 6, 1599), CodeCheck::Valid);
        assert_eq!(check(&sealed, "123456", 6, 1600), CodeCheck::Expired);
        for wrong in ["123457", "", "email", "1234567", "12345"] {
            assert_eq!(check(&sealed, wrong, 6, 1000), CodeCheck::Wrong, "{wrong:?}");
        }
    }

    #[test]
    fn a_new_code_waits_for_resend_after_unless_the_old_one_expired() {
        let sealed = seal("123456", 1000, 600).unwrap();
        assert_eq!(may_resend(None, 300, 1000), Resend::Allowed);
        assert_eq!(may_resend(Some(&sealed), 300, 1000), Resend::TooSoon { sent_at: 1000, next_at: 1300 });
        assert_eq!(may_resend(Some(&sealed), 300, 1299), Resend::TooSoon { sent_at: 1000, next_at: 1300 });
        assert_eq!(may_resend(Some(&sealed), 300, 1300), Resend::Allowed);
        assert_eq!(may_resend(Some(&sealed), 600, 1600), Resend::Allowed, "expired: always allowed");
    }

    #[test]
    fn a_contact_tag_matches_only_its_contact_and_shows_nothing_of_it() {
        let sealed = seal("123456", 1000, 600).unwrap();
        let tag = contact_tag(&sealed, "+15551234567");
        assert!(is_contact(&sealed, &tag, "+15551234567"));
        assert!(!is_contact(&sealed, &tag, "+15551234568"));
        assert!(!tag.contains("5551234567") && tag != sealed.hash);
        assert_ne!(contact_tag(&seal("123456", 1000, 600).unwrap(), "+15551234567"), tag, "salted");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(describe_duration(600), "10 minutes");
        assert_eq!(describe_duration(60), "1 minute");
        assert_eq!(describe_duration(90), "90 seconds");
        assert_eq!(describe_duration(7200), "2 hours");
    }
}
