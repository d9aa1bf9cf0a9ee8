//! The module's arguments (`auth required pam_twostep.so config=/etc/… debug`):
//! parsed here, on plain strings, for the PAM glue and for `twostep check`,
//! which must judge a PAM line exactly as the module will.

use std::fmt;
use std::path::PathBuf;

use crate::config;

/// Module arguments (`auth required pam_twostep.so config=/etc/… debug`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub config: PathBuf,
    pub debug: bool,
    /// Send log lines to this datagram socket instead of `/dev/log` (chroots, containers, tests).
    pub log_socket: Option<PathBuf>,
}

/// Why the module arguments were refused (logged; the login is refused as unavailable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgsError {
    /// An argument that is none of the known ones, as given.
    Unknown(String),
}

impl fmt::Display for ArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgsError::Unknown(arg) => {
                write!(f, "unknown module argument {arg:?} (known: config=PATH, debug, log_socket=PATH)")
            }
        }
    }
}

impl std::error::Error for ArgsError {}

/// Parses module arguments; an unknown argument is an error (a typo must not silently
/// fall back to another configuration).
pub fn parse_args<S: AsRef<str>>(args: &[S]) -> Result<Args, ArgsError> {
    let mut out = Args { config: PathBuf::from(config::DEFAULT_PATH), debug: false, log_socket: None };
    for arg in args {
        let arg = arg.as_ref();
        if arg == "debug" {
            out.debug = true;
        } else if let Some(p) = arg.strip_prefix("config=") {
            out.config = PathBuf::from(p);
        } else if let Some(p) = arg.strip_prefix("log_socket=") {
            out.log_socket = Some(PathBuf::from(p));
        } else {
            return Err(ArgsError::Unknown(arg.to_string()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_arguments_parse_and_typos_are_refused() {
        let a = parse_args(&["config=/tmp/x.toml", "debug"]).unwrap();
        assert_eq!(a.config, PathBuf::from("/tmp/x.toml"));
        assert!(a.debug);
        assert_eq!(parse_args::<&str>(&[]).unwrap().config, PathBuf::from("/etc/security/twostep.toml"));
        let e = parse_args(&["confg=/tmp/x"]).unwrap_err();
        assert_eq!(e, ArgsError::Unknown("confg=/tmp/x".into()));
        assert_eq!(
            e.to_string(),
            "unknown module argument \"confg=/tmp/x\" (known: config=PATH, debug, log_socket=PATH)"
        );
    }
}
