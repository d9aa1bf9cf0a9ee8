//! `/etc/security/twostep.toml`: read, checked and turned into a [`Config`].
//!
//! Two stages, as in ripgrep: [`raw`] mirrors the file with every key
//! optional and unknown keys rejected by serde; [`validate`] applies the
//! defaults of the contract (DESIGN.md) and validates ranges. The file itself
//! must be a regular file owned by root and not writable by group or others
//! (checked by [`crate::trusted_fs`]). Every error names the file and says how to fix it.
//!
//! - this file: the validated [`Config`] and its tables, and reading the file;
//! - [`raw`]: stage 1, the file as written;
//! - [`validate`]: stage 2, defaults applied and ranges checked;
//! - [`policy`]: the `[policy]` table and each `[services.NAME]` merged over it;
//! - [`enroll_method`]: what `enroll_methods` may name;
//! - [`issuer`]: the `issuer` key and its default, the host's name;
//! - [`ldap`]: the `[store]` and `[ldap]` tables;
//! - [`error`]: the one error type, [`ConfigError`];
//! - [`cache`]: the compiled copy a login reads instead of the file.

pub mod cache;
mod enroll_method;
pub mod error;
mod issuer;
pub mod ldap;
mod policy;
mod raw;
mod validate;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::address::Sender;
pub use crate::cidr::Cidr;
use crate::trusted_fs;
pub use enroll_method::EnrollMethod;
pub use error::ConfigError;
pub use ldap::{Backend, LdapConfig};
pub use policy::PolicyConfig;
use raw::RawConfig;

/// Where the module and the admin command look when no `config=PATH` is given.
pub const DEFAULT_PATH: &str = "/etc/security/twostep.toml";

// ---- stage 2: validated, defaults applied ----

