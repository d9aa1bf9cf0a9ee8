//! The fast path's reading of the bytes: blanks, comments (sixteen bytes at
//! a time), bare keys and the values of the subset ([`super::parse`] puts
//! them into tables).

use zeroize::Zeroizing;

use super::{Str, Value};

/// What TOML allows in no string and no comment (a tab aside).
pub(super) fn is_control(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

/// 0xff for each [`is_control`] byte of `chunk`, 0 for the others: written
/// so that the compiler makes it a few SSE2 instructions (`pminub`,
/// `pcmpeqb`, `por`); it does not for every way of writing it (a map to 0/1
/// is a byte loop): check the disassembly, or callgrind, when changing it.
fn control_flags(chunk: &[u8; 16]) -> u128 {
    u128::from_le_bytes(chunk.map(|b| u8::from(is_control(b)) * 0xff))
}

/// Where the first [`is_control`] byte of `bytes` is (`bytes.len()` if none),
/// sixteen bytes at a time ([`control_flags`]: the lowest flagged byte is
/// the answer).
pub(super) fn next_control(bytes: &[u8]) -> usize {
    let mut chunks = bytes.chunks_exact(16);
    let mut at = 0;
    for chunk in &mut chunks {
        let flags = control_flags(chunk.try_into().expect("16 bytes"));
        if flags != 0 {
            return at + (flags.trailing_zeros() / 8) as usize;
        }
        at += 16;
    }
    let rest = chunks.remainder();
    at + rest.iter().position(|&b| is_control(b)).unwrap_or(rest.len())
}

/// The bytes of a bare key, by value.
static BARE_KEY: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c == b'_' || c == b'-';
        b += 1;
    }
    table
};

