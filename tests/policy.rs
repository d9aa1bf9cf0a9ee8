//! Who must use a second factor, and what happens to those who have none yet,
//! through the real module and real libpam: required/exempt groups with real
//! (temporary) users and groups resolved through NSS, per-service overrides,
//! grace logins counting down across logins, and enrollment at login driven
//! message by message.

mod common;
mod e2e;

use common::*;
use e2e::{Account, TestGroup, unique};
use pam_twostep::auth::UNAVAILABLE;

const NOT_SET_UP: &str =
    "Two-step verification is required for this account, but it is not set up. Ask your administrator to enroll you.";

fn refused_not_set_up(t: &Transcript) -> bool {
    t.result == "PAM_AUTH_ERR" && t.prompts().is_empty() && t.said() == NOT_SET_UP
}

fn ignored_silently(t: &Transcript) -> bool {
    t.result == IGNORED && t.messages.is_empty()
}

#[test]
fn required_groups_apply_to_members_by_supplementary_or_primary_group_only() {
    let staff = TestGroup::new();
    let other = TestGroup::new();
    let env = Env::new(&format!("[policy]\nrequired_groups = [\"{}\"]", staff.0));
    let by_supplementary = Account::new(None, &[&other, &staff]);
    let by_primary = Account::new(Some(&staff), &[]);
    let outsider = Account::new(Some(&other), &[&other]);

    assert!(refused_not_set_up(&env.login(&by_supplementary.0, &[])));
    assert!(refused_not_set_up(&env.login(&by_primary.0, &[])));
    let t = env.login(&outsider.0, &[]);
    assert!(ignored_silently(&t), "{t:?}");
    let logs = env.log_lines();
    assert!(logs.iter().any(|l| l.contains("result=ignored") && l.contains("not in required_groups")), "{logs:?}");

    // Enrolled users are asked for their code whatever their groups.
    env.enroll(&outsider.0);
    assert!(env.login(&outsider.0, &[&code(SECRET, 0)]).succeeded());
}

#[test]
fn an_exempt_group_wins_over_a_required_one_even_for_enrolled_users() {
    let staff = TestGroup::new();
    let robots = TestGroup::new();
    let env = Env::new(&format!("[policy]\nrequired_groups = [\"{}\"]\nexempt_groups = [\"{}\"]", staff.0, robots.0));
    let both = Account::new(None, &[&staff, &robots]);
    let t = env.login(&both.0, &[]);
    assert!(ignored_silently(&t), "{t:?}");
    env.enroll(&both.0);
    let t = env.login(&both.0, &[]);
    assert!(ignored_silently(&t), "no prompt for an exempt user: {t:?}");
    assert!(env.log_lines().iter().any(|l| l.contains(&format!("member of exempt group {}", robots.0))));

    // On the stacked service the ignored module lets the stack decide: the login succeeds.
    assert!(env.login_service(STACKED, &both.0, &[], &[]).succeeded());
}

#[test]
fn a_user_unknown_to_nss_is_refused_when_a_group_rule_needs_the_lookup() {
    let staff = TestGroup::new();
    let env = Env::new(&format!("[policy]\nrequired_groups = [\"{}\"]", staff.0));
    let ghost = unique("nosuchuser");
    let t = env.login(&ghost, &[]);
    assert_eq!(t.result, "PAM_AUTH_ERR", "{t:?}");
    assert_eq!(t.said(), "Two-step verification is unavailable; contact your administrator.");
    assert!(env.log_lines().iter().any(|l| l.contains("result=denied") && l.contains("unknown to the system")));
}

#[test]
fn without_group_rules_users_need_not_exist_in_passwd() {
    let env = Env::new("");
    let ghost = unique("nosuchuser");
    env.enroll(&ghost);
    assert!(env.login(&ghost, &[&code(SECRET, 0)]).succeeded());
    assert!(refused_not_set_up(&env.login(&unique("nosuchuser"), &[])));
}

