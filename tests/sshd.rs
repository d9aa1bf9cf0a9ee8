//! End to end through a real sshd: OpenSSH `ssh` under a pty and paramiko log
//! in with password + code (or public key + code) using the shipped
//! pam-config/ snippets, the way an administrator sets them up.
//!
//! Each test starts its own sshd on a loopback port, under its own PAM service
//! name, for its own temporary user (tests/e2e/mod.rs); all removed afterwards.

mod common;
mod e2e;

use common::*;
use e2e::*;

const PW_PAM: &str = "pam-config/pam.d/sshd";
const PW_SSHD: &str = "pam-config/sshd_config.d/twostep-password.conf";
const KEY_PAM: &str = "pam-config/pam.d/sshd-publickey";
const KEY_SSHD: &str = "pam-config/sshd_config.d/twostep-publickey.conf";
const PASSWORD: &str = "Password: ";
const CODE: &str = "Verification code: ";

#[test]
fn openssh_logs_in_with_password_and_code_and_runs_a_command() {
    let env = Env::new("");
    let user = TestUser::new();
    env.enroll(&user.name);
    let sshd = Sshd::start(&env, &user, PW_PAM, PW_SSHD);
    let argv = sshd.ssh_argv(&user, "keyboard-interactive", &[], "echo logged-in-as-$(id -un)");
    let run = pty(&argv, &[(PASSWORD, vec![user.password.clone()]), (CODE, vec![code(SECRET, 0)])], &[]);
    assert_eq!(run.exit, Some(0), "{run:?}\n{}", sshd.log_text());
    assert!(run.transcript.contains(&format!("logged-in-as-{}", user.name)), "{run:?}");
    // What the person sees: the password prompt, then the code prompt, both with ssh's "(user@host)" label.
    let pw_at = run.transcript.find(&format!("({}@127.0.0.1) Password: ", user.name)).expect("password prompt");
    let code_at = run.transcript.find(&format!("({}@127.0.0.1) Verification code: ", user.name)).expect("code prompt");
    assert!(pw_at < code_at, "{run:?}");
    let logs = env.log_lines();
    assert!(
        logs.iter().any(|l| l.contains(&format!(
            "user={} service={} rhost=127.0.0.1 result=success method=totp",
            user.name,
            sshd.service()
        ))),
        "{logs:?}"
    );
}

#[test]
fn paramiko_keyboard_interactive_logs_in_with_password_and_code() {
    let env = Env::new("");
    let user = TestUser::new();
    env.enroll(&user.name);
    let sshd = Sshd::start(&env, &user, PW_PAM, PW_SSHD);
    let run = paramiko(
        &sshd,
        &user,
        None,
        &[(PASSWORD, vec![user.password.clone()]), (CODE, vec![code(SECRET, 0)])],
        "id -un",
    );
    assert!(run.ok, "{run:?}\n{}", sshd.log_text());
    assert_eq!(run.stdout.trim(), user.name);
    assert_eq!(run.exit, Some(0));
    assert_eq!(run.prompts(), [PASSWORD, CODE]);
    // Neither the password nor the code is echoed.
    assert!(run.rounds.iter().all(|r| r.prompts.iter().all(|(_, echo)| !echo)), "{run:?}");
}

#[test]
fn a_wrong_code_through_sshd_is_refused_with_the_attempts_left() {
    let env = Env::new("");
    let user = TestUser::new();
    env.enroll(&user.name);
    let sshd = Sshd::start(&env, &user, PW_PAM, PW_SSHD);
    let run = paramiko(
        &sshd,
        &user,
        None,
        &[(PASSWORD, vec![user.password.clone()]), (CODE, vec![wrong_code(SECRET)])],
        "id -un",
    );
    assert!(!run.ok, "{run:?}");
    assert!(run.instructions().contains("Incorrect verification code. 4 attempts remain"), "{run:?}");
    assert!(env.log_lines().iter().any(|l| l.contains("result=wrong_code")));

    // OpenSSH: three rounds of password + wrong code, then "Permission denied".
    let argv = sshd.ssh_argv(&user, "keyboard-interactive", &[], "true");
    let run = pty(&argv, &[(PASSWORD, times(&user.password, 3)), (CODE, times(&wrong_code(SECRET), 3))], &[]);
    assert_ne!(run.exit, Some(0), "{run:?}");
    assert!(run.transcript.contains("Incorrect verification code. 3 attempts remain"), "{run:?}");
    assert!(run.transcript.contains("Permission denied"), "{run:?}");
}

