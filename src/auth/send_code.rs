//! Sending an email code: the throttle is checked and the code's salted hash
//! reserved in the tally under the user's lock *before* the message is handed
//! to the [`crate::sendmail::Mailer`], so two racing logins cannot both send; a
//! failed send takes the reservation back, so the user may ask again as soon
//! as the mail system works.

use super::text;
use super::{Broken, Login, Outcome};
use crate::config::Config;
use crate::email_code::{self, Resend};
use crate::log::Level;
use crate::policy::{self, Lock};
use crate::sendmail::{self, Letter};
use crate::store::UserStore;
use crate::store::record::Method;
use crate::time::rfc3339;

/// The tally's answer to "may a code be sent now?".
enum Reserve {
    Send,
    TooSoon { sent_at: u64, next_at: u64 },
    Locked(Lock),
}

impl Login<'_> {
    /// Sends a new email code to `to`, or says when one may be sent again.
    /// `Some(outcome)` ends the login (locked, or the mail could not be sent).
    pub(super) fn send_email_code(
        &mut self,
        cfg: &Config,
        store: &UserStore,
        to: &str,
        exempt: bool,
    ) -> Result<Option<Outcome>, Broken> {
        let (user, now) = (self.req.user, self.clock.now());
        let code = email_code::new_code(cfg.totp.digits)?;
        let host = sendmail::hostname();
        let message = sendmail::compose(&cfg.email, &Letter { to, user, host: &host, code: &code, now })?;
        let sealed = email_code::seal(&code, now, cfg.email.code_valid)?;
        let reserved = store.change(user, |u| {
            u.update_tally(|t| {
                policy::expire(t, &cfg.lockout, now);
                let lock = policy::lock_state(t, &cfg.lockout, exempt, now);
                if lock.is_locked() {
                    return Reserve::Locked(lock);
                }
                match email_code::may_resend(t.email_code.as_ref(), cfg.email.resend_after, now) {
                    Resend::Allowed => {
                        t.email_code = Some(sealed.clone());
                        Reserve::Send
                    }
                    Resend::TooSoon { sent_at, next_at } => Reserve::TooSoon { sent_at, next_at },
                }
            })
        })?;
        let masked = crate::address::mask_address(to);
        match reserved {
            Reserve::Locked(lock) => return Ok(Some(self.refuse_locked(lock, now))),
            Reserve::TooSoon { sent_at, next_at } => {
                let line = self.line("email_throttled", Method::Email.name()).field("next", &rfc3339(next_at));
                self.log.log(Level::Info, line.as_str());
                let _ = self.conv.info(&text::email_too_soon(&masked, sent_at, next_at, now));
                return Ok(None);
            }
            Reserve::Send => {}
        }
        // The mail module keeps the code out of the error (the command may echo the message).
        if let Err(why) = self.mailer.send(&cfg.email, &message) {
            store.change(user, |u| {
                u.update_tally(|t| {
                    if t.email_code.as_ref() == Some(&sealed) {
                        t.email_code = None;
                    }
                })
            })?;
            self.log_outcome(Level::Err, "mail_failed", Method::Email.name(), Some(&why.to_string()));
            let _ = self.conv.error(&text::email_failed());
            return Ok(Some(Outcome::Denied));
        }
        let line = self.line("email_sent", Method::Email.name()).field("to", &masked);
        self.log.log(Level::Info, line.as_str());
        let _ = self.conv.info(&text::email_sent(&masked, &email_code::describe_duration(cfg.email.code_valid)));
        Ok(None)
    }
}
