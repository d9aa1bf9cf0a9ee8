//! Lockout and replay protection through real libpam, with many processes at once.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::*;

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_str(&stdout(out)).unwrap()
}

#[test]
fn the_fifth_wrong_code_locks_and_then_even_the_right_code_is_refused_unasked() {
    let env = Env::new("");
    env.enroll("alice");
    let bad = wrong_code(SECRET);
    for left in (1..=4).rev() {
        let t = env.login("alice", &[&bad]);
        assert_eq!(t.result, "PAM_AUTH_ERR");
        let want = if left == 1 { "1 attempt remains".to_string() } else { format!("{left} attempts remain") };
        assert!(t.said().contains(&want), "{t:?}");
    }
    let t = env.login("alice", &[&bad]);
    assert!(t.said().contains("Too many incorrect codes. Try again after "), "{t:?}");
    let logs = env.log_lines();
    assert_eq!(logs.iter().filter(|l| l.contains("event=lock")).count(), 1, "{logs:?}");

    let t = env.login("alice", &[&code(SECRET, 0)]);
    assert_eq!(t.result, "PAM_AUTH_ERR");
    assert!(t.prompts().is_empty(), "a locked user is not asked for a code: {t:?}");
    assert!(t.said().starts_with("Too many incorrect codes. Try again after "), "{t:?}");
    assert!(env.log_lines().iter().any(|l| l.contains("result=locked")));

    let s = json(&env.twostep(&["status", "alice", "--json"]));
    assert_eq!(s["failures"], 5);
    assert_eq!(s["locked"], true);
    assert!(s["locked_until"].as_str().unwrap().ends_with('Z'), "{s}");
}

#[test]
fn attempts_during_a_lock_do_not_extend_it() {
    let env = Env::new("");
    env.enroll("alice");
    let bad = wrong_code(SECRET);
    for _ in 0..5 {
        env.login("alice", &[&bad]);
    }
    let before = env.store().tally("alice").unwrap();
    for _ in 0..3 {
        env.login("alice", &[&bad]);
    }
    let after = env.store().tally("alice").unwrap();
    assert_eq!(before, after);
}

#[test]
fn the_lock_ends_after_unlock_time() {
    let env = Env::new("[lockout]\ndeny = 2\nunlock_time = 2");
    env.enroll("alice");
    let bad = wrong_code(SECRET);
    env.login("alice", &[&bad]);
    env.login("alice", &[&bad]);
    assert!(env.login("alice", &[&code(SECRET, 0)]).prompts().is_empty(), "locked");
    let locked_at = env.store().tally("alice").unwrap().locked_at.unwrap();
    // Poll until the clock passes the end of the lock (at most ~3 s).
    let deadline = Instant::now() + Duration::from_secs(10);
    while now() < locked_at + 2 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(50));
    }
    let t = env.login("alice", &[&code(SECRET, 0)]);
    assert!(t.succeeded(), "{t:?}");
}

#[test]
fn failures_older_than_fail_interval_do_not_count() {
    let env = Env::new("[lockout]\ndeny = 3\nfail_interval = 1");
    env.enroll("alice");
    let bad = wrong_code(SECRET);
    let first = now();
    env.login("alice", &[&bad]);
    env.login("alice", &[&bad]);
    while now() < first + 2 {
        std::thread::sleep(Duration::from_millis(50));
    }
    let t = env.login("alice", &[&bad]);
    assert!(t.said().contains("2 attempts remain"), "old failures expired: {t:?}");
}

#[test]
fn a_right_code_clears_the_failures() {
    let env = Env::new("");
    env.enroll("alice");
    let bad = wrong_code(SECRET);
    for _ in 0..4 {
        env.login("alice", &[&bad]);
    }
    assert!(env.login("alice", &[&code(SECRET, 0)]).succeeded());
    let t = env.login("alice", &[&bad]);
    assert!(t.said().contains("4 attempts remain"), "{t:?}");
}

