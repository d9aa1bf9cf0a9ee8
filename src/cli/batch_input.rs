//! The input of `twostep enroll --batch FILE`: who to enroll, one user a line,
//! as CSV or as JSON lines. Pure: bytes in, rows out.
//!
//! The format is told by the first line that is not blank (after an optional
//! UTF-8 byte order mark, as spreadsheets write it): a line starting with `{`
//! means JSON lines, anything else is the CSV header.
//!
//! - CSV: a header naming the columns, `user` required, `email` and `secret`
//!   optional, in any order (case ignored); no other column, so that a typo
//!   never drops a column silently. Fields are separated by `,` and may be
//!   quoted (`"Smith, Jane"`, `""` for a quote inside); a field cannot span
//!   lines. An empty email or secret is the same as no column.
//! - JSON lines: one object a line with `"user"` (a string) and optionally
//!   `"email"` and `"secret"` (strings or null); no other key.
//!
//! Blank lines are skipped in both. A bad header (or a file that is not UTF-8)
//! refuses the whole file before anything is enrolled; a bad line is reported
//! with its number and the other lines go on. Reasons never quote a secret:
//! they name the line, the column and what is wrong.

use std::fmt;

use zeroize::Zeroizing;

use crate::secret::TotpSecret;

/// Largest input accepted (10,000 users take about 1 MB).
pub const MAX_INPUT: u64 = 64 * 1024 * 1024;

/// One user to enroll, as a line of the input names them.
pub struct Row {
    /// 1-based line number in the input.
    pub line: usize,
    pub user: String,
    pub email: Option<String>,
    /// A secret to import; `None` means generate one.
    pub secret: Option<TotpSecret>,
}

/// A line that names no usable user: its number, the user if one could be read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub user: Option<String>,
    pub reason: String,
}

/// Why the whole input is refused (nothing is enrolled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputError {
    NotText,
    Empty,
    /// The CSV header line is wrong: what and how to fix it.
    Header(String),
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::NotText => f.write_str("the batch input is not UTF-8 text"),
            InputError::Empty => f.write_str("the batch input names no users"),
            InputError::Header(why) => write!(
                f,
                "line 1 of the batch input must be a CSV header such as user,email,secret (or the input JSON lines): {why}"
            ),
        }
    }
}

impl std::error::Error for InputError {}

/// Which formats [`parse`] saw (for the summary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    JsonLines,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    User,
    Email,
    Secret,
}

/// Parses the whole input.
pub fn parse(bytes: &[u8]) -> Result<(Format, Vec<Result<Row, LineError>>), InputError> {
    let text = std::str::from_utf8(bytes).map_err(|_| InputError::NotText)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).enumerate().map(|(i, l)| (i + 1, l));
    let mut lines = lines.by_ref().filter(|(_, l)| !l.trim().is_empty());
    let Some((first_no, first)) = lines.next() else {
        return Err(InputError::Empty);
    };
    if first.trim_start().starts_with('{') {
        let rows = std::iter::once((first_no, first)).chain(lines).map(|(n, l)| json_line(n, l)).collect();
        return Ok((Format::JsonLines, rows));
    }
    let columns = header(first)?;
    let rows = lines.map(|(n, l)| csv_line(n, l, &columns)).collect::<Vec<_>>();
    if rows.is_empty() {
        return Err(InputError::Empty);
    }
    Ok((Format::Csv, rows))
}

fn header(line: &str) -> Result<Vec<Column>, InputError> {
    let fields = split_csv(line).map_err(|why| InputError::Header(why.to_string()))?;
    let mut columns = Vec::new();
    for field in fields.iter() {
        let column = match field.trim().to_ascii_lowercase().as_str() {
            "user" => Column::User,
            "email" => Column::Email,
            "secret" => Column::Secret,
            other => {
                return Err(InputError::Header(format!(
                    "unknown column \"{}\" (the columns are user, email and secret)",
                    crate::user::for_terminal(other)
                )));
            }
        };
        if columns.contains(&column) {
            return Err(InputError::Header(format!("the column {} is named twice", field.trim())));
        }
        columns.push(column);
    }
    if !columns.contains(&Column::User) {
        return Err(InputError::Header("there is no user column".into()));
    }
    Ok(columns)
}

