//! The text twostep exchanges with ldap-utils: LDIF in (`ldapsearch`
//! output, [`parse_ldif`] into [`LdifEntry`]), LDIF out (a modify record,
//! [`Modify`], every value base64-encoded so that no value can inject LDIF),
//! and user names escaped for an RFC 4515 filter ([`filter_escape`]).

use crate::store::error::DirectoryError;

/// One entry of a search result: its DN and its attributes (names in lower case).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LdifEntry {
    pub dn: String,
    pub attrs: Vec<(String, Vec<u8>)>,
}

impl LdifEntry {
    /// The values of `name` (any case).
    pub fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a [u8]> + 'a {
        let name = name.to_ascii_lowercase();
        self.attrs.iter().filter(move |(n, _)| *n == name).map(|(_, v)| v.as_slice())
    }

    /// The first value of `name`.
    pub fn first(&self, name: &str) -> Option<&[u8]> {
        self.values(name).next()
    }

    /// The first value of `name` as text.
    pub fn text(&self, name: &str) -> Option<String> {
        self.first(name).map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// Whether the entry has object class `class`.
    pub fn has_class(&self, class: &str) -> bool {
        self.values("objectclass").any(|v| v.eq_ignore_ascii_case(class.as_bytes()))
    }
}

/// One LDIF modify record being built (every value base64: no injection).
pub(super) struct Modify {
    pub(super) ldif: Vec<u8>,
    pub(super) empty: bool,
}

impl Modify {
    pub(super) fn new(dn: &str) -> Modify {
        Modify {
            ldif: format!("dn:: {}\nchangetype: modify\n", base64_encode(dn.as_bytes())).into_bytes(),
            empty: true,
        }
    }

    fn op(&mut self, op: &str, name: &str, value: Option<&[u8]>) {
        self.ldif.extend_from_slice(format!("{op}: {name}\n").as_bytes());
        if let Some(v) = value {
            self.ldif.extend_from_slice(format!("{name}:: {}\n", base64_encode(v)).as_bytes());
        }
        self.ldif.extend_from_slice(b"-\n");
        self.empty = false;
    }

    pub(super) fn add(&mut self, name: &str, value: &[u8]) {
        self.op("add", name, Some(value));
    }

    pub(super) fn delete(&mut self, name: &str, value: &[u8]) {
        self.op("delete", name, Some(value));
    }

    /// `old` → `new` as a compare-and-swap: deleting the exact old value fails
    /// when it is not there any more.
    pub(super) fn replace(&mut self, name: &str, old: Option<&[u8]>, new: Option<&[u8]>) {
        if let Some(old) = old {
            self.delete(name, old);
        }
        if let Some(new) = new {
            self.add(name, new);
        }
    }
}

/// Parses `ldapsearch -LLL -o ldif-wrap=no` output (continuation lines handled too).
pub fn parse_ldif(bytes: &[u8]) -> Result<Vec<LdifEntry>, DirectoryError> {
    let damaged = |message: String| DirectoryError::Damaged { dn: "search result".into(), message };
    let text = std::str::from_utf8(bytes).map_err(|_| damaged("output is not UTF-8".into()))?;
    let mut lines: Vec<String> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        match (line.strip_prefix(' '), lines.last_mut()) {
            (Some(rest), Some(last)) if !last.is_empty() => last.push_str(rest),
            _ => lines.push(line.to_string()),
        }
    }
    let mut entries = Vec::new();
    let mut current: Option<LdifEntry> = None;
    for line in lines {
        if line.is_empty() {
            entries.extend(current.take());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (name, value) = line.split_once(':').ok_or_else(|| damaged(format!("no ':' in line {line:?}")))?;
        let value = if let Some(b64) = value.strip_prefix(':') {
            base64_decode(b64.trim()).ok_or_else(|| damaged(format!("bad base64 for {name}")))?
        } else {
            value.strip_prefix(' ').unwrap_or(value).as_bytes().to_vec()
        };
        let name = name.to_ascii_lowercase();
        match &mut current {
            None if name == "dn" => {
                current = Some(LdifEntry {
                    dn: String::from_utf8(value).map_err(|_| damaged("DN is not UTF-8".into()))?,
                    attrs: Vec::new(),
                })
            }
            None => return Err(damaged(format!("attribute {name} before a dn"))),
            Some(e) => e.attrs.push((name, value)),
        }
    }
    entries.extend(current);
    Ok(entries)
}

/// `value` escaped for an RFC 4515 filter: everything but letters, digits
/// and `.-_@` as `\xx`, so a user name can never change the filter's shape.
pub fn filter_escape(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"._-@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\{b:02x}"));
        }
    }
    out
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (LDIF's `::` values).
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64 (padding optional); `None` for anything else.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = B64.iter().position(|&x| x == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_every_length() {
        for n in 0..20u8 {
            let bytes: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
            assert_eq!(base64_decode(&base64_encode(&bytes)).unwrap(), bytes);
        }
        assert_eq!(base64_encode(b"Man"), "TWFu");
        assert_eq!(base64_encode(b"Ma"), "TWE=");
        assert!(base64_decode("a*b").is_none());
    }

    #[test]
    fn a_user_name_cannot_change_the_filter() {
        assert_eq!(filter_escape("alice"), "alice");
        assert_eq!(filter_escape("*)(uid=*"), "\\2a\\29\\28uid\\3d\\2a");
        assert_eq!(filter_escape("DOMAIN\\bob"), "DOMAIN\\5cbob");
        assert_eq!(filter_escape("é"), "\\c3\\a9");
    }

    #[test]
    fn ldif_output_is_parsed_with_base64_and_continuations() {
        let out = b"dn: uid=a,dc=x\nobjectClass: top\noathSecret:: AAEC\nmail: a@\n x.org\n\ndn:: dWlkPWIsZGM9eA==\n\n";
        let e = parse_ldif(out).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].dn, "uid=a,dc=x");
        assert_eq!(e[0].first("OATHSECRET"), Some(&[0u8, 1, 2][..]));
        assert_eq!(e[0].text("mail").as_deref(), Some("a@x.org"));
        assert!(e[0].has_class("TOP"));
        assert_eq!(e[1].dn, "uid=b,dc=x");
        assert!(parse_ldif(b"mail: x\n").is_err());
    }
}
