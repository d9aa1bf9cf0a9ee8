//! Stage 1 of the config: the file as written, every key optional and
//! unknown keys refused by serde ([`super::validate`] is stage 2).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::enroll_method::EnrollMethod;
use super::ldap::{RawLdap, RawStore};
use crate::cidr::Cidr;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) issuer: Option<String>,
    pub(super) secrets_dir: Option<PathBuf>,
    pub(super) tally_dir: Option<PathBuf>,
    pub(super) totp: Option<RawTotp>,
    pub(super) lockout: Option<RawLockout>,
    pub(super) email: Option<RawEmail>,
    pub(super) sms: Option<RawSms>,
    pub(super) policy: Option<RawPolicy>,
    pub(super) services: Option<BTreeMap<String, RawPolicy>>,
    pub(super) store: Option<RawStore>,
    pub(super) ldap: Option<RawLdap>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTotp {
    pub(super) digits: Option<u32>,
    pub(super) period: Option<u64>,
    pub(super) skew: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLockout {
    pub(super) deny: Option<u32>,
    pub(super) fail_interval: Option<u64>,
    pub(super) unlock_time: Option<u64>,
    pub(super) even_deny_root: Option<bool>,
    pub(super) answer_timeout: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEmail {
    pub(super) command: Option<Vec<String>>,
    pub(super) from: Option<String>,
    pub(super) code_valid: Option<u64>,
    pub(super) resend_after: Option<u64>,
    pub(super) timeout: Option<u64>,
    pub(super) address_template: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSms {
    pub(super) command: Option<Vec<String>>,
    pub(super) code_valid: Option<u64>,
    pub(super) resend_after: Option<u64>,
    pub(super) timeout: Option<u64>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPolicy {
    pub(super) required: Option<bool>,
    pub(super) grace_logins: Option<u32>,
    pub(super) enroll_at_login: Option<bool>,
    pub(super) enroll_methods: Option<Vec<EnrollMethod>>,
    pub(super) required_groups: Option<Vec<String>>,
    pub(super) exempt_groups: Option<Vec<String>>,
    pub(super) trusted_networks: Option<Vec<Cidr>>,
    /// Only in `[services.NAME]`.
    pub(super) exempt: Option<bool>,
}
