//! The TOTP shared secret: generated from the OS CSPRNG, held in memory that is
//! wiped on drop, never printed by `Debug`, and converted to/from base32 (the
//! form authenticator apps and google-authenticator files use).

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

/// The operating system's CSPRNG (getrandom(2)) failed: nothing random can be
/// drawn (secrets, email codes and their salts, Message-IDs), so the caller stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomError(getrandom::Error);

impl fmt::Display for RandomError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the system random number generator failed: {}", self.0)
    }
}

impl std::error::Error for RandomError {}

/// Fills `buf` from the operating system's CSPRNG: the one way twostep draws random bytes.
pub fn fill_random(buf: &mut [u8]) -> Result<(), RandomError> {
    getrandom::fill(buf).map_err(RandomError)
}

/// Why a base32 secret was refused, or none could be made. Never contains the secret itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretError {
    NotBase32,
    TooShort(usize),
    TooLong(usize),
    Random(RandomError),
}

impl fmt::Display for SecretError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretError::NotBase32 => f.write_str("the secret is not valid base32 (letters A-Z and digits 2-7)"),
            SecretError::TooShort(n) => {
                write!(f, "the secret has {n} bytes; at least {MIN_IMPORT_LEN} (16 base32 characters) are needed")
            }
            SecretError::TooLong(n) => write!(f, "the secret has {n} bytes; at most {MAX_IMPORT_LEN} are supported"),
            SecretError::Random(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for SecretError {}

impl From<RandomError> for SecretError {
    fn from(e: RandomError) -> Self {
        SecretError::Random(e)
    }
}

impl TotpSecret {
    /// A new random secret from the operating system's CSPRNG.
    pub fn generate() -> Result<TotpSecret, SecretError> {
        let mut bytes = Zeroizing::new([0u8; GENERATED_LEN]);
        fill_random(&mut bytes[..])?;
        Ok(TotpSecret::from_bytes(&bytes[..]))
    }

    /// Wraps raw secret bytes (copied into wiping memory).
    pub fn from_bytes(bytes: &[u8]) -> TotpSecret {
        TotpSecret(SecretSlice::from(bytes.to_vec()))
    }

    /// Parses base32 as apps show it: case-insensitive, spaces, dashes and `=` padding ignored.
    pub fn from_base32(text: &str) -> Result<TotpSecret, SecretError> {
        let bytes = if text.is_ascii() {
            // What the module reads on every login: one pass over the bytes,
            // decoded as they are cleaned.
            let values = text.bytes().map(|b| ASCII_BASE32[usize::from(b & 0x7f)]).filter(|&v| v != SKIP);
            decode_base32_values(values, text.len())
        } else {
            // Sized up front: a growing buffer would leave unwiped copies behind when it moves.
            let mut cleaned = Zeroizing::new(String::with_capacity(text.len()));
            for c in text.chars().filter(|c| !c.is_whitespace() && *c != '-' && *c != '=') {
                cleaned.push(c.to_ascii_uppercase());
            }
            decode_base32(&cleaned)
        };
        let mut bytes = bytes.ok_or(SecretError::NotBase32)?;
        if bytes.len() < MIN_IMPORT_LEN {
            return Err(SecretError::TooShort(bytes.len()));
        }
        if bytes.len() > MAX_IMPORT_LEN {
            return Err(SecretError::TooLong(bytes.len()));
        }
        if bytes.len() == bytes.capacity() {
            // Exactly as long as its allocation (the usual secret, no padding):
            // kept as it is, since becoming a boxed slice moves nothing.
            return Ok(TotpSecret(SecretSlice::from(std::mem::take(&mut *bytes))));
        }
        Ok(TotpSecret::from_bytes(&bytes))
    }

    /// The secret as unpadded upper-case base32, in wiping memory.
    pub fn to_base32(&self) -> Zeroizing<String> {
        encode_base32(self.expose())
    }

    /// The raw bytes, for the HMAC.
    pub fn expose(&self) -> &[u8] {
        self.0.expose_secret()
    }

    /// Whether `other` is the same secret (compared in constant time).
    pub fn same_as(&self, other: &TotpSecret) -> bool {
        use subtle::ConstantTimeEq;
        bool::from(self.expose().ct_eq(other.expose()))
    }
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding, written into a buffer allocated once at its
/// final size (no reallocation leaves a copy behind) and wiped on drop.
fn encode_base32(bytes: &[u8]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(bytes.len().div_ceil(5) * 8));
    let mut bits = Zeroizing::new(0u16);
    let mut count = 0;
    for &b in bytes {
        *bits = (*bits << 8) | u16::from(b);
        count += 8;
        while count >= 5 {
            count -= 5;
            out.push(char::from(BASE32[usize::from((*bits >> count) & 31)]));
        }
        *bits &= (1 << count) - 1;
    }
    if count > 0 {
        out.push(char::from(BASE32[usize::from((*bits << (5 - count)) & 31)]));
    }
    out
}

/// Decodes upper-case RFC 4648 base32 (no padding; trailing bits that do not
/// make a byte are dropped), or `None` for any other character or no input.
fn decode_base32(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let values = text.bytes().map(|c| match c {
        b'A'..=b'Z' => c - b'A',
        b'2'..=b'7' => c - b'2' + 26,
        _ => BAD,
    });
    decode_base32_values(values, text.len())
}

/// A byte that is no base32 digit, in [`ASCII_BASE32`] and for [`decode_base32_values`].
const BAD: u8 = 0xff;
/// A separator people type (white space, `-`, `=` padding), in [`ASCII_BASE32`].
const SKIP: u8 = 0xfe;

/// What [`TotpSecret::from_base32`] makes of each ASCII byte: its base32
/// value (either case), [`SKIP`] or [`BAD`].
static ASCII_BASE32: [u8; 128] = {
    let mut table = [BAD; 128];
    let mut i = 0;
    while i < 26 {
        table[b'A' as usize + i] = i as u8;
        table[b'a' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'2' as usize + i] = 26 + i as u8;
        i += 1;
    }
    let skipped = [b' ', b'\t', b'\n', 0x0b, 0x0c, b'\r', b'-', b'='];
    let mut i = 0;
    while i < skipped.len() {
        table[skipped[i] as usize] = SKIP;
        i += 1;
    }
    table
};

/// The bytes of the base32 digits `values` (0 to 31; anything else makes it
/// `None`, as does no digit at all), of which there are at most `most` (the
/// output is sized for that).
fn decode_base32_values(values: impl Iterator<Item = u8>, most: usize) -> Option<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(Vec::with_capacity(most * 5 / 8));
    let mut bits = Zeroizing::new(0u16);
    let mut count = 0;
    let mut any = false;
    for v in values {
        any = true;
        if v > 31 {
            return None;
        }
        let value = u16::from(v);
        *bits = (*bits << 5) | value;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push((*bits >> count) as u8);
            *bits &= (1 << count) - 1;
        }
    }
    any.then_some(out)
}

