//! The method menu of a verification: which methods can send this user a
//! code ([`Offer`]), the first prompt that names them, the words that ask for
//! a code at the prompt (`email`, `text`), at most [`MAX_SEND_REQUESTS`] sends
//! per login, and what is said for a method that is not set up. The lock
//! gate and judging the answer are `verify.rs`'s; sending is `send_code.rs`'s.

use zeroize::Zeroizing;

use super::send_code::Dest;
use super::text::{self, CHOOSE_TEXT_OR_EMAIL, PROMPT, PROMPT_WITH_EMAIL, PROMPT_WITH_TEXT, PROMPT_WITH_TEXT_OR_EMAIL};
use super::text::{EMAIL_REQUEST, TEXT_REQUESTS};
use super::{Broken, ConvError, Login, Outcome};
use crate::config::Config;
use crate::log::Level;
use crate::store::UserStore;
use crate::store::record::{Method, UserRecord};

/// How often one login may ask for a code to be sent, by any method (each
/// ask after the first only repeats when a new one is possible; asking for a
/// method that is not set up counts here too). The next ask is judged as an
/// answer (a wrong code).
const MAX_SEND_REQUESTS: u32 = 3;

/// The methods that can send this user a code, as validated destinations.
#[derive(Debug, Clone, Copy)]
pub(super) struct Offer<'a> {
    pub(super) email: Option<&'a str>,
    pub(super) phone: Option<&'a str>,
}

impl<'a> Offer<'a> {
    fn dest(self, method: Method) -> Option<Dest<'a>> {
        match method {
            Method::Email => self.email.map(Dest::Email),
            Method::Sms => self.phone.map(Dest::Text),
            Method::Totp | Method::Backup | Method::Bypass => None,
        }
    }

    /// The one method that can send, when there is exactly one.
    fn only(self) -> Option<Dest<'a>> {
        match (self.email, self.phone) {
            (Some(a), None) => Some(Dest::Email(a)),
            (None, Some(p)) => Some(Dest::Text(p)),
            _ => None,
        }
    }

    /// The first prompt: the app's code goes straight in; the words offered
    /// are the methods this user has.
    fn prompt(self, has_app: bool) -> &'static str {
        match (self.email.is_some(), self.phone.is_some()) {
            (false, false) => PROMPT,
            (true, false) => PROMPT_WITH_EMAIL,
            (false, true) => PROMPT_WITH_TEXT,
            (true, true) if has_app => PROMPT_WITH_TEXT_OR_EMAIL,
            (true, true) => CHOOSE_TEXT_OR_EMAIL,
        }
    }
}

/// How the menu ended.
pub(super) enum Asked {
    /// An answer to judge, logged under `method`; `asked_at` is when its prompt was shown.
    Answer { answer: Zeroizing<String>, asked_at: u64, method: Method },
    /// The login ended at the menu (aborted, or sending a code ended it).
    Ended(Outcome),
}

impl Login<'_> {
    /// The prompt, until the answer is not a word that asks for a code (or
    /// the words were used [`MAX_SEND_REQUESTS`] times): the answer to judge.
    pub(super) fn ask_for_answer(
        &mut self,
        cfg: &Config,
        store: &UserStore,
        record: &UserRecord,
        offer: Offer<'_>,
        exempt: bool,
    ) -> Result<Asked, Broken> {
        // A user with no app and one way to get a code gets it without
        // asking; one with a choice is told where codes can go.
        let secret = record.secret.as_ref();
        let mut requests = 0;
        let mut asked_for: Option<Method> = None;
        if let (None, Some(dest)) = (secret, offer.only()) {
            requests += 1;
            asked_for = Some(dest.method());
            if let Some(outcome) = self.send_code(cfg, store, dest, exempt)? {
                return Ok(Asked::Ended(outcome));
            }
        }
        if let (Some(email), Some(phone)) = (offer.email.map(Dest::Email), offer.phone.map(Dest::Text)) {
            let _ = self.conv.info(&text::code_destinations(&phone.masked(), &email.masked()));
        }
        // The method an answer is logged under until the tally says better.
        let default_method = match (secret, offer.only()) {
            (Some(_), _) => Method::Totp,
            (None, Some(dest)) => dest.method(),
            (None, None) => Method::Email,
        };
        let (answer, asked_at) = loop {
            // Once a code went out (or was throttled), the plain prompt: the words still work.
            let prompt = if asked_for.is_none() { offer.prompt(secret.is_some()) } else { PROMPT };
            let asked_at = self.clock.now();
            let answer = match self.conv.ask(prompt) {
                Ok(a) => a,
                Err(ConvError) => {
                    let method = asked_for.unwrap_or(default_method);
                    self.log_outcome(Level::Notice, "aborted", method.name(), None);
                    return Ok(Asked::Ended(Outcome::Aborted));
                }
            };
            match requested_method(&answer) {
                Some(method) if requests < MAX_SEND_REQUESTS => {
                    requests += 1;
                    let Some(dest) = offer.dest(method) else {
                        self.not_set_up(cfg, record, method);
                        continue;
                    };
                    asked_for = Some(method);
                    if let Some(outcome) = self.send_code(cfg, store, dest, exempt)? {
                        return Ok(Asked::Ended(outcome));
                    }
                }
                _ => break (answer, asked_at),
            }
        };
        let method = asked_for.unwrap_or(default_method);
        Ok(Asked::Answer { answer, asked_at, method })
    }

    /// The user asked for a method they do not have: said, logged, not counted.
    fn not_set_up(&mut self, cfg: &Config, record: &UserRecord, method: Method) {
        let why = match method {
            Method::Sms if record.code_phone().is_some() && !cfg.sms.enabled() => {
                "a phone number is on file, but [sms] command is not set"
            }
            Method::Sms => "no phone number on file",
            _ => "no email address on file",
        };
        self.log_outcome(Level::Info, "not_set_up", method.name(), Some(why));
        let _ = self.conv.error(if method == Method::Sms { text::TEXT_NOT_SET_UP } else { text::EMAIL_NOT_SET_UP });
    }
}

/// `email`, or `text` / `sms` (any case, surrounding spaces ignored) at the
/// code prompt: the method asked for.
fn requested_method(answer: &str) -> Option<Method> {
    let word = answer.trim();
    if word.eq_ignore_ascii_case(EMAIL_REQUEST) {
        Some(Method::Email)
    } else if TEXT_REQUESTS.iter().any(|w| word.eq_ignore_ascii_case(w)) {
        Some(Method::Sms)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_words_that_ask_for_a_code_are_recognized_in_any_case() {
        assert_eq!(requested_method(" Email "), Some(Method::Email));
        assert_eq!(requested_method("TEXT"), Some(Method::Sms));
        assert_eq!(requested_method("sms"), Some(Method::Sms));
        assert_eq!(requested_method("123456"), None);
        assert_eq!(requested_method("texts"), None);
    }
}
