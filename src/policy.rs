//! Pure decisions on plain data: who must use a second factor ([`decide`]),
//! what happens to a user who must but has not set it up ([`unenrolled`],
//! [`take_grace`]), the lockout gate and how failures and successes change a
//! [`Tally`]. No I/O, no clock: `now`, the record's state and the user's
//! groups are arguments, so every rule is tested exactly (STYLE.md, "pass `now`").
//! The lockout rules are in `policy/lockout.rs` (re-exported here).
//!
//! The rules, per PAM service (`[policy]` merged with `[services.NAME]`):
//! - a service with `exempt = true` asks nobody (for services that cannot
//!   show a second prompt: the administrator accepts the password alone there);
//! - a disabled record, or membership of an `exempt_groups` group, means the
//!   user is never asked, enrolled or not (an exempt group wins over a required one);
//! - `required` and `required_groups` decide who *must* have a second factor:
//!   `required = false` means nobody must; otherwise, when `required_groups` is
//!   non-empty, only their members must. A user who need not and has no record
//!   passes (PAM_IGNORE);
//! - a user who has an enabled record is always asked for a code unless exempt:
//!   someone who enrolled keeps that protection whatever their groups;
//! - the groups are looked up (NSS) only when a rule needs them; then a user
//!   NSS does not know is refused (fail closed);
//! - a login from a `trusted_networks` network ([`trusted_network`]) is never
//!   asked, enrolled or not, locked or not (checked before the rules above;
//!   the record is still read first, so a broken store still refuses).

mod lockout;

pub use lockout::{
    AfterFailure, Lock, count_attempt, exempt_from_lockout, expire, failures_in_window, lock_of, lock_state,
    record_failure, record_success, unlock,
};

use crate::cidr::{self, Cidr};
use crate::config::PolicyConfig;
use crate::store::tally::Tally;

/// The state of a user's record, as far as the policy is concerned; an
/// enabled record `R` is carried through to [`Decision::Verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordState<R> {
    /// No record, or one without any method.
    Missing,
    /// `twostep disable`: kept, but not used.
    Disabled,
    /// A usable, enabled record.
    Enabled(R),
}

/// Why a login is passed through without asking anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IgnoreReason {
    Disabled,
    ExemptGroup(String),
    /// `[services.NAME] exempt = true`.
    ExemptService,
    NotRequired,
    NotInRequiredGroups,
    /// PAM_RHOST is an address inside this `trusted_networks` entry.
    TrustedNetwork(Cidr),
}

impl IgnoreReason {
    /// The reason as written to the log.
    pub fn describe(&self) -> String {
        match self {
            IgnoreReason::Disabled => "second factor disabled by an administrator".into(),
            IgnoreReason::ExemptGroup(g) => format!("member of exempt group {g}"),
            IgnoreReason::ExemptService => "service exempt ([services.NAME] exempt = true)".into(),
            IgnoreReason::NotRequired => "not enrolled, not required".into(),
            IgnoreReason::NotInRequiredGroups => "not enrolled, not in required_groups".into(),
            IgnoreReason::TrustedNetwork(net) => format!("trusted network {net}"),
        }
    }
}

/// What to do with one login, before any question is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision<R> {
    /// Step aside (PAM_IGNORE) without a word.
    Ignore(IgnoreReason),
    /// Ask for the second factor of this record.
    Verify(R),
    /// Must use a second factor but has none: see [`unenrolled`].
    MustEnroll,
    /// A group rule needs the user's groups, and NSS does not know the user.
    RefuseUnknownUser,
}

/// Whether [`decide`] needs the user's groups; the caller looks them up (NSS) only then.
pub fn needs_groups<R>(p: &PolicyConfig, record: &RecordState<R>) -> bool {
    if p.exempt {
        return false;
    }
    match record {
        RecordState::Disabled => false,
        RecordState::Enabled(_) => !p.exempt_groups.is_empty(),
        RecordState::Missing => !p.exempt_groups.is_empty() || (p.required && !p.required_groups.is_empty()),
    }
}

