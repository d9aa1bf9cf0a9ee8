//! One login, start to finish (`pam_sm_authenticate` minus libpam).
//!
//! 1. [`Login::run`]: load the config; look up the user's record (a name that
//!    cannot be a file name has none); the policy ([`crate::policy::decide`],
//!    NSS groups only when a rule needs them) says: step aside, refuse, must
//!    enroll, or verify. A login from a trusted network steps aside first.
//! 2. Must enroll ([`enroll`]): a grace login, enrollment at login (QR code,
//!    one confirming code, then the record is saved; or a choice, and a typed
//!    number or address confirmed by a code sent to it: [`enroll_contact`]),
//!    or a refusal.
//! 3. Verify ([`verify`]): the lock gate (a locked user is never asked), the
//!    prompt (typing `email` or `text`, or having no app and one way to get
//!    a code, sends one: [`send_code`]), the answer's age, then under the user's lock the answer
//!    is written down as a failure, judged against the record as it is now,
//!    and turned into a success if right.
//! 4. One log line for the outcome; [`Outcome`] becomes a PAM code in `src/pam/`.
//!
//! This module talks only to traits: [`Conversation`] (the user),
//! [`AuditLog`] (the administrator), [`Accounts`] (NSS), [`Mailer`] (the
//! mail system), [`SmsSender`] (the text message command) and [`Clock`]. The PAM glue provides the real ones; tests
//! provide doubles. Every text the user sees is in [`text`].

mod broken;
mod enroll;
mod enroll_contact;
mod menu;
mod send_code;
pub mod text;
mod verify;

#[cfg(test)]
mod tests;

use std::path::Path;

use zeroize::Zeroizing;

use crate::config::Config;
use crate::config::cache::CacheUse;
use crate::log::{AuditLog, Level, Line};
use crate::policy::{self, Decision, RecordState};
use crate::sendmail::Mailer;
use crate::sms::SmsSender;
use crate::store::UserStore;
use crate::time::Clock;
use crate::trusted_fs::Owner;
use crate::user::{self, Accounts};
use broken::Broken;

pub use text::UNAVAILABLE;

/// The conversation could not happen (no conversation function, user pressed Ctrl-D, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvError;

/// Talking to the user.
pub trait Conversation {
    /// Asks a question without echo and returns the answer.
    fn ask(&mut self, prompt: &str) -> Result<Zeroizing<String>, ConvError>;
    /// Asks a question whose answer is shown as it is typed (a phone number,
    /// an address, a choice: nothing secret).
    fn ask_visible(&mut self, prompt: &str) -> Result<Zeroizing<String>, ConvError> {
        self.ask(prompt)
    }
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

/// The facts of one authentication request.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The PAM user name; [`Login::authenticate`] replaces it with the
    /// account's canonical name, the key of the whole login.
    pub user: &'a str,
    /// The PAM user name as given, when it differs from `user` (logged as
    /// `typed=`); filled in by [`Login::authenticate_with`].
    pub typed: Option<&'a str>,
    /// The account's uid when NSS knows it (for `even_deny_root`); filled in
    /// by [`Login::authenticate_with`] from the same lookup as the name.
    pub uid: Option<u32>,
    pub service: &'a str,
    pub rhost: &'a str,
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

/// Everything one authentication needs.
pub struct Login<'a> {
    pub req: Request<'a>,
    pub conv: &'a mut dyn Conversation,
    pub log: &'a mut dyn AuditLog,
    pub accounts: &'a dyn Accounts,
    pub mailer: &'a mut dyn Mailer,
    pub sms: &'a mut dyn SmsSender,
    /// Read at every step that waits for a person or another login, never once per login.
    pub clock: &'a dyn Clock,
}