#[test]
fn twostep_unlock_lets_a_locked_user_in_and_is_logged() {
    let env = Env::new("[lockout]\ndeny = 2");
    env.enroll("alice");
    let bad = wrong_code(SECRET);
    env.login("alice", &[&bad]);
    env.login("alice", &[&bad]);
    env.log_lines();
    let out = env.twostep(&["unlock", "alice"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Unlocked alice"), "{}", stdout(&out));
    let logs = env.log_lines();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert!(logs[0].contains("twostep[") && logs[0].contains("user=alice action=unlock"), "{logs:?}");
    assert!(env.login("alice", &[&code(SECRET, 0)]).succeeded());
    let s = json(&env.twostep(&["status", "alice", "--json"]));
    assert_eq!((s["failures"].as_u64(), s["locked"].as_bool()), (Some(0), Some(false)));
    assert!(s["locked_until"].is_null());
}

#[test]
fn unlock_time_zero_waits_for_an_administrator() {
    let env = Env::new("[lockout]\ndeny = 1\nunlock_time = 0");
    env.enroll("alice");
    env.login("alice", &[&wrong_code(SECRET)]);
    let t = env.login("alice", &[&code(SECRET, 0)]);
    assert!(t.said().contains("Ask your administrator to unlock"), "{t:?}");
    assert!(env.twostep(&["unlock", "alice"]).status.success());
    assert!(env.login("alice", &[&code(SECRET, 0)]).succeeded());
}

#[test]
fn root_is_locked_unless_even_deny_root_is_off() {
    let env = Env::new("[lockout]\ndeny = 1");
    env.enroll("root");
    env.login("root", &[&wrong_code(SECRET)]);
    assert!(env.login("root", &[&code(SECRET, 0)]).prompts().is_empty(), "root locked by default");

    let env = Env::new("[lockout]\ndeny = 1\neven_deny_root = false");
    env.enroll("root");
    for _ in 0..3 {
        let t = env.login("root", &[&wrong_code(SECRET)]);
        assert!(!t.said().contains("attempt"), "no countdown for exempt root: {t:?}");
    }
    assert!(env.login("root", &[&code(SECRET, 0)]).succeeded());
}

#[test]
fn a_used_code_is_refused_as_a_replay_and_logged() {
    let env = Env::new("");
    env.enroll("alice");
    let c = code(SECRET, 0);
    assert!(env.login("alice", &[&c]).succeeded());
    let t = env.login("alice", &[&c]);
    assert_eq!(t.result, "PAM_AUTH_ERR");
    assert!(t.said().contains("already used"), "{t:?}");
    // An older code in the window is a replay too once a newer step was used.
    let t = env.login("alice", &[&code(SECRET, -1)]);
    assert!(t.said().contains("already used"), "{t:?}");
    let logs = env.log_lines();
    assert_eq!(logs.iter().filter(|l| l.contains("result=replay")).count(), 2, "{logs:?}");
    assert!(!logs.iter().any(|l| l.contains(&c)));
}

/// Starts `n` logins for alice at once (separate processes), gives every one
/// its answer before waiting for any, so they check and record concurrently.
fn race(env: &Env, n: usize, code: &str) -> Vec<Transcript> {
    let mut children: Vec<_> = (0..n).map(|_| env.spawn("alice")).collect();
    for c in &mut children {
        answer(c, &[code]);
    }
    children.into_iter().map(collect).collect()
}

#[test]
fn twenty_four_parallel_wrong_codes_are_all_recorded() {
    let env = Env::new("[lockout]\ndeny = 100");
    env.enroll("alice");
    let bad = wrong_code(SECRET);
    let results = race(&env, 24, &bad);
    assert!(results.iter().all(|t| t.result == "PAM_AUTH_ERR"));
    let tally = env.store().tally("alice").unwrap();
    assert_eq!(tally.failures.len(), 24, "{tally:?}");
    // Every process saw a different count: the read-modify-writes were serialised.
    let mut remaining: Vec<u32> =
        results.iter().map(|t| t.said().split(' ').find_map(|w| w.parse::<u32>().ok()).unwrap()).collect();
    remaining.sort();
    assert_eq!(remaining, (76..100).collect::<Vec<_>>());
}

#[test]
fn parallel_wrong_codes_lock_at_exactly_deny() {
    let env = Env::new("");
    env.enroll("alice");
    let bad = wrong_code(SECRET);
    let results = race(&env, 24, &bad);
    assert!(results.iter().all(|t| t.result == "PAM_AUTH_ERR"));
    let tally = env.store().tally("alice").unwrap();
    assert_eq!(tally.failures.len(), 5, "only attempts before the lock count: {tally:?}");
    assert!(tally.locked_at.is_some());
    let counted = results.iter().filter(|t| t.said().contains("Incorrect verification code")).count();
    assert_eq!(counted, 5, "{results:?}");
    let locks = env.log_lines().iter().filter(|l| l.contains("event=lock")).count();
    assert_eq!(locks, 1);
}

#[test]
fn of_twenty_logins_racing_with_the_same_code_exactly_one_wins() {
    let env = Env::new("[lockout]\ndeny = 100");
    env.enroll("alice");
    let c = code(SECRET, 0);
    let results = race(&env, 20, &c);
    let wins = results.iter().filter(|t| t.succeeded()).count();
    assert_eq!(wins, 1, "{results:?}");
    assert_eq!(results.iter().filter(|t| t.said().contains("already used")).count(), 19);
}

fn assert_tally_refused(env: &Env, needle: &str) {
    let t = env.login("alice", &[&code(SECRET, 0)]);
    assert_eq!(t.result, "PAM_SYSTEM_ERR", "{t:?}");
    assert_eq!(t.said(), "Two-step verification is unavailable; contact your administrator.");
    let logs = env.log_lines();
    assert!(logs.iter().any(|l| l.contains("result=unavailable") && l.contains(needle)), "{needle}: {logs:?}");
}

#[test]
fn a_broken_or_insecure_tally_refuses_the_login_and_is_kept() {
    let env = Env::new("");
    env.enroll("alice");
    let file = env.tally.join("alice");

    std::fs::write(&file, "version = 1\nfailures = [1, 2\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_tally_refused(&env, "corrupt");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "version = 1\nfailures = [1, 2\n", "not reset");
    // The admin command reports it too instead of showing zero failures.
    let out = env.twostep(&["status", "alice"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("corrupt"), "{}", stderr(&out));

    // A version no build has written yet (2 is the current one, since text codes).
    std::fs::write(&file, "version = 99\nfailures = []\n").unwrap();
    assert_tally_refused(&env, "format version 99");

    std::fs::write(&file, "version = 1\nfailures = []\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o622)).unwrap();
    assert_tally_refused(&env, "group/other must have no access");

    std::fs::remove_file(&file).unwrap();
    let target = env.path().join("elsewhere");
    std::fs::write(&target, "version = 1\n").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink(&target, &file).unwrap();
    assert_tally_refused(&env, "symbolic link");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "version = 1\n");

    std::fs::remove_file(&file).unwrap();
    std::fs::set_permissions(&env.tally, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_tally_refused(&env, "tally");
}

#[test]
fn status_and_list_need_root() {
    let env = Env::new("");
    env.enroll("alice");
    for args in [&["status", "alice"][..], &["list"][..], &["unlock", "alice"][..]] {
        let out = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(twostep_bin())
            .arg("--config")
            .arg(&env.config)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(stderr(&out).contains("needs root"), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn list_shows_failures_and_locks_for_every_user() {
    let env = Env::new("[lockout]\ndeny = 2");
    env.enroll("alice");
    env.enroll("bob");
    let bad = wrong_code(SECRET);
    env.login("alice", &[&bad]);
    env.login("bob", &[&bad]);
    env.login("bob", &[&bad]);
    let v = json(&env.twostep(&["list", "--json"]));
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[0]["user"].as_str(), rows[0]["failures"].as_u64(), rows[0]["locked"].as_bool()),
        (Some("alice"), Some(1), Some(false))
    );
    assert_eq!(
        (rows[1]["user"].as_str(), rows[1]["failures"].as_u64(), rows[1]["locked"].as_bool()),
        (Some("bob"), Some(2), Some(true))
    );
    let out = stdout(&env.twostep(&["list"]));
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("USER") && lines[2].starts_with("bob") && lines[2].contains("until "), "{out}");
}

#[test]
fn a_missing_tally_directory_is_created_private_by_the_first_login() {
    let env = Env::new("");
    env.enroll("alice");
    std::fs::remove_dir_all(&env.tally).unwrap();
    assert!(env.login("alice", &[&wrong_code(SECRET)]).said().contains("4 attempts remain"));
    let meta = std::fs::metadata(&env.tally).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o700);
    assert_eq!(env.store().tally("alice").unwrap().failures.len(), 1);
}

/// Runs a login for `user` with `TZ` set to `tz` and the code prompt (if any)
/// answered with Ctrl-D; fails the test if the module does not finish within 10 s.
fn login_with_tz(env: &Env, user: &str, tz: &str) -> Transcript {
    let mut child = std::process::Command::new(pamdrive_bin())
        .args(["--confdir", env.confdir.to_str().unwrap(), "--service", SERVICE, "--user", user])
        .env("TZ", tz)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the login with TZ={tz:?} hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    collect(child)
}

/// Under `su` the environment is the caller's: `TZ` must not make root open a
/// file of the caller's choosing (a FIFO that blocks, `/dev/zero` that grows
/// the process, `/etc/shadow`, a bogus zone) nor change the times shown.
#[test]
fn the_callers_tz_is_never_opened_and_does_not_change_the_lock_message() {
    let env = Env::new("");
    env.enroll("alice");
    let bad = wrong_code(SECRET);
    for _ in 0..5 {
        env.login("alice", &[&bad]);
    }
    let locked_at = env.store().tally("alice").unwrap().locked_at.unwrap();
    let expected = format!(
        "Too many incorrect codes. Try again after {}.",
        pam_twostep::time::local_time(locked_at + 1800, now())
    );
    // Without an `other` service libpam itself complains through glibc's syslog(),
    // which reads TZ too (glibc ignores absolute TZ paths only in setuid programs
    // such as su; pamdrive is not one). /etc/pam.d/other exists on real systems.
    std::fs::write(env.confdir.join("other"), "auth required pam_deny.so\naccount required pam_deny.so\n").unwrap();
    let fifo = env.path().join("zone-fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let bogus = env.path().join("bogus-zone");
    std::fs::write(&bogus, "TZif2 not a zone at all\n").unwrap();
    let other_zone = if expected.contains("UTC") { "Asia/Tokyo" } else { "UTC" };
    for tz in [
        fifo.to_str().unwrap(),
        &format!(":{}", fifo.display()),
        "/dev/zero",
        bogus.to_str().unwrap(),
        "/etc/shadow",
        // A real zone other than the system's: still the system's time is shown.
        "Asia/Tokyo",
        other_zone,
    ] {
        let started = Instant::now();
        let t = login_with_tz(&env, "alice", tz);
        assert_eq!(t.result, "PAM_AUTH_ERR", "TZ={tz}: {t:?}");
        assert!(t.prompts().is_empty(), "TZ={tz}: {t:?}");
        assert_eq!(t.said(), expected, "TZ={tz}");
        assert!(started.elapsed() < Duration::from_secs(5), "TZ={tz} took {:?}", started.elapsed());
    }
}
