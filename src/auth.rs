//! One login, start to finish (`pam_sm_authenticate` minus libpam).
//!
//! The flow (DESIGN.md, "One login"): load the config → look up the user's
//! record → not enrolled: apply the policy → disabled: step aside → locked:
//! refuse without reading a code → prompt → check the code and record the
//! result in the tally under the user's lock → one log line.
//!
//! This module talks only to traits: [`Conversation`] (the user), [`AuditLog`]
//! (the administrator), [`Accounts`] (NSS) and [`Mailer`] (the mail system).
//! The PAM glue in `src/pam/` provides the real ones; decisions on numbers live
//! in [`crate::policy`], the email code rules in [`crate::email`].
//!
//! The email fallback ([`Login::verify`]): when an address is known the prompt
//! offers `email`; typing it (or being an email-only user) sends a code
//! ([`Login::send_email_code`]: throttle checked and the code's hash reserved
//! in the tally under the user's lock, then the message handed to the
//! [`Mailer`]). The answer is then checked against the pending email code and
//! the TOTP window in the same tally update, so a wrong email code counts
//! towards the lockout exactly like a wrong TOTP code.
#![forbid(unsafe_code)]

use std::fmt;
use std::path::Path;

use zeroize::Zeroizing;

use crate::config::{Config, EmailConfig, PolicyConfig};
use crate::email::{self, CodeCheck, Resend};
use crate::log::{AuditLog, Level, Line};
use crate::mail::{self, Letter};
use crate::policy::{self, Decision, Lock, RecordState, Unenrolled};
use crate::qr;
use crate::secret::{self, TotpSecret};
use crate::state::StateError;
use crate::store::{Method, Store, UserRecord};
use crate::tally::{Tally, TallyStore};
use crate::time::{local_time, rfc3339};
use crate::totp::{self, Check};
use crate::user::{self, Accounts};

/// What users see when twostep cannot work (details go to syslog only).
pub const UNAVAILABLE: &str = "Two-step verification is unavailable; contact your administrator.";
/// The code prompt.
pub const PROMPT: &str = "Verification code: ";
/// The code prompt when an email address is known and no email code was sent yet.
pub const PROMPT_WITH_EMAIL: &str = "Verification code (or type \"email\" to get a code by email): ";
/// What the user types to get a code by email.
pub const EMAIL_REQUEST: &str = "email";
/// How often one login may ask for an email code (each ask after the first only repeats when a new one is possible).
const MAX_EMAIL_REQUESTS: u32 = 3;

/// The conversation could not happen (no conversation function, user pressed Ctrl-D, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvError;

/// Talking to the user.
pub trait Conversation {
    /// Asks a question without echo and returns the answer.
    fn ask(&mut self, prompt: &str) -> Result<Zeroizing<String>, ConvError>;
    /// Shows an informational message (not shown when the application asked for silence).
    fn info(&mut self, text: &str) -> Result<(), ConvError>;
    /// Shows what the next prompt cannot be answered without (the enrollment
    /// QR code and secret): shown even under `PAM_SILENT`.
    fn instructions(&mut self, text: &str) -> Result<(), ConvError> {
        self.info(text)
    }
    /// Shows an error message.
    fn error(&mut self, text: &str) -> Result<(), ConvError>;
}

/// Handing a message to the mail system.
pub trait Mailer {
    /// Delivers `message` (a complete RFC 5322 message) with `[email] command`;
    /// the error says what went wrong, for the log (it never contains the message).
    fn send(&mut self, cfg: &EmailConfig, message: &[u8]) -> Result<(), String>;
}

/// The facts of one authentication request.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub user: &'a str,
    pub service: &'a str,
    pub rhost: &'a str,
    /// Seconds since the epoch.
    pub now: u64,
    /// Module argument `debug`: log the resolved settings.
    pub debug: bool,
}

/// The result, mapped to a PAM return code by the glue (`src/pam/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Second factor verified.
    Success,
    /// twostep does not apply to this login (not required, disabled user).
    Ignore,
    /// Refused: wrong code, locked, not enrolled while required, …
    Denied,
    /// Configuration, store or tally problem: fail closed.
    Unavailable,
    /// The conversation failed or the user aborted.
    Aborted,
}

