//! Where twostep sits in the auth stack, through real libpam: a password
//! stack that does not stop at a wrong password lets anyone who knows a
//! user name reach the code prompt (and lock the user out); the shipped
//! `pam-config/pam.d/password-then-code`, and Debian's common-auth in front
//! of `pam-config/pam.d/sshd`, never reach twostep after a wrong password.
//!
//! The password module is played by `pam_deny.so` (wrong password) or
//! `pam_permit.so` (right password); the stacks under test are derived from
//! the shipped files' text, so an unsafe edit to them fails here.

mod common;

use std::path::Path;

use common::*;

/// The module line as the harness writes it: the built `.so`, this Env's config and log socket.
fn twostep_line(env: &Env, control: &str) -> String {
    format!(
        "auth {control} {} config={} log_socket={}",
        module_path().display(),
        env.config.display(),
        env.log_path.display()
    )
}

fn write(env: &Env, service: &str, text: &str) {
    std::fs::write(env.confdir.join(service), text).unwrap();
}

/// The non-comment lines of a shipped PAM snippet.
fn stack_lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string).collect()
}

/// `lines` with the password module (`pam_unix.so` and its options) played by
/// `stand_in`, and `pam_twostep.so` pointed at this Env. Fails unless both occur.
fn substitute(env: &Env, lines: &[String], stand_in: &str) -> String {
    let mut out = String::new();
    let (mut password, mut twostep) = (0, 0);
    for line in lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        let module = words.iter().position(|w| w.ends_with(".so")).unwrap_or_else(|| panic!("no module: {line}"));
        let control = words[1..module].join(" ");
        match words[module] {
            "pam_unix.so" => {
                password += 1;
                out += &format!("{} {control} {stand_in}\n", words[0]);
            }
            "pam_twostep.so" => {
                assert!(password > 0, "pam_twostep.so comes before the password: {lines:?}");
                twostep += 1;
                out += &(twostep_line(env, &control) + "\n");
            }
            _ => out += &format!("{line}\n"),
        }
    }
    assert_eq!((password, twostep), (1, 1), "one password module, then twostep: {lines:?}");
    out
}

/// The tally directory's files, lock files aside (enrolling takes the user's lock).
fn tally_files(env: &Env) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(&env.tally)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".lock"))
        .collect();
    names.sort();
    names
}

/// A wrong password on `service` ends the login before twostep: no prompt, no
/// message, no tally file, no log line, and the right code could not help.
fn assert_never_reached(env: &Env, service: &str) {
    for _ in 0..6 {
        let t = env.login_service(service, "alice", &[&code(SECRET, 0)], &[]);
        assert_eq!(t.result, "PAM_AUTH_ERR", "{service}: {t:?}");
        assert!(t.messages.is_empty(), "{service}: twostep was reached: {t:?}");
    }
    assert!(tally_files(env).is_empty(), "{service}: the tally changed: {:?}", tally_files(env));
    let logged = env.log_lines();
    assert!(logged.is_empty(), "{service}: twostep logged {logged:?}");
}

/// A right password on `service` reaches twostep: a wrong code is counted, the right one logs in.
fn assert_reached(env: &Env, service: &str) {
    let t = env.login_service(service, "alice", &[&wrong_code(SECRET)], &[]);
    assert_eq!((t.prompts(), t.result.as_str()), (vec!["Verification code: "], "PAM_AUTH_ERR"), "{t:?}");
    assert!(env.log_lines().iter().any(|l| l.contains("user=alice") && l.contains("result=wrong_code")));
    let t = env.login_service(service, "alice", &[&code(SECRET, 0)], &[]);
    assert_eq!(t.prompts(), ["Verification code: "], "{t:?}");
    assert!(t.succeeded(), "{service}: {t:?}");
}

