//! Enrollment at login with a choice (`[policy] enroll_methods` offers more
//! than the app): the menu, and a phone number or email address the user
//! types, which becomes a method only once the code sent to it is typed back.
//!
//! - A typed contact is validated ([`crate::phone::normalize_phone`],
//!   [`crate::address::validate_address`]) before anything is done with it:
//!   no unvalidated string reaches the mail or text message command.
//! - The confirmation code is a one-time code like the email code (salted
//!   hash in the tally, `contact_code`, tied to the contact by a salted hash
//!   of it), reserved under the user's lock before the send and taken back
//!   if the send fails. It is never accepted as a login code.
//! - Texts cost money and mail to a typed address can annoy a stranger, so
//!   sending is throttled, not counted as failed codes (there is nothing to
//!   protect yet, as for a wrong app code at enrollment): at most
//!   [`CONTACTS_PER_LOGIN`] contacts per login, [`CONTACT_CODES_PER_HOUR`]
//!   codes per user and hour, the method's `resend_after` for the same
//!   contact, and [`CONTACT_CODE_TRIES`] answers per code.
//! - The record is saved only after the right code, under the user's lock
//!   and only if nobody set one up meanwhile. Contacts an administrator sets
//!   (`twostep email`, `twostep phone`) are trusted as they are and never
//!   come here.

use super::send_code::{self, Dest};
use super::text::{self, PROMPT};
use super::{Broken, ConvError, Login, Outcome};
use crate::config::{Config, EnrollMethod, PolicyConfig};
use crate::email_code::{self, CodeCheck, Resend};
use crate::log::Level;
use crate::store::UserStore;
use crate::store::files::StoreError;
use crate::store::record::{Method, UserRecord};
use crate::store::tally::{ContactCode, Tally};
use crate::time::rfc3339;

/// Numbers or addresses one login may send a code to.
pub const CONTACTS_PER_LOGIN: u32 = 2;
/// Codes sent to typed contacts per user within [`CONTACT_WINDOW`].
pub const CONTACT_CODES_PER_HOUR: usize = 3;
/// The window of [`CONTACT_CODES_PER_HOUR`], seconds.
pub const CONTACT_WINDOW: u64 = 3600;
/// Answers one confirmation code may get before it stops working.
pub const CONTACT_CODE_TRIES: u32 = 3;
/// Answers a prompt (menu, number, address) may get that are no answer.
const TYPING_TRIES: u32 = 3;
/// Times the menu (or the one contact prompt) comes round in one login.
const ROUNDS: u32 = 5;

/// How a contact attempt ended, when it did not end the login.
#[derive(Clone, Copy)]
enum Back {
    /// A code was sent (or was already pending): one contact used.
    Tried,
    /// Nothing was sent.
    Untried,
    /// No more codes may be sent now.
    NoMoreCodes,
}

/// Either the login is over, or back to the menu.
enum Step {
    Done(Outcome),
    Back(Back),
}

/// What the reservation under the lock said.
enum Reserve {
    Send,
    TooSoon { sent_at: u64, next_at: u64 },
    Capped { next_at: u64 },
}

/// What the answer under the lock came to.
enum Confirm {
    Saved,
    Elsewhere,
    Wrong {
        left: u32,
    },
    Expired,
    /// No code for this contact is pending (replaced by another login, used up).
    Gone,
}

fn method_of(m: EnrollMethod) -> Method {
    if m == EnrollMethod::Text { Method::Sms } else { Method::Email }
}

/// The typed contact in stored form, or `None` when it cannot be used.
fn validate(m: EnrollMethod, typed: &str) -> Option<String> {
    match m {
        EnrollMethod::Text => crate::phone::normalize_phone(typed).ok(),
        _ => {
            let a = typed.trim();
            crate::address::validate_address(a).is_ok().then(|| a.to_string())
        }
    }
}

/// The menu answer: one of the words offered (any case, spaces around ignored).
fn chosen(answer: &str, choices: &[EnrollMethod]) -> Option<EnrollMethod> {
    choices.iter().find(|m| answer.trim().eq_ignore_ascii_case(m.word())).copied()
}