#[test]
fn a_service_section_overrides_the_policy_for_that_service_only() {
    let env = Env::new(&format!("[services.{STACKED}]\nrequired = false"));
    assert!(refused_not_set_up(&env.login("newbie", &[])));
    let t = env.login_service(STACKED, "newbie", &[], &[]);
    assert!(t.succeeded() && t.messages.is_empty(), "{t:?}");
    // Not required there, but an enrolled user is still asked for the code.
    env.enroll("veteran");
    let t = env.login_service(STACKED, "veteran", &[&wrong_code(SECRET)], &[]);
    assert_eq!((t.prompts(), t.result.as_str()), (vec!["Verification code: "], "PAM_AUTH_ERR"), "{t:?}");
    assert!(env.login_service(STACKED, "veteran", &[&code(SECRET, 0)], &[]).succeeded());
}

#[test]
fn grace_logins_count_down_with_a_reminder_and_survive_restarts_then_refuse() {
    let env = Env::new("[policy]\ngrace_logins = 2");
    let first = env.login_service(STACKED, "newbie", &[], &[]);
    assert!(first.succeeded(), "{first:?}");
    assert!(first.prompts().is_empty());
    assert!(first.said().contains("You can log in without it 1 more time"), "{}", first.said());
    assert!(first.said().contains("Ask your administrator to enroll you."));
    // Each login is a new process: the count lives in the tally file.
    let tally = env.store();
    assert_eq!(tally.tally("newbie").unwrap().grace_used, 1);
    let second = env.login_service(STACKED, "newbie", &[], &[]);
    assert!(second.succeeded());
    assert!(second.said().contains("This was the last login allowed without it"), "{}", second.said());
    let third = env.login_service(STACKED, "newbie", &[], &[]);
    assert_eq!(third.result, "PAM_AUTH_ERR");
    assert!(third.said().contains("the logins allowed without it are used up"), "{}", third.said());
    assert_eq!(tally.tally("newbie").unwrap().grace_used, 2, "a refused login uses nothing");
    let logs = env.log_lines();
    assert_eq!(logs.iter().filter(|l| l.contains("result=grace")).count(), 2, "{logs:?}");
}

/// Reads the enrollment texts up to the code prompt; returns them and the shown secret.
fn enrollment_texts(s: &mut Session) -> (Vec<String>, String) {
    let mut texts = Vec::new();
    loop {
        let m = s.next();
        if m.style == "prompt_echo_off" {
            assert_eq!(m.text, "Verification code: ");
            break;
        }
        assert_eq!(m.style, "info", "{:?}", s.seen);
        texts.push(m.text);
    }
    let all = texts.join("\n");
    let uri = all.split_whitespace().find(|w| w.starts_with("otpauth://")).expect("an otpauth URI is shown");
    let secret = uri.split(['?', '&']).find_map(|p| p.strip_prefix("secret=")).unwrap().to_string();
    (texts, secret)
}

#[test]
fn enrollment_at_login_shows_a_qr_code_and_saves_the_secret_only_after_a_right_code() {
    let env = Env::new("[policy]\nenroll_at_login = true");
    let mut s = Session::start(&env, "newbie");
    let (texts, secret) = enrollment_texts(&mut s);
    let all = texts.join("\n");
    assert!(all.contains("otpauth://totp/Test%20District:newbie?secret="), "{all}");
    assert!(all.contains("It appears as:\n    Test District: newbie\n"), "{all}");
    let qr = texts.iter().find(|t| t.contains('█')).expect("a QR code drawn in block characters");
    assert!(qr.lines().all(|l| l.chars().count() <= 80), "fits an 80-column terminal");
    assert!(env.store().record("newbie").unwrap().is_none(), "nothing saved before the code is confirmed");

    s.answer("123");
    let err = s.said("error");
    assert!(err.contains("That code does not match"), "{err}");
    s.prompt("Verification code: ");
    s.answer(&code(&secret, 0));
    assert!(s.said("info").contains("Two-step verification is set up"));
    let t = s.finish();
    assert!(t.succeeded(), "{t:?}");

    let record = env.store().record("newbie").unwrap().expect("saved");
    assert_eq!(*record.secret.unwrap().to_base32(), secret);
    // The confirming code cannot be replayed; the next login asks for a code as usual.
    let again = env.login("newbie", &[&code(&secret, 0)]);
    assert!(again.said().contains("already used"), "{again:?}");
    assert!(env.login("newbie", &[&code(&secret, 1)]).succeeded());
    let logs = env.log_lines();
    assert!(logs.iter().any(|l| l.contains("result=enrolled")), "{logs:?}");
    assert!(!logs.iter().any(|l| l.contains(&secret)), "the secret is never logged");
}

