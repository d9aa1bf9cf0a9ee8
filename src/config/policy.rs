//! The `[policy]` table ([`PolicyConfig`]), each `[services.NAME]` table
//! merged over it, and what `enroll_methods` may hold.

use super::SmsConfig;
use super::enroll_method::EnrollMethod;
use super::raw::RawPolicy;
use crate::cidr::Cidr;

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
    pub(super) fn merged(&self, raw: RawPolicy) -> PolicyConfig {
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
pub(super) fn check_enroll_methods(methods: &[EnrollMethod], sms: &SmsConfig) -> Result<(), &'static str> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, ConfigError};
    use std::path::Path;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("/etc/security/twostep.toml"), text)
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
}