impl Login<'_> {
    pub(super) fn enroll_with_choice(
        &mut self,
        cfg: &Config,
        store: &UserStore,
        policy: &PolicyConfig,
        skips_left: u32,
    ) -> Result<Outcome, Broken> {
        let mut contacts_left = CONTACTS_PER_LOGIN;
        let mut last = "none";
        for round in 0..ROUNDS {
            let first = round == 0;
            let choices: Vec<EnrollMethod> = policy
                .enroll_methods
                .iter()
                .copied()
                .filter(|m| *m == EnrollMethod::App || contacts_left > 0)
                .collect();
            let single = choices.len() == 1;
            let choice = match choices.as_slice() {
                [] => break,
                [only] => *only,
                _ => {
                    let menu = text::enroll_choose(&choices, skips_left, first);
                    let prompt = text::enroll_choice_prompt(&choices);
                    match self.choose(&menu, &prompt, &choices, skips_left)? {
                        Some(Ok(m)) => m,
                        Some(Err(outcome)) => return Ok(outcome),
                        None if skips_left > 0 => return self.grace_login(store, policy),
                        None => break,
                    }
                }
            };
            if choice == EnrollMethod::App {
                return self.enroll_app(cfg, store, policy, skips_left, first);
            }
            last = method_of(choice).name();
            let intro = (single && first).then(|| text::enroll_contact_intro(choice, skips_left, true));
            match self.enroll_contact(cfg, store, policy, choice, skips_left, single, intro)? {
                Step::Done(outcome) => return Ok(outcome),
                Step::Back(Back::Tried) => contacts_left -= 1,
                Step::Back(Back::Untried) => {}
                Step::Back(Back::NoMoreCodes) => contacts_left = 0,
            }
            if contacts_left == 0 {
                let _ = self.conv.error(text::NO_MORE_CONTACTS);
            }
        }
        self.log_outcome(Level::Notice, "enroll_failed", last, Some("nothing confirmed; nothing saved"));
        let _ = self.conv.error(text::CONTACT_FAILED);
        Ok(Outcome::Denied)
    }

    /// Shows the menu and reads a choice. `None`: Enter (put off), or no
    /// valid choice after [`TYPING_TRIES`] answers (then skips are not offered:
    /// the caller decides); `Some(Err)`: the login ends (aborted).
    fn choose(
        &mut self,
        menu: &str,
        prompt: &str,
        choices: &[EnrollMethod],
        skips_left: u32,
    ) -> Result<Option<Result<EnrollMethod, Outcome>>, Broken> {
        if self.conv.instructions(menu).is_err() {
            return Ok(Some(Err(self.enroll_aborted())));
        }
        for _ in 0..TYPING_TRIES {
            let answer = match self.conv.ask_visible(prompt) {
                Ok(a) => a,
                Err(ConvError) => return Ok(Some(Err(self.enroll_aborted()))),
            };
            if answer.trim().is_empty() && skips_left > 0 {
                return Ok(None);
            }
            if let Some(m) = chosen(&answer, choices) {
                return Ok(Some(Ok(m)));
            }
            let _ = self.conv.error(&text::enroll_unknown_choice(choices));
        }
        // No choice made: not a grace login (that needs an empty answer).
        Ok(Some(Err(self.enroll_no_choice())))
    }

    fn enroll_no_choice(&mut self) -> Outcome {
        self.log_outcome(Level::Notice, "enroll_failed", "none", Some("no method chosen; nothing saved"));
        let _ = self.conv.error(text::CONTACT_FAILED);
        Outcome::Denied
    }

    fn enroll_aborted(&mut self) -> Outcome {
        self.log_outcome(Level::Notice, "aborted", "none", Some("enrollment at login not finished"));
        Outcome::Aborted
    }

    /// One contact: typed, validated, a code sent (or still pending), the
    /// code typed back.
    #[allow(clippy::too_many_arguments)]
    fn enroll_contact(
        &mut self,
        cfg: &Config,
        store: &UserStore,
        policy: &PolicyConfig,
        choice: EnrollMethod,
        skips_left: u32,
        single: bool,
        intro: Option<String>,
    ) -> Result<Step, Broken> {
        if let Some(intro) = intro
            && self.conv.instructions(&intro).is_err()
        {
            return Ok(Step::Done(self.enroll_aborted()));
        }
        let method = method_of(choice);
        let prompt = if choice == EnrollMethod::Text { text::PHONE_PROMPT } else { text::ADDRESS_PROMPT };
        let mut contact = None;
        for _ in 0..TYPING_TRIES {
            let typed = match self.conv.ask_visible(prompt) {
                Ok(a) => a,
                Err(ConvError) => return Ok(Step::Done(self.enroll_aborted())),
            };
            if typed.trim().is_empty() {
                if !single {
                    return Ok(Step::Back(Back::Untried));
                }
                if skips_left > 0 {
                    return self.grace_login(store, policy).map(Step::Done);
                }
            }
            if let Some(c) = validate(choice, &typed) {
                contact = Some(c);
                break;
            }
            // What was typed is not logged: it may be anything (a password typed at the wrong prompt).
            let why = if choice == EnrollMethod::Text { "not a usable phone number" } else { "not a usable address" };
            self.log_outcome(Level::Info, "contact_failed", method.name(), Some(why));
            let _ = self.conv.error(if choice == EnrollMethod::Text { text::BAD_PHONE } else { text::BAD_ADDRESS });
        }
        let Some(contact) = contact else {
            return Ok(Step::Back(Back::Untried));
        };
        let dest = if choice == EnrollMethod::Text { Dest::Text(&contact) } else { Dest::Email(&contact) };
        if let Some(back) = self.send_contact_code(cfg, store, policy, choice, dest)? {
            return Ok(Step::Back(back));
        }
        let back = Back::Tried;

        let mut answers = 0;
        loop {
            let answer = match self.conv.ask(PROMPT) {
                Ok(a) => a,
                Err(ConvError) => return Ok(Step::Done(self.enroll_aborted())),
            };
            if answer.trim().is_empty() {
                return Ok(Step::Back(back));
            }
            answers += 1;
            let line = |s: &Self, result: &str| s.line(result, method.name()).field("to", &dest.masked_for_log());
            match self.confirm_contact(cfg, store, choice, &contact, &answer)? {
                Confirm::Saved => {
                    self.log.log(Level::Notice, line(self, "contact_verified").as_str());
                    self.log.log(Level::Notice, line(self, "enrolled").as_str());
                    let _ = self.conv.info(&text::contact_enrolled(choice, &dest.masked()));
                    return Ok(Step::Done(Outcome::Success));
                }
                Confirm::Elsewhere => {
                    let why = "enrolled meanwhile by another login";
                    self.log_outcome(Level::Notice, "enroll_failed", method.name(), Some(why));
                    let _ = self.conv.error(text::ENROLLED_ELSEWHERE);
                    return Ok(Step::Done(Outcome::Denied));
                }
                Confirm::Wrong { left } => {
                    let l = line(self, "contact_failed").field("remaining", &left.to_string()).reason("wrong code");
                    self.log.log(Level::Notice, l.as_str());
                    if left == 0 || answers >= CONTACT_CODE_TRIES {
                        let _ = self.conv.error(text::CONTACT_CODE_USED_UP);
                        return Ok(Step::Back(back));
                    }
                    let _ = self.conv.error(&text::contact_mismatch(left));
                }
                Confirm::Expired | Confirm::Gone => {
                    self.log.log(Level::Notice, line(self, "contact_failed").reason("code expired").as_str());
                    let _ = self.conv.error(text::CONTACT_EXPIRED);
                    return Ok(Step::Back(back));
                }
            }
        }
    }

    /// Reserves and sends a confirmation code to `dest`, or finds one still
    /// pending for it. `None`: a code is on its way (or pending), ask for it;
    /// `Some(back)`: nothing to ask for.
    fn send_contact_code(
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
    fn confirm_contact(
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

    #[test]
    fn menu_answers_are_the_words_offered_in_any_case() {
        let c = [EnrollMethod::App, EnrollMethod::Text, EnrollMethod::Email];
        assert_eq!(chosen(" Text ", &c), Some(EnrollMethod::Text));
        assert_eq!(chosen("EMAIL", &c), Some(EnrollMethod::Email));
        assert_eq!(chosen("3", &c), None);
        assert_eq!(chosen("sms", &c), None);
        assert_eq!(chosen("text", &[EnrollMethod::App, EnrollMethod::Email]), None);
    }

    #[test]
    fn typed_contacts_are_validated_and_stored_in_normal_form() {
        assert_eq!(validate(EnrollMethod::Text, " +1 (555) 123-4567 ").as_deref(), Some("+15551234567"));
        assert_eq!(validate(EnrollMethod::Text, "555 1234"), None);
        assert_eq!(validate(EnrollMethod::Text, "+1555;reboot"), None);
        assert_eq!(validate(EnrollMethod::Email, " jo@district.org ").as_deref(), Some("jo@district.org"));
        assert_eq!(validate(EnrollMethod::Email, "Jo <jo@district.org>"), None);
        assert_eq!(validate(EnrollMethod::Email, "jo@district.org\nBcc: x@y.z"), None);
    }
}
