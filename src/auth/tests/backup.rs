//! Backup codes, help-desk bypass codes, and `twostep disable --for`.

use super::*;

impl World {
    /// Gives `user` (enrolled) a new set of backup codes, as `twostep backup-codes` does; returns them.
    fn give_backup_codes(&self, user: &str) -> Vec<String> {
        let (codes, sealed) = crate::backup_codes::new_set().unwrap();
        self.store()
            .change(user, |u| {
                let r = u.record()?.cloned().unwrap();
                u.save_record(UserRecord { backup_codes: sealed, ..r })
            })
            .unwrap();
        codes.iter().map(|c| c.to_string()).collect()
    }

    /// Gives `user` a bypass code good for `uses` logins during `valid` seconds, as `twostep bypass` does.
    fn give_bypass(&self, user: &str, uses: u32, valid: u64) -> String {
        let (code, bypass) = crate::backup_codes::new_bypass(self.clock.now(), valid, uses, "helpdesk").unwrap();
        self.store()
            .change(user, |u| {
                let r = u.record()?.cloned().unwrap();
                u.save_record(UserRecord { bypass: Some(bypass), ..r })
            })
            .unwrap();
        code.to_string()
    }

    fn record(&self, user: &str) -> UserRecord {
        self.store().record(user).unwrap().unwrap()
    }
}

/// An 8-digit answer that is none of `codes`.
fn not_one_of(codes: &[String]) -> String {
    (0..100_000_000u32).map(|n| format!("{n:08}")).find(|c| !codes.contains(c)).unwrap()
}

#[test]
fn a_backup_code_works_once_and_typed_again_is_a_failed_attempt() {
    let mut w = World::new("");
    w.enroll("alice", Some(SECRET), None);
    let codes = w.give_backup_codes("alice");
    let grouped = crate::backup_codes::grouped(&codes[4]).to_string();
    assert_eq!(w.login("alice", vec![Ask(PROMPT, grouped.clone())]), Outcome::Success);
    assert_eq!(w.record("alice").backup_codes.len(), 9, "spent");
    let line = line_with(&w.log, "result=success").unwrap();
    assert!(line.contains("method=backup backup_codes_left=9") && !line.contains(&codes[4]), "{line}");
    let again = vec![Ask(PROMPT, codes[4].clone()), Error("Incorrect verification code. 4 attempts remain")];
    assert_eq!(w.login("alice", again), Outcome::Denied);
    assert_eq!(w.tally("alice").failures, vec![T0]);
    assert!(line_with(&w.log, "result=wrong_code").unwrap().contains("method=backup"));
    // The others still work.
    assert_eq!(w.login("alice", vec![Ask(PROMPT, codes[0].clone())]), Outcome::Success);
    assert_eq!(w.record("alice").backup_codes.len(), 8);
}

#[test]
fn wrong_backup_codes_count_towards_the_lockout_and_a_locked_user_cannot_use_one() {
    let mut w = World::new("[lockout]\ndeny = 3\nunlock_time = 600");
    w.enroll("alice", Some(SECRET), None);
    let codes = w.give_backup_codes("alice");
    let bad = not_one_of(&codes);
    assert_eq!(w.login("alice", vec![Ask(PROMPT, bad.clone()), Error("2 attempts remain")]), Outcome::Denied);
    assert_eq!(w.login("alice", vec![Ask(PROMPT, wrong(&w.cfg, T0)), Error("1 attempt remains")]), Outcome::Denied);
    let third = vec![Ask(PROMPT, bad), Error("Too many incorrect codes. Try again after")];
    assert_eq!(w.login("alice", third), Outcome::Denied);
    // Locked: not asked, so a right backup code cannot even be typed, and none is spent.
    assert_eq!(w.login("alice", vec![Error("Too many incorrect codes")]), Outcome::Denied);
    assert_eq!(w.record("alice").backup_codes.len(), 10);
    w.advance(600);
    assert_eq!(w.login("alice", vec![Ask(PROMPT, codes[1].clone())]), Outcome::Success);
}

#[test]
fn the_app_code_still_works_with_backup_codes_on_file_and_spends_none() {
    let mut w = World::new("");
    w.enroll("alice", Some(SECRET), None);
    w.give_backup_codes("alice");
    let code = w.code(0);
    assert_eq!(w.login("alice", vec![Ask(PROMPT, code)]), Outcome::Success, "no info: plenty left");
    assert_eq!(w.record("alice").backup_codes.len(), 10);
    assert!(line_with(&w.log, "result=success").unwrap().contains("method=totp"));
}

