//! Pure decisions on plain data: who must use a second factor ([`decide`]),
//! what happens to a user who must but has not set it up ([`unenrolled`],
//! [`take_grace`]), the lockout gate and how failures and successes change a
//! [`Tally`]. No I/O, no clock: `now`, the record's state and the user's
//! groups are arguments, so every rule is tested exactly (STYLE.md, "pass `now`").
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

use crate::cidr::{self, Cidr};
use crate::config::{LockoutConfig, PolicyConfig};
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

/// Whether a user may try a code now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    Open,
    /// Locked until this time (seconds since the epoch).
    Until(u64),
    /// Locked until an administrator runs `twostep unlock` (`unlock_time = 0`).
    UntilUnlocked,
}

impl Lock {
    pub fn is_locked(self) -> bool {
        self != Lock::Open
    }
}

/// Whether the lockout applies to this user at all: root is exempt only with
/// `even_deny_root = false` (as in pam_faillock).
pub fn exempt_from_lockout(cfg: &LockoutConfig, is_root: bool) -> bool {
    is_root && !cfg.even_deny_root
}

/// The lockout rule for one user at `now`, with `even_deny_root` and expiry
/// resolved: what the login gate, `twostep status` and `twostep unlock` all ask.
pub fn lock_of(t: &Tally, cfg: &LockoutConfig, is_root: bool, now: u64) -> Lock {
    lock_state(t, cfg, exempt_from_lockout(cfg, is_root), now)
}

/// The lock state of `t` at `now`. `exempt` is true for root when `even_deny_root = false`.
pub fn lock_state(t: &Tally, cfg: &LockoutConfig, exempt: bool, now: u64) -> Lock {
    match t.locked_at {
        _ if exempt => Lock::Open,
        None => Lock::Open,
        Some(_) if cfg.unlock_time == 0 => Lock::UntilUnlocked,
        // A clock earlier than `locked_at` (set back, or another login's later
        // reading) is inside the lock: `now < at < until`.
        Some(at) => {
            let until = at.saturating_add(cfg.unlock_time);
            if now < until { Lock::Until(until) } else { Lock::Open }
        }
    }
}

/// Failed codes inside the `fail_interval` window ending at `now`. A failure
/// stamped later than `now` (by a login that read the clock later, or before
/// the clock was set back) counts: it can only be recent.
pub fn failures_in_window(t: &Tally, cfg: &LockoutConfig, now: u64) -> u32 {
    t.failures.iter().filter(|&&f| now.saturating_sub(f) < cfg.fail_interval).count() as u32
}

/// Drops what no longer matters at `now`: failures outside the window and an expired
/// lock (an expired lock also clears its failures, so the user starts afresh).
pub fn expire(t: &mut Tally, cfg: &LockoutConfig, now: u64) {
    if t.locked_at.is_some() && lock_state(t, cfg, false, now) == Lock::Open {
        t.locked_at = None;
        t.failures.clear();
    }
    t.failures.retain(|&f| now.saturating_sub(f) < cfg.fail_interval);
}

/// What a failed code changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AfterFailure {
    /// Attempts left before the lock; `None` when no lock can apply (disabled or exempt).
    pub remaining: Option<u32>,
    /// This failure engaged the lock.
    pub locked_now: bool,
}

/// Records one failed code at `now` (call only when [`lock_state`] is open).
pub fn record_failure(t: &mut Tally, cfg: &LockoutConfig, exempt: bool, now: u64) -> AfterFailure {
    expire(t, cfg, now);
    t.failures.push(now);
    if cfg.deny == 0 || exempt {
        return AfterFailure { remaining: None, locked_now: false };
    }
    let count = failures_in_window(t, cfg, now);
    let locked_now = count >= cfg.deny && t.locked_at.is_none();
    if locked_now {
        t.locked_at = Some(now);
    }
    AfterFailure { remaining: Some(cfg.deny.saturating_sub(count)), locked_now }
}

/// Writes an answer down as a failed code before it is judged (see
/// `Login::verify`): what the tally must say if the answer is wrong, or if
/// the process dies before the verdict is written. An answer while locked is
/// not counted (it is not judged either).
pub fn count_attempt(t: &mut Tally, cfg: &LockoutConfig, exempt: bool, now: u64) {
    expire(t, cfg, now);
    if !lock_state(t, cfg, exempt, now).is_locked() {
        record_failure(t, cfg, exempt, now);
    }
}

/// Records a successful second factor: failures and lock are cleared.
pub fn record_success(t: &mut Tally) {
    t.failures.clear();
    t.locked_at = None;
}

