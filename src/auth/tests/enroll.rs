//! Users who are not enrolled: grace logins, enrollment at login with the
//! app, and with a choice of methods (`enroll_contact.rs`: a typed number or
//! address confirmed with a code sent to it).

use super::*;

#[test]
fn grace_logins_count_down_then_refuse() {
    let mut w = World::new("[policy]\ngrace_logins = 2");
    assert_eq!(w.login("newbie", vec![Info("without it 1 more time")]), Outcome::Ignore);
    assert_eq!(w.login("newbie", vec![Info("This was the last login allowed")]), Outcome::Ignore);
    assert_eq!(w.login("newbie", vec![Error("logins allowed without it are used up")]), Outcome::Denied);
    assert_eq!(w.tally("newbie").grace_used, 2);
}

#[test]
fn enrollment_at_login_saves_the_secret_only_after_a_right_code() {
    let mut w = World::new("[policy]\nenroll_at_login = true");
    let (cfg, now) = (w.cfg.clone(), T0);
    let code_for_shown = move |shown: &[String]| {
        let all = shown.join("\n");
        let uri = all.split_whitespace().find(|s| s.starts_with("otpauth://")).unwrap();
        let secret = uri.split(['?', '&']).find_map(|p| p.strip_prefix("secret=")).unwrap();
        code_for(secret, &cfg, now, 0)
    };
    let steps = vec![
        Info("Set it up now"),
        Info(""), // the QR code
        Info("Cannot scan?"),
        Info("3. Type the code the app shows."),
        Ask(PROMPT, wrong(&w.cfg, T0)),
        Error("That code does not match."),
        AskWith(PROMPT, Box::new(code_for_shown)),
        Info("Two-step verification is set up."),
    ];
    assert_eq!(w.login("newbie", steps), Outcome::Success);
    let rec = w.store().record("newbie").unwrap().expect("saved");
    assert!(rec.secret.is_some() && rec.enabled);
    assert!(w.tally("newbie").last_step.is_some(), "the confirming code cannot be replayed");
    assert!(w.tally("newbie").failures.is_empty(), "a wrong confirmation is not a failed code");
}

#[test]
fn an_aborted_enrollment_saves_nothing() {
    let mut w = World::new("[policy]\nenroll_at_login = true");
    let steps = vec![Info("Set it up now"), Info(""), Info("Cannot scan?"), Info("3."), Abort(PROMPT)];
    assert_eq!(w.login("newbie", steps), Outcome::Aborted);
    assert!(w.store().record("newbie").unwrap().is_none());
}

const CHOOSE: &str = "[policy]\nenroll_at_login = true\nenroll_methods = [\"app\", \"text\", \"email\"]\n";
const MENU_PROMPT: &str = "Type app, text or email: ";
const PHONE_PROMPT: &str = crate::auth::text::PHONE_PROMPT;
const ADDRESS_PROMPT: &str = crate::auth::text::ADDRESS_PROMPT;

fn choosing(extra: &str) -> World {
    World::new(&format!("{SMS}{CHOOSE}{extra}"))
}

/// The menu, the choice, the number, the "sent" notice: the script up to the code prompt.
fn text_to(number: &'static str, masked_tail: &'static str) -> Vec<Step> {
    vec![
        Info("Choose how you want to get your verification codes:"),
        Type(MENU_PROMPT, "text".into()),
        Type(PHONE_PROMPT, number.into()),
        Info(masked_tail),
    ]
}

fn last_text(w: &World) -> Answer {
    let sent = Rc::clone(&w.sms.sent);
    Box::new(move |_| last_text_code(&sent))
}

#[test]
fn choosing_the_app_at_the_menu_shows_the_qr_code_without_the_heading_again() {
    let mut w = choosing("");
    let (cfg, now) = (w.cfg.clone(), T0);
    let code_for_shown = move |shown: &[String]| {
        let all = shown.join("\n");
        let uri = all.split_whitespace().find(|s| s.starts_with("otpauth://")).unwrap();
        let secret = uri.split(['?', '&']).find_map(|p| p.strip_prefix("secret=")).unwrap();
        code_for(secret, &cfg, now, 0)
    };
    let steps = vec![
        Info("Set it up now. Choose how you want to get your verification codes: app an authenticator app"),
        Type(MENU_PROMPT, " APP ".into()),
        Info("1. Install an authenticator app"),
        Info(""), // the QR code
        Info("Cannot scan?"),
        Info("3. Type the code the app shows."),
        AskWith(PROMPT, Box::new(code_for_shown)),
        Info("Two-step verification is set up."),
    ];
    assert_eq!(w.login("newbie", steps), Outcome::Success);
    assert!(w.store().record("newbie").unwrap().unwrap().secret.is_some());
    assert!(w.sms.sent.borrow().is_empty());
    assert_eq!(w.log.results(), ["enrolled"]);
}

