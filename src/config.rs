//! `/etc/security/twostep.toml`: read, checked and turned into a [`Config`].
//!
//! Two stages, as in ripgrep: [`RawConfig`] mirrors the file with every key
//! optional and unknown keys rejected by serde; [`Config::from_raw`] applies the
//! defaults of the contract (DESIGN.md) and validates ranges. The file itself
//! must be a regular file owned by root and not writable by group or others
//! (checked by [`crate::trusted_fs`]). Every error names the file and says how to fix it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::address::{Sender, parse_sender};
pub mod error;
pub mod ldap;

pub use crate::cidr::Cidr;
use crate::trusted_fs::{self, FsError, Trust};
pub use error::ConfigError;
pub use ldap::{Backend, LdapConfig};

/// Where the module and the admin command look when no `config=PATH` is given.
pub const DEFAULT_PATH: &str = "/etc/security/twostep.toml";

// ---- stage 1: the file as written ----

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    issuer: Option<String>,
    secrets_dir: Option<PathBuf>,
    tally_dir: Option<PathBuf>,
    totp: Option<RawTotp>,
    lockout: Option<RawLockout>,
    email: Option<RawEmail>,
    sms: Option<RawSms>,
    policy: Option<RawPolicy>,
    services: Option<BTreeMap<String, RawPolicy>>,
    store: Option<ldap::RawStore>,
    ldap: Option<ldap::RawLdap>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTotp {
    digits: Option<u32>,
    period: Option<u64>,
    skew: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLockout {
    deny: Option<u32>,
    fail_interval: Option<u64>,
    unlock_time: Option<u64>,
    even_deny_root: Option<bool>,
    answer_timeout: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmail {
    command: Option<Vec<String>>,
    from: Option<String>,
    code_valid: Option<u64>,
    resend_after: Option<u64>,
    timeout: Option<u64>,
    address_template: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSms {
    command: Option<Vec<String>>,
    code_valid: Option<u64>,
    resend_after: Option<u64>,
    timeout: Option<u64>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    required: Option<bool>,
    grace_logins: Option<u32>,
    enroll_at_login: Option<bool>,
    enroll_methods: Option<Vec<EnrollMethod>>,
    required_groups: Option<Vec<String>>,
    exempt_groups: Option<Vec<String>>,
    trusted_networks: Option<Vec<Cidr>>,
    /// Only in `[services.NAME]`.
    exempt: Option<bool>,
}

// ---- stage 2: validated, defaults applied ----

/// The whole validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub issuer: String,
    pub secrets_dir: PathBuf,
    pub tally_dir: PathBuf,
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyConfig {
    pub required: bool,
    pub grace_logins: u32,
    pub enroll_at_login: bool,
    /// What a user may choose at enrollment at login, in the order offered
    /// (never empty, no repeats; `text` only with `[sms] command`).
    pub enroll_methods: Vec<EnrollMethod>,
    pub required_groups: Vec<String>,
    pub exempt_groups: Vec<String>,
    /// Logins from these networks (PAM_RHOST a literal address) are never
    /// asked for a code; a `[services.NAME]` list replaces this one.
    pub trusted_networks: Vec<Cidr>,
    /// `[services.NAME] exempt = true`: logins through that service are never
    /// asked, enrolled or not (for services that cannot show a second prompt).
    pub exempt: bool,
}

/// A way to set up two-step verification at login (`[policy] enroll_methods`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnrollMethod {
    /// An authenticator app: the QR code and one confirming code.
    App,
    /// A mobile number the user types, confirmed with a code sent to it.
    Text,
    /// An email address the user types, confirmed with a code sent to it.
    Email,
}

impl EnrollMethod {
    /// The word the user types to choose it (and the word in the config).
    pub fn word(self) -> &'static str {
        match self {
            EnrollMethod::App => "app",
            EnrollMethod::Text => "text",
            EnrollMethod::Email => "email",
        }
    }
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            required: true,
            grace_logins: 0,
            enroll_at_login: false,
            enroll_methods: vec![EnrollMethod::App],
            required_groups: Vec::new(),
            exempt_groups: Vec::new(),
            trusted_networks: Vec::new(),
            exempt: false,
        }
    }
}

