//! Codes by text message and the method menu (`menu.rs`): which prompt each
//! combination of methods gets, the words, resends, expiry, the send limit.

use super::*;

#[test]
fn an_app_only_user_gets_the_plain_prompt_and_asking_for_a_text_is_not_a_failure() {
    let mut w = World::new(SMS);
    w.enroll("alice", Some(SECRET), None);
    let code = w.code(0);
    let steps = vec![
        Ask(PROMPT, "text".into()),
        Error(TEXT_NOT_SET_UP),
        Ask(PROMPT, "email".into()),
        Error(EMAIL_NOT_SET_UP),
        Ask(PROMPT, code),
    ];
    assert_eq!(w.login("alice", steps), Outcome::Success);
    assert!(w.sms.sent.borrow().is_empty() && w.mailer.sent.borrow().is_empty());
    assert_eq!(w.log.results(), ["not_set_up", "not_set_up", "success"]);
    assert!(line_with(&w.log, "method=sms").unwrap().contains("no phone number on file"));
}

#[test]
fn a_text_only_user_gets_a_text_without_asking() {
    let mut w = World::new(SMS);
    w.enroll_phone("tom", None, None, Some(PHONE));
    let sent = Rc::clone(&w.sms.sent);
    let steps = vec![
        Info("A verification code was sent by text message to •••• ••• 4567. It is valid for 10 minutes."),
        AskWith(PROMPT, Box::new(move |_| last_text_code(&sent))),
    ];
    assert_eq!(w.login("tom", steps), Outcome::Success);
    let texts = w.sms.sent.borrow();
    assert_eq!(texts.len(), 1);
    assert_eq!(texts[0].0, PHONE);
    assert!(texts[0].1.contains(" is your verification code for "), "{:?}", texts[0]);
    assert_eq!(w.log.results(), ["sms_sent", "success"]);
    assert!(line_with(&w.log, "result=sms_sent").unwrap().contains("method=sms to=****4567"), "{:?}", w.log.0);
    assert!(line_with(&w.log, "result=success").unwrap().contains("method=sms"));
    let t = w.tally("tom");
    assert_eq!((t.sms_code, t.email_code), (None, None), "single use");
}

#[test]
fn with_an_app_and_a_phone_the_app_code_goes_straight_in_and_text_sends_one() {
    let mut w = World::new(SMS);
    w.enroll_phone("ann", Some(SECRET), None, Some(PHONE));
    let code = w.code(0);
    assert_eq!(w.login("ann", vec![Ask(PROMPT_WITH_TEXT, code)]), Outcome::Success);
    assert!(w.sms.sent.borrow().is_empty(), "nothing sent to a user who typed the app's code");

    w.advance(30);
    let sent = Rc::clone(&w.sms.sent);
    let steps = vec![
        Ask(PROMPT_WITH_TEXT, "Text".into()),
        Info("sent by text message to •••• ••• 4567"),
        AskWith(PROMPT, Box::new(move |_| last_text_code(&sent))),
    ];
    assert_eq!(w.login("ann", steps), Outcome::Success);
    assert_eq!(w.log.results(), ["success", "sms_sent", "success"]);
    assert!(line_with(&w.log, "method=sms").is_some());
}

#[test]
fn with_three_methods_one_prompt_offers_both_and_says_where_codes_go() {
    let mut w = World::new(SMS);
    w.enroll_phone("jane", Some(SECRET), Some("jane@district.example"), Some(PHONE));
    let steps = vec![
        Info("A code can be sent by text message to •••• ••• 4567 or by email to j***@district.example."),
        Ask(PROMPT_WITH_TEXT_OR_EMAIL, "text".into()),
        Info("sent by text message"),
        // The text does not come: email as well, in the same login.
        Ask(PROMPT, "email".into()),
        Info("was sent to j***@district.example"),
        Abort(PROMPT),
    ];
    assert_eq!(w.login("jane", steps), Outcome::Aborted);
    let (text_code, mail_code) = (last_text_code(&w.sms.sent), last_code(&w.mailer.sent));
    let t = w.tally("jane");
    assert!(t.sms_code.is_some() && t.email_code.is_some(), "both pending");
    // Either works (here the email one) and retires the other.
    let first = vec![Info("can be sent"), Ask(PROMPT_WITH_TEXT_OR_EMAIL, mail_code)];
    assert_eq!(w.login("jane", first), Outcome::Success);
    assert_eq!(w.tally("jane").sms_code, None);
    let again =
        vec![Info("can be sent"), Ask(PROMPT_WITH_TEXT_OR_EMAIL, text_code), Error("Incorrect verification code.")];
    assert_eq!(w.login("jane", again), Outcome::Denied);
}