#[test]
fn a_typed_number_becomes_the_method_only_with_the_code_sent_to_it() {
    let mut w = choosing("");
    let mut steps = text_to("+1 (555) 123-4567", "A code was sent by text message to •••• ••• 4567.");
    steps.extend([
        Ask(PROMPT, "000000".into()),
        Error("That code does not match. 2 more tries for this code."),
        AskWith(PROMPT, last_text(&w)),
        Info("Two-step verification is set up. From now on, a code is sent by text message to •••• ••• 4567"),
    ]);
    assert!(!w.sms.sent.borrow().iter().any(|(_, t)| t.starts_with("000000")));
    assert_eq!(w.login("newbie", steps), Outcome::Success);
    assert_eq!(w.sms.sent.borrow()[0].0, PHONE, "sent to the number in E.164 form");
    let rec = w.store().record("newbie").unwrap().expect("saved");
    assert_eq!((rec.phone.as_deref(), rec.secret.is_some(), rec.email.as_deref()), (Some(PHONE), false, None));
    assert_eq!(w.log.results(), ["contact_offered", "contact_failed", "contact_verified", "enrolled"]);
    for result in ["contact_offered", "contact_failed", "contact_verified", "enrolled"] {
        let l = line_with(&w.log, &format!("result={result}")).unwrap();
        assert!(l.contains("method=sms to=****4567"), "{l}");
    }
    let code = w.sms.sent.borrow()[0].1.split(' ').next().unwrap().to_string();
    assert!(!w.log.0.iter().any(|(_, l)| l.contains(&code)), "no code in the log");
    let t = w.tally("newbie");
    assert_eq!(
        (t.contact_code, t.contact_sends.len(), t.failures.len()),
        (None, 0, 0),
        "nothing left, nothing counted"
    );

    // From now on a text-only user: the code comes without asking.
    let steps = vec![Info("sent by text message to •••• ••• 4567"), AskWith(PROMPT, last_text(&w))];
    assert_eq!(w.login("newbie", steps), Outcome::Success);
}

#[test]
fn a_typed_address_is_confirmed_by_the_code_mailed_to_it() {
    let mut w = choosing("");
    let sent = Rc::clone(&w.mailer.sent);
    let steps = vec![
        Info("Choose how you want"),
        Type(MENU_PROMPT, "email".into()),
        Type(ADDRESS_PROMPT, "  new.user@district.example ".into()),
        Info("A code was sent to n***@district.example. It is valid for 10 minutes. Type it to confirm the address"),
        AskWith(PROMPT, Box::new(move |_| last_code(&sent))),
        Info("a code is sent by email to n***@district.example when you log in."),
    ];
    assert_eq!(w.login("newbie", steps), Outcome::Success);
    let rec = w.store().record("newbie").unwrap().unwrap();
    assert_eq!(rec.email.as_deref(), Some("new.user@district.example"));
    assert!(w.mailer.sent.borrow()[0].contains("To: new.user@district.example"));
}

#[test]
fn an_invalid_number_is_refused_before_anything_is_sent() {
    let mut w = choosing("");
    let steps = vec![
        Info("Choose how"),
        Type(MENU_PROMPT, "text".into()),
        Type(PHONE_PROMPT, "555-1234".into()),
        Error("That is not a number codes can be sent to."),
        Type(PHONE_PROMPT, "+1555; reboot".into()),
        Error("That is not a number codes can be sent to."),
        Type(PHONE_PROMPT, "+1 555 123 4567".into()),
        Info("A code was sent by text message"),
        Abort(PROMPT),
    ];
    assert_eq!(w.login("newbie", steps), Outcome::Aborted);
    assert_eq!(w.sms.sent.borrow().len(), 1);
    assert_eq!(w.log.results(), ["contact_failed", "contact_failed", "contact_offered", "aborted"]);
    assert!(!w.log.0.iter().any(|(_, l)| l.contains("reboot") || l.contains("1234 ")), "typed text not logged");
    assert!(w.store().record("newbie").unwrap().is_none(), "aborted: nothing saved");
    assert!(w.tally("newbie").contact_code.is_some(), "the code stays pending for a next login");
}

