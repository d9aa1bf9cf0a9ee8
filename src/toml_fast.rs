//! A fast path for the TOML a login reads: the configuration, the user's
//! record and tally. The `toml` crate's parser keeps spans, builds a general
//! document and allocates as it goes, and cost about a quarter of a login's
//! instructions (`docs/benchmarks.md`). Most of these files use a small part
//! of TOML: `key = value` lines, `[table]` and `[[array]]` headers with bare
//! keys, plain strings, decimal integers, booleans and arrays of them, and
//! comments. [`parse`] reads exactly that part, borrowing from the text;
//! anything else (a quoted or dotted key, an escape other than `\"`, `\\`,
//! `\n`, `\t` or `\r`, a float, a date, an inline table, a multi-line
//! string, a key or table given twice, ...) makes it give up, and
//! [`from_str`] then hands the text to `toml`, which decides and words the
//! error.
//!
//! So the fast path never changes what a file means: when it accepts a text,
//! `toml` accepts it too and reads the same values (property tests in
//! `src/properties.rs`, fuzz target `toml_fast` in `fuzz/`). A value the
//! fast path read that does not fit the type (a wrong type, an unknown key)
//! also goes to `toml`, so every error message is `toml`'s.

use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

/// serde's view of a parsed [`Value`].
mod de;

/// Deserializes `text` as TOML: through [`parse`] when it can, else through
/// `toml::from_str` (same result, its error messages).
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, toml::de::Error> {
    if let Some(table) = parse(text)
        && let Ok(value) = T::deserialize(Value::Table(table))
    {
        return Ok(value);
    }
    toml::from_str(text)
}

