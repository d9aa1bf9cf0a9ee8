//! User names as they reach us from PAM, the file names derived from them, and
//! the NSS lookups ([`Accounts`]).
//!
//! The store and the tally are keyed by the PAM user name, or by the account's
//! canonical name when NSS knows the account under another spelling
//! ([`account_name`]: `ALICE` → `alice`), so one person has one record. Any byte string can
//! arrive there (`../x`, `a/b`, `DOMAIN\bob`, `bob@ad.example`, `élodie`), so the
//! file name is a reversible, path-safe encoding: letters, digits and `_ - @ + .`
//! stay as they are (so `alice` stays `alice`), a leading `.` and every other
//! byte become `%XX`. Encoded names therefore never start with `.` (hidden
//! names are reserved for lock and temp files), never contain `/`, and two
//! different user names never map to the same file.

use std::borrow::Cow;
use std::fmt;

/// Longest user name we accept (bytes); longer names are refused, not truncated.
pub const MAX_USER_LEN: usize = 256;
/// Longest encoded file name: with the lock file's `.` and `.lock` around it,
/// it stays within the 255 bytes a Linux file name may have.
pub const MAX_FILE_NAME: usize = 249;

/// Why a user name cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserNameError {
    Empty,
    TooLong(usize),
    /// Short enough, but longer than [`MAX_FILE_NAME`] once encoded.
    EncodesTooLong(usize),
}

impl fmt::Display for UserNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserNameError::Empty => f.write_str("the user name is empty"),
            UserNameError::TooLong(n) => {
                write!(f, "the user name is {n} bytes long; at most {MAX_USER_LEN} are supported")
            }
            UserNameError::EncodesTooLong(n) => write!(
                f,
                "the user name is {n} bytes long as a file name (non-ASCII and special characters take 3 bytes each); at most {MAX_FILE_NAME} are supported"
            ),
        }
    }
}

impl std::error::Error for UserNameError {}

fn kept(b: u8, first: bool) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'@' | b'+') || (b == b'.' && !first)
}

/// The file name under which `user`'s state is stored.
pub fn file_name(user: &str) -> Result<String, UserNameError> {
    file_name_of(user).map(Cow::into_owned)
}

/// [`file_name`], borrowed from `user` when it needs no encoding (the usual
/// case: `alice` is stored as `alice`), so that the store, which needs the
/// name for every file it touches, does not allocate it each time.
pub fn file_name_of(user: &str) -> Result<Cow<'_, str>, UserNameError> {
    if user.is_empty() {
        return Err(UserNameError::Empty);
    }
    if user.len() > MAX_USER_LEN {
        return Err(UserNameError::TooLong(user.len()));
    }
    let bytes = user.as_bytes();
    let Some(first) = bytes.iter().enumerate().position(|(i, &b)| !kept(b, i == 0)) else {
        if user.len() > MAX_FILE_NAME {
            return Err(UserNameError::EncodesTooLong(user.len()));
        }
        return Ok(Cow::Borrowed(user));
    };
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(user.len() + 2 * (user.len() - first));
    out.push_str(&user[..first]);
    for (i, &b) in bytes.iter().enumerate().skip(first) {
        if kept(b, i == 0) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    if out.len() > MAX_FILE_NAME {
        return Err(UserNameError::EncodesTooLong(out.len()));
    }
    Ok(Cow::Owned(out))
}

/// The user name a file name was derived from, or `None` if it is not one of ours.
pub fn from_file_name(name: &str) -> Option<String> {
    if name.len() > MAX_FILE_NAME {
        return None; // longer than anything we write
    }
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = name.get(i + 1..i + 3)?;
            // Two upper-case hex digits, nothing else (from_str_radix alone
            // would also take a sign: `%+A`).
            if !hex.bytes().all(|h| h.is_ascii_digit() || (b'A'..=b'F').contains(&h)) {
                return None;
            }
            let v = u8::from_str_radix(hex, 16).ok()?;
            if kept(v, out.is_empty()) {
                return None; // not canonical: we never write it this way
            }
            out.push(v);
            i += 3;
        } else if kept(b, out.is_empty()) {
            out.push(b);
            i += 1;
        } else {
            return None;
        }
    }
    let user = String::from_utf8(out).ok()?;
    (!user.is_empty()).then_some(user)
}

/// A user name (or any value) made safe for one `key=value` field of a log line:
/// anything but printable ASCII other than space, `"`, `\\` and `=` is written as `\xNN`.
pub fn for_log_field(user: &str) -> String {
    let mut out = String::with_capacity(user.len());
    push_for_log_field(&mut out, user);
    out
}

