//! Stage 2 of the config: [`super::raw`] with the defaults of the contract
//! (DESIGN.md) applied and every range checked; each error names the key and
//! says how to fix it.

use std::collections::BTreeMap;
use std::path::Path;

use super::issuer::{check_issuer, host_name, issuer_from_host};
use super::ldap;
use super::policy::{PolicyConfig, check_enroll_methods};
use super::raw::RawConfig;
use super::{Backend, Config, ConfigError, EmailConfig, LockoutConfig, SmsConfig, TotpConfig};
use crate::address::parse_sender;

impl Config {
    /// The validated config of `raw`, read from `path` (for messages).
    pub(super) fn from_raw(path: &Path, raw: RawConfig) -> Result<Config, ConfigError> {
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

        let (secrets_dir, tally_dir) = (secrets_dir.into(), tally_dir.into());
        Ok(Config { issuer, secrets_dir, tally_dir, totp, lockout, email, sms, policy, services, backend, ldap })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigError};
    use std::path::Path;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("/etc/security/twostep.toml"), text)
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
}