#[test]
fn the_lockout_works_through_sshd_and_an_admin_can_unlock() {
    let env = Env::new("[lockout]\ndeny = 2\nunlock_time = 600");
    let user = TestUser::new();
    env.enroll(&user.name);
    let sshd = Sshd::start(&env, &user, PW_PAM, PW_SSHD);
    let argv = sshd.ssh_argv(&user, "keyboard-interactive", &[], "true");
    // Two wrong codes lock; the third round asks no code at all.
    let run = pty(&argv, &[(PASSWORD, times(&user.password, 3)), (CODE, times(&wrong_code(SECRET), 3))], &[]);
    assert_ne!(run.exit, Some(0), "{run:?}");
    assert_eq!(run.transcript.matches(CODE).count(), 2, "{run:?}");
    assert!(run.transcript.contains("Too many incorrect codes. Try again after "), "{run:?}");

    // Locked: even the right code is not accepted (it is not even asked for).
    let right = code(SECRET, 0);
    let run = paramiko(&sshd, &user, None, &[(PASSWORD, vec![user.password.clone()]), (CODE, vec![right])], "true");
    assert!(!run.ok && run.instructions().contains("Too many incorrect codes"), "{run:?}");
    assert_eq!(run.prompts(), [PASSWORD], "{run:?}");

    let out = env.twostep(&["unlock", &user.name]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run =
        paramiko(&sshd, &user, None, &[(PASSWORD, vec![user.password.clone()]), (CODE, vec![code(SECRET, 1)])], "true");
    assert!(run.ok, "{run:?}");
}

#[test]
fn public_key_and_code_log_in_without_a_password() {
    let env = Env::new("");
    let user = TestUser::new();
    env.enroll(&user.name);
    let key = env.path().join("client_key");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(status.success());
    user.authorize_key(&std::fs::read_to_string(key.with_extension("pub")).unwrap());
    let sshd = Sshd::start(&env, &user, KEY_PAM, KEY_SSHD);

    let argv =
        sshd.ssh_argv(&user, "publickey,keyboard-interactive", &["-i", key.to_str().unwrap()], "echo key-and-code-ok");
    let run = pty(&argv, &[(PASSWORD, vec![]), (CODE, vec![code(SECRET, 0)])], &[]);
    assert_eq!(run.exit, Some(0), "{run:?}\n{}", sshd.log_text());
    assert!(run.transcript.contains("key-and-code-ok"), "{run:?}");
    assert!(!run.transcript.contains(PASSWORD), "{run:?}");

    let run = paramiko(&sshd, &user, Some(&key), &[(CODE, vec![code(SECRET, 1)])], "id -un");
    assert!(run.ok, "{run:?}");
    assert_eq!(run.prompts(), [CODE]);
    assert_eq!(run.stdout.trim(), user.name);
}

#[test]
fn without_the_key_the_code_alone_does_not_open_the_account() {
    let env = Env::new("");
    let user = TestUser::new();
    env.enroll(&user.name);
    let sshd = Sshd::start(&env, &user, KEY_PAM, KEY_SSHD);
    // AuthenticationMethods publickey,keyboard-interactive: the code is not even asked.
    let run = paramiko(&sshd, &user, None, &[(CODE, vec![code(SECRET, 0)])], "true");
    assert!(!run.ok, "{run:?}");
    assert!(run.rounds.is_empty(), "{run:?}");
}

#[test]
fn a_broken_setup_refuses_the_login_and_tells_the_user_only_to_contact_the_admin() {
    let env = Env::new("");
    let user = TestUser::new();
    env.enroll(&user.name);
    let sshd = Sshd::start(&env, &user, PW_PAM, PW_SSHD);
    // A world-writable config must not be trusted.
    std::fs::set_permissions(&env.config, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    let run = paramiko(&sshd, &user, None, &[(PASSWORD, vec![user.password.clone()])], "true");
    assert!(!run.ok, "{run:?}");
    assert_eq!(run.prompts(), [PASSWORD], "{run:?}");
    assert!(
        run.instructions().contains("Two-step verification is unavailable; contact your administrator."),
        "{run:?}"
    );
    assert!(!run.instructions().contains("twostep.toml"), "details are for the log only: {run:?}");
    let logs = env.log_lines();
    assert!(logs.iter().any(|l| l.contains("result=unavailable") && l.contains("twostep.toml")), "{logs:?}");
}

#[test]
fn a_new_user_enrolls_at_login_through_sshd_by_scanning_the_qr_code_shown() {
    let env = Env::new("[policy]\nenroll_at_login = true");
    let user = TestUser::new();
    let sshd = Sshd::start(&env, &user, PW_PAM, PW_SSHD);

    // paramiko: the QR code and the secret arrive as keyboard-interactive instructions.
    let run =
        paramiko(&sshd, &user, None, &[(PASSWORD, vec![user.password.clone()]), (CODE, vec![totp_shown()])], "id -un");
    assert!(run.ok, "{run:?}\n{}", sshd.log_text());
    assert_eq!(run.stdout.trim(), user.name);
    // sshd shows PAM's info messages as the text in front of the next prompt.
    let shown = run.prompts().join("\n");
    assert!(shown.contains("Set it up now"), "{shown}");
    assert!(shown.ends_with(CODE), "{shown}");
    let qr: Vec<&str> = shown.lines().filter(|l| l.contains('█')).collect();
    assert!(qr.len() > 10, "a QR code drawn in block characters: {shown}");
    assert!(qr.iter().all(|l| l.chars().count() <= 80), "fits an 80-column SSH session");
    assert!(env.store().record(&user.name).unwrap().is_some(), "the record is saved");
    assert!(env.log_lines().iter().any(|l| l.contains("result=enrolled")));

    // From now on the usual prompt, with a code of the saved secret (OpenSSH under a pty).
    let secret = env.store().record(&user.name).unwrap().unwrap().secret.unwrap().to_base32();
    let argv = sshd.ssh_argv(&user, "keyboard-interactive", &[], "id -un");
    let run = pty(&argv, &[(PASSWORD, vec![user.password.clone()]), (CODE, vec![code(&secret, 1)])], &[]);
    assert_eq!(run.exit, Some(0), "{run:?}");
    assert!(!run.transcript.contains('█'), "no second enrollment: {run:?}");
}
