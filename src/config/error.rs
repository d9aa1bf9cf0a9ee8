//! A configuration problem (always naming the file): its own file, so that
//! every part of the config (the `[ldap]` table, [`super::ldap`], too) reports
//! the same one.

use std::fmt;
use std::path::PathBuf;

use crate::trusted_fs::FsError;

/// A configuration problem; always names the file.
#[derive(Debug)]
pub enum ConfigError {
    File(FsError),
    Parse { path: PathBuf, message: String },
    Invalid { path: PathBuf, key: &'static str, message: String },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::File(e) => write!(f, "configuration file {e}"),
            ConfigError::Parse { path, message } => write!(f, "{}: {message}", path.display()),
            ConfigError::Invalid { path, key, message } => {
                write!(f, "{}: `{key}` {message}", path.display())
            }
        }
    }
}

impl std::error::Error for ConfigError {}
