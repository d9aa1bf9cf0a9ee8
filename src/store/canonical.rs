//! The state files in exactly the form twostep writes them, read without a
//! parser. A login reads the user's record and tally before the prompt; in
//! the common case (a TOTP user without backup codes, no code pending) each is
//! four or five `key = value` lines that twostep wrote itself, and going
//! through [`crate::toml_fast`] and serde for them cost about 2,700
//! instructions a file (`docs/benchmarks.md`).
//!
//! [`Lines`] reads one line at a time, each key in the order the writers put
//! them (`record.rs`, `tally.rs`): `key = value\n` with one space either side
//! of `=`, values that are a decimal integer without sign, underscore or
//! leading zero and at most `i64::MAX`, `true` or `false`, a basic string of
//! printable ASCII without `"` or `\`, or an array of such integers written
//! `[1, 2]`. Anything else (another order, a comment, a table, a blank line,
//! CRLF, an escape) makes it give up, and the caller hands the text to the
//! full decoder, which decides and words the error. So this never changes
//! what a file means: a text it accepts, `toml` reads the same way (property
//! tests and the `record`/`tally` fuzz targets hold it to that).

/// What is left of a state file's text, read line by line.
pub(super) struct Lines<'a> {
    rest: &'a [u8],
}

impl<'a> Lines<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Lines { rest: text.as_bytes() }
    }

    /// Whether the whole text has been read.
    pub(super) fn done(&self) -> bool {
        self.rest.is_empty()
    }

    /// The value of a `key = ...` line if the next line is one (the line is
    /// then taken), `None` if it is another line.
    fn value_of(&mut self, key: &str) -> Option<&'a [u8]> {
        let rest = self.rest.strip_prefix(key.as_bytes())?.strip_prefix(b" = ")?;
        let end = rest.iter().position(|&b| b == b'\n')?;
        self.rest = &rest[end + 1..];
        Some(&rest[..end])
    }

    /// Whether the next line is `key = ...` (not taken).
    fn next_is(&self, key: &str) -> bool {
        self.rest.strip_prefix(key.as_bytes()).is_some_and(|r| r.starts_with(b" = "))
    }

    /// `key = N`, required.
    pub(super) fn number(&mut self, key: &str) -> Option<u64> {
        integer(self.value_of(key)?)
    }

    /// `key = N` if the next line is that key (`Some(None)` if it is not;
    /// `None`: it is, and its value is not one this reads).
    pub(super) fn optional_number(&mut self, key: &str) -> Option<Option<u64>> {
        if !self.next_is(key) {
            return Some(None);
        }
        self.number(key).map(Some)
    }

    /// `key = N` as a `u32`.
    pub(super) fn small(&mut self, key: &str) -> Option<u32> {
        u32::try_from(self.number(key)?).ok()
    }

    /// `key = true` or `key = false`.
    pub(super) fn boolean(&mut self, key: &str) -> Option<bool> {
        match self.value_of(key)? {
            b"true" => Some(true),
            b"false" => Some(false),
            _ => None,
        }
    }

    /// `key = "text"` if the next line is that key (see [`Lines::optional_number`]).
    pub(super) fn optional_string(&mut self, key: &str) -> Option<Option<&'a str>> {
        if !self.next_is(key) {
            return Some(None);
        }
        let quoted = self.value_of(key)?.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
        // Printable ASCII without a quote or a backslash: TOML reads it as written.
        if !quoted.iter().all(|&b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\') {
            return None;
        }
        std::str::from_utf8(quoted).ok().map(Some)
    }

    /// `key = [N, N]` (`[]` when empty), required.
    pub(super) fn numbers(&mut self, key: &str) -> Option<Vec<u64>> {
        let inner = self.value_of(key)?.strip_prefix(b"[")?.strip_suffix(b"]")?;
        if inner.is_empty() {
            return Some(Vec::new());
        }
        let mut values = Vec::with_capacity(inner.len() / 11 + 1);
        for item in inner.split(|&b| b == b',') {
            // `, ` between items: every item after the first starts with the space.
            let item = if values.is_empty() { item } else { item.strip_prefix(b" ")? };
            values.push(integer(item)?);
        }
        Some(values)
    }

    /// `key = [N, N]` if the next line is that key; empty if it is not.
    pub(super) fn optional_numbers(&mut self, key: &str) -> Option<Vec<u64>> {
        if !self.next_is(key) {
            return Some(Vec::new());
        }
        self.numbers(key)
    }
}

/// A TOML decimal integer as twostep writes one: digits only, no leading
/// zero (TOML forbids them), at most `i64::MAX` (TOML's largest).
fn integer(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || (digits[0] == b'0' && digits.len() > 1) {
        return None;
    }
    let mut value: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u64::from(d - b'0');
    }
    (value <= i64::MAX as u64).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_read_only_as_twostep_writes_them() {
        for (text, want) in [
            ("0", Some(0)),
            ("7", Some(7)),
            ("1763880000", Some(1_763_880_000)),
            ("9223372036854775807", Some(i64::MAX as u64)),
            ("9223372036854775808", None),
            ("99999999999999999999", None),
            ("", None),
            ("01", None),
            ("+1", None),
            ("-1", None),
            ("1_000", None),
            ("1 ", None),
            ("0x10", None),
        ] {
            assert_eq!(integer(text.as_bytes()), want, "{text:?}");
        }
    }

    #[test]
    fn lines_are_taken_in_order_and_anything_else_gives_up() {
        let mut l = Lines::new("a = 1\nb = [1, 2]\nc = \"x y\"\nd = true\n");
        assert_eq!(l.optional_number("z"), Some(None));
        assert_eq!(l.number("a"), Some(1));
        assert_eq!(l.numbers("b"), Some(vec![1, 2]));
        assert_eq!(l.optional_string("c"), Some(Some("x y")));
        assert_eq!(l.boolean("d"), Some(true));
        assert!(l.done());
        for (text, key) in [
            ("a=1\n", "a"),
            ("a = 1", "a"),
            ("a = 1\r\n", "a"),
            ("a = [1,2]\n", "a"),
            ("a = [1, 2,]\n", "a"),
            ("a = [ 1]\n", "a"),
            ("a = \"x\\\"\"\n", "a"),
            ("a = 'x'\n", "a"),
            ("a = \"\u{e9}\"\n", "a"),
        ] {
            let mut l = Lines::new(text);
            let got = if text.contains('[') {
                l.numbers(key).map(drop)
            } else if text.contains(['"', '\'']) {
                l.optional_string(key).map(drop)
            } else {
                l.number(key).map(drop)
            };
            assert_eq!(got, None, "{text:?}");
        }
    }
}
