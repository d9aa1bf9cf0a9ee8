//! The lockout: whether a user may try a code now ([`lock_of`]), and how
//! failed and successful codes change the user's [`Tally`] (as in
//! pam_faillock: `deny` failures within `fail_interval` lock for
//! `unlock_time`). Pure, like the rest of [`crate::policy`]: `now` is an argument.

use crate::config::LockoutConfig;
use crate::store::tally::Tally;

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
