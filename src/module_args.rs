//! The module's arguments (`auth required pam_twostep.so config=/etc/… debug`):
//! parsed here, on plain strings, for the PAM glue and for `twostep check`,
//! which must judge a PAM line exactly as the module will.

use std::borrow::Cow;
use std::fmt;
use std::path::Path;

use crate::config;

/// Module arguments (`auth required pam_twostep.so config=/etc/… debug`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args<'a> {
    /// Borrowed from the arguments (or the default): nothing copied at each login.
    pub config: Cow<'a, Path>,
    pub debug: bool,
    /// Send log lines to this datagram socket instead of `/dev/log` (chroots, containers, tests).
    pub log_socket: Option<&'a Path>,
    /// Where the compiled copy of the config is kept ([`config::cache`]):
    /// `config_cache=PATH`, or by default [`config::cache::DEFAULT_CACHE`]
    /// for the default config; `None` (`config_cache=off`, or another
    /// `config=` without `config_cache=`): the file is parsed at every login.
    pub config_cache: Option<Cow<'a, Path>>,
}

/// What the module arguments say of the compiled copy.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CacheArg<'a> {
    Default,
    Off,
    At(&'a Path),
}

/// Why the module arguments were refused (logged; the login is refused as unavailable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgsError {
    /// An argument that is none of the known ones, as given.
    Unknown(String),
    /// A known argument with a value it cannot have, as given.
    Invalid { arg: String, why: &'static str },
}

/// The arguments there are, for messages.
pub const KNOWN: &str = "config=PATH, config_cache=PATH|off, debug, log_socket=PATH";

impl fmt::Display for ArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgsError::Unknown(arg) => write!(f, "unknown module argument {arg:?} (known: {KNOWN})"),
            ArgsError::Invalid { arg, why } => write!(f, "module argument {arg:?} {why}"),
        }
    }
}

impl std::error::Error for ArgsError {}

/// Parses module arguments; an unknown argument is an error (a typo must not silently
/// fall back to another configuration).
pub fn parse_args<'a, S: AsRef<str>>(args: &'a [S]) -> Result<Args<'a>, ArgsError> {
    let mut out = Args {
        config: Cow::Borrowed(Path::new(config::DEFAULT_PATH)),
        debug: false,
        log_socket: None,
        config_cache: None,
    };
    let mut cache = CacheArg::Default;
    for arg in args {
        let arg = arg.as_ref();
        if arg == "debug" {
            out.debug = true;
        } else if let Some(p) = arg.strip_prefix("config=") {
            out.config = Cow::Borrowed(Path::new(p));
        } else if let Some(p) = arg.strip_prefix("log_socket=") {
            out.log_socket = Some(Path::new(p));
        } else if arg == "config_cache=off" {
            cache = CacheArg::Off;
        } else if let Some(p) = arg.strip_prefix("config_cache=") {
            let p = Path::new(p);
            if !p.is_absolute() || config::cache::split(p).is_none() {
                let why = "must be an absolute file path, or off";
                return Err(ArgsError::Invalid { arg: arg.to_string(), why });
            }
            cache = CacheArg::At(p);
        } else {
            return Err(ArgsError::Unknown(arg.to_string()));
        }
    }
    out.config_cache = match cache {
        CacheArg::At(p) => Some(Cow::Borrowed(p)),
        CacheArg::Default if out.config == Path::new(config::DEFAULT_PATH) => {
            Some(Cow::Borrowed(Path::new(config::cache::DEFAULT_CACHE)))
        }
        CacheArg::Default | CacheArg::Off => None,
    };
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

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
            "unknown module argument \"confg=/tmp/x\" (known: config=PATH, config_cache=PATH|off, debug, log_socket=PATH)"
        );
    }

    #[test]
    fn the_compiled_config_is_kept_for_the_default_config_or_where_told() {
        let cache = |a: &[&str]| parse_args(a).map(|a| a.config_cache.map(Cow::into_owned));
        assert_eq!(cache(&[]), Ok(Some(PathBuf::from("/run/twostep/config.cache"))));
        assert_eq!(cache(&["config=/etc/security/twostep.toml"]), Ok(Some(PathBuf::from("/run/twostep/config.cache"))));
        assert_eq!(cache(&["config=/etc/security/other.toml"]), Ok(None), "not shared with another config");
        assert_eq!(
            cache(&["config=/etc/x.toml", "config_cache=/run/twostep/x.cache"]),
            Ok(Some(PathBuf::from("/run/twostep/x.cache")))
        );
        assert_eq!(cache(&["config_cache=off"]), Ok(None));
        for bad in ["config_cache=run/x", "config_cache=", "config_cache=/", "config_cache=/run/."] {
            let e = parse_args(&[bad]).unwrap_err();
            assert!(matches!(e, ArgsError::Invalid { .. }), "{bad}: {e:?}");
            assert!(e.to_string().contains("must be an absolute file path, or off"), "{e}");
        }
    }
}