/// Reads `text` from byte `at` on; it only stops at ASCII bytes, so every
/// `&text[..]` it takes is on a character boundary.
pub(super) struct Cursor<'a> {
    pub(super) text: &'a str,
    pub(super) at: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a [u8] {
        &self.text.as_bytes()[self.at..]
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    /// Steps over `b` if it comes next.
    pub(super) fn eat(&mut self, b: u8) -> bool {
        let next = self.peek() == Some(b);
        self.at += usize::from(next);
        next
    }

    fn starts_with(&self, prefix: &[u8]) -> bool {
        self.rest().starts_with(prefix)
    }

    pub(super) fn skip_spaces(&mut self) {
        let bytes = self.text.as_bytes();
        let mut n = self.at;
        while matches!(bytes.get(n), Some(b' ' | b'\t')) {
            n += 1;
        }
        self.at = n;
    }

    /// Spaces, tabs and line ends (`\n`, `\r\n`).
    pub(super) fn skip_blank(&mut self) {
        let bytes = self.text.as_bytes();
        let mut n = self.at;
        while let Some(&b) = bytes.get(n) {
            match b {
                b' ' | b'\t' | b'\n' => n += 1,
                b'\r' if bytes.get(n + 1) == Some(&b'\n') => n += 2,
                _ => break,
            }
        }
        self.at = n;
    }

    /// `# ...` up to the line end, without control characters.
    fn comment(&mut self) -> Option<()> {
        // Most of a commented config is comments: one pass that finds the
        // next control byte sixteen bytes at a time; the line end is one.
        let bytes = self.text.as_bytes();
        let mut at = self.at;
        loop {
            at += next_control(&bytes[at..]);
            match bytes.get(at) {
                None | Some(b'\n') => break,
                Some(b'\t') => at += 1,
                Some(b'\r') if bytes.get(at + 1) == Some(&b'\n') => break,
                Some(_) => return None,
            }
        }
        self.at = at;
        Some(())
    }

    /// A comment and every comment or blank line after it, up to the next
    /// content (or the end): most of a commented config. A comment line that
    /// follows straight on (`#` first on the line) is read in the same scan.
    ///
    /// Its own loop, not [`Cursor::comment`]'s with a flag: that cost 2.6k
    /// instructions a login with the shipped config (callgrind).
    pub(super) fn comment_lines(&mut self) -> Option<()> {
        let bytes = self.text.as_bytes();
        loop {
            let mut at = self.at;
            loop {
                at += next_control(&bytes[at..]);
                match bytes.get(at) {
                    Some(b'\t') => at += 1,
                    Some(b'\n') if bytes.get(at + 1) == Some(&b'#') => at += 2,
                    None | Some(b'\n') => break,
                    Some(b'\r') if bytes.get(at + 1) == Some(&b'\n') => break,
                    Some(_) => return None,
                }
            }
            self.at = at;
            self.skip_blank();
            if self.peek() != Some(b'#') {
                return Some(());
            }
        }
    }

    /// After a line's content: spaces, then a comment (after a space) or the line end.
    pub(super) fn end_of_line(&mut self) -> Option<()> {
        let before = self.at;
        self.skip_spaces();
        if self.peek() == Some(b'#') {
            if self.at == before {
                return None;
            }
            self.comment()?;
        }
        match self.peek() {
            None => {}
            Some(b'\n') => self.at += 1,
            Some(b'\r') if self.starts_with(b"\r\n") => self.at += 2,
            Some(_) => return None,
        }
        Some(())
    }

    /// `A-Za-z0-9_-`, at least one.
    pub(super) fn bare_key(&mut self) -> Option<&'a str> {
        let bytes = self.text.as_bytes();
        let start = self.at;
        let mut end = start;
        while let Some(&b) = bytes.get(end) {
            if !BARE_KEY[usize::from(b)] {
                break;
            }
            end += 1;
        }
        self.at = end;
        (end > start).then(|| &self.text[start..end])
    }

    pub(super) fn value(&mut self) -> Option<Value<'a>> {
        match self.peek()? {
            b'"' => self.basic_string().map(Value::String),
            b'\'' => self.literal_string().map(Value::String),
            b'[' => self.array(),
            b't' | b'f' => self.boolean(),
            b'+' | b'-' | b'0'..=b'9' => self.integer(),
            _ => None,
        }
    }

    fn basic_string(&mut self) -> Option<Str<'a>> {
        if self.starts_with(b"\"\"\"") {
            return None;
        }
        let start = self.at + 1;
        let bytes = self.text.as_bytes();
        let mut owned: Option<Zeroizing<String>> = None;
        let mut plain_end = start; // end of the unescaped run copied so far
        let mut i = start;
        // Byte by byte: the bytes of a UTF-8 sequence are never ASCII.
        while let Some(&b) = bytes.get(i) {
            if !matches!(b, b'"' | b'\\') && !is_control(b) {
                // The plain run up to the next byte that needs a look.
                i += bytes[i..]
                    .iter()
                    .position(|&b| matches!(b, b'"' | b'\\') || is_control(b))
                    .unwrap_or(bytes.len() - i);
                continue;
            }
            match b {
                b'"' => {
                    self.at = i + 1;
                    return Some(match owned {
                        None => Str::Borrowed(&self.text[start..i]),
                        Some(mut s) => {
                            s.push_str(&self.text[plain_end..i]);
                            Str::Owned(s)
                        }
                    });
                }
                b'\\' => {
                    let unescaped = match bytes.get(i + 1)? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        _ => return None,
                    };
                    let s = owned.get_or_insert_with(|| {
                        // Sized once (to the line's end): no move leaves a copy behind.
                        let line = bytes[start..].iter().position(|&b| b == b'\n').unwrap_or(bytes.len() - start);
                        Zeroizing::new(String::with_capacity(line))
                    });
                    s.push_str(&self.text[plain_end..i]);
                    s.push(unescaped);
                    i += 2;
                    plain_end = i;
                    continue;
                }
                b if b != b'\t' && is_control(b) => return None,
                _ => {}
            }
            i += 1;
        }
        None
    }

    fn literal_string(&mut self) -> Option<Str<'a>> {
        if self.starts_with(b"'''") {
            return None;
        }
        let start = self.at + 1;
        let len = self.text.as_bytes()[start..].iter().position(|&b| b == b'\'')?;
        let s = &self.text[start..start + len];
        if s.bytes().any(|b| b != b'\t' && is_control(b)) {
            return None;
        }
        self.at = start + len + 1;
        Some(Str::Borrowed(s))
    }

    /// What may follow a number or a boolean.
    fn at_delimiter(&self) -> bool {
        matches!(self.peek(), None | Some(b' ' | b'\t' | b'\n' | b'\r' | b',' | b']' | b'#'))
    }

    fn boolean(&mut self) -> Option<Value<'a>> {
        let value = if self.starts_with(b"true") {
            self.at += 4;
            true
        } else if self.starts_with(b"false") {
            self.at += 5;
            false
        } else {
            return None;
        };
        self.at_delimiter().then_some(Value::Boolean(value))
    }

    /// Decimal, no `_`, no leading zero, within i64.
    fn integer(&mut self) -> Option<Value<'a>> {
        let bytes = self.rest();
        let sign = usize::from(matches!(bytes[0], b'+' | b'-'));
        let digits = bytes[sign..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || (digits > 1 && bytes[sign] == b'0') {
            return None;
        }
        let number = &self.text[self.at..self.at + sign + digits];
        self.at += sign + digits;
        if !self.at_delimiter() {
            return None;
        }
        number.parse::<i64>().ok().map(Value::Integer)
    }

    /// Spaces, line ends and comments between array elements.
    fn skip_in_array(&mut self) -> Option<()> {
        loop {
            self.skip_blank();
            if self.peek() != Some(b'#') {
                return Some(());
            }
            self.comment_lines()?;
        }
    }

    /// `[v, v, ...]` of strings, integers and booleans (no nested arrays),
    /// over several lines if need be, a trailing comma allowed.
    fn array(&mut self) -> Option<Value<'a>> {
        self.at += 1;
        let mut items = Vec::new();
        loop {
            self.skip_in_array()?;
            if self.eat(b']') {
                return Some(Value::Array(items));
            }
            if self.peek() == Some(b'[') {
                return None;
            }
            items.push(self.value()?);
            self.skip_in_array()?;
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {}
                _ => return None,
            }
        }
    }
}
