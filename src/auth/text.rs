//! Every text a user sees during a login, in one place, so that the wording
//! can be read and reviewed together. Prose is wrapped to [`WIDTH`] columns
//! ([`wrap`]); the only lines allowed to be longer are ones that must not be
//! broken (the otpauth address, which is copied as a whole). The QR picture
//! is drawn by [`crate::qr`] and is not text.
//!
//! Details of failures never appear here: they go to the log.

use crate::config::{Config, EnrollMethod};
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
pub const ENROLLED: &str =
    "Two-step verification is set up. From now on, type the code\nfrom your app when you log in.";
/// Enrollment at login: the prompt for a mobile number.
pub const PHONE_PROMPT: &str = "Mobile number with country code, e.g. +1 555 123 4567: ";
/// Enrollment at login: the prompt for an email address.
pub const ADDRESS_PROMPT: &str = "Email address: ";
pub const BAD_PHONE: &str =
    "That is not a number codes can be sent to. Type it with + and the\ncountry code, for example +1 555 123 4567.";
pub const BAD_ADDRESS: &str =
    "That is not an address codes can be sent to. Type it as\nname@example.org, without spaces or a name in front.";
pub const CONTACT_EXPIRED: &str = "That code has expired.";
pub const CONTACT_CODE_USED_UP: &str = "That code no longer works: it was typed wrong too often.";
pub const NO_MORE_CONTACTS: &str = "No more numbers or addresses can be tried in this login.";
pub const CONTACT_FAILED: &str =
    "Two-step verification was not set up. Nothing was saved. Log in again\nto start over.";
pub const ENROLLED_ELSEWHERE: &str =
    "Two-step verification was set up for this account by another login\nmeanwhile. Log in again.";

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

/// How an account appears in the app, on a line of its own so that it is
/// never broken: `    Example School District: alice`.
fn label_line(issuer: &str, user: &str) -> String {
    format!("    {issuer}: {user}")
}

/// Enrollment at login, the steps before the QR code; `heading` when
/// nothing was shown before (no menu).
pub fn enroll_intro(issuer: &str, user: &str, heading: bool) -> String {
    let head = if heading { "Two-step verification is required for this account. Set it up now:\n" } else { "" };
    let steps = wrap(&format!(
        "{head}1. Install an authenticator app (Google Authenticator, Microsoft Authenticator or FreeOTP).\n\
         2. In the app, add an account and scan this QR code. It appears as:",
    ));
    format!("{steps}\n{}", label_line(issuer, user))
}

/// What a method is, in the enrollment menu.
fn described(m: EnrollMethod) -> &'static str {
    match m {
        EnrollMethod::App => "an authenticator app on your phone (recommended)",
        EnrollMethod::Text => "text messages to your mobile phone",
        EnrollMethod::Email => "email to your address",
    }
}