fn shipped(name: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("pam-config/pam.d").join(name);
    stack_lines(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

#[test]
fn a_required_password_module_that_fails_still_lets_twostep_prompt_and_lock_the_user_out() {
    // The hazard this file is about: `required` marks the failure and goes on.
    let env = Env::new("");
    env.enroll("alice");
    write(&env, "unsafe", &format!("auth required pam_deny.so\n{}\n", twostep_line(&env, "required")));
    for _ in 0..5 {
        let t = env.login_service("unsafe", "alice", &[&wrong_code(SECRET)], &[]);
        assert_eq!(t.prompts(), ["Verification code: "], "{t:?}");
        assert_eq!(t.result, "PAM_AUTH_ERR", "the login itself still fails: {t:?}");
    }
    let tally = env.store().tally("alice").unwrap();
    assert!(tally.locked_at.is_some(), "five guesses without the password locked alice: {tally:?}");
    let t = env.login_service("unsafe", "alice", &[], &[]);
    assert!(t.said().contains("Too many incorrect codes"), "{t:?}");
}

#[test]
fn a_failing_rhel_style_substack_still_lets_twostep_prompt() {
    // RHEL's /etc/pam.d/sshd: `auth substack password-auth`, whose modules end in pam_deny.
    let env = Env::new("");
    env.enroll("alice");
    let password_auth = env.confdir.join("password-auth");
    write(&env, "password-auth", "auth sufficient pam_deny.so\nauth required pam_deny.so\n");
    let stack = format!("auth substack {}\n{}\n", password_auth.display(), twostep_line(&env, "required"));
    write(&env, "rhel-sshd", &stack);
    let t = env.login_service("rhel-sshd", "alice", &[&wrong_code(SECRET)], &[]);
    assert_eq!((t.prompts(), t.result.as_str()), (vec!["Verification code: "], "PAM_AUTH_ERR"), "{t:?}");
    assert_eq!(env.store().tally("alice").unwrap().failures.len(), 1);
}

#[test]
fn an_included_rhel_style_password_stack_skips_twostep_after_a_right_password() {
    // `auth include password-auth`: its `sufficient` password module ends the whole stack.
    let env = Env::new("");
    env.enroll("alice");
    let password_auth = env.confdir.join("password-auth");
    write(&env, "password-auth", "auth sufficient pam_permit.so\nauth required pam_deny.so\n");
    let stack = format!("auth include {}\n{}\n", password_auth.display(), twostep_line(&env, "required"));
    write(&env, "rhel-include", &stack);
    let t = env.login_service("rhel-include", "alice", &[], &[]);
    assert!(t.succeeded() && t.messages.is_empty(), "logged in with the password alone: {t:?}");
    assert!(env.log_lines().is_empty(), "twostep never ran");
}

#[test]
fn the_shipped_password_then_code_stack_never_reaches_twostep_after_a_wrong_password() {
    let env = Env::new("");
    env.enroll("alice");
    let lines = shipped("password-then-code");
    write(&env, "wrong-password", &substitute(&env, &lines, "pam_deny.so"));
    assert_never_reached(&env, "wrong-password");
}

#[test]
fn the_shipped_password_then_code_stack_asks_for_the_code_after_a_right_password() {
    let env = Env::new("");
    env.enroll("alice");
    let lines = shipped("password-then-code");
    write(&env, "right-password", &substitute(&env, &lines, "pam_permit.so"));
    assert_reached(&env, "right-password");
}

#[test]
fn debian_common_auth_in_front_of_the_shipped_sshd_snippet_stops_a_wrong_password() {
    // pam-config/pam.d/sshd relies on this machine's /etc/pam.d/common-auth
    // ending the stack at a wrong password; expand the include with it.
    let common_auth = std::fs::read_to_string("/etc/pam.d/common-auth").expect("Debian's /etc/pam.d/common-auth");
    let mut lines = Vec::new();
    for line in shipped("sshd") {
        if line == "@include common-auth" {
            lines.extend(stack_lines(&common_auth).into_iter().filter(|l| l.starts_with("auth")));
        } else {
            lines.push(line);
        }
    }
    let env = Env::new("");
    env.enroll("alice");
    write(&env, "debian-wrong", &substitute(&env, &lines, "pam_deny.so"));
    assert_never_reached(&env, "debian-wrong");
    write(&env, "debian-right", &substitute(&env, &lines, "pam_permit.so"));
    assert_reached(&env, "debian-right");
}
