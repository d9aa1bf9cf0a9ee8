//! Sending a code by email or text message: the throttle is checked and the
//! code's salted hash reserved in the tally under the user's lock *before*
//! the message is handed to the [`crate::sendmail::Mailer`] or the
//! [`crate::sms::SmsSender`], so two racing logins cannot both send; a failed
//! send takes the reservation back, so the user may ask again as soon as the
//! mail or text system works. Each method has its own pending code and its
//! own throttle (`[email]` / `[sms]` `code_valid` and `resend_after`).

use super::text;
use super::{Broken, Login, Outcome};
use crate::config::Config;
use crate::email_code::{self, Resend};
use crate::log::Level;
use crate::policy::{self, Lock};
use crate::sendmail::{self, Letter};
use crate::store::UserStore;
use crate::store::record::Method;
use crate::store::tally::{EmailCode, Tally};
use crate::time::rfc3339;

/// Where a code can be sent: a validated address or E.164 number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dest<'a> {
    Email(&'a str),
    Text(&'a str),
}

impl Dest<'_> {
    pub(super) fn method(self) -> Method {
        match self {
            Dest::Email(_) => Method::Email,
            Dest::Text(_) => Method::Sms,
        }
    }

    /// `j***@district.org` or `•••• ••• 4567`.
    pub(super) fn masked(self) -> String {
        match self {
            Dest::Email(a) => crate::address::mask_address(a),
            Dest::Text(p) => crate::phone::mask_phone(p),
        }
    }

    /// The masked form for the log (`to=`), ASCII.
    pub(super) fn masked_for_log(self) -> String {
        match self {
            Dest::Email(a) => crate::address::mask_address(a),
            Dest::Text(p) => crate::phone::mask_phone_for_log(p),
        }
    }

    /// The tally's slot for this method's pending code.
    fn slot(self, t: &mut Tally) -> &mut Option<EmailCode> {
        match self {
            Dest::Email(_) => &mut t.email_code,
            Dest::Text(_) => &mut t.sms_code,
        }
    }

    /// The start of the log results: `email_sent`, `sms_throttled`, …
    fn prefix(self) -> &'static str {
        match self {
            Dest::Email(_) => "email",
            Dest::Text(_) => "sms",
        }
    }
}

/// The tally's answer to "may a code be sent now?".
enum Reserve {
    Send,
    TooSoon { sent_at: u64, next_at: u64 },
    Locked(Lock),
}

/// A composed message of either kind.
pub(super) enum Outgoing {
    Mail(sendmail::Message),
    Text(crate::sms::TextMessage),
}

/// The message carrying `code` to `dest`, with the method's `code_valid` and
/// `resend_after`.
pub(super) fn compose(
    cfg: &Config,
    dest: Dest<'_>,
    user: &str,
    code: &str,
    now: u64,
) -> Result<(u64, u64, Outgoing), Broken> {
    let host = sendmail::hostname();
    Ok(match dest {
        Dest::Email(to) => {
            let message = sendmail::compose(&cfg.email, &Letter { to, user, host: &host, code, now })?;
            (cfg.email.code_valid, cfg.email.resend_after, Outgoing::Mail(message))
        }
        Dest::Text(to) => {
            let message = crate::sms::compose(&cfg.sms, to, &host, code);
            (cfg.sms.code_valid, cfg.sms.resend_after, Outgoing::Text(message))
        }
    })
}

impl Login<'_> {
    /// Hands `outgoing` to the mail or text message command; the error is
    /// for the log (the runner keeps the code out of it, even when the
    /// command echoes the message).
    pub(super) fn deliver(&mut self, cfg: &Config, outgoing: &Outgoing) -> Result<(), String> {
        match outgoing {
            Outgoing::Mail(message) => self.mailer.send(&cfg.email, message).map_err(|e| e.to_string()),
            Outgoing::Text(message) => self.sms.send(&cfg.sms, message).map_err(|e| e.to_string()),
        }
    }

    /// Sends a new code to `dest`, or says when one may be sent again.
    /// `Some(outcome)` ends the login (locked, or the code could not be sent).
    pub(super) fn send_code(
        &mut self,
        cfg: &Config,
        store: &UserStore,
        dest: Dest<'_>,
        exempt: bool,
    ) -> Result<Option<Outcome>, Broken> {
        let (user, now) = (self.req.user, self.clock.now());
        let code = email_code::new_code(cfg.totp.digits)?;
        let (valid, resend_after, outgoing) = compose(cfg, dest, user, &code, now)?;
        let sealed = email_code::seal(&code, now, valid)?;
        let reserved = store.change(user, |u| {
            u.update_tally(|t| {
                policy::expire(t, &cfg.lockout, now);
                let lock = policy::lock_state(t, &cfg.lockout, exempt, now);
                if lock.is_locked() {
                    return Reserve::Locked(lock);
                }
                let slot = dest.slot(t);
                match email_code::may_resend(slot.as_ref(), resend_after, now) {
                    Resend::Allowed => {
                        *slot = Some(sealed.clone());
                        Reserve::Send
                    }
                    Resend::TooSoon { sent_at, next_at } => Reserve::TooSoon { sent_at, next_at },
                }
            })
        })?;
        let (masked, method, prefix) = (dest.masked(), dest.method(), dest.prefix());
        match reserved {
            Reserve::Locked(lock) => return Ok(Some(self.refuse_locked(lock, now))),
            Reserve::TooSoon { sent_at, next_at } => {
                let result = format!("{prefix}_throttled");
                let line = self.line(&result, method.name()).field("next", &rfc3339(next_at));
                self.log.log(Level::Info, line.as_str());
                let _ = self.conv.info(&text::code_too_soon(&masked, sent_at, next_at, now));
                return Ok(None);
            }
            Reserve::Send => {}
        }
        if let Err(why) = self.deliver(cfg, &outgoing) {
            store.change(user, |u| {
                u.update_tally(|t| {
                    let slot = dest.slot(t);
                    if slot.as_ref() == Some(&sealed) {
                        *slot = None;
                    }
                })
            })?;
            let (result, told) = match dest {
                Dest::Email(_) => ("mail_failed", text::email_failed()),
                Dest::Text(_) => ("sms_failed", text::text_failed()),
            };
            self.log_outcome(Level::Err, result, method.name(), Some(&why));
            let _ = self.conv.error(&told);
            return Ok(Some(Outcome::Denied));
        }
        let line = self.line(&format!("{prefix}_sent"), method.name()).field("to", &dest.masked_for_log());
        self.log.log(Level::Info, line.as_str());
        let valid_for = email_code::describe_duration(valid);
        let told = match dest {
            Dest::Email(_) => text::email_sent(&masked, &valid_for),
            Dest::Text(_) => text::text_sent(&masked, &valid_for),
        };
        let _ = self.conv.info(&told);
        Ok(None)
    }
}
