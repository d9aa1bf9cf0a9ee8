//! Every text a user sees during a login, in one module (this file and
//! `text/enroll.rs`), so that the wording can be read and reviewed together. Prose is wrapped to [`WIDTH`] columns
//! ([`wrap`]); the only lines allowed to be longer are ones that must not be
//! broken (the otpauth address, which is copied as a whole). The QR picture
//! is drawn by [`crate::qr`] and is not text.
//!
//! Details of failures never appear here: they go to the log. The texts of
//! enrollment at login are in `text/enroll.rs` (re-exported here), the rest
//! (verification, grace logins, sent codes, the lock) here.

mod enroll;

pub use enroll::*;

use crate::policy::Lock;
use crate::time::local_time;

/// The widest line of prose we send (terminals are at least 80 wide; PAM
/// clients such as sshd's keyboard-interactive indent a little).
pub const WIDTH: usize = 72;

/// What users see when twostep cannot work (details go to syslog only).
pub const UNAVAILABLE: &str = "Two-step verification is unavailable; contact your administrator.";
/// The code prompt. Backup and help-desk codes are typed here (and at the
/// prompts below) too; no prompt names them, on purpose: see
/// docs/messages.md, "Backup and help-desk codes".
pub const PROMPT: &str = "Verification code: ";
/// The code prompt when an email address is known and no email code was sent yet.
pub const PROMPT_WITH_EMAIL: &str = "Verification code (or type \"email\" to get a code by email): ";
/// The code prompt when a phone number is known (and no email address) and no text was sent yet.
pub const PROMPT_WITH_TEXT: &str = "Verification code (or type \"text\" to get a code by text message): ";
/// The code prompt when both can be sent and nothing was sent yet: the app's
/// code still goes straight in.
pub const PROMPT_WITH_TEXT_OR_EMAIL: &str = "Verification code (or type \"text\" or \"email\" to get one sent): ";
/// The first prompt of a user with no app and both a phone and an address:
/// they choose (a code they already have is accepted here too).
pub const CHOOSE_TEXT_OR_EMAIL: &str = "Type \"text\" or \"email\" to get a verification code: ";
/// What the user types to get a code by email.
pub const EMAIL_REQUEST: &str = "email";
/// What the user types to get a code by text message (either word).
pub const TEXT_REQUESTS: [&str; 2] = ["text", "sms"];

pub const EMAIL_EXPIRED: &str = "That email code has expired. Log in again to get a new one.";
pub const TEXT_EXPIRED: &str = "That text message code has expired. Log in again to get a new one.";
pub const BYPASS_EXPIRED: &str = "That help-desk code has expired. Ask the help desk for a new one.";
pub const EMAIL_NOT_SET_UP: &str = "Codes by email are not set up for your account.";
pub const TEXT_NOT_SET_UP: &str = "Codes by text message are not set up for your account.";
pub const ANSWER_TOO_LATE: &str = "That took too long. Log in again and type a current code.";
pub const CHANGED_MEANWHILE: &str = "Your two-step verification was changed meanwhile. Log in again.";

/// Wraps every line of `text` at [`WIDTH`] columns, breaking only at spaces.
/// A line's leading spaces are kept and continue on its wrapped lines (plus
/// three for a numbered step such as `1. `); a single word longer than the
/// width (an address) stays whole on a line of its own.
pub fn wrap(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let body = line.trim_start_matches(' ');
        let indent = line.len() - body.len();
        let numbered =
            body.split_once(". ").is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        let hanging = " ".repeat(indent + if numbered { 3 } else { 0 });
        out.push_str(&line[..indent]);
        let mut col = indent;
        let mut fresh = true;
        for word in body.split(' ').filter(|w| !w.is_empty()) {
            let len = word.chars().count();
            if !fresh && col + 1 + len > WIDTH {
                out.push('\n');
                out.push_str(&hanging);
                col = hanging.len();
            } else if !fresh {
                out.push(' ');
                col += 1;
            }
            out.push_str(word);
            col += len;
            fresh = false;
        }
    }
    out
}

/// No-break space: holds a masked number (`•••• ••• 4567`) together while wrapping.
const GLUE: char = '\u{a0}';

/// [`wrap`] that never breaks inside `whole` (a masked number) and shows it as is.
fn wrap_keeping(text: &str, whole: &str) -> String {
    let glued = whole.replace(' ', &GLUE.to_string());
    wrap(&text.replace(whole, &glued)).replace(GLUE, " ")
}

/// `one` for 1, `many` otherwise.
fn plural<'a>(n: u32, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// A required user with no second factor is refused.
pub fn not_enrolled(grace_used_up: bool) -> String {
    wrap(if grace_used_up {
        "Two-step verification is required for this account, but it is not set up and the logins allowed without it are used up. Ask your administrator to enroll you."
    } else {
        "Two-step verification is required for this account, but it is not set up. Ask your administrator to enroll you."
    })
}

