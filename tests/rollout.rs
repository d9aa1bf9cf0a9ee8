//! A first rollout with `pam-auth-update --enable twostep`: every service that
//! uses common-auth then runs the module, also those that cannot show a
//! second prompt (IMAP, FTP: their conversation answers the password prompt
//! and fails at, or answers with the password, anything else), and cron,
//! which never authenticates. What happens there, through the real stack
//! pam-auth-update builds (this machine's common-auth with the shipped
//! profile's line added), real pam_unix and real users:
//!
//! - an enrolled user is refused where no code can be asked (never let
//!   through, never left hanging), unless the service is `exempt = true`;
//! - an unenrolled user passes where `[services.NAME] required = false`;
//! - the shipped twostep.toml lets unenrolled users in during the rollout and
//!   still asks enrolled ones;
//! - cron (pam_setcred and pam_acct_mgmt only) is not affected.

mod common;
mod e2e;

use std::process::Child;
use std::time::{Duration, Instant};

use common::*;
use e2e::*;

const PASSWORD: &str = "Password: ";
const CODE: &str = "Verification code: ";

/// Writes service `name` into the test's PAM directory as pam-auth-update would
/// make it with the shipped profile on: this machine's common-auth (its
/// pam_twostep lines, if any, left out), then the profile's `Auth:` lines, with
/// pam_twostep.so pointed at the built module, the test's config and log
/// socket; the account stack is this machine's common-account.
fn profiled_service(env: &Env, name: &str) {
    let machine = |file: &str| -> Vec<String> {
        let text = std::fs::read_to_string(format!("/etc/pam.d/{file}")).unwrap();
        text.lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#') && !l.contains("pam_twostep"))
            .map(str::to_string)
            .collect()
    };
    let profile = shipped("pam-config/pam-auth-update");
    let auth: Vec<&str> =
        profile.lines().skip_while(|l| *l != "Auth:").skip(1).take_while(|l| l.starts_with('\t')).collect();
    assert_eq!(auth, ["\trequired\tpam_twostep.so"], "{profile}");
    let module =
        format!("{} config={} log_socket={}", module_path().display(), env.config.display(), env.log_path.display());
    let mut text = String::new();
    for l in machine("common-auth") {
        text.push_str(&l);
        text.push('\n');
    }
    for l in auth {
        text.push_str(&format!("auth {}\n", l.trim().replace("pam_twostep.so", &module)));
    }
    for l in machine("common-account") {
        text.push_str(&l);
        text.push('\n');
    }
    std::fs::write(env.confdir.join(name), text).unwrap();
}

/// Runs pamdrive on `service` with `answers` queued (the conversation fails
/// when they run out) and fails the test if the login takes more than 20 s.
fn login_within_deadline(env: &Env, service: &str, user: &str, answers: &[&str], extra: &[&str]) -> Transcript {
    let mut child: Child = env.spawn_service(service, user, extra);
    answer(&mut child, answers);
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the login on {service} hung: {:?}", child.wait_with_output());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    collect(child)
}

fn failures(env: &Env, user: &str) -> usize {
    env.store().tally(user).unwrap().failures.len()
}

#[test]
fn where_no_code_can_be_asked_an_enrolled_user_is_refused_without_a_failure_counted() {
    let env = Env::new("");
    let user = TestUser::new();
    env.enroll(&user.name);
    profiled_service(&env, "dovecot");
    // Answers the password prompt, then has nothing more to say (end of input)...
    let t = login_within_deadline(&env, "dovecot", &user.name, &[&user.password], &[]);
    assert_eq!(t.prompts(), [PASSWORD, CODE], "{t:?}");
    assert_eq!(t.result, "PAM_CONV_ERR", "{t:?}");
    // ...or returns PAM_CONV_ERR at the second prompt.
    let t = login_within_deadline(&env, "dovecot", &user.name, &[&user.password], &["--conv-fail-at", "2"]);
    assert_eq!(t.result, "PAM_CONV_ERR", "{t:?}");
    assert_eq!(failures(&env, &user.name), 0, "no code was typed, so none was wrong");
    let logs = env.log_lines();
    assert_eq!(logs.iter().filter(|l| l.contains("service=dovecot") && l.contains("result=aborted")).count(), 2);
}