#[test]
fn without_an_app_a_user_with_a_phone_and_an_address_chooses() {
    let mut w = World::new(SMS);
    w.enroll_phone("carl", None, Some("carl@district.example"), Some(PHONE));
    let sent = Rc::clone(&w.mailer.sent);
    let steps = vec![
        Info("A code can be sent by text message to"),
        Ask(CHOOSE_TEXT_OR_EMAIL, "email".into()),
        Info("was sent to c***@district.example"),
        AskWith(PROMPT, Box::new(move |_| last_code(&sent))),
    ];
    assert_eq!(w.login("carl", steps), Outcome::Success);
    assert!(w.sms.sent.borrow().is_empty());
    assert!(line_with(&w.log, "result=success").unwrap().contains("method=email"));
}

#[test]
fn a_new_text_waits_for_resend_after_and_then_replaces_the_old_code() {
    let mut w = World::new(&format!("{SMS}resend_after = 60\n"));
    w.enroll_phone("ann", Some(SECRET), None, Some(PHONE));
    let steps = vec![
        Ask(PROMPT_WITH_TEXT, "text".into()),
        Info("sent by text message"),
        Ask(PROMPT, "sms".into()),
        Info("A code was already sent to •••• ••• 4567 at"),
        Abort(PROMPT),
    ];
    assert_eq!(w.login("ann", steps), Outcome::Aborted);
    assert_eq!(w.sms.sent.borrow().len(), 1, "the throttle sent nothing more");
    assert!(line_with(&w.log, "result=sms_throttled").unwrap().contains("next="));
    let old = last_text_code(&w.sms.sent);
    // The email throttle (300 s) is not the text one (60 s).
    w.advance(60);
    let steps = vec![Ask(PROMPT_WITH_TEXT, "text".into()), Info("sent by text message"), Abort(PROMPT)];
    assert_eq!(w.login("ann", steps), Outcome::Aborted);
    assert_eq!(w.sms.sent.borrow().len(), 2);
    let new = last_text_code(&w.sms.sent);
    if old != new {
        let steps = vec![Ask(PROMPT_WITH_TEXT, old), Error("Incorrect verification code.")];
        assert_eq!(w.login("ann", steps), Outcome::Denied, "the replaced code is gone");
    }
    assert_eq!(w.login("ann", vec![Ask(PROMPT_WITH_TEXT, new)]), Outcome::Success);
}

#[test]
fn a_text_code_expires_after_its_own_code_valid_and_is_not_counted() {
    let mut w = World::new(&format!("{SMS}code_valid = 120\nresend_after = 60\n[lockout]\nanswer_timeout = 3600\n"));
    w.enroll_phone("tom", None, None, Some(PHONE));
    let sent = Rc::clone(&w.sms.sent);
    let mut script = Script::new(vec![
        Info("It is valid for 2 minutes."),
        AskWith(PROMPT, Box::new(move |_| last_text_code(&sent))),
        Error(TEXT_EXPIRED),
    ]);
    assert_eq!(w.login_with(&mut slow_user(&mut script, Rc::clone(&w.clock), 121), "tom"), Outcome::Denied);
    assert!(w.tally("tom").failures.is_empty(), "the right code, too late: not a guess");
    assert_eq!(w.tally("tom").sms_code, None, "dropped");
    assert!(line_with(&w.log, "result=expired").unwrap().contains("method=sms"));
}

#[test]
fn wrong_codes_of_every_kind_count_towards_one_lockout() {
    let mut w = World::new(&format!("{SMS}[lockout]\ndeny = 3\nunlock_time = 600\n"));
    w.enroll_phone("jane", Some(SECRET), Some("jane@district.example"), Some(PHONE));
    let bad = wrong(&w.cfg, T0);
    let by_text = vec![
        Info("can be sent"),
        Ask(PROMPT_WITH_TEXT_OR_EMAIL, "text".into()),
        Info("sent by text message"),
        Ask(PROMPT, bad.clone()),
        Error("2 attempts remain"),
    ];
    assert_eq!(w.login("jane", by_text), Outcome::Denied);
    let by_app = vec![Info("can be sent"), Ask(PROMPT_WITH_TEXT_OR_EMAIL, bad.clone()), Error("1 attempt remains")];
    assert_eq!(w.login("jane", by_app), Outcome::Denied);
    let by_email = vec![
        Info("can be sent"),
        Ask(PROMPT_WITH_TEXT_OR_EMAIL, "email".into()),
        Info("was sent to"),
        Ask(PROMPT, bad),
        Error("Too many incorrect codes. Try again after"),
    ];
    assert_eq!(w.login("jane", by_email), Outcome::Denied);
    let wrongs: Vec<&str> =
        w.log.0.iter().map(|(_, l)| l.as_str()).filter(|l| l.contains("result=wrong_code")).collect();
    assert!(
        wrongs[0].contains("method=sms") && wrongs[1].contains("method=totp") && wrongs[2].contains("method=email"),
        "{wrongs:?}"
    );
    // Locked: not asked, nothing sent, even with the pending text code in hand.
    assert_eq!(w.login("jane", vec![Error("Too many incorrect codes")]), Outcome::Denied);
    assert_eq!((w.sms.sent.borrow().len(), w.mailer.sent.borrow().len()), (1, 1));
}

