//! The texts of enrollment at login: the steps around the QR code, the menu
//! of methods (`enroll_methods`), and confirming a typed number or address
//! with a code sent to it. Wrapped like every login text ([`super::wrap`]);
//! re-exported by [`super`], where the other texts are.

use super::{plural, wrap, wrap_keeping};
use crate::config::{Config, EnrollMethod};
use crate::time::local_time;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