#[test]
fn with_8_digit_app_codes_both_the_app_code_and_a_backup_code_are_accepted() {
    let mut w = World::new("[totp]\ndigits = 8");
    w.enroll("alice", Some(SECRET), None);
    let codes = w.give_backup_codes("alice");
    let app = w.code(0);
    assert_eq!(app.len(), 8);
    assert_eq!(w.login("alice", vec![Ask(PROMPT, app)]), Outcome::Success);
    assert_eq!(w.record("alice").backup_codes.len(), 10, "an app code spends no backup code");
    assert_eq!(w.login("alice", vec![Ask(PROMPT, codes[2].clone())]), Outcome::Success);
    assert_eq!(w.record("alice").backup_codes.len(), 9);
    assert_eq!(w.log.results(), ["success", "success"]);
    assert!(line_with(&w.log, "method=backup").is_some());
    // A wrong 8-digit answer is logged as a wrong app code here (it could be either).
    let bad = vec![Ask(PROMPT, not_one_of(&codes)), Error("Incorrect verification code.")];
    assert_eq!(w.login("alice", bad), Outcome::Denied);
    assert!(line_with(&w.log, "result=wrong_code").unwrap().contains("method=totp"));
}

#[test]
fn the_user_is_told_after_logging_in_when_two_or_fewer_backup_codes_are_left() {
    let mut w = World::new("");
    w.enroll("alice", Some(SECRET), None);
    let codes = w.give_backup_codes("alice");
    for code in &codes[..7] {
        assert_eq!(w.login("alice", vec![Ask(PROMPT, code.clone())]), Outcome::Success, "3+ left: nothing said");
    }
    let steps = vec![Ask(PROMPT, codes[7].clone()), Info("You have 2 backup codes left. Ask your administrator")];
    assert_eq!(w.login("alice", steps), Outcome::Success);
    // Also after a login with the app, while few are left.
    let steps = vec![Ask(PROMPT, w.code(0)), Info("You have 2 backup codes left.")];
    assert_eq!(w.login("alice", steps), Outcome::Success);
    let steps = vec![Ask(PROMPT, codes[8].clone()), Info("You have 1 backup code left.")];
    assert_eq!(w.login("alice", steps), Outcome::Success);
    let steps = vec![Ask(PROMPT, codes[9].clone()), Info("That was your last backup code.")];
    assert_eq!(w.login("alice", steps), Outcome::Success);
    // None left: not said at every login after.
    w.advance(30);
    assert_eq!(w.login("alice", vec![Ask(PROMPT, w.code(0))]), Outcome::Success);
    assert!(w.record("alice").backup_codes.is_empty());
}

#[test]
fn a_bypass_code_works_for_its_uses_then_is_refused_and_counted() {
    let mut w = World::new("");
    w.enroll("alice", Some(SECRET), None);
    let code = w.give_bypass("alice", 2, 3600);
    let grouped = crate::backup_codes::grouped(&code).to_string();
    assert_eq!(w.login("alice", vec![Ask(PROMPT, grouped)]), Outcome::Success);
    assert_eq!(w.record("alice").bypass.unwrap().uses_left, 1);
    assert_eq!(w.login("alice", vec![Ask(PROMPT, code.clone())]), Outcome::Success);
    assert_eq!(w.record("alice").bypass, None, "used up: gone");
    let lines: Vec<&str> = w.log.0.iter().map(|(_, l)| l.as_str()).filter(|l| l.contains("method=bypass")).collect();
    assert!(lines[0].contains("result=success") && lines[0].contains("bypass_uses_left=1"), "{lines:?}");
    assert!(lines.iter().all(|l| !l.contains(&code)), "{lines:?}");
    let third = vec![Ask(PROMPT, code), Error("Incorrect verification code. 4 attempts remain")];
    assert_eq!(w.login("alice", third), Outcome::Denied);
    assert!(line_with(&w.log, "result=wrong_code").unwrap().contains("method=bypass"));
}

#[test]
fn a_bypass_code_expires_and_after_that_is_refused_without_counting() {
    let mut w = World::new("");
    w.enroll("alice", Some(SECRET), None);
    let code = w.give_bypass("alice", 3, 1800);
    w.advance(1800);
    let late = vec![Ask(PROMPT, code.clone()), Error("That help-desk code has expired")];
    assert_eq!(w.login("alice", late), Outcome::Denied);
    assert!(w.tally("alice").failures.is_empty(), "the right code, too late: not a guess");
    assert!(line_with(&w.log, "result=expired").unwrap().contains("method=bypass"));
    // A wrong 9-digit answer is a wrong code, counted.
    let other = if code == "000000000" { "000000001" } else { "000000000" };
    assert_eq!(w.login("alice", vec![Ask(PROMPT, other.into()), Error("4 attempts remain")]), Outcome::Denied);
}

#[test]
fn a_disable_for_a_while_skips_the_code_until_its_end_then_asks_again() {
    let mut w = World::new("");
    w.enroll("alice", Some(SECRET), None);
    w.store()
        .change("alice", |u| {
            let r = u.record()?.cloned().unwrap();
            u.save_record(UserRecord { enabled: false, disabled_until: Some(T0 + 3600), ..r })
        })
        .unwrap();
    assert_eq!(w.login("alice", vec![]), Outcome::Ignore);
    w.advance(3599);
    assert_eq!(w.login("alice", vec![]), Outcome::Ignore);
    w.advance(1);
    assert_eq!(w.login("alice", vec![Ask(PROMPT, w.code(0))]), Outcome::Success);
    assert_eq!(w.log.results(), ["ignored", "ignored", "success"]);
}