#[test]
fn a_text_only_user_who_is_locked_gets_no_text() {
    let mut w = World::new(&format!("{SMS}[lockout]\ndeny = 1\n"));
    w.enroll_phone("tom", None, None, Some(PHONE));
    let steps = vec![Info("sent by text message"), Ask(PROMPT, "000000x".into()), Error("Too many incorrect codes")];
    assert_eq!(w.login("tom", steps), Outcome::Denied);
    assert_eq!(w.login("tom", vec![Error("Too many incorrect codes")]), Outcome::Denied);
    assert_eq!(w.sms.sent.borrow().len(), 1);
}

#[test]
fn a_phone_on_file_without_an_sms_command_is_not_offered_and_the_log_says_why() {
    let mut w = World::new("");
    w.enroll_phone("ann", Some(SECRET), Some("ann@district.example"), Some(PHONE));
    let code = w.code(0);
    let steps = vec![Ask(PROMPT_WITH_EMAIL, "text".into()), Error(TEXT_NOT_SET_UP), Ask(PROMPT_WITH_EMAIL, code)];
    assert_eq!(w.login("ann", steps), Outcome::Success);
    assert!(line_with(&w.log, "result=not_set_up").unwrap().contains("[sms] command is not set"), "{:?}", w.log.0);
    assert!(w.tally("ann").failures.is_empty());
    // Text messages were the only method: unavailable, with the reason in the log.
    w.enroll_phone("tom", None, None, Some(PHONE));
    assert_eq!(w.login("tom", vec![Error("unavailable")]), Outcome::Denied);
    assert!(line_with(&w.log, "user=tom").unwrap().contains("[sms] command is not set"), "{:?}", w.log.0);
}

#[test]
fn a_failing_sms_command_takes_the_reserved_code_back() {
    let mut w = World::new(SMS);
    w.enroll_phone("ann", Some(SECRET), None, Some(PHONE));
    w.sms.fail = true;
    let steps = vec![Ask(PROMPT_WITH_TEXT, "text".into()), Error("could not be sent by text message")];
    assert_eq!(w.login("ann", steps), Outcome::Denied);
    assert_eq!(w.tally("ann").sms_code, None, "no code is pending that never left");
    assert!(w.tally("ann").failures.is_empty());
    let line = line_with(&w.log, "result=sms_failed").unwrap();
    assert!(line.contains("method=sms") && line.contains("did not finish within 10 seconds"), "{line}");
    w.sms.fail = false;
    let steps = vec![Ask(PROMPT_WITH_TEXT, "text".into()), Info("sent by text message"), Abort(PROMPT)];
    assert_eq!(w.login("ann", steps), Outcome::Aborted, "asked again at once, now that it works");
}

#[test]
fn asking_more_than_three_times_in_one_login_is_judged_as_a_code() {
    let mut w = World::new(SMS);
    w.enroll("alice", Some(SECRET), None);
    let steps = vec![
        Ask(PROMPT, "text".into()),
        Error(TEXT_NOT_SET_UP),
        Ask(PROMPT, "text".into()),
        Error(TEXT_NOT_SET_UP),
        Ask(PROMPT, "email".into()),
        Error(EMAIL_NOT_SET_UP),
        Ask(PROMPT, "text".into()),
        Error("Incorrect verification code. 4 attempts remain"),
    ];
    assert_eq!(w.login("alice", steps), Outcome::Denied);
    assert_eq!(w.tally("alice").failures.len(), 1);
}

#[test]
fn a_damaged_phone_number_is_never_handed_to_the_command() {
    let mut w = World::new(SMS);
    w.enroll_phone("ann", Some(SECRET), None, Some("+1555; reboot"));
    let code = w.code(0);
    assert_eq!(
        w.login("ann", vec![Ask(PROMPT, "text".into()), Error(TEXT_NOT_SET_UP), Ask(PROMPT, code)]),
        Outcome::Success
    );
    assert!(w.sms.sent.borrow().is_empty());
    assert!(line_with(&w.log, "result=bad_phone").is_some(), "{:?}", w.log.0);
}
