//! Verifying an enrolled user: the lock gate, the prompt (the method menu is
//! `menu.rs`), and judging the answer.
//!
//! The lockout must hold against everything the caller of a setuid host
//! controls (limits, signals, timing, several sessions at once), so:
//! - a locked user is refused before any prompt, and never learns whether a
//!   code would have been right;
//! - the clock is read when the answer is judged (after waiting for the
//!   user's lock), never once per login: failures other sessions stamped
//!   meanwhile all count, and an answer older than `answer_timeout` after its
//!   prompt is refused without being judged;
//! - under the user's lock the answer is first written down as a failed code
//!   (renamed in place), then judged against the record as it is now (a reset or a
//!   disable reaches a login waiting for its answer), and only a right answer
//!   turns that failure into a success. A failed write or a process killed
//!   after the answer costs the user one attempt, never nothing.

use super::menu::{Asked, Offer};
use super::text::{self, UNAVAILABLE};
use super::{Broken, Login, Outcome};
use crate::backup_codes::{self, BypassCheck};
use crate::config::Config;
use crate::email_code::{self, CodeCheck};
use crate::log::Level;
use crate::policy::{self, AfterFailure, Lock};
use crate::store::StoreError;
use crate::store::UserStore;
use crate::store::record::{Method, UserRecord};
use crate::store::tally::{EmailCode, Tally};
use crate::time::rfc3339;
use crate::totp::{self, Check};
use crate::trusted_fs::Durability;