/// A value of the subset, borrowing its strings from the text where it can.
#[derive(Debug)]
pub enum Value<'a> {
    String(Str<'a>),
    Integer(i64),
    Boolean(bool),
    Array(Vec<Value<'a>>),
    Table(Table<'a>),
    /// Made by `[[name]]` headers (TOML does not let `name = [...]` grow this way).
    Tables(Vec<Table<'a>>),
}

/// A string as written (no escapes), or unescaped into memory wiped on drop.
#[derive(Debug)]
pub enum Str<'a> {
    Borrowed(&'a str),
    Owned(Zeroizing<String>),
}

/// A table's keys and values, in the order written; each key once.
#[derive(Debug, Default)]
pub struct Table<'a> {
    pub entries: Vec<(&'a str, Value<'a>)>,
}

impl<'a> Table<'a> {
    fn get_mut(&mut self, key: &str) -> Option<&mut Value<'a>> {
        self.entries.iter_mut().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
}

/// Parses `text` if it is within the subset; `None` if it is not (which does
/// not mean it is not TOML).
pub fn parse(text: &str) -> Option<Table<'_>> {
    let mut root = Table::default();
    // The path of the header in force (`[[...]]` or not is in what it names).
    let mut current: Vec<&str> = Vec::new();
    let mut p = Cursor { rest: text };
    loop {
        p.skip_blank();
        if p.rest.is_empty() {
            return Some(root);
        }
        if p.rest.starts_with('#') {
            // A comment line: it ends at a line end (or the end), which the
            // next round skips.
            p.comment()?;
            continue;
        } else if let Some(after) = p.rest.strip_prefix('[') {
            // `[table]` or `[[array of tables]]`.
            let array = after.starts_with('[');
            p.rest = if array { &after[1..] } else { after };
            let path = p.header_path()?;
            p.rest = p.rest.strip_prefix(if array { "]]" } else { "]" })?;
            let (last, parents) = path.split_last()?;
            let parent = table_at(&mut root, parents)?;
            match (parent.get_mut(last), array) {
                (None, true) => parent.entries.push((last, Value::Tables(vec![Table::default()]))),
                (None, false) => parent.entries.push((last, Value::Table(Table::default()))),
                (Some(Value::Tables(list)), true) => list.push(Table::default()),
                // Defined before (or implicitly), or another kind: left to toml.
                _ => return None,
            }
            current = path;
        } else {
            let key = p.bare_key()?;
            p.skip_spaces();
            p.rest = p.rest.strip_prefix('=')?;
            p.skip_spaces();
            let value = p.value()?;
            let table = current_table(&mut root, &current)?;
            if table.get_mut(key).is_some() {
                return None;
            }
            table.entries.push((key, value));
        }
        p.end_of_line()?;
    }
}

/// The table `path` names, through plain tables only (created on the way, as
/// TOML creates `a` for `[a.b]`).
fn table_at<'t, 'a>(root: &'t mut Table<'a>, path: &[&'a str]) -> Option<&'t mut Table<'a>> {
    let mut table = root;
    for key in path {
        if table.get_mut(key).is_none() {
            table.entries.push((key, Value::Table(Table::default())));
        }
        table = match table.get_mut(key) {
            Some(Value::Table(t)) => t,
            _ => return None,
        };
    }
    Some(table)
}

/// The table that `key = value` lines go to under the header `path`: the
/// last element when the header was `[[...]]`.
fn current_table<'t, 'a>(root: &'t mut Table<'a>, path: &[&'a str]) -> Option<&'t mut Table<'a>> {
    let Some((last, parents)) = path.split_last() else {
        return Some(root);
    };
    match table_at(root, parents)?.get_mut(last)? {
        Value::Table(t) => Some(t),
        Value::Tables(list) => list.last_mut(),
        _ => None,
    }
}

/// What TOML allows in no string and no comment (a tab aside).
fn is_control(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

/// Where the first [`is_control`] byte of `bytes` is (`bytes.len()` if none),
/// eight bytes at a time: in each word, a byte below 0x20 or equal to 0x7f
/// sets its high bit in `flags` (the usual "has a byte less than" and "has a
/// zero byte" tricks; a borrow can only set flags above a true one, so the
/// lowest flag is exact).
fn next_control(bytes: &[u8]) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let x = u64::from_le_bytes(word.try_into().expect("8 bytes"));
        let del = x ^ (ONES * 0x7f);
        let flags = (x.wrapping_sub(ONES * 0x20) & !x & HIGH) | (del.wrapping_sub(ONES) & !del & HIGH);
        if flags != 0 {
            return at + (flags.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + words.remainder().iter().position(|&b| is_control(b)).unwrap_or(words.remainder().len())
}

struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    fn skip_spaces(&mut self) {
        let n = self.rest.bytes().take_while(|&b| b == b' ' || b == b'\t').count();
        self.rest = &self.rest[n..];
    }

    /// Spaces, tabs and line ends (`\n`, `\r\n`).
    fn skip_blank(&mut self) {
        let bytes = self.rest.as_bytes();
        let mut n = 0;
        loop {
            match bytes.get(n) {
                Some(b' ' | b'\t' | b'\n') => n += 1,
                Some(b'\r') if bytes.get(n + 1) == Some(&b'\n') => n += 2,
                _ => break,
            }
        }
        self.rest = &self.rest[n..];
    }

    /// `# ...` up to the line end, without control characters.
    fn comment(&mut self) -> Option<()> {
        // Most of a commented config is comments: one pass that finds the
        // next control byte eight bytes at a time; the line end is one.
        let bytes = self.rest.as_bytes();
        let mut at = 0;
        loop {
            at += next_control(&bytes[at..]);
            match bytes.get(at) {
                None | Some(b'\n') => break,
                Some(b'\t') => at += 1,
                Some(b'\r') if bytes.get(at + 1) == Some(&b'\n') => break,
                Some(_) => return None,
            }
        }
        self.rest = &self.rest[at..];
        Some(())
    }

    /// After a line's content: spaces, then a comment (after a space) or the line end.
    fn end_of_line(&mut self) -> Option<()> {
        let before = self.rest.len();
        self.skip_spaces();
        if self.rest.starts_with('#') {
            if self.rest.len() == before {
                return None;
            }
            self.comment()?;
        }
        if self.rest.is_empty() {
            return Some(());
        }
        self.rest = self.rest.strip_prefix('\n').or_else(|| self.rest.strip_prefix("\r\n"))?;
        Some(())
    }

    fn bare_key(&mut self) -> Option<&'a str> {
        let end = self.rest.bytes().take_while(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-').count();
        if end == 0 {
            return None;
        }
        let (key, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(key)
    }

    /// `a` or `a.b.c`, bare keys without spaces.
    fn header_path(&mut self) -> Option<Vec<&'a str>> {
        let mut path = vec![self.bare_key()?];
        while let Some(r) = self.rest.strip_prefix('.') {
            self.rest = r;
            path.push(self.bare_key()?);
        }
        Some(path)
    }

    fn value(&mut self) -> Option<Value<'a>> {
        let first = *self.rest.as_bytes().first()?;
        match first {
            b'"' => self.basic_string().map(Value::String),
            b'\'' => self.literal_string().map(Value::String),
            b'[' => self.array(),
            b't' | b'f' => self.boolean(),
            b'+' | b'-' | b'0'..=b'9' => self.integer(),
            _ => None,
        }
    }

    fn basic_string(&mut self) -> Option<Str<'a>> {
        if self.rest.starts_with("\"\"\"") {
            return None;
        }
        let body = &self.rest[1..];
        let bytes = body.as_bytes();
        let mut owned: Option<Zeroizing<String>> = None;
        let mut plain_end = 0; // end of the unescaped run copied so far
        let mut i = 0;
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
                    self.rest = &body[i + 1..];
                    return Some(match owned {
                        None => Str::Borrowed(&body[..i]),
                        Some(mut s) => {
                            s.push_str(&body[plain_end..i]);
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
                        let line = bytes.iter().position(|&b| b == b'\n').unwrap_or(bytes.len());
                        Zeroizing::new(String::with_capacity(line))
                    });
                    s.push_str(&body[plain_end..i]);
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
        if self.rest.starts_with("'''") {
            return None;
        }
        let body = &self.rest[1..];
        let end = body.find('\'')?;
        let s = &body[..end];
        if s.bytes().any(|b| b != b'\t' && is_control(b)) {
            return None;
        }
        self.rest = &body[end + 1..];
        Some(Str::Borrowed(s))
    }

    /// What may follow a number or a boolean.
    fn at_delimiter(&self) -> bool {
        matches!(self.rest.as_bytes().first(), None | Some(b' ' | b'\t' | b'\n' | b'\r' | b',' | b']' | b'#'))
    }

    fn boolean(&mut self) -> Option<Value<'a>> {
        let (value, rest) = if let Some(r) = self.rest.strip_prefix("true") {
            (true, r)
        } else {
            (false, self.rest.strip_prefix("false")?)
        };
        self.rest = rest;
        self.at_delimiter().then_some(Value::Boolean(value))
    }

    /// Decimal, no `_`, no leading zero, within i64.
    fn integer(&mut self) -> Option<Value<'a>> {
        let bytes = self.rest.as_bytes();
        let sign = usize::from(matches!(bytes[0], b'+' | b'-'));
        let digits = bytes[sign..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || (digits > 1 && bytes[sign] == b'0') {
            return None;
        }
        let (number, rest) = self.rest.split_at(sign + digits);
        self.rest = rest;
        if !self.at_delimiter() {
            return None;
        }
        number.parse::<i64>().ok().map(Value::Integer)
    }

    /// Spaces, line ends and comments between array elements.
    fn skip_in_array(&mut self) -> Option<()> {
        loop {
            self.skip_blank();
            if !self.rest.starts_with('#') {
                return Some(());
            }
            self.comment()?;
        }
    }

    /// `[v, v, ...]` of strings, integers and booleans (no nested arrays),
    /// over several lines if need be, a trailing comma allowed.
    fn array(&mut self) -> Option<Value<'a>> {
        self.rest = &self.rest[1..];
        let mut items = Vec::new();
        loop {
            self.skip_in_array()?;
            if let Some(r) = self.rest.strip_prefix(']') {
                self.rest = r;
                return Some(Value::Array(items));
            }
            if self.rest.starts_with('[') {
                return None;
            }
            items.push(self.value()?);
            self.skip_in_array()?;
            match self.rest.as_bytes().first()? {
                b',' => self.rest = &self.rest[1..],
                b']' => {}
                _ => return None,
            }
        }
    }
}

/// The property the fast path keeps (run by the property tests below and the
/// fuzz target `toml_fast`): a text it accepts, `toml` accepts too, with the
/// same keys and values. Panics otherwise.
pub fn agrees_with_toml(text: &str) {
    let Some(table) = parse(text) else { return };
    let mine = <toml::Table as serde::Deserialize>::deserialize(Value::Table(table))
        .unwrap_or_else(|e| panic!("fast path read {text:?} into something that is not a table: {e}"));
    match toml::from_str::<toml::Table>(text) {
        Ok(theirs) => assert_eq!(mine, theirs, "fast path and toml read {text:?} differently"),
        Err(e) => panic!("fast path accepted {text:?}, toml refuses it: {e}"),
    }
}

#[cfg(test)]
mod tests;
