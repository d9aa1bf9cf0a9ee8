//! Email addresses: what twostep accepts (plain `local@domain`, safe in a
//! mail header), the masked form `j***@district.org` shown to users and in
//! `twostep list`, the address codes go to (on file, else from
//! `address_template`), and the sender of the messages (`[email] from`, with
//! an optional display name, and its default from the host's mail domain).
//! Pure functions, no I/O.

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

/// Longest display name accepted in `[email] from` (characters).
pub const MAX_DISPLAY_NAME: usize = 64;

/// The sender of twostep's messages (`[email] from`): a plain address and an
/// optional display name, both checked by [`parse_sender`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    pub name: Option<String>,
    /// The bare address: the `From:` address and the envelope sender (`{from}`).
    pub address: String,
}

/// Why `[email] from` cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenderError {
    /// Control, line-break or bidi characters anywhere.
    Unsafe,
    /// A `<` or `>` that is not the one pair around the address at the end.
    Shape,
    /// The display name has a `"` or `\` inside, or is too long.
    BadName,
    /// The address starts with `-`: as `{from}` it would read as an option.
    LeadingDash,
    Address(AddressError),
}

impl fmt::Display for SenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SenderError::Unsafe => f.write_str("must not contain control, line-break or bidi characters"),
            SenderError::Shape => f.write_str(
                "must be an address or a name and one address in <>, e.g. \"District IT <it@district.org>\"",
            ),
            SenderError::BadName => {
                write!(f, "has a display name with \" or \\ in it or longer than {MAX_DISPLAY_NAME} characters")
            }
            SenderError::LeadingDash => f.write_str("has an address starting with -, which commands read as an option"),
            SenderError::Address(e) => write!(f, "has an unusable address: {e}"),
        }
    }
}

impl std::error::Error for SenderError {}

/// Parses `[email] from`: `it@district.org`, `District IT <it@district.org>`
/// or `"District IT" <it@district.org>`. Nothing that could end the header or
/// add an address gets through: no control, line-break or bidi characters, one
/// address (checked by [`validate_address`]) in the one pair of angle brackets
/// at the end, and a display name without `"`, `\`, `<` or `>` (it is always
/// written quoted or encoded, see [`Sender::header`]).
pub fn parse_sender(text: &str) -> Result<Sender, SenderError> {
    if text.chars().any(crate::user::unsafe_on_terminal) {
        return Err(SenderError::Unsafe);
    }
    let text = text.trim();
    let Some(rest) = text.strip_suffix('>') else {
        validate_address(text).map_err(SenderError::Address)?;
        if text.starts_with('-') {
            return Err(SenderError::LeadingDash);
        }
        return Ok(Sender { name: None, address: text.to_string() });
    };
    let Some((name, address)) = rest.rsplit_once('<') else {
        return Err(SenderError::Shape);
    };
    if name.contains(['<', '>']) {
        return Err(SenderError::Shape);
    }
    validate_address(address).map_err(SenderError::Address)?;
    if address.starts_with('-') {
        return Err(SenderError::LeadingDash);
    }
    let name = name.trim();
    let name = match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
        Some(quoted) => quoted.trim(),
        None => name,
    };
    if name.contains(['"', '\\']) || name.chars().count() > MAX_DISPLAY_NAME {
        return Err(SenderError::BadName);
    }
    let name = (!name.is_empty()).then(|| name.to_string());
    Ok(Sender { name, address: address.to_string() })
}

impl Sender {
    /// The `From:` header value: the address alone, `"Name" <address>`, or for
    /// a name that is not plain ASCII, RFC 2047 encoded words (folded between
    /// words, LF line ends as in the rest of the message) and `<address>`.
    pub fn header(&self) -> String {
        let Some(name) = &self.name else { return self.address.clone() };
        if name.chars().all(|c| c.is_ascii() && !c.is_ascii_control()) {
            return format!("\"{name}\" <{}>", self.address);
        }
        format!("{} <{}>", encoded_words(name).join("\n "), self.address)
    }
}

/// `text` as RFC 2047 `Q` encoded words (phrase rules), each at most 75
/// characters and never splitting a character.
fn encoded_words(text: &str) -> Vec<String> {
    const ROOM: usize = 75 - "=?UTF-8?Q??=".len();
    let mut words = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        let mut piece = String::new();
        let mut buf = [0u8; 4];
        for b in c.encode_utf8(&mut buf).bytes() {
            match b {
                b' ' => piece.push('_'),
                b if b.is_ascii_alphanumeric() || b"!*+-/".contains(&b) => piece.push(b as char),
                b => piece.push_str(&format!("={b:02X}")),
            }
        }
        if word.len() + piece.len() > ROOM {
            words.push(format!("=?UTF-8?Q?{word}?="));
            word.clear();
        }
        word.push_str(&piece);
    }
    words.push(format!("=?UTF-8?Q?{word}?="));
    words
}