impl Login<'_> {
    pub(super) fn verify(&mut self, cfg: &Config, store: &UserStore, record: &UserRecord) -> Result<Outcome, Broken> {
        let user = self.req.user;
        let is_root = self.req.uid == Some(0);
        let exempt = policy::exempt_from_lockout(&cfg.lockout, is_root);

        // 1. The lock gate: a locked user is not asked.
        let now = self.clock.now();
        let lock = policy::lock_of(&store.tally(user)?, &cfg.lockout, is_root, now);
        if lock.is_locked() {
            return Ok(self.refuse_locked(lock, now));
        }

        let secret = record.secret.as_ref();
        let address = record.code_address(&cfg.email.address_template, user).map(|a| a.address);
        if record.email.is_some() && address.is_none() {
            let why = "the email address on file is invalid; set it again with twostep email USER ADDR";
            self.log_outcome(Level::Warning, "bad_address", Method::Email.name(), Some(why));
        }
        if record.phone.is_some() && record.code_phone().is_none() {
            let why = "the phone number on file is invalid; set it again with twostep phone USER NUMBER";
            self.log_outcome(Level::Warning, "bad_phone", Method::Sms.name(), Some(why));
        }
        let phone = record.code_phone().filter(|_| cfg.sms.enabled());
        let offer = Offer { email: address.as_deref(), phone };
        if secret.is_none() && offer.email.is_none() && offer.phone.is_none() {
            let why = if record.code_phone().is_some() {
                "no usable method: a phone number is on file, but [sms] command is not set"
            } else {
                "no usable method"
            };
            let method = if record.phone.is_some() { Method::Sms } else { Method::Email };
            self.log_outcome(Level::Notice, "unavailable", method.name(), Some(why));
            let _ = self.conv.error(UNAVAILABLE);
            return Ok(Outcome::Denied);
        }

        // 2. The prompt (the method menu, `menu.rs`).
        let (answer, asked_at, method) = match self.ask_for_answer(cfg, store, record, offer, exempt)? {
            Asked::Answer { answer, asked_at, method } => (answer, asked_at, method),
            Asked::Ended(outcome) => return Ok(outcome),
        };

        // 3. An answer held back too long is refused unjudged (and uncounted).
        if self.clock.now().saturating_sub(asked_at) > cfg.lockout.answer_timeout {
            self.log_outcome(Level::Notice, "answer_timeout", method.name(), None);
            let _ = self.conv.error(text::ANSWER_TOO_LATE);
            return Ok(Outcome::Denied);
        }

        // 4. Under the user's lock: the time and the record as they are now.
        let judged = store.change(user, |u| -> Result<Option<(Verdict, u64, UserRecord)>, StoreError> {
            let now = self.clock.now();
            let Some(mut record) = u.record()?.filter(|r| r.enabled_at(now) && r.is_enrolled()).cloned() else {
                return Ok(None);
            };
            // 5. Written down as a failure before it is judged; a right answer
            //    then turns that into a success. The failure is in place
            //    (renamed over the old tally) before the answer is looked at,
            //    which is what beats a caller who kills or stops the process,
            //    limits its file size or fills the disk: no answer is judged
            //    unless its failure is on file. The one fsync comes after the
            //    verdict's rename, on the file that stays: the success, or the
            //    failure itself (why one is enough: docs/benchmarks.md, "What
            //    each fsync buys").
            let before = u.tally()?.clone();
            let mut counted = before.clone();
            policy::count_attempt(&mut counted, &cfg.lockout, exempt, now);
            u.save_tally_as(counted, Durability::Deferred)?;
            let mut after = before;
            let verdict = judge(&mut after, cfg, &mut record, &answer, exempt, now, method);
            if matches!(verdict, Verdict::Accepted(Method::Backup | Method::Bypass)) {
                // A backup or bypass code is spent (durably) before the
                // success is written: a failed write or a death in between
                // leaves it spent and the failure counted.
                u.save_record(record.clone())?;
            }
            // The verdict (unless it is the failure written above: a wrong
            // answer), then the one fsync, of the tally file that stays.
            u.save_tally_as(after, Durability::Deferred)?;
            u.sync_tally()?;
            Ok(Some((verdict, now, record)))
        })?;
        let Some((verdict, now, record)) = judged else {
            let why = "record reset or disabled during the login";
            self.log_outcome(Level::Notice, "changed", method.name(), Some(why));
            let _ = self.conv.error(text::CHANGED_MEANWHILE);
            return Ok(Outcome::Denied);
        };
        Ok(match verdict {
            Verdict::Accepted(method) => {
                let left = record.backup_codes.len();
                let line = self.line("success", method.name());
                let line = match method {
                    Method::Backup => line.field("backup_codes_left", &left.to_string()),
                    Method::Bypass => {
                        let uses = record.bypass.as_ref().map_or(0, |b| b.uses_left);
                        line.field("bypass_uses_left", &uses.to_string())
                    }
                    _ => line,
                };
                self.log.log(Level::Info, line.as_str());
                // Told while a few are left, and once when the last one is used.
                if left <= backup_codes::FEW_LEFT && (left > 0 || method == Method::Backup) {
                    let _ = self.conv.info(&text::few_backup_codes(left));
                }
                Outcome::Success
            }
            Verdict::Locked(lock) => self.refuse_locked(lock, now),
            Verdict::Expired(method) => {
                self.log_outcome(Level::Notice, "expired", method.name(), None);
                let _ = self.conv.error(match method {
                    Method::Sms => text::TEXT_EXPIRED,
                    Method::Bypass => text::BYPASS_EXPIRED,
                    _ => text::EMAIL_EXPIRED,
                });
                Outcome::Denied
            }
            Verdict::Wrong { replay, method, after, lock } => self.refuse_wrong(replay, method, after, lock, now),
        })
    }

    fn refuse_wrong(&mut self, replay: bool, method: Method, after: AfterFailure, lock: Lock, now: u64) -> Outcome {
        let result = if replay { "replay" } else { "wrong_code" };
        let remaining = after.remaining.map(|r| r.to_string()).unwrap_or_default();
        let line = self.line(result, method.name()).field("remaining", &remaining);
        self.log.log(Level::Warning, line.as_str());
        if after.locked_now {
            let line = self.line("locked", method.name()).field("event", "lock").field("until", &describe_until(lock));
            self.log.log(Level::Warning, line.as_str());
        }
        let engaged = after.locked_now.then_some(lock);
        let _ = self.conv.error(&text::wrong_code(replay, after.remaining, engaged, now));
        Outcome::Denied
    }

    pub(super) fn refuse_locked(&mut self, lock: Lock, now: u64) -> Outcome {
        let line = self.line("locked", "none").field("until", &describe_until(lock));
        self.log.log(Level::Warning, line.as_str());
        let _ = self.conv.error(&text::locked_now(lock, now));
        Outcome::Denied
    }
}

