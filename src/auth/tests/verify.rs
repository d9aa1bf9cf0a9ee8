//! Verifying an enrolled user: the right code, the lockout (and root), the
//! answer timeout, group rules, a record changed during the login, trusted networks.

use super::*;

#[test]
fn the_right_code_lets_the_user_in_and_a_replay_is_refused() {
    let mut w = World::new("");
    w.enroll("alice", Some(SECRET), None);
    let code = w.code(0);
    assert_eq!(w.login("alice", vec![Ask(PROMPT, code.clone())]), Outcome::Success);
    let replay = vec![Ask(PROMPT, code), Error("already used")];
    assert_eq!(w.login("alice", replay), Outcome::Denied);
    assert_eq!(w.log.results(), ["success", "replay"]);
    assert_eq!(w.tally("alice").failures, vec![T0], "a replay counts as a failure");
}

#[test]
fn five_wrong_codes_lock_until_unlock_time_passes() {
    let mut w = World::new("[lockout]\nunlock_time = 600");
    w.enroll("alice", Some(SECRET), None);
    let bad = wrong(&w.cfg, T0);
    for left in ["4 attempts remain", "3 attempts", "2 attempts", "1 attempt remains"] {
        assert_eq!(w.login("alice", vec![Ask(PROMPT, bad.clone()), Error(left)]), Outcome::Denied);
    }
    let fifth = vec![Ask(PROMPT, bad.clone()), Error("Too many incorrect codes. Try again after")];
    assert_eq!(w.login("alice", fifth), Outcome::Denied);
    // Locked: refused without a prompt, even with the right code in hand.
    w.advance(599);
    assert_eq!(w.login("alice", vec![Error("Too many incorrect codes")]), Outcome::Denied);
    // The lock ends by time alone.
    w.advance(1);
    let code = w.code(0);
    assert_eq!(w.login("alice", vec![Ask(PROMPT, code)]), Outcome::Success);
    assert_eq!(w.tally("alice").failures, Vec::<u64>::new());
}

#[test]
fn root_is_not_locked_when_even_deny_root_is_off() {
    let mut w = World::new("[lockout]\neven_deny_root = false");
    w.accounts = FixedAccounts::default().with("root", 0, &["root"]);
    w.enroll("root", Some(SECRET), None);
    let bad = wrong(&w.cfg, T0);
    for _ in 0..7 {
        assert_eq!(
            w.login("root", vec![Ask(PROMPT, bad.clone()), Error("Incorrect verification code.")]),
            Outcome::Denied
        );
    }
    let code = w.code(0);
    assert_eq!(w.login("root", vec![Ask(PROMPT, code)]), Outcome::Success);
}

#[test]
fn an_answer_after_answer_timeout_is_refused_unjudged() {
    let mut w = World::new("[lockout]\nanswer_timeout = 60");
    w.enroll("alice", Some(SECRET), None);
    let mut script = Script::new(vec![Ask(PROMPT, wrong(&w.cfg, T0)), Error("That took too long")]);
    assert_eq!(w.login_with(&mut slow_user(&mut script, Rc::clone(&w.clock), 61), "alice"), Outcome::Denied);
    assert!(w.tally("alice").failures.is_empty());
    assert_eq!(w.log.results(), ["answer_timeout"]);
}

#[test]
fn a_group_rule_refuses_a_user_nss_does_not_know() {
    let mut w = World::new("[policy]\nrequired_groups = [\"staff\"]");
    assert_eq!(w.login("ghost", vec![Error("unavailable")]), Outcome::Denied);
    assert_eq!(w.log.results(), ["denied"]);
    w.accounts = FixedAccounts::default().with("pat", 1000, &["users"]);
    assert_eq!(w.login("pat", vec![]), Outcome::Ignore, "known, not in staff: not required");
    w.accounts = FixedAccounts::default().with("sam", 1001, &["staff"]);
    assert_eq!(w.login("sam", vec![Error("not set up")]), Outcome::Denied);
}

