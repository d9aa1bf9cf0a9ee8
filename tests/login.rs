//! The foundation, through real libpam: pam_start_confdir loads the freshly
//! built libpam_twostep.so from a temporary service directory, and a scripted
//! conversation (examples/pamdrive.rs) answers the prompts.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;

#[test]
fn the_right_code_is_accepted_and_logged_without_the_code() {
    let env = Env::new("");
    env.enroll("alice");
    let code = code(SECRET, 0);
    let t = env.login_service(SERVICE, "alice", &[&code], &["--rhost", "192.0.2.7"]);
    assert!(t.succeeded(), "{t:?}");
    assert_eq!(t.prompts(), ["Verification code: "]);
    assert_eq!(t.messages[0].style, "prompt_echo_off");
    let logs = env.log_lines();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert!(
        logs[0].contains("pam_twostep[")
            && logs[0].contains("user=alice service=twostep-test rhost=192.0.2.7 result=success method=totp"),
        "{logs:?}"
    );
    assert!(!logs[0].contains(&code) && !logs[0].contains(SECRET));
    // authpriv (10) * 8 + info (6) = 86
    assert!(logs[0].starts_with("<86>"), "{logs:?}");
}

#[test]
fn a_wrong_code_is_refused_and_the_user_is_told() {
    let env = Env::new("");
    env.enroll("alice");
    let wrong = wrong_code(SECRET);
    let t = env.login("alice", &[&wrong]);
    assert_eq!(t.result, "PAM_AUTH_ERR");
    assert!(t.said().contains("Incorrect verification code. 4 attempts remain"), "{t:?}");
    let logs = env.log_lines();
    assert!(logs.iter().any(|l| l.contains("result=wrong_code method=totp")), "{logs:?}");
    assert!(!logs.iter().any(|l| l.contains(&wrong)), "{logs:?}");
}

#[test]
fn codes_just_outside_the_window_are_refused_and_the_neighbours_accepted() {
    let env = Env::new("");
    env.enroll("alice");
    for delta in [-2, 2] {
        let t = env.login("alice", &[&code(SECRET, delta)]);
        assert_eq!(t.result, "PAM_AUTH_ERR", "step {delta}: {t:?}");
    }
    // ±1 step is accepted (default skew = 1); use the earlier step first so both are fresh.
    assert!(env.login("alice", &[&code(SECRET, -1)]).succeeded());
    assert!(env.login("alice", &[&code(SECRET, 1)]).succeeded());
}

#[test]
fn skew_zero_accepts_only_the_current_step() {
    let env = Env::new("[totp]\nskew = 0");
    env.enroll("alice");
    let t = env.login("alice", &[&code(SECRET, -1)]);
    assert_eq!(t.result, "PAM_AUTH_ERR");
}

#[test]
fn garbage_answers_are_refused_without_a_crash() {
    let env = Env::new("[lockout]\ndeny = 0");
    env.enroll("alice");
    let huge = "9".repeat(10_000);
    // (`email` and `text` are requests, not answers: tests/email.rs, tests/sms.rs.)
    for answer in ["", "abcdef", "12 34", "１２３４５６", "-12345", "1234567", "emails", " ", &huge, "000000\u{7f}"]
    {
        let t = env.login("alice", &[answer]);
        assert_eq!(t.result, "PAM_AUTH_ERR", "{answer:?}: {t:?}");
    }
    // The module is still fine afterwards.
    assert!(env.login("alice", &[&code(SECRET, 0)]).succeeded());
}

#[test]
fn ending_the_conversation_aborts_without_counting_a_failure() {
    let env = Env::new("");
    env.enroll("alice");
    let t = env.login("alice", &[]);
    assert_eq!(t.result, "PAM_CONV_ERR", "{t:?}");
    assert!(env.log_lines().iter().any(|l| l.contains("result=aborted")));
    assert!(!env.tally.join("alice").exists());
}

#[test]
fn an_unenrolled_user_is_refused_when_required() {
    let env = Env::new("");
    let t = env.login("carol", &[]);
    assert_eq!(t.result, "PAM_AUTH_ERR");
    assert!(t.prompts().is_empty());
    assert!(t.said().contains("not set up"), "{t:?}");
    assert!(env.log_lines().iter().any(|l| l.contains("user=carol") && l.contains("result=not_enrolled")));
}

#[test]
fn an_unenrolled_user_passes_through_when_not_required() {
    let env = Env::new("[policy]\nrequired = false");
    let t = env.login("carol", &[]);
    assert_eq!(t.result, IGNORED);
    assert!(t.messages.is_empty(), "{t:?}");
    assert!(env.log_lines().iter().any(|l| l.contains("user=carol") && l.contains("result=ignored")));
}