/// [`for_log_field`] appended to `out`.
pub fn push_for_log_field(out: &mut String, value: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    // Runs of bytes kept as they are go in whole. A run is ASCII, so it starts
    // and ends on character boundaries (`get` is `None` only for an empty run
    // between two bytes of one escaped character).
    let mut run = 0;
    for (i, &b) in value.as_bytes().iter().enumerate() {
        if b.is_ascii_graphic() && b != b'"' && b != b'\\' && b != b'=' {
            continue;
        }
        out.push_str(value.get(run..i).unwrap_or_default());
        out.push_str("\\x");
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
        run = i + 1;
    }
    out.push_str(value.get(run..).unwrap_or_default());
}

/// Text for people to read on a terminal (CLI output, conversation text):
/// letters of any script stay as they are (`élodie`), characters that could
/// move the cursor, rewrite the screen or reorder the line ([`unsafe_on_terminal`])
/// are written as `\u{…}`. For user names, file contents, addresses, paths.
pub fn for_terminal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_for_terminal(&mut out, text);
    out
}

/// [`for_terminal`] appended to `out` (which may be a zeroizing buffer).
pub fn push_for_terminal(out: &mut String, text: &str) {
    for c in text.chars() {
        if unsafe_on_terminal(c) {
            // Writing into a String cannot fail.
            let _ = fmt::Write::write_fmt(out, format_args!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
}

/// Control characters (C0 with ESC and BEL, DEL, C1 with CSI) and the invisible
/// characters that reorder or break a line: bidirectional marks, embeddings,
/// overrides and isolates, and the Unicode line and paragraph separators.
pub fn unsafe_on_terminal(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_stay_as_they_are() {
        assert_eq!(file_name("alice").unwrap(), "alice");
        assert_eq!(file_name("first.last").unwrap(), "first.last");
        assert_eq!(file_name("bob@ad.example").unwrap(), "bob@ad.example");
        assert!(matches!(file_name_of("first.last"), Ok(Cow::Borrowed("first.last"))));
        assert!(matches!(file_name_of("a b"), Ok(Cow::Owned(f)) if f == "a%20b"));
    }

    #[test]
    fn dangerous_names_cannot_escape_the_directory() {
        for (user, want) in [
            ("../x", "%2E.%2Fx"),
            ("a/b", "a%2Fb"),
            ("..", "%2E."),
            (".", "%2E"),
            (".hidden", "%2Ehidden"),
            ("DOMAIN\\bob", "DOMAIN%5Cbob"),
            ("élodie", "%C3%A9lodie"),
            ("a b\n", "a%20b%0A"),
        ] {
            let f = file_name(user).unwrap();
            assert_eq!(f, want);
            assert!(!f.contains('/') && !f.starts_with('.'));
            assert_eq!(from_file_name(&f).as_deref(), Some(user));
        }
    }

    #[test]
    fn encoding_is_injective_on_tricky_pairs() {
        let names = ["a%2Fb", "a/b", "%", "%25", ".a", "%2Ea", "A", "a"];
        let files: std::collections::HashSet<_> = names.iter().map(|n| file_name(n).unwrap()).collect();
        assert_eq!(files.len(), names.len());
        for n in names {
            assert_eq!(from_file_name(&file_name(n).unwrap()).as_deref(), Some(n));
        }
    }

    #[test]
    fn empty_and_huge_names_are_refused() {
        assert_eq!(file_name(""), Err(UserNameError::Empty));
        assert!(matches!(file_name(&"a".repeat(MAX_USER_LEN + 1)), Err(UserNameError::TooLong(_))));
        assert_eq!(file_name(&"a".repeat(MAX_FILE_NAME)).unwrap().len(), MAX_FILE_NAME);
        assert_eq!(file_name(&"a".repeat(MAX_FILE_NAME + 1)), Err(UserNameError::EncodesTooLong(250)));
        // 100 two-byte letters are 200 bytes, but 600 once encoded.
        assert_eq!(file_name(&"é".repeat(100)), Err(UserNameError::EncodesTooLong(600)));
    }

    #[test]
    fn foreign_file_names_are_not_users() {
        for f in [".alice.lock", ".tmp-1-2", "a%2", "a%zz", "%61", "a%2f", "a b"] {
            assert_eq!(from_file_name(f), None, "{f}");
        }
    }

    #[test]
    fn for_terminal_keeps_letters_and_escapes_control_characters() {
        assert_eq!(for_terminal("élodie"), "élodie");
        assert_eq!(for_terminal("DOMAIN\\bob"), "DOMAIN\\bob");
        assert_eq!(for_terminal("a\x1b[2Jb\n"), "a\\u{1b}[2Jb\\u{a}");
        assert_eq!(for_terminal("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(for_terminal("\x07\x7f\u{9b}\u{2028}\u{2067}"), "\\u{7}\\u{7f}\\u{9b}\\u{2028}\\u{2067}");
        assert_eq!(for_terminal(&for_terminal("a\x1b]0;t\x07")), for_terminal("a\x1b]0;t\x07"), "idempotent");
    }

    /// NSS on plain data: `ALICE` is the account `alice`, `ghost` is unknown, `broken` fails.
    struct Directory;

    impl Accounts for Directory {
        fn lookup(&self, user: &str) -> Result<Option<Account>, AccountsError> {
            match user {
                "broken" => Err(AccountsError::Lookup { user: user.into(), errno: nix::errno::Errno::EIO }),
                u if u.eq_ignore_ascii_case("alice") => Ok(Some(Account { name: "alice".into(), uid: 1000 })),
                _ => Ok(None),
            }
        }
        fn groups(&self, _: &str) -> Result<Option<Vec<String>>, AccountsError> {
            unreachable!()
        }
    }

    #[test]
    fn the_account_name_is_the_canonical_one_else_the_name_given_and_never_a_guess() {
        assert_eq!(account_name(&Directory, "ALICE").as_deref(), Ok("alice"));
        assert_eq!(account_name(&Directory, "alice").as_deref(), Ok("alice"));
        assert_eq!(account_name(&Directory, "ghost").as_deref(), Ok("ghost"));
        assert!(account_name(&Directory, "broken").is_err());
    }

    #[test]
    fn nss_errors_name_the_user_escaped_for_the_log() {
        use nix::errno::Errno;
        let e = AccountsError::Lookup { user: "a b\n".into(), errno: Errno::EIO };
        assert_eq!(e.to_string(), format!("cannot look up user a\\x20b\\x0a: {}", Errno::EIO));
        let e = AccountsError::NoGroupName { gid: 1234, user: "DOMAIN\\bob".into() };
        assert!(e.to_string().starts_with("group id 1234 of DOMAIN\\x5cbob has no name"), "{e}");
    }

    proptest::proptest! {
        /// The runs are an optimisation: byte for byte what escaping each byte writes.
        #[test]
        fn for_log_field_is_the_byte_by_byte_escape(value in ".{0,12}") {
            let mut want = String::new();
            for &b in value.as_bytes() {
                if b.is_ascii_graphic() && b != b'"' && b != b'\\' && b != b'=' {
                    want.push(b as char);
                } else {
                    want.push_str(&format!("\\x{b:02x}"));
                }
            }
            proptest::prop_assert_eq!(for_log_field(&value), want);
        }
    }

    #[test]
    fn for_log_field_escapes_control_and_separator_bytes() {
        assert_eq!(for_log_field("alice"), "alice");
        assert_eq!(for_log_field("a b=c\n"), "a\\x20b\\x3dc\\x0a");
        assert_eq!(for_log_field("élodie\u{202e}"), "\\xc3\\xa9lodie\\xe2\\x80\\xae");
        assert_eq!(for_log_field("\"x\\"), "\\x22x\\x5c");
    }
}

/// Account lookups through NSS (passwd/group, so LDAP and SSSD users work).
/// A trait so that login logic can be tested on plain data.
///
/// Every error means "NSS could not answer" (directory offline, module
/// failure): callers fail closed. Only "no such entry" is `Ok(None)`.
pub trait Accounts {
    /// The account for the name `user` was given as, with its canonical name
    /// (`pw_name`): case-insensitive directories answer `ALICE` with `alice`,
    /// realms may answer `alice@ad.example` with `alice`. `Ok(None)` if NSS
    /// does not know the name.
    fn lookup(&self, user: &str) -> Result<Option<Account>, AccountsError>;
    /// The names of `user`'s groups, primary and supplementary; `Ok(None)` if NSS does
    /// not know the user. A group id without a name is an error: with the group
    /// directory offline, leaving it out would skip a `required_groups` rule.
    fn groups(&self, user: &str) -> Result<Option<Vec<String>>, AccountsError>;
}

/// NSS could not answer (directory offline, module failure). `user` is the name
/// as asked; [`fmt::Display`] writes it escaped for a log field ([`for_log_field`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountsError {
    /// `getpwnam_r` failed.
    Lookup { user: String, errno: nix::errno::Errno },
    /// The name cannot be passed to the C library.
    NulInName { user: String },
    /// `getgrouplist` failed.
    GroupList { user: String, errno: nix::errno::Errno },
    /// One of the user's group ids has no group entry.
    NoGroupName { gid: u32, user: String },
    /// `getgrgid_r` failed.
    GroupLookup { gid: u32, user: String, errno: nix::errno::Errno },
}

impl fmt::Display for AccountsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountsError::Lookup { user, errno } => write!(f, "cannot look up user {}: {errno}", for_log_field(user)),
            AccountsError::NulInName { user } => write!(f, "user name {} contains a NUL byte", for_log_field(user)),
            AccountsError::GroupList { user, errno } => {
                write!(f, "cannot list the groups of {}: {errno}", for_log_field(user))
            }
            AccountsError::NoGroupName { gid, user } => write!(
                f,
                "group id {gid} of {} has no name in the group database (NSS), so group rules cannot be checked; is the directory (sssd, winbind, LDAP) reachable?",
                for_log_field(user)
            ),
            AccountsError::GroupLookup { gid, user, errno } => {
                write!(f, "cannot look up group {gid} of {}: {errno}", for_log_field(user))
            }
        }
    }
}

impl std::error::Error for AccountsError {}

/// The name a user's record and tally are kept under: the account's canonical
/// name when NSS knows `typed` (so `ALICE` and `alice@ad.example` share alice's
/// record, lock and grace count), else `typed` itself (twostep does not require
/// the user to exist in passwd). A lookup failure is an error, never a guess.
pub fn account_name(accounts: &dyn Accounts, typed: &str) -> Result<String, AccountsError> {
    Ok(resolve(accounts, typed)?.0)
}

/// [`account_name`] and the account's uid (`None`: NSS does not know the
/// name), from one lookup.
pub fn resolve(accounts: &dyn Accounts, typed: &str) -> Result<(String, Option<u32>), AccountsError> {
    Ok(match accounts.lookup(typed)? {
        Some(a) => (a.name, Some(a.uid)),
        None => (typed.to_string(), None),
    })
}

/// An account as NSS knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The canonical name (`pw_name`).
    pub name: String,
    pub uid: u32,
}