/// "app, text or email".
fn either(choices: &[EnrollMethod]) -> String {
    let words: Vec<&str> = choices.iter().map(|m| m.word()).collect();
    match words.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// How to put off enrollment, when it may still be put off.
fn later(skips_left: u32) -> String {
    match skips_left {
        0 => String::new(),
        n => format!("\nTo set this up later instead, press Enter (possible {n} more {}).", plural(n, "time", "times")),
    }
}

/// Enrollment at login with a choice of methods: the menu. `first` adds
/// the heading (the menu is shown again after going back).
pub fn enroll_choose(choices: &[EnrollMethod], skips_left: u32, first: bool) -> String {
    let head = if first { "Two-step verification is required for this account. Set it up now.\n" } else { "" };
    // The list is not wrapped: wrapping would squeeze its aligning spaces.
    let mut text = format!("{head}Choose how you want to get your verification codes:");
    for m in choices {
        text.push_str(&format!("\n  {:<6} {}", m.word(), described(*m)));
    }
    text + &wrap(&later(skips_left))
}

/// The menu's prompt: "Type app, text or email: ".
pub fn enroll_choice_prompt(choices: &[EnrollMethod]) -> String {
    format!("Type {}: ", either(choices))
}

/// An answer at the menu that is none of the choices.
pub fn enroll_unknown_choice(choices: &[EnrollMethod]) -> String {
    format!("Please type {}.", either(choices))
}

/// Enrollment at login when a phone number or an address is the only
/// choice; `first` adds the heading.
pub fn enroll_contact_intro(method: EnrollMethod, skips_left: u32, first: bool) -> String {
    let how = match method {
        EnrollMethod::Text => "Your verification codes will come by text message to your mobile phone.",
        _ => "Your verification codes will come by email.",
    };
    let head = if first { "Two-step verification is required for this account. Set it up now. " } else { "" };
    wrap(&format!("{head}{how}{}", later(skips_left)))
}

/// A confirmation code went to the number or address just typed.
pub fn contact_sent(method: EnrollMethod, masked: &str, valid_for: &str, can_go_back: bool) -> String {
    let by = if method == EnrollMethod::Text { " by text message" } else { "" };
    let what = if method == EnrollMethod::Text { "number" } else { "address" };
    let back = if can_go_back { ", or press Enter to go back" } else { "" };
    wrap_keeping(
        &format!("A code was sent{by} to {masked}. It is valid for {valid_for}. Type it to confirm the {what}{back}."),
        masked,
    )
}

/// A wrong confirmation code; `left` more tries for this code.
pub fn contact_mismatch(left: u32) -> String {
    format!("That code does not match. {left} more {} for this code.", plural(left, "try", "tries"))
}

/// The hourly cap of confirmation codes is reached.
pub fn contact_codes_used_up(next_at: u64, now: u64, app_offered: bool) -> String {
    let or_app = if app_offered { ", or choose the app" } else { "" };
    wrap(&format!(
        "No more codes can be sent for this account now. Try again after {}{or_app}.",
        local_time(next_at, now)
    ))
}

/// The contact is confirmed and saved.
pub fn contact_enrolled(method: EnrollMethod, masked: &str) -> String {
    let by = if method == EnrollMethod::Text { " by text message" } else { " by email" };
    wrap_keeping(
        &format!("Two-step verification is set up. From now on, a code is sent{by} to {masked} when you log in."),
        masked,
    )
}

/// Enrollment at login, after the QR code: the same secret for typing in, on
/// a line of its own.
pub fn enroll_by_hand(grouped_secret: &str, cfg: &Config, uri: &str) -> String {
    let prose = wrap(&format!(
        "Cannot scan? Add the account by hand with this secret key (time-based, {} digits, every {} seconds):",
        cfg.totp.digits, cfg.totp.period
    ));
    format!("{prose}\n    {grouped_secret}\nor use this address:\n{uri}")
}

/// Enrollment at login, the last step; `skips_left` is how often it may still be put off.
pub fn enroll_type_code(skips_left: u32) -> String {
    match skips_left {
        0 => "3. Type the code the app shows.".to_string(),
        n => wrap(&format!(
            "3. Type the code the app shows. To set this up later instead, press Enter without a code (possible {n} more {}).",
            plural(n, "time", "times")
        )),
    }
}

/// Enrollment at login: a confirmation code that does not match (more tries follow).
pub fn enroll_mismatch(issuer: &str, user: &str, period: u64) -> String {
    let head = wrap("That code does not match. Check that the app shows the account");
    let tail = wrap(&format!("and type its current code (it changes every {period} seconds)."));
    format!("{head}\n{}\n{tail}", label_line(issuer, user))
}

/// Enrollment at login: no confirmation code matched.
pub fn enroll_failed() -> String {
    wrap(
        "Two-step verification was not set up: the codes did not match. Nothing was saved. Remove the entry you just added from the app and log in again to start over.",
    )
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
    fn the_enrollment_menu_lists_the_choices_in_the_order_configured() {
        let m = enroll_choose(&[EnrollMethod::Email, EnrollMethod::App], 0, true);
        assert_eq!(
            m,
            "Two-step verification is required for this account. Set it up now.\n\
             Choose how you want to get your verification codes:\n  \
             email  email to your address\n  \
             app    an authenticator app on your phone (recommended)"
        );
        assert_eq!(
            enroll_choice_prompt(&[EnrollMethod::App, EnrollMethod::Text, EnrollMethod::Email]),
            "Type app, text or email: "
        );
        assert_eq!(enroll_choice_prompt(&[EnrollMethod::Text, EnrollMethod::Email]), "Type text or email: ");
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