/// Why a login could not be evaluated; logged with the file and problem.
#[derive(Debug)]
struct Broken(String);

impl<E: fmt::Display> From<E> for Broken {
    fn from(e: E) -> Self {
        Broken(e.to_string())
    }
}

/// Everything one authentication needs.
pub struct Login<'a> {
    pub req: Request<'a>,
    pub conv: &'a mut dyn Conversation,
    pub log: &'a mut dyn AuditLog,
    pub accounts: &'a dyn Accounts,
    pub mailer: &'a mut dyn Mailer,
}

impl Login<'_> {
    /// Runs the login with the configuration at `config_path` and logs its outcome.
    pub fn authenticate(&mut self, config_path: &Path) -> Outcome {
        match self.run(config_path) {
            Ok(outcome) => outcome,
            Err(Broken(why)) => {
                self.log_outcome(Level::Err, "unavailable", "none", Some(&why));
                let _ = self.conv.error(UNAVAILABLE);
                Outcome::Unavailable
            }
        }
    }

    fn run(&mut self, config_path: &Path) -> Result<Outcome, Broken> {
        let cfg = Config::load(config_path)?;
        if self.req.debug {
            let line = format!("debug: config={} {:?}", config_path.display(), cfg);
            self.log.log(Level::Debug, &line);
        }
        let user = self.req.user;
        if let Err(e) = user::file_name(user) {
            self.log_outcome(Level::Notice, "denied", "none", Some(&e.to_string()));
            let _ = self.conv.error(UNAVAILABLE);
            return Ok(Outcome::Denied);
        }
        let store = Store::open(&cfg.secrets_dir)?;
        let record = store.load(user)?;
        let state = match &record {
            Some(r) if !r.enabled => RecordState::Disabled,
            Some(r) if !r.methods().is_empty() => RecordState::Enabled,
            _ => RecordState::Missing,
        };
        // Policy (src/policy.rs): groups are looked up only when a rule needs them.
        let policy = cfg.policy_for(self.req.service);
        let groups = if policy::needs_groups(policy, state) { self.accounts.groups(user)? } else { Some(Vec::new()) };
        match policy::decide(policy, state, groups.as_deref()) {
            Decision::Ignore(why) => {
                self.log_outcome(Level::Info, "ignored", "none", Some(&why.describe()));
                Ok(Outcome::Ignore)
            }
            Decision::RefuseUnknownUser => {
                let why = "user unknown to the system (NSS), but a group rule needs the user's groups";
                self.log_outcome(Level::Notice, "denied", "none", Some(why));
                let _ = self.conv.error(UNAVAILABLE);
                Ok(Outcome::Denied)
            }
            Decision::MustEnroll => self.not_enrolled(&cfg, &store, policy),
            Decision::Verify => match &record {
                Some(record) => self.verify(&cfg, record),
                None => Err(Broken("internal error: no record to verify".into())),
            },
        }
    }

    /// A user who must use a second factor and has none: grace login,
    /// enrollment at login, or refusal ([`policy::unenrolled`]).
    fn not_enrolled(&mut self, cfg: &Config, store: &Store, policy: &PolicyConfig) -> Result<Outcome, Broken> {
        // The tally is touched only when grace logins or enrollment need it.
        let tally = || TallyStore::create(&cfg.tally_dir);
        let grace_used = if policy.grace_logins > 0 { tally()?.load(self.req.user)?.grace_used } else { 0 };
        match policy::unenrolled(policy, grace_used) {
            Unenrolled::Refuse { grace_used_up } => Ok(self.refuse_not_enrolled(grace_used_up)),
            Unenrolled::Grace => self.grace_login(&tally()?, policy),
            Unenrolled::Enroll { .. } => {
                let skips_left = policy::grace_left(policy, grace_used);
                self.enroll_at_login(cfg, store, &tally()?, policy, skips_left)
            }
        }
    }

    fn refuse_not_enrolled(&mut self, grace_used_up: bool) -> Outcome {
        let reason = grace_used_up.then_some("grace logins used up");
        self.log_outcome(Level::Notice, "not_enrolled", "none", reason);
        let _ = self.conv.error(if grace_used_up {
            "Two-step verification is required for this account, but it is not set up and the logins allowed without it are used up. Ask your administrator to enroll you."
        } else {
            "Two-step verification is required for this account, but it is not set up. Ask your administrator to enroll you."
        });
        Outcome::Denied
    }

    /// Uses one grace login under the tally lock (so parallel logins cannot share
    /// one) and lets the login through with a reminder.
    fn grace_login(&mut self, tally: &TallyStore, policy: &PolicyConfig) -> Result<Outcome, Broken> {
        let left = tally.update(self.req.user, |t| policy::take_grace(t, policy))?;
        let Some(left) = left else {
            return Ok(self.refuse_not_enrolled(true));
        };
        let line = self.line("grace", "none").field("grace_left", &left.to_string());
        self.log.log(Level::Notice, line.as_str());
        let _ = self.conv.info(&grace_message(left, policy.enroll_at_login));
        Ok(Outcome::Ignore)
    }

    /// Enrollment at login: show a new secret (QR code, otpauth URI, base32),
    /// ask for a code from the app to confirm, and only then save the record.
    /// Nothing is written when the user aborts or the codes do not match.
    fn enroll_at_login(
        &mut self,
        cfg: &Config,
        store: &Store,
        tally: &TallyStore,
        policy: &PolicyConfig,
        skips_left: u32,
    ) -> Result<Outcome, Broken> {
        let user = self.req.user;
        let secret = TotpSecret::generate()?;
        let uri = totp::otpauth_uri(&secret, &cfg.issuer, user, &cfg.totp);
        let picture = qr::terminal(&uri)?;
        let shown = user::displayable(user);
        let mut texts = vec![
            format!(
                "Two-step verification is required for this account. Set it up now:\n\
                 1. Install an authenticator app (Google Authenticator, Microsoft Authenticator or FreeOTP).\n\
                 2. In the app, add an account and scan this QR code; it appears as \"{}: {shown}\".",
                cfg.issuer
            ),
            picture,
            format!(
                "Cannot scan? Add the account by hand with the secret key {} \
                 (time-based, {} digits, every {} seconds), or use this address:\n{}",
                &*secret::grouped(&secret.to_base32()),
                cfg.totp.digits,
                cfg.totp.period,
                &*uri
            ),
        ];
        texts.push(match skips_left {
            0 => "3. Type the code the app shows.".to_string(),
            1 => "3. Type the code the app shows. To set this up later instead, press Enter without a code (possible 1 more time).".to_string(),
            n => format!(
                "3. Type the code the app shows. To set this up later instead, press Enter without a code (possible {n} more times)."
            ),
        });
        for text in &texts {
            if self.conv.instructions(text).is_err() {
                self.log_outcome(Level::Notice, "aborted", "none", Some("enrollment at login not finished"));
                return Ok(Outcome::Aborted);
            }
        }
        for attempt in 1..=ENROLL_TRIES {
            let answer = match self.conv.ask(PROMPT) {
                Ok(a) => a,
                Err(ConvError) => {
                    self.log_outcome(Level::Notice, "aborted", "none", Some("enrollment at login not finished"));
                    return Ok(Outcome::Aborted);
                }
            };
            if skips_left > 0 && answer.trim().is_empty() {
                return self.grace_login(tally, policy);
            }
            // Scanning takes a while: check against the time the code was typed, not
            // the start of the login.
            let now = crate::time::wall_clock().max(self.req.now);
            if let Check::Valid { step } = totp::check(&secret, &cfg.totp, &answer, now, None) {
                return self.save_enrollment(store, tally, &secret, step, now);
            }
            if attempt < ENROLL_TRIES {
                let _ = self.conv.error(&format!(
                    "That code does not match. Check that the app shows \"{}: {shown}\" and type its current code (it changes every {} seconds).",
                    cfg.issuer, cfg.totp.period
                ));
            }
        }
        // Not counted as a failed code: nothing is protected yet, and the secret
        // is new at every attempt, so guessing gains nothing.
        self.log_outcome(
            Level::Notice,
            "enroll_failed",
            "totp",
            Some("confirmation codes did not match; nothing saved"),
        );
        let _ = self.conv.error(
            "Two-step verification was not set up: the codes did not match. Nothing was saved. Remove the entry you just added from the app and log in again to start over.",
        );
        Ok(Outcome::Denied)
    }

    /// Saves the confirmed record and the confirming step (so the code cannot be
    /// replayed), under the user's tally lock so two enrollments cannot race.
    fn save_enrollment(
        &mut self,
        store: &Store,
        tally: &TallyStore,
        secret: &TotpSecret,
        step: u64,
        now: u64,
    ) -> Result<Outcome, Broken> {
        let user = self.req.user;
        let record = UserRecord { secret: Some(secret.clone()), email: None, enabled: true, created: now };
        let saved = tally.update(user, |t| -> Result<bool, StateError> {
            match store.load(user)? {
                // Set up meanwhile (another login, or an administrator): keep that one.
                Some(r) if !r.enabled || !r.methods().is_empty() => return Ok(false),
                _ => {}
            }
            store.save(user, &record)?;
            t.last_step = Some(step);
            Ok(true)
        })??;
        if !saved {
            self.log_outcome(Level::Notice, "enroll_failed", "totp", Some("enrolled meanwhile by another login"));
            let _ = self
                .conv
                .error("Two-step verification was set up for this account by another login meanwhile. Log in again.");
            return Ok(Outcome::Denied);
        }
        self.log_outcome(Level::Notice, "enrolled", "totp", None);
        let _ = self
            .conv
            .info("Two-step verification is set up. From now on, type the code from your app when you log in.");
        Ok(Outcome::Success)
    }

    fn verify(&mut self, cfg: &Config, record: &UserRecord) -> Result<Outcome, Broken> {
        let user = self.req.user;
        let now = self.req.now;
        let tally = TallyStore::create(&cfg.tally_dir)?;
        let exempt = !cfg.lockout.even_deny_root && self.accounts.uid(user)? == Some(0);

        // The lock gate: refuse before asking, so a locked account never reveals
        // whether a code would have been right.
        let lock = policy::lock_state(&tally.load(user)?, &cfg.lockout, exempt, now);
        if lock.is_locked() {
            return Ok(self.refuse_locked(lock));
        }

        let secret = record.secret.as_ref();
        let address = email::address_for(record.email.as_deref(), &cfg.email.address_template, user);
        if record.email.is_some() && address.is_none() {
            let why = "the email address on file is invalid; set it again with twostep email USER ADDR";
            self.log_outcome(Level::Warning, "bad_address", Method::Email.name(), Some(why));
        }
        if secret.is_none() && address.is_none() {
            self.log_outcome(Level::Notice, "unavailable", Method::Email.name(), Some("no usable method"));
            let _ = self.conv.error(UNAVAILABLE);
            return Ok(Outcome::Denied);
        }

        // An email-only user gets a code without asking.
        let mut email_requests = 0;
        if let (None, Some(to)) = (secret, address.as_deref()) {
            email_requests += 1;
            if let Some(outcome) = self.send_email_code(cfg, &tally, to, exempt)? {
                return Ok(outcome);
            }
        }
        let answer = loop {
            let prompt = if address.is_some() && email_requests == 0 { PROMPT_WITH_EMAIL } else { PROMPT };
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
                    if let Some(outcome) = self.send_email_code(cfg, &tally, to, exempt)? {
                        return Ok(outcome);
                    }
                }
                _ => break answer,
            }
        };

        // Check and record under the user's lock: racing logins see each other's result.
        let verdict = tally.update(user, |t| judge(t, cfg, secret, &answer, exempt, now));
        let verdict = verdict.map_err(|e: StateError| Broken(e.to_string()))?;
        Ok(match verdict {
            Verdict::Accepted(method) => {
                self.log_outcome(Level::Info, "success", method.name(), None);
                Outcome::Success
            }
            Verdict::Locked(lock) => self.refuse_locked(lock),
            Verdict::Expired => {
                self.log_outcome(Level::Notice, "expired", Method::Email.name(), None);
                let _ = self.conv.error("That email code has expired. Log in again to get a new one.");
                Outcome::Denied
            }
            Verdict::Wrong { replay, method, after, lock } => self.refuse_wrong(replay, method, after, lock),
        })
    }

    /// Sends a new email code to `to`, or says when one may be sent again.
    /// `Some(outcome)` ends the login (locked, or the mail could not be sent).
    fn send_email_code(
        &mut self,
        cfg: &Config,
        tally: &TallyStore,
        to: &str,
        exempt: bool,
    ) -> Result<Option<Outcome>, Broken> {
        let (user, now) = (self.req.user, self.req.now);
        let code = email::new_code(cfg.totp.digits).map_err(Broken)?;
        let host = mail::hostname();
        let message = mail::compose(&cfg.email, &Letter { to, user, host: &host, code: &code, now }).map_err(Broken)?;
        let sealed = email::seal(&code, now, cfg.email.code_valid).map_err(Broken)?;
        // Reserve under the user's lock (throttle checked, hash stored) before sending,
        // so two racing logins cannot both send.
        let reserved = tally.update(user, |t| {
            policy::expire(t, &cfg.lockout, now);
            let lock = policy::lock_state(t, &cfg.lockout, exempt, now);
            if lock.is_locked() {
                return Reserve::Locked(lock);
            }
            match email::may_resend(t.email_code.as_ref(), cfg.email.resend_after, now) {
                Resend::Allowed => {
                    t.email_code = Some(sealed.clone());
                    Reserve::Send
                }
                Resend::TooSoon { sent_at, next_at } => Reserve::TooSoon { sent_at, next_at },
            }
        })?;
        let masked = email::mask_address(to);
        match reserved {
            Reserve::Locked(lock) => return Ok(Some(self.refuse_locked(lock))),
            Reserve::TooSoon { sent_at, next_at } => {
                let line = self.line("email_throttled", Method::Email.name()).field("next", &rfc3339(next_at));
                self.log.log(Level::Info, line.as_str());
                let _ = self.conv.info(&format!(
                    "A code was already sent to {masked} at {} and still works. You can ask for a new one after {}.",
                    local_time(sent_at, now),
                    local_time(next_at, now)
                ));
                return Ok(None);
            }
            Reserve::Send => {}
        }
        if let Err(why) = self.mailer.send(&cfg.email, message.as_bytes()) {
            // The command's output may echo the message: the code never reaches the log.
            let why = why.replace(code.as_str(), "[code]");
            // Take the reservation back: the code never left, and the user may ask
            // again as soon as the mail system works.
            tally.update(user, |t| {
                if t.email_code.as_ref() == Some(&sealed) {
                    t.email_code = None;
                }
            })?;
            self.log_outcome(Level::Err, "mail_failed", Method::Email.name(), Some(&why));
            let _ = self.conv.error(
                "The code could not be sent by email (the mail system failed). Try again later or contact your administrator.",
            );
            return Ok(Some(Outcome::Denied));
        }
        let line = self.line("email_sent", Method::Email.name()).field("to", &masked);
        self.log.log(Level::Info, line.as_str());
        let _ = self.conv.info(&format!(
            "A verification code was sent to {masked}. It is valid for {}.",
            email::describe_duration(cfg.email.code_valid)
        ));
        Ok(None)
    }

    fn refuse_wrong(&mut self, replay: bool, method: Method, after: policy::AfterFailure, lock: Lock) -> Outcome {
        let (result, first) = if replay {
            ("replay", "That code was already used. Wait for the next code in your app.")
        } else {
            ("wrong_code", "Incorrect verification code.")
        };
        let remaining = after.remaining.map(|r| r.to_string()).unwrap_or_default();
        let line = self.line(result, method.name()).field("remaining", &remaining);
        self.log.log(Level::Warning, line.as_str());
        if after.locked_now {
            let line =
                self.line("locked", method.name()).field("event", "lock").field("until", &describe_until_utc(lock));
            self.log.log(Level::Warning, line.as_str());
            let _ = self.conv.error(&format!("{first} {}", locked_message(lock, self.req.now)));
        } else {
            let tail = match after.remaining {
                Some(1) => " 1 attempt remains before the account is locked.".to_string(),
                Some(n) => format!(" {n} attempts remain before the account is locked."),
                None => String::new(),
            };
            let _ = self.conv.error(&format!("{first}{tail}"));
        }
        Outcome::Denied
    }

    fn refuse_locked(&mut self, lock: Lock) -> Outcome {
        let line = self.line("locked", "none").field("until", &describe_until_utc(lock));
        self.log.log(Level::Warning, line.as_str());
        let _ = self.conv.error(&locked_message(lock, self.req.now));
        Outcome::Denied
    }

    fn line(&self, result: &str, method: &str) -> Line {
        Line::new()
            .field("user", self.req.user)
            .field("service", self.req.service)
            .field("rhost", self.req.rhost)
            .field("result", result)
            .field("method", method)
    }

    fn log_outcome(&mut self, level: Level, result: &str, method: &str, reason: Option<&str>) {
        let mut line = self.line(result, method);
        if let Some(r) = reason {
            line = line.reason(r);
        }
        self.log.log(level, line.as_str());
    }
}

