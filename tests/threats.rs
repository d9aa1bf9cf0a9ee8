//! The attacks of docs/security.md ("Threats"), each through the real module
//! and real libpam, in the situation the attacker creates: a lowered file size
//! limit, sessions held open and answered out of order, a clock that jumps, an
//! administrator's reset while a login waits for its answer.
//!
//! Clock jumps use libfaketime in the pamdrive process only
//! (`FAKETIME_TIMESTAMP_FILE`, re-read at every clock read), so the module reads
//! a different time than the test without anything else changing.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

const PROMPT: &str = "Verification code: ";

fn failures(env: &Env, user: &str) -> usize {
    env.store().tally(user).unwrap().failures.len()
}

/// Entries of the tally directory that are neither state files nor lock files.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp") || n.starts_with(".tmp"))
        .collect()
}

#[test]
fn a_file_size_limit_cannot_make_wrong_codes_go_uncounted() {
    // `su` hands the module the caller's RLIMIT_FSIZE. A tally with a failure in
    // it is larger than one after a success, so a limit of exactly the success
    // size used to make every wrong code's write fail (SIGXFSZ or an error,
    // nothing counted) while the right code still fitted: unlimited guesses.
    let env = Env::new("");
    env.enroll("alice");
    assert!(env.login("alice", &[&code(SECRET, -1)]).succeeded());
    let size = std::fs::metadata(env.tally.join("alice")).unwrap().len();
    let limit = format!("--fsize={size}:{size}");
    let limited = || env.pamdrive(&["prlimit", &limit], SERVICE, "alice", &[]).spawn().unwrap();

    let bad = wrong_code(SECRET);
    let mut judged_wrong = 0;
    for _ in 0..6 {
        // collect() asserts that pamdrive exited normally: no death by SIGXFSZ.
        let t = finish(limited(), &[&bad]);
        assert_ne!(t.result, "PAM_SUCCESS", "{t:?}");
        if t.result == "PAM_AUTH_ERR" {
            judged_wrong += 1;
        }
    }
    let t = finish(limited(), &[&code(SECRET, 0)]);
    assert!(!t.succeeded(), "a code was judged although its failure could not be written: {t:?}");
    assert!(failures(&env, "alice") >= judged_wrong, "every judged wrong code is on disk");
    assert!(leftovers(&env.tally).is_empty(), "{:?}", leftovers(&env.tally));
    let logs = env.log_lines();
    assert!(logs.iter().any(|l| l.contains("result=unavailable") && l.contains("File too large")), "{logs:?}");

    // The tally is intact: without the limit the right code works.
    assert!(env.login("alice", &[&code(SECRET, 1)]).succeeded());
}

#[test]
fn parallel_sessions_answering_newest_first_lock_at_the_fifth_wrong_code() {
    // Sessions opened a second apart and answered newest first used to judge
    // with the time each had read at its start, ignoring the failures stamped
    // "later" by the others: every one said "4 attempts remain", none locked.
    let env = Env::new("");
    env.enroll("alice");
    let mut sessions = Vec::new();
    for i in 0..6 {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(1050));
        }
        let mut s = Session::start(&env, "alice");
        s.prompt(PROMPT);
        sessions.push(s);
    }
    let bad = wrong_code(SECRET);
    let said: Vec<String> = sessions
        .into_iter()
        .rev()
        .map(|mut s| {
            s.answer(&bad);
            s.finish().said()
        })
        .collect();
    for (i, left) in [4, 3, 2].iter().enumerate() {
        assert!(said[i].contains(&format!("{left} attempts remain")), "{i}: {said:?}");
    }
    assert!(said[3].contains("1 attempt remains"), "{said:?}");
    assert!(said[4].contains("Too many incorrect codes"), "the fifth locks: {said:?}");
    assert!(said[5].starts_with("Too many incorrect codes"), "the sixth is refused unjudged: {said:?}");
    assert_eq!(failures(&env, "alice"), 5);
}

#[test]
fn an_answer_held_back_past_answer_timeout_is_refused_unjudged() {
    // A session kept open for 40 minutes must not judge its answer against the
    // time it started (its failure would stamp a lock that is nearly over).
    let env = Env::new("[lockout]\nanswer_timeout = 60\n");
    env.enroll("alice");
    let (child, offset) = env.faked_clock("late", "alice", "+0");
    let mut s = Session::of(child);
    s.prompt(PROMPT);
    std::fs::write(&offset, "+40m\n").unwrap();
    s.answer(&wrong_code(SECRET));
    let t = s.finish();
    assert_eq!(t.result, "PAM_AUTH_ERR");
    assert!(t.said().contains("That took too long"), "{t:?}");
    assert_eq!(failures(&env, "alice"), 0, "not judged, so not counted either");
    assert!(env.log_lines().iter().any(|l| l.contains("result=answer_timeout")));
}

