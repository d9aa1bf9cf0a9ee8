//! A user who must use a second factor and has none ([`policy::unenrolled`]):
//! a grace login with a reminder, enrollment at login, or a refusal.
//!
//! When `[policy] enroll_methods` offers more than the app, the user first
//! chooses, and a typed phone number or address is confirmed with a code
//! sent to it (`enroll_contact.rs`); the app is set up here.
//!
//! Enrollment at login shows a new secret (QR code, otpauth address, base32
//! for typing in), asks for one code from the app to confirm it, and only then
//! saves the record, under the user's lock and only if nobody set one up
//! meanwhile. Nothing is written when the user aborts or the codes do not
//! match; those attempts are not counted as failed codes, since nothing is
//! protected yet and the secret is new at every attempt.

use zeroize::Zeroizing;

use super::text::{self, PROMPT};
use super::{Broken, ConvError, Login, Outcome};
use crate::config::{Config, EnrollMethod, PolicyConfig};
use crate::log::Level;
use crate::policy::{self, Unenrolled};
use crate::qr;
use crate::secret::{self, TotpSecret};
use crate::store::StoreError;
use crate::store::UserStore;
use crate::store::record::UserRecord;
use crate::totp::{self, Check};
use crate::user;

/// Codes a user may try when confirming enrollment at login.
pub const ENROLL_TRIES: u32 = 3;

impl Login<'_> {
    pub(super) fn not_enrolled(
        &mut self,
        cfg: &Config,
        store: &UserStore,
        policy: &PolicyConfig,
    ) -> Result<Outcome, Broken> {
        // The tally is touched only when grace logins or enrollment need it.
        let grace_used = if policy.grace_logins > 0 { store.tally(self.req.user)?.grace_used } else { 0 };
        match policy::unenrolled(policy, grace_used) {
            Unenrolled::Refuse { grace_used_up } => Ok(self.refuse_not_enrolled(grace_used_up)),
            Unenrolled::Grace => self.grace_login(store, policy),
            Unenrolled::Enroll { skips_left } if policy.enroll_methods == [EnrollMethod::App] => {
                self.enroll_app(cfg, store, policy, skips_left, true)
            }
            Unenrolled::Enroll { skips_left } => self.enroll_with_choice(cfg, store, policy, skips_left),
        }
    }

    fn refuse_not_enrolled(&mut self, grace_used_up: bool) -> Outcome {
        let reason = grace_used_up.then_some("grace logins used up");
        self.log_outcome(Level::Notice, "not_enrolled", "none", reason);
        let _ = self.conv.error(&text::not_enrolled(grace_used_up));
        Outcome::Denied
    }

    /// Uses one grace login under the tally lock (so parallel logins cannot share
    /// one) and lets the login through with a reminder.
    pub(super) fn grace_login(&mut self, store: &UserStore, policy: &PolicyConfig) -> Result<Outcome, Broken> {
        let left = store.change(self.req.user, |u| u.update_tally(|t| policy::take_grace(t, policy)))?;
        let Some(left) = left else {
            return Ok(self.refuse_not_enrolled(true));
        };
        let line = self.line("grace", "none").field("grace_left", &left.to_string());
        self.log.log(Level::Notice, line.as_str());
        let _ = self.conv.info(&text::grace(left, policy.enroll_at_login));
        Ok(Outcome::Ignore)
    }

    /// Sets up the app: QR code, one confirming code. `heading` when nothing
    /// was shown before (no menu).
    pub(super) fn enroll_app(
        &mut self,
        cfg: &Config,
        store: &UserStore,
        policy: &PolicyConfig,
        skips_left: u32,
        heading: bool,
    ) -> Result<Outcome, Broken> {
        let user = self.req.user;
        let secret = TotpSecret::generate()?;
        let uri = totp::otpauth_uri(&secret, &cfg.issuer, user, &cfg.totp);
        // The picture and the texts hold the secret: wiped when dropped.
        let picture = Zeroizing::new(qr::terminal(&uri)?);
        let shown = user::for_terminal(user);
        let texts = [
            Zeroizing::new(text::enroll_intro(&cfg.issuer, &shown, heading)),
            picture,
            Zeroizing::new(text::enroll_by_hand(&secret::grouped(&secret.to_base32()), cfg, &uri)),
            Zeroizing::new(text::enroll_type_code(skips_left)),
        ];
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
                return self.grace_login(store, policy);
            }
            // Scanning takes a while: the time the code was typed, not the start of the login.
            let now = self.clock.now();
            if let Check::Valid { step } = totp::check(&secret, &cfg.totp, &answer, now, None) {
                return self.save_enrollment(store, &secret, step, now);
            }
            if attempt < ENROLL_TRIES {
                let _ = self.conv.error(&text::enroll_mismatch(&cfg.issuer, &shown, cfg.totp.period));
            }
        }
        let why = "confirmation codes did not match; nothing saved";
        self.log_outcome(Level::Notice, "enroll_failed", "totp", Some(why));
        let _ = self.conv.error(&text::enroll_failed());
        Ok(Outcome::Denied)
    }

    /// Saves the confirmed record and the confirming step (so the code cannot be
    /// replayed), under the user's tally lock so two enrollments cannot race.
    fn save_enrollment(
        &mut self,
        store: &UserStore,
        secret: &TotpSecret,
        step: u64,
        now: u64,
    ) -> Result<Outcome, Broken> {
        let user = self.req.user;
        let record = UserRecord { secret: Some(secret.clone()), enabled: true, created: now, ..UserRecord::default() };
        let saved = store.change(user, |u| -> Result<bool, StoreError> {
            // Set up meanwhile (another login, or an administrator): keep that one.
            if u.record()?.is_some_and(|r| !r.enabled || r.is_enrolled()) {
                return Ok(false);
            }
            // The confirming step first: if the record cannot be written after
            // it, nothing is enrolled and the code is still spent; the other
            // way round a failed tally write would leave a record whose
            // confirming code works again.
            u.update_tally(|t| t.last_step = Some(step))?;
            u.save_record(record)?;
            Ok(true)
        })?;
        if !saved {
            self.log_outcome(Level::Notice, "enroll_failed", "totp", Some("enrolled meanwhile by another login"));
            let _ = self.conv.error(text::ENROLLED_ELSEWHERE);
            return Ok(Outcome::Denied);
        }
        self.log_outcome(Level::Notice, "enrolled", "totp", None);
        let _ = self.conv.info(text::ENROLLED);
        Ok(Outcome::Success)
    }
}
