//! Why a store operation failed: [`StoreError`] for either backend, and
//! [`DirectoryError`] for the directory's part of it. Both in their own file,
//! below the backends, so that the file store and the directory each use them
//! without importing the other.

use std::fmt;
use std::path::PathBuf;

use crate::trusted_fs::FsError;
use crate::user::UserNameError;

/// A problem with a state directory or one of its files.
#[derive(Debug)]
pub enum StoreError {
    Fs(FsError),
    UserName(UserNameError),
    Corrupt {
        path: PathBuf,
        message: String,
    },
    NewerVersion {
        path: PathBuf,
        found: i64,
        supported: u32,
    },
    /// The directory backend (`[store] backend = "ldap"`).
    Directory(DirectoryError),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Fs(e) => e.fmt(f),
            StoreError::UserName(e) => e.fmt(f),
            StoreError::Directory(e) => e.fmt(f),
            StoreError::Corrupt { path, message } => {
                write!(f, "{} is corrupt ({message}); inspect it, then repair or remove it", path.display())
            }
            StoreError::NewerVersion { path, found, supported } => write!(
                f,
                "{} has format version {found}, but this twostep understands only up to {supported}; upgrade twostep",
                path.display()
            ),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<FsError> for StoreError {
    fn from(e: FsError) -> Self {
        StoreError::Fs(e)
    }
}

impl From<DirectoryError> for StoreError {
    fn from(e: DirectoryError) -> Self {
        StoreError::Directory(e)
    }
}

impl From<UserNameError> for StoreError {
    fn from(e: UserNameError) -> Self {
        StoreError::UserName(e)
    }
}

/// Why a directory operation failed; every variant names the URI(s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectoryError {
    /// No URI could be used (down, TLS failure, timeout); one reason per URI.
    Unreachable(Vec<String>),
    /// The server answered with an LDAP error.
    Refused { uri: String, code: i32, detail: String },
    /// The entry changed under us (another server or the `otp` overlay):
    /// the compare-and-swap failed and nothing was written.
    Conflict { dn: String },
    /// The user's lock is held by another login for longer than the timeout.
    Busy { dn: String, holder: String },
    /// No entry matches the user filter (a write for a user the directory does not have).
    NoEntry { user: String, filter: String },
    /// More than one entry matches the user filter.
    Ambiguous { filter: String, count: usize },
    /// Something in the directory that twostep cannot read.
    Damaged { dn: String, message: String },
    /// A file `[ldap]` names that cannot be used as it is (beyond owner and mode).
    BadFile { path: std::path::PathBuf, why: String },
    /// A local problem (a program missing, a child that could not start).
    Local(String),
}

impl std::fmt::Display for DirectoryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DirectoryError::Unreachable(why) => {
                write!(f, "directory unavailable: {}; check the server and [ldap] uris", why.join("; "))
            }
            DirectoryError::Refused { uri, code, detail } => {
                write!(f, "directory {uri} refused the operation (LDAP result {code}: {detail})")
            }
            DirectoryError::Conflict { dn } => {
                write!(f, "{dn} was changed by another server during this change; nothing was written, try again")
            }
            DirectoryError::Busy { dn, holder } => {
                write!(f, "{dn} is being changed by another login ({holder}); try again")
            }
            DirectoryError::NoEntry { user, filter } => write!(
                f,
                "no directory entry matches {filter} for {user}; create the account's entry, or fix [ldap] base_dn and user_filter"
            ),
            DirectoryError::Ambiguous { filter, count } => {
                write!(f, "{count} directory entries match {filter}; make [ldap] user_filter match one entry per user")
            }
            DirectoryError::Damaged { dn, message } => write!(f, "{dn}: {message}; repair the entry"),
            DirectoryError::BadFile { path, why } => write!(f, "{} {why}", path.display()),
            DirectoryError::Local(why) => write!(f, "directory client: {why}"),
        }
    }
}

impl std::error::Error for DirectoryError {}