#[test]
fn an_abandoned_or_failed_enrollment_at_login_saves_nothing() {
    let env = Env::new("[policy]\nenroll_at_login = true");
    // Ctrl-D at the prompt.
    let mut s = Session::start(&env, "newbie");
    enrollment_texts(&mut s);
    let t = s.finish();
    assert_eq!(t.result, "PAM_CONV_ERR", "{t:?}");
    assert!(env.store().record("newbie").unwrap().is_none());

    // Three wrong codes.
    let mut s = Session::start(&env, "newbie");
    enrollment_texts(&mut s);
    for _ in 0..2 {
        s.answer("abc");
        s.said("error");
        s.prompt("Verification code: ");
    }
    s.answer("abc");
    assert!(s.said("error").contains("Nothing was saved"));
    let t = s.finish();
    assert_eq!(t.result, "PAM_AUTH_ERR");
    assert!(env.store().record("newbie").unwrap().is_none());
}

#[test]
fn enrollment_at_login_can_be_put_off_while_grace_logins_remain() {
    let env = Env::new("[policy]\nenroll_at_login = true\ngrace_logins = 1");
    let mut s = Session::start(&env, "newbie");
    let (texts, _) = enrollment_texts(&mut s);
    assert!(
        unwrapped(texts.last().unwrap()).contains("press Enter without a code (possible 1 more time)"),
        "{texts:?}"
    );
    s.answer("");
    assert!(s.said("info").contains("You can set it up at your next login."));
    let t = s.finish();
    assert_eq!(t.result, IGNORED);
    assert!(env.store().record("newbie").unwrap().is_none());

    // Grace used up: no way around it now.
    let mut s = Session::start(&env, "newbie");
    let (texts, _) = enrollment_texts(&mut s);
    assert!(!texts.last().unwrap().contains("without a code"), "{texts:?}");
    s.answer("");
    assert!(s.said("error").contains("That code does not match"));
}

#[test]
fn group_rules_in_a_service_section_apply_to_that_service_only() {
    let staff = TestGroup::new();
    let other = TestGroup::new();
    let env = Env::new(&format!("[services.{STACKED}]\nrequired_groups = [\"{}\"]", staff.0));
    let member = Account::new(None, &[&staff]);
    let outsider = Account::new(Some(&other), &[]);
    let ghost = unique("nosuchuser");

    // The stacked service: only members must, and the rule needs NSS to know the user.
    assert!(refused_not_set_up(&env.login_service(STACKED, &member.0, &[], &[])));
    let t = env.login_service(STACKED, &outsider.0, &[], &[]);
    assert!(t.succeeded() && t.messages.is_empty(), "{t:?}");
    let t = env.login_service(STACKED, &ghost, &[], &[]);
    assert_eq!((t.result.as_str(), t.said().as_str()), ("PAM_AUTH_ERR", UNAVAILABLE), "{t:?}");

    // The other service keeps [policy]: everyone must, and nobody is looked up.
    assert!(refused_not_set_up(&env.login(&outsider.0, &[])));
    assert!(refused_not_set_up(&env.login(&ghost, &[])));
}