/// Splits one CSV line into fields (RFC 4180 quoting, no line breaks inside fields).
/// The fields are wiped when dropped: one may be a secret.
fn split_csv(line: &str) -> Result<Vec<Zeroizing<String>>, &'static str> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        // Sized up front: a growing buffer would leave unwiped copies of a secret behind.
        let mut field = Zeroizing::new(String::with_capacity(line.len()));
        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
            chars.next();
        }
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err("a quoted field is not closed (fields cannot span lines)"),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
                chars.next();
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(_) => return Err("text follows a closing quote; quote the whole field"),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some('"') => return Err("a quote inside an unquoted field; quote the whole field"),
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
        }
    }
}

fn csv_line(line: usize, text: &str, columns: &[Column]) -> Result<Row, LineError> {
    let bad = |user: Option<String>, reason: String| LineError { line, user, reason };
    let fields = split_csv(text).map_err(|why| bad(None, why.to_string()))?;
    let user_field = columns.iter().position(|c| *c == Column::User).and_then(|i| fields.get(i));
    let user = user_field.map(|u| u.trim().to_string()).filter(|u| !u.is_empty());
    if fields.len() != columns.len() {
        return Err(bad(user, format!("{} field(s), but the header names {} column(s)", fields.len(), columns.len())));
    }
    let mut email = None;
    let mut secret = None;
    for (column, field) in columns.iter().zip(fields.iter()) {
        let value = field.trim();
        match column {
            Column::User => {}
            _ if value.is_empty() => {}
            Column::Email => email = Some(value.to_string()),
            Column::Secret => {
                secret = Some(TotpSecret::from_base32(value).map_err(|e| bad(user.clone(), format!("secret: {e}")))?)
            }
        }
    }
    let user = user.ok_or_else(|| bad(None, "the user field is empty".into()))?;
    Ok(Row { line, user, email, secret })
}