/// The real NSS lookups.
#[derive(Debug, Default, Clone, Copy)]
pub struct Nss;

/// `getpwnam_r` for `user`.
fn passwd_entry(user: &str) -> Result<Option<nix::unistd::User>, AccountsError> {
    nix::unistd::User::from_name(user).or_else(|errno| passwd_error(user, errno))
}

/// What `getpwnam_r` failing with `errno` for `user` means: besides "no
/// entry", getpwnam_r(3) allows ENOENT, ESRCH, EBADF and EPERM to mean "not
/// found"; any other error is one.
pub fn passwd_error<T>(user: &str, errno: nix::errno::Errno) -> Result<Option<T>, AccountsError> {
    use nix::errno::Errno;
    match errno {
        Errno::ENOENT | Errno::ESRCH | Errno::EBADF | Errno::EPERM => Ok(None),
        errno => Err(AccountsError::Lookup { user: user.to_string(), errno }),
    }
}

impl Accounts for Nss {
    fn lookup(&self, user: &str) -> Result<Option<Account>, AccountsError> {
        Ok(passwd_entry(user)?.map(|u| Account { name: u.name, uid: u.uid.as_raw() }))
    }

    fn groups(&self, user: &str) -> Result<Option<Vec<String>>, AccountsError> {
        use nix::unistd::{Group, getgrouplist};
        let Some(pw) = passwd_entry(user)? else {
            return Ok(None);
        };
        let name = std::ffi::CString::new(user).map_err(|_| AccountsError::NulInName { user: user.to_string() })?;
        // getgrouplist includes the primary group (pw.gid) itself.
        let gids =
            getgrouplist(&name, pw.gid).map_err(|errno| AccountsError::GroupList { user: user.to_string(), errno })?;
        let mut names = Vec::with_capacity(gids.len());
        for gid in gids {
            match Group::from_gid(gid) {
                Ok(Some(g)) => names.push(g.name),
                Ok(None) => return Err(AccountsError::NoGroupName { gid: gid.as_raw(), user: user.to_string() }),
                Err(errno) => {
                    return Err(AccountsError::GroupLookup { gid: gid.as_raw(), user: user.to_string(), errno });
                }
            }
        }
        names.sort();
        names.dedup();
        Ok(Some(names))
    }
}