impl PolicyConfig {
    fn merged(&self, raw: RawPolicy) -> PolicyConfig {
        PolicyConfig {
            required: raw.required.unwrap_or(self.required),
            grace_logins: raw.grace_logins.unwrap_or(self.grace_logins),
            enroll_at_login: raw.enroll_at_login.unwrap_or(self.enroll_at_login),
            enroll_methods: raw.enroll_methods.unwrap_or_else(|| self.enroll_methods.clone()),
            required_groups: raw.required_groups.unwrap_or_else(|| self.required_groups.clone()),
            exempt_groups: raw.exempt_groups.unwrap_or_else(|| self.exempt_groups.clone()),
            trusted_networks: raw.trusted_networks.unwrap_or_else(|| self.trusted_networks.clone()),
            exempt: raw.exempt.unwrap_or(self.exempt),
        }
    }
}

/// `enroll_methods` must name something, each method once, and `text` only
/// when texts can be sent.
fn check_enroll_methods(methods: &[EnrollMethod], sms: &SmsConfig) -> Result<(), &'static str> {
    if methods.is_empty() {
        return Err("must name at least one of \"app\", \"text\", \"email\"");
    }
    if methods.iter().enumerate().any(|(i, m)| methods[..i].contains(m)) {
        return Err("names a method twice");
    }
    if methods.contains(&EnrollMethod::Text) && !sms.enabled() {
        return Err("has \"text\", but [sms] command is not set: set it, or remove \"text\"");
    }
    Ok(())
}

