//! Codes by email: sent once, throttled, expired by the clock at the answer,
//! taken back when the mail command fails.

use super::*;

#[test]
fn an_email_code_works_once_and_asking_again_is_throttled() {
    let mut w = World::new("");
    w.enroll("jane", Some(SECRET), Some("jane@district.example"));
    let steps = vec![
        Ask(PROMPT_WITH_EMAIL, "email".into()),
        Info("A verification code was sent to j***@district.example."),
        Ask(PROMPT, "email".into()),
        Info("A code was already sent to j***@district.example"),
        Abort(PROMPT),
    ];
    assert_eq!(w.login("jane", steps), Outcome::Aborted);
    assert_eq!(w.mailer.sent.borrow().len(), 1, "the throttle sent nothing more");
    let code = last_code(&w.mailer.sent);
    w.advance(60);
    assert_eq!(w.login("jane", vec![Ask(PROMPT_WITH_EMAIL, code.clone())]), Outcome::Success);
    let again = vec![Ask(PROMPT_WITH_EMAIL, code), Error("Incorrect verification code.")];
    assert_eq!(w.login("jane", again), Outcome::Denied, "single use");
}

#[test]
fn an_email_code_expires_by_the_clock_at_the_answer() {
    // The code is typed 601 s after it was sent, inside the same login: judged
    // by the clock at the answer, not at the start of the login.
    let mut w = World::new("[lockout]\nanswer_timeout = 3600");
    w.enroll("erin", None, Some("erin@district.example"));
    let sent = Rc::clone(&w.mailer.sent);
    let mut script = Script::new(vec![
        Info("was sent to"),
        AskWith(PROMPT, Box::new(move |_| last_code(&sent))),
        Error("That email code has expired"),
    ]);
    assert_eq!(w.login_with(&mut slow_user(&mut script, Rc::clone(&w.clock), 601), "erin"), Outcome::Denied);
    assert!(w.tally("erin").failures.is_empty(), "the right code, too late: not a guess");
}

#[test]
fn a_failing_mail_command_takes_the_reserved_code_back() {
    let mut w = World::new("");
    w.enroll("jane", Some(SECRET), Some("jane@district.example"));
    w.mailer.fail = true;
    let steps = vec![Ask(PROMPT_WITH_EMAIL, "email".into()), Error("could not be sent by email")];
    assert_eq!(w.login("jane", steps), Outcome::Denied);
    assert_eq!(w.tally("jane").email_code, None, "no code is pending that never left");
    assert!(w.log.0.iter().any(|(_, l)| l.contains("result=mail_failed") && l.contains("exit status 75")));
    // The user may ask again at once, now that mail works.
    w.mailer.fail = false;
    let steps = vec![Ask(PROMPT_WITH_EMAIL, "email".into()), Info("was sent to"), Abort(PROMPT)];
    assert_eq!(w.login("jane", steps), Outcome::Aborted);
    assert_eq!(w.mailer.sent.borrow().len(), 1);
}