/// Decides one login. `groups` are the user's group names (primary and
/// supplementary), `None` when NSS does not know the user; it is only looked at
/// when [`needs_groups`] says so.
pub fn decide<R>(p: &PolicyConfig, record: RecordState<R>, groups: Option<&[String]>) -> Decision<R> {
    if p.exempt {
        return Decision::Ignore(IgnoreReason::ExemptService);
    }
    if matches!(record, RecordState::Disabled) {
        return Decision::Ignore(IgnoreReason::Disabled);
    }
    let groups: &[String] = if needs_groups(p, &record) {
        match groups {
            Some(g) => g,
            None => return Decision::RefuseUnknownUser,
        }
    } else {
        &[]
    };
    if let Some(g) = p.exempt_groups.iter().find(|g| groups.contains(g)) {
        return Decision::Ignore(IgnoreReason::ExemptGroup(g.clone()));
    }
    if let RecordState::Enabled(r) = record {
        return Decision::Verify(r);
    }
    if !p.required {
        return Decision::Ignore(IgnoreReason::NotRequired);
    }
    if !p.required_groups.is_empty() && !p.required_groups.iter().any(|g| groups.contains(g)) {
        return Decision::Ignore(IgnoreReason::NotInRequiredGroups);
    }
    Decision::MustEnroll
}

/// The `trusted_networks` entry of `p` that `rhost` (PAM_RHOST) is in, if
/// any: the first that matches. Only a literal IP address can be in one
/// ([`cidr::rhost_address`]); an empty rhost, a host name (sshd with
/// `UseDNS yes`) or a scoped address is in none, so its login is asked as usual.
pub fn trusted_network<'a>(p: &'a PolicyConfig, rhost: &str) -> Option<&'a Cidr> {
    let addr = cidr::rhost_address(rhost)?;
    p.trusted_networks.iter().find(|net| net.contains(addr))
}

/// What happens to a user who must use a second factor and has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unenrolled {
    /// Set it up now (`enroll_at_login`); while grace logins remain
    /// (`skips_left`), the user may put it off, using one.
    Enroll { skips_left: u32 },
    /// Let this login through with a reminder (one grace login is used).
    Grace,
    /// Refuse; `grace_used_up` when grace logins were configured and are gone.
    Refuse { grace_used_up: bool },
}

/// Grace logins left when `grace_used` of `grace_logins` are gone.
pub fn grace_left(p: &PolicyConfig, grace_used: u32) -> u32 {
    p.grace_logins.saturating_sub(grace_used)
}

/// The way forward for a user who must use a second factor and has none.
pub fn unenrolled(p: &PolicyConfig, grace_used: u32) -> Unenrolled {
    let left = grace_left(p, grace_used);
    match (p.enroll_at_login, left > 0) {
        (true, _) => Unenrolled::Enroll { skips_left: left },
        (false, true) => Unenrolled::Grace,
        (false, false) => Unenrolled::Refuse { grace_used_up: p.grace_logins > 0 },
    }
}