/// Clears failures and lock (`twostep unlock`).
pub fn unlock(t: &mut Tally) {
    record_success(t);
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

    const CFG: LockoutConfig =
        LockoutConfig { deny: 5, fail_interval: 1800, unlock_time: 1800, even_deny_root: true, answer_timeout: 300 };

    #[test]
    fn the_fifth_failure_locks_and_the_lock_lasts_unlock_time() {
        let mut t = Tally::default();
        for i in 0..4 {
            let a = record_failure(&mut t, &CFG, false, 1000 + i);
            assert_eq!(a, AfterFailure { remaining: Some(4 - i as u32), locked_now: false });
        }
        let a = record_failure(&mut t, &CFG, false, 1004);
        assert_eq!(a, AfterFailure { remaining: Some(0), locked_now: true });
        assert_eq!(lock_state(&t, &CFG, false, 1005), Lock::Until(1004 + 1800));
        assert_eq!(lock_state(&t, &CFG, false, 1004 + 1799), Lock::Until(1004 + 1800));
        assert_eq!(lock_state(&t, &CFG, false, 1004 + 1800), Lock::Open);
    }

    #[test]
    fn an_expired_lock_gives_a_fresh_start() {
        let mut t = Tally { locked_at: Some(100), failures: vec![96, 97, 98, 99, 100], ..Tally::default() };
        let a = record_failure(&mut t, &CFG, false, 100 + 1800);
        assert_eq!(a, AfterFailure { remaining: Some(4), locked_now: false });
        assert_eq!(t.locked_at, None);
    }

    #[test]
    fn failures_older_than_the_interval_do_not_count() {
        let mut t = Tally { failures: vec![0, 1, 2, 3], ..Tally::default() };
        assert_eq!(failures_in_window(&t, &CFG, 1801), 2, "0 and 1 are 1800 s old or more");
        let a = record_failure(&mut t, &CFG, false, 1804);
        assert_eq!(a.remaining, Some(4), "{t:?}");
        assert_eq!(t.failures, vec![1804]);
    }

    #[test]
    fn failures_stamped_later_than_now_count() {
        // Another login read the clock later (or the clock was set back since).
        let mut t = Tally { failures: vec![2000, 2001, 2002, 2003], ..Tally::default() };
        assert_eq!(failures_in_window(&t, &CFG, 1000), 4);
        let a = record_failure(&mut t, &CFG, false, 1000);
        assert_eq!(a, AfterFailure { remaining: Some(0), locked_now: true });
    }

    #[test]
    fn a_clock_earlier_than_the_lock_is_inside_the_lock() {
        let mut t = Tally { locked_at: Some(5000), failures: vec![5000; 5], ..Tally::default() };
        assert_eq!(lock_state(&t, &CFG, false, 10), Lock::Until(5000 + 1800));
        expire(&mut t, &CFG, 10);
        assert_eq!((t.locked_at, t.failures.len()), (Some(5000), 5), "nothing expires before it began");
    }

    #[test]
    fn an_attempt_is_counted_before_it_is_judged_but_not_while_locked() {
        let mut t = Tally::default();
        for i in 0..5 {
            count_attempt(&mut t, &CFG, false, 100 + i);
        }
        assert_eq!((t.failures.len(), t.locked_at), (5, Some(104)));
        let before = t.clone();
        count_attempt(&mut t, &CFG, false, 200);
        assert_eq!(t, before, "an answer during a lock is neither judged nor counted");
    }

    #[test]
    fn root_is_exempt_only_when_configured() {
        let mut t = Tally::default();
        for i in 0..10 {
            assert_eq!(record_failure(&mut t, &CFG, true, i).remaining, None);
        }
        assert_eq!(lock_state(&t, &CFG, true, 11), Lock::Open);
    }

    #[test]
    fn unlock_time_zero_means_until_an_admin_unlocks() {
        let cfg = LockoutConfig { unlock_time: 0, ..CFG };
        let mut t = Tally::default();
        for i in 0..5 {
            record_failure(&mut t, &cfg, false, i);
        }
        assert_eq!(lock_state(&t, &cfg, false, 1_000_000), Lock::UntilUnlocked);
        unlock(&mut t);
        assert_eq!(lock_state(&t, &cfg, false, 1_000_000), Lock::Open);
    }

    #[test]
    fn deny_zero_never_locks() {
        let cfg = LockoutConfig { deny: 0, ..CFG };
        let mut t = Tally::default();
        for i in 0..50 {
            assert!(!record_failure(&mut t, &cfg, false, i).locked_now);
        }
        assert_eq!(lock_state(&t, &cfg, false, 51), Lock::Open);
    }

    #[test]
    fn success_clears_failures() {
        let mut t = Tally { failures: vec![1, 2], ..Tally::default() };
        record_success(&mut t);
        assert!(t.failures.is_empty());
    }
}
