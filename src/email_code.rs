//! The email fallback's rules, as pure functions on plain data: addresses
//! (validation against header injection, the masked form `j***@district.org`
//! shown to users and in `twostep list`, the `address_template`), and one-time
//! codes (drawn from the OS CSPRNG, kept in the tally only as a salted SHA-256,
//! checked in constant time, single use, expiring, with a resend throttle).
//!
//! Composing and sending the message is [`crate::sendmail`]'s job; when to ask,
//! send and check is [`crate::auth`]'s. Time is always an argument.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::secret::{RandomError, fill_random};
use crate::store::tally::EmailCode;

/// Longest address we accept (RFC 5321 path limit).
pub const MAX_ADDRESS_LEN: usize = 254;

/// Why an address cannot be used (it is not kept: the caller knows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressError {
    /// Longer than [`MAX_ADDRESS_LEN`].
    TooLong,
    /// Spaces, control characters or a character with a meaning in a header.
    ForbiddenCharacter,
    NoAt,
    /// Empty, longer than 64, or with a further `@`.
    BadLocalPart,
    BadDomain,
}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressError::TooLong => write!(f, "the address is longer than {MAX_ADDRESS_LEN} characters"),
            AddressError::ForbiddenCharacter => {
                f.write_str("the address must not contain spaces, control characters or any of <>,;\"()\\")
            }
            AddressError::NoAt => f.write_str("the address has no @"),
            AddressError::BadLocalPart => f.write_str("the part before @ must be 1 to 64 characters with no further @"),
            AddressError::BadDomain => f.write_str("the part after @ must be a domain name such as district.org"),
        }
    }
}

impl std::error::Error for AddressError {}

/// Checks that `addr` is a plain `local@domain` address safe to put in a mail header.
pub fn validate_address(addr: &str) -> Result<(), AddressError> {
    if addr.len() > MAX_ADDRESS_LEN {
        return Err(AddressError::TooLong);
    }
    if addr
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '<' | '>' | ',' | ';' | '"' | '(' | ')' | '\\'))
    {
        return Err(AddressError::ForbiddenCharacter);
    }
    let Some((local, domain)) = addr.rsplit_once('@') else {
        return Err(AddressError::NoAt);
    };
    if local.is_empty() || local.contains('@') || local.len() > 64 {
        return Err(AddressError::BadLocalPart);
    }
    if domain.is_empty()
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
        || !domain.chars().all(|c| c.is_alphanumeric() || c == '.' || c == '-')
    {
        return Err(AddressError::BadDomain);
    }
    Ok(())
}

/// `jane.doe@district.org` → `j***@district.org`.
pub fn mask_address(addr: &str) -> String {
    match addr.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_string(),
    }
}

/// The address codes for `user` go to: the one on file, else `template` with
/// `{user}` replaced (when that gives a valid address), else none.
pub fn address_for(on_file: Option<&str>, template: &str, user: &str) -> Option<String> {
    if let Some(addr) = on_file {
        return validate_address(addr).is_ok().then(|| addr.to_string());
    }
    if template.is_empty() {
        return None;
    }
    let addr = template.replace("{user}", user);
    validate_address(&addr).is_ok().then_some(addr)
}

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
    fn ordinary_addresses_pass() {
        for a in ["jane@district.org", "j.doe+2fa@mail.district.k12.us", "élodie@école.fr"] {
            validate_address(a).unwrap();
        }
    }

    #[test]
    fn injection_and_malformed_addresses_are_refused() {
        for a in [
            "jane@district.org\r\nBcc: all@district.org",
            "jane@district.org\n",
            "jane",
            "@district.org",
            "jane@",
            "jane@@district.org",
            "a b@district.org",
            "jane@district..org",
            "<jane@district.org>",
            "jane@district.org, eve@evil.example",
        ] {
            assert!(validate_address(a).is_err(), "{a:?}");
        }
        assert_eq!(validate_address(&format!("{}@district.org", "a".repeat(300))), Err(AddressError::TooLong));
        assert_eq!(validate_address("jane"), Err(AddressError::NoAt));
        assert_eq!(validate_address("jane@@district.org"), Err(AddressError::BadLocalPart));
        assert_eq!(validate_address("jane@district..org"), Err(AddressError::BadDomain));
        assert_eq!(validate_address("<jane@district.org>"), Err(AddressError::ForbiddenCharacter));
    }

    #[test]
    fn masking_keeps_the_first_letter_and_the_domain() {
        assert_eq!(mask_address("jane.doe@district.org"), "j***@district.org");
        assert_eq!(mask_address("élodie@école.fr"), "é***@école.fr");
    }

    #[test]
    fn the_address_on_file_wins_over_the_template() {
        assert_eq!(address_for(Some("jd@x.org"), "{user}@district.org", "jane").as_deref(), Some("jd@x.org"));
        assert_eq!(address_for(None, "{user}@district.org", "jane").as_deref(), Some("jane@district.org"));
        assert_eq!(address_for(None, "", "jane"), None);
    }

    #[test]
    fn a_template_never_yields_an_unsafe_address() {
        for user in ["a b", "x\r\nBcc: all@evil.example", "eve@evil.example,", "<eve>", "DOMAIN\\bob"] {
            assert_eq!(address_for(None, "{user}@district.org", user), None, "{user:?}");
        }
        // A corrupt address on file is not used either.
        assert_eq!(address_for(Some("x@y.org\nBcc: z@w.org"), "", "jane"), None);
    }

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
    fn durations_read_naturally() {
        assert_eq!(describe_duration(600), "10 minutes");
        assert_eq!(describe_duration(60), "1 minute");
        assert_eq!(describe_duration(90), "90 seconds");
        assert_eq!(describe_duration(7200), "2 hours");
    }
}