/// Codes a user may try when confirming enrollment at login.
pub const ENROLL_TRIES: u32 = 3;

/// The reminder shown at a grace login; `left` grace logins remain after this one.
pub fn grace_message(left: u32, enroll_at_login: bool) -> String {
    let how =
        if enroll_at_login { "You can set it up at your next login." } else { "Ask your administrator to enroll you." };
    match left {
        0 => format!(
            "Two-step verification is not set up for your account. This was the last login allowed without it; it is required from your next login on. {how}"
        ),
        1 => format!(
            "Two-step verification is not set up for your account. You can log in without it 1 more time; after that it is required. {how}"
        ),
        n => format!(
            "Two-step verification is not set up for your account. You can log in without it {n} more times; after that it is required. {how}"
        ),
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
        after: policy::AfterFailure,
        lock: Lock,
    },
}

/// Checks `answer` against the pending email code and the TOTP window and records
/// the result in `t` (run inside [`TallyStore::update`], under the user's lock).
fn judge(t: &mut Tally, cfg: &Config, secret: Option<&TotpSecret>, answer: &str, exempt: bool, now: u64) -> Verdict {
    policy::expire(t, &cfg.lockout, now);
    let lock = policy::lock_state(t, &cfg.lockout, exempt, now);
    if lock.is_locked() {
        return Verdict::Locked(lock);
    }
    let emailed = t.email_code.as_ref().map(|p| email::check(p, answer, cfg.totp.digits, now));
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

/// The tally's answer to "may a code be sent now?".
enum Reserve {
    Send,
    TooSoon { sent_at: u64, next_at: u64 },
    Locked(Lock),
}

/// `email` (any case, surrounding spaces ignored) at the code prompt.
fn is_email_request(answer: &str) -> bool {
    answer.trim().eq_ignore_ascii_case(EMAIL_REQUEST)
}

/// "Too many incorrect codes. Try again after 14:32." in local time.
pub fn locked_message(lock: Lock, now: u64) -> String {
    match lock {
        Lock::Until(t) => format!("Too many incorrect codes. Try again after {}.", local_time(t, now)),
        _ => "Too many incorrect codes. Ask your administrator to unlock your account.".to_string(),
    }
}

/// RFC 3339 UTC form of a lock end, `never` for a lock that waits for an admin, `-` for none.
pub fn describe_until_utc(lock: Lock) -> String {
    match lock {
        Lock::Open => "-".into(),
        Lock::UntilUnlocked => "admin_unlock".into(),
        Lock::Until(t) => rfc3339(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        Config::parse(Path::new("/test.toml"), "").unwrap()
    }

    fn pending(code: &str, now: u64) -> Tally {
        Tally { email_code: Some(email::seal(code, now, 600).unwrap()), ..Tally::default() }
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