/// The reminder shown at a grace login; `left` grace logins remain after this one.
pub fn grace(left: u32, enroll_at_login: bool) -> String {
    let how =
        if enroll_at_login { "You can set it up at your next login." } else { "Ask your administrator to enroll you." };
    let when = match left {
        0 => "This was the last login allowed without it; it is required from your next login on.".to_string(),
        n => format!("You can log in without it {n} more {}; after that it is required.", plural(n, "time", "times")),
    };
    wrap(&format!("Two-step verification is not set up for your account. {when} {how}"))
}

/// A wrong code (or one already used), with what is left before the lock.
/// `locked` is the lock this failure engaged, if it did.
pub fn wrong_code(replay: bool, remaining: Option<u32>, locked: Option<Lock>, now: u64) -> String {
    let first = if replay {
        "That code was already used. Wait for the next code in your app."
    } else {
        "Incorrect verification code."
    };
    match (locked, remaining) {
        // The lock message on its own line, whole.
        (Some(lock), _) => format!("{first}\n{}", locked_now(lock, now)),
        (None, Some(n)) => wrap(&format!(
            "{first} {n} {} before the account is locked.",
            plural(n, "attempt remains", "attempts remain")
        )),
        (None, None) => first.to_string(),
    }
}

/// "Too many incorrect codes. Try again after 14:32." in local time.
pub fn locked_now(lock: Lock, now: u64) -> String {
    match lock {
        Lock::Until(t) => format!("Too many incorrect codes. Try again after {}.", local_time(t, now)),
        _ => wrap("Too many incorrect codes. Ask your administrator to unlock your account."),
    }
}

/// After a successful login: `left` backup codes remain (2 or fewer).
pub fn few_backup_codes(left: usize) -> String {
    wrap(&match left {
        0 => "That was your last backup code. Ask your administrator for new ones.".to_string(),
        1 => "You have 1 backup code left. Ask your administrator for new ones.".to_string(),
        n => format!("You have {n} backup codes left. Ask your administrator for new ones."),
    })
}

/// An email code went out.
pub fn email_sent(masked: &str, valid_for: &str) -> String {
    wrap(&format!("A verification code was sent to {masked}. It is valid for {valid_for}."))
}

/// A text-message code went out.
pub fn text_sent(masked: &str, valid_for: &str) -> String {
    wrap_keeping(
        &format!("A verification code was sent by text message to {masked}. It is valid for {valid_for}."),
        masked,
    )
}

/// Where codes can go, for a user who can choose between both.
pub fn code_destinations(masked_phone: &str, masked_address: &str) -> String {
    let text = format!("A code can be sent by text message to {masked_phone} or by email to {masked_address}.");
    wrap_keeping(&text, masked_phone)
}

/// A code (email or text) was asked for too soon after the last one.
pub fn code_too_soon(masked: &str, sent_at: u64, next_at: u64, now: u64) -> String {
    let text = format!(
        "A code was already sent to {masked} at {} and still works. You can ask for a new one after {}.",
        local_time(sent_at, now),
        local_time(next_at, now)
    );
    wrap_keeping(&text, masked)
}

/// The mail command failed.
pub fn email_failed() -> String {
    wrap("The code could not be sent by email (the mail system failed). Try again later or contact your administrator.")
}