#[test]
fn a_code_for_one_number_does_not_confirm_another_and_two_numbers_per_login_is_the_limit() {
    let mut w = choosing("");
    let sent = Rc::clone(&w.sms.sent);
    let first_code = Box::new(move |_: &[String]| sent.borrow()[0].1.split(' ').next().unwrap().to_string());
    let mut steps = text_to("+15550000001", "•••• ••• 0001");
    steps.push(Ask(PROMPT, String::new())); // Enter: back to the menu
    steps.extend(text_to("+15550000002", "•••• ••• 0002"));
    steps.extend([
        // The first number's code, for the second number: no.
        AskWith(PROMPT, first_code),
        Error("That code does not match."),
        Ask(PROMPT, String::new()),
        Error("No more numbers or addresses can be tried in this login."),
        // Only the app is left: its steps follow at once.
        Info("1. Install an authenticator app"),
        Info(""),
        Info("Cannot scan?"),
        Info("3. Type"),
        Abort(PROMPT),
    ]);
    assert_eq!(w.login("newbie", steps), Outcome::Aborted);
    assert_eq!(w.sms.sent.borrow().len(), 2);
    assert!(w.store().record("newbie").unwrap().is_none());
}

#[test]
fn codes_to_typed_contacts_are_throttled_per_contact_and_per_hour_and_not_counted_as_failures() {
    let mut w = choosing("");
    // Login 1: a code to number 1, left unanswered.
    let mut steps = text_to("+15550000001", "•••• ••• 0001");
    steps.push(Abort(PROMPT));
    assert_eq!(w.login("newbie", steps), Outcome::Aborted);
    // Login 2, 10 s later: the same number gets no new text, the pending code still works... but wrong it is.
    w.advance(10);
    let mut steps = text_to("+15550000001", "A code was already sent to •••• ••• 0001");
    steps.extend([Ask(PROMPT, "000000".into()), Error("2 more tries"), Abort(PROMPT)]);
    assert_eq!(w.login("newbie", steps), Outcome::Aborted);
    assert_eq!(w.sms.sent.borrow().len(), 1, "throttled: no second text");
    assert!(w.log.results().contains(&"contact_throttled".to_string()));
    // Logins 3 and 4: two more numbers: the hour's three codes are used.
    for n in ["+15550000002", "+15550000003"] {
        let mut steps = text_to(n, "A code was sent by text message");
        steps.push(Abort(PROMPT));
        assert_eq!(w.login("newbie", steps), Outcome::Aborted);
    }
    // Login 5: a fourth number is refused; only the app remains.
    let steps = vec![
        Info("Choose how"),
        Type(MENU_PROMPT, "text".into()),
        Type(PHONE_PROMPT, "+15550000004".into()),
        Error("No more codes can be sent for this account now. Try again after"),
        Error("No more numbers or addresses can be tried in this login."),
        Info("1. Install"),
        Info(""),
        Info("Cannot scan?"),
        Info("3. Type"),
        Abort(PROMPT),
    ];
    assert_eq!(w.login("newbie", steps), Outcome::Aborted);
    assert_eq!(w.sms.sent.borrow().len(), 3);
    assert!(line_with(&w.log, "reason=\"codes per hour used up\"").is_some(), "{:?}", w.log.0);
    assert!(w.tally("newbie").failures.is_empty(), "wrong confirmation codes are not failed logins");
    // An hour later texts can be sent again.
    w.advance(CONTACT_HOUR);
    let mut steps = text_to("+15550000004", "A code was sent by text message");
    steps.push(AskWith(PROMPT, last_text(&w)));
    steps.push(Info("Two-step verification is set up."));
    assert_eq!(w.login("newbie", steps), Outcome::Success);
}

const CONTACT_HOUR: u64 = crate::auth::enroll_contact::CONTACT_WINDOW;

