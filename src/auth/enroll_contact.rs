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
//!
//! The confirmation code (reserve, send, judge) is `enroll_contact/confirm.rs`.

mod confirm;

use super::send_code::Dest;
use super::text::{self, PROMPT};
use super::{Broken, ConvError, Login, Outcome};
use crate::config::{Config, EnrollMethod, PolicyConfig};
use crate::log::Level;
use crate::store::UserStore;
use crate::store::record::Method;
use confirm::Confirm;

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

pub(super) fn method_of(m: EnrollMethod) -> Method {
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