/// Uses one grace login (call under the tally lock). Returns how many are left
/// after this one, or `None` when none was left (refuse the login).
pub fn take_grace(t: &mut Tally, p: &PolicyConfig) -> Option<u32> {
    if grace_left(p, t.grace_used) == 0 {
        return None;
    }
    t.grace_used += 1;
    Some(grace_left(p, t.grace_used))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(required: bool, required_groups: &[&str], exempt_groups: &[&str]) -> PolicyConfig {
        PolicyConfig {
            required,
            required_groups: required_groups.iter().map(|g| g.to_string()).collect(),
            exempt_groups: exempt_groups.iter().map(|g| g.to_string()).collect(),
            ..PolicyConfig::default()
        }
    }

    fn groups(names: &[&str]) -> Vec<String> {
        names.iter().map(|g| g.to_string()).collect()
    }

    use RecordState::{Disabled, Missing};
    const ENABLED: RecordState<()> = RecordState::Enabled(());

    #[test]
    fn by_default_everyone_must_and_enrolled_users_are_asked() {
        let p = PolicyConfig::default();
        assert!(!needs_groups::<()>(&p, &Missing) && !needs_groups(&p, &ENABLED));
        assert_eq!(
            decide(&p, Missing::<()>, None),
            Decision::MustEnroll,
            "no lookup, so an unknown user is not refused"
        );
        assert_eq!(decide(&p, ENABLED, None), Decision::Verify(()));
    }

    #[test]
    fn a_disabled_record_is_ignored_without_a_group_lookup() {
        let p = policy(true, &["staff"], &["robots"]);
        assert!(!needs_groups::<()>(&p, &Disabled));
        assert_eq!(decide(&p, Disabled::<()>, None), Decision::Ignore(IgnoreReason::Disabled));
    }

    #[test]
    fn not_required_lets_unenrolled_users_through_but_asks_enrolled_ones() {
        let p = policy(false, &[], &[]);
        assert_eq!(decide(&p, Missing::<()>, None), Decision::Ignore(IgnoreReason::NotRequired));
        assert_eq!(decide(&p, ENABLED, None), Decision::Verify(()));
    }

    #[test]
    fn required_groups_decide_who_must() {
        let p = policy(true, &["staff", "admins"], &[]);
        assert!(needs_groups::<()>(&p, &Missing));
        assert!(!needs_groups(&p, &ENABLED), "enrolled users are asked whatever their groups");
        assert_eq!(decide(&p, Missing::<()>, Some(&groups(&["users", "admins"]))), Decision::MustEnroll);
        assert_eq!(
            decide(&p, Missing::<()>, Some(&groups(&["users"]))),
            Decision::Ignore(IgnoreReason::NotInRequiredGroups)
        );
        assert_eq!(decide(&p, Missing::<()>, Some(&[])), Decision::Ignore(IgnoreReason::NotInRequiredGroups));
        assert_eq!(decide(&p, ENABLED, Some(&groups(&["users"]))), Decision::Verify(()));
    }

    #[test]
    fn required_false_switches_required_groups_off() {
        let p = policy(false, &["staff"], &[]);
        assert!(!needs_groups::<()>(&p, &Missing));
        assert_eq!(decide(&p, Missing::<()>, None), Decision::Ignore(IgnoreReason::NotRequired));
    }

    #[test]
    fn an_exempt_group_wins_over_a_required_one_and_over_a_record() {
        let p = policy(true, &["staff"], &["robots"]);
        let both = groups(&["staff", "robots"]);
        assert_eq!(
            decide(&p, Missing::<()>, Some(&both)),
            Decision::Ignore(IgnoreReason::ExemptGroup("robots".into()))
        );
        assert!(needs_groups(&p, &ENABLED));
        assert_eq!(decide(&p, ENABLED, Some(&both)), Decision::Ignore(IgnoreReason::ExemptGroup("robots".into())));
        assert_eq!(decide(&p, ENABLED, Some(&groups(&["staff"]))), Decision::Verify(()));
        assert_eq!(decide(&p, Missing::<()>, Some(&groups(&["staff"]))), Decision::MustEnroll);
    }

    #[test]
    fn an_exempt_service_asks_nobody_enrolled_or_not_without_a_group_lookup() {
        let p = PolicyConfig { exempt: true, ..policy(true, &["staff"], &["robots"]) };
        for record in [Missing, Disabled, ENABLED] {
            assert!(!needs_groups(&p, &record));
            assert_eq!(decide(&p, record, None), Decision::Ignore(IgnoreReason::ExemptService));
        }
    }

    #[test]
    fn a_user_unknown_to_nss_is_refused_when_a_group_rule_needs_the_lookup() {
        assert_eq!(decide(&policy(true, &["staff"], &[]), Missing::<()>, None), Decision::RefuseUnknownUser);
        assert_eq!(decide(&policy(true, &[], &["robots"]), Missing::<()>, None), Decision::RefuseUnknownUser);
        assert_eq!(decide(&policy(true, &[], &["robots"]), ENABLED, None), Decision::RefuseUnknownUser);
        assert_eq!(decide(&policy(true, &["staff"], &[]), ENABLED, None), Decision::Verify(()));
        assert_eq!(
            decide(&policy(false, &["staff"], &[]), Missing::<()>, None),
            Decision::Ignore(IgnoreReason::NotRequired)
        );
    }

    fn trusting(networks: &[&str]) -> PolicyConfig {
        let trusted_networks = networks.iter().map(|n| n.parse().unwrap()).collect();
        PolicyConfig { trusted_networks, ..PolicyConfig::default() }
    }

    fn trusted_by(p: &PolicyConfig, rhost: &str) -> Option<String> {
        trusted_network(p, rhost).map(|n| n.to_string())
    }

    #[test]
    fn a_literal_address_inside_a_trusted_network_is_trusted_up_to_its_edges() {
        let p = trusting(&["10.20.0.0/16", "2001:db8::/32", "192.0.2.7/32", "2001:db8:ffff::1/128"]);
        for (rhost, net) in [
            ("10.20.0.0", "10.20.0.0/16"),
            ("10.20.255.255", "10.20.0.0/16"),
            ("2001:db8::", "2001:db8::/32"),
            ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db8::/32"),
            ("[2001:db8::1]", "2001:db8::/32"),
            ("192.0.2.7", "192.0.2.7/32"),
            ("::ffff:10.20.1.2", "10.20.0.0/16"),
            ("::ffff:192.0.2.7", "192.0.2.7/32"),
        ] {
            assert_eq!(trusted_by(&p, rhost).as_deref(), Some(net), "{rhost}");
        }
        for rhost in ["10.19.255.255", "10.21.0.0", "192.0.2.6", "192.0.2.8", "2001:db9::", "2001:db7:ffff::1"] {
            assert_eq!(trusted_by(&p, rhost), None, "{rhost}");
        }
    }

    #[test]
    fn the_first_matching_network_is_the_one_named() {
        let p = trusting(&["2001:db8::1/128", "10.0.0.0/8", "10.20.0.0/16"]);
        assert_eq!(trusted_by(&p, "10.20.1.2").as_deref(), Some("10.0.0.0/8"));
    }

    #[test]
    fn slash_zero_trusts_every_address_of_its_family_only() {
        let v4 = trusting(&["0.0.0.0/0"]);
        assert_eq!(trusted_by(&v4, "203.0.113.9").as_deref(), Some("0.0.0.0/0"));
        assert_eq!(trusted_by(&v4, "::ffff:203.0.113.9").as_deref(), Some("0.0.0.0/0"));
        assert_eq!(trusted_by(&v4, "2001:db8::1"), None);
        let v6 = trusting(&["::/0"]);
        assert_eq!(trusted_by(&v6, "2001:db8::1").as_deref(), Some("::/0"));
        assert_eq!(trusted_by(&v6, "203.0.113.9"), None);
        assert_eq!(trusted_by(&v6, "::ffff:203.0.113.9"), None, "a mapped address is an IPv4 client");
    }

    #[test]
    fn host_names_empty_and_scoped_rhosts_are_never_trusted() {
        let p = trusting(&["0.0.0.0/0", "::/0"]);
        for rhost in ["", "localhost", "office.example.org", "fe80::1%eth0", "10.20.1.2:22", "[10.20.1.2]", "10.20.1"] {
            assert_eq!(trusted_by(&p, rhost), None, "{rhost:?}");
        }
        assert_eq!(trusted_by(&PolicyConfig::default(), "10.20.1.2"), None, "no networks, nobody trusted");
    }

    #[test]
    fn a_trusted_network_is_logged_with_its_prefix() {
        let net = "10.20.0.0/16".parse().unwrap();
        assert_eq!(IgnoreReason::TrustedNetwork(net).describe(), "trusted network 10.20.0.0/16");
    }

    #[test]
    fn grace_logins_count_down_then_refuse() {
        let p = PolicyConfig { grace_logins: 3, ..PolicyConfig::default() };
        let mut t = Tally::default();
        assert_eq!(unenrolled(&p, t.grace_used), Unenrolled::Grace);
        assert_eq!(take_grace(&mut t, &p), Some(2));
        assert_eq!(take_grace(&mut t, &p), Some(1));
        assert_eq!(take_grace(&mut t, &p), Some(0));
        assert_eq!(t.grace_used, 3);
        assert_eq!(unenrolled(&p, t.grace_used), Unenrolled::Refuse { grace_used_up: true });
        assert_eq!(take_grace(&mut t, &p), None);
        assert_eq!(t.grace_used, 3, "a refused login uses nothing");
    }

    #[test]
    fn no_grace_means_refused_at_once() {
        let p = PolicyConfig::default();
        assert_eq!(unenrolled(&p, 0), Unenrolled::Refuse { grace_used_up: false });
        assert_eq!(take_grace(&mut Tally::default(), &p), None);
    }

    #[test]
    fn lowering_grace_logins_below_what_was_used_refuses() {
        let p = PolicyConfig { grace_logins: 2, ..PolicyConfig::default() };
        assert_eq!(grace_left(&p, 5), 0);
        assert_eq!(unenrolled(&p, 5), Unenrolled::Refuse { grace_used_up: true });
    }

    #[test]
    fn enrollment_at_login_may_be_skipped_only_while_grace_remains() {
        let p = PolicyConfig { enroll_at_login: true, grace_logins: 1, ..PolicyConfig::default() };
        assert_eq!(unenrolled(&p, 0), Unenrolled::Enroll { skips_left: 1 });
        assert_eq!(unenrolled(&p, 1), Unenrolled::Enroll { skips_left: 0 });
        let p = PolicyConfig { enroll_at_login: true, ..PolicyConfig::default() };
        assert_eq!(unenrolled(&p, 0), Unenrolled::Enroll { skips_left: 0 });
    }
}
