//! One person, several names: the module and the admin command key a user's
//! record and tally on the account's canonical name from NSS, so `ALICE` or
//! `alice@ad.example` cannot get a fresh lock count, grace count, enrollment
//! or group decision. Real NSS throughout: a case-insensitive directory is
//! nss_wrapper (`LD_PRELOAD`) with a small NSS module built here from
//! `tests/common/nss_casefold.c`; plain files are temporary users in
//! /etc/passwd. Also: a group id without a name refuses a group rule.

mod common;
mod e2e;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::*;
use e2e::{Account, TestGroup, run};
use pam_twostep::auth::UNAVAILABLE;

const NOT_SET_UP: &str =
    "Two-step verification is required for this account, but it is not set up. Ask your administrator to enroll you.";

/// A directory like SSSD's or winbind's with case-insensitive names and a realm:
/// `alice`, `ALICE`, `Alice@AD.EXAMPLE` are all the account `alice`. Group
/// `staff2fa` lists `alice` (exactly so, as member lists do) and not `bob`.
struct Directory {
    dir: PathBuf,
}

impl Directory {
    fn new(env: &Env) -> Directory {
        let dir = env.path().join("nss");
        std::fs::create_dir(&dir).unwrap();
        let source = e2e::repo().join("tests/common/nss_casefold.c");
        run(Command::new("cc")
            .args(["-shared", "-fPIC", "-Wall", "-Wextra", "-Werror", "-o"])
            .arg(dir.join("libnss_twostepci.so"))
            .arg(source));
        let accounts = "alice:x:4101:4101:Alice:/nonexistent:/usr/sbin/nologin\n\
                        bob:x:4102:4102:Bob:/nonexistent:/usr/sbin/nologin\n";
        std::fs::write(dir.join("accounts"), accounts).unwrap();
        std::fs::write(dir.join("passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
        std::fs::write(dir.join("group"), "root:x:0:\nalice:x:4101:\nbob:x:4102:\nstaff2fa:x:4200:alice\n").unwrap();
        Directory { dir }
    }

    /// Makes `cmd` resolve users and groups through this directory only.
    fn apply(&self, mut cmd: Command) -> Command {
        cmd.env("LD_PRELOAD", "libnss_wrapper.so")
            .env("NSS_WRAPPER_PASSWD", self.dir.join("passwd"))
            .env("NSS_WRAPPER_GROUP", self.dir.join("group"))
            .env("NSS_WRAPPER_MODULE_SO_PATH", self.dir.join("libnss_twostepci.so"))
            .env("NSS_WRAPPER_MODULE_FN_PREFIX", "twostepci")
            .env("TWOSTEP_NSS_PASSWD", self.dir.join("accounts"))
            .env("TWOSTEP_NSS_REALM", "ad.example");
        cmd
    }

    fn login(&self, env: &Env, user: &str, answers: &[&str]) -> Transcript {
        self.login_service(env, SERVICE, user, answers)
    }

    fn login_service(&self, env: &Env, service: &str, user: &str, answers: &[&str]) -> Transcript {
        finish(self.apply(env.pamdrive(&[], service, user, &[])).spawn().unwrap(), answers)
    }

    fn twostep(&self, env: &Env, args: &[&str]) -> Output {
        run_with_stdin(self.apply(env.twostep_command(args)), "")
    }
}

fn locked(t: &Transcript) -> bool {
    t.result == "PAM_AUTH_ERR" && t.prompts().is_empty() && t.said().starts_with("Too many incorrect codes.")
}

#[test]
fn failed_codes_under_every_spelling_count_towards_one_lock() {
    let env = Env::new("");
    let nss = Directory::new(&env);
    env.enroll("alice");
    for user in ["alice", "ALICE", "Alice", "alice@ad.example", "ALICE@AD.EXAMPLE"] {
        let t = nss.login(&env, user, &[&wrong_code(SECRET)]);
        assert_eq!(t.result, "PAM_AUTH_ERR", "{user}: {t:?}");
        assert!(t.said().starts_with("Incorrect verification code."), "{user}: {t:?}");
    }
    for user in ["ALICE", "alice"] {
        let t = nss.login(&env, user, &[&code(SECRET, 0)]);
        assert!(locked(&t), "{user} is locked without being asked for a code: {t:?}");
    }
    assert_eq!(env.store().tally_users().unwrap(), ["alice"], "one tally for the account");
    let logs = env.log_lines();
    let spelled: Vec<_> = logs.iter().filter(|l| l.contains("typed=ALICE ")).collect();
    assert!(!spelled.is_empty() && spelled.iter().all(|l| l.contains(": user=alice typed=ALICE service=")), "{logs:?}");
    assert!(logs.iter().any(|l| l.contains("user=alice typed=alice@ad.example ")), "{logs:?}");
    assert!(logs.iter().filter(|l| l.contains("typed=alice ")).count() == 0, "no typed= when the name is canonical");
}

#[test]
fn grace_logins_are_counted_once_per_account_whatever_the_spelling() {
    let env = Env::new("[policy]\ngrace_logins = 2");
    let nss = Directory::new(&env);
    let first = nss.login_service(&env, STACKED, "alice", &[]);
    assert!(first.succeeded() && first.said().contains("1 more time"), "{first:?}");
    let second = nss.login_service(&env, STACKED, "ALICE", &[]);
    assert!(second.succeeded() && second.said().contains("This was the last login"), "{second:?}");
    let third = nss.login_service(&env, STACKED, "Alice@ad.example", &[]);
    assert_eq!(third.result, "PAM_AUTH_ERR", "{third:?}");
    assert!(third.said().contains("the logins allowed without it are used up"), "{third:?}");
    let tally = env.store();
    assert_eq!(tally.tally("alice").unwrap().grace_used, 2);
    assert!(!tally.has_tally("ALICE").unwrap() && !tally.has_tally("Alice@ad.example").unwrap());
}

#[test]
fn required_groups_apply_to_a_member_under_every_spelling() {
    let env = Env::new("[policy]\nrequired_groups = [\"staff2fa\"]");
    let nss = Directory::new(&env);
    for user in ["alice", "ALICE", "alice@AD.example"] {
        let t = nss.login(&env, user, &[]);
        assert!(t.result == "PAM_AUTH_ERR" && t.said() == NOT_SET_UP, "{user} must use a second factor: {t:?}");
    }
    // The rule is a real group check: bob, under any spelling, is not a member.
    for user in ["bob", "BOB"] {
        let t = nss.login(&env, user, &[]);
        assert!(t.result == IGNORED && t.messages.is_empty(), "{user}: {t:?}");
    }
}

#[test]
fn enrollment_at_login_under_another_spelling_saves_the_record_for_the_account() {
    let env = Env::new("[policy]\nenroll_at_login = true");
    let nss = Directory::new(&env);
    let mut s = Session::of(nss.apply(env.pamdrive(&[], SERVICE, "ALICE", &[])).spawn().unwrap());
    let mut texts = Vec::new();
    loop {
        let m = s.next();
        if m.style == "prompt_echo_off" {
            break;
        }
        texts.push(m.text);
    }
    let all = texts.join("\n");
    assert!(all.contains("It appears as:\n    Test District: alice\n"), "the app entry names the account: {all}");
    let uri = all
        .split_whitespace()
        .find(|w| w.starts_with("otpauth://totp/Test%20District:alice?"))
        .unwrap_or_else(|| panic!("{all}"));
    let secret = uri.split(['?', '&']).find_map(|p| p.strip_prefix("secret=")).unwrap().to_string();
    s.answer(&code(&secret, 0));
    assert!(s.said("info").contains("Two-step verification is set up"));
    assert!(s.finish().succeeded());
    assert!(env.store().record("alice").unwrap().is_some(), "saved for the account");
    assert!(env.store().record("ALICE").unwrap().is_none(), "not for the spelling");
    // The other spelling now has to give a code from the same app entry.
    let t = nss.login(&env, "alice@ad.example", &[&code(&secret, 1)]);
    assert!(t.succeeded(), "{t:?}");
    assert!(!nss.login(&env, "alice", &[]).succeeded(), "enrolled: no second enrollment");
}

#[test]
fn a_failing_user_lookup_refuses_the_login_as_unavailable() {
    let env = Env::new("");
    let nss = Directory::new(&env);
    env.enroll("alice");
    let mut cmd = nss.apply(env.pamdrive(&[], SERVICE, "alice", &[]));
    cmd.env("TWOSTEP_NSS_FAIL", "1");
    let t = finish(cmd.spawn().unwrap(), &[&code(SECRET, 0)]);
    assert_eq!(t.result, "PAM_SYSTEM_ERR", "{t:?}");
    assert!(t.prompts().is_empty());
    assert_eq!(t.said(), UNAVAILABLE);
    let logs = env.log_lines();
    assert!(
        logs.len() == 1 && logs[0].contains("result=unavailable") && logs[0].contains("cannot look up user alice"),
        "{logs:?}"
    );
}

#[test]
fn the_admin_command_uses_the_account_name_nss_gives() {
    let env = Env::new("");
    let nss = Directory::new(&env);
    let out = nss.twostep(&env, &["enroll", "ALICE", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let enrolled: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(enrolled["user"], "alice");
    assert!(enrolled["otpauth_uri"].as_str().unwrap().contains(":alice?"), "{enrolled}");
    assert!(stderr(&out).contains("note: NSS knows ALICE as the account alice;\nusing alice\n"), "{}", stderr(&out));
    assert!(env.store().record("alice").unwrap().is_some() && env.store().record("ALICE").unwrap().is_none());
    let again = nss.twostep(&env, &["enroll", "alice@ad.example"]);
    assert_eq!(again.status.code(), Some(1), "already enrolled under the account name: {}", stderr(&again));

    let secret = enrolled["secret"].as_str().unwrap().to_string();
    for _ in 0..5 {
        nss.login(&env, "Alice", &[&wrong_code(SECRET)]);
    }
    let status = nss.twostep(&env, &["status", "ALICE@ad.example", "--json"]);
    let row: serde_json::Value = serde_json::from_str(&stdout(&status)).unwrap();
    assert_eq!((row["user"].as_str(), row["locked"].as_bool()), (Some("alice"), Some(true)), "{row}");
    assert!(nss.twostep(&env, &["unlock", "ALICE"]).status.success());
    assert!(nss.login(&env, "ALICE", &[&code(&secret, 0)]).succeeded());

    assert!(nss.twostep(&env, &["disable", "ALICE"]).status.success());
    assert!(!env.store().record("alice").unwrap().unwrap().enabled);
    assert!(nss.twostep(&env, &["reset", "ALICE"]).status.success());
    assert!(env.store().record("alice").unwrap().is_none());

    // A record kept under another spelling (before records were keyed on the
    // account) is never used: the admin is told where it is.
    env.enroll("ALICE");
    let out = nss.twostep(&env, &["status", "ALICE"]);
    let want = format!(
        "spelling ALICE are not used\nby logins; remove them with:\n  rm -- {}\n",
        env.secrets.join("ALICE").display()
    );
    assert!(out.status.success() && stderr(&out).contains(&want), "{}", stderr(&out));
    assert!(stderr(&out).lines().all(|l| l.chars().count() <= 72), "{}", stderr(&out));
    assert!(nss.login(&env, "ALICE", &[&code(SECRET, 0)]).said() == NOT_SET_UP, "alice is not enrolled");

    let mut broken = nss.apply(env.twostep_command(&["status", "alice"]));
    broken.env("TWOSTEP_NSS_FAIL", "1");
    let out = run_with_stdin(broken, "");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot look up user alice"), "{}", stderr(&out));
}

#[test]
fn with_plain_files_another_case_is_just_another_unknown_name() {
    // glibc's files backend matches names exactly: TSN… is not the account tsn…,
    // so it has no record and no lock of its own to reuse (and the password
    // stage does not know it either).
    let user = Account::new(None, &[]);
    let upper = user.0.to_uppercase();
    let env = Env::new("");
    env.enroll(&user.0);
    for _ in 0..5 {
        env.login(&user.0, &[&wrong_code(SECRET)]);
    }
    assert!(locked(&env.login(&user.0, &[&code(SECRET, 0)])));
    let t = env.login(&upper, &[&code(SECRET, 0)]);
    assert!(t.result == "PAM_AUTH_ERR" && t.said() == NOT_SET_UP, "an unknown name, not enrolled: {t:?}");
    assert!(!env.log_lines().iter().any(|l| l.contains("typed=")), "no other spelling involved");
    let out = env.twostep(&["status", &upper, "--json"]);
    assert!(out.status.success() && !stderr(&out).contains("note:"), "{}", stderr(&out));
    let row: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!((row["user"].as_str(), row["enrolled"].as_bool()), (Some(upper.as_str()), Some(false)));

    // With a group rule the lookup is needed, and the unknown name is refused.
    let staff = TestGroup::new();
    env.write_config(&format!("[policy]\nrequired_groups = [\"{}\"]", staff.0));
    let t = env.login(&upper, &[]);
    assert!(t.result == "PAM_AUTH_ERR" && t.said() == UNAVAILABLE, "{t:?}");
}

#[test]
fn a_group_id_without_a_name_refuses_a_group_rule_as_unavailable() {
    // The user's primary group is deleted from /etc/group behind its back, as
    // when the group directory is offline: glibc then finds no name for the gid.
    // Created first: it cannot get the freed gid, and it is removed after the user.
    let staff = TestGroup::new();
    let gone = TestGroup::new();
    let user = Account::new(Some(&gone), &[]);
    let gid = nix::unistd::User::from_name(&user.0).unwrap().unwrap().gid;
    run(Command::new("groupdel").args(["--force", &gone.0]));
    let env = Env::new(&format!("[policy]\nrequired_groups = [\"{}\"]", staff.0));
    let t = env.login_service(STACKED, &user.0, &[], &[]);
    assert_eq!(t.result, "PAM_SYSTEM_ERR", "refused, not let through unenrolled: {t:?}");
    assert_eq!(t.said(), UNAVAILABLE);
    let logs = env.log_lines();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert!(logs[0].contains("result=unavailable"), "{logs:?}");
    assert!(logs[0].contains(&format!("group id {gid} of {} has no name", user.0)), "{logs:?}");
}
