//! Verifying an enrolled user: the lock gate, the prompt, and judging the answer.
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
//!   (durably), then judged against the record as it is now (a reset or a
//!   disable reaches a login waiting for its answer), and only a right answer
//!   turns that failure into a success. A failed write or a process killed
//!   after the answer costs the user one attempt, never nothing.

use super::text::{self, EMAIL_REQUEST, PROMPT, PROMPT_WITH_EMAIL, UNAVAILABLE};
use super::{Broken, ConvError, Login, Outcome};
use crate::config::Config;
use crate::email_code::{self, CodeCheck};
use crate::log::Level;
use crate::policy::{self, AfterFailure, Lock};
use crate::secret::TotpSecret;
use crate::store::UserStore;
use crate::store::files::StoreError;
use crate::store::record::{Method, UserRecord};
use crate::store::tally::Tally;
use crate::time::rfc3339;
use crate::totp::{self, Check};
use crate::trusted_fs::Durability;

/// How often one login may ask for an email code (each ask after the first
/// only repeats when a new one is possible).
const MAX_EMAIL_REQUESTS: u32 = 3;

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
        if secret.is_none() && address.is_none() {
            self.log_outcome(Level::Notice, "unavailable", Method::Email.name(), Some("no usable method"));
            let _ = self.conv.error(UNAVAILABLE);
            return Ok(Outcome::Denied);
        }

        // 2. The prompt. An email-only user gets a code without asking.
        let mut email_requests = 0;
        if let (None, Some(to)) = (secret, address.as_deref()) {
            email_requests += 1;
            if let Some(outcome) = self.send_email_code(cfg, store, to, exempt)? {
                return Ok(outcome);
            }
        }
        let (answer, asked_at) = loop {
            let prompt = if address.is_some() && email_requests == 0 { PROMPT_WITH_EMAIL } else { PROMPT };
            let asked_at = self.clock.now();
            let answer = match self.conv.ask(prompt) {
                Ok(a) => a,
                Err(ConvError) => {
                    let method = if email_requests > 0 { Method::Email } else { Method::Totp };
                    self.log_outcome(Level::Notice, "aborted", method.name(), None);
                    return Ok(Outcome::Aborted);
                }
            };
            match address.as_deref() {
                Some(to) if is_email_request(&answer) && email_requests < MAX_EMAIL_REQUESTS => {
                    email_requests += 1;
                    if let Some(outcome) = self.send_email_code(cfg, store, to, exempt)? {
                        return Ok(outcome);
                    }
                }
                _ => break (answer, asked_at),
            }
        };
        let method = if email_requests > 0 || secret.is_none() { Method::Email } else { Method::Totp };

        // 3. An answer held back too long is refused unjudged (and uncounted).
        if self.clock.now().saturating_sub(asked_at) > cfg.lockout.answer_timeout {
            self.log_outcome(Level::Notice, "answer_timeout", method.name(), None);
            let _ = self.conv.error(text::ANSWER_TOO_LATE);
            return Ok(Outcome::Denied);
        }

        // 4. Under the user's lock: the time and the record as they are now.
        let judged = store.change(user, |u| -> Result<Option<(Verdict, u64)>, StoreError> {
            let now = self.clock.now();
            let Some(record) = u.record()?.filter(|r| r.enabled && r.is_enrolled()).cloned() else {
                return Ok(None);
            };
            // 5. Written down as a failure (durably) before it is judged; a right
            //    answer then turns that into a success.
            let before = u.tally()?.clone();
            let mut counted = before.clone();
            policy::count_attempt(&mut counted, &cfg.lockout, exempt, now);
            u.save_tally(counted)?;
            let mut after = before;
            let verdict = judge(&mut after, cfg, record.secret.as_ref(), &answer, exempt, now);
            // The verdict needs no directory fsync: if a power loss undoes it,
            // the durable failure above is what remains (fails safe).
            u.save_tally_as(after, Durability::MayRevert)?;
            Ok(Some((verdict, now)))
        })?;
        let Some((verdict, now)) = judged else {
            let why = "record reset or disabled during the login";
            self.log_outcome(Level::Notice, "changed", method.name(), Some(why));
            let _ = self.conv.error(text::CHANGED_MEANWHILE);
            return Ok(Outcome::Denied);
        };
        Ok(match verdict {
            Verdict::Accepted(method) => {
                self.log_outcome(Level::Info, "success", method.name(), None);
                Outcome::Success
            }
            Verdict::Locked(lock) => self.refuse_locked(lock, now),
            Verdict::Expired => {
                self.log_outcome(Level::Notice, "expired", Method::Email.name(), None);
                let _ = self.conv.error(text::EMAIL_EXPIRED);
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
    /// The pending email code, entered after it expired.
    Expired,
    Wrong {
        replay: bool,
        method: Method,
        after: AfterFailure,
        lock: Lock,
    },
}

/// Checks `answer` against the pending email code and the TOTP window and
/// records the result in `t` (called under the user's lock).
fn judge(t: &mut Tally, cfg: &Config, secret: Option<&TotpSecret>, answer: &str, exempt: bool, now: u64) -> Verdict {
    policy::expire(t, &cfg.lockout, now);
    let lock = policy::lock_state(t, &cfg.lockout, exempt, now);
    if lock.is_locked() {
        return Verdict::Locked(lock);
    }
    let emailed = t.email_code.as_ref().map(|p| email_code::check(p, answer, cfg.totp.digits, now));
    if t.email_code.as_ref().is_some_and(|p| now >= p.expires_at) {
        t.email_code = None;
    }
    match emailed {
        Some(CodeCheck::Valid) => {
            // Single use: the code is gone with this login.
            t.email_code = None;
            policy::record_success(t);
            return Verdict::Accepted(Method::Email);
        }
        // The right code, too late: refused, but not a guess, so not a failure.
        Some(CodeCheck::Expired) => return Verdict::Expired,
        Some(CodeCheck::Wrong) | None => {}
    }
    let check = secret.map(|s| totp::check(s, &cfg.totp, answer, now, t.last_step));
    match check {
        Some(Check::Valid { step }) => {
            policy::record_success(t);
            t.last_step = Some(step);
            // A pending email code is not needed any more: fewer live codes.
            t.email_code = None;
            Verdict::Accepted(Method::Totp)
        }
        check => {
            let method = if emailed.is_some() || secret.is_none() { Method::Email } else { Method::Totp };
            let after = policy::record_failure(t, &cfg.lockout, exempt, now);
            let lock = policy::lock_state(t, &cfg.lockout, exempt, now);
            Verdict::Wrong { replay: matches!(check, Some(Check::Replayed { .. })), method, after, lock }
        }
    }
}

/// `email` (any case, surrounding spaces ignored) at the code prompt.
fn is_email_request(answer: &str) -> bool {
    answer.trim().eq_ignore_ascii_case(EMAIL_REQUEST)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        Config::parse(std::path::Path::new("/test.toml"), "").unwrap()
    }

    fn pending(code: &str, now: u64) -> Tally {
        Tally { email_code: Some(email_code::seal(code, now, 600).unwrap()), ..Tally::default() }
    }

    #[test]
    fn an_email_code_is_accepted_once_and_clears_the_failures() {
        let mut t = pending("123456", 1000);
        t.failures = vec![990, 995];
        assert_eq!(judge(&mut t, &cfg(), None, "123456", false, 1010), Verdict::Accepted(Method::Email));
        assert_eq!((t.email_code.as_ref(), t.failures.len()), (None, 0));
        assert!(matches!(
            judge(&mut t, &cfg(), None, "123456", false, 1011),
            Verdict::Wrong { method: Method::Email, .. }
        ));
    }

    #[test]
    fn a_wrong_email_code_is_a_failure_and_the_code_stays_valid() {
        let mut t = pending("123456", 1000);
        let v = judge(&mut t, &cfg(), None, "654321", false, 1010);
        assert!(matches!(v, Verdict::Wrong { method: Method::Email, replay: false, .. }), "{v:?}");
        assert_eq!(t.failures, vec![1010]);
        assert_eq!(judge(&mut t, &cfg(), None, "123456", false, 1020), Verdict::Accepted(Method::Email));
    }

    #[test]
    fn an_expired_email_code_is_refused_dropped_and_not_counted() {
        let mut t = pending("123456", 1000);
        assert_eq!(judge(&mut t, &cfg(), None, "123456", false, 1600), Verdict::Expired);
        assert_eq!((t.email_code.as_ref(), t.failures.len()), (None, 0));
    }

    #[test]
    fn a_totp_code_works_while_an_email_code_is_pending_and_retires_it() {
        let secret = TotpSecret::from_base32("JBSWY3DPEHPK3PXP").unwrap();
        let c = cfg();
        let now = 1_700_000_000;
        let code = totp::code_at_step(&secret, &c.totp, totp::step_at(&c.totp, now));
        let mut t = pending("123456", now);
        assert_eq!(judge(&mut t, &c, Some(&secret), &code, false, now), Verdict::Accepted(Method::Totp));
        assert_eq!(t.email_code, None);
    }

    #[test]
    fn a_locked_user_is_not_judged() {
        let mut t = pending("123456", 1000);
        t.locked_at = Some(999);
        let before = t.clone();
        assert!(matches!(judge(&mut t, &cfg(), None, "123456", false, 1010), Verdict::Locked(_)));
        assert_eq!(t, before);
    }
}
