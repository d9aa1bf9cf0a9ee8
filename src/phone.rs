//! Phone numbers for text-message codes: what twostep accepts (E.164:
//! `+`, the country code and the number, 8 to 15 digits, no leading 0), the
//! form it stores (`+15551234567`, nothing else), and the masked form users
//! and `twostep list` see (`•••• ••• 4567`). Pure functions, no I/O.
//!
//! A stored number is only ever `+` and ASCII digits, so it is safe to put
//! into an argument of the `[sms] command` (no shell is involved anyway).

use std::fmt;

/// Fewest and most digits after the `+` (E.164 allows at most 15; 8 is the
/// shortest number with a country code in use).
pub const MIN_DIGITS: usize = 8;
pub const MAX_DIGITS: usize = 15;

/// Why a number cannot be used (it is not kept: the caller knows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneError {
    /// No `+` and country code in front.
    NoCountryCode,
    /// Something other than digits (and, when typed, spaces, `-`, `.`, `(`, `)`).
    ForbiddenCharacter,
    /// Fewer than [`MIN_DIGITS`] or more than [`MAX_DIGITS`] digits.
    BadLength,
    /// A 0 right after the `+` (no country code starts with 0).
    LeadingZero,
}

impl fmt::Display for PhoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PhoneError::NoCountryCode => {
                f.write_str("the number must start with + and the country code, e.g. +15551234567")
            }
            PhoneError::ForbiddenCharacter => {
                f.write_str("the number may only contain digits after the + (spaces, -, . and () are dropped)")
            }
            PhoneError::BadLength => write!(f, "the number must have {MIN_DIGITS} to {MAX_DIGITS} digits after the +"),
            PhoneError::LeadingZero => f.write_str("the country code after the + cannot start with 0"),
        }
    }
}

impl std::error::Error for PhoneError {}

/// Checks that `phone` is a stored-form E.164 number: `+`, then 8 to 15
/// ASCII digits, the first not 0.
pub fn validate_phone(phone: &str) -> Result<(), PhoneError> {
    let Some(digits) = phone.strip_prefix('+') else {
        return Err(PhoneError::NoCountryCode);
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PhoneError::ForbiddenCharacter);
    }
    if !(MIN_DIGITS..=MAX_DIGITS).contains(&digits.len()) {
        return Err(PhoneError::BadLength);
    }
    if digits.starts_with('0') {
        return Err(PhoneError::LeadingZero);
    }
    Ok(())
}

/// A number as an administrator types it (`+1 (555) 123-4567`) in stored
/// form (`+15551234567`): spaces, `-`, `.`, `(` and `)` are dropped, then
/// the rest must pass [`validate_phone`].
pub fn normalize_phone(typed: &str) -> Result<String, PhoneError> {
    let kept: String = typed.trim().chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')')).collect();
    validate_phone(&kept)?;
    Ok(kept)
}

/// `+15551234567` → `•••• ••• 4567`: the last four digits only.
pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    let last: String = digits[digits.len().saturating_sub(4)..].iter().collect();
    format!("\u{2022}\u{2022}\u{2022}\u{2022} \u{2022}\u{2022}\u{2022} {last}")
}

/// `+15551234567` → `****4567`: the masked form in log lines, plain ASCII
/// (log fields escape everything else).
pub fn mask_phone_for_log(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    let last: String = digits[digits.len().saturating_sub(4)..].iter().collect();
    format!("****{last}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_numbers_pass_as_they_are() {
        for p in ["+15551234567", "+4930123456", "+12345678", "+123456789012345"] {
            validate_phone(p).unwrap_or_else(|e| panic!("{p}: {e}"));
        }
    }

    #[test]
    fn other_numbers_are_refused_with_the_reason() {
        for (p, why) in [
            ("15551234567", PhoneError::NoCountryCode),
            ("", PhoneError::NoCountryCode),
            ("+1555123456a", PhoneError::ForbiddenCharacter),
            ("+1 555 123 4567", PhoneError::ForbiddenCharacter),
            ("+1555;rm -rf /", PhoneError::ForbiddenCharacter),
            ("+１５５５１２３４５６７", PhoneError::ForbiddenCharacter),
            ("+1234567", PhoneError::BadLength),
            ("+1234567890123456", PhoneError::BadLength),
            ("+", PhoneError::BadLength),
            ("+05551234567", PhoneError::LeadingZero),
            ("++15551234567", PhoneError::ForbiddenCharacter),
        ] {
            assert_eq!(validate_phone(p), Err(why), "{p:?}");
        }
    }

    #[test]
    fn typed_numbers_are_normalized_to_e164() {
        assert_eq!(normalize_phone("+1 (555) 123-4567").unwrap(), "+15551234567");
        assert_eq!(normalize_phone(" +49 30.123456 ").unwrap(), "+4930123456");
        assert_eq!(normalize_phone("555-123-4567"), Err(PhoneError::NoCountryCode));
        assert_eq!(normalize_phone("+1 555 123 4567\n+1"), Err(PhoneError::ForbiddenCharacter));
    }

    #[test]
    fn masking_keeps_the_last_four_digits() {
        assert_eq!(mask_phone("+15551234567"), "•••• ••• 4567");
        assert_eq!(mask_phone("+4930123456"), "•••• ••• 3456");
        // Printable, one column each: no escaping on a terminal.
        assert!(!mask_phone("+15551234567").chars().any(crate::user::unsafe_on_terminal));
        assert_eq!(mask_phone("+15551234567").chars().count(), 13);
        assert_eq!(mask_phone_for_log("+15551234567"), "****4567");
    }
}