#[test]
fn a_user_unknown_to_the_system_is_handled_like_any_other_name() {
    let env = Env::new("");
    let t = env.login("no-such-user-xyz", &[]);
    assert_eq!(t.result, "PAM_AUTH_ERR");
    env.enroll("no-such-user-xyz");
    assert!(env.login("no-such-user-xyz", &[&code(SECRET, 0)]).succeeded());
}

#[test]
fn odd_user_names_work_and_stay_inside_the_store() {
    let env = Env::new("");
    for user in ["DOMAIN\\bob", "bob@ad.example", "élodie", "first.last"] {
        let out = env.twostep_stdin(&["enroll", user, "--secret-stdin", "--json"], SECRET);
        assert!(out.status.success(), "{user}: {}", stderr(&out));
        assert!(env.login(user, &[&code(SECRET, 0)]).succeeded(), "{user}");
    }
    let mut names: Vec<String> =
        std::fs::read_dir(&env.secrets).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["%C3%A9lodie", "DOMAIN%5Cbob", "bob@ad.example", "first.last"]);
    // Traversal-looking names are just names without a record.
    for user in ["../secrets/x", "..", "a/b", ".hidden"] {
        let t = env.login(user, &[]);
        assert_eq!(t.result, "PAM_AUTH_ERR", "{user}");
        assert!(t.said().contains("not set up"), "{user}: {t:?}");
    }
}

#[test]
fn a_disabled_user_is_not_asked() {
    let env = Env::new("");
    env.enroll("alice");
    let store = env.store();
    let mut rec = store.record("alice").unwrap().unwrap();
    rec.enabled = false;
    store.change("alice", |u| u.save_record(rec)).unwrap();
    let t = env.login("alice", &[]);
    assert_eq!(t.result, IGNORED);
    assert!(t.messages.is_empty());
    // In a stack with another module, the ignored module lets that module decide.
    let t = env.login_service(STACKED, "alice", &[], &[]);
    assert!(t.succeeded() && t.messages.is_empty(), "{t:?}");
}

fn assert_unavailable(env: &Env, user: &str, needle: &str) {
    let t = env.login(user, &[&code(SECRET, 0)]);
    assert_eq!(t.result, "PAM_SYSTEM_ERR", "{t:?}");
    assert!(t.prompts().is_empty(), "no prompt when twostep cannot work: {t:?}");
    assert_eq!(t.said(), "Two-step verification is unavailable; contact your administrator.");
    let logs = env.log_lines();
    assert!(logs.iter().any(|l| l.contains("result=unavailable") && l.contains(needle)), "want {needle:?} in {logs:?}");
    assert!(logs.iter().all(|l| l.starts_with("<83>") || !l.contains("result=unavailable")), "authpriv.err: {logs:?}");
}

#[test]
fn a_missing_config_refuses_the_login() {
    let env = Env::new("");
    env.enroll("alice");
    std::fs::remove_file(&env.config).unwrap();
    assert_unavailable(&env, "alice", "does not exist");
}

#[test]
fn a_malformed_config_refuses_the_login_and_names_the_key() {
    let env = Env::new("[totp]\ndigitz = 6");
    env.enroll("alice");
    assert_unavailable(&env, "alice", "digitz");
    env.write_config("[totp\n");
    assert_unavailable(&env, "alice", "twostep.toml");
}

