//! The confirmation code of a typed contact: reserved under the user's lock
//! (the throttle, [`reserve`]), sent, taken back if the send fails, and
//! judged under the lock, where the right code saves the record. The menu and
//! the prompts around it are `enroll_contact.rs`'s.

use super::{Back, CONTACT_CODE_TRIES, CONTACT_CODES_PER_HOUR, CONTACT_WINDOW, method_of};
use crate::auth::send_code::{self, Dest};
use crate::auth::text;
use crate::auth::{Broken, Login};
use crate::config::{Config, EnrollMethod, PolicyConfig};
use crate::email_code::{self, CodeCheck, Resend};
use crate::log::Level;
use crate::store::StoreError;
use crate::store::UserStore;
use crate::store::record::UserRecord;
use crate::store::tally::{ContactCode, Tally};
use crate::time::rfc3339;

/// What the reservation under the lock said.
enum Reserve {
    Send,
    TooSoon { sent_at: u64, next_at: u64 },
    Capped { next_at: u64 },
}

/// What the answer under the lock came to.
pub(super) enum Confirm {
    Saved,
    Elsewhere,
    Wrong {
        left: u32,
    },
    Expired,
    /// No code for this contact is pending (replaced by another login, used up).
    Gone,
}

impl Login<'_> {
    /// Reserves and sends a confirmation code to `dest`, or finds one still
    /// pending for it. `None`: a code is on its way (or pending), ask for it;
    /// `Some(back)`: nothing to ask for.
    pub(super) fn send_contact_code(
        &mut self,
        cfg: &Config,
        store: &UserStore,
        policy: &PolicyConfig,
        choice: EnrollMethod,
        dest: Dest<'_>,
    ) -> Result<Option<Back>, Broken> {
        let (user, now, method) = (self.req.user, self.clock.now(), dest.method());
        let contact = match dest {
            Dest::Email(c) | Dest::Text(c) => c,
        };
        let code = email_code::new_code(cfg.totp.digits)?;
        let (valid, resend_after, outgoing) = send_code::compose(cfg, dest, user, &code, now)?;
        let sealed = email_code::seal(&code, now, valid)?;
        let pending = ContactCode {
            method: method.name().into(),
            to: email_code::contact_tag(&sealed, contact),
            tries: 0,
            code: sealed,
        };
        let reserved = store.change(user, |u| u.update_tally(|t| reserve(t, &pending, contact, resend_after, now)))?;
        let masked = dest.masked();
        let line = self.line("contact_throttled", method.name()).field("to", &dest.masked_for_log());
        match reserved {
            Reserve::TooSoon { sent_at, next_at } => {
                self.log.log(Level::Info, line.field("next", &rfc3339(next_at)).as_str());
                // What the next prompt needs: shown even under PAM_SILENT.
                let _ = self.conv.instructions(&text::code_too_soon(&masked, sent_at, next_at, now));
                return Ok(None);
            }
            Reserve::Capped { next_at } => {
                let line = line.field("next", &rfc3339(next_at)).reason("codes per hour used up");
                self.log.log(Level::Notice, line.as_str());
                let app = policy.enroll_methods.contains(&EnrollMethod::App);
                let _ = self.conv.error(&text::contact_codes_used_up(next_at, now, app));
                return Ok(Some(Back::NoMoreCodes));
            }
            Reserve::Send => {}
        }
        if let Err(why) = self.deliver(cfg, &outgoing) {
            store.change(user, |u| {
                u.update_tally(|t| {
                    if t.contact_code.as_ref() == Some(&pending) {
                        t.contact_code = None;
                        if let Some(i) = t.contact_sends.iter().rposition(|s| *s == now) {
                            t.contact_sends.remove(i);
                        }
                    }
                })
            })?;
            let line = self.line("contact_failed", method.name()).field("to", &dest.masked_for_log()).reason(&why);
            self.log.log(Level::Err, line.as_str());
            let _ =
                self.conv.error(&if choice == EnrollMethod::Text { text::text_failed() } else { text::email_failed() });
            return Ok(Some(Back::Tried));
        }
        let line = self.line("contact_offered", method.name()).field("to", &dest.masked_for_log());
        self.log.log(Level::Info, line.as_str());
        let valid_for = email_code::describe_duration(valid);
        let _ = self.conv.instructions(&text::contact_sent(choice, &masked, &valid_for, true));
        Ok(None)
    }

    /// Judges `answer` against the code pending for `contact`, under the
    /// user's lock; the right one saves the record.
    pub(super) fn confirm_contact(
        &mut self,
        cfg: &Config,
        store: &UserStore,
        choice: EnrollMethod,
        contact: &str,
        answer: &str,
    ) -> Result<Confirm, Broken> {
        let method = method_of(choice);
        Ok(store.change(self.req.user, |u| -> Result<Confirm, StoreError> {
            let now = self.clock.now();
            // Set up meanwhile (another login, or an administrator): keep that one.
            if u.record()?.is_some_and(|r| !r.enabled || r.is_enrolled()) {
                return Ok(Confirm::Elsewhere);
            }
            let mut t = u.tally()?.clone();
            let Some(mut pending) = t
                .contact_code
                .clone()
                .filter(|p| p.method == method.name() && email_code::is_contact(&p.code, &p.to, contact))
            else {
                return Ok(Confirm::Gone);
            };
            let verdict = match email_code::check(&pending.code, answer, cfg.totp.digits, now) {
                CodeCheck::Valid => {
                    // The code is spent before the record is written: a failed
                    // record write leaves nothing enrolled and no code to reuse.
                    t.contact_code = None;
                    t.contact_sends.clear();
                    u.save_tally(t)?;
                    let mut record = UserRecord { enabled: true, created: now, ..UserRecord::default() };
                    match choice {
                        EnrollMethod::Text => record.phone = Some(contact.to_string()),
                        _ => record.email = Some(contact.to_string()),
                    }
                    u.save_record(record)?;
                    return Ok(Confirm::Saved);
                }
                CodeCheck::Expired => {
                    t.contact_code = None;
                    Confirm::Expired
                }
                CodeCheck::Wrong => {
                    pending.tries += 1;
                    let left = CONTACT_CODE_TRIES.saturating_sub(pending.tries);
                    t.contact_code = (left > 0).then_some(pending);
                    Confirm::Wrong { left }
                }
            };
            u.save_tally(t)?;
            Ok(verdict)
        })?)
    }
}