#[test]
fn a_disabled_user_is_not_asked_and_a_reset_reaches_a_waiting_login() {
    let mut w = World::new("");
    w.enroll("bob", Some(SECRET), None);
    w.store()
        .change("bob", |u| {
            let r = u.record()?.cloned().unwrap();
            u.save_record(UserRecord { enabled: false, ..r })
        })
        .unwrap();
    assert_eq!(w.login("bob", vec![]), Outcome::Ignore);

    w.enroll("carol", Some(SECRET), None);
    let store = w.store();
    let mut script = Script::new(vec![Ask(PROMPT, w.code(0)), Error("changed meanwhile")]);
    // The administrator runs `twostep reset` while the user reads the prompt.
    let reset = || {
        store
            .change("carol", |u| -> Result<(), crate::store::StoreError> {
                u.remove_record()?;
                u.remove_tally()?;
                Ok(())
            })
            .unwrap()
    };
    let mut resetting = ThenEachAnswer { inner: &mut script, then: Box::new(reset) };
    assert_eq!(w.login_with(&mut resetting, "carol"), Outcome::Denied);
    assert!(w.tally("carol").failures.is_empty(), "not judged, not counted");
}

#[test]
fn the_store_files_are_owned_by_whoever_runs_the_tests() {
    // The point of `Owner`: these tests need no root.
    let w = World::new("");
    w.enroll("alice", Some(SECRET), None);
    let meta = std::fs::metadata(w.dir.path().join("secrets/alice")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), Owner::current().0);
}

#[test]
fn a_trusted_network_skips_the_code_for_enrolled_unenrolled_and_locked_users() {
    // The test logins come from 192.0.2.7.
    let mut w = World::new("[policy]\ntrusted_networks = [\"198.51.100.0/24\", \"192.0.2.0/24\"]");
    w.enroll("alice", Some(SECRET), None);
    assert_eq!(w.login("alice", vec![]), Outcome::Ignore, "enrolled: not asked");
    assert_eq!(w.login("nobody", vec![]), Outcome::Ignore, "required but not enrolled: not refused");
    let locked = Tally { failures: vec![T0; 5], locked_at: Some(T0), ..Tally::default() };
    w.store().change("alice", |u| u.update_tally(|t| *t = locked.clone())).unwrap();
    assert_eq!(w.login("alice", vec![]), Outcome::Ignore, "locked: still not asked");
    assert_eq!(w.tally("alice"), locked, "nor is the lock changed");
    assert_eq!(w.log.results(), ["ignored", "ignored", "ignored"]);
    assert!(
        w.log.0.iter().all(|(_, l)| l.contains("rhost=192.0.2.7 result=ignored method=none")
            && l.ends_with("reason=\"trusted network 192.0.2.0/24\"")),
        "{:?}",
        w.log.0
    );
}

#[test]
fn a_login_from_outside_the_trusted_networks_is_asked_as_usual() {
    let mut w = World::new(
        "[policy]\ntrusted_networks = [\"192.0.2.0/24\"]\n[services.sshd]\ntrusted_networks = [\"192.0.2.8/32\"]",
    );
    w.enroll("alice", Some(SECRET), None);
    let code = w.code(0);
    assert_eq!(w.login("alice", vec![Ask(PROMPT, code)]), Outcome::Success, "sshd's own list replaces [policy]'s");
    assert_eq!(w.login("nobody", vec![Error("not set up")]), Outcome::Denied);
}

#[test]
fn a_damaged_record_refuses_a_login_from_a_trusted_network() {
    let mut w = World::new("[policy]\ntrusted_networks = [\"192.0.2.0/24\"]");
    crate::trusted_fs::write_atomic(&w.cfg.secrets_dir, "alice", b"\xff\xfe").unwrap();
    assert_eq!(w.login("alice", vec![Error("unavailable")]), Outcome::Unavailable, "fail closed");
}