/// The end of a lock for the log: RFC 3339 UTC, `admin_unlock` for a lock
/// that waits for an administrator, `-` for none.
fn describe_until(lock: Lock) -> String {
    match lock {
        Lock::Open => "-".into(),
        Lock::UntilUnlocked => "admin_unlock".into(),
        Lock::Until(t) => rfc3339(t),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Accepted(Method),
    Locked(Lock),
    /// The pending code sent by this method (or the bypass code), entered
    /// after it expired.
    Expired(Method),
    Wrong {
        replay: bool,
        method: Method,
        after: AfterFailure,
        lock: Lock,
    },
}

/// Checks `answer` against the pending sent codes (email, text), the TOTP
/// window, the backup codes and the bypass code, and records the result in
/// `t` (called under the user's lock); a backup or bypass code used is
/// taken out of `record` (the caller saves it). Every code on file is
/// compared (constant time, no early exit); a wrong answer is logged under
/// `method` (what this login asked for), or as a backup or bypass code when
/// it has their length. An app or sent code wins over a backup code of the
/// same digits (`[totp] digits = 8`): none is spent on it.
fn judge(
    t: &mut Tally,
    cfg: &Config,
    record: &mut UserRecord,
    answer: &str,
    exempt: bool,
    now: u64,
    method: Method,
) -> Verdict {
    policy::expire(t, &cfg.lockout, now);
    let lock = policy::lock_state(t, &cfg.lockout, exempt, now);
    if lock.is_locked() {
        return Verdict::Locked(lock);
    }
    let digits = cfg.totp.digits;
    let sent = [
        (Method::Email, check_sent(&mut t.email_code, answer, digits, now)),
        (Method::Sms, check_sent(&mut t.sms_code, answer, digits, now)),
    ];
    if let Some((m, _)) = sent.iter().find(|(_, c)| *c == Some(CodeCheck::Valid)) {
        // Single use: the code is gone with this login, and so is any other
        // pending one (fewer live codes).
        t.email_code = None;
        t.sms_code = None;
        policy::record_success(t);
        return Verdict::Accepted(*m);
    }
    // The right code, too late: refused, but not a guess, so not a failure.
    if let Some((m, _)) = sent.iter().find(|(_, c)| *c == Some(CodeCheck::Expired)) {
        return Verdict::Expired(*m);
    }
    let check = record.secret.as_ref().map(|s| totp::check(s, &cfg.totp, answer, now, t.last_step));
    let backup = backup_codes::find_backup(&record.backup_codes, answer);
    let bypass = record.bypass.as_ref().map(|b| backup_codes::check_bypass(b, answer, now));
    let spent = match (&check, backup, bypass) {
        (Some(Check::Valid { .. }), _, _) => None,
        (_, Some(i), _) => {
            record.backup_codes.remove(i);
            Some(Method::Backup)
        }
        (_, None, Some(BypassCheck::Valid)) => {
            if let Some(b) = record.bypass.as_mut() {
                b.uses_left -= 1;
            }
            if record.bypass.as_ref().is_some_and(|b| b.uses_left == 0) {
                record.bypass = None;
            }
            Some(Method::Bypass)
        }
        (_, None, Some(BypassCheck::Expired)) => return Verdict::Expired(Method::Bypass),
        _ => None,
    };
    if let Some(m) = spent {
        policy::record_success(t);
        t.email_code = None;
        t.sms_code = None;
        return Verdict::Accepted(m);
    }
    match check {
        Some(Check::Valid { step }) => {
            policy::record_success(t);
            t.last_step = Some(step);
            // Pending sent codes are not needed any more: fewer live codes.
            t.email_code = None;
            t.sms_code = None;
            Verdict::Accepted(Method::Totp)
        }
        check => {
            let after = policy::record_failure(t, &cfg.lockout, exempt, now);
            let lock = policy::lock_state(t, &cfg.lockout, exempt, now);
            let method = looks_like(answer, digits).unwrap_or(method);
            Verdict::Wrong { replay: matches!(check, Some(Check::Replayed { .. })), method, after, lock }
        }
    }
}

/// A backup code or a bypass code, when `answer` has their digits and no
/// app code could have them.
fn looks_like(answer: &str, digits: u32) -> Option<Method> {
    if digits != backup_codes::BACKUP_DIGITS && totp::normalize_answer(answer, backup_codes::BACKUP_DIGITS).is_some() {
        Some(Method::Backup)
    } else if totp::normalize_answer(answer, backup_codes::BYPASS_DIGITS).is_some() {
        Some(Method::Bypass)
    } else {
        None
    }
}

/// `answer` against one pending sent code; an expired one is dropped.
fn check_sent(slot: &mut Option<EmailCode>, answer: &str, digits: u32, now: u64) -> Option<CodeCheck> {
    let checked = slot.as_ref().map(|p| email_code::check(p, answer, digits, now));
    if slot.as_ref().is_some_and(|p| now >= p.expires_at) {
        *slot = None;
    }
    checked
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::TotpSecret;

    fn cfg() -> Config {
        Config::parse(std::path::Path::new("/test.toml"), "").unwrap()
    }

    fn rec(secret: Option<&TotpSecret>) -> UserRecord {
        UserRecord { secret: secret.cloned(), enabled: true, ..UserRecord::default() }
    }

    fn pending(code: &str, now: u64) -> Tally {
        Tally { email_code: Some(email_code::seal(code, now, 600).unwrap()), ..Tally::default() }
    }

    #[test]
    fn an_email_code_is_accepted_once_and_clears_the_failures() {
        let mut t = pending("123456", 1000);
        t.failures = vec![990, 995];
        assert_eq!(
            judge(&mut t, &cfg(), &mut rec(None), "123456", false, 1010, Method::Email),
            Verdict::Accepted(Method::Email)
        );
        assert_eq!((t.email_code.as_ref(), t.failures.len()), (None, 0));
        assert!(matches!(
            judge(&mut t, &cfg(), &mut rec(None), "123456", false, 1011, Method::Email),
            Verdict::Wrong { method: Method::Email, .. }
        ));
    }

    #[test]
    fn a_wrong_email_code_is_a_failure_and_the_code_stays_valid() {
        let mut t = pending("123456", 1000);
        let v = judge(&mut t, &cfg(), &mut rec(None), "654321", false, 1010, Method::Email);
        assert!(matches!(v, Verdict::Wrong { method: Method::Email, replay: false, .. }), "{v:?}");
        assert_eq!(t.failures, vec![1010]);
        assert_eq!(
            judge(&mut t, &cfg(), &mut rec(None), "123456", false, 1020, Method::Email),
            Verdict::Accepted(Method::Email)
        );
    }

    #[test]
    fn an_expired_email_code_is_refused_dropped_and_not_counted() {
        let mut t = pending("123456", 1000);
        assert_eq!(
            judge(&mut t, &cfg(), &mut rec(None), "123456", false, 1600, Method::Email),
            Verdict::Expired(Method::Email)
        );
        assert_eq!((t.email_code.as_ref(), t.failures.len()), (None, 0));
    }

    #[test]
    fn a_totp_code_works_while_an_email_code_is_pending_and_retires_it() {
        let secret = TotpSecret::from_base32("JBSWY3DPEHPK3PXP").unwrap();
        let c = cfg();
        let now = 1_700_000_000;
        let code = totp::code_at_step(&secret, &c.totp, totp::step_at(&c.totp, now));
        let mut t = pending("123456", now);
        assert_eq!(
            judge(&mut t, &c, &mut rec(Some(&secret)), &code, false, now, Method::Totp),
            Verdict::Accepted(Method::Totp)
        );
        assert_eq!(t.email_code, None);
    }

    #[test]
    fn a_text_code_is_judged_like_an_email_code_and_either_retires_both() {
        let mut t = pending("123456", 1000);
        t.sms_code = Some(email_code::seal("654321", 1000, 600).unwrap());
        assert_eq!(
            judge(&mut t, &cfg(), &mut rec(None), "654321", false, 1010, Method::Sms),
            Verdict::Accepted(Method::Sms)
        );
        assert_eq!((t.email_code.as_ref(), t.sms_code.as_ref()), (None, None), "no live code left");
        let mut t = Tally { sms_code: Some(email_code::seal("654321", 1000, 600).unwrap()), ..Tally::default() };
        assert_eq!(
            judge(&mut t, &cfg(), &mut rec(None), "654321", false, 1600, Method::Sms),
            Verdict::Expired(Method::Sms)
        );
        assert_eq!((t.sms_code.as_ref(), t.failures.len()), (None, 0), "dropped, not counted");
        let mut t = Tally { sms_code: Some(email_code::seal("654321", 1000, 600).unwrap()), ..Tally::default() };
        let v = judge(&mut t, &cfg(), &mut rec(None), "111111", false, 1010, Method::Sms);
        assert!(matches!(v, Verdict::Wrong { method: Method::Sms, .. }), "{v:?}");
        assert_eq!(t.failures, vec![1010]);
        assert!(t.sms_code.is_some(), "a wrong guess leaves the code valid");
    }

    #[test]
    fn a_locked_user_is_not_judged() {
        let mut t = pending("123456", 1000);
        t.locked_at = Some(999);
        let before = t.clone();
        assert!(matches!(
            judge(&mut t, &cfg(), &mut rec(None), "123456", false, 1010, Method::Email),
            Verdict::Locked(_)
        ));
        assert_eq!(t, before);
    }
}