#[test]
fn a_service_that_answers_the_code_prompt_with_the_password_costs_attempts_until_it_is_exempt() {
    let env = Env::new("");
    let user = TestUser::new();
    env.enroll(&user.name);
    profiled_service(&env, "dovecot");
    profiled_service(&env, "sshd");
    // Like dovecot and vsftpd, whose conversation gives the password to every hidden prompt.
    let t = login_within_deadline(&env, "dovecot", &user.name, &[&user.password, &user.password], &[]);
    assert_eq!(t.result, "PAM_AUTH_ERR", "{t:?}");
    assert_eq!(failures(&env, &user.name), 1, "each such login is a wrong code: a mail client polling locks the user");
    assert!(env.log_lines().iter().any(|l| l.contains("service=dovecot") && l.contains("result=wrong_code")));

    env.write_config("[services.dovecot]\nexempt = true");
    let t = login_within_deadline(&env, "dovecot", &user.name, &[&user.password, &user.password], &[]);
    assert!(t.succeeded(), "the password alone, as the administrator decided: {t:?}");
    assert_eq!(t.prompts(), [PASSWORD], "{t:?}");
    assert_eq!(failures(&env, &user.name), 1, "nothing more counted");
    let logs = env.log_lines();
    assert!(logs.iter().any(|l| l.contains("service=dovecot") && l.contains("result=ignored") && l.contains("exempt")));
    // A wrong password is still refused there (twostep only steps aside).
    let t = login_within_deadline(&env, "dovecot", &user.name, &["not-the-password"], &[]);
    assert_eq!(t.result, "PAM_AUTH_ERR", "{t:?}");

    // Every other service still asks for the code.
    let t = login_within_deadline(&env, "sshd", &user.name, &[&user.password, &code(SECRET, 0)], &[]);
    assert!(t.succeeded(), "{t:?}");
    assert_eq!(t.prompts(), [PASSWORD, CODE], "{t:?}");
}

#[test]
fn an_unenrolled_user_passes_where_the_service_does_not_require_it_and_is_refused_elsewhere() {
    let env = Env::new("[services.dovecot]\nrequired = false");
    let user = TestUser::new();
    profiled_service(&env, "dovecot");
    profiled_service(&env, "login");
    let t = login_within_deadline(&env, "dovecot", &user.name, &[&user.password], &["--conv-fail-at", "2"]);
    assert!(t.succeeded(), "{t:?}");
    assert_eq!(t.prompts(), [PASSWORD], "{t:?}");
    assert!(env.log_lines().iter().any(|l| l.contains("service=dovecot") && l.contains("result=ignored")));

    // `required = true` (the built-in default) on every other service.
    let t = login_within_deadline(&env, "login", &user.name, &[&user.password], &["--conv-fail-at", "2"]);
    assert_eq!(t.result, "PAM_AUTH_ERR", "{t:?}");
    assert!(env.log_lines().iter().any(|l| l.contains("service=login") && l.contains("result=not_enrolled")));
}

#[test]
fn the_shipped_config_lets_unenrolled_users_in_and_still_refuses_enrolled_ones_where_no_code_can_be_asked() {
    let env = Env::new("");
    let shipped_config = shipped("pam-config/twostep.toml")
        .replace("\"/var/lib/twostep/secrets\"", &format!("{:?}", env.secrets.display().to_string()))
        .replace("\"/var/lib/twostep/tally\"", &format!("{:?}", env.tally.display().to_string()));
    assert!(shipped_config.contains(&env.tally.display().to_string()), "{shipped_config}");
    std::fs::write(&env.config, shipped_config).unwrap();
    let newcomer = TestUser::new();
    let enrolled = TestUser::new();
    env.enroll(&enrolled.name);
    profiled_service(&env, "dovecot");

    let t = login_within_deadline(&env, "dovecot", &newcomer.name, &[&newcomer.password], &["--conv-fail-at", "2"]);
    assert!(t.succeeded(), "nobody is locked out by the rollout: {t:?}");
    assert_eq!(t.prompts(), [PASSWORD], "{t:?}");

    let t = login_within_deadline(&env, "dovecot", &enrolled.name, &[&enrolled.password], &["--conv-fail-at", "2"]);
    assert_eq!(t.result, "PAM_CONV_ERR", "an enrolled user is never let through without a code: {t:?}");
}

#[test]
fn cron_which_only_calls_setcred_and_acct_mgmt_is_not_affected() {
    let env = Env::new("");
    let user = TestUser::new();
    env.enroll(&user.name);
    // Even a locked user: cron jobs do not authenticate, so twostep has nothing to refuse.
    env.update_tally(&user.name, |t| t.locked_at = Some(now()));
    profiled_service(&env, "cron");
    let t = login_within_deadline(&env, "cron", &user.name, &[], &["--no-authenticate", "--account"]);
    assert!(t.messages.is_empty(), "no conversation at all: {t:?}");
    let steps: Vec<(&str, &str)> = t.steps.iter().map(|(s, r)| (s.as_str(), r.as_str())).collect();
    assert_eq!(steps, [("setcred", "PAM_SUCCESS"), ("acct_mgmt", "PAM_SUCCESS")], "{t:?}");
    assert!(env.log_lines().is_empty(), "twostep was not asked");
}