impl Login<'_> {
    /// Runs the login with the configuration at `config_path` (root's files),
    /// through its compiled copy at `cache` when given, and logs its outcome.
    pub fn authenticate(&mut self, config_path: &Path, cache: Option<&Path>) -> Outcome {
        match Config::load_cached(config_path, cache) {
            Ok((cfg, used)) => {
                if let CacheUse::Unusable(why) = &used {
                    let line = Line::new().field("event", "config_cache_unused").reason(why);
                    self.log.log(Level::Warning, line.as_str());
                }
                if self.req.debug {
                    let line = format!("debug: config={} cache={used:?} {:?}", config_path.display(), cfg);
                    self.log.log(Level::Debug, &line);
                }
                self.authenticate_with(&cfg, Owner::ROOT)
            }
            Err(e) => self.unavailable(&e.to_string()),
        }
    }

    /// Runs the login with `cfg`, trusting state files owned by `owner` (root
    /// in production; the in-process tests pass their own uid).
    pub fn authenticate_with(&mut self, cfg: &Config, owner: Owner) -> Outcome {
        // One person, one record: everything below (store, tally, groups, log) is
        // keyed on the account's canonical name, whatever spelling was typed.
        let (account, uid) = match user::resolve(self.accounts, self.req.user) {
            Ok(found) => found,
            Err(why) => return self.unavailable(&why.to_string()),
        };
        let typed = (account != self.req.user).then_some(self.req.user);
        let mut login = Login {
            req: Request { user: &account, typed, uid, ..self.req.clone() },
            conv: &mut *self.conv,
            log: &mut *self.log,
            accounts: self.accounts,
            mailer: &mut *self.mailer,
            sms: &mut *self.sms,
            clock: self.clock,
        };
        match login.run(cfg, owner) {
            Ok(outcome) => outcome,
            Err(why) => login.unavailable(&why.to_string()),
        }
    }

    fn unavailable(&mut self, why: &str) -> Outcome {
        self.log_outcome(Level::Err, "unavailable", "none", Some(why));
        let _ = self.conv.error(UNAVAILABLE);
        Outcome::Unavailable
    }

    fn run(&mut self, cfg: &Config, owner: Owner) -> Result<Outcome, Broken> {
        let user = self.req.user;
        let store = UserStore::open_for_login(cfg, owner)?;
        // A name that cannot be a file name (empty, or too long once encoded) has
        // no record; the policy still decides, so `required = false` passes it.
        let unusable_name = user::file_name_of(user).err();
        let record = if unusable_name.is_none() { store.record(user)? } else { None };
        // A record disabled `--for` a while is in force again once that ends.
        let now = self.clock.now();
        let state = match record {
            Some(r) if !r.enabled_at(now) => RecordState::Disabled,
            Some(r) if r.is_enrolled() => RecordState::Enabled(r),
            _ => RecordState::Missing,
        };
        let policy = cfg.policy_for(self.req.service);
        // A trusted network skips the code for everyone, enrolled, locked or
        // not; the record was read above, so a broken store still refuses.
        if let Some(net) = policy::trusted_network(policy, self.req.rhost) {
            let why = policy::IgnoreReason::TrustedNetwork(*net).describe();
            self.log_outcome(Level::Info, "ignored", "none", Some(&why));
            return Ok(Outcome::Ignore);
        }
        let groups = if policy::needs_groups(policy, &state) { self.accounts.groups(user)? } else { Some(Vec::new()) };
        let decision = policy::decide(policy, state, groups.as_deref());
        if let (Some(e), false) = (&unusable_name, matches!(decision, Decision::Ignore(_))) {
            self.log_outcome(Level::Notice, "denied", "none", Some(&e.to_string()));
            let _ = self.conv.error(UNAVAILABLE);
            return Ok(Outcome::Denied);
        }
        match decision {
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
            Decision::MustEnroll => self.not_enrolled(cfg, &store, policy),
            Decision::Verify(record) => self.verify(cfg, &store, &record),
        }
    }

    /// The start of this login's log line: who, where, what happened, which method.
    fn line(&self, result: &str, method: &str) -> Line {
        let line = Line::new().field("user", self.req.user);
        let line = match self.req.typed {
            Some(typed) => line.field("typed", typed),
            None => line,
        };
        line.field("service", self.req.service)
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
