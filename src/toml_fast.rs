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

/// Reading the bytes: comments, keys, values.
mod cursor;
/// serde's view of a parsed [`Value`].
mod de;

use cursor::Cursor;

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
    /// Room for the tables twostep's files have without growing (a table
    /// that outgrows it grows as any Vec does).
    fn new(room: usize) -> Self {
        Table { entries: Vec::with_capacity(room) }
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.entries.iter().position(|(k, _)| *k == key)
    }
}

/// The most keys in a header the fast path reads (`[a.b.c.d]` has four).
const MAX_HEADER_DEPTH: usize = 8;

/// Parses `text` if it is within the subset; `None` if it is not (which does
/// not mean it is not TOML).
pub fn parse(text: &str) -> Option<Table<'_>> {
    let mut root = Table::new(16);
    // Where `key = value` lines go: the header in force as entry indices from
    // the root (through the last table of a `[[...]]`), found once per header
    // rather than by name on every line.
    let mut current: Vec<usize> = Vec::new();
    let mut p = Cursor { text, at: 0 };
    loop {
        p.skip_blank();
        match p.peek() {
            None => return Some(root),
            // Comment lines (and the blank lines between them), up to the next content.
            Some(b'#') => {
                p.comment_lines()?;
                continue;
            }
            // `[table]` or `[[array of tables]]`.
            Some(b'[') => {
                p.at += 1;
                let array = p.eat(b'[');
                current.clear();
                let mut parent = &mut root;
                let mut name = p.bare_key()?;
                // `a.b.c`: through plain tables only, created on the way (as
                // TOML creates `a` for `[a.b]`).
                while p.eat(b'.') {
                    // Deeper than twostep's files go (2) is left to toml, which has
                    // its own limit (80 keys).
                    if current.len() + 2 > MAX_HEADER_DEPTH {
                        return None;
                    }
                    let i = match parent.position(name) {
                        Some(i) => i,
                        None => {
                            parent.entries.push((name, Value::Table(Table::new(8))));
                            parent.entries.len() - 1
                        }
                    };
                    current.push(i);
                    parent = match &mut parent.entries[i].1 {
                        Value::Table(t) => t,
                        _ => return None,
                    };
                    name = p.bare_key()?;
                }
                if !p.eat(b']') || (array && !p.eat(b']')) {
                    return None;
                }
                let i = match (parent.position(name), array) {
                    (None, true) => {
                        parent.entries.push((name, Value::Tables(vec![Table::new(8)])));
                        parent.entries.len() - 1
                    }
                    (None, false) => {
                        parent.entries.push((name, Value::Table(Table::new(8))));
                        parent.entries.len() - 1
                    }
                    (Some(i), true) => match &mut parent.entries[i].1 {
                        Value::Tables(list) => {
                            list.push(Table::new(8));
                            i
                        }
                        _ => return None,
                    },
                    // Defined before (or implicitly): left to toml.
                    (Some(_), false) => return None,
                };
                current.push(i);
            }
            Some(_) => {
                let key = p.bare_key()?;
                p.skip_spaces();
                if !p.eat(b'=') {
                    return None;
                }
                p.skip_spaces();
                let value = p.value()?;
                let table = table_at(&mut root, &current)?;
                if table.position(key).is_some() {
                    return None;
                }
                table.entries.push((key, value));
            }
        }
        p.end_of_line()?;
    }
}

/// The table that entry indices `path` lead to from `root`: the last element
/// where one is a `[[...]]` array.
fn table_at<'t, 'a>(root: &'t mut Table<'a>, path: &[usize]) -> Option<&'t mut Table<'a>> {
    let mut table = root;
    for &i in path {
        table = match &mut table.entries.get_mut(i)?.1 {
            Value::Table(t) => t,
            Value::Tables(list) => list.last_mut()?,
            _ => return None,
        };
    }
    Some(table)
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