/// `ABCDEFGH…` → `ABCD EFGH …`, easier to type from a screen.
pub fn grouped(b32: &str) -> Zeroizing<String> {
    grouped_by(b32, 4)
}

/// `text` in groups of `size` characters separated by spaces (wiped when dropped).
pub fn grouped_by(text: &str, size: usize) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(text.len() + text.len() / size.max(1)));
    for (i, c) in text.chars().enumerate() {
        if i > 0 && i % size.max(1) == 0 {
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
    fn base32_matches_rfc4648_test_vectors() {
        // RFC 4648 section 10, padding removed.
        for (raw, b32) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(&*encode_base32(raw.as_bytes()), b32);
            if !raw.is_empty() {
                assert_eq!(&**decode_base32(b32).unwrap(), raw.as_bytes(), "{b32}");
            }
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(&**decode_base32(&encode_base32(&all)).unwrap(), &all[..]);
        assert!(decode_base32("MZXW6YTBOI1").is_none() && decode_base32("mzxw").is_none());
    }

    proptest::proptest! {
        /// The one-pass decoding of ASCII text is the general path's (which a
        /// no-break space, Unicode white space, sends the text through).
        #[test]
        fn ascii_secrets_decode_as_any_other_text(text in "[A-Za-z2-7 =\\-\t\n\r!019]{0,48}") {
            let fast = TotpSecret::from_base32(&text).map(|s| s.expose().to_vec());
            let general = TotpSecret::from_base32(&format!("{text}\u{a0}")).map(|s| s.expose().to_vec());
            proptest::prop_assert_eq!(fast, general);
        }
    }

    #[test]
    fn bad_base32_is_refused_without_echoing_it() {
        assert_eq!(TotpSecret::from_base32("not base32!").unwrap_err(), SecretError::NotBase32);
        assert_eq!(TotpSecret::from_base32("").unwrap_err(), SecretError::NotBase32);
        assert_eq!(TotpSecret::from_base32("JBSWY3DP").unwrap_err(), SecretError::TooShort(5));
        assert!(matches!(TotpSecret::from_base32(&"A".repeat(200)), Err(SecretError::TooLong(_))));
    }
}
