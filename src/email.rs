//! Email addresses: validation (no header injection) and the masked form shown
//! to users and in `twostep list` (`j***@district.org`).
#![forbid(unsafe_code)]

/// Longest address we accept (RFC 5321 path limit).
pub const MAX_ADDRESS_LEN: usize = 254;

/// Checks that `addr` is a plain `local@domain` address safe to put in a mail header.
pub fn validate_address(addr: &str) -> Result<(), String> {
    if addr.len() > MAX_ADDRESS_LEN {
        return Err(format!("the address is longer than {MAX_ADDRESS_LEN} characters"));
    }
    if addr
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '<' | '>' | ',' | ';' | '"' | '(' | ')' | '\\'))
    {
        return Err("the address must not contain spaces, control characters or any of <>,;\"()\\".into());
    }
    let Some((local, domain)) = addr.rsplit_once('@') else {
        return Err("the address has no @".into());
    };
    if local.is_empty() || local.contains('@') || local.len() > 64 {
        return Err("the part before @ must be 1 to 64 characters with no further @".into());
    }
    if domain.is_empty()
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
        || !domain.chars().all(|c| c.is_alphanumeric() || c == '.' || c == '-')
    {
        return Err("the part after @ must be a domain name such as district.org".into());
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
        assert!(validate_address(&format!("{}@district.org", "a".repeat(300))).is_err());
    }

    #[test]
    fn masking_keeps_the_first_letter_and_the_domain() {
        assert_eq!(mask_address("jane.doe@district.org"), "j***@district.org");
        assert_eq!(mask_address("élodie@école.fr"), "é***@école.fr");
    }
}
