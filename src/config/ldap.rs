//! The `[ldap]` table: where the directory is and how to reach it safely.
//!
//! Raw (every key optional, unknown keys refused) → [`LdapConfig`] (checked).
//! What is refused here: a URI that would send the bind password or the
//! secrets in clear text (plain `ldap://` without StartTLS; only `ldapi://`,
//! the local socket, may go without TLS), TLS without a CA file, a filter
//! without `{user}`, and any value with a line break or NUL (every value ends
//! up in LDIF or on a command line). The password file and the CA file are
//! checked when the store is opened (`crate::store::ldap::DirectoryStore::open`),
//! like every other file twostep trusts.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::ConfigError;

/// `[store]`: which backend holds records and tallies.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    backend: Option<String>,
}

/// `[ldap]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLdap {
    uris: Option<Vec<String>>,
    base_dn: Option<String>,
    user_filter: Option<String>,
    user_attribute: Option<String>,
    bind_dn: Option<String>,
    password_file: Option<PathBuf>,
    starttls: Option<bool>,
    ca_file: Option<PathBuf>,
    totp_params_dn: Option<String>,
    timeout: Option<u64>,
}

/// Where records and tallies are kept.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Backend {
    /// `secrets_dir` and `tally_dir` (the default).
    #[default]
    Files,
    /// The `[ldap]` directory.
    Ldap,
}

/// The checked `[ldap]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapConfig {
    /// Tried in order; each `ldaps://`, `ldap://` (with `starttls`) or `ldapi://`.
    pub uris: Vec<String>,
    pub base_dn: String,
    /// An RFC 4515 filter with `{user}` where the (escaped) user name goes.
    pub user_filter: String,
    /// The attribute holding the user name (for `twostep list`).
    pub user_attribute: String,
    /// With `password_file`: a simple bind. Without: SASL EXTERNAL over `ldapi://`.
    pub bind_dn: Option<String>,
    pub password_file: Option<PathBuf>,
    pub starttls: bool,
    pub ca_file: Option<PathBuf>,
    /// The shared `oathTOTPParams` entry every enrolled token points to.
    pub totp_params_dn: String,
    /// Seconds one directory operation may take (per URI tried).
    pub timeout: u64,
}

fn invalid(path: &Path, key: &'static str, message: &str) -> ConfigError {
    ConfigError::Invalid { path: path.to_path_buf(), key, message: message.to_string() }
}

/// `[store] backend`.
pub fn backend(path: &Path, raw: Option<RawStore>) -> Result<Backend, ConfigError> {
    match raw.and_then(|r| r.backend).as_deref() {
        None | Some("files") => Ok(Backend::Files),
        Some("ldap") => Ok(Backend::Ldap),
        Some(_) => Err(invalid(path, "store.backend", "must be \"files\" or \"ldap\"")),
    }
}

/// Checks `[ldap]`; `None` when the table is absent.
pub fn ldap(path: &Path, raw: Option<RawLdap>) -> Result<Option<LdapConfig>, ConfigError> {
    let Some(raw) = raw else { return Ok(None) };
    let bad = |key, message: &str| invalid(path, key, message);
    let one_line = |key: &'static str, value: &str| {
        if value.is_empty() || value.chars().any(|c| c.is_control()) {
            Err(bad(key, "must be a non-empty value on one line"))
        } else {
            Ok(())
        }
    };
    let uris = raw.uris.unwrap_or_default();
    if uris.is_empty() {
        return Err(bad("ldap.uris", "must list at least one ldaps://, ldap:// (with starttls) or ldapi:// URI"));
    }
    let starttls = raw.starttls.unwrap_or(false);
    for uri in &uris {
        one_line("ldap.uris", uri)?;
        if uri.contains(char::is_whitespace) {
            return Err(bad("ldap.uris", "must hold one URI per string (no spaces)"));
        }
        let lower = uri.to_ascii_lowercase();
        if lower.starts_with("ldap://") {
            if !starttls {
                return Err(bad(
                    "ldap.uris",
                    &format!("{uri}: plain ldap:// sends secrets in clear; use ldaps://, or set starttls = true"),
                ));
            }
        } else if !lower.starts_with("ldaps://") && !lower.starts_with("ldapi://") {
            return Err(bad("ldap.uris", &format!("{uri}: must start with ldaps://, ldap:// or ldapi://")));
        }
    }
    let needs_tls = uris.iter().any(|u| !u.to_ascii_lowercase().starts_with("ldapi://"));
    let ca_file = raw.ca_file;
    match &ca_file {
        Some(p) if !p.is_absolute() => return Err(bad("ldap.ca_file", "must be an absolute path")),
        None if needs_tls => {
            return Err(bad(
                "ldap.ca_file",
                "must name the CA certificate(s) the directory's certificate is checked against",
            ));
        }
        _ => {}
    }
    let base_dn = raw.base_dn.unwrap_or_default();
    one_line("ldap.base_dn", &base_dn)?;
    let user_filter = raw.user_filter.unwrap_or_else(|| "(uid={user})".into());
    one_line("ldap.user_filter", &user_filter)?;
    if !user_filter.contains("{user}") || !user_filter.starts_with('(') || !user_filter.ends_with(')') {
        return Err(bad(
            "ldap.user_filter",
            "must be a parenthesized LDAP filter containing {user}, e.g. \"(uid={user})\"",
        ));
    }
    let user_attribute = raw.user_attribute.unwrap_or_else(|| "uid".into());
    if user_attribute.is_empty() || !user_attribute.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(bad("ldap.user_attribute", "must be an attribute name such as uid"));
    }
    let (bind_dn, password_file) = (raw.bind_dn, raw.password_file);
    match (&bind_dn, &password_file) {
        (Some(dn), Some(file)) => {
            one_line("ldap.bind_dn", dn)?;
            if !file.is_absolute() {
                return Err(bad("ldap.password_file", "must be an absolute path"));
            }
        }
        (None, None) if !needs_tls => {}
        (None, None) => {
            return Err(bad(
                "ldap.bind_dn",
                "must be set (with password_file) unless every URI is ldapi:// (then SASL EXTERNAL is used)",
            ));
        }
        (Some(_), None) => return Err(bad("ldap.password_file", "must be set with bind_dn")),
        (None, Some(_)) => return Err(bad("ldap.bind_dn", "must be set with password_file")),
    }
    let totp_params_dn = raw.totp_params_dn.unwrap_or_else(|| format!("cn=twostep-totp,{base_dn}"));
    one_line("ldap.totp_params_dn", &totp_params_dn)?;
    let timeout = raw.timeout.unwrap_or(5);
    if !(1..=60).contains(&timeout) {
        return Err(bad("ldap.timeout", "must be between 1 and 60 seconds"));
    }
    Ok(Some(LdapConfig {
        uris,
        base_dn,
        user_filter,
        user_attribute,
        bind_dn,
        password_file,
        starttls,
        ca_file,
        totp_params_dn,
        timeout,
    }))
}