impl Config {
    /// Reads and validates the configuration at `path`; a missing file is an error.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let bytes =
            trusted_fs::read_trusted(path, Trust::Protected(trusted_fs::Owner::ROOT), trusted_fs::MAX_CONFIG_FILE)
                .map_err(ConfigError::File)?
                .ok_or_else(|| ConfigError::File(FsError::Missing(path.to_path_buf())))?;
        let text = String::from_utf8(bytes).map_err(|_| ConfigError::Parse {
            path: path.to_path_buf(),
            message: "the file is not valid UTF-8".into(),
        })?;
        Config::parse(path, &text)
    }

    /// Parses configuration text; `path` is only used in messages.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = crate::toml_fast::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().replace('\n', " "),
        })?;
        Config::from_raw(path, raw)
    }

    fn from_raw(path: &Path, raw: RawConfig) -> Result<Config, ConfigError> {
        let invalid = |key: &'static str, message: &str| ConfigError::Invalid {
            path: path.to_path_buf(),
            key,
            message: message.to_string(),
        };
        let totp = raw.totp.unwrap_or_default();
        let lockout = raw.lockout.unwrap_or_default();
        let email = raw.email.unwrap_or_default();
        let raw_policy = raw.policy.unwrap_or_default();
        if raw_policy.exempt.is_some() {
            return Err(invalid(
                "policy.exempt",
                "is only allowed in a [services.NAME] table (to turn twostep off, take it out of the PAM stack)",
            ));
        }
        let policy = PolicyConfig::default().merged(raw_policy);

        let issuer = match raw.issuer {
            Some(issuer) => {
                check_issuer(&issuer).map_err(|message| invalid("issuer", message))?;
                issuer
            }
            None => issuer_from_host(host_name()).map_err(|message| invalid("issuer", &message))?,
        };
        let secrets_dir = raw.secrets_dir.unwrap_or_else(|| "/var/lib/twostep/secrets".into());
        let tally_dir = raw.tally_dir.unwrap_or_else(|| "/var/lib/twostep/tally".into());
        if !secrets_dir.is_absolute() {
            return Err(invalid("secrets_dir", "must be an absolute path"));
        }
        if !tally_dir.is_absolute() {
            return Err(invalid("tally_dir", "must be an absolute path"));
        }
        if secrets_dir == tally_dir {
            return Err(invalid("tally_dir", "must differ from secrets_dir"));
        }

        let totp = TotpConfig {
            digits: totp.digits.unwrap_or(6),
            period: totp.period.unwrap_or(30),
            skew: totp.skew.unwrap_or(1),
        };
        if !(6..=8).contains(&totp.digits) {
            return Err(invalid("totp.digits", "must be 6, 7 or 8"));
        }
        if !(10..=300).contains(&totp.period) {
            return Err(invalid("totp.period", "must be between 10 and 300 seconds (authenticator apps use 30)"));
        }
        if totp.skew > 10 {
            return Err(invalid("totp.skew", "must be between 0 and 10 steps"));
        }

        let lockout = LockoutConfig {
            deny: lockout.deny.unwrap_or(5),
            fail_interval: lockout.fail_interval.unwrap_or(1800),
            unlock_time: lockout.unlock_time.unwrap_or(1800),
            even_deny_root: lockout.even_deny_root.unwrap_or(true),
            answer_timeout: lockout.answer_timeout.unwrap_or(300),
        };
        if !(10..=3600).contains(&lockout.answer_timeout) {
            return Err(invalid("lockout.answer_timeout", "must be between 10 and 3600 seconds"));
        }
        if lockout.deny > 1000 {
            return Err(invalid("lockout.deny", "must be at most 1000 (0 disables the lockout)"));
        }
        if lockout.deny > 0 && lockout.fail_interval == 0 {
            return Err(invalid("lockout.fail_interval", "must be at least 1 second"));
        }

        let email = EmailConfig {
            command: email.command.unwrap_or_else(|| vec!["/usr/sbin/sendmail".into(), "-t".into(), "-i".into()]),
            // Empty (the shipped file): the default, from the host's mail domain.
            from: match email.from.as_deref().filter(|f| !f.is_empty()).map(parse_sender) {
                None => None,
                Some(Ok(sender)) => Some(sender),
                Some(Err(why)) => return Err(invalid("email.from", &why.to_string())),
            },
            code_valid: email.code_valid.unwrap_or(600),
            resend_after: email.resend_after.unwrap_or(300),
            timeout: email.timeout.unwrap_or(10),
            address_template: email.address_template.unwrap_or_default(),
        };
        match email.command.first() {
            Some(prog) if Path::new(prog).is_absolute() => {}
            _ => {
                return Err(invalid(
                    "email.command",
                    "must be a non-empty list starting with an absolute program path",
                ));
            }
        }
        if email.command.iter().any(|a| a.contains('\0')) {
            return Err(invalid("email.command", "must not contain NUL bytes"));
        }
        if !(60..=86400).contains(&email.code_valid) {
            return Err(invalid("email.code_valid", "must be between 60 and 86400 seconds"));
        }
        if email.resend_after > email.code_valid {
            return Err(invalid("email.resend_after", "must not be longer than email.code_valid"));
        }
        if !(1..=300).contains(&email.timeout) {
            return Err(invalid("email.timeout", "must be between 1 and 300 seconds"));
        }
        if !email.address_template.is_empty()
            && (!email.address_template.contains("{user}") || !email.address_template.contains('@'))
        {
            return Err(invalid(
                "email.address_template",
                "must contain {user} and an @, e.g. \"{user}@district.org\"",
            ));
        }

        let sms = raw.sms.unwrap_or_default();
        let sms = SmsConfig {
            command: sms.command.unwrap_or_default(),
            code_valid: sms.code_valid.unwrap_or(600),
            resend_after: sms.resend_after.unwrap_or(60),
            timeout: sms.timeout.unwrap_or(10),
        };
        if sms.command.first().is_some_and(|prog| !Path::new(prog).is_absolute()) {
            return Err(invalid(
                "sms.command",
                "must be empty (no text messages) or start with an absolute program path",
            ));
        }
        if sms.command.iter().any(|a| a.contains('\0')) {
            return Err(invalid("sms.command", "must not contain NUL bytes"));
        }
        if sms.enabled() && !sms.command[1..].iter().any(|a| a.contains("{phone}")) {
            return Err(invalid("sms.command", "must pass the number: put {phone} in one of its arguments"));
        }
        if !(60..=86400).contains(&sms.code_valid) {
            return Err(invalid("sms.code_valid", "must be between 60 and 86400 seconds"));
        }
        if sms.resend_after > sms.code_valid {
            return Err(invalid("sms.resend_after", "must not be longer than sms.code_valid"));
        }
        if !(1..=300).contains(&sms.timeout) {
            return Err(invalid("sms.timeout", "must be between 1 and 300 seconds"));
        }

        let mut services = BTreeMap::new();
        for (name, raw_policy) in raw.services.unwrap_or_default() {
            services.insert(name, policy.merged(raw_policy));
        }
        for p in std::iter::once(&policy).chain(services.values()) {
            check_enroll_methods(&p.enroll_methods, &sms).map_err(|why| invalid("policy.enroll_methods", why))?;
        }

        let backend = ldap::backend(path, raw.store)?;
        let ldap = ldap::ldap(path, raw.ldap)?;
        if backend == Backend::Ldap && ldap.is_none() {
            return Err(invalid("store.backend", "is \"ldap\", but there is no [ldap] table"));
        }

        Ok(Config { issuer, secrets_dir, tally_dir, totp, lockout, email, sms, policy, services, backend, ldap })
    }

    /// The policy that applies to logins through PAM service `service`.
    pub fn policy_for(&self, service: &str) -> &PolicyConfig {
        self.services.get(service).unwrap_or(&self.policy)
    }
}