fn json_line(line: usize, text: &str) -> Result<Row, LineError> {
    let bad = |user: Option<String>, reason: String| LineError { line, user, reason };
    // serde_json's messages may quote a value (a secret): only the column is kept.
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| bad(None, format!("not valid JSON (column {}); each line is one object", e.column())))?;
    let serde_json::Value::Object(mut object) = value else {
        return Err(bad(None, "not a JSON object; each line is one object such as {\"user\": \"alice\"}".into()));
    };
    let user = match object.remove("user") {
        Some(serde_json::Value::String(u)) if !u.trim().is_empty() => Some(u.trim().to_string()),
        _ => None,
    };
    if let Some(key) = object.keys().find(|k| !matches!(k.as_str(), "email" | "secret")) {
        let key = crate::user::for_terminal(key);
        return Err(bad(user, format!("unknown key \"{key}\" (the keys are user, email and secret)")));
    }
    let Some(user) = user else {
        return Err(bad(None, "\"user\" must be a non-empty string".into()));
    };
    let mut text_of = |key: &str| match object.remove(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => {
            let s = Zeroizing::new(s);
            Ok(Some(s).filter(|s| !s.trim().is_empty()))
        }
        Some(_) => Err(bad(Some(user.clone()), format!("\"{key}\" must be a string or null"))),
    };
    let email = text_of("email")?.map(|e| e.trim().to_string());
    let secret = match text_of("secret")? {
        None => None,
        Some(s) => Some(TotpSecret::from_base32(&s).map_err(|e| bad(Some(user.clone()), format!("secret: {e}")))?),
    };
    Ok(Row { line, user, email, secret })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "JBSWY3DPEHPK3PXP";

    fn rows(input: &str) -> (Format, Vec<Result<Row, LineError>>) {
        parse(input.as_bytes()).unwrap()
    }

    fn summary(r: &Result<Row, LineError>) -> String {
        match r {
            Ok(row) => format!(
                "{} {} {:?} {}",
                row.line,
                row.user,
                row.email,
                row.secret.as_ref().map_or("-".to_string(), |s| s.to_base32().to_string())
            ),
            Err(e) => format!("{} error {:?}: {}", e.line, e.user, e.reason),
        }
    }

    #[test]
    fn csv_with_a_header_in_any_order_quotes_and_optional_columns() {
        let (format, r) = rows(&format!(
            "\u{feff}Secret,user,email\r\n{SECRET},alice,alice@district.org\r\n,\"Smith, Jane\",\n\n  , \"a\"\"b\" , \r\n"
        ));
        assert_eq!(format, Format::Csv);
        let got: Vec<String> = r.iter().map(summary).collect();
        assert_eq!(
            got,
            [
                format!("2 alice Some(\"alice@district.org\") {SECRET}"),
                "3 Smith, Jane None -".into(),
                "5 a\"b None -".into()
            ]
        );
        let (_, only_users) = rows("user\nalice\nDOMAIN\\bob\n");
        assert_eq!(only_users.iter().map(summary).collect::<Vec<_>>(), ["2 alice None -", "3 DOMAIN\\bob None -"]);
    }

    #[test]
    fn a_bad_csv_line_is_reported_with_its_number_and_never_quotes_the_secret() {
        let (_, r) = rows("user,secret\nalice,NOT-BASE32!\nbob\n\"carol,x\n,JBSWY3DPEHPK3PXP\ndave,\"x\"y\n");
        let got: Vec<String> = r.iter().map(summary).collect();
        assert_eq!(
            got[0],
            "2 error Some(\"alice\"): secret: the secret is not valid base32 (letters A-Z and digits 2-7)"
        );
        assert_eq!(got[1], "3 error Some(\"bob\"): 1 field(s), but the header names 2 column(s)");
        assert!(got[2].starts_with("4 error None: a quoted field is not closed"), "{}", got[2]);
        assert_eq!(got[3], "5 error None: the user field is empty");
        assert!(got[4].starts_with("6 error None: text follows a closing quote"), "{}", got[4]);
        assert!(got.iter().all(|g| !g.contains("JBSWY3DP") && !g.contains("NOT-BASE32")), "{got:?}");
    }

    #[test]
    fn a_csv_header_that_is_not_one_refuses_the_whole_input() {
        for (input, why) in [
            ("alice,alice@district.org\nbob,\n", "unknown column \"alice\""),
            ("user,emial\nalice,a@b.example\n", "unknown column \"emial\""),
            ("email,secret\na@b.example,\n", "there is no user column"),
            ("user,User\nalice,alice\n", "named twice"),
        ] {
            let e = parse(input.as_bytes()).err().unwrap_or_else(|| panic!("{input:?} accepted")).to_string();
            assert!(e.starts_with("line 1 of the batch input must be a CSV header") && e.contains(why), "{e}");
        }
        assert_eq!(parse(b"").err(), Some(InputError::Empty));
        assert_eq!(parse(b"\n  \nuser\n\n").err(), Some(InputError::Empty));
        assert_eq!(parse(b"user\n\xff\n").err(), Some(InputError::NotText));
    }

    #[test]
    fn json_lines_are_told_by_the_first_brace_and_checked_key_by_key() {
        let input = format!(
            "\n{{\"user\": \"alice\", \"email\": \"a@d.org\", \"secret\": \"{SECRET}\"}}\n{{\"user\":\"bob\",\"email\":null}}\n\
             [1]\n{{\"user\": \"carol\", \"secert\": \"{SECRET}\"}}\n{{\"user\": 5}}\n{{\"user\":\"dave\",\"email\":7}}\n\
             {{\"user\":\"erin\",\"secret\":\"{SECRET}1\"}}\n{{\"user\": \"{SECRET}\n"
        );
        let (format, r) = rows(&input);
        assert_eq!(format, Format::JsonLines);
        let got: Vec<String> = r.iter().map(summary).collect();
        assert_eq!(got[0], format!("2 alice Some(\"a@d.org\") {SECRET}"));
        assert_eq!(got[1], "3 bob None -");
        assert!(got[2].starts_with("4 error None: not a JSON object"), "{}", got[2]);
        assert_eq!(got[3], "5 error Some(\"carol\"): unknown key \"secert\" (the keys are user, email and secret)");
        assert_eq!(got[4], "6 error None: \"user\" must be a non-empty string");
        assert_eq!(got[5], "7 error Some(\"dave\"): \"email\" must be a string or null");
        assert!(got[6].starts_with("8 error Some(\"erin\"): secret: "), "{}", got[6]);
        assert!(got[7].starts_with("9 error None: not valid JSON (column "), "{}", got[7]);
        assert!(got[2..].iter().all(|g| !g.contains("JBSWY3DP")), "{got:?}");
    }
}