#[cfg(test)]
mod tests {
    use crate::config::{Backend, Config};
    use std::path::Path;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(Path::new("/etc/security/twostep.toml"), text).map_err(|e| e.to_string())
    }

    const OK: &str = "[ldap]\nuris = [\"ldaps://a.example\", \"ldap://b.example\"]\nstarttls = true\n\
                      ca_file = \"/etc/ssl/ca.pem\"\nbase_dn = \"dc=x\"\nbind_dn = \"cn=s,dc=x\"\n\
                      password_file = \"/etc/twostep/ldap.pw\"\n";

    #[test]
    fn files_stay_the_default_and_ldap_needs_its_table() {
        let c = parse("").unwrap();
        assert_eq!((c.backend, c.ldap), (Backend::Files, None));
        assert!(parse("[store]\nbackend = \"ldap\"").unwrap_err().contains("no [ldap] table"));
        let c = parse(&format!("[store]\nbackend = \"ldap\"\n{OK}")).unwrap();
        let l = c.ldap.unwrap();
        assert_eq!((c.backend, l.timeout, l.user_filter.as_str()), (Backend::Ldap, 5, "(uid={user})"));
        assert_eq!(l.totp_params_dn, "cn=twostep-totp,dc=x");
    }

    #[test]
    fn insecure_or_unknown_ldap_settings_are_refused_by_key() {
        for (text, key) in [
            ("[store]\nbackend = \"sql\"", "store.backend"),
            ("[store]\nbackends = \"ldap\"", "backends"),
            ("[ldap]\nuri = \"ldaps://a\"", "uri"),
            ("[ldap]\nuris = []\nbase_dn = \"dc=x\"", "ldap.uris"),
            ("[ldap]\nuris = [\"ldap://a\"]\nca_file = \"/ca\"\nbase_dn = \"dc=x\"", "ldap.uris"),
            ("[ldap]\nuris = [\"http://a\"]", "ldap.uris"),
            ("[ldap]\nuris = [\"ldaps://a ldaps://b\"]", "ldap.uris"),
            ("[ldap]\nuris = [\"ldaps://a\"]\nbase_dn = \"dc=x\"", "ldap.ca_file"),
            ("[ldap]\nuris = [\"ldaps://a\"]\nca_file = \"/ca\"\nbase_dn = \"dc=x\"", "ldap.bind_dn"),
            ("[ldap]\nuris = [\"ldapi:///\"]\nbase_dn = \"dc=x\"\nbind_dn = \"cn=s\"", "ldap.password_file"),
            ("[ldap]\nuris = [\"ldapi:///\"]\nbase_dn = \"dc=x\"\nuser_filter = \"uid=x\"", "ldap.user_filter"),
            ("[ldap]\nuris = [\"ldapi:///\"]\nbase_dn = \"dc=x\\ndn: cn=evil\"", "ldap.base_dn"),
            ("[ldap]\nuris = [\"ldapi:///\"]\nbase_dn = \"dc=x\"\ntimeout = 0", "ldap.timeout"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(key), "{text}: {e}");
        }
        // Plain LDAP only to the local socket, then SASL EXTERNAL without a password.
        let c = parse("[ldap]\nuris = [\"ldapi:///\"]\nbase_dn = \"dc=x\"").unwrap();
        assert_eq!(c.ldap.unwrap().bind_dn, None);
    }
}