/// Why `issuer` cannot label an authenticator entry, if it cannot.
fn check_issuer(issuer: &str) -> Result<(), &'static str> {
    if issuer.trim().is_empty() || issuer.len() > 100 {
        return Err("must be 1 to 100 characters");
    }
    if issuer.contains(':') || issuer.chars().any(char::is_control) {
        return Err(
            "must not contain ':' or control characters (authenticator apps use ':' to separate issuer and user)",
        );
    }
    Ok(())
}

/// The host's name (gethostname), `None` when it cannot be had as text.
fn host_name() -> Option<String> {
    nix::unistd::gethostname().ok()?.into_string().ok()
}

/// The issuer when `issuer` is not set: the host's name, as google-authenticator
/// labels its entries, so that entries from different servers tell apart. A host
/// name that cannot be an issuer is an error asking for `issuer` to be set.
fn issuer_from_host(host: Option<String>) -> Result<String, String> {
    let fix = "set issuer = \"Your District\" (the name users should see in their authenticator app)";
    match host {
        Some(host) if host != "(none)" => match check_issuer(&host) {
            Ok(()) => Ok(host),
            Err(why) => Err(format!(
                "is not set, and the host name \"{}\" cannot stand in for it (it {why}); {fix}",
                crate::user::for_terminal(&host)
            )),
        },
        _ => Err(format!("is not set, and this host has no name to use in its place; {fix}")),
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
        assert_eq!(c.secrets_dir, Path::new("/var/lib/twostep/secrets"));
        assert_eq!(c.tally_dir, Path::new("/var/lib/twostep/tally"));
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
    fn a_host_name_that_cannot_be_an_issuer_asks_for_the_issuer_to_be_set() {
        assert_eq!(issuer_from_host(Some("web-1".into())), Ok("web-1".to_string()));
        for host in [None, Some("(none)".to_string()), Some("a:b".to_string()), Some(String::new())] {
            let e = issuer_from_host(host.clone()).unwrap_err();
            assert!(e.starts_with("is not set, and ") && e.contains("set issuer = \"Your District\""), "{host:?}: {e}");
        }
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
        assert_eq!(c.secrets_dir, Path::new("/srv/s"));
        assert_eq!(c.tally_dir, Path::new("/srv/t"));
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
    fn out_of_range_values_are_refused() {
        for (text, key) in [
            ("[totp]\ndigits = 5", "totp.digits"),
            ("[totp]\ndigits = 10", "totp.digits"),
            ("[totp]\nperiod = 0", "totp.period"),
            ("[totp]\nskew = 100", "totp.skew"),
            ("issuer = \"a:b\"", "issuer"),
            ("issuer = \"\"", "issuer"),
            ("secrets_dir = \"relative\"", "secrets_dir"),
            ("tally_dir = \"/var/lib/twostep/secrets\"", "tally_dir"),
            ("[email]\ncommand = []", "email.command"),
            ("[email]\ncommand = [\"sendmail\"]", "email.command"),
            ("[email]\nfrom = \"nobody\"", "email.from"),
            ("[email]\nfrom = \"IT <it@d.org>\\r\\nBcc: x@y.z\"", "email.from"),
            ("[email]\nfrom = \"A <a@d.org>, B <b@d.org>\"", "email.from"),
            ("[email]\nresend_after = 900", "email.resend_after"),
            ("[email]\ntimeout = 0", "email.timeout"),
            ("[email]\naddress_template = \"district.org\"", "email.address_template"),
            ("[lockout]\nfail_interval = 0", "lockout.fail_interval"),
            ("[sms]\ncommand = [\"sms-send\", \"{phone}\"]", "sms.command"),
            ("[sms]\ncommand = [\"/usr/bin/sms-send\"]", "sms.command"),
            ("[sms]\ncommand = [\"/usr/bin/sms-send\", \"to\"]", "sms.command"),
            ("[sms]\ncode_valid = 30", "sms.code_valid"),
            ("[sms]\nresend_after = 700", "sms.resend_after"),
            ("[sms]\ntimeout = 301", "sms.timeout"),
            ("[sms]\nphone = 1", "phone"),
            ("[lockout]\nanswer_timeout = 5", "lockout.answer_timeout"),
            ("[policy]\nexempt = true", "policy.exempt"),
            ("[policy]\nenroll_methods = []", "policy.enroll_methods"),
            ("[policy]\nenroll_methods = [\"app\", \"app\"]", "policy.enroll_methods"),
            ("[policy]\nenroll_methods = [\"app\", \"text\"]", "policy.enroll_methods"),
            ("[services.sshd]\nenroll_methods = [\"text\"]", "policy.enroll_methods"),
            ("[policy]\nenroll_methods = [\"sms\"]", "enroll_methods"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn enroll_methods_default_to_the_app_alone_and_a_service_may_offer_more() {
        let c = parse("").unwrap();
        assert_eq!(c.policy.enroll_methods, [EnrollMethod::App]);
        let c = parse(
            "[sms]\ncommand = [\"/usr/bin/sms-send\", \"{phone}\"]\n\
             [policy]\nenroll_methods = [\"email\", \"app\"]\n\
             [services.sshd]\nenroll_methods = [\"app\", \"text\", \"email\"]\n[services.su]\nrequired = true\n",
        )
        .unwrap();
        assert_eq!(c.policy.enroll_methods, [EnrollMethod::Email, EnrollMethod::App], "in the order given");
        assert_eq!(c.policy_for("sshd").enroll_methods, [EnrollMethod::App, EnrollMethod::Text, EnrollMethod::Email]);
        assert_eq!(c.policy_for("su").enroll_methods, c.policy.enroll_methods, "inherited");
    }

    #[test]
    fn trusted_networks_are_parsed_and_a_service_list_replaces_the_policy_list() {
        let c = parse(
            "[policy]\ntrusted_networks = [\"10.20.0.0/16\", \"2001:db8::/32\"]\n\
             [services.sshd]\ntrusted_networks = [\"192.0.2.0/24\"]\n\
             [services.su]\ntrusted_networks = []\n[services.login]\nrequired = false\n",
        )
        .unwrap();
        let shown = |p: &PolicyConfig| p.trusted_networks.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert_eq!(shown(&c.policy), ["10.20.0.0/16", "2001:db8::/32"]);
        assert_eq!(shown(c.policy_for("sshd")), ["192.0.2.0/24"], "replaced, not extended");
        assert!(c.policy_for("su").trusted_networks.is_empty(), "an empty list turns it off for su");
        assert_eq!(shown(c.policy_for("login")), shown(&c.policy), "inherited when not set");
        assert!(parse("").unwrap().policy.trusted_networks.is_empty());
    }

    #[test]
    fn a_bad_trusted_network_is_an_error_naming_the_key_and_the_value() {
        for (text, value) in [
            ("[policy]\ntrusted_networks = [\"10.20.0.0/33\"]", "10.20.0.0/33"),
            ("[policy]\ntrusted_networks = [\n  \"10.0.0.0/8\",\n  \"office.example.org\",\n]", "office.example.org"),
            ("[services.sshd]\ntrusted_networks = [\"10.20.1.0/16\"]", "10.20.1.0/16"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains("/etc/security/twostep.toml"), "{e}");
            assert!(e.contains(&format!("trusted_networks: \"{value}\" is not a network")), "{e}");
        }
        assert!(parse("[policy]\ntrusted_networks = \"10.0.0.0/8\"").is_err(), "a list, not a string");
    }

    #[test]
    fn wrong_types_and_broken_syntax_are_reported() {
        assert!(parse("[totp]\ndigits = \"six\"").is_err());
        assert!(parse("issuer = ").is_err());
        assert!(parse("[policy]\nrequired = 1").is_err());
    }
}
