//! `twostep check` through the real binary, each finding produced by a real
//! situation in a private installation: a directory with a wrong mode, a
//! damaged record, PAM files in a temporary PAM directory (whose verdict on
//! the order is confirmed by a real login through libpam), a real
//! `sshd -T -f` on a temporary sshd config, a missing mail program, and an
//! unenrolled admin in `SUDO_USER`.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;

const DEBIAN_COMMON_AUTH: &str =
    "auth [success=1 default=ignore] pam_unix.so nullok\nauth requisite pam_deny.so\nauth required pam_permit.so\n";

fn shipped(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// A PAM directory of its own in `env`, holding `files`.
fn pam_dir(env: &Env, files: &[(&str, &str)]) -> PathBuf {
    let dir = env.path().join("check-pam.d");
    private_dir(&dir);
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    dir
}

/// `twostep check` on `env` with `pam` as the PAM directory, no SUDO_USER.
fn check(env: &Env, pam: &Path, extra: &[&str]) -> Output {
    check_as(env, pam, extra, None)
}

fn check_as(env: &Env, pam: &Path, extra: &[&str], sudo_user: Option<&str>) -> Output {
    let mut args = vec!["--pam-dir", pam.to_str().unwrap(), "check"];
    args.extend_from_slice(extra);
    let mut cmd = env.twostep_command(&args);
    cmd.env_remove("SUDO_USER");
    if let Some(u) = sudo_user {
        cmd.env("SUDO_USER", u);
    }
    run_with_stdin(cmd, "")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

/// The findings of `severity`, each `what` and `fix` joined into one line.
fn findings(v: &serde_json::Value, severity: &str) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == severity)
        .map(|f| format!("{} | fix: {}", f["what"].as_str().unwrap(), f["fix"].as_str().unwrap_or("-")))
        .collect()
}

fn has(list: &[String], words: &[&str]) -> bool {
    list.iter().any(|f| words.iter().all(|w| f.contains(w)))
}

/// An installation with nothing to complain about: root enrolled, a mail
/// program that exists, and login set up as shipped (password, then code).
fn clean_env() -> Env {
    let env = Env::new("[email]\ncommand = [\"/bin/true\"]");
    env.enroll("root");
    env
}

#[test]
fn a_clean_installation_passes_with_no_warning() {
    let env = clean_env();
    let pam = pam_dir(&env, &[("common-auth", DEBIAN_COMMON_AUTH), ("login", &shipped("pam-config/pam.d/login"))]);
    let out = check(&env, &pam, &[]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.ends_with("twostep check: 0 errors, 0 warnings\n"), "{text}");
    assert!(unwrapped(&text).contains("PAM service login asks for the code only after a right password"), "{text}");
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    for line in text.lines() {
        assert!(line.chars().count() <= 72, "{line}");
    }
    let v = json(&check(&env, &pam, &["--json"]));
    assert_eq!(
        (v["ok"].as_bool(), v["errors"].as_u64(), v["warnings"].as_u64()),
        (Some(true), Some(0), Some(0)),
        "{v}"
    );
    let login = v["pam"].as_array().unwrap().iter().find(|p| p["service"] == "login").expect("login listed");
    assert_eq!(login["order"], "safe", "{v}");
    assert_eq!(login["lines"][0]["control"], "required");
    assert!(login["lines"][0]["file"].as_str().unwrap().ends_with("/login"));
}