/// The whole validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub issuer: String,
    /// Shared with the store a login opens (no copy of the path).
    pub secrets_dir: Arc<Path>,
    pub tally_dir: Arc<Path>,
    pub totp: TotpConfig,
    pub lockout: LockoutConfig,
    pub email: EmailConfig,
    pub sms: SmsConfig,
    /// The `[policy]` table.
    pub policy: PolicyConfig,
    /// `[services.NAME]` tables, already merged over `[policy]`.
    pub services: BTreeMap<String, PolicyConfig>,
    /// `[store] backend`: files (the default) or the `[ldap]` directory.
    pub backend: Backend,
    /// `[ldap]`, when present (required by `backend = "ldap"`).
    pub ldap: Option<LdapConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TotpConfig {
    pub digits: u32,
    pub period: u64,
    pub skew: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutConfig {
    /// Failed codes that lock the user; 0 disables the lockout.
    pub deny: u32,
    pub fail_interval: u64,
    /// Seconds a lock lasts; 0 means until an administrator runs `twostep unlock`.
    pub unlock_time: u64,
    pub even_deny_root: bool,
    /// Seconds an answer may take after its prompt; a later answer is refused
    /// without being judged (and not counted).
    pub answer_timeout: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailConfig {
    pub command: Vec<String>,
    /// `None`: not set, the sender comes from the host
    /// ([`crate::sendmail::sender`]).
    pub from: Option<Sender>,
    pub code_valid: u64,
    pub resend_after: u64,
    pub timeout: u64,
    /// Empty, or contains `{user}`.
    pub address_template: String,
}

/// `[sms]`: codes by text message through a site-chosen command ([`crate::sms`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsConfig {
    /// Empty: text messages are off. Else an absolute program and its
    /// arguments; `{phone}` in an argument becomes the E.164 number.
    pub command: Vec<String>,
    pub code_valid: u64,
    pub resend_after: u64,
    pub timeout: u64,
}

impl SmsConfig {
    /// Whether codes can be sent by text at all.
    pub fn enabled(&self) -> bool {
        !self.command.is_empty()
    }
}

impl Config {
    /// Reads and validates the configuration at `path`; a missing file is an error.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Ok(cache::load_with(path, None, trusted_fs::Owner::ROOT)?.0)
    }

    /// Parses configuration text; `path` is only used in messages.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        Ok(Config::parse_noting_issuer(path, text)?.0)
    }

    /// [`Config::parse`], also saying whether the issuer is the host's name
    /// (`issuer` not set).
    fn parse_noting_issuer(path: &Path, text: &str) -> Result<(Config, bool), ConfigError> {
        let raw: RawConfig = crate::toml_fast::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().replace('\n', " "),
        })?;
        let from_host = raw.issuer.is_none();
        Ok((Config::from_raw(path, raw)?, from_host))
    }

    /// The policy that applies to logins through PAM service `service`.
    pub fn policy_for(&self, service: &str) -> &PolicyConfig {
        self.services.get(service).unwrap_or(&self.policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("/etc/security/twostep.toml"), text)
    }

    #[test]
    fn an_empty_file_gives_the_documented_defaults() {
        let c = parse("").unwrap();
        // The host's name, read here from procfs rather than the call the code makes.
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(c.issuer, host.trim_end_matches('\n'));
        assert_eq!(&*c.secrets_dir, Path::new("/var/lib/twostep/secrets"));
        assert_eq!(&*c.tally_dir, Path::new("/var/lib/twostep/tally"));
        assert_eq!(c.totp, TotpConfig { digits: 6, period: 30, skew: 1 });
        assert_eq!(
            c.lockout,
            LockoutConfig {
                deny: 5,
                fail_interval: 1800,
                unlock_time: 1800,
                even_deny_root: true,
                answer_timeout: 300
            }
        );
        assert_eq!(c.email.command, ["/usr/sbin/sendmail", "-t", "-i"]);
        assert_eq!((c.email.code_valid, c.email.resend_after, c.email.timeout), (600, 300, 10));
        assert_eq!(c.email.from, None, "from the host: sendmail::sender");
        assert_eq!(parse("[email]\nfrom = \"\"").unwrap().email.from, None, "empty is the default");
        assert_eq!(c.email.address_template, "");
        assert_eq!(c.sms, SmsConfig { command: vec![], code_valid: 600, resend_after: 60, timeout: 10 });
        assert!(!c.sms.enabled());
        assert_eq!(c.policy, PolicyConfig::default());
        assert!(c.policy.required);
        assert_eq!(c.policy.grace_logins, 0);
        assert!(c.services.is_empty());
    }

    #[test]
    fn every_default_can_be_overridden() {
        let c = parse(
            r#"
issuer = "Example School District"
secrets_dir = "/srv/s"
tally_dir = "/srv/t"
[totp]
digits = 8
period = 60
skew = 0
[lockout]
deny = 3
fail_interval = 60
unlock_time = 0
even_deny_root = false
answer_timeout = 60
[email]
command = ["/usr/bin/msmtp", "-t"]
from = "District IT <2fa@district.org>"
code_valid = 300
resend_after = 60
timeout = 5
address_template = "{user}@district.org"
[sms]
command = ["/usr/libexec/twostep/sms-http-gateway", "/etc/twostep/sms-gateway.curlrc", "{phone}"]
code_valid = 300
resend_after = 120
timeout = 20
[policy]
required = false
grace_logins = 3
enroll_at_login = true
required_groups = ["staff"]
exempt_groups = ["robots"]
[services.sshd]
required = true
[services.dovecot]
exempt = true
"#,
        )
        .unwrap();
        assert_eq!(c.issuer, "Example School District");
        assert_eq!(&*c.secrets_dir, Path::new("/srv/s"));
        assert_eq!(&*c.tally_dir, Path::new("/srv/t"));
        assert_eq!(c.totp, TotpConfig { digits: 8, period: 60, skew: 0 });
        assert_eq!(
            c.lockout,
            LockoutConfig { deny: 3, fail_interval: 60, unlock_time: 0, even_deny_root: false, answer_timeout: 60 }
        );
        assert_eq!(c.email.command, ["/usr/bin/msmtp", "-t"]);
        let from = Sender { name: Some("District IT".into()), address: "2fa@district.org".into() };
        assert_eq!(c.email.from, Some(from));
        assert_eq!((c.email.code_valid, c.email.resend_after, c.email.timeout), (300, 60, 5));
        assert_eq!(c.email.address_template, "{user}@district.org");
        assert_eq!(c.sms.command[2], "{phone}");
        assert_eq!((c.sms.code_valid, c.sms.resend_after, c.sms.timeout), (300, 120, 20));
        assert!(c.sms.enabled());
        assert!(!c.policy.required);
        assert_eq!(c.policy.grace_logins, 3);
        assert!(c.policy.enroll_at_login);
        assert_eq!(c.policy.required_groups, ["staff"]);
        assert_eq!(c.policy.exempt_groups, ["robots"]);
        let sshd = c.policy_for("sshd");
        assert!(sshd.required, "service table overrides [policy]");
        assert_eq!(sshd.grace_logins, 3, "keys not set in the service table come from [policy]");
        assert!(!c.policy_for("login").required);
        assert!(c.policy_for("dovecot").exempt && !sshd.exempt && !c.policy.exempt);
    }

    #[test]
    fn unknown_keys_are_named_with_the_file() {
        let e = parse("[totp]\ndigit = 6\n").unwrap_err().to_string();
        assert!(e.contains("/etc/security/twostep.toml") && e.contains("digit"), "{e}");
        let e = parse("isuer = \"x\"\n").unwrap_err().to_string();
        assert!(e.contains("isuer"), "{e}");
        let e = parse("[services.sshd]\ndeny = 1\n").unwrap_err().to_string();
        assert!(e.contains("deny"), "{e}");
    }

    #[test]
    fn wrong_types_and_broken_syntax_are_reported() {
        assert!(parse("[totp]\ndigits = \"six\"").is_err());
        assert!(parse("issuer = ").is_err());
        assert!(parse("[policy]\nrequired = 1").is_err());
    }
}