#[test]
fn an_insecure_config_refuses_the_login() {
    let env = Env::new("");
    env.enroll("alice");
    std::fs::set_permissions(&env.config, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert_unavailable(&env, "alice", "writable by group or others");
    std::fs::set_permissions(&env.config, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::chown(&env.config, Some(65534), None).unwrap();
    assert_unavailable(&env, "alice", "owned by uid 65534");
}

#[test]
fn a_symlinked_config_refuses_the_login() {
    let env = Env::new("");
    env.enroll("alice");
    let real = env.path().join("real.toml");
    std::fs::rename(&env.config, &real).unwrap();
    std::os::unix::fs::symlink(&real, &env.config).unwrap();
    assert_unavailable(&env, "alice", "symbolic link");
}

#[test]
fn broken_or_insecure_store_files_refuse_the_login() {
    let env = Env::new("");
    env.enroll("alice");
    let file = env.secrets.join("alice");
    let good = std::fs::read(&file).unwrap();

    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_unavailable(&env, "alice", "group/other must have no access");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();

    std::os::unix::fs::chown(&file, Some(65534), None).unwrap();
    assert_unavailable(&env, "alice", "owned by uid 65534");
    std::os::unix::fs::chown(&file, Some(0), None).unwrap();

    std::fs::write(&file, "version = 1\nsecret = 42\n").unwrap();
    assert_unavailable(&env, "alice", "corrupt");

    std::fs::write(&file, "version = 7\nenabled = true\n").unwrap();
    assert_unavailable(&env, "alice", "format version 7");

    std::fs::remove_file(&file).unwrap();
    let elsewhere = env.path().join("elsewhere");
    std::fs::write(&elsewhere, &good).unwrap();
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &file).unwrap();
    assert_unavailable(&env, "alice", "symbolic link");
}

#[test]
fn an_insecure_or_missing_secrets_directory_refuses_the_login() {
    let env = Env::new("");
    env.enroll("alice");
    std::fs::set_permissions(&env.secrets, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_unavailable(&env, "alice", "secrets");
    std::fs::set_permissions(&env.secrets, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::rename(&env.secrets, env.path().join("moved")).unwrap();
    assert_unavailable(&env, "alice", "does not exist");
}

#[test]
fn an_unknown_module_argument_refuses_the_login() {
    let env = Env::new("");
    env.enroll("alice");
    env.write_service(SERVICE, "confg=/etc/other.toml");
    assert_unavailable(&env, "alice", "confg");
}

#[test]
fn logins_work_when_there_is_no_syslog_socket() {
    let env = Env::new("");
    env.enroll("alice");
    let path = env.path().join("no-such-socket");
    let text = format!(
        "auth required {} config={} log_socket={}\n",
        module_path().display(),
        env.config.display(),
        path.display()
    );
    std::fs::write(env.confdir.join("nolog"), text).unwrap();
    let t = env.login_service("nolog", "alice", &[&code(SECRET, 0)], &[]);
    assert!(t.succeeded(), "{t:?}");
}

#[test]
fn setcred_succeeds_and_account_management_steps_aside() {
    let env = Env::new("");
    env.enroll("alice");
    // The account stack has only twostep: PAM_IGNORE from every module makes libpam deny,
    // which is exactly "this module has no opinion about accounts".
    let t = env.login_service(SERVICE, "alice", &[&code(SECRET, 0)], &["--account"]);
    assert_eq!(t.steps[0], ("authenticate".into(), "PAM_SUCCESS".into()));
    assert_eq!(t.steps[1], ("setcred".into(), "PAM_SUCCESS".into()));
    let text = format!(
        "auth required {m} config={c}\naccount required pam_permit.so\naccount required {m}\n",
        m = module_path().display(),
        c = env.config.display()
    );
    std::fs::write(env.confdir.join("acct"), text).unwrap();
    let t = env.login_service("acct", "alice", &[&code(SECRET, 1)], &["--account"]);
    assert_eq!(t.steps[2], ("acct_mgmt".into(), "PAM_SUCCESS".into()), "{t:?}");
}

#[test]
fn the_module_exports_only_the_pam_entry_points() {
    let out = std::process::Command::new("nm").args(["-D", "--defined-only"]).arg(module_path()).output().unwrap();
    assert!(out.status.success());
    let mut exported: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let parts: Vec<&str> = l.split_whitespace().collect();
            (parts.len() == 3 && parts[1] == "T").then(|| parts[2].to_string())
        })
        .collect();
    exported.sort();
    assert_eq!(
        exported,
        [
            "pam_sm_acct_mgmt",
            "pam_sm_authenticate",
            "pam_sm_chauthtok",
            "pam_sm_close_session",
            "pam_sm_open_session",
            "pam_sm_setcred"
        ]
    );
}

/// While the module runs (the secret and the typed code are in memory) the host
/// cannot dump core: not dumpable and a core limit of 0. Afterwards the host's
/// own settings are back (here: the caller's 1 MiB soft limit, as under su).
#[test]
// The caller's core limit is set between fork and exec: test tooling, outside the fence.
#[allow(unsafe_code)]
fn no_core_dump_while_the_module_runs_and_the_hosts_settings_come_back_after() {
    use std::os::unix::process::CommandExt;
    let env = Env::new("");
    env.enroll("alice");
    let mut cmd = std::process::Command::new(pamdrive_bin());
    cmd.args(["--confdir", env.confdir.to_str().unwrap(), "--service", SERVICE, "--user", "alice", "--report-core"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    // SAFETY: the closure runs between fork and exec and only calls setrlimit,
    // which is async-signal-safe, on a local value.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit { rlim_cur: 1 << 20, rlim_max: libc::RLIM_INFINITY };
            if libc::setrlimit(libc::RLIMIT_CORE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    answer(&mut child, &[&code(SECRET, 0)]);
    let out = child.wait_with_output().unwrap();
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let probe = |when: &str| -> Vec<(u64, i64)> {
        lines
            .iter()
            .filter(|v| v["probe"] == when)
            .map(|v| (v["core"].as_u64().unwrap(), v["dumpable"].as_i64().unwrap()))
            .collect()
    };
    assert!(lines.iter().any(|v| v["step"] == "authenticate" && v["name"] == "PAM_SUCCESS"), "{lines:?}");
    let during = probe("conversation");
    assert!(!during.is_empty(), "{lines:?}");
    assert!(during.iter().all(|&p| p == (0, 0)), "during the login: {during:?}");
    assert_eq!(probe("after"), [(1 << 20, 1)], "after the login");
}
