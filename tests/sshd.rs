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
const PW_SSHD: &str = "pam-config/sshd_config.d/10-twostep-password.conf";
const KEY_PAM: &str = "pam-config/pam.d/sshd-publickey";
const KEY_SSHD: &str = "pam-config/sshd_config.d/10-twostep-publickey.conf";
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

/// A new ed25519 key pair in the test's directory, its public half made
/// `user`'s only authorized key; returns the private key's path.
fn authorized_key(env: &Env, user: &TestUser) -> std::path::PathBuf {
    let key = env.path().join(unique("key"));
    run(std::process::Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key));
    user.authorize_key(&std::fs::read_to_string(key.with_extension("pub")).unwrap());
    key
}

/// The shipped sshd snippet with its commented `Match` blocks turned on, the
/// way the comments tell an administrator: the key-only group is `group`, the
/// break-glass account `breakglass`, and both blocks match connections from
/// 127.0.0.1 only (connections from 127.0.0.2 are "somewhere else").
fn with_exceptions(snippet: &str, group: &str, breakglass: &str) -> String {
    let mut text = String::new();
    let mut turned_on = 0;
    for line in shipped(snippet).lines() {
        let line = match line.strip_prefix('#') {
            Some(rest) if rest.starts_with("Match ") || rest.starts_with('\t') => {
                turned_on += 1;
                rest
            }
            _ => line,
        };
        text.push_str(line);
        text.push('\n');
    }
    assert_eq!(turned_on, 4, "two commented Match blocks of one line each in {snippet}");
    for (example, ours) in [
        ("Match Group ssh-keyonly Address 192.0.2.10,192.0.2.11\n", format!("Match Group {group} Address 127.0.0.1\n")),
        ("Match User breakglass Address 192.0.2.0/24\n", format!("Match User {breakglass} Address 127.0.0.1/32\n")),
    ] {
        assert!(text.contains(example), "{snippet} has no {example:?}");
        text = text.replace(example, &ours);
    }
    text
}

/// Logs in with OpenSSH offering `key` first, from `source`; any password or
/// code prompt is left unanswered (the session is closed there).
fn key_only(sshd: &Sshd, user: &TestUser, key: &std::path::Path, source: &str) -> PtyRun {
    let extra = ["-i", key.to_str().unwrap(), "-b", source];
    let argv = sshd.ssh_argv(user, "publickey,keyboard-interactive,password", &extra, "echo key-only-ok");
    pty(&argv, &[(PASSWORD, vec![]), (CODE, vec![])], &[])
}

#[test]
fn a_service_account_in_the_match_group_logs_in_with_a_key_alone_and_staff_still_need_password_and_code() {
    let env = Env::new("");
    let group = TestGroup::new();
    let service = TestUser::new();
    run(std::process::Command::new("usermod").args(["-aG", &group.0, &service.name]));
    let staff = TestUser::new();
    env.enroll(&staff.name);
    let service_key = authorized_key(&env, &service);
    let staff_key = authorized_key(&env, &staff);

    for (pam, snippet) in [(PW_PAM, PW_SSHD), (KEY_PAM, KEY_SSHD)] {
        let config = with_exceptions(snippet, &group.0, "tsnobody");
        let sshd = Sshd::start_with(&env, &[&service.name, &staff.name], pam, &config, "");

        // The service account (not enrolled, `required = true`): no prompt at all.
        let run = key_only(&sshd, &service, &service_key, "127.0.0.1");
        assert_eq!(run.exit, Some(0), "{snippet}: {run:?}\n{}", sshd.log_text());
        assert!(run.transcript.contains("key-only-ok"), "{run:?}");
        assert_eq!(run.unanswered, None, "{snippet}: asked something: {run:?}");
        assert!(!run.transcript.contains(PASSWORD) && !run.transcript.contains(CODE), "{run:?}");
        // sshd never ran PAM's auth stack for it: twostep logged nothing.
        let about = format!("user={} ", service.name);
        assert!(!env.log_lines().iter().any(|l| l.contains(&about)), "{:?}", env.log_lines());

        // The same key from a host the Match does not name is not enough.
        let run = key_only(&sshd, &service, &service_key, "127.0.0.2");
        assert_ne!(run.exit, Some(0), "{snippet}: {run:?}");
        assert!(!run.transcript.contains("key-only-ok"), "{run:?}");

        // Staff, key offered too: still the code (and, with passwords, the password first).
        let right = code(SECRET, if pam == PW_PAM { 0 } else { 1 });
        let extra = ["-i", staff_key.to_str().unwrap()];
        let argv = sshd.ssh_argv(&staff, "publickey,keyboard-interactive", &extra, "echo staff-ok");
        let run = pty(&argv, &[(PASSWORD, vec![staff.password.clone()]), (CODE, vec![right])], &[]);
        assert_eq!(run.exit, Some(0), "{snippet}: {run:?}\n{}", sshd.log_text());
        assert!(run.transcript.contains("staff-ok"), "{run:?}");
        assert!(run.transcript.contains(CODE), "{run:?}");
        assert_eq!(run.transcript.contains(PASSWORD), pam == PW_PAM, "{snippet}: {run:?}");
        let success = format!("user={} service={} rhost=127.0.0.1 result=success", staff.name, sshd.service());
        assert!(env.log_lines().iter().any(|l| l.contains(&success)), "{:?}", env.log_lines());
    }
}