/// The sender when `[email] from` is not set: `twostep@` the mail domain in
/// `mailname` (Debian's /etc/mailname, first line), else the host name when it
/// has a domain part (`web01.district.org`), else `twostep@localhost` (a host
/// named just `web01`: set `from` so that replies and bounces can arrive).
pub fn default_sender(host: &str, mailname: Option<&str>) -> Sender {
    let mailname = mailname.and_then(|m| m.lines().next()).map(str::trim);
    let domain = [mailname, Some(host.trim())]
        .into_iter()
        .flatten()
        .find(|d| d.contains('.') && validate_address(&format!("twostep@{d}")).is_ok());
    Sender { name: None, address: format!("twostep@{}", domain.unwrap_or("localhost")) }
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
    fn a_sender_is_an_address_or_a_display_name_and_one_address_in_angle_brackets() {
        let plain = parse_sender("twostep@district.org").unwrap();
        assert_eq!(plain, Sender { name: None, address: "twostep@district.org".into() });
        assert_eq!(plain.header(), "twostep@district.org");
        for text in
            ["District IT <it@district.org>", "\"District IT\" <it@district.org>", " District IT<it@district.org> "]
        {
            let s = parse_sender(text).unwrap();
            assert_eq!(s.name.as_deref(), Some("District IT"), "{text}");
            assert_eq!(s.address, "it@district.org");
            assert_eq!(s.header(), "\"District IT\" <it@district.org>");
        }
        // Specials in the name are harmless: it is always written quoted.
        assert_eq!(parse_sender("IT, Help: Desk <it@d.org>").unwrap().header(), "\"IT, Help: Desk\" <it@d.org>");
        assert_eq!(parse_sender("<it@d.org>").unwrap().header(), "it@d.org");
    }

    #[test]
    fn a_sender_cannot_inject_headers_or_a_second_address() {
        for (text, why) in [
            ("it@d.org\r\nBcc: all@d.org", SenderError::Unsafe),
            ("IT\n <it@d.org>", SenderError::Unsafe),
            ("IT \u{202e} <it@d.org>", SenderError::Unsafe),
            ("IT <it@d.org>, Eve <eve@evil.example>", SenderError::Shape),
            ("Eve <eve@evil.example> <it@d.org>", SenderError::Shape),
            ("IT <it@d.org", SenderError::Address(AddressError::ForbiddenCharacter)),
            ("IT it@d.org>", SenderError::Shape),
            ("\"I\"T\" <it@d.org>", SenderError::BadName),
            ("I\\T <it@d.org>", SenderError::BadName),
            ("IT <nobody>", SenderError::Address(AddressError::NoAt)),
            ("-oQ/tmp@d.org", SenderError::LeadingDash),
            ("IT <-oQ/tmp@d.org>", SenderError::LeadingDash),
        ] {
            assert_eq!(parse_sender(text), Err(why), "{text:?}");
        }
        assert_eq!(parse_sender(&format!("{} <it@d.org>", "x".repeat(65))), Err(SenderError::BadName));
    }

    #[test]
    fn a_display_name_beyond_ascii_is_encoded_in_short_words() {
        let s = parse_sender("Académie de Créteil — Service informatique <dsi@ac.fr>").unwrap();
        let h = s.header();
        assert!(h.starts_with("=?UTF-8?Q?Acad=C3=A9mie_de_Cr=C3=A9teil_") && h.ends_with("?= <dsi@ac.fr>"), "{h}");
        for word in h.trim_end_matches(" <dsi@ac.fr>").split("\n ") {
            assert!(word.len() <= 75 && word.starts_with("=?UTF-8?Q?") && word.ends_with("?="), "{word}");
            assert!(word.is_ascii() && !word[10..word.len() - 2].contains(['?', ' ', '"']), "{word}");
        }
    }

    #[test]
    fn the_default_sender_uses_the_mail_domain_then_a_qualified_host_name() {
        let d = |host, mailname| default_sender(host, mailname).address;
        assert_eq!(d("web01", Some("district.org\n")), "twostep@district.org");
        assert_eq!(d("web01.district.org", None), "twostep@web01.district.org");
        assert_eq!(d("web01.district.org", Some("\n")), "twostep@web01.district.org");
        assert_eq!(d("web01", None), "twostep@localhost");
        assert_eq!(d("web01", Some("evil.org>\nBcc: x")), "twostep@localhost");
    }
}