#[test]
fn an_administrator_sees_the_grace_logins_used_and_reset_gives_them_back() {
    let env = Env::new("[policy]\ngrace_logins = 2");
    for _ in 0..2 {
        assert!(env.login_service(STACKED, "newbie", &[], &[]).succeeded());
    }
    let out = env.twostep(&["status", "newbie", "--json"]);
    let s: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!((s["enrolled"].as_bool(), s["grace_used"].as_u64()), (Some(false), Some(2)), "{s}");
    let table = stdout(&env.twostep(&["list"]));
    assert!(
        table.lines().any(|l| l.starts_with("newbie") && l.contains("not enrolled, 2 grace logins used")),
        "{table}"
    );
    assert_eq!(env.login_service(STACKED, "newbie", &[], &[]).result, "PAM_AUTH_ERR");

    // A new start for the roll-out: reset forgets the count as well.
    assert!(env.twostep(&["reset", "newbie"]).status.success());
    let t = env.login_service(STACKED, "newbie", &[], &[]);
    assert!(t.succeeded() && t.said().contains("1 more time"), "{t:?}");
}

#[test]
fn an_enrollment_at_login_never_overwrites_a_secret_an_administrator_set_meanwhile() {
    let env = Env::new("[policy]\nenroll_at_login = true");
    let mut s = Session::start(&env, "newbie");
    let (_, shown) = enrollment_texts(&mut s);
    // While the user is scanning, the administrator enrolls them.
    let out = env.twostep(&["enroll", "newbie", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let admins: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let admins = admins["secret"].as_str().unwrap().to_string();

    s.answer(&code(&shown, 0));
    assert!(s.said("error").contains("set up for this account by another login meanwhile"));
    let t = s.finish();
    assert_eq!(t.result, "PAM_AUTH_ERR", "{t:?}");
    let kept = env.store().record("newbie").unwrap().unwrap().secret.unwrap();
    assert_eq!(*kept.to_base32(), admins, "the administrator's secret is kept");
    assert!(env.login("newbie", &[&code(&admins, 0)]).succeeded());
}

/// `PAM_SILENT`: the application asked for no informational messages. The
/// reminder is dropped, errors are not, and enrollment at login still shows
/// what its prompt asks about (a code from an app that was never set up).
#[test]
fn pam_silent_drops_reminders_but_not_errors_or_enrollment_instructions() {
    let env = Env::new("[policy]\ngrace_logins = 2");
    let loud = env.login_service(STACKED, "newbie", &[], &[]);
    assert!(loud.succeeded(), "{loud:?}");
    assert!(loud.said().contains("You can log in without it 1 more time"), "{loud:?}");
    let quiet = env.login_service(STACKED, "newbie", &[], &["--silent"]);
    assert!(quiet.succeeded(), "{quiet:?}");
    assert!(quiet.messages.is_empty(), "the last grace login's reminder is not shown: {quiet:?}");
    assert_eq!(env.store().tally("newbie").unwrap().grace_used, 2);
    let refused = env.login_service(STACKED, "newbie", &[], &["--silent"]);
    assert_eq!(refused.result, "PAM_AUTH_ERR");
    assert_eq!(refused.messages.len(), 1, "{refused:?}");
    assert_eq!(refused.messages[0].style, "error");
    assert!(refused.said().contains("the logins allowed without it are used up"), "{refused:?}");

    env.enroll("alice");
    let t = env.login_service(SERVICE, "alice", &["123"], &["--silent"]);
    assert_eq!(t.result, "PAM_AUTH_ERR");
    assert!(t.said().contains("Incorrect verification code."), "errors are shown: {t:?}");

    env.write_config("[policy]\nenroll_at_login = true");
    let mut s = Session::of(env.spawn_service(SERVICE, "learner", &["--silent"]));
    let (texts, secret) = enrollment_texts(&mut s);
    assert!(texts.iter().any(|t| t.contains('█')), "the QR code is shown: {texts:?}");
    s.answer(&code(&secret, 0));
    let t = s.finish();
    assert!(t.succeeded(), "{t:?}");
    assert!(!t.said().contains("Two-step verification is set up"), "the confirmation is info: {t:?}");
}