#[test]
fn a_code_typed_wrong_three_times_stops_working() {
    let mut w = choosing("");
    let mut steps = text_to("+15550000001", "•••• ••• 0001");
    steps.extend([
        Ask(PROMPT, "000000".into()),
        Error("2 more tries"),
        Ask(PROMPT, "000001".into()),
        Error("1 more try"),
        AskWith(PROMPT, Box::new(|_| "000002".into())),
        Error("That code no longer works"),
        Info("Choose how"),
        Abort(MENU_PROMPT),
    ]);
    assert_eq!(w.login("newbie", steps), Outcome::Aborted);
    assert_eq!(w.tally("newbie").contact_code, None, "gone after three wrong answers");
}

#[test]
fn a_failed_text_takes_the_reservation_back_and_returns_to_the_menu() {
    let mut w = choosing("");
    w.sms.fail = true;
    let steps = vec![
        Info("Choose how"),
        Type(MENU_PROMPT, "text".into()),
        Type(PHONE_PROMPT, "+15551234567".into()),
        Error("could not be sent by text message"),
        Info("Choose how"),
        Abort(MENU_PROMPT),
    ];
    assert_eq!(w.login("newbie", steps), Outcome::Aborted);
    let t = w.tally("newbie");
    assert_eq!((t.contact_code, t.contact_sends.len()), (None, 0), "rolled back: a failed send costs nothing");
    let l = line_with(&w.log, "result=contact_failed").unwrap();
    assert!(l.contains("to=****4567") && l.contains("/usr/bin/sms"), "the command's failure: {l}");
}

#[test]
fn enter_at_the_menu_puts_enrollment_off_while_grace_logins_remain() {
    let mut w = choosing("grace_logins = 1\n");
    let steps = vec![
        Info("To set this up later instead, press Enter (possible 1 more time)."),
        Type(MENU_PROMPT, String::new()),
        Info("This was the last login allowed without it"),
    ];
    assert_eq!(w.login("newbie", steps), Outcome::Ignore);
    // No skips left: Enter is no answer.
    let steps = vec![
        Info("Choose how"),
        Type(MENU_PROMPT, String::new()),
        Error("Please type app, text or email."),
        Type(MENU_PROMPT, "fax".into()),
        Error("Please type app, text or email."),
        Type(MENU_PROMPT, "later".into()),
        Error("Please type app, text or email."),
        Error("Two-step verification was not set up. Nothing was saved."),
    ];
    assert_eq!(w.login("newbie", steps), Outcome::Denied);
    assert_eq!(w.log.results(), ["grace", "enroll_failed"]);
}

#[test]
fn with_one_contact_method_offered_there_is_no_menu() {
    let mut w = World::new("[policy]\nenroll_at_login = true\nenroll_methods = [\"email\"]\n");
    let sent = Rc::clone(&w.mailer.sent);
    let steps = vec![
        Info("Set it up now. Your verification codes will come by email."),
        Type(ADDRESS_PROMPT, "Jo <jo@district.example>".into()),
        Error("That is not an address codes can be sent to."),
        Type(ADDRESS_PROMPT, "jo@district.example".into()),
        Info("A code was sent to j***@district.example."),
        AskWith(PROMPT, Box::new(move |_| last_code(&sent))),
        Info("Two-step verification is set up."),
    ];
    assert_eq!(w.login("jo", steps), Outcome::Success);
    assert_eq!(w.log.results(), ["contact_failed", "contact_offered", "contact_verified", "enrolled"]);
    assert!(line_with(&w.log, "result=contact_failed").unwrap().contains("method=email"));
}

#[test]
fn an_administrator_enrolling_the_user_meanwhile_wins_and_the_pending_code_is_no_login_code() {
    let mut w = choosing("");
    let mut steps = text_to("+15550000001", "•••• ••• 0001");
    let store = w.store();
    let sent = Rc::clone(&w.sms.sent);
    steps.push(AskWith(
        PROMPT,
        Box::new(move |_| {
            // The admin runs `twostep phone newbie …` while the user reads the text.
            let rec = UserRecord { phone: Some(PHONE.into()), enabled: true, created: T0, ..UserRecord::default() };
            store.change("newbie", |u| u.save_record(rec)).unwrap();
            last_text_code(&sent)
        }),
    ));
    steps.push(Error("was set up for this account by another login"));
    assert_eq!(w.login("newbie", steps), Outcome::Denied);
    assert_eq!(w.store().record("newbie").unwrap().unwrap().phone.as_deref(), Some(PHONE), "the admin's record");
}
