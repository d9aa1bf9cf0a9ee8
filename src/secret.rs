//! The TOTP shared secret: generated from the OS CSPRNG, held in memory that is
//! wiped on drop, never printed by `Debug`, and converted to/from base32 (the
//! form authenticator apps and google-authenticator files use).
#![forbid(unsafe_code)]

use std::fmt;

use secrecy::{ExposeSecret, SecretSlice};
use zeroize::Zeroizing;

/// Bytes in a secret we generate (160 bits, as RFC 4226 recommends).
pub const GENERATED_LEN: usize = 20;
/// Fewest bytes we accept when importing (80 bits: what google-authenticator writes).
pub const MIN_IMPORT_LEN: usize = 10;
/// Most bytes we accept when importing.
pub const MAX_IMPORT_LEN: usize = 64;

/// A TOTP shared secret.
pub struct TotpSecret(SecretSlice<u8>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret([redacted])")
    }
}

impl Clone for TotpSecret {
    fn clone(&self) -> Self {
        TotpSecret::from_bytes(self.expose())
    }
}

/// Why a base32 secret was refused. Never contains the secret itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretError {
    NotBase32,
    TooShort(usize),
    TooLong(usize),
    Random(String),
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretError::NotBase32 => f.write_str("the secret is not valid base32 (letters A-Z and digits 2-7)"),
            SecretError::TooShort(n) => {
                write!(f, "the secret has {n} bytes; at least {MIN_IMPORT_LEN} (16 base32 characters) are needed")
            }
            SecretError::TooLong(n) => write!(f, "the secret has {n} bytes; at most {MAX_IMPORT_LEN} are supported"),
            SecretError::Random(e) => write!(f, "the system random generator failed: {e}"),
        }
    }
}

impl std::error::Error for SecretError {}

impl TotpSecret {
    /// A new random secret from the operating system's CSPRNG.
    pub fn generate() -> Result<TotpSecret, SecretError> {
        let mut bytes = Zeroizing::new([0u8; GENERATED_LEN]);
        getrandom::fill(&mut bytes[..]).map_err(|e| SecretError::Random(e.to_string()))?;
        Ok(TotpSecret::from_bytes(&bytes[..]))
    }

    /// Wraps raw secret bytes (copied into wiping memory).
    pub fn from_bytes(bytes: &[u8]) -> TotpSecret {
        TotpSecret(SecretSlice::from(bytes.to_vec()))
    }

    /// Parses base32 as apps show it: case-insensitive, spaces, dashes and `=` padding ignored.
    pub fn from_base32(text: &str) -> Result<TotpSecret, SecretError> {
        let cleaned: Zeroizing<String> = Zeroizing::new(
            text.chars()
                .filter(|c| !c.is_whitespace() && *c != '-' && *c != '=')
                .map(|c| c.to_ascii_uppercase())
                .collect(),
        );
        if cleaned.is_empty() || !cleaned.bytes().all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)) {
            return Err(SecretError::NotBase32);
        }
        let bytes = Zeroizing::new(
            base32::decode(base32::Alphabet::Rfc4648 { padding: false }, &cleaned).ok_or(SecretError::NotBase32)?,
        );
        if bytes.len() < MIN_IMPORT_LEN {
            return Err(SecretError::TooShort(bytes.len()));
        }
        if bytes.len() > MAX_IMPORT_LEN {
            return Err(SecretError::TooLong(bytes.len()));
        }
        Ok(TotpSecret::from_bytes(&bytes))
    }

    /// The secret as unpadded upper-case base32, in wiping memory.
    pub fn to_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(base32::encode(base32::Alphabet::Rfc4648 { padding: false }, self.expose()))
    }

    /// The raw bytes, for the HMAC.
    pub fn expose(&self) -> &[u8] {
        self.0.expose_secret()
    }
}

/// `ABCDEFGH…` → `ABCD EFGH …`, easier to type from a screen.
pub fn grouped(b32: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(b32.len() * 5 / 4));
    for (i, c) in b32.chars().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let s = TotpSecret::from_base32("JBSWY3DPEHPK3PXP").unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("JBSW") && shown.contains("redacted"));
    }

    #[test]
    fn base32_round_trips_and_is_forgiving_about_formatting() {
        let s = TotpSecret::from_base32("jbsw y3dp-ehpk 3pxp==").unwrap();
        assert_eq!(&*s.to_base32(), "JBSWY3DPEHPK3PXP");
    }

    #[test]
    fn generated_secrets_are_160_bits_and_differ() {
        let a = TotpSecret::generate().unwrap();
        let b = TotpSecret::generate().unwrap();
        assert_eq!(a.expose().len(), GENERATED_LEN);
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.to_base32().len(), 32);
    }

    #[test]
    fn bad_base32_is_refused_without_echoing_it() {
        assert_eq!(TotpSecret::from_base32("not base32!").unwrap_err(), SecretError::NotBase32);
        assert_eq!(TotpSecret::from_base32("").unwrap_err(), SecretError::NotBase32);
        assert_eq!(TotpSecret::from_base32("JBSWY3DP").unwrap_err(), SecretError::TooShort(5));
        assert!(matches!(TotpSecret::from_base32(&"A".repeat(200)), Err(SecretError::TooLong(_))));
    }
}