#[test]
fn the_break_glass_account_logs_in_with_its_key_from_the_admin_network_even_when_twostep_is_broken() {
    let env = Env::new("");
    let breakglass = TestUser::new();
    let staff = TestUser::new();
    env.enroll(&staff.name);
    let key = authorized_key(&env, &breakglass);
    let config = with_exceptions(PW_SSHD, "tsnogroup", &breakglass.name);
    let sshd = Sshd::start_with(&env, &[&breakglass.name, &staff.name], PW_PAM, &config, "");
    // Broken: a world-writable config refuses every login through twostep.
    std::fs::set_permissions(&env.config, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();

    let run = key_only(&sshd, &breakglass, &key, "127.0.0.1");
    assert_eq!(run.exit, Some(0), "{run:?}\n{}", sshd.log_text());
    assert!(run.transcript.contains("key-only-ok"), "{run:?}");
    assert_eq!(run.unanswered, None, "asked something: {run:?}");

    // From anywhere else it is an ordinary account: password, then twostep (broken: refused).
    let extra = ["-i", key.to_str().unwrap(), "-b", "127.0.0.2"];
    let argv = sshd.ssh_argv(&breakglass, "publickey,keyboard-interactive", &extra, "echo key-only-ok");
    let run = pty(&argv, &[(PASSWORD, vec![breakglass.password.clone()]), (CODE, vec![])], &[]);
    assert_ne!(run.exit, Some(0), "{run:?}");
    assert!(run.transcript.contains("Two-step verification is unavailable"), "{run:?}");
    assert!(!run.transcript.contains("key-only-ok"), "{run:?}");

    // Staff are refused while twostep is broken (fail closed).
    let argv = sshd.ssh_argv(&staff, "keyboard-interactive", &[], "echo staff-ok");
    let run = pty(&argv, &[(PASSWORD, vec![staff.password.clone()]), (CODE, vec![code(SECRET, 0)])], &[]);
    assert_ne!(run.exit, Some(0), "{run:?}");
    assert!(run.transcript.contains("Two-step verification is unavailable"), "{run:?}");
}

/// sshd applies a Match block up to the next Match or the end of the file: in
/// every shipped snippet, nothing but Match blocks (commented or not) and
/// comments may follow the first Match line.
#[test]
fn the_shipped_match_blocks_come_last_and_the_snippets_sort_first() {
    for snippet in [PW_SSHD, KEY_SSHD] {
        let name = snippet.rsplit('/').next().unwrap();
        assert!(name.as_bytes()[..2].iter().all(u8::is_ascii_digit) && name < "50-cloud-init.conf", "{name}");
        let text = shipped(snippet);
        let after: Vec<&str> = text.lines().skip_while(|l| !l.trim_start_matches('#').starts_with("Match ")).collect();
        assert!(!after.is_empty(), "{snippet} has no Match example");
        for line in after {
            let bare = line.trim_start_matches('#');
            assert!(
                line.is_empty()
                    || line.starts_with("# ")
                    || line == "#"
                    || bare.starts_with("Match ")
                    || bare.starts_with('\t'),
                "{snippet}: {line:?} after a Match block would belong to it"
            );
        }
        // sshd -t accepts the file with the examples turned on.
        let on = with_exceptions(snippet, "root", "root");
        let dir = tempfile::tempdir().unwrap();
        let host_key = dir.path().join("host_key");
        run(std::process::Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&host_key));
        let conf = dir.path().join("sshd_config");
        std::fs::write(&conf, format!("HostKey {}\n{on}", host_key.display())).unwrap();
        let out = std::process::Command::new("/usr/sbin/sshd").arg("-t").arg("-f").arg(&conf).output().unwrap();
        assert!(out.status.success(), "sshd -t: {}", stderr(&out));
    }
}
