//! Email addresses: what twostep accepts (plain `local@domain`, safe in a
//! mail header), the masked form `j***@district.org` shown to users and in
//! `twostep list`, and the address codes go to (on file, else from
//! `address_template`). Pure functions, no I/O.

use std::fmt;

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
}