/// The throttle, under the user's lock: the same contact's pending code is
/// kept until `resend_after`; otherwise a new code, if the hourly cap allows.
fn reserve(t: &mut Tally, pending: &ContactCode, contact: &str, resend_after: u64, now: u64) -> Reserve {
    t.contact_sends.retain(|s| *s <= now && now < s.saturating_add(CONTACT_WINDOW));
    if let Some(p) = &t.contact_code
        && p.method == pending.method
        && email_code::is_contact(&p.code, &p.to, contact)
        && let Resend::TooSoon { sent_at, next_at } = email_code::may_resend(Some(&p.code), resend_after, now)
    {
        return Reserve::TooSoon { sent_at, next_at };
    }
    if t.contact_sends.len() >= CONTACT_CODES_PER_HOUR {
        return Reserve::Capped { next_at: t.contact_sends[0].saturating_add(CONTACT_WINDOW) };
    }
    t.contact_code = Some(pending.clone());
    t.contact_sends.push(now);
    Reserve::Send
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(contact: &str, now: u64) -> ContactCode {
        let code = email_code::seal("123456", now, 600).unwrap();
        ContactCode { method: "sms".into(), to: email_code::contact_tag(&code, contact), tries: 0, code }
    }

    #[test]
    fn the_same_contact_waits_for_resend_after_and_the_hourly_cap_holds_across_contacts() {
        let mut t = Tally::default();
        assert!(matches!(reserve(&mut t, &pending("+15550000001", 1000), "+15550000001", 60, 1000), Reserve::Send));
        let again = reserve(&mut t, &pending("+15550000001", 1010), "+15550000001", 60, 1010);
        assert!(matches!(again, Reserve::TooSoon { sent_at: 1000, next_at: 1060 }));
        assert!(matches!(reserve(&mut t, &pending("+15550000002", 1020), "+15550000002", 60, 1020), Reserve::Send));
        assert!(matches!(reserve(&mut t, &pending("+15550000001", 1070), "+15550000001", 60, 1070), Reserve::Send));
        let capped = reserve(&mut t, &pending("+15550000003", 1080), "+15550000003", 60, 1080);
        assert!(matches!(capped, Reserve::Capped { next_at: 4600 }), "three an hour");
        assert_eq!(t.contact_sends, [1000, 1020, 1070]);
        assert!(matches!(reserve(&mut t, &pending("+15550000003", 4600), "+15550000003", 60, 4600), Reserve::Send));
        assert_eq!(t.contact_sends, [1020, 1070, 4600], "old sends leave the window");
    }
}