/// The text message command failed.
pub fn text_failed() -> String {
    wrap(
        "The code could not be sent by text message (the text message service failed). Try again later or contact your administrator.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, EnrollMethod};

    fn cfg() -> Config {
        Config::parse(std::path::Path::new("/test.toml"), "").unwrap()
    }

    /// Every message with long but realistic values filled in.
    fn every_message() -> Vec<String> {
        let issuer = "Example Unified School District Northwest";
        let user = "firstname.lastname";
        let masked = "f***@students.example-district.org";
        let now = 1_700_000_000;
        let mut all: Vec<String> = [
            UNAVAILABLE,
            PROMPT,
            PROMPT_WITH_EMAIL,
            PROMPT_WITH_TEXT,
            PROMPT_WITH_TEXT_OR_EMAIL,
            CHOOSE_TEXT_OR_EMAIL,
            EMAIL_EXPIRED,
            TEXT_EXPIRED,
            BYPASS_EXPIRED,
            EMAIL_NOT_SET_UP,
            TEXT_NOT_SET_UP,
            ANSWER_TOO_LATE,
            CHANGED_MEANWHILE,
            ENROLLED,
            ENROLLED_ELSEWHERE,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for b in [false, true] {
            all.push(not_enrolled(b));
            all.push(grace(0, b));
            all.push(grace(1, b));
            all.push(grace(1000, b));
        }
        all.push(enroll_intro(issuer, user, true));
        all.push(enroll_intro(issuer, user, false));
        let every = [EnrollMethod::App, EnrollMethod::Text, EnrollMethod::Email];
        for n in [0, 1, 1000] {
            for first in [false, true] {
                all.push(enroll_choose(&every, n, first));
                all.push(enroll_contact_intro(EnrollMethod::Text, n, first));
                all.push(enroll_contact_intro(EnrollMethod::Email, n, first));
            }
        }
        all.push(enroll_choice_prompt(&every));
        all.push(enroll_unknown_choice(&every));
        for s in [PHONE_PROMPT, ADDRESS_PROMPT, BAD_PHONE, BAD_ADDRESS, CONTACT_EXPIRED, CONTACT_CODE_USED_UP] {
            all.push(s.to_string());
        }
        all.push(NO_MORE_CONTACTS.to_string());
        all.push(CONTACT_FAILED.to_string());
        for m in [EnrollMethod::Text, EnrollMethod::Email] {
            let shown =
                if m == EnrollMethod::Text { crate::phone::mask_phone("+123456789012345") } else { masked.into() };
            for back in [false, true] {
                all.push(contact_sent(m, &shown, "10 minutes", back));
            }
            all.push(contact_enrolled(m, &shown));
        }
        all.push(contact_mismatch(1));
        all.push(contact_mismatch(2));
        all.push(contact_codes_used_up(now + 86_400, now, true));
        // The address is the one line allowed to be long: checked apart below.
        all.push(enroll_by_hand("JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP", &cfg(), ""));
        for n in [0, 1, 7] {
            all.push(enroll_type_code(n));
        }
        all.push(enroll_mismatch(issuer, user, 30));
        all.push(enroll_failed());
        for replay in [false, true] {
            for remaining in [None, Some(1), Some(4)] {
                all.push(wrong_code(replay, remaining, None, now));
            }
            all.push(wrong_code(replay, Some(0), Some(Lock::Until(now + 86_400 * 3)), now));
            all.push(wrong_code(replay, Some(0), Some(Lock::UntilUnlocked), now));
        }
        all.push(locked_now(Lock::Until(now + 60), now));
        for left in 0..=2 {
            all.push(few_backup_codes(left));
        }
        all.push(email_sent(masked, "10 minutes"));
        all.push(code_too_soon(masked, now - 86_400, now + 86_400, now));
        all.push(email_failed());
        let phone = crate::phone::mask_phone("+123456789012345");
        all.push(text_sent(&phone, "10 minutes"));
        all.push(code_too_soon(&phone, now - 86_400, now + 86_400, now));
        all.push(code_destinations(&phone, masked));
        all.push(text_failed());
        all
    }

    #[test]
    fn every_message_fits_72_columns() {
        for m in every_message() {
            for line in m.lines() {
                assert!(line.chars().count() <= WIDTH, "{} columns: {line:?}", line.chars().count());
            }
        }
    }

    #[test]
    fn the_masked_phone_number_stays_whole_on_one_line() {
        let phone = crate::phone::mask_phone("+15551234567");
        let m = text_sent(&phone, "10 minutes");
        assert!(m.lines().any(|l| l.contains(&phone)), "{m}");
        let m = code_destinations(&phone, "f***@students.example-district.org");
        assert!(m.lines().any(|l| l.contains(&phone)), "{m}");
        assert!(!m.contains('\u{a0}'));
        // Wherever the number falls, it is never broken.
        for pad in 0..72 {
            let m = code_too_soon(&format!("{}{phone}", "x".repeat(pad)), 1_700_000_000, 1_700_000_060, 1_700_000_000);
            assert!(m.lines().any(|l| l.contains(&phone)), "{pad}: {m}");
        }
    }

    #[test]
    fn only_the_otpauth_address_may_be_longer_and_it_is_never_broken() {
        let uri = "otpauth://totp/Example%20School%20District:alice?secret=JBSWY3DPEHPK3PXP&issuer=Example%20School%20District";
        let text = enroll_by_hand("JBSW Y3DP EHPK 3PXP", &cfg(), uri);
        assert_eq!(text.lines().last(), Some(uri));
        assert!(text.lines().filter(|l| l.chars().count() > WIDTH).all(|l| l == uri));
    }

    #[test]
    fn wrapping_keeps_indentation_and_hangs_numbered_steps() {
        let w = wrap(&format!("1. {}", "word ".repeat(20)));
        assert!(w.lines().nth(1).unwrap().starts_with("   word"), "{w}");
        let w = wrap(&format!("    {}", "word ".repeat(20)));
        assert!(w.lines().all(|l| l.starts_with("    word")), "{w}");
    }

    #[test]
    fn wrapping_breaks_at_spaces_and_keeps_line_breaks() {
        let long = "word ".repeat(30);
        let w = wrap(&format!("a\n{long}"));
        assert!(w.starts_with("a\nword word"));
        assert!(w.lines().all(|l| l.len() <= WIDTH && !l.ends_with(' ')));
        assert_eq!(w.split_whitespace().count(), 31);
    }

    #[test]
    fn the_lock_message_stays_whole_on_its_own_line() {
        let m = wrong_code(false, Some(0), Some(Lock::Until(1_700_000_060)), 1_700_000_000);
        assert!(m.lines().nth(1).unwrap().starts_with("Too many incorrect codes. Try again after "), "{m}");
    }
}