#[test]
fn failures_stamped_later_than_the_judging_clock_still_count() {
    // Four failures now, then a fifth judged by a clock an hour behind (set
    // back, or another host's view): the four are "in the future" and count.
    let env = Env::new("");
    env.enroll("alice");
    let bad = wrong_code(SECRET);
    for _ in 0..4 {
        assert_eq!(env.login("alice", &[&bad]).result, "PAM_AUTH_ERR");
    }
    let (child, _) = env.faked_clock("behind", "alice", "-1h");
    let t = finish(child, &[&bad]);
    assert!(t.said().contains("Too many incorrect codes"), "{t:?}");

    // And a clock set back to before the lock began is inside the lock.
    let (child, _) = env.faked_clock("before-lock", "alice", "-2h");
    let t = finish(child, &[&code(SECRET, 0)]);
    assert!(t.prompts().is_empty(), "{t:?}");
    assert!(t.said().starts_with("Too many incorrect codes"), "{t:?}");
}

#[test]
fn an_email_code_expires_inside_the_session_that_sent_it() {
    let env = Env::new("");
    let outbox = env.path().join("outbox.eml");
    env.write_config(&format!(
        "[email]\ncommand = [\"/bin/sh\", \"-c\", \"cat > {}\"]\n[lockout]\nanswer_timeout = 3600\n",
        outbox.display()
    ));
    env.enroll_with("erin", None, Some("erin@district.example"));
    let (child, offset) = env.faked_clock("email", "erin", "+0");
    let mut s = Session::of(child);
    assert!(s.said("info").contains("was sent to"));
    s.prompt(PROMPT);
    let message = std::fs::read_to_string(&outbox).unwrap();
    let code = message.lines().map(str::trim).find(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit()));
    std::fs::write(&offset, "+11m\n").unwrap();
    s.answer(code.expect("a code in the message"));
    let t = s.finish();
    assert_eq!(t.result, "PAM_AUTH_ERR");
    assert!(t.said().contains("That email code has expired"), "{t:?}");
}

#[test]
fn a_reset_or_disable_reaches_a_login_waiting_for_its_answer() {
    let env = Env::new("");
    for (user, action) in [("alice", "reset"), ("bob", "disable")] {
        env.enroll(user);
        let mut s = Session::start(&env, user);
        s.prompt(PROMPT);
        let out = env.twostep(&[action, user]);
        assert!(out.status.success(), "{}", stderr(&out));
        // The lost phone's code, typed after the administrator acted.
        s.answer(&code(SECRET, 0));
        let t = s.finish();
        assert_eq!(t.result, "PAM_AUTH_ERR", "{action}: {t:?}");
        assert!(t.said().contains("changed meanwhile"), "{action}: {t:?}");
        assert_eq!(failures(&env, user), 0, "{action}: not judged, not counted");
    }
}

#[test]
fn a_name_too_long_for_a_file_name_is_decided_by_the_policy_and_logged() {
    // 100 two-byte letters: 200 bytes, 600 once encoded for a file name.
    let long = "é".repeat(100);
    let env = Env::new("[policy]\nrequired = false\n");
    let t = env.login_service(STACKED, &long, &[], &[]);
    assert!(t.succeeded() && t.prompts().is_empty(), "not required: passed through: {t:?}");
    assert!(env.log_lines().iter().any(|l| l.contains("result=ignored")));

    env.write_config("");
    let t = env.login(&long, &[]);
    assert_eq!(t.result, "PAM_AUTH_ERR", "{t:?}");
    assert!(t.said().contains("unavailable"), "{t:?}");
    let logs = env.log_lines();
    assert!(logs.iter().any(|l| l.contains("result=denied") && l.contains("as a file name")), "{logs:?}");
}

#[test]
fn unlock_also_clears_a_last_used_step_left_in_the_future_by_a_clock_jump() {
    let env = Env::new("");
    env.enroll("alice");
    let tally = env.store();
    env.update_tally("alice", |t| t.last_step = Some(now() / 30 + 1000));
    assert!(!env.login("alice", &[&code(SECRET, 0)]).succeeded(), "refused as already used");
    let out = env.twostep(&["unlock", "alice"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("in the future"), "{}", stdout(&out));
    assert_eq!(tally.tally("alice").unwrap().last_step, None);
    assert!(env.login("alice", &[&code(SECRET, 0)]).succeeded());
}

/// `su` hands the module the caller's stderr (its terminal) and environment:
/// with Rust's default panic hook a panic in the module printed its message
/// there, and with `RUST_BACKTRACE=full` a backtrace with the process's code
/// addresses. A panic (debug builds have one on demand) now prints nothing,
/// is logged with its place, and the login is refused as unavailable.
#[cfg(debug_assertions)]
#[test]
fn a_panic_prints_nothing_on_the_callers_terminal_and_is_logged_with_its_place() {
    let env = Env::new("");
    env.enroll("alice");
    env.write_service("twostep-panic", "debug_panic_for_tests");
    let mut cmd = env.pamdrive(&[], "twostep-panic", "alice", &[]);
    cmd.env("RUST_BACKTRACE", "full").stdin(std::process::Stdio::null());
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "pamdrive failed: {out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "the caller's terminal shows nothing");
    let transcript = Transcript::parse(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(transcript.result, "PAM_SYSTEM_ERR");
    let lines = env.log_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("result=unavailable reason=\"internal error (panic at src/pam/mod.rs:")
            && lines[0].ends_with("); please report a bug\""),
        "{lines:?}"
    );
    assert!(!lines[0].contains("debug_panic_for_tests"), "the message is not logged: {lines:?}");
}