#[test]
fn an_insecure_directory_is_an_error_with_the_path_and_the_fix() {
    let env = clean_env();
    let pam = pam_dir(&env, &[]);
    std::fs::set_permissions(&env.secrets, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = check(&env, &pam, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.starts_with("twostep: check found 1 error(s)") && err.lines().count() == 1, "{err}");
    let v = json(&check(&env, &pam, &["--json"]));
    let errors = findings(&v, "error");
    let path = env.secrets.display().to_string();
    assert!(has(&errors, &[&path, "0755", &format!("fix: run chmod 700 {path}")]), "{errors:?}");
    assert_eq!((v["ok"].as_bool(), v["errors"].as_u64()), (Some(false), Some(1)), "{v}");
    for f in v["findings"].as_array().unwrap() {
        assert!(["error", "warning", "info"].contains(&f["severity"].as_str().unwrap()), "{f}");
        assert!(f["what"].is_string() && (f["fix"].is_string() || f["fix"].is_null()), "{f}");
    }
}

#[test]
fn damaged_records_and_tallies_are_each_reported_and_the_check_goes_on() {
    let env = clean_env();
    let pam = pam_dir(&env, &[]);
    env.enroll("alice");
    for (dir, user, text) in
        [(&env.secrets, "bob", "version = 1\nsecret = \"JBSW"), (&env.tally, "carol", "\u{0}\u{1}")]
    {
        let path = dir.join(user);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let out = check(&env, &pam, &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    let errors = findings(&v, "error");
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        has(&errors, &[&env.secrets.join("bob").display().to_string(), "corrupt", "twostep reset bob"]),
        "{errors:?}"
    );
    assert!(has(&errors, &[&env.tally.join("carol").display().to_string(), "corrupt"]), "{errors:?}");
    assert!(!stdout(&out).contains("JBSW"), "no record content is shown");
    assert!(has(&findings(&v, "info"), &["read 3 records and 1 login state"]), "{v}");
}

#[test]
fn an_invalid_config_is_a_finding_and_the_pam_files_are_still_checked() {
    let env = clean_env();
    env.write_config("[lockout]\ndenny = 3");
    let pam = pam_dir(&env, &[("unsafe", "auth required pam_unix.so\nauth required pam_twostep.so\n")]);
    let v = json(&check(&env, &pam, &["--json"]));
    assert!(has(&findings(&v, "error"), &[&env.config.display().to_string(), "denny"]), "{v}");
    assert!(
        has(&findings(&v, "warning"), &["unsafe: pam_twostep.so (unsafe line 2)", "after a wrong password"]),
        "{v}"
    );
}

/// The module line the harness uses, in a file of `env`'s own PAM directory
/// (`env.confdir`), so that the same file is checked and logged in through.
fn module_line(env: &Env) -> String {
    format!(
        "auth required {} config={} log_socket={}",
        module_path().display(),
        env.config.display(),
        env.log_path.display()
    )
}

#[test]
fn the_order_verdict_matches_what_real_libpam_does_after_a_wrong_password() {
    let env = clean_env();
    env.enroll("alice");
    for f in [SERVICE, STACKED] {
        std::fs::remove_file(env.confdir.join(f)).unwrap();
    }
    let unsafe_stack = format!("auth required pam_unix.so\n{}\n", module_line(&env));
    let safe_stack =
        format!("auth [success=1 default=ignore] pam_unix.so\nauth requisite pam_deny.so\n{}\n", module_line(&env));
    std::fs::write(env.confdir.join("unsafe-order"), unsafe_stack).unwrap();
    std::fs::write(env.confdir.join("safe-order"), safe_stack).unwrap();
    let v = json(&check(&env, &env.confdir, &["--json"]));
    let warnings = findings(&v, "warning");
    assert!(
        has(
            &warnings,
            &[
                "unsafe-order: pam_twostep.so (unsafe-order line 2)",
                "even after a wrong password",
                "password-then-code"
            ]
        ),
        "{warnings:?}"
    );
    assert!(!warnings.iter().any(|w| w.starts_with("safe-order")), "{warnings:?}");
    assert!(has(&findings(&v, "info"), &["safe-order asks for the code only after a right password"]), "{v}");
    let order = |s: &str| v["pam"].as_array().unwrap().iter().find(|p| p["service"] == s).unwrap()["order"].clone();
    assert_eq!((order("unsafe-order"), order("safe-order")), ("after_wrong_password".into(), "safe".into()));

    // What libpam does with the same files: alice is no account here, so
    // pam_unix refuses whatever password is typed.
    let t = env.login_service("unsafe-order", "alice", &["wrong password", &code(SECRET, 0)], &[]);
    assert_eq!(t.prompts(), ["Password: ", "Verification code: "], "{t:?}");
    assert_eq!(t.result, "PAM_USER_UNKNOWN", "{t:?}");
    let t = env.login_service("safe-order", "alice", &["wrong password", &code(SECRET, 0)], &[]);
    assert_eq!(t.prompts(), ["Password: "], "never reaches the code: {t:?}");
}

#[test]
fn a_module_line_with_another_config_or_an_unknown_argument_is_named() {
    let env = clean_env();
    let pam = pam_dir(
        &env,
        &[
            ("common-auth", DEBIAN_COMMON_AUTH),
            ("other-config", "@include common-auth\nauth required pam_twostep.so config=/etc/other.toml\n"),
            ("typo", "@include common-auth\nauth required pam_twostep.so confg=/etc/x.toml\n"),
        ],
    );
    let v = json(&check(&env, &pam, &["--json"]));
    assert!(
        has(
            &findings(&v, "warning"),
            &["other-config line 2", "/etc/other.toml", "twostep --config /etc/other.toml check"]
        ),
        "{v}"
    );
    assert!(has(&findings(&v, "error"), &["typo line 2", "confg=/etc/x.toml", "refuses every login"]), "{v}");
}

#[test]
fn an_include_that_skips_twostep_at_a_right_password_is_an_error() {
    let env = clean_env();
    let pam = pam_dir(
        &env,
        &[
            ("password-auth", "auth required pam_env.so\nauth sufficient pam_unix.so\nauth required pam_deny.so\n"),
            ("sshd-rhel", "auth include password-auth\nauth required pam_twostep.so\n"),
        ],
    );
    let out = check(&env, &pam, &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    let errors = findings(&json(&out), "error");
    assert!(
        has(&errors, &["sshd-rhel: a login can succeed without pam_twostep.so", "password-auth line 2 ends the stack"]),
        "{errors:?}"
    );
}

/// An sshd config in `env` with `text`, for `sshd -T -f`.
fn sshd_config(env: &Env, text: &str) -> PathBuf {
    let path = env.path().join("sshd_config");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn sshd_settings_that_turn_each_password_into_a_wrong_code_are_warned_about() {
    let env = clean_env();
    let pam = pam_dir(&env, &[("common-auth", DEBIAN_COMMON_AUTH), ("sshd", &shipped("pam-config/pam.d/sshd"))]);
    let bad = sshd_config(&env, "UsePAM yes\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\n");
    let out = check(&env, &pam, &["--json", "--sshd-config", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "warnings only: {}", stdout(&out));
    let warnings = findings(&json(&out), "warning");
    assert!(
        has(&warnings, &["passwordauthentication yes with usepam yes", "wrong code", "PasswordAuthentication no"]),
        "{warnings:?}"
    );
    assert!(has(&warnings, &["kbdinteractiveauthentication no", "KbdInteractiveAuthentication yes"]), "{warnings:?}");
    assert!(has(&warnings, &["an authorized key logs in over SSH without a code"]), "{warnings:?}");

    let good = sshd_config(&env, &shipped("pam-config/sshd_config.d/10-twostep-password.conf"));
    let v = json(&check(&env, &pam, &["--json", "--sshd-config", good.to_str().unwrap()]));
    assert_eq!(v["warnings"].as_u64(), Some(0), "{v}");
}

#[test]
fn the_publickey_stack_without_authentication_methods_is_an_error() {
    let env = clean_env();
    let pam =
        pam_dir(&env, &[("common-auth", DEBIAN_COMMON_AUTH), ("sshd", &shipped("pam-config/pam.d/sshd-publickey"))]);
    let open = sshd_config(&env, "UsePAM yes\nKbdInteractiveAuthentication yes\nPasswordAuthentication no\n");
    let out = check(&env, &pam, &["--json", "--sshd-config", open.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let errors = findings(&json(&out), "error");
    assert!(
        has(&errors, &["a right code alone logs in over SSH", "AuthenticationMethods publickey,keyboard-interactive"]),
        "{errors:?}"
    );

    let closed = sshd_config(&env, &shipped("pam-config/sshd_config.d/10-twostep-publickey.conf"));
    let out = check(&env, &pam, &["--json", "--sshd-config", closed.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let v = json(&out);
    assert_eq!(v["warnings"].as_u64(), Some(0), "{v}");
    assert!(has(&findings(&v, "info"), &["sshd asks for the code before any password", "public key + code"]), "{v}");
}

#[test]
fn a_missing_mail_program_is_an_error_when_someone_has_an_address() {
    let env = Env::new("[email]\ncommand = [\"/nonexistent/sendmail\", \"-t\"]");
    env.enroll("root");
    let pam = pam_dir(&env, &[]);
    let v = json(&check(&env, &pam, &["--json"]));
    assert!(has(&findings(&v, "warning"), &["/nonexistent/sendmail does not exist", "nobody has an address"]), "{v}");
    assert_eq!(v["errors"].as_u64(), Some(0), "{v}");
    env.enroll_with("alice", Some(SECRET), Some("alice@district.org"));
    let out = check(&env, &pam, &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(has(
        &findings(&json(&out), "error"),
        &["/nonexistent/sendmail does not exist", "logins that need one are refused"]
    ));
}

#[test]
fn a_mail_program_in_a_directory_another_user_owns_is_an_error() {
    let env = Env::new("");
    env.enroll("root");
    let bin = env.path().join("mailbin");
    std::fs::create_dir(&bin).unwrap();
    let prog = bin.join("sendmail");
    std::fs::write(&prog, "#!/bin/sh\ncat >/dev/null\n").unwrap();
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::chown(&bin, Some(65534), Some(65534)).unwrap();
    env.write_config(&format!("[email]\ncommand = [\"{}\"]", prog.display()));
    let out = check(&env, &pam_dir(&env, &[]), &["--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let errors = findings(&json(&out), "error");
    assert!(has(&errors, &[&format!("{} is owned by uid 65534", bin.display()), "runs as root"]), "{errors:?}");
}

#[test]
fn an_unenrolled_admin_and_root_are_told_they_would_be_refused() {
    let env = Env::new("[email]\ncommand = [\"/bin/true\"]\n[policy]\nrequired = true");
    let pam = pam_dir(&env, &[("common-auth", DEBIAN_COMMON_AUTH), ("login", &shipped("pam-config/pam.d/login"))]);
    let out = check_as(&env, &pam, &["--json"], Some("nobody"));
    assert_eq!(out.status.code(), Some(0), "warnings only: {}", stdout(&out));
    let warnings = findings(&json(&out), "warning");
    assert!(
        has(
            &warnings,
            &[
                "you (nobody, from SUDO_USER) would be refused at the next login through login",
                "not enrolled",
                "twostep enroll nobody"
            ]
        ),
        "{warnings:?}"
    );
    assert!(has(&warnings, &["root would be refused at the next login through login"]), "{warnings:?}");

    // Enrolled and locked: refused too, and the fix is the unlock.
    env.enroll("nobody");
    env.update_tally("nobody", |t| t.locked_at = Some(now()));
    let warnings = findings(&json(&check_as(&env, &pam, &["--json"], Some("nobody"))), "warning");
    assert!(
        has(&warnings, &["you (nobody, from SUDO_USER)", "is locked until", "twostep unlock nobody"]),
        "{warnings:?}"
    );
    env.write_config("[email]\ncommand = [\"/bin/true\"]\n[policy]\nrequired = false");
    let warnings = findings(&json(&check_as(&env, &pam, &["--json"], Some("nobody"))), "warning");
    assert!(!has(&warnings, &["root would be refused"]), "not required: {warnings:?}");
}

#[test]
fn the_check_changes_nothing_not_even_a_missing_tally_directory() {
    let env = clean_env();
    std::fs::remove_dir_all(&env.tally).unwrap();
    let pam = pam_dir(&env, &[("common-auth", DEBIAN_COMMON_AUTH), ("login", &shipped("pam-config/pam.d/login"))]);
    let out = check_as(&env, &pam, &[], Some("nobody"));
    assert!(out.status.success(), "a missing tally directory is made at the first login: {}", stdout(&out));
    assert!(!env.tally.exists(), "the check created {}", env.tally.display());
    assert!(env.log_lines().is_empty(), "a check is not a change: nothing is logged");
}

#[test]
fn a_compiled_config_copy_that_logins_cannot_use_is_a_warning_with_the_fix() {
    let env = clean_env();
    let run = env.path().join("run");
    let copy = run.join("config.cache");
    let line = format!(
        "auth required {} config={} config_cache={}\n",
        module_path().display(),
        env.config.display(),
        copy.display()
    );
    let pam = pam_dir(&env, &[("twostep-copy", &line)]);
    // None yet, or a private one: nothing to say.
    let quiet = |out: &Output| !findings(&json(out), "warning").iter().any(|f| f.contains("compiled config"));
    assert!(quiet(&check(&env, &pam, &["--json"])), "{}", stdout(&check(&env, &pam, &["--json"])));
    private_dir(&run);
    std::fs::write(&copy, b"x").unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(quiet(&check(&env, &pam, &["--json"])));
    // A copy others may read, then a directory others may enter.
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o644)).unwrap();
    let w = findings(&json(&check(&env, &pam, &["--json"])), "warning");
    assert!(has(&w, &["config.cache", "mode is 0644", "logins do not use the compiled config", "remove"]), "{w:?}");
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).unwrap();
    let w = findings(&json(&check(&env, &pam, &["--json"])), "warning");
    assert!(has(&w, &["run", "mode is 0755", "chmod 700"]), "{w:?}");
}
